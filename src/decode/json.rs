//! JSON log bodies: one object, an array of objects, or newline-delimited objects (Logbook, Smarter, stdlib dicts).
//! An iterative reader with an explicit stack, so nesting depth is checked as it reads and no input can recurse.

use crate::decode::DecodeError;
use crate::decode::form::text_lossless;
use crate::decode::logrecord::{NO_RECORD_KEYS, RECORD_KEYS, has_any};
use crate::decode::logrecord::{RecordBuilder, Rendering};
use crate::limits::DecodeLimits;
use crate::python::MAX_INT_DIGITS;
use crate::record::{Record, SourceKind};
use crate::value::Value;
use std::collections::HashMap;

/// Objects with more keys than this get a hash index for duplicate keys; below
/// it a linear scan is cheaper than hashing, and real records have ~25 keys.
const DEDUP_INDEX_AT: usize = 32;

/// What [`decode_json_each`] did with a body that was JSON: how many records it handed over,
/// how many values or lines failed, and the first failure (the rest are only counted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub records: usize,
    pub rejected: usize,
    pub first_error: Option<DecodeError>,
}

/// Decodes a JSON body into records, collected. A thin wrapper over [`each_result`] for
/// callers that want every failure; the listener uses [`decode_json_each`], which holds none.
///
/// The outer `Err` means the body is not JSON at all: empty, or not one value in
/// it parses. Otherwise each object (top-level, array element, or one per line)
/// yields its own `Ok` or `Err`, so a bad element or line costs only itself.
/// After a value that fails to parse, reading resumes at the next line that
/// starts with `{` or `[`.
///
/// Beyond RFC 8259 it accepts Python's `NaN`, `Infinity` and `-Infinity`, keeps
/// integers outside i64 exact as `BigInt`, and reads invalid UTF-8 inside strings
/// as Latin-1. Integers longer than [`MAX_INT_DIGITS`] are refused, as Python's `json.loads` refuses them.
pub fn decode_json(
    body: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Result<Vec<Result<Record, DecodeError>>, DecodeError> {
    let mut out = Vec::new();
    each_result(body, limits, source, origin, |r| out.push(r))?;
    Ok(out)
}

/// Decodes a JSON body as [`decode_json`] does, handing each record to `emit` as soon as it
/// is decoded and keeping only the first failure plus a count, so a body of millions of tiny
/// values costs the memory of one value at a time (and at most `max_items` values in all).
pub fn decode_json_each(
    body: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
    mut emit: impl FnMut(Record),
) -> Result<Summary, DecodeError> {
    let mut s = Summary::default();
    each_result(body, limits, source, origin, |r| match r {
        Ok(rec) => {
            s.records += 1;
            emit(rec);
        }
        Err(e) => {
            s.rejected += 1;
            s.first_error.get_or_insert(e);
        }
    })?;
    Ok(s)
}

/// The reading loop behind both entry points: every value, top-level ones included, counts
/// against `max_items`, and each one's record (or failure) goes to `on` before the next is read.
fn each_result(
    body: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
    mut on: impl FnMut(Result<Record, DecodeError>),
) -> Result<(), DecodeError> {
    if body.len() > limits.max_frame {
        return Err(DecodeError::FrameTooLarge {
            len: body.len() as u64,
            max: limits.max_frame,
        });
    }
    let mut r = Reader {
        b: body,
        pos: 0,
        limits,
        items: 0,
        decoded: 0,
        keep_duplicates: false,
    };
    if r.b.starts_with(b"\xef\xbb\xbf") {
        r.pos = 3;
    }
    let mut first_err = None;
    let mut parsed_any = false;
    loop {
        r.skip_ws();
        if r.pos >= r.b.len() {
            break;
        }
        // Past the item limit every later value would fail too: one error ends the body.
        if let Err(e) = r.count_item() {
            first_err.get_or_insert_with(|| e.clone());
            on(Err(e));
            break;
        }
        let start = r.pos;
        match r.value() {
            Ok(Value::List(elems)) => {
                parsed_any = true;
                for v in elems {
                    on(to_record(v, limits, source, origin));
                }
            }
            Ok(v) => {
                parsed_any = true;
                on(to_record(v, limits, source, origin));
            }
            Err(e) => {
                first_err.get_or_insert_with(|| e.clone());
                on(Err(e));
                r.pos = resync(r.b, start);
            }
        }
    }
    if !parsed_any {
        return Err(first_err.unwrap_or_else(|| DecodeError::malformed("JSON", "empty body")));
    }
    Ok(())
}

/// Reads exactly one JSON value (whitespace around it allowed), with the same
/// extensions and limits as [`decode_json`], keeping repeated keys. The store reads
/// its `extra` column with it, so what was written comes back pair for pair.
pub fn parse_value(text: &[u8], limits: &DecodeLimits) -> Result<Value, DecodeError> {
    let mut r = Reader {
        b: text,
        pos: 0,
        limits,
        items: 0,
        decoded: 0,
        keep_duplicates: true,
    };
    let v = r.value()?;
    r.skip_ws();
    if r.pos != r.b.len() {
        return Err(r.err("trailing data after the value"));
    }
    Ok(v)
}

/// Maps one decoded value onto a record.
fn to_record(
    v: Value,
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Result<Record, DecodeError> {
    let Value::Map(pairs) = v else {
        return Err(DecodeError::NotARecord(
            "JSON value is not an object".to_owned(),
        ));
    };
    if !has_any(&pairs, &RECORD_KEYS) {
        return Err(DecodeError::NotARecord(NO_RECORD_KEYS.to_owned()));
    }
    let mut b = RecordBuilder::new(source, origin, Rendering::Typed);
    // Logbook's `channel` switches the builder to Logbook's level scale and
    // `extra` flattening, which must happen before those keys arrive, in whatever order the sender wrote them.
    let channel = pairs.iter().position(|(k, _)| k == "channel");
    let mut pairs = pairs;
    if let Some(i) = channel {
        let (k, v) = pairs.remove(i);
        b.set(&k, v);
    }
    for (k, v) in pairs {
        b.set(&k, v);
    }
    Ok(b.finish(limits))
}

/// Where to resume after a value that failed to parse at `start`: the next line
/// that begins (after blanks) with `{` or `[`, so a broken pretty-printed object
/// costs one error rather than one per line. Always past `start`, so reading ends.
fn resync(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(off) = b[i..].iter().position(|&c| c == b'\n') {
        i += off + 1;
        let line = &b[i..];
        let indent = line
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t' || c == b'\r')
            .count();
        if matches!(line.get(indent), Some(b'{' | b'[')) {
            return i;
        }
    }
    b.len()
}

/// One open container on the reader's explicit stack.
enum Frame {
    Array(Vec<Value>),
    Object {
        pairs: Vec<(String, Value)>,
        key: String,
        /// Built once an object passes [`DEDUP_INDEX_AT`] keys.
        index: Option<HashMap<String, usize>>,
    },
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    limits: &'a DecodeLimits,
    items: usize,
    decoded: usize,
    /// Keep every pair of an object even when a key repeats (the store's own text,
    /// which may hold a pickle's duplicate keys); senders' JSON keeps the last, as `json.loads` does.
    keep_duplicates: bool,
}

impl Reader<'_> {
    fn err(&self, detail: &str) -> DecodeError {
        DecodeError::malformed("JSON", format!("{detail} at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), DecodeError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else if self.peek().is_none() {
            Err(DecodeError::Truncated)
        } else {
            Err(self.err(what))
        }
    }

    fn count_item(&mut self) -> Result<(), DecodeError> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(DecodeError::TooLarge("item"));
        }
        Ok(())
    }

    /// Steps into a container that would sit at nesting `depth`, if the limit allows.
    fn open(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth >= self.limits.max_depth {
            return Err(DecodeError::TooDeep(self.limits.max_depth));
        }
        self.pos += 1;
        Ok(())
    }

    /// Reads one complete value. Containers are kept on `stack`, never on the call stack.
    fn value(&mut self) -> Result<Value, DecodeError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            self.skip_ws();
            let mut done = match self.peek() {
                None => return Err(DecodeError::Truncated),
                Some(b'[') => {
                    self.open(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::List(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue;
                    }
                }
                Some(b'{') => {
                    self.open(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Map(Vec::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object {
                            pairs: Vec::new(),
                            key,
                            index: None,
                        });
                        continue;
                    }
                }
                Some(b'"') => Value::Str(self.string()?),
                Some(_) => self.scalar()?,
            };
            // Attach `done` to its container; close containers whose bracket follows.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(done);
                };
                self.count_item()?;
                let closer = match top {
                    Frame::Array(items) => {
                        items.push(done);
                        b']'
                    }
                    Frame::Object { pairs, key, index } => {
                        if self.keep_duplicates {
                            pairs.push((std::mem::take(key), done));
                        } else {
                            insert(pairs, index, std::mem::take(key), done);
                        }
                        b'}'
                    }
                };
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if let Frame::Object { key, .. } = top {
                            *key = self.key()?;
                        }
                        break;
                    }
                    Some(c) if c == closer => {
                        self.pos += 1;
                        done = match stack.pop() {
                            Some(Frame::Array(items)) => Value::List(items),
                            Some(Frame::Object { pairs, .. }) => Value::Map(pairs),
                            None => return Err(self.err("unbalanced brackets")),
                        };
                    }
                    None => return Err(DecodeError::Truncated),
                    Some(_) => return Err(self.err("expected ',' or a closing bracket")),
                }
            }
        }
    }

    /// An object key and the `:` after it.
    fn key(&mut self) -> Result<String, DecodeError> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {}
            None => return Err(DecodeError::Truncated),
            Some(_) => return Err(self.err("expected a string key")),
        }
        let k = self.string()?;
        self.expect(b':', "expected ':' after a key")?;
        Ok(k)
    }

    fn scalar(&mut self) -> Result<Value, DecodeError> {
        let rest = &self.b[self.pos..];
        for (word, v) in [
            (&b"true"[..], Value::Bool(true)),
            (b"false", Value::Bool(false)),
            (b"null", Value::Null),
            (b"NaN", Value::Float(f64::NAN)),
            (b"Infinity", Value::Float(f64::INFINITY)),
            (b"-Infinity", Value::Float(f64::NEG_INFINITY)),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return Ok(v);
            }
        }
        self.number()
    }

    /// RFC 8259 numbers; integers stay exact (`Int`, or `BigInt` past i64).
    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.err("leading zero"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            None => return Err(DecodeError::Truncated),
            Some(_) => return Err(self.err("unexpected character")),
        }
        let int_end = self.pos;
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.err("digit expected after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.err("digit expected in exponent"));
            }
            self.digits();
        }
        // Digits and signs are ASCII, so these slices are valid UTF-8.
        let text =
            std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| self.err("bad number"))?;
        if float {
            return text
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.err("bad number"));
        }
        let digits = &self.b[int_start..int_end];
        if digits.len() > MAX_INT_DIGITS {
            return Err(DecodeError::TooLarge("integer digits"));
        }
        Ok(match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(text.to_owned()),
        })
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// A string literal starting at its `"`.
    fn string(&mut self) -> Result<String, DecodeError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while self
                .peek()
                .is_some_and(|c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.pos += 1;
            }
            let run = &self.b[run_start..self.pos];
            if !run.is_empty() {
                self.decoded += run.len();
                if self.decoded > self.limits.max_decoded {
                    return Err(DecodeError::TooLarge("decoded size"));
                }
                match std::str::from_utf8(run) {
                    Ok(s) => out.push_str(s),
                    Err(_) => out.push_str(&text_lossless(run)),
                }
            }
            match self.peek() {
                None => return Err(DecodeError::Truncated),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or(DecodeError::Truncated)?;
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\x08'),
                        b'f' => out.push('\x0c'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.b[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // A lone surrogate (Python allows it) cannot live in a Rust string.
                            out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or(DecodeError::Truncated)?;
        let s = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.err("bad \\u escape"));
        }
        self.pos += 4;
        u32::from_str_radix(s, 16).map_err(|_| self.err("bad \\u escape"))
    }
}

