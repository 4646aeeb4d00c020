//! Python's `str()`, `repr()` and `ascii()` of a [`Value`], and `repr()` of floats and strings.
//! The one Python repr in the crate: the pickle placeholders use it too.

use std::fmt::Write as _;

use crate::value::Value;

use super::percent::{fixed_layout, push_exponent};
use super::printable::is_printable;

/// Renders a value as Python's `str()` would.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Renders a value as Python's `repr()` would (lists for `List`, string keys quoted).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, false, &mut out);
    out
}

/// Renders a value as Python's `ascii()` would: `repr()` with every non-ASCII character escaped.
pub fn py_ascii(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, true, &mut out);
    out
}

/// Walks the value with an explicit stack, so no input shape can deepen the call stack.
fn write_repr(v: &Value, ascii: bool, out: &mut String) {
    enum Step<'a> {
        Val(&'a Value),
        Text(&'static str),
        Key(&'a str),
    }
    let mut stack = vec![Step::Val(v)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Key(k) => {
                write_str_repr(k, ascii, out);
                out.push_str(": ");
            }
            Step::Val(v) => match v {
                Value::Null => out.push_str("None"),
                Value::Bool(true) => out.push_str("True"),
                Value::Bool(false) => out.push_str("False"),
                Value::Int(i) => {
                    let _ = write!(out, "{i}");
                }
                Value::BigInt(d) => out.push_str(d),
                Value::Float(f) => out.push_str(&float_repr(*f)),
                Value::Str(s) => write_str_repr(s, ascii, out),
                Value::List(items) => {
                    out.push('[');
                    stack.push(Step::Text("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Step::Val(item));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
                Value::Map(pairs) => {
                    out.push('{');
                    stack.push(Step::Text("}"));
                    for (i, (k, v)) in pairs.iter().enumerate().rev() {
                        stack.push(Step::Val(v));
                        stack.push(Step::Key(k));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
            },
        }
    }
}

/// Python's float `repr()`/`str()`: the shortest digits that read back exactly,
/// in fixed notation when the decimal point falls within 16 digits, else `1e+16` style.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits = mant.replace('.', "");
    let exp: i64 = exp.parse().unwrap_or(0);
    let decpt = exp + 1;
    if decpt > -4 && decpt <= 16 {
        let mut body = fixed_layout(&digits, decpt);
        if !body.contains('.') {
            body.push_str(".0");
        }
        format!("{sign}{body}")
    } else {
        let mut body = String::with_capacity(digits.len() + 6);
        body.push_str(&digits[..1]);
        if digits.len() > 1 {
            body.push('.');
            body.push_str(&digits[1..]);
        }
        push_exponent(&mut body, exp, false);
        format!("{sign}{body}")
    }
}

/// Python's `str.__repr__`: single quotes unless the text has `'` and no `"`,
/// `\t \n \r` and `\xNN`/`\uNNNN`/`\UNNNNNNNN` for what `str.isprintable()` rejects
/// (everything non-ASCII too, for `ascii()`).
pub(crate) fn write_str_repr(s: &str, ascii: bool, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.reserve(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if !ascii && c > '\x7f' && is_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                let _ = if n <= 0xff {
                    write!(out, "\\x{n:02x}")
                } else if n <= 0xffff {
                    write!(out, "\\u{n:04x}")
                } else {
                    write!(out, "\\U{n:08x}")
                };
            }
        }
    }
    out.push(quote);
}
