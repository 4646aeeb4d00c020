//! Python literal reprs (`('a', 1)`, `{'k': u'v'}`, `None`) parsed as data, never evaluated.
//! What HTTPHandler's form leaves of `args`; depth and size bounded by [`DecodeLimits`], no recursion.

use crate::limits::DecodeLimits;
use crate::value::Value;

use super::MAX_INT_DIGITS;

/// Parses a Python literal repr (`('a', 1)`, `{'k': u'v'}`, `None`, …) without evaluating anything.
///
/// Returns `None` for anything that is not a plain literal (`<object at 0x…>`,
/// `datetime.datetime(…)`, `inf`, `nan`, sets), for nesting deeper than
/// `limits.max_depth`, and for literals whose Python `str()`/`repr()` a [`Value`]
/// cannot reproduce: bytes (`b'…'`), tuples inside containers (a `Value::List`
/// prints as `[…]`, not `(…)`) and dict keys that are not strings. A top-level
/// tuple is fine: it becomes the `Value::List` that [`percent_format`] reads as
/// the positional arguments. Refusing keeps the caller honest: it stores the
/// template and the args text rather than a message Python would not have printed.
pub fn parse_literal(text: &str, limits: &DecodeLimits) -> Option<Value> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut items = 0usize;
    loop {
        // Expecting a value, or a closing bracket where the container allows one.
        lx.skip_ws();
        let c = lx.peek()?;
        let mut done = match c {
            b'[' | b'(' | b'{' => {
                if stack.len() >= limits.max_depth {
                    return None;
                }
                lx.pos += 1;
                stack.push(Frame::open(c));
                continue;
            }
            b']' | b')' | b'}' => {
                let top = stack.last()?;
                if !top.may_close() || top.closer() != c {
                    return None;
                }
                lx.pos += 1;
                stack.pop()?.finish()
            }
            _ => Parsed {
                value: lx.scalar()?,
                tuple: false,
            },
        };
        // Attach the finished value to its container, closing containers as their brackets arrive.
        loop {
            let Some(top) = stack.last_mut() else {
                lx.skip_ws();
                return (lx.pos == lx.s.len()).then_some(done.value);
            };
            if done.tuple {
                return None;
            }
            items += 1;
            if items > limits.max_items {
                return None;
            }
            lx.skip_ws();
            if top.kind == Kind::Dict && top.key.is_none() {
                let Value::Str(k) = done.value else {
                    return None;
                };
                top.key = Some(k);
                if lx.bump()? != b':' {
                    return None;
                }
                top.after_sep = false;
                break;
            }
            top.push(done.value);
            let c = lx.bump()?;
            if c == b',' {
                top.comma = true;
                top.after_sep = true;
                break;
            }
            if c != top.closer() {
                return None;
            }
            done = stack.pop()?.finish();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Tuple,
    Dict,
}

/// One open container on the explicit parse stack.
struct Frame {
    kind: Kind,
    items: Vec<Value>,
    pairs: Vec<(String, Value)>,
    /// A dict key read, waiting for its value.
    key: Option<String>,
    /// Any comma seen: `(x)` is grouping, `(x,)` a tuple.
    comma: bool,
    /// Just opened or just past a comma: a closing bracket is allowed here.
    after_sep: bool,
}

/// A finished value, remembering whether it was written as a tuple.
struct Parsed {
    value: Value,
    tuple: bool,
}

impl Frame {
    fn open(c: u8) -> Frame {
        Frame {
            kind: match c {
                b'[' => Kind::List,
                b'(' => Kind::Tuple,
                _ => Kind::Dict,
            },
            items: Vec::new(),
            pairs: Vec::new(),
            key: None,
            comma: false,
            after_sep: true,
        }
    }

    fn closer(&self) -> u8 {
        match self.kind {
            Kind::List => b']',
            Kind::Tuple => b')',
            Kind::Dict => b'}',
        }
    }

    fn may_close(&self) -> bool {
        // `[1,]`, `(1,)` and `()` are Python; `{'k':}` is not. (`(,)` never gets here: `,` is no value.)
        self.after_sep && self.key.is_none()
    }

    fn push(&mut self, v: Value) {
        match self.key.take() {
            Some(k) => self.pairs.push((k, v)),
            None => self.items.push(v),
        }
        self.after_sep = false;
    }

    fn finish(mut self) -> Parsed {
        match self.kind {
            Kind::List => Parsed {
                value: Value::List(self.items),
                tuple: false,
            },
            Kind::Dict => Parsed {
                value: Value::Map(self.pairs),
                tuple: false,
            },
            Kind::Tuple if self.items.len() == 1 && !self.comma => Parsed {
                value: self.items.pop().unwrap_or(Value::Null),
                tuple: false,
            },
            Kind::Tuple => Parsed {
                value: Value::List(self.items),
                tuple: true,
            },
        }
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn scalar(&mut self) -> Option<Value> {
        let c = self.peek()?;
        match c {
            b'\'' | b'"' => self.string(false).map(|t| Value::Str(py2_bytes_as_utf8(t))),
            b'0'..=b'9' | b'.' | b'-' | b'+' => self.number(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                let word = &self.text[start..self.pos];
                if matches!(self.peek(), Some(b'\'' | b'"')) {
                    let prefix = word.to_ascii_lowercase();
                    return match prefix.as_str() {
                        "u" => self.string(false).map(Value::Str),
                        "r" | "ur" => self.string(true).map(Value::Str),
                        // bytes: str() would print `b'…'`, which a Value cannot say.
                        _ => None,
                    };
                }
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        let neg = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let int_start = self.pos;
        self.digits();
        let int_end = self.pos;
        let mut is_float = false;
        let mut any_digit = int_end > int_start;
        if self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            any_digit |= self.digits() > 0;
        }
        if !any_digit {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            is_float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'-' | b'+')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let end = self.pos;
        // Python 2 writes longs as `5L`.
        if !is_float && matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            return None; // complex `1j`, hex, `1_000`, …
        }
        if is_float {
            return self.text[start..end].parse::<f64>().ok().map(Value::Float);
        }
        int_value(neg, &self.text[int_start..int_end])
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Reads a quoted string starting at the quote, applying Python's escapes unless `raw`.
    fn string(&mut self, raw: bool) -> Option<String> {
        let quote = self.bump()?;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c != quote && c != b'\\' && c != b'\n')
            {
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.bump()? {
                c if c == quote => return Some(out),
                b'\n' => return None,
                _ => {
                    // A backslash.
                    let c = self.text[self.pos..].chars().next()?;
                    self.pos += c.len_utf8();
                    if raw {
                        out.push('\\');
                        out.push(c);
                        continue;
                    }
                    match c {
                        '\n' => {}
                        '\\' | '\'' | '"' => out.push(c),
                        'a' => out.push('\x07'),
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0c'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'v' => out.push('\x0b'),
                        '0'..='7' => {
                            let mut n = c as u32 - '0' as u32;
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        n = n * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(char::from_u32(n)?);
                        }
                        'x' => out.push(self.hex_escape(2)?),
                        'u' => out.push(self.hex_escape(4)?),
                        'U' => out.push(self.hex_escape(8)?),
                        // `\N{…}` needs the Unicode name table; unknown escapes stay as written, as in Python.
                        'N' => return None,
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
            }
        }
    }

    fn hex_escape(&mut self, n: usize) -> Option<char> {
        let digits = self.text.get(self.pos..self.pos + n)?;
        if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += n;
        // A lone surrogate is legal Python but not a Rust char: refuse rather than alter it.
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }
}

/// Python 2 reprs its byte strings with `\xNN` escapes, so a UTF-8 `str` arrives as
/// `'caf\xc3\xa9'`. Python 3 never writes a printable character such as U+00C3 as an
/// escape, so a string whose characters all fit in a byte and that holds a UTF-8 lead
/// byte (≥ 0xC2) is taken as such bytes and read as UTF-8 when it is valid UTF-8. (A
/// Python 3 string that is itself mojibake, `'Ã©'`, is read the same way: rare, and harmless.)
fn py2_bytes_as_utf8(s: String) -> String {
    if s.is_ascii()
        || !s.chars().all(|c| (c as u32) < 0x100)
        || !s.chars().any(|c| (c as u32) >= 0xc2)
    {
        return s;
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8(bytes).unwrap_or(s)
}

/// An integer from its sign and decimal digits: `Int` when it fits, else exact `BigInt`.
fn int_value(neg: bool, digits: &str) -> Option<Value> {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Value::Int(0));
    }
    if digits.len() > MAX_INT_DIGITS {
        return None;
    }
    let signed = if neg {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    Some(match signed.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => Value::BigInt(signed),
    })
}