/// Adds a pair; a repeated key replaces the earlier value in place, as Python's dict does.
fn insert(
    pairs: &mut Vec<(String, Value)>,
    index: &mut Option<HashMap<String, usize>>,
    k: String,
    v: Value,
) {
    let found = match index {
        Some(ix) => ix.get(&k).copied(),
        None => pairs.iter().position(|(pk, _)| *pk == k),
    };
    if let Some(i) = found {
        pairs[i].1 = v;
        return;
    }
    if let Some(ix) = index {
        ix.insert(k.clone(), pairs.len());
    }
    pairs.push((k, v));
    if index.is_none() && pairs.len() >= DEDUP_INDEX_AT {
        *index = Some(
            pairs
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<Vec<Result<Record, DecodeError>>, DecodeError> {
        decode_json(
            body.as_bytes(),
            &DecodeLimits::default(),
            SourceKind::Http,
            "127.0.0.1:9",
        )
    }

    fn values(body: &str) -> Result<Value, DecodeError> {
        let limits = DecodeLimits::default();
        let mut r = Reader {
            b: body.as_bytes(),
            pos: 0,
            limits: &limits,
            items: 0,
            decoded: 0,
            keep_duplicates: false,
        };
        r.value()
    }

    #[test]
    fn reads_values_in_order_with_python_extensions() {
        let v = values(r#"{"b": [1, -2.5e3, true, null], "a": {"x": "Zo\u00eb \ud83d\ude00"}, "n": NaN, "i": -Infinity, "big": -123456789012345678901234567890}"#).unwrap();
        let Value::Map(pairs) = v else {
            panic!("not a map")
        };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "n", "i", "big"]);
        assert_eq!(
            pairs[0].1,
            Value::List(vec![
                Value::Int(1),
                Value::Float(-2500.0),
                Value::Bool(true),
                Value::Null
            ])
        );
        assert_eq!(
            pairs[1].1,
            Value::Map(vec![("x".into(), Value::Str("Zoë 😀".into()))])
        );
        assert!(matches!(pairs[2].1, Value::Float(f) if f.is_nan()));
        assert_eq!(pairs[3].1, Value::Float(f64::NEG_INFINITY));
        assert_eq!(
            pairs[4].1,
            Value::BigInt("-123456789012345678901234567890".into())
        );
    }

    #[test]
    fn strictness_where_it_matters() {
        for bad in [
            "01",
            "1.",
            ".5",
            "[1,]",
            "{\"a\" 1}",
            "\"a\nb\"",
            "\"\\x41\"",
            "tru",
            "[1 2]",
            "{1: 2}",
        ] {
            assert!(values(bad).is_err(), "{bad}");
        }
        assert_eq!(
            values("\"\\ud800x\"").unwrap(),
            Value::Str("\u{fffd}x".into())
        );
        assert_eq!(
            values("{\"a\": 1, \"a\": 2}").unwrap(),
            Value::Map(vec![("a".into(), Value::Int(2))])
        );
        assert_eq!(values("\"caf\u{e9}\"").unwrap(), Value::Str("café".into()));
        assert!(matches!(
            values(&"1".repeat(MAX_INT_DIGITS + 1)),
            Err(DecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn many_duplicate_keys_stay_linear() {
        let mut body = String::from("{");
        for i in 0..50_000 {
            body.push_str(&format!("\"k{}\": {i},", i % 100));
        }
        body.push_str("\"end\": 0}");
        let Value::Map(pairs) = values(&body).unwrap() else {
            panic!()
        };
        assert_eq!(pairs.len(), 101);
        assert_eq!(pairs[0], ("k0".into(), Value::Int(49_900)));
    }

    #[test]
    fn depth_is_checked_while_reading() {
        let limits = DecodeLimits::default();
        let deep = "[".repeat(1_000_000);
        assert_eq!(
            decode_json(deep.as_bytes(), &limits, SourceKind::Http, "o").unwrap_err(),
            DecodeError::TooDeep(limits.max_depth)
        );
        let ok = "[".repeat(limits.max_depth) + &"]".repeat(limits.max_depth);
        assert!(values(&ok).is_ok());
        let over = "[".repeat(limits.max_depth + 1) + &"]".repeat(limits.max_depth + 1);
        assert_eq!(
            values(&over).unwrap_err(),
            DecodeError::TooDeep(limits.max_depth)
        );
    }

    #[test]
    fn shapes_one_array_and_lines() {
        let one = decode(
            r#"{"message": "m", "level": "INFO", "timestamp": 1.5, "logger": "l", "pod": "p"}"#,
        )
        .unwrap();
        assert_eq!(one.len(), 1);
        let r = one[0].as_ref().unwrap();
        assert_eq!(
            (
                r.message.as_str(),
                r.logger.as_str(),
                r.created,
                r.host.as_deref()
            ),
            ("m", "l", 1.5, Some("p"))
        );
        let arr = decode(r#"[{"msg": "a"}, 5, {"msg": "b"}]"#).unwrap();
        assert_eq!(arr.len(), 3);
        assert!(matches!(arr[1], Err(DecodeError::NotARecord(_))));
        let lines =
            decode("{\"msg\": \"a\"}\n{\"msg\": \n{\"nope\": 1}\n{\"msg\": \"c\"}\n").unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].is_ok() && lines[1].is_err() && lines[2].is_err() && lines[3].is_ok());
        assert_eq!(lines[3].as_ref().unwrap().message, "c");
    }

    #[test]
    fn not_json_is_the_outer_error() {
        assert!(decode("").is_err());
        assert!(decode("   \n").is_err());
        assert!(decode("name=x&msg=y").is_err());
        assert!(decode("{\"msg\": \"unterminated").is_err());
        assert!(matches!(
            decode("\"just a string\"").unwrap()[0],
            Err(DecodeError::NotARecord(_))
        ));
    }

    #[test]
    fn stdlib_dicts_format_and_empty_args_do_not() {
        let v = decode(r#"{"name": "a", "msg": "%s=%d", "args": ["x", 3], "levelno": 40, "levelname": "ERROR"}"#).unwrap();
        let r = v[0].as_ref().unwrap();
        assert_eq!((r.message.as_str(), r.level), ("x=3", 40));
        let v = decode(r#"{"name": "a", "msg": "100%%", "args": []}"#).unwrap();
        assert_eq!(v[0].as_ref().unwrap().message, "100%%");
    }

    #[test]
    fn logbook_channel_applies_whatever_the_key_order() {
        let v = decode(r#"{"extra": {"req": 7}, "level": 12, "filename": "/a/b.py", "channel": "svc", "message": "m"}"#).unwrap();
        let r = v[0].as_ref().unwrap();
        assert_eq!(
            (r.logger.as_str(), r.level, r.levelname.as_str()),
            ("svc", 25, "NOTICE")
        );
        assert_eq!(
            (r.filename.as_deref(), r.pathname.as_deref()),
            (Some("b.py"), Some("/a/b.py"))
        );
        assert_eq!(r.extra, vec![("req".to_owned(), Value::Int(7))]);
    }
}
