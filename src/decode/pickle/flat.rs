//! The flat fast path: the one record shape nearly every sender writes, decoded in one streaming pass.
//! It steps aside (returns `None`) on anything else, and the general unpickler takes over from the start.

use std::borrow::Cow;

use crate::decode::logrecord::{Field, FieldValue, RecordBuilder};
use crate::limits::DecodeLimits;
use crate::value::Value;

use super::opcodes as op;
use super::opcodes::HIGHEST_PROTOCOL;
use super::parse::utf8_text;

/// Most values (top-level pairs plus the items of list and tuple values) the flat fast path
/// takes: CPython writes at most 1000 per SETITEMS, and a record with more goes through the
/// general path.
const FLAT_MAX_UNITS: usize = 1000;

/// The one shape nearly every record has on the wire, decoded in a single streaming pass:
/// `}` (memo) `(` then string keys with scalar, string, or flat list/tuple values (an extra
/// such as `tags=["db", "orders"]`), each optionally memoized, `u.`.
///
/// It feeds [`RecordBuilder`] straight from the payload, with no stack, memo, arena or second
/// pass, which roughly halves the decoder's share of the time per record. Anything else (a
/// nested container or object value, a memo GET, a non-string key, a big int, bad input of any
/// kind) returns `None`, and the caller runs the general unpickler from the start, which also
/// gives the precise error. The result is the same either way; a test checks that on every
/// fixture and on fuzzed frames. Values reach `builder` as they are read, so after `None` it
/// holds part of the record and must be dropped.
pub(super) fn flat_fields(
    payload: &[u8],
    limits: &DecodeLimits,
    builder: &mut RecordBuilder,
) -> Option<()> {
    // Only where the general path could not hit a limit on this shape, so both agree on errors.
    // Per value it grows by at most four (a key's memo slot, the value's node and memo slot, its
    // SETITEMS or APPENDS entry), plus two for the dict; its stack holds at most two per value.
    if payload.len() > limits.max_frame
        || u32::try_from(payload.len()).is_err()
        || limits.max_depth == 0
        || limits.max_items < 6 * FLAT_MAX_UNITS + 8
    {
        return None;
    }
    let mut r = FlatReader {
        data: payload,
        pos: 0,
        next_slot: None,
    };
    if r.peek()? == op::PROTO {
        r.pos += 1;
        if r.byte()? > HIGHEST_PROTOCOL {
            return None;
        }
    }
    if r.peek()? == op::FRAME {
        r.take(9)?;
    }
    if r.byte()? != op::EMPTY_DICT {
        return None;
    }
    r.skip_put()?;
    if r.byte()? != op::MARK {
        return None;
    }
    let mut bytes_left = limits.max_decoded;
    let mut units = 0usize;
    loop {
        let key = match r.byte()? {
            op::SETITEMS => break,
            op::BINUNICODE => {
                let n = r.u32le()? as usize;
                r.take(n)?
            }
            op::SHORT_BINUNICODE => {
                let n = usize::from(r.byte()?);
                r.take(n)?
            }
            _ => return None,
        };
        r.skip_put()?;
        // Charged before the value is read: the budget is a sum, so the order does not change
        // whether it runs out.
        bytes_left = bytes_left.checked_sub(key.len())?;
        let mut to = ToBuilder {
            builder: &mut *builder,
            field: Field::from_bytes(key),
            key,
        };
        match r.peek()? {
            op::EMPTY_LIST | op::MARK | op::EMPTY_TUPLE | op::EMPTY_DICT => {
                // The general path converts a container one level below the record, which
                // `max_depth` 1 refuses.
                if limits.max_depth < 2 {
                    return None;
                }
                to.take(r.container(&mut bytes_left, &mut units)?);
            }
            _ => r.scalar(&mut bytes_left, &mut to)?,
        }
        r.skip_put()?;
        units += 1;
        if units > FLAT_MAX_UNITS {
            return None;
        }
    }
    if r.byte()? != op::STOP {
        return None;
    }
    Some(())
}

