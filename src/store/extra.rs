//! Reads the `extra` column back into values: an iterative parser for the JSON that
//! [`crate::value::write_json_map`] writes (bare `NaN`/`Infinity`, integers of any size).

use crate::value::Value;

/// Parses a JSON object into ordered pairs. Returns `None` when `text` is not one
/// well-formed object. Nesting is handled with an explicit stack, so no input can
/// exhaust the thread's stack.
pub fn parse_extra(text: &str) -> Option<Vec<(String, Value)>> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.ws();
    if p.peek()? != b'{' {
        return None;
    }
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return None;
    }
    match v {
        Value::Map(pairs) => Some(pairs),
        _ => None,
    }
}

enum Frame {
    List(Vec<Value>),
    Map(Vec<(String, Value)>, String),
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn lit(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    /// Parses one value, containers included, without recursion.
    fn value(&mut self) -> Option<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // Parse the start of a value; containers push a frame and go round again.
            self.ws();
            let mut v = match self.peek()? {
                b'{' => {
                    self.i += 1;
                    if self.eat(b'}') {
                        Value::Map(Vec::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Map(Vec::new(), key));
                        continue;
                    }
                }
                b'[' => {
                    self.i += 1;
                    if self.eat(b']') {
                        Value::List(Vec::new())
                    } else {
                        stack.push(Frame::List(Vec::new()));
                        continue;
                    }
                }
                b'"' => Value::Str(self.string()?),
                b'n' if self.lit("null") => Value::Null,
                b't' if self.lit("true") => Value::Bool(true),
                b'f' if self.lit("false") => Value::Bool(false),
                b'N' if self.lit("NaN") => Value::Float(f64::NAN),
                b'I' if self.lit("Infinity") => Value::Float(f64::INFINITY),
                b'-' if self.lit("-Infinity") => Value::Float(f64::NEG_INFINITY),
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            };
            // Attach the finished value to its container, closing containers as they end.
            loop {
                match stack.last_mut() {
                    None => return Some(v),
                    Some(Frame::List(items)) => {
                        items.push(v);
                        if self.eat(b',') {
                            break;
                        }
                        if !self.eat(b']') {
                            return None;
                        }
                        let Some(Frame::List(items)) = stack.pop() else {
                            return None;
                        };
                        v = Value::List(items);
                    }
                    Some(Frame::Map(pairs, key)) => {
                        pairs.push((std::mem::take(key), v));
                        if self.eat(b',') {
                            *key = self.key()?;
                            break;
                        }
                        if !self.eat(b'}') {
                            return None;
                        }
                        let Some(Frame::Map(pairs, _)) = stack.pop() else {
                            return None;
                        };
                        v = Value::Map(pairs);
                    }
                }
            }
        }
    }

    /// A map key and its colon.
    fn key(&mut self) -> Option<String> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let k = self.string()?;
        self.eat(b':').then_some(k)
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let start = self.i;
        // Fast path: no escapes before the closing quote.
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    let s = self.text.get(start..self.i)?.to_owned();
                    self.i += 1;
                    return Some(s);
                }
                b'\\' => break,
                _ => self.i += 1,
            }
        }
        let mut out = self.text.get(start..self.i)?.to_owned();
        loop {
            let run = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.text.get(run..self.i)?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return None,
                    }
                }
            }
        }
    }

    /// The character after `\u`, joining surrogate pairs; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return Some(char::from_u32(hi).unwrap_or('\u{FFFD}'));
        }
        if self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Some(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.i = save;
        }
        Some('\u{FFFD}')
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.text.get(self.i..self.i + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(h, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let mut float = false;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.i += 1;
        }
        let t = self.text.get(start..self.i)?;
        if float {
            return t.parse::<f64>().ok().map(Value::Float);
        }
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(match t.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(t.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn deep_nesting_does_not_recurse() {
        let depth = 100_000;
        let s = format!("{{\"k\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        let v = parse_extra(&s).unwrap();
        assert_eq!(v.len(), 1);
        // Dropping a deep value recurses in Value's drop glue; unwind it by hand.
        let mut cur = v.into_iter().next().map(|(_, v)| v);
        while let Some(Value::List(mut items)) = cur {
            cur = items.pop();
        }
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
