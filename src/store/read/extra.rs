//! Reads the `extra` column back into values, with the one JSON reader logtui has
//! ([`crate::decode::json::parse_value`]): bare `NaN`/`Infinity`, integers of any size, no recursion.

use crate::decode::json::parse_value;
use crate::limits::{DecodeLimits, MAX_DEPTH_CEILING};
use crate::value::Value;

/// Parses a JSON object into ordered pairs. Returns `None` when `text` is not one
/// well-formed object within the decode limits (the caller then keeps the raw text).
pub fn parse_extra(text: &str) -> Option<Vec<(String, Value)>> {
    // Extras nest at most MAX_DEPTH_CEILING deep (the most `max_depth` may be raised to)
    // inside the object that holds them.
    let limits = DecodeLimits {
        max_depth: MAX_DEPTH_CEILING + 1,
        max_frame: usize::MAX,
        ..DecodeLimits::default()
    };
    match parse_value(text.as_bytes(), &limits) {
        Ok(Value::Map(pairs)) => Some(pairs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_DEPTH;
    use crate::value::write_json_map;

    fn round_trip(pairs: Vec<(String, Value)>) {
        let mut s = String::new();
        write_json_map(&pairs, &mut s);
        let back = parse_extra(&s).unwrap_or_else(|| panic!("cannot parse {s}"));
        // NaN != NaN, so compare the JSON renderings.
        let mut again = String::new();
        write_json_map(&back, &mut again);
        assert_eq!(again, s);
    }

    #[test]
    fn reads_back_what_value_writes() {
        round_trip(vec![
            ("n".into(), Value::Float(f64::NAN)),
            ("i".into(), Value::Float(f64::NEG_INFINITY)),
            ("p".into(), Value::Float(f64::INFINITY)),
            ("f".into(), Value::Float(2.0)),
            ("g".into(), Value::Float(0.1)),
            ("e".into(), Value::Float(1e300)),
            ("t".into(), Value::Float(-5e-324)),
            (
                "b".into(),
                Value::BigInt("-123456789012345678901234567890".into()),
            ),
            ("m".into(), Value::Int(i64::MIN)),
            ("s".into(), Value::Str("a\"\\\u{1b}[31m\n\t/ünï😀".into())),
            (
                "l".into(),
                Value::List(vec![Value::Null, Value::Bool(true), Value::Bool(false)]),
            ),
            ("empty".into(), Value::Map(vec![])),
            ("el".into(), Value::List(vec![])),
            (
                "deep".into(),
                Value::Map(vec![(
                    "x".into(),
                    Value::List(vec![
                        Value::Map(vec![("y".into(), Value::Int(1))]),
                        Value::List(vec![]),
                    ]),
                )]),
            ),
            ("".into(), Value::Str(String::new())),
        ]);
    }

    #[test]
    fn nesting_is_bounded_without_recursion() {
        let nest = |depth: usize| format!("{{\"k\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse_extra(&nest(MAX_DEPTH)).is_some());
        assert!(parse_extra(&nest(MAX_DEPTH_CEILING)).is_some());
        assert!(parse_extra(&nest(100_000)).is_none());
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} x",
            "{\"a\":\"\\q\"}",
            "{\"a\":-}",
        ] {
            assert!(parse_extra(bad).is_none(), "{bad}");
        }
        assert_eq!(
            parse_extra(" { \"a\" : [ 1 , 2 ] } ").unwrap(),
            vec![("a".into(), Value::List(vec![Value::Int(1), Value::Int(2)]))]
        );
        assert_eq!(
            parse_extra(r#"{"s":"\ud83d\ude00\ud800x"}"#).unwrap(),
            vec![("s".into(), Value::Str("😀\u{FFFD}x".into()))]
        );
    }
}
