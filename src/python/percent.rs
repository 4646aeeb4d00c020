//! Python 3's `%` operator (`PyUnicode_Format`), rebuilt rule by rule for `msg % args`.
//! Refuses where Python raises; output bounded so a template cannot make us allocate gigabytes.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::value::Value;

use crate::limits::{MAX_FLOAT_PRECISION, MAX_FORMAT_WIDTH, MAX_FORMATTED, SMALL_MAP};

use super::MAX_INT_DIGITS;
use super::repr::{py_ascii, py_repr, py_str};
use super::{Refused, Work};

/// Formats `template % args` exactly as Python 3's `%` operator would, or `None` when Python would raise.
///
/// `args` is read as Python would see it: a `Value::List` is the tuple of
/// positional arguments, a `Value::Map` is the mapping for `%(name)s` (and, with
/// no `%(…)` in the template, a single argument that need not be used), and any
/// other value is one argument. `None` is also returned for the few results a
/// Rust `String` cannot hold (a lone surrogate from `%c`) and for output past
/// [`MAX_FORMATTED`]. The work is unbounded but for the output cap: strangers' input goes
/// through [`percent_format_within`].
pub fn percent_format(template: &str, args: &Value) -> Option<String> {
    percent_format_within(template, args, &mut Work::new(usize::MAX)).ok()
}

/// [`percent_format`], charging `work` for everything it scans and produces: the template,
/// each conversion's rendered text (before a precision cuts it), padding, digits and map lookups.
/// Widths and precisions past [`MAX_FORMAT_WIDTH`] and [`MAX_FLOAT_PRECISION`], and output past
/// [`MAX_FORMATTED`], are refused as [`Refused::Budget`] too: Python would format them, we will not.
pub fn percent_format_within(
    template: &str,
    args: &Value,
    work: &mut Work,
) -> Result<String, Refused> {
    let out = format_all(template, args, work);
    match out {
        Some(s) if !work.exhausted() => Ok(s),
        _ if work.exhausted() => Err(Refused::Budget),
        _ => Err(Refused::Python),
    }
}

fn format_all(template: &str, args: &Value, work: &mut Work) -> Option<String> {
    work.charge(template.len())?;
    let mut st = ArgState::new(args, work);
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
            return st.work.refuse();
        }
    }
    out.push_str(rest);
    // CPython: "not all arguments converted during string formatting", except for mappings.
    if st.dict.is_none() && st.argidx < st.arglen {
        return None;
    }
    if out.len() > MAX_FORMATTED {
        return st.work.refuse();
    }
    Some(out)
}

/// CPython's argument cursor (`arglen`/`argidx` in `PyUnicode_Format`), kept
/// literally because its quirks are observable: a non-tuple argument is consumed
/// once, and `%(key)` replaces the current argument with the looked-up value.
struct ArgState<'a, 'w> {
    tuple: &'a [Value],
    current: &'a Value,
    arglen: isize,
    argidx: isize,
    dict: Option<&'a [(String, Value)]>,
    /// `dict` indexed by key (the last duplicate's position), built on the first lookup
    /// in a map bigger than [`SMALL_MAP`], so repeated `%(key)s` never rescans a big dict.
    index: Option<HashMap<&'a str, usize, foldhash::fast::RandomState>>,
    work: &'w mut Work,
}

impl<'a, 'w> ArgState<'a, 'w> {
    fn new(args: &'a Value, work: &'w mut Work) -> ArgState<'a, 'w> {
        let (tuple, arglen, argidx, dict): (&[Value], isize, isize, _) = match args {
            Value::List(items) => (items, items.len() as isize, 0, None),
            Value::Map(pairs) => (&[], -1, -2, Some(pairs.as_slice())),
            _ => (&[], -1, -2, None),
        };
        ArgState {
            tuple,
            current: args,
            arglen,
            argidx,
            dict,
            index: None,
            work,
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
        self.work.charge(key.len() + 1)?;
        // The last duplicate wins, as when Python builds a dict.
        let v = if pairs.len() <= SMALL_MAP {
            &pairs.iter().rev().find(|(k, _)| k == key)?.1
        } else {
            if self.index.is_none() {
                self.work.charge(pairs.len())?;
                let mut index = HashMap::with_capacity_and_hasher(pairs.len(), Default::default());
                for (i, (k, _)) in pairs.iter().enumerate() {
                    index.insert(k.as_str(), i);
                }
                self.index = Some(index);
            }
            &pairs[*self.index.as_ref()?.get(key)?].1
        };
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

    /// A decimal count from the template, saturating: Python raises past `sys.maxsize`, and the
    /// caller refuses anything past [`MAX_FORMAT_WIDTH`] long before that.
    fn number(&mut self) -> usize {
        let mut n: usize = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(d as usize);
            self.pos += 1;
        }
        n
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
    st.work.charge(1)?;
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
        spec.width = cur.number();
    }
    if spec.width > MAX_FORMAT_WIDTH {
        return st.work.refuse();
    }
    if cur.peek() == Some('.') {
        cur.pos += 1;
        if cur.peek() == Some('*') {
            cur.pos += 1;
            let p = star_arg(st.next()?)?;
            spec.prec = Some(usize::try_from(p.max(0)).ok()?);
        } else {
            spec.prec = Some(cur.number());
        }
        if spec.prec.is_some_and(|p| p > MAX_FORMAT_WIDTH) {
            return st.work.refuse();
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
            // Charged in full: the text was rendered whole before the precision cut it.
            st.work.charge(text.len())?;
            if let Some(p) = spec.prec
                && let Some((cut, _)) = text.char_indices().nth(p)
            {
                text.truncate(cut);
            }
            pad(out, st.work, &spec, &text, false, false)
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let text = format_int(v, conv, spec.alt, spec.prec, st.work)?;
            let prefixed = spec.alt && conv != 'd' && conv != 'i' && conv != 'u';
            pad(out, st.work, &spec, &text, true, prefixed)
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let prec = spec.prec.unwrap_or(6);
            if prec > MAX_FLOAT_PRECISION {
                return st.work.refuse();
            }
            let text = format_float(as_float(v)?, conv, spec.alt, prec)?;
            st.work.charge(text.len())?;
            pad(out, st.work, &spec, &text, true, false)
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
            pad(
                out,
                st.work,
                &spec,
                c.encode_utf8(&mut [0; 4]),
                false,
                false,
            )
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
fn pad(
    out: &mut String,
    work: &mut Work,
    spec: &Spec,
    text: &str,
    numeric: bool,
    prefixed: bool,
) -> Option<()> {
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
        return work.refuse();
    }
    work.charge(fill)?;
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
fn format_int(
    v: &Value,
    conv: char,
    alt: bool,
    prec: Option<usize>,
    work: &mut Work,
) -> Option<String> {
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
    // Decimal digits are copied; hex and octal of a big int cost one pass over the limbs per
    // 9-digit chunk, so quadratic in the length.
    let cost = match conv {
        'x' | 'X' | 'o' if digits.len() > 38 => digits.len() * digits.len() / 64,
        _ => digits.len(),
    };
    work.charge(cost + prec.unwrap_or(0))?;
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
pub(super) fn fixed_layout(digits: &str, decpt: i64) -> String {
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
pub(super) fn push_exponent(s: &mut String, exp: i64, upper: bool) {
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(s, "{:02}", exp.unsigned_abs());
}