/// Where [`FlatReader::scalar`] puts a value: called in the arm of the opcode that read it, with
/// text still borrowed from the payload, numbers plain, anything else a [`Value`]. Once inlined,
/// each arm calls the builder with its own kind of value; returning the value as an enum instead
/// cost a second jump on its kind, and that indirect jump mispredicted often enough to take
/// about 8% of [`decode_record`]'s time.
trait ScalarSink {
    fn take<V: FieldValue>(&mut self, value: V);
}

/// A record's value, for the attribute its key names.
struct ToBuilder<'b, 'k> {
    builder: &'b mut RecordBuilder,
    /// `Field::from_bytes(key)`.
    field: Option<Field>,
    key: &'k [u8],
}

impl ScalarSink for ToBuilder<'_, '_> {
    /// Hands one attribute to the builder: as its [`Field`] when the key names one, else as an
    /// extra under the key's text.
    #[inline(always)]
    fn take<V: FieldValue>(&mut self, value: V) {
        match self.field {
            Some(field) => self.builder.set_field(field, value),
            None => self
                .builder
                .set_extra(utf8_text(self.key).into_owned(), value.into_value()),
        }
    }
}

/// An item of a list or tuple.
impl ScalarSink for Option<Value> {
    #[inline(always)]
    fn take<V: FieldValue>(&mut self, value: V) {
        *self = Some(value.into_value());
    }
}

/// A decimal INT/LONG that fits i64, as the general path's `text_int` reads it; `None` otherwise.
fn small_text_int(line: &[u8]) -> Option<i64> {
    plain_digits(line).or_else(|| std::str::from_utf8(line).ok()?.trim().parse().ok())
}

/// Up to 18 ASCII digits (too few to overflow) and nothing else, read in one pass. Protocols 0-1
/// write every int past 32 bits as text (a thread id in each record), so this is the usual case.
#[inline]
fn plain_digits(line: &[u8]) -> Option<i64> {
    if !(1..=18).contains(&line.len()) {
        return None;
    }
    let mut n = 0i64;
    for &c in line {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + i64::from(d);
    }
    Some(n)
}

/// Hands one attribute to the builder: as its [`Field`] when the key names one (matched as
/// bytes, so known keys are never validated or copied), else as an extra under the key's text.
pub(super) fn set_by_key(builder: &mut RecordBuilder, key: &[u8], value: Value) {
    match Field::from_bytes(key) {
        Some(field) => builder.set_field(field, value),
        None => builder.set_extra(utf8_text(key).into_owned(), value),
    }
}

/// The cursor of [`flat_fields`]: every read is checked and gives `None` at the end. It is
/// `Copy` so a read-ahead can step back.
#[derive(Clone, Copy)]
struct FlatReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The memo slot the next PUT must use. Real picklers number slots consecutively (from 0, or
    /// from 1 in Python 2); accepting only that keeps the general path's memo growth at one slot
    /// per PUT, so both paths hit the same limits.
    next_slot: Option<usize>,
}

