//! Python literal reprs and the `%` operator, as HTTPHandler's senders leave them to us.
//! Reprs are parsed as data and never evaluated; `%` and `str()`/`repr()` are rebuilt from CPython's rules.

use crate::limits::DecodeLimits;
use crate::value::Value;
use std::fmt::Write as _;

/// Longest integer (in decimal digits) read or printed. It is CPython's default
/// `sys.int_info.default_max_str_digits` (3.11+): Python itself refuses to write a
/// longer int as text, so no real repr holds one, and it keeps our base conversions cheap.
pub const MAX_INT_DIGITS: usize = 4300;

/// Most bytes one `%` formatting may produce. A template such as `%999999999s`
/// is legal Python but would make us allocate gigabytes for a stranger; 16 MiB
/// (the default frame cap) is far above any real message, and going past it
/// gives `None`, so the caller keeps the template and the args text instead.
pub const MAX_FORMATTED: usize = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Literal parsing
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// The `%` operator
// ---------------------------------------------------------------------------

/// Formats `template % args` exactly as Python 3's `%` operator would, or `None` when Python would raise.
///
/// `args` is read as Python would see it: a `Value::List` is the tuple of
/// positional arguments, a `Value::Map` is the mapping for `%(name)s` (and, with
/// no `%(…)` in the template, a single argument that need not be used), and any
/// other value is one argument. `None` is also returned for the few results a
/// Rust `String` cannot hold (a lone surrogate from `%c`) and for output past
/// [`MAX_FORMATTED`].
pub fn percent_format(template: &str, args: &Value) -> Option<String> {
    let mut st = ArgState::new(args);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let mut cur = Cursor {
            s: &rest[at + 1..],
            pos: 0,
        };
        if cur.peek() == Some('%') {
            out.push('%');
            rest = &cur.s[1..];
            continue;
        }
        format_one(&mut cur, &mut st, &mut out)?;
        rest = &cur.s[cur.pos..];
        if out.len() > MAX_FORMATTED {
            return None;
        }
    }
    out.push_str(rest);
    // CPython: "not all arguments converted during string formatting", except for mappings.
    if st.dict.is_none() && st.argidx < st.arglen {
        return None;
    }
    (out.len() <= MAX_FORMATTED).then_some(out)
}

/// CPython's argument cursor (`arglen`/`argidx` in `PyUnicode_Format`), kept
/// literally because its quirks are observable: a non-tuple argument is consumed
/// once, and `%(key)` replaces the current argument with the looked-up value.
struct ArgState<'a> {
    tuple: &'a [Value],
    current: &'a Value,
    arglen: isize,
    argidx: isize,
    dict: Option<&'a [(String, Value)]>,
}

impl<'a> ArgState<'a> {
    fn new(args: &'a Value) -> ArgState<'a> {
        match args {
            Value::List(items) => ArgState {
                tuple: items,
                current: args,
                arglen: items.len() as isize,
                argidx: 0,
                dict: None,
            },
            other => ArgState {
                tuple: &[],
                current: other,
                arglen: -1,
                argidx: -2,
                dict: match other {
                    Value::Map(pairs) => Some(pairs),
                    _ => None,
                },
            },
        }
    }

    fn next(&mut self) -> Option<&'a Value> {
        if self.argidx >= self.arglen {
            return None; // "not enough arguments for format string"
        }
        let i = self.argidx;
        self.argidx += 1;
        if self.arglen < 0 {
            Some(self.current)
        } else {
            self.tuple.get(i as usize)
        }
    }

    fn select_key(&mut self, key: &str) -> Option<()> {
        let pairs = self.dict?; // "format requires a mapping"
        // The last duplicate wins, as when Python builds a dict.
        let (_, v) = pairs.iter().rev().find(|(k, _)| k == key)?;
        self.current = v;
        self.arglen = -1;
        self.argidx = -2;
        Some(())
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// A decimal count from the template; Python raises past `sys.maxsize`, we refuse past our output cap.
    fn number(&mut self) -> Option<usize> {
        let mut n: usize = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n.checked_mul(10)?.checked_add(d as usize)?;
            if n > MAX_FORMATTED {
                return None;
            }
            self.pos += 1;
        }
        Some(n)
    }
}

#[derive(Default)]
struct Spec {
    ljust: bool,
    plus: bool,
    blank: bool,
    alt: bool,
    zero: bool,
    width: usize,
    prec: Option<usize>,
}

