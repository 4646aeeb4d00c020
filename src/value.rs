//! Typed values carried in a record's `extra` map, decoded from strangers' payloads.
//! They serialise to Python-compatible JSON (bare `NaN`/`Infinity`, arbitrary-precision ints), which SQLite's JSON5 reader also accepts.

use std::fmt::Write as _;

/// A decoded value. Depth is bounded by the decoder that built it, so the
/// recursive helpers here never see more than [`crate::limits::MAX_DEPTH`] levels.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside i64, kept as its decimal digits (with an optional leading `-`).
    BigInt(String),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// Keys in the order the sender wrote them; non-string keys are rendered to text.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// A count as an integer value, saturating at `i64::MAX` (counters are unsigned).
    pub fn count(n: impl TryInto<i64>) -> Value {
        Value::Int(n.try_into().unwrap_or(i64::MAX))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A rough count of the heap bytes this value holds, walked with an explicit stack.
    /// Queues are bounded by it, so an extra that a memo reference expanded is counted in full.
    pub fn approx_size(&self) -> usize {
        let mut total = 0;
        let mut stack = vec![self];
        while let Some(v) = stack.pop() {
            total += std::mem::size_of::<Value>();
            match v {
                Value::BigInt(s) | Value::Str(s) => total += s.len(),
                Value::List(items) => stack.extend(items),
                Value::Map(pairs) => {
                    for (k, v) in pairs {
                        total += k.len();
                        stack.push(v);
                    }
                }
                _ => {}
            }
        }
        total
    }

    /// Appends this value as JSON to `out`. Non-finite floats become the bare tokens
    /// `NaN`, `Infinity` and `-Infinity`, as Python's `json.dumps` writes them.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(digits) => out.push_str(digits),
            Value::Float(f) => write_float(*f, out),
            Value::Str(s) => write_json_str(s, out),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Map(pairs) => write_json_map(pairs, out),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }
}

/// Writes `pairs` as a JSON object.
pub fn write_json_map(pairs: &[(String, Value)], out: &mut String) {
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_str(k, out);
        out.push(':');
        v.write_json(out);
    }
    out.push('}');
}

/// Writes a float so that Python's `json.loads` reads back the same value.
pub fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == f.trunc() && f.abs() < 1e16 {
        // Keep a fraction so the value stays a float when read back.
        let _ = write!(out, "{f:.1}");
    } else {
        let _ = write!(out, "{f:?}");
    }
}

/// Writes `s` as a JSON string literal. C0 and C1 control characters are
/// escaped, so log text can never smuggle raw terminal escapes through JSON output.
pub fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (esc, width): (Option<&str>, usize) = match b {
            b'"' => (Some("\\\""), 1),
            b'\\' => (Some("\\\\"), 1),
            b'\n' => (Some("\\n"), 1),
            b'\r' => (Some("\\r"), 1),
            b'\t' => (Some("\\t"), 1),
            0..=0x1f | 0x7f => (None, 1),
            // U+0080..U+009F (C1 controls, e.g. the 8-bit CSI) are 0xC2 0x80..0x9F in UTF-8.
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => (None, 2),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let cp = if width == 2 {
                    u32::from(bytes[i + 1])
                } else {
                    u32::from(b)
                };
                let _ = write!(out, "\\u{:04x}", cp);
            }
        }
        i += width;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_size_counts_nested_text() {
        let big = Value::Str("x".repeat(10_000));
        let nested = Value::List(vec![big.clone(), Value::Map(vec![("k".into(), big)])]);
        assert!(nested.approx_size() >= 20_001);
        assert!(Value::Null.approx_size() < 64);
    }

    #[test]
    fn json_is_python_compatible() {
        let v = Value::Map(vec![
            ("n".into(), Value::Float(f64::NAN)),
            ("i".into(), Value::Float(f64::NEG_INFINITY)),
            ("f".into(), Value::Float(2.0)),
            ("g".into(), Value::Float(0.1)),
            (
                "b".into(),
                Value::BigInt("123456789012345678901234567890".into()),
            ),
            ("s".into(), Value::Str("a\"\u{1b}[31m\n\u{9b}é".into())),
            (
                "l".into(),
                Value::List(vec![Value::Null, Value::Bool(true)]),
            ),
        ]);
        assert_eq!(
            v.to_json(),
            r#"{"n":NaN,"i":-Infinity,"f":2.0,"g":0.1,"b":123456789012345678901234567890,"s":"a\"\u001b[31m\n\u009bé","l":[null,true]}"#
        );
    }
}