impl<'a> FlatReader<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let data: &'a [u8] = self.data;
        let b = data.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let data: &'a [u8] = self.data;
        let b = data.get(self.pos..)?.first_chunk::<N>()?;
        self.pos += N;
        Some(*b)
    }

    #[inline]
    fn u32le(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn line(&mut self) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let rest = data.get(self.pos..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        self.pos += n + 1;
        rest.get(..n)
    }

    /// Skips the memo store that may follow a value; the flat shape never reads the memo back.
    #[inline(always)]
    fn skip_put(&mut self) -> Option<()> {
        let slot = match self.peek() {
            Some(op::BINPUT) => {
                self.pos += 1;
                usize::from(self.byte()?)
            }
            Some(op::LONG_BINPUT) => {
                self.pos += 1;
                self.u32le()? as usize
            }
            Some(op::MEMOIZE) => {
                self.pos += 1;
                return Some(());
            }
            _ => return Some(()),
        };
        match self.next_slot {
            None if slot <= 1 => {}
            Some(next) if slot == next => {}
            _ => return None,
        }
        self.next_slot = Some(slot + 1);
        Some(())
    }

    /// One scalar value (text, a number, a bool or None), given to `out`; `None` for anything
    /// else.
    #[inline(always)]
    fn scalar(&mut self, bytes_left: &mut usize, out: &mut impl ScalarSink) -> Option<()> {
        match self.byte()? {
            op::BINUNICODE => {
                let n = self.u32le()? as usize;
                self.text(n, bytes_left, out)?;
            }
            op::SHORT_BINUNICODE => {
                let n = usize::from(self.byte()?);
                self.text(n, bytes_left, out)?;
            }
            op::NONE => out.take(Value::Null),
            op::BININT1 => out.take(i64::from(self.byte()?)),
            op::BININT2 => out.take(i64::from(u16::from_le_bytes(self.array()?))),
            op::BININT => out.take(i64::from(i32::from_le_bytes(self.array()?))),
            op::BINFLOAT => out.take(f64::from_be_bytes(self.array()?)),
            op::NEWTRUE => out.take(Value::Bool(true)),
            op::NEWFALSE => out.take(Value::Bool(false)),
            op::INT => match self.line()? {
                b"00" => out.take(Value::Bool(false)),
                b"01" => out.take(Value::Bool(true)),
                line => out.take(small_text_int(line)?),
            },
            op::LONG => {
                let line = self.line()?;
                out.take(small_text_int(line.strip_suffix(b"L").unwrap_or(line))?);
            }
            _ => return None,
        }
        Some(())
    }

    /// A list or tuple of scalars, or an empty dict, as protocol 1 writes them; `None` for
    /// anything else. Its items count towards `units`.
    fn container(&mut self, bytes_left: &mut usize, units: &mut usize) -> Option<Value> {
        let mut items = Vec::new();
        match self.byte()? {
            // A dict's items would follow as `(`…`u`, and no key starts with `(`: only an
            // empty one gets past the next key.
            op::EMPTY_DICT => return Some(Value::Map(Vec::new())),
            op::EMPTY_TUPLE => {}
            op::MARK => self.items_until(op::TUPLE, &mut items, bytes_left, units)?,
            op::EMPTY_LIST => {
                self.skip_put()?;
                if self.peek() == Some(op::MARK) {
                    self.pos += 1;
                    self.items_until(op::APPENDS, &mut items, bytes_left, units)?;
                } else {
                    // CPython writes a one-item batch as the item then APPEND. Anything else
                    // means the list is empty and the next key follows: read ahead, and step
                    // back when no APPEND comes. A second batch (over 1000 items) fails the
                    // next key read, as it should.
                    let (at, budget) = (*self, *bytes_left);
                    match self.item(bytes_left) {
                        Some(v) if self.peek() == Some(op::APPEND) => {
                            self.pos += 1;
                            *units += 1;
                            items.push(v);
                        }
                        _ => (*self, *bytes_left) = (at, budget),
                    }
                }
            }
            _ => return None,
        }
        Some(Value::List(items))
    }

    /// Items up to the opcode `end`, which is consumed.
    fn items_until(
        &mut self,
        end: u8,
        items: &mut Vec<Value>,
        bytes_left: &mut usize,
        units: &mut usize,
    ) -> Option<()> {
        while self.peek()? != end {
            *units += 1;
            if *units > FLAT_MAX_UNITS {
                return None;
            }
            items.push(self.item(bytes_left)?);
        }
        self.pos += 1;
        Some(())
    }

    /// One item of a list or tuple: a scalar and its memo store.
    fn item(&mut self, bytes_left: &mut usize) -> Option<Value> {
        let mut v = None;
        self.scalar(bytes_left, &mut v)?;
        self.skip_put()?;
        v
    }

    /// `n` bytes of text, charged to the decoded-bytes budget as the general path charges them.
    #[inline(always)]
    fn text(&mut self, n: usize, bytes_left: &mut usize, out: &mut impl ScalarSink) -> Option<()> {
        let s = utf8_text(self.take(n)?);
        *bytes_left = bytes_left.checked_sub(s.len())?;
        match s {
            Cow::Borrowed(s) => out.take(s),
            Cow::Owned(s) => out.take(Value::Str(s)),
        }
        Some(())
    }
}