/// Parses and applies one conversion; `cur` starts just after the `%`.
fn format_one(cur: &mut Cursor, st: &mut ArgState, out: &mut String) -> Option<()> {
    let mut spec = Spec::default();
    if cur.peek() == Some('(') {
        cur.pos += 1;
        let start = cur.pos;
        let mut depth = 1usize;
        // Keys may hold balanced parentheses: `%(a(b))s` looks up `a(b)`.
        loop {
            match cur.bump()? {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        st.select_key(&cur.s[start..cur.pos - 1])?;
    }
    while let Some(c) = cur.peek() {
        match c {
            '-' => spec.ljust = true,
            '+' => spec.plus = true,
            ' ' => spec.blank = true,
            '#' => spec.alt = true,
            '0' => spec.zero = true,
            _ => break,
        }
        cur.pos += 1;
    }
    if cur.peek() == Some('*') {
        cur.pos += 1;
        let w = star_arg(st.next()?)?;
        if w < 0 {
            spec.ljust = true;
        }
        spec.width = usize::try_from(w.unsigned_abs()).ok()?;
    } else {
        spec.width = cur.number()?;
    }
    if spec.width > MAX_FORMATTED {
        return None;
    }
    if cur.peek() == Some('.') {
        cur.pos += 1;
        if cur.peek() == Some('*') {
            cur.pos += 1;
            let p = star_arg(st.next()?)?;
            spec.prec = Some(usize::try_from(p.max(0)).ok()?);
        } else {
            spec.prec = Some(cur.number()?);
        }
        if spec.prec.is_some_and(|p| p > MAX_FORMATTED) {
            return None;
        }
    }
    // One C length modifier is accepted and ignored (`%ld`).
    if matches!(cur.peek(), Some('h' | 'l' | 'L')) {
        cur.pos += 1;
    }
    let conv = cur.bump()?; // end of template: "incomplete format"
    let v = st.next()?;
    match conv {
        's' | 'r' | 'a' => {
            let mut text = match conv {
                's' => py_str(v),
                'r' => py_repr(v),
                _ => py_ascii(v),
            };
            if let Some(p) = spec.prec
                && let Some((cut, _)) = text.char_indices().nth(p)
            {
                text.truncate(cut);
            }
            pad(out, &spec, &text, false, false)
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let text = format_int(v, conv, spec.alt, spec.prec)?;
            let prefixed = spec.alt && conv != 'd' && conv != 'i' && conv != 'u';
            pad(out, &spec, &text, true, prefixed)
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let text = format_float(as_float(v)?, conv, spec.alt, spec.prec.unwrap_or(6))?;
            pad(out, &spec, &text, true, false)
        }
        'c' => {
            let c = match v {
                Value::Int(i) => char::from_u32(u32::try_from(*i).ok()?)?,
                Value::Bool(b) => char::from(u8::from(*b)),
                Value::Str(s) => {
                    let mut it = s.chars();
                    let c = it.next()?;
                    if it.next().is_some() {
                        return None;
                    }
                    c
                }
                _ => None?,
            };
            pad(out, &spec, c.encode_utf8(&mut [0; 4]), false, false)
        }
        _ => None, // "unsupported format character"
    }
}

/// `*` takes an int (a bool is one); anything else is "* wants int".
fn star_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Writes `text` padded to the width, as CPython's `unicode_format_arg_output` does:
/// numbers take a sign from `+`/space, zero fill goes after the sign and any `0x` prefix.
fn pad(out: &mut String, spec: &Spec, text: &str, numeric: bool, prefixed: bool) -> Option<()> {
    let mut body = text;
    let mut sign = "";
    if numeric {
        if let Some(rest) = body.strip_prefix(['-', '+']) {
            sign = &body[..1];
            body = rest;
        } else if spec.plus {
            sign = "+";
        } else if spec.blank {
            sign = " ";
        }
    }
    let prefix = if prefixed && body.len() >= 2 {
        let (p, rest) = body.split_at(2);
        body = rest;
        p
    } else {
        ""
    };
    let len = sign.len() + prefix.len() + body.chars().count();
    let fill = spec.width.saturating_sub(len);
    if out.len() + fill + text.len() > MAX_FORMATTED {
        return None;
    }
    let zero = numeric && spec.zero && !spec.ljust;
    if !spec.ljust && !zero {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    out.push_str(sign);
    out.push_str(prefix);
    if zero {
        out.extend(std::iter::repeat_n('0', fill));
    }
    out.push_str(body);
    if spec.ljust {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    Some(())
}

/// `%d %x %o` of an int, bool or (for `%d`) float, as CPython's `_PyUnicode_FormatLong`
/// writes it: `-`, then `0x`/`0o` under `#`, then digits zero-padded to the precision.
fn format_int(v: &Value, conv: char, alt: bool, prec: Option<usize>) -> Option<String> {
    let decimal = matches!(conv, 'd' | 'i' | 'u');
    let (neg, digits) = match v {
        Value::Int(i) => (*i < 0, i.unsigned_abs().to_string()),
        Value::Bool(b) => (false, u8::from(*b).to_string()),
        Value::BigInt(s) => {
            let (neg, d) = match s.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, s.as_str()),
            };
            let d = d.trim_start_matches('0');
            if d.len() > MAX_INT_DIGITS || !d.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            if d.is_empty() {
                (false, "0".to_owned())
            } else {
                (neg, d.to_owned())
            }
        }
        // `%d` of a float is `int(x)`; `%x`/`%o` of one is a TypeError.
        Value::Float(f) if decimal && f.is_finite() => {
            let t = f.trunc();
            // `{:.0}` of an integral float prints its exact value, as int() does.
            let s = format!("{:.0}", t.abs());
            if s.len() > MAX_INT_DIGITS {
                return None;
            }
            (t < 0.0, s)
        }
        _ => return None,
    };
    let (body, prefix) = match conv {
        'x' => (to_radix(&digits, 4, false), "0x"),
        'X' => (to_radix(&digits, 4, true), "0X"),
        'o' => (to_radix(&digits, 3, false), "0o"),
        _ => (digits, ""),
    };
    let mut s = String::with_capacity(body.len() + 4);
    if neg && body != "0" {
        s.push('-');
    }
    if alt {
        s.push_str(prefix);
    }
    if let Some(p) = prec {
        s.extend(std::iter::repeat_n('0', p.saturating_sub(body.len())));
    }
    s.push_str(&body);
    Some(s)
}

/// Rewrites a non-negative decimal integer in base 2^`bits` (hex or octal), however long.
fn to_radix(decimal: &str, bits: u32, upper: bool) -> String {
    if let Ok(n) = decimal.parse::<u128>() {
        return match (bits, upper) {
            (4, false) => format!("{n:x}"),
            (4, true) => format!("{n:X}"),
            _ => format!("{n:o}"),
        };
    }
    // Little-endian base-2^32 limbs, built by multiply-and-add over 9-digit chunks.
    let mut limbs: Vec<u32> = Vec::new();
    let bytes = decimal.as_bytes();
    let first = bytes.len() % 9;
    let mut chunks: Vec<&[u8]> = Vec::new();
    if first > 0 {
        chunks.push(&bytes[..first]);
    }
    chunks.extend(bytes[first..].chunks(9));
    for chunk in chunks {
        let mul = 10u64.pow(chunk.len() as u32);
        let mut carry = chunk
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        for limb in limbs.iter_mut() {
            let x = u64::from(*limb) * mul + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let digits: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let total_bits = limbs.len() as u64 * 32;
    let mut out = Vec::new();
    let mut bit = 0u64;
    while bit < total_bits {
        let mut d = 0u32;
        for k in 0..u64::from(bits) {
            let b = bit + k;
            if b < total_bits && (limbs[(b / 32) as usize] >> (b % 32)) & 1 == 1 {
                d |= 1 << k;
            }
        }
        out.push(digits[d as usize]);
        bit += u64::from(bits);
    }
    while out.len() > 1 && out.last() == Some(&b'0') {
        out.pop();
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// What `float(x)` gives for the float conversions: ints and bools convert, an int past
/// f64's range is Python's OverflowError, anything else a TypeError.
fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::BigInt(s) => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// `%e %f %g` (and upper-case forms) as CPython's `PyOS_double_to_string` writes them.
/// Rust's fixed-precision float formatting is exact and rounds half to even, like dtoa.
fn format_float(x: f64, conv: char, alt: bool, prec: usize) -> Option<String> {
    let upper = conv.is_ascii_uppercase();
    if prec > MAX_FORMATTED {
        return None;
    }
    if !x.is_finite() {
        // NaN's sign is not shown by `%`; infinity's is.
        let word = if x.is_nan() {
            "nan"
        } else if x < 0.0 {
            "-inf"
        } else {
            "inf"
        };
        return Some(if upper {
            word.to_ascii_uppercase()
        } else {
            word.to_owned()
        });
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    let body = match conv.to_ascii_lowercase() {
        'f' => {
            let mut s = format!("{a:.prec$}");
            if alt && prec == 0 {
                s.push('.');
            }
            s
        }
        'e' => {
            let (digits, exp) = sci_digits(a, prec);
            let mut s = String::with_capacity(prec + 8);
            s.push_str(&digits[..1]);
            if prec > 0 || alt {
                s.push('.');
            }
            s.push_str(&digits[1..]);
            push_exponent(&mut s, exp, upper);
            s
        }
        _ => {
            let p = prec.max(1);
            let (mut digits, exp) = sci_digits(a, p - 1);
            if !alt {
                let keep = digits.trim_end_matches('0').len().max(1);
                digits.truncate(keep);
            }
            let decpt = exp + 1;
            if decpt <= -4 || decpt > p as i64 {
                let mut s = String::with_capacity(digits.len() + 8);
                s.push_str(&digits[..1]);
                if digits.len() > 1 || alt {
                    s.push('.');
                }
                s.push_str(&digits[1..]);
                push_exponent(&mut s, exp, upper);
                s
            } else {
                let mut s = fixed_layout(&digits, decpt);
                if alt && !s.contains('.') {
                    s.push('.');
                }
                s
            }
        }
    };
    Some(format!("{sign}{body}"))
}

/// The digits of `a` (finite, non-negative) rounded to `prec + 1` significant
/// digits, and the decimal exponent of the first one.
fn sci_digits(a: f64, prec: usize) -> (String, i64) {
    let s = format!("{a:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    (mant.replace('.', ""), exp.parse().unwrap_or(0))
}

/// Places a decimal point in `digits` (value `0.digits × 10^decpt`) without an exponent.
fn fixed_layout(digits: &str, decpt: i64) -> String {
    let n = digits.len() as i64;
    let mut s = String::with_capacity(digits.len() + decpt.unsigned_abs() as usize + 2);
    if decpt <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        s.push_str(digits);
    } else if decpt >= n {
        s.push_str(digits);
        s.extend(std::iter::repeat_n('0', (decpt - n) as usize));
    } else {
        s.push_str(&digits[..decpt as usize]);
        s.push('.');
        s.push_str(&digits[decpt as usize..]);
    }
    s
}

/// Python always signs the exponent and gives it at least two digits: `e+05`.
fn push_exponent(s: &mut String, exp: i64, upper: bool) {
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.unsigned_abs());
}

// ---------------------------------------------------------------------------
// str(), repr(), ascii()
// ---------------------------------------------------------------------------

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

/// `str.isprintable()` for a non-ASCII character.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    NON_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < n {
                std::cmp::Ordering::Less
            } else if lo > n {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// Code points from U+0080 up for which CPython 3.11 (Unicode 14.0) `str.isprintable()`
/// is false: categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than the space.
/// Generated with `[c for c in range(0x80, 0x110000) if not chr(c).isprintable()]` as ranges;
/// needed because `repr()` escapes exactly these, and Rust has no general-category table.
#[rustfmt::skip]
const NON_PRINTABLE: &[(u32, u32)] = &[
    (0x80, 0xA0), (0xAD, 0xAD), (0x378, 0x379), (0x380, 0x383), (0x38B, 0x38B), (0x38D, 0x38D),
    (0x3A2, 0x3A2), (0x530, 0x530), (0x557, 0x558), (0x58B, 0x58C), (0x590, 0x590), (0x5C8, 0x5CF),
    (0x5EB, 0x5EE), (0x5F5, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70E, 0x70F), (0x74B, 0x74C),
    (0x7B2, 0x7BF), (0x7FB, 0x7FC), (0x82E, 0x82F), (0x83F, 0x83F), (0x85C, 0x85D), (0x85F, 0x85F),
    (0x86B, 0x86F), (0x88F, 0x897), (0x8E2, 0x8E2), (0x984, 0x984), (0x98D, 0x98E), (0x991, 0x992),
    (0x9A9, 0x9A9), (0x9B1, 0x9B1), (0x9B3, 0x9B5), (0x9BA, 0x9BB), (0x9C5, 0x9C6), (0x9C9, 0x9CA),
    (0x9CF, 0x9D6), (0x9D8, 0x9DB), (0x9DE, 0x9DE), (0x9E4, 0x9E5), (0x9FF, 0xA00), (0xA04, 0xA04),
    (0xA0B, 0xA0E), (0xA11, 0xA12), (0xA29, 0xA29), (0xA31, 0xA31), (0xA34, 0xA34), (0xA37, 0xA37),
    (0xA3A, 0xA3B), (0xA3D, 0xA3D), (0xA43, 0xA46), (0xA49, 0xA4A), (0xA4E, 0xA50), (0xA52, 0xA58),
    (0xA5D, 0xA5D), (0xA5F, 0xA65), (0xA77, 0xA80), (0xA84, 0xA84), (0xA8E, 0xA8E), (0xA92, 0xA92),
    (0xAA9, 0xAA9), (0xAB1, 0xAB1), (0xAB4, 0xAB4), (0xABA, 0xABB), (0xAC6, 0xAC6), (0xACA, 0xACA),
    (0xACE, 0xACF), (0xAD1, 0xADF), (0xAE4, 0xAE5), (0xAF2, 0xAF8), (0xB00, 0xB00), (0xB04, 0xB04),
    (0xB0D, 0xB0E), (0xB11, 0xB12), (0xB29, 0xB29), (0xB31, 0xB31), (0xB34, 0xB34), (0xB3A, 0xB3B),
    (0xB45, 0xB46), (0xB49, 0xB4A), (0xB4E, 0xB54), (0xB58, 0xB5B), (0xB5E, 0xB5E), (0xB64, 0xB65),
    (0xB78, 0xB81), (0xB84, 0xB84), (0xB8B, 0xB8D), (0xB91, 0xB91), (0xB96, 0xB98), (0xB9B, 0xB9B),
    (0xB9D, 0xB9D), (0xBA0, 0xBA2), (0xBA5, 0xBA7), (0xBAB, 0xBAD), (0xBBA, 0xBBD), (0xBC3, 0xBC5),
    (0xBC9, 0xBC9), (0xBCE, 0xBCF), (0xBD1, 0xBD6), (0xBD8, 0xBE5), (0xBFB, 0xBFF), (0xC0D, 0xC0D),
    (0xC11, 0xC11), (0xC29, 0xC29), (0xC3A, 0xC3B), (0xC45, 0xC45), (0xC49, 0xC49), (0xC4E, 0xC54),
    (0xC57, 0xC57), (0xC5B, 0xC5C), (0xC5E, 0xC5F), (0xC64, 0xC65), (0xC70, 0xC76), (0xC8D, 0xC8D),
    (0xC91, 0xC91), (0xCA9, 0xCA9), (0xCB4, 0xCB4), (0xCBA, 0xCBB), (0xCC5, 0xCC5), (0xCC9, 0xCC9),
    (0xCCE, 0xCD4), (0xCD7, 0xCDC), (0xCDF, 0xCDF), (0xCE4, 0xCE5), (0xCF0, 0xCF0), (0xCF3, 0xCFF),
    (0xD0D, 0xD0D), (0xD11, 0xD11), (0xD45, 0xD45), (0xD49, 0xD49), (0xD50, 0xD53), (0xD64, 0xD65),
    (0xD80, 0xD80), (0xD84, 0xD84), (0xD97, 0xD99), (0xDB2, 0xDB2), (0xDBC, 0xDBC), (0xDBE, 0xDBF),
    (0xDC7, 0xDC9), (0xDCB, 0xDCE), (0xDD5, 0xDD5), (0xDD7, 0xDD7), (0xDE0, 0xDE5), (0xDF0, 0xDF1),
    (0xDF5, 0xE00), (0xE3B, 0xE3E), (0xE5C, 0xE80), (0xE83, 0xE83), (0xE85, 0xE85), (0xE8B, 0xE8B),
    (0xEA4, 0xEA4), (0xEA6, 0xEA6), (0xEBE, 0xEBF), (0xEC5, 0xEC5), (0xEC7, 0xEC7), (0xECE, 0xECF),
    (0xEDA, 0xEDB), (0xEE0, 0xEFF), (0xF48, 0xF48), (0xF6D, 0xF70), (0xF98, 0xF98), (0xFBD, 0xFBD),
    (0xFCD, 0xFCD), (0xFDB, 0xFFF), (0x10C6, 0x10C6), (0x10C8, 0x10CC), (0x10CE, 0x10CF),
    (0x1249, 0x1249), (0x124E, 0x124F), (0x1257, 0x1257), (0x1259, 0x1259), (0x125E, 0x125F),
    (0x1289, 0x1289), (0x128E, 0x128F), (0x12B1, 0x12B1), (0x12B6, 0x12B7), (0x12BF, 0x12BF),
    (0x12C1, 0x12C1), (0x12C6, 0x12C7), (0x12D7, 0x12D7), (0x1311, 0x1311), (0x1316, 0x1317),
    (0x135B, 0x135C), (0x137D, 0x137F), (0x139A, 0x139F), (0x13F6, 0x13F7), (0x13FE, 0x13FF),
    (0x1680, 0x1680), (0x169D, 0x169F), (0x16F9, 0x16FF), (0x1716, 0x171E), (0x1737, 0x173F),
    (0x1754, 0x175F), (0x176D, 0x176D), (0x1771, 0x1771), (0x1774, 0x177F), (0x17DE, 0x17DF),
    (0x17EA, 0x17EF), (0x17FA, 0x17FF), (0x180E, 0x180E), (0x181A, 0x181F), (0x1879, 0x187F),
    (0x18AB, 0x18AF), (0x18F6, 0x18FF), (0x191F, 0x191F), (0x192C, 0x192F), (0x193C, 0x193F),
    (0x1941, 0x1943), (0x196E, 0x196F), (0x1975, 0x197F), (0x19AC, 0x19AF), (0x19CA, 0x19CF),
    (0x19DB, 0x19DD), (0x1A1C, 0x1A1D), (0x1A5F, 0x1A5F), (0x1A7D, 0x1A7E), (0x1A8A, 0x1A8F),
    (0x1A9A, 0x1A9F), (0x1AAE, 0x1AAF), (0x1ACF, 0x1AFF), (0x1B4D, 0x1B4F), (0x1B7F, 0x1B7F),
    (0x1BF4, 0x1BFB), (0x1C38, 0x1C3A), (0x1C4A, 0x1C4C), (0x1C89, 0x1C8F), (0x1CBB, 0x1CBC),
    (0x1CC8, 0x1CCF), (0x1CFB, 0x1CFF), (0x1F16, 0x1F17), (0x1F1E, 0x1F1F), (0x1F46, 0x1F47),
    (0x1F4E, 0x1F4F), (0x1F58, 0x1F58), (0x1F5A, 0x1F5A), (0x1F5C, 0x1F5C), (0x1F5E, 0x1F5E),
    (0x1F7E, 0x1F7F), (0x1FB5, 0x1FB5), (0x1FC5, 0x1FC5), (0x1FD4, 0x1FD5), (0x1FDC, 0x1FDC),
    (0x1FF0, 0x1FF1), (0x1FF5, 0x1FF5), (0x1FFF, 0x200F), (0x2028, 0x202F), (0x205F, 0x206F),
    (0x2072, 0x2073), (0x208F, 0x208F), (0x209D, 0x209F), (0x20C1, 0x20CF), (0x20F1, 0x20FF),
    (0x218C, 0x218F), (0x2427, 0x243F), (0x244B, 0x245F), (0x2B74, 0x2B75), (0x2B96, 0x2B96),
    (0x2CF4, 0x2CF8), (0x2D26, 0x2D26), (0x2D28, 0x2D2C), (0x2D2E, 0x2D2F), (0x2D68, 0x2D6E),
    (0x2D71, 0x2D7E), (0x2D97, 0x2D9F), (0x2DA7, 0x2DA7), (0x2DAF, 0x2DAF), (0x2DB7, 0x2DB7),
    (0x2DBF, 0x2DBF), (0x2DC7, 0x2DC7), (0x2DCF, 0x2DCF), (0x2DD7, 0x2DD7), (0x2DDF, 0x2DDF),
    (0x2E5E, 0x2E7F), (0x2E9A, 0x2E9A), (0x2EF4, 0x2EFF), (0x2FD6, 0x2FEF), (0x2FFC, 0x3000),
    (0x3040, 0x3040), (0x3097, 0x3098), (0x3100, 0x3104), (0x3130, 0x3130), (0x318F, 0x318F),
    (0x31E4, 0x31EF), (0x321F, 0x321F), (0xA48D, 0xA48F), (0xA4C7, 0xA4CF), (0xA62C, 0xA63F),
    (0xA6F8, 0xA6FF), (0xA7CB, 0xA7CF), (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4), (0xA7DA, 0xA7F1),
    (0xA82D, 0xA82F), (0xA83A, 0xA83F), (0xA878, 0xA87F), (0xA8C6, 0xA8CD), (0xA8DA, 0xA8DF),
    (0xA954, 0xA95E), (0xA97D, 0xA97F), (0xA9CE, 0xA9CE), (0xA9DA, 0xA9DD), (0xA9FF, 0xA9FF),
    (0xAA37, 0xAA3F), (0xAA4E, 0xAA4F), (0xAA5A, 0xAA5B), (0xAAC3, 0xAADA), (0xAAF7, 0xAB00),
    (0xAB07, 0xAB08), (0xAB0F, 0xAB10), (0xAB17, 0xAB1F), (0xAB27, 0xAB27), (0xAB2F, 0xAB2F),
    (0xAB6C, 0xAB6F), (0xABEE, 0xABEF), (0xABFA, 0xABFF), (0xD7A4, 0xD7AF), (0xD7C7, 0xD7CA),
    (0xD7FC, 0xF8FF), (0xFA6E, 0xFA6F), (0xFADA, 0xFAFF), (0xFB07, 0xFB12), (0xFB18, 0xFB1C),
    (0xFB37, 0xFB37), (0xFB3D, 0xFB3D), (0xFB3F, 0xFB3F), (0xFB42, 0xFB42), (0xFB45, 0xFB45),
    (0xFBC3, 0xFBD2), (0xFD90, 0xFD91), (0xFDC8, 0xFDCE), (0xFDD0, 0xFDEF), (0xFE1A, 0xFE1F),
    (0xFE53, 0xFE53), (0xFE67, 0xFE67), (0xFE6C, 0xFE6F), (0xFE75, 0xFE75), (0xFEFD, 0xFF00),
    (0xFFBF, 0xFFC1), (0xFFC8, 0xFFC9), (0xFFD0, 0xFFD1), (0xFFD8, 0xFFD9), (0xFFDD, 0xFFDF),
    (0xFFE7, 0xFFE7), (0xFFEF, 0xFFFB), (0xFFFE, 0xFFFF), (0x1000C, 0x1000C), (0x10027, 0x10027),
    (0x1003B, 0x1003B), (0x1003E, 0x1003E), (0x1004E, 0x1004F), (0x1005E, 0x1007F),
    (0x100FB, 0x100FF), (0x10103, 0x10106), (0x10134, 0x10136), (0x1018F, 0x1018F),
    (0x1019D, 0x1019F), (0x101A1, 0x101CF), (0x101FE, 0x1027F), (0x1029D, 0x1029F),
    (0x102D1, 0x102DF), (0x102FC, 0x102FF), (0x10324, 0x1032C), (0x1034B, 0x1034F),
    (0x1037B, 0x1037F), (0x1039E, 0x1039E), (0x103C4, 0x103C7), (0x103D6, 0x103FF),
    (0x1049E, 0x1049F), (0x104AA, 0x104AF), (0x104D4, 0x104D7), (0x104FC, 0x104FF),
    (0x10528, 0x1052F), (0x10564, 0x1056E), (0x1057B, 0x1057B), (0x1058B, 0x1058B),
    (0x10593, 0x10593), (0x10596, 0x10596), (0x105A2, 0x105A2), (0x105B2, 0x105B2),
    (0x105BA, 0x105BA), (0x105BD, 0x105FF), (0x10737, 0x1073F), (0x10756, 0x1075F),
    (0x10768, 0x1077F), (0x10786, 0x10786), (0x107B1, 0x107B1), (0x107BB, 0x107FF),
    (0x10806, 0x10807), (0x10809, 0x10809), (0x10836, 0x10836), (0x10839, 0x1083B),
    (0x1083D, 0x1083E), (0x10856, 0x10856), (0x1089F, 0x108A6), (0x108B0, 0x108DF),
    (0x108F3, 0x108F3), (0x108F6, 0x108FA), (0x1091C, 0x1091E), (0x1093A, 0x1093E),
    (0x10940, 0x1097F), (0x109B8, 0x109BB), (0x109D0, 0x109D1), (0x10A04, 0x10A04),
    (0x10A07, 0x10A0B), (0x10A14, 0x10A14), (0x10A18, 0x10A18), (0x10A36, 0x10A37),
    (0x10A3B, 0x10A3E), (0x10A49, 0x10A4F), (0x10A59, 0x10A5F), (0x10AA0, 0x10ABF),
    (0x10AE7, 0x10AEA), (0x10AF7, 0x10AFF), (0x10B36, 0x10B38), (0x10B56, 0x10B57),
    (0x10B73, 0x10B77), (0x10B92, 0x10B98), (0x10B9D, 0x10BA8), (0x10BB0, 0x10BFF),
    (0x10C49, 0x10C7F), (0x10CB3, 0x10CBF), (0x10CF3, 0x10CF9), (0x10D28, 0x10D2F),
    (0x10D3A, 0x10E5F), (0x10E7F, 0x10E7F), (0x10EAA, 0x10EAA), (0x10EAE, 0x10EAF),
    (0x10EB2, 0x10EFF), (0x10F28, 0x10F2F), (0x10F5A, 0x10F6F), (0x10F8A, 0x10FAF),
    (0x10FCC, 0x10FDF), (0x10FF7, 0x10FFF), (0x1104E, 0x11051), (0x11076, 0x1107E),
    (0x110BD, 0x110BD), (0x110C3, 0x110CF), (0x110E9, 0x110EF), (0x110FA, 0x110FF),
    (0x11135, 0x11135), (0x11148, 0x1114F), (0x11177, 0x1117F), (0x111E0, 0x111E0),
    (0x111F5, 0x111FF), (0x11212, 0x11212), (0x1123F, 0x1127F), (0x11287, 0x11287),
    (0x11289, 0x11289), (0x1128E, 0x1128E), (0x1129E, 0x1129E), (0x112AA, 0x112AF),
    (0x112EB, 0x112EF), (0x112FA, 0x112FF), (0x11304, 0x11304), (0x1130D, 0x1130E),
    (0x11311, 0x11312), (0x11329, 0x11329), (0x11331, 0x11331), (0x11334, 0x11334),
    (0x1133A, 0x1133A), (0x11345, 0x11346), (0x11349, 0x1134A), (0x1134E, 0x1134F),
    (0x11351, 0x11356), (0x11358, 0x1135C), (0x11364, 0x11365), (0x1136D, 0x1136F),
    (0x11375, 0x113FF), (0x1145C, 0x1145C), (0x11462, 0x1147F), (0x114C8, 0x114CF),
    (0x114DA, 0x1157F), (0x115B6, 0x115B7), (0x115DE, 0x115FF), (0x11645, 0x1164F),
    (0x1165A, 0x1165F), (0x1166D, 0x1167F), (0x116BA, 0x116BF), (0x116CA, 0x116FF),
    (0x1171B, 0x1171C), (0x1172C, 0x1172F), (0x11747, 0x117FF), (0x1183C, 0x1189F),
    (0x118F3, 0x118FE), (0x11907, 0x11908), (0x1190A, 0x1190B), (0x11914, 0x11914),
    (0x11917, 0x11917), (0x11936, 0x11936), (0x11939, 0x1193A), (0x11947, 0x1194F),
    (0x1195A, 0x1199F), (0x119A8, 0x119A9), (0x119D8, 0x119D9), (0x119E5, 0x119FF),
    (0x11A48, 0x11A4F), (0x11AA3, 0x11AAF), (0x11AF9, 0x11BFF), (0x11C09, 0x11C09),
    (0x11C37, 0x11C37), (0x11C46, 0x11C4F), (0x11C6D, 0x11C6F), (0x11C90, 0x11C91),
    (0x11CA8, 0x11CA8), (0x11CB7, 0x11CFF), (0x11D07, 0x11D07), (0x11D0A, 0x11D0A),
    (0x11D37, 0x11D39), (0x11D3B, 0x11D3B), (0x11D3E, 0x11D3E), (0x11D48, 0x11D4F),
    (0x11D5A, 0x11D5F), (0x11D66, 0x11D66), (0x11D69, 0x11D69), (0x11D8F, 0x11D8F),
    (0x11D92, 0x11D92), (0x11D99, 0x11D9F), (0x11DAA, 0x11EDF), (0x11EF9, 0x11FAF),
    (0x11FB1, 0x11FBF), (0x11FF2, 0x11FFE), (0x1239A, 0x123FF), (0x1246F, 0x1246F),
    (0x12475, 0x1247F), (0x12544, 0x12F8F), (0x12FF3, 0x12FFF), (0x1342F, 0x143FF),
    (0x14647, 0x167FF), (0x16A39, 0x16A3F), (0x16A5F, 0x16A5F), (0x16A6A, 0x16A6D),
    (0x16ABF, 0x16ABF), (0x16ACA, 0x16ACF), (0x16AEE, 0x16AEF), (0x16AF6, 0x16AFF),
    (0x16B46, 0x16B4F), (0x16B5A, 0x16B5A), (0x16B62, 0x16B62), (0x16B78, 0x16B7C),
    (0x16B90, 0x16E3F), (0x16E9B, 0x16EFF), (0x16F4B, 0x16F4E), (0x16F88, 0x16F8E),
    (0x16FA0, 0x16FDF), (0x16FE5, 0x16FEF), (0x16FF2, 0x16FFF), (0x187F8, 0x187FF),
    (0x18CD6, 0x18CFF), (0x18D09, 0x1AFEF), (0x1AFF4, 0x1AFF4), (0x1AFFC, 0x1AFFC),
    (0x1AFFF, 0x1AFFF), (0x1B123, 0x1B14F), (0x1B153, 0x1B163), (0x1B168, 0x1B16F),
    (0x1B2FC, 0x1BBFF), (0x1BC6B, 0x1BC6F), (0x1BC7D, 0x1BC7F), (0x1BC89, 0x1BC8F),
    (0x1BC9A, 0x1BC9B), (0x1BCA0, 0x1CEFF), (0x1CF2E, 0x1CF2F), (0x1CF47, 0x1CF4F),
    (0x1CFC4, 0x1CFFF), (0x1D0F6, 0x1D0FF), (0x1D127, 0x1D128), (0x1D173, 0x1D17A),
    (0x1D1EB, 0x1D1FF), (0x1D246, 0x1D2DF), (0x1D2F4, 0x1D2FF), (0x1D357, 0x1D35F),
    (0x1D379, 0x1D3FF), (0x1D455, 0x1D455), (0x1D49D, 0x1D49D), (0x1D4A0, 0x1D4A1),
    (0x1D4A3, 0x1D4A4), (0x1D4A7, 0x1D4A8), (0x1D4AD, 0x1D4AD), (0x1D4BA, 0x1D4BA),
    (0x1D4BC, 0x1D4BC), (0x1D4C4, 0x1D4C4), (0x1D506, 0x1D506), (0x1D50B, 0x1D50C),
    (0x1D515, 0x1D515), (0x1D51D, 0x1D51D), (0x1D53A, 0x1D53A), (0x1D53F, 0x1D53F),
    (0x1D545, 0x1D545), (0x1D547, 0x1D549), (0x1D551, 0x1D551), (0x1D6A6, 0x1D6A7),
    (0x1D7CC, 0x1D7CD), (0x1DA8C, 0x1DA9A), (0x1DAA0, 0x1DAA0), (0x1DAB0, 0x1DEFF),
    (0x1DF1F, 0x1DFFF), (0x1E007, 0x1E007), (0x1E019, 0x1E01A), (0x1E022, 0x1E022),
    (0x1E025, 0x1E025), (0x1E02B, 0x1E0FF), (0x1E12D, 0x1E12F), (0x1E13E, 0x1E13F),
    (0x1E14A, 0x1E14D), (0x1E150, 0x1E28F), (0x1E2AF, 0x1E2BF), (0x1E2FA, 0x1E2FE),
    (0x1E300, 0x1E7DF), (0x1E7E7, 0x1E7E7), (0x1E7EC, 0x1E7EC), (0x1E7EF, 0x1E7EF),
    (0x1E7FF, 0x1E7FF), (0x1E8C5, 0x1E8C6), (0x1E8D7, 0x1E8FF), (0x1E94C, 0x1E94F),
    (0x1E95A, 0x1E95D), (0x1E960, 0x1EC70), (0x1ECB5, 0x1ED00), (0x1ED3E, 0x1EDFF),
    (0x1EE04, 0x1EE04), (0x1EE20, 0x1EE20), (0x1EE23, 0x1EE23), (0x1EE25, 0x1EE26),
    (0x1EE28, 0x1EE28), (0x1EE33, 0x1EE33), (0x1EE38, 0x1EE38), (0x1EE3A, 0x1EE3A),
    (0x1EE3C, 0x1EE41), (0x1EE43, 0x1EE46), (0x1EE48, 0x1EE48), (0x1EE4A, 0x1EE4A),
    (0x1EE4C, 0x1EE4C), (0x1EE50, 0x1EE50), (0x1EE53, 0x1EE53), (0x1EE55, 0x1EE56),
    (0x1EE58, 0x1EE58), (0x1EE5A, 0x1EE5A), (0x1EE5C, 0x1EE5C), (0x1EE5E, 0x1EE5E),
    (0x1EE60, 0x1EE60), (0x1EE63, 0x1EE63), (0x1EE65, 0x1EE66), (0x1EE6B, 0x1EE6B),
    (0x1EE73, 0x1EE73), (0x1EE78, 0x1EE78), (0x1EE7D, 0x1EE7D), (0x1EE7F, 0x1EE7F),
    (0x1EE8A, 0x1EE8A), (0x1EE9C, 0x1EEA0), (0x1EEA4, 0x1EEA4), (0x1EEAA, 0x1EEAA),
    (0x1EEBC, 0x1EEEF), (0x1EEF2, 0x1EFFF), (0x1F02C, 0x1F02F), (0x1F094, 0x1F09F),
    (0x1F0AF, 0x1F0B0), (0x1F0C0, 0x1F0C0), (0x1F0D0, 0x1F0D0), (0x1F0F6, 0x1F0FF),
    (0x1F1AE, 0x1F1E5), (0x1F203, 0x1F20F), (0x1F23C, 0x1F23F), (0x1F249, 0x1F24F),
    (0x1F252, 0x1F25F), (0x1F266, 0x1F2FF), (0x1F6D8, 0x1F6DC), (0x1F6ED, 0x1F6EF),
    (0x1F6FD, 0x1F6FF), (0x1F774, 0x1F77F), (0x1F7D9, 0x1F7DF), (0x1F7EC, 0x1F7EF),
    (0x1F7F1, 0x1F7FF), (0x1F80C, 0x1F80F), (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F),
    (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8AF), (0x1F8B2, 0x1F8FF), (0x1FA54, 0x1FA5F),
    (0x1FA6E, 0x1FA6F), (0x1FA75, 0x1FA77), (0x1FA7D, 0x1FA7F), (0x1FA87, 0x1FA8F),
    (0x1FAAD, 0x1FAAF), (0x1FABB, 0x1FABF), (0x1FAC6, 0x1FACF), (0x1FADA, 0x1FADF),
    (0x1FAE8, 0x1FAEF), (0x1FAF7, 0x1FAFF), (0x1FB93, 0x1FB93), (0x1FBCB, 0x1FBEF),
    (0x1FBFA, 0x1FFFF), (0x2A6E0, 0x2A6FF), (0x2B739, 0x2B73F), (0x2B81E, 0x2B81F),
    (0x2CEA2, 0x2CEAF), (0x2EBE1, 0x2F7FF), (0x2FA1E, 0x2FFFF), (0x3134B, 0xE00FF),
    (0xE01F0, 0x10FFFF),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Option<Value> {
        parse_literal(s, &DecodeLimits::default())
    }

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    fn fmt(t: &str, args: &str) -> Option<String> {
        percent_format(t, &lit(args).expect("test args are literals"))
    }

    #[test]
    fn python2_byte_string_escapes_read_as_utf8() {
        assert_eq!(lit(r"('caf\xc3\xa9',)"), Some(Value::List(vec![s("café")])));
        // Python 3 writes é literally; a lone \xe9 stays U+00E9.
        assert_eq!(lit("'café'"), Some(s("café")));
        assert_eq!(lit(r"'\xe9'"), Some(s("é")));
    }

    #[test]
    fn strings_prefixes_and_escapes() {
        assert_eq!(lit("'it\\'s'"), Some(s("it's")));
        assert_eq!(lit("\"it's\""), Some(s("it's")));
        assert_eq!(
            lit(r"'\n\t\\\x41\u20ac\U0001f600\0\101'"),
            Some(s("\n\t\\A€😀\0A"))
        );
        assert_eq!(lit("u'zo\\xeb'"), Some(s("zoë")));
        assert_eq!(lit(r"r'\d+\''"), Some(s(r"\d+\'")));
        assert_eq!(lit(r"'\q'"), Some(s(r"\q")));
        assert_eq!(lit("'zoë €'"), Some(s("zoë €")));
        // Bytes would print as b'…'; a lone surrogate is no Rust char; \N needs name tables.
        assert_eq!(lit("b'ab'"), None);
        assert_eq!(lit(r"'\ud800'"), None);
        assert_eq!(lit(r"'\N{BULLET}'"), None);
        assert_eq!(lit("'unterminated"), None);
        assert_eq!(lit("'a\nb'"), None);
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(lit("42"), Some(Value::Int(42)));
        assert_eq!(lit("-7"), Some(Value::Int(-7)));
        assert_eq!(lit("140045996985216L"), Some(Value::Int(140045996985216)));
        assert_eq!(lit("-9223372036854775808"), Some(Value::Int(i64::MIN)));
        assert_eq!(
            lit("9223372036854775808"),
            Some(Value::BigInt("9223372036854775808".into()))
        );
        assert_eq!(
            lit("-1267650600228229401496703205376"),
            Some(Value::BigInt("-1267650600228229401496703205376".into()))
        );
        assert_eq!(lit(&"9".repeat(MAX_INT_DIGITS + 1)), None);
        assert_eq!(lit("1.5"), Some(Value::Float(1.5)));
        assert_eq!(lit("1e+16"), Some(Value::Float(1e16)));
        assert_eq!(lit("5e-324"), Some(Value::Float(5e-324)));
        let z = lit("-0.0");
        assert!(matches!(z, Some(Value::Float(f)) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(lit("True"), Some(Value::Bool(true)));
        assert_eq!(lit("False"), Some(Value::Bool(false)));
        assert_eq!(lit("None"), Some(Value::Null));
        for bad in [
            "inf", "nan", "-inf", "(1, nan)", "1j", "0x10", "1_000", "- 1", "1.2.3", "true",
        ] {
            assert_eq!(lit(bad), None, "{bad}");
        }
    }

    #[test]
    fn containers() {
        assert_eq!(lit("()"), Some(Value::List(vec![])));
        assert_eq!(lit("(1,)"), Some(Value::List(vec![Value::Int(1)])));
        assert_eq!(lit("(1)"), Some(Value::Int(1)));
        assert_eq!(
            lit("('/dev/sda1', 93)"),
            Some(Value::List(vec![s("/dev/sda1"), Value::Int(93)]))
        );
        assert_eq!(
            lit("{'k': [1, 2], 'n': {}, 'e': []}"),
            Some(Value::Map(vec![
                ("k".into(), Value::List(vec![Value::Int(1), Value::Int(2)])),
                ("n".into(), Value::Map(vec![])),
                ("e".into(), Value::List(vec![])),
            ]))
        );
        assert_eq!(
            lit("[1, 2,]"),
            Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(lit(" ( 'a' , ) "), Some(Value::List(vec![s("a")])));
        for bad in [
            "(,)",
            "[,]",
            "{'a':}",
            "{'a' 1}",
            "(1 2)",
            "[1, 2",
            "[1, 2))",
            "{1: 'a'}",
            "{(1, 2): 3}",
            "((1, 2),)",
            "[(1,)]",
            "{1, 2}",
            "set()",
            "'a' 'b'",
            "(1,) x",
            "",
        ] {
            assert_eq!(lit(bad), None, "{bad}");
        }
    }

    #[test]
    fn non_literal_reprs_are_refused() {
        for bad in [
            "(<object object at 0x7f5efefb37c0>,)",
            "(datetime.datetime(2026, 11, 25, 0, 5),)",
            "(Decimal('1.5'),)",
            "(<class 'ZeroDivisionError'>, ZeroDivisionError('division by zero'), <traceback object at 0x7f>)",
        ] {
            assert_eq!(lit(bad), None, "{bad}");
        }
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let limits = DecodeLimits {
            max_depth: 3,
            ..DecodeLimits::default()
        };
        assert!(parse_literal("[[[1]]]", &limits).is_some());
        assert_eq!(parse_literal("[[[[1]]]]", &limits), None);
        // A million brackets must be refused quickly, not overflow the stack.
        let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert_eq!(lit(&deep), None);
        let items = DecodeLimits {
            max_items: 2,
            ..DecodeLimits::default()
        };
        assert_eq!(parse_literal("[1, 2, 3]", &items), None);
    }

    #[test]
    fn percent_matches_python() {
        assert_eq!(
            fmt("disk %s at %d%% & rising", "('/dev/sda1', 93)").as_deref(),
            Some("disk /dev/sda1 at 93% & rising")
        );
        assert_eq!(
            fmt("boom %r", "{'k': [1, 2]}").as_deref(),
            Some("boom {'k': [1, 2]}")
        );
        assert_eq!(fmt("100%%", "{}").as_deref(), Some("100%"));
        assert_eq!(fmt("abc", "{}").as_deref(), Some("abc"));
        assert_eq!(
            fmt("%(a)s and %(b)05.1f", "{'a': None, 'b': -2.25}").as_deref(),
            Some("None and -02.2")
        );
        assert_eq!(fmt("%(a(b))s", "{'a(b)': 1}").as_deref(), Some("1"));
        assert_eq!(fmt("%s %(a)s", "{'a': 1}").as_deref(), Some("{'a': 1} 1"));
        assert_eq!(
            fmt("%d %i %u", "(True, 3.7, -3.7)").as_deref(),
            Some("1 3 -3")
        );
        assert_eq!(
            fmt("%#x %#o %X %#010x", "(255, 8, 255, -255)").as_deref(),
            Some("0xff 0o10 FF -0x00000ff")
        );
        assert_eq!(
            fmt("%x", "(1000000000000000000000000000000,)").as_deref(),
            Some("c9f2c9cd04674edea40000000")
        );
        assert_eq!(
            fmt("%.3d|%+d|% d|%-5d|", "(-5, 0, 5, 3)").as_deref(),
            Some("-005|+0| 5|3    |")
        );
        assert_eq!(
            fmt("%*d|%-*d|%.*f", "(5, 3, -5, 3, 2, 3.14159)").as_deref(),
            Some("    3|3    |3.14")
        );
        assert_eq!(
            fmt("%s %s %s %s", "(0.1, 1e16, 1e15, 1e-05)").as_deref(),
            Some("0.1 1e+16 1000000000000000.0 1e-05")
        );
        assert_eq!(
            fmt(
                "%e|%g|%g|%#g|%G|%.0f|%.1f",
                "(0.0, 1e-05, 1000000, 1.0, 1e-10, 2.5, 0.25)"
            )
            .as_deref(),
            Some("0.000000e+00|1e-05|1e+06|1.00000|1E-10|2|0.2")
        );
        assert_eq!(
            percent_format(
                "%010f|%+f|%F",
                &Value::List(vec![
                    Value::Float(f64::INFINITY),
                    Value::Float(f64::NAN),
                    Value::Float(f64::NEG_INFINITY)
                ])
            )
            .as_deref(),
            Some("0000000inf|+nan|-INF")
        );
        assert_eq!(fmt("%f", &format!("(1{},)", "0".repeat(400))), None);
        assert_eq!(
            fmt("%c%c%5c|", "(65, '€', 'a')").as_deref(),
            Some("A€    a|")
        );
        assert_eq!(
            fmt(
                "%.3s|%5s|%-5s|%r|%a",
                "('abcdef', None, True, \"it's\", 'é€😀')"
            )
            .as_deref(),
            Some("abc| None|True |\"it's\"|'\\xe9\\u20ac\\U0001f600'")
        );
        assert_eq!(fmt("%ld %hd", "(5, 6)").as_deref(), Some("5 6"));
        assert_eq!(fmt("second", "()").as_deref(), Some("second"));
    }

    #[test]
    fn percent_refuses_where_python_raises() {
        for (t, a) in [
            ("%s", "()"),
            ("%s %s", "(1,)"),
            ("%s", "(1, 2)"),
            ("abc", "5"),
            ("%d", "('5',)"),
            ("%d", "(None,)"),
            ("%x", "(3.0,)"),
            ("%c", "('ab',)"),
            ("%c", "(1114112,)"),
            ("%(a)s", "(1,)"),
            ("%(a)s", "{}"),
            ("%(a)s %s", "{'a': 1}"),
            ("%(a", "{'a': 1}"),
            ("%z", "(1,)"),
            ("%", "()"),
            ("%5%", "(1,)"),
            ("%*s", "(1.0, 'x')"),
            ("%lld", "(1,)"),
        ] {
            assert_eq!(fmt(t, a), None, "{t:?} % {a}");
        }
    }

    #[test]
    fn hostile_widths_are_refused_not_allocated() {
        assert_eq!(fmt("%999999999999s", "('x',)"), None);
        assert_eq!(fmt("%.99999999999f", "(1.0,)"), None);
        let wide = format!("%{}s", MAX_FORMATTED + 1);
        assert!(fmt(&wide, "('x',)").is_none());
        let many = "%(a)9999999s".repeat(8);
        assert!(fmt(&many, "{'a': 1}").is_none());
        // 1e999 reads as inf, as ast.literal_eval has it; the float conversions then write a word.
        assert_eq!(
            fmt("%010f|%+F", "(1e999, -1e999)").as_deref(),
            Some("0000000inf|-INF")
        );
    }

    #[test]
    fn str_and_repr() {
        let v = Value::Map(vec![
            (
                "a".into(),
                Value::List(vec![
                    Value::Int(1),
                    Value::Float(0.5),
                    Value::Null,
                    Value::Bool(true),
                ]),
            ),
            ("q".into(), s("it's \"x\"\n\u{a0}\u{1b}")),
            (
                "big".into(),
                Value::BigInt("-123456789012345678901234567890".into()),
            ),
        ]);
        assert_eq!(
            py_repr(&v),
            r#"{'a': [1, 0.5, None, True], 'q': 'it\'s "x"\n\xa0\x1b', 'big': -123456789012345678901234567890}"#
        );
        assert_eq!(py_str(&s("plain")), "plain");
        assert_eq!(py_str(&Value::Null), "None");
        assert_eq!(py_str(&Value::Float(1e22)), "1e+22");
        assert_eq!(
            py_str(&Value::Float(123456789012345680.0)),
            "1.2345678901234568e+17"
        );
        assert_eq!(py_str(&Value::Float(f64::NEG_INFINITY)), "-inf");
        assert_eq!(
            py_repr(&s("\u{300}\u{378}\u{e000}")),
            "'\u{300}\\u0378\\ue000'"
        );
        assert_eq!(py_ascii(&s("zoë")), r"'zo\xeb'");
        // Deep values render without deep recursion.
        let mut deep = Value::Int(0);
        for _ in 0..10_000 {
            deep = Value::List(vec![deep]);
        }
        assert_eq!(py_repr(&deep).len(), 20_001);
    }
}
