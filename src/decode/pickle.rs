//! Decodes the pickles that `logging.handlers.SocketHandler`/`DatagramHandler` send (protocols 0–5) into [`Value`]s and [`Record`]s.
//! Safe by construction: nothing is imported or called, GLOBAL/REDUCE/BUILD only build inert placeholder text, and every bound comes from [`DecodeLimits`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::logrecord::{Field, FieldValue, RecordBuilder, Rendering};
use crate::decode::{DecodeError, pyrepr};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::value::Value;

type Result<T> = std::result::Result<T, DecodeError>;

/// The highest pickle protocol that exists (Python 3.8+ writes up to 5). A PROTO byte above it means
/// the payload is not a pickle we understand, as CPython's own Unpickler says.
const HIGHEST_PROTOCOL: u8 = 5;

/// Largest LONG1/LONG4 integer, in bytes (2048 bits, about 617 decimal digits). Turning binary into
/// decimal costs time quadratic in the length, so megabyte integers would let a sender burn CPU;
/// log extras never come close.
const MAX_LONG_BYTES: usize = 256;

/// How far past the end of the dense memo a PUT may land before the slot goes to the sparse map.
/// Real picklers number slots 0, 1, 2, … (Python 2's cPickle from 1), so only a hostile pickle leaves
/// a gap, and it must not make us allocate a Vec four billion entries long.
const MEMO_MAX_GAP: usize = 64;

/// Open MARKs allowed per level of [`DecodeLimits::max_depth`]. A real pickle opens at most two
/// marks per nesting level at once (a container's items, an object's argument tuple), so deeper
/// MARK nesting is refused as [`DecodeError::TooDeep`] while parsing, before anything is built.
const MARKS_PER_LEVEL: usize = 2;

/// Stack slots reserved up front: a protocol-1 record pushes its 20–35 keys and values before
/// its one SETITEMS, and 64 16-byte items stay within glibc's small-allocation caches.
const STACK_CAPACITY: usize = 64;

/// Memo slots reserved up front per payload byte: a real protocol-1 record memoizes every string,
/// about one slot per 16 bytes, so the memo rarely reallocates.
const MEMO_BYTES_PER_SLOT: usize = 16;

/// Pickle opcodes, named as in CPython's `Lib/pickle.py`.
mod op {
    pub const MARK: u8 = b'(';
    pub const STOP: u8 = b'.';
    pub const POP: u8 = b'0';
    pub const POP_MARK: u8 = b'1';
    pub const DUP: u8 = b'2';
    pub const FLOAT: u8 = b'F';
    pub const INT: u8 = b'I';
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const LONG: u8 = b'L';
    pub const BININT2: u8 = b'M';
    pub const NONE: u8 = b'N';
    pub const PERSID: u8 = b'P';
    pub const BINPERSID: u8 = b'Q';
    pub const REDUCE: u8 = b'R';
    pub const STRING: u8 = b'S';
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const UNICODE: u8 = b'V';
    pub const BINUNICODE: u8 = b'X';
    pub const APPEND: u8 = b'a';
    pub const BUILD: u8 = b'b';
    pub const GLOBAL: u8 = b'c';
    pub const DICT: u8 = b'd';
    pub const EMPTY_DICT: u8 = b'}';
    pub const APPENDS: u8 = b'e';
    pub const GET: u8 = b'g';
    pub const BINGET: u8 = b'h';
    pub const INST: u8 = b'i';
    pub const LONG_BINGET: u8 = b'j';
    pub const LIST: u8 = b'l';
    pub const EMPTY_LIST: u8 = b']';
    pub const OBJ: u8 = b'o';
    pub const PUT: u8 = b'p';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const SETITEM: u8 = b's';
    pub const TUPLE: u8 = b't';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const SETITEMS: u8 = b'u';
    pub const BINFLOAT: u8 = b'G';
    // Protocol 2.
    pub const PROTO: u8 = 0x80;
    pub const NEWOBJ: u8 = 0x81;
    pub const EXT1: u8 = 0x82;
    pub const EXT2: u8 = 0x83;
    pub const EXT4: u8 = 0x84;
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const LONG1: u8 = 0x8a;
    pub const LONG4: u8 = 0x8b;
    // Protocol 3.
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINBYTES: u8 = b'C';
    // Protocol 4.
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINUNICODE8: u8 = 0x8d;
    pub const BINBYTES8: u8 = 0x8e;
    pub const EMPTY_SET: u8 = 0x8f;
    pub const ADDITEMS: u8 = 0x90;
    pub const FROZENSET: u8 = 0x91;
    pub const NEWOBJ_EX: u8 = 0x92;
    pub const STACK_GLOBAL: u8 = 0x93;
    pub const MEMOIZE: u8 = 0x94;
    pub const FRAME: u8 = 0x95;
    // Protocol 5.
    pub const BYTEARRAY8: u8 = 0x96;
    pub const NEXT_BUFFER: u8 = 0x97;
    pub const READONLY_BUFFER: u8 = 0x98;
}

/// Decodes one pickle (the payload without its length prefix) into a [`Value`].
///
/// Tuples and sets become lists; objects become placeholder text such as `Decimal('1.10')`.
/// Invalid UTF-8 inside BINUNICODE (CPython writes lone surrogates that way) is decoded lossily
/// with U+FFFD rather than losing the whole record.
pub fn decode_value(payload: &[u8], limits: &DecodeLimits) -> Result<Value> {
    let parsed = parse(payload, limits)?;
    let mut conv = Converter::new(&parsed.arena, payload, limits);
    conv.convert(parsed.root, 0, None)
}

/// Decodes one SocketHandler/DatagramHandler pickle into a [`Record`].
///
/// The top level must be a dict (the pickled `record.__dict__`); each key/value goes to
/// [`RecordBuilder`]. Keys that name a LogRecord attribute are recognised as bytes and handed
/// over as a [`Field`]; other keys become extras under their text (rendered, if not strings).
pub fn decode_record(
    payload: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Result<Record> {
    let mut builder = RecordBuilder::new(source, origin, Rendering::Typed);
    match flat_fields(payload, limits, &mut builder) {
        // Finished straight into the result: a record is ~500 bytes, and passing it back
        // through an `Option` first cost a second copy.
        Some(()) => Ok(builder.finish(limits)),
        None => general_record(payload, limits, source, origin),
    }
}

/// [`decode_record`] by the general unpickler: any pickle, any shape.
fn general_record(
    payload: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Result<Record> {
    let parsed = parse(payload, limits)?;
    let arena = &parsed.arena;
    let (root, pairs) = match parsed.root {
        Item::Node(i) => match arena.get(i as usize) {
            Some(Node::Dict(pairs)) => (i, pairs),
            _ => return Err(not_a_record(arena, parsed.root)),
        },
        other => return Err(not_a_record(arena, other)),
    };
    let mut conv = Converter::new(arena, payload, limits);
    conv.budget.take_items(pairs.len())?;
    let mut builder = RecordBuilder::new(source, origin, Rendering::Typed);
    for &(k, v) in pairs {
        // Nearly every record value is a scalar: skip the container machinery for those.
        let value = match v {
            Item::None => Value::Null,
            Item::Int(i) => Value::Int(i),
            Item::Float(f) => Value::Float(f),
            Item::Bool(b) => Value::Bool(b),
            Item::Str(b) => Value::Str(conv.owned_text(utf8_text(b.of(payload)))?),
            // The record dict is depth 1, so its values start at depth 1 too.
            _ => conv.convert(v, 1, Some(root))?,
        };
        match k {
            Item::Str(span) => {
                let b = span.of(payload);
                conv.budget.take_bytes(b.len())?;
                set_by_key(&mut builder, b, value);
            }
            other => {
                let key = conv.key_text(other)?;
                builder.set(&key, value);
            }
        }
    }
    Ok(builder.finish(limits))
}

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
fn flat_fields(payload: &[u8], limits: &DecodeLimits, builder: &mut RecordBuilder) -> Option<()> {
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

/// [`decode_record`] by the flat path alone, `None` where it steps aside.
#[cfg(test)]
fn flat_record(
    payload: &[u8],
    limits: &DecodeLimits,
    source: SourceKind,
    origin: &str,
) -> Option<Record> {
    let mut builder = RecordBuilder::new(source, origin, Rendering::Typed);
    flat_fields(payload, limits, &mut builder)?;
    Some(builder.finish(limits))
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
fn set_by_key(builder: &mut RecordBuilder, key: &[u8], value: Value) {
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

fn not_a_record(arena: &[Node], root: Item) -> DecodeError {
    DecodeError::NotARecord(format!(
        "top level is {}, not a dict",
        type_name(arena, root)
    ))
}

/// A Python type name for error messages.
fn type_name(arena: &[Node], item: Item) -> &'static str {
    match item {
        Item::None => "None",
        Item::Bool(_) => "bool",
        Item::Int(_) => "int",
        Item::Float(_) => "float",
        Item::Str(_) => "str",
        Item::PyStr(_) => "str (Python 2)",
        Item::Bytes(_) => "bytes",
        Item::ByteArray(_) => "bytearray",
        Item::Node(i) => match arena.get(i as usize) {
            Some(Node::List(_, Seq::List)) => "list",
            Some(Node::List(_, Seq::Tuple)) => "tuple",
            Some(Node::List(_, Seq::Set)) => "set",
            Some(Node::List(_, Seq::FrozenSet)) => "frozenset",
            Some(Node::Dict(_)) => "dict",
            Some(Node::Str(_)) => "str",
            Some(Node::PyStr(_)) => "str (Python 2)",
            Some(Node::BigInt(_)) => "int",
            Some(Node::Global { .. }) => "global reference",
            Some(Node::Object(_)) => "object",
            Some(Node::Ext(_)) | Some(Node::PersId(_)) => "external reference",
            None => "nothing",
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Internal representation.
//
// The unpickler's stack and memo hold `Item`s: 16-byte `Copy` values that point at strings and
// bytes inside the payload rather than copying them. Anything mutable or shared (containers, objects) or owned (decoded
// escapes, big ints) lives in one flat arena and is referred to by index, so a memo GET is a copy of
// an index: the same container, filled later, is seen by every reference, exactly as Python's memo
// shares objects. Cycles are just indices pointing back, and the arena drops as a flat Vec, with no
// recursion whatever shape the sender built.
// ---------------------------------------------------------------------------------------------

/// Where some bytes sit in the payload. Offsets fit in u32 because the wire's length prefix is a
/// u32 (and [`parse`] refuses anything longer); two u32s keep [`Item`] at 16 bytes, so items move
/// in registers and a record's stack and dict stay under glibc's 1 KiB "large request" size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    off: u32,
    len: u32,
}

impl Span {
    /// The bytes this span covers. Spans are only made from ranges of the same payload, so the
    /// empty fallback is unreachable; it exists so no input can make this panic.
    #[inline]
    fn of(self, data: &[u8]) -> &[u8] {
        let start = self.off as usize;
        data.get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// One value on the unpickler's stack or in its memo.
#[derive(Clone, Copy, Debug)]
enum Item {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text borrowed from the payload: UTF-8 by the protocol, validated when it is read (once per
    /// use, not at parse time), so record keys that match a known name are never validated at all.
    /// Invalid sequences read as U+FFFD.
    Str(Span),
    /// A Python 2 `str`: raw bytes of unknown encoding (UTF-8 if valid, else Latin-1 when shown).
    PyStr(Span),
    /// A Python 3 `bytes`.
    Bytes(Span),
    /// A protocol-5 `bytearray`.
    ByteArray(Span),
    /// Index into the arena.
    Node(u32),
}

/// A memo entry: an [`Item`] as two plain words, or [`Packed::UNSET`].
///
/// Storing `Item` (or `Option<Item>`) directly made LLVM assemble each entry in a stack temporary
/// from byte- and u32-sized stores and copy it with one 16-byte load, which cannot be
/// store-forwarded: that stall was half of all parse time. Two u64s stay in registers and are
/// written with two plain stores; entries are unpacked only on GET, which is rare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed {
    tag: u64,
    bits: u64,
}

impl Packed {
    const UNSET: Packed = Packed { tag: 0, bits: 0 };

    #[inline(always)]
    fn pack(it: Item) -> Packed {
        let span = |s: Span| (u64::from(s.off) << 32) | u64::from(s.len);
        let (tag, bits) = match it {
            Item::None => (1, 0),
            Item::Bool(b) => (2, u64::from(b)),
            Item::Int(v) => (3, v as u64),
            Item::Float(f) => (4, f.to_bits()),
            Item::Str(s) => (5, span(s)),
            Item::PyStr(s) => (6, span(s)),
            Item::Bytes(s) => (7, span(s)),
            Item::ByteArray(s) => (8, span(s)),
            Item::Node(i) => (9, u64::from(i)),
        };
        Packed { tag, bits }
    }

    /// The item, or `None` for an empty slot.
    #[inline]
    fn unpack(self) -> Option<Item> {
        let span = Span {
            off: (self.bits >> 32) as u32,
            len: self.bits as u32,
        };
        Some(match self.tag {
            1 => Item::None,
            2 => Item::Bool(self.bits != 0),
            3 => Item::Int(self.bits as i64),
            4 => Item::Float(f64::from_bits(self.bits)),
            5 => Item::Str(span),
            6 => Item::PyStr(span),
            7 => Item::Bytes(span),
            8 => Item::ByteArray(span),
            9 => Item::Node(self.bits as u32),
            _ => return None,
        })
    }
}

/// Which Python sequence type a [`Node::List`] stands for. All become [`Value::List`]; the kind
/// matters for placeholder text and for which opcodes may extend it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seq {
    List,
    Tuple,
    Set,
    FrozenSet,
}

/// Arena entries: everything that is shared, mutable or owned.
#[derive(Debug)]
enum Node {
    List(Vec<Item>, Seq),
    /// Pairs in the order the sender wrote them (duplicate keys, which no real pickler writes, are kept).
    Dict(Vec<(Item, Item)>),
    /// Text that had to be decoded: escapes, or invalid UTF-8 replaced by U+FFFD.
    Str(String),
    /// A Python 2 `str` from the escaped STRING opcode, as raw bytes.
    PyStr(Vec<u8>),
    /// An integer outside i64, as decimal digits with an optional `-`.
    BigInt(String),
    /// A reference to `module.name`: never imported, only named.
    Global {
        module: Item,
        name: Item,
    },
    /// What REDUCE/NEWOBJ/INST/OBJ (+ BUILD, APPEND, SETITEM on it) would have built.
    Object(Box<Obj>),
    /// A copyreg extension code (EXT1/2/4).
    Ext(u32),
    /// A persistent id (PERSID/BINPERSID).
    PersId(Item),
}

/// An object that is described, never constructed: `call(*args, **kwargs)`, then `__setstate__(state)`,
/// then `append`/`__setitem__` for items pickled after it.
#[derive(Debug)]
struct Obj {
    call: Item,
    args: Item,
    kwargs: Option<Item>,
    state: Option<Item>,
    list_items: Vec<Item>,
    dict_items: Vec<(Item, Item)>,
}

impl Obj {
    fn new(call: Item, args: Item, kwargs: Option<Item>) -> Box<Obj> {
        Box::new(Obj {
            call,
            args,
            kwargs,
            state: None,
            list_items: Vec::new(),
            dict_items: Vec::new(),
        })
    }
}

struct Parsed {
    arena: Vec<Node>,
    root: Item,
}

// ---------------------------------------------------------------------------------------------
// Parsing: one pass over the opcodes, no recursion, every allocation bounded by the payload length.
// ---------------------------------------------------------------------------------------------

fn parse(data: &[u8], limits: &DecodeLimits) -> Result<Parsed> {
    // The wire prefix is a u32, so no frame is longer; spans rely on it.
    if data.len() > limits.max_frame || u32::try_from(data.len()).is_err() {
        return Err(DecodeError::FrameTooLarge {
            len: data.len() as u64,
            max: limits.max_frame,
        });
    }
    let mut p = Parser {
        data,
        pos: 0,
        stack: Vec::with_capacity(STACK_CAPACITY),
        marks: Vec::with_capacity(8),
        memo: Vec::with_capacity(data.len() / MEMO_BYTES_PER_SLOT + 4),
        sparse: BTreeMap::new(),
        memo_len: 0,
        arena: Vec::with_capacity(4),
        grown: 0,
        max_items: limits.max_items,
        max_marks: limits.max_depth.saturating_mul(MARKS_PER_LEVEL),
        max_depth: limits.max_depth,
    };
    let root = p.run()?;
    Ok(Parsed {
        arena: p.arena,
        root,
    })
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    /// Stack heights at each open MARK. Items below the innermost mark are out of reach, as with
    /// CPython's metastack.
    marks: Vec<usize>,
    /// Dense memo, indexed by slot.
    memo: Vec<Packed>,
    /// Slots far beyond the dense memo (only hostile pickles have them).
    sparse: BTreeMap<usize, Item>,
    /// Occupied slots, which is what MEMOIZE numbers from (`len(self.memo)` in CPython).
    memo_len: usize,
    arena: Vec<Node>,
    /// Arena nodes, memo slots (gaps included) and container elements made so far. Every opcode
    /// is at least one byte but may allocate 16–56, so without this a 16 MiB frame of `]` or
    /// MEMOIZE would cost the best part of a gigabyte; it is held to `max_items`, as is the stack.
    grown: usize,
    max_items: usize,
    max_marks: usize,
    max_depth: usize,
}

fn malformed(what: &'static str, detail: &str) -> DecodeError {
    DecodeError::malformed(what, detail)
}

impl<'a> Parser<'a> {
    fn run(&mut self) -> Result<Item> {
        loop {
            // Each opcode pushes at most one item, so checking here bounds the stack.
            if self.stack.len() >= self.max_items {
                return Err(DecodeError::TooLarge("max_items"));
            }
            let at = self.pos;
            let &code = self.data.get(at).ok_or(DecodeError::Truncated)?;
            self.pos = at + 1;
            match code {
                // The opcodes of every real protocol-1 record come first.
                op::BINUNICODE => {
                    let n = self.u32le()? as usize;
                    let b = self.take(n)?;
                    self.push_put_with(|| Item::Str(b))?;
                }
                op::BINPUT => {
                    let slot = usize::from(self.byte()?);
                    self.memo_put(slot)?;
                }
                op::NONE => self.stack.push(Item::None),
                op::BININT1 => {
                    let v = self.byte()?;
                    self.stack.push(Item::Int(i64::from(v)));
                }
                op::BININT2 => {
                    let b = self.array::<2>()?;
                    self.stack.push(Item::Int(i64::from(u16::from_le_bytes(b))));
                }
                op::BININT => {
                    let b = self.array::<4>()?;
                    self.stack.push(Item::Int(i64::from(i32::from_le_bytes(b))));
                }
                op::BINFLOAT => {
                    let b = self.array::<8>()?;
                    self.stack.push(Item::Float(f64::from_be_bytes(b)));
                }
                op::LONG => {
                    let line = self.line()?;
                    let line = self.bytes(line);
                    // Python 2 and protocol 0/1 write `L123L\n`.
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let it = self.text_int(digits)?;
                    self.push_put(it)?;
                }
                op::INT => {
                    let line = self.line()?;
                    let line = self.bytes(line);
                    let it = match line {
                        b"00" => Item::Bool(false),
                        b"01" => Item::Bool(true),
                        _ => self.text_int(line)?,
                    };
                    self.push_put(it)?;
                }
                op::MARK => {
                    if self.marks.len() >= self.max_marks {
                        return Err(DecodeError::TooDeep(self.max_depth));
                    }
                    self.marks.push(self.stack.len());
                }
                op::SETITEMS => {
                    let k = self.pop_mark()?;
                    if !(self.stack.len() - k).is_multiple_of(2) {
                        return Err(malformed("pickle", "SETITEMS with an odd number of items"));
                    }
                    let target = self.target(k)?;
                    let n = (self.stack.len() - k) / 2;
                    self.grow(n)?;
                    let pairs = Self::dict_items_of(&mut self.arena, target, "SETITEMS")?;
                    pairs.reserve(n);
                    // A plain loop: collecting through `Option<(Item, Item)>` built each pair in a
                    // stack temporary and stalled on its reload.
                    for pair in self.stack.get(k..).unwrap_or_default().chunks_exact(2) {
                        if let [key, v] = pair {
                            pairs.push((*key, *v));
                        }
                    }
                    self.stack.truncate(k);
                }
                op::SETITEM => {
                    self.grow(1)?;
                    let v = self.pop()?;
                    let key = self.pop()?;
                    let target = self.top()?;
                    Self::dict_items_of(&mut self.arena, target, "SETITEM")?.push((key, v));
                }
                op::EMPTY_DICT => {
                    let it = self.node(Node::Dict(Vec::new()))?;
                    self.push_put(it)?;
                }
                op::EMPTY_LIST => {
                    let it = self.node(Node::List(Vec::new(), Seq::List))?;
                    self.push_put(it)?;
                }
                op::EMPTY_TUPLE => {
                    let it = self.node(Node::List(Vec::new(), Seq::Tuple))?;
                    self.push_put(it)?;
                }
                op::EMPTY_SET => {
                    let it = self.node(Node::List(Vec::new(), Seq::Set))?;
                    self.push_put(it)?;
                }
                op::APPEND => {
                    self.grow(1)?;
                    let v = self.pop()?;
                    let target = self.top()?;
                    Self::list_items_of(&mut self.arena, target, "APPEND", Seq::List)?.push(v);
                }
                op::APPENDS | op::ADDITEMS => {
                    let k = self.pop_mark()?;
                    let target = self.target(k)?;
                    let (what, seq) = if code == op::APPENDS {
                        ("APPENDS", Seq::List)
                    } else {
                        ("ADDITEMS", Seq::Set)
                    };
                    let n = self.stack.len() - k;
                    self.grow(n)?;
                    let items = Self::list_items_of(&mut self.arena, target, what, seq)?;
                    items.reserve(n);
                    items.extend(self.stack.drain(k..));
                }
                op::LIST | op::TUPLE | op::FROZENSET | op::DICT => {
                    let k = self.pop_mark()?;
                    self.grow(self.stack.len() - k)?;
                    let items = self.stack.split_off(k);
                    let node = match code {
                        op::LIST => Node::List(items, Seq::List),
                        op::TUPLE => Node::List(items, Seq::Tuple),
                        op::FROZENSET => Node::List(items, Seq::FrozenSet),
                        _ => {
                            if !items.len().is_multiple_of(2) {
                                return Err(malformed(
                                    "pickle",
                                    "DICT with an odd number of items",
                                ));
                            }
                            let mut pairs = Vec::with_capacity(items.len() / 2);
                            let mut it = items.into_iter();
                            while let (Some(key), Some(v)) = (it.next(), it.next()) {
                                pairs.push((key, v));
                            }
                            Node::Dict(pairs)
                        }
                    };
                    let it = self.node(node)?;
                    self.push_put(it)?;
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(code - op::TUPLE1 + 1);
                    self.grow(n)?;
                    if self.stack.len() < self.base() + n {
                        return Err(malformed("pickle", "stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let it = self.node(Node::List(items, Seq::Tuple))?;
                    self.push_put(it)?;
                }
                op::BINGET => {
                    let slot = usize::from(self.byte()?);
                    self.memo_get(slot)?;
                }
                op::LONG_BINGET => {
                    let slot = self.u32le()? as usize;
                    self.memo_get(slot)?;
                }
                op::GET => {
                    let slot = self.line_usize()?;
                    self.memo_get(slot)?;
                }
                op::LONG_BINPUT => {
                    let slot = self.u32le()? as usize;
                    self.memo_put(slot)?;
                }
                op::PUT => {
                    let slot = self.line_usize()?;
                    self.memo_put(slot)?;
                }
                op::MEMOIZE => self.memo_put(self.memo_len)?,
                op::STOP => return self.pop(),
                op::NEWTRUE => self.stack.push(Item::Bool(true)),
                op::NEWFALSE => self.stack.push(Item::Bool(false)),
                op::PROTO => {
                    let v = self.byte()?;
                    if v > HIGHEST_PROTOCOL {
                        return Err(malformed("pickle", &format!("unsupported protocol {v}")));
                    }
                }
                op::FRAME => {
                    // Framing is a hint for buffered readers; the payload is already whole.
                    self.array::<8>()?;
                }
                op::FLOAT => {
                    let line = self.line()?;
                    let line = self.bytes(line);
                    let f = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| malformed("pickle", "FLOAT is not a number"))?;
                    self.stack.push(Item::Float(f));
                }
                op::LONG1 => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    let it = self.binary_int(self.bytes(b))?;
                    self.push_put(it)?;
                }
                op::LONG4 => {
                    let n = self.i32le_len()?;
                    if n > MAX_LONG_BYTES {
                        return Err(DecodeError::TooLarge("integer size"));
                    }
                    let b = self.take(n)?;
                    let it = self.binary_int(self.bytes(b))?;
                    self.push_put(it)?;
                }
                op::SHORT_BINUNICODE => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    self.push_put_with(|| Item::Str(b))?;
                }
                op::BINUNICODE8 => {
                    let n = self.u64_len()?;
                    let b = self.take(n)?;
                    self.push_put_with(|| Item::Str(b))?;
                }
                op::UNICODE => {
                    let line = self.line()?;
                    let it = match raw_unicode_escape(self.bytes(line)) {
                        Cow::Borrowed(_) => Item::Str(line),
                        Cow::Owned(s) => self.node(Node::Str(s))?,
                    };
                    self.push_put(it)?;
                }
                op::SHORT_BINSTRING => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    self.stack.push(Item::PyStr(b));
                }
                op::BINSTRING => {
                    let n = self.i32le_len()?;
                    let b = self.take(n)?;
                    self.stack.push(Item::PyStr(b));
                }
                op::STRING => {
                    let line = self.line()?;
                    let inner = match self.bytes(line) {
                        [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
                        _ => return Err(malformed("pickle", "STRING argument is not quoted")),
                    };
                    let it = match escape_decode(inner)? {
                        Cow::Borrowed(_) => Item::PyStr(Span {
                            off: line.off + 1,
                            len: line.len - 2,
                        }),
                        Cow::Owned(v) => self.node(Node::PyStr(v))?,
                    };
                    self.push_put(it)?;
                }
                op::SHORT_BINBYTES => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    self.stack.push(Item::Bytes(b));
                }
                op::BINBYTES => {
                    let n = self.u32le()? as usize;
                    let b = self.take(n)?;
                    self.stack.push(Item::Bytes(b));
                }
                op::BINBYTES8 => {
                    let n = self.u64_len()?;
                    let b = self.take(n)?;
                    self.stack.push(Item::Bytes(b));
                }
                op::BYTEARRAY8 => {
                    let n = self.u64_len()?;
                    let b = self.take(n)?;
                    self.stack.push(Item::ByteArray(b));
                }
                op::NEXT_BUFFER => {
                    return Err(malformed("pickle", "out-of-band buffers are not supported"));
                }
                op::READONLY_BUFFER => {
                    self.top()?;
                }
                op::POP => {
                    if self.stack.len() > self.base() {
                        self.stack.pop();
                    } else {
                        // CPython: POP on an empty stack discards the innermost mark.
                        self.pop_mark()?;
                    }
                }
                op::POP_MARK => {
                    let k = self.pop_mark()?;
                    self.stack.truncate(k);
                }
                op::DUP => {
                    let it = self.top()?;
                    self.push_put(it)?;
                }
                op::GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let it = self.node(Node::Global {
                        module: Item::Str(module),
                        name: Item::Str(name),
                    })?;
                    self.push_put(it)?;
                }
                op::STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    if !self.is_text(module) || !self.is_text(name) {
                        return Err(malformed("pickle", "STACK_GLOBAL needs two strings"));
                    }
                    let it = self.node(Node::Global { module, name })?;
                    self.push_put(it)?;
                }
                op::REDUCE => {
                    let args = self.pop()?;
                    let call = self.pop()?;
                    let it = self.node(Node::Object(Obj::new(call, args, None)))?;
                    self.push_put(it)?;
                }
                op::NEWOBJ => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let it = self.node(Node::Object(Obj::new(cls, args, None)))?;
                    self.push_put(it)?;
                }
                op::NEWOBJ_EX => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let it = self.node(Node::Object(Obj::new(cls, args, Some(kwargs))))?;
                    self.push_put(it)?;
                }
                op::INST => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let k = self.pop_mark()?;
                    self.grow(self.stack.len() - k)?;
                    let args = self.stack.split_off(k);
                    let cls = self.node(Node::Global {
                        module: Item::Str(module),
                        name: Item::Str(name),
                    })?;
                    let args = self.node(Node::List(args, Seq::Tuple))?;
                    let it = self.node(Node::Object(Obj::new(cls, args, None)))?;
                    self.push_put(it)?;
                }
                op::OBJ => {
                    let k = self.pop_mark()?;
                    self.grow(self.stack.len() - k)?;
                    let mut args = self.stack.split_off(k);
                    if args.is_empty() {
                        return Err(malformed("pickle", "OBJ without a class"));
                    }
                    let cls = args.remove(0);
                    let args = self.node(Node::List(args, Seq::Tuple))?;
                    let it = self.node(Node::Object(Obj::new(cls, args, None)))?;
                    self.push_put(it)?;
                }
                op::BUILD => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    match target {
                        Item::Node(i) => match self.arena.get_mut(i as usize) {
                            Some(Node::Object(obj)) => obj.state = Some(state),
                            _ => {
                                return Err(malformed(
                                    "pickle",
                                    "BUILD on something that is not an object",
                                ));
                            }
                        },
                        _ => {
                            return Err(malformed(
                                "pickle",
                                "BUILD on something that is not an object",
                            ));
                        }
                    }
                }
                op::EXT1 | op::EXT2 | op::EXT4 => {
                    let code_no = match code {
                        op::EXT1 => u32::from(self.byte()?),
                        op::EXT2 => u32::from(u16::from_le_bytes(self.array::<2>()?)),
                        _ => u32::from_le_bytes(self.array::<4>()?),
                    };
                    let it = self.node(Node::Ext(code_no))?;
                    self.push_put(it)?;
                }
                op::PERSID => {
                    let id = self.line()?;
                    let it = self.node(Node::PersId(Item::Str(id)))?;
                    self.push_put(it)?;
                }
                op::BINPERSID => {
                    let id = self.pop()?;
                    let it = self.node(Node::PersId(id))?;
                    self.push_put(it)?;
                }
                _ => return Err(DecodeError::BadOpcode { op: code, pos: at }),
            }
        }
    }

    // --- reading -------------------------------------------------------------------------

    /// The next `n` bytes, as a span. [`parse`] caps the payload at u32::MAX bytes, so positions
    /// inside it fit the span's u32s.
    #[inline]
    fn take(&mut self, n: usize) -> Result<Span> {
        let start = self.pos;
        let end = start.checked_add(n).ok_or(DecodeError::Truncated)?;
        if end > self.data.len() {
            return Err(DecodeError::Truncated);
        }
        self.pos = end;
        Ok(Span {
            off: start as u32,
            len: n as u32,
        })
    }

    /// The bytes of a span of this payload.
    #[inline]
    fn bytes(&self, s: Span) -> &'a [u8] {
        let data: &'a [u8] = self.data;
        s.of(data)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
            .ok_or(DecodeError::Truncated)?;
        self.pos += N;
        Ok(*b)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8> {
        let &b = self.data.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn u32le(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array::<4>()?))
    }

    /// A signed 32-bit length (BINSTRING, LONG4); negative is malformed.
    fn i32le_len(&mut self) -> Result<usize> {
        let n = i32::from_le_bytes(self.array::<4>()?);
        usize::try_from(n).map_err(|_| malformed("pickle", "negative length"))
    }

    /// A 64-bit length; one that cannot fit in memory certainly runs past the payload's end.
    fn u64_len(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.array::<8>()?);
        usize::try_from(n).map_err(|_| DecodeError::Truncated)
    }

    /// The bytes up to the next `\n`, which is consumed.
    fn line(&mut self) -> Result<Span> {
        let rest = self.data.get(self.pos..).ok_or(DecodeError::Truncated)?;
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(DecodeError::Truncated)?;
        let span = self.take(n)?;
        self.pos += 1;
        Ok(span)
    }

    fn line_usize(&mut self) -> Result<usize> {
        let line = self.line()?;
        let line = self.bytes(line);
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .ok_or_else(|| malformed("pickle", "memo index is not a number"))
    }

    /// A decimal integer from INT or LONG: i64 when it fits, else its digits.
    fn text_int(&mut self, line: &[u8]) -> Result<Item> {
        let s = std::str::from_utf8(line)
            .map_err(|_| malformed("pickle", "integer is not ASCII"))?
            .trim();
        if let Ok(v) = s.parse::<i64>() {
            return Ok(Item::Int(v));
        }
        let (neg, digits) = match s.as_bytes() {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            rest => (false, rest),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(malformed("pickle", "integer is not decimal"));
        }
        // CPython's own limit (pyrepr's): a real sender cannot `repr()` a longer int, which is
        // how protocols 0-1 write them. Leading zeros count, as they do for `int()`.
        if digits.len() > pyrepr::MAX_INT_DIGITS {
            return Err(DecodeError::TooLarge("integer size"));
        }
        // Leading zeros cannot make an i64 overflow, so this is a true big int.
        let first = digits
            .iter()
            .position(|&d| d != b'0')
            .unwrap_or(digits.len());
        let mut out = String::with_capacity(digits.len() - first + 1);
        if neg {
            out.push('-');
        }
        out.extend(digits[first..].iter().map(|&d| char::from(d)));
        self.node(Node::BigInt(out))
    }

    /// LONG1/LONG4: little-endian two's complement.
    fn binary_int(&mut self, b: &[u8]) -> Result<Item> {
        match twos_complement_le(b) {
            Ok(v) => Ok(Item::Int(v)),
            Err(digits) => self.node(Node::BigInt(digits)),
        }
    }

    // --- stack -------------------------------------------------------------------------

    #[inline]
    fn node(&mut self, n: Node) -> Result<Item> {
        self.grow(1)?;
        let i = u32::try_from(self.arena.len()).map_err(|_| DecodeError::TooLarge("max_items"))?;
        self.arena.push(n);
        Ok(Item::Node(i))
    }

    /// Charges `n` to the parse-time growth budget (see [`Parser::grown`]).
    #[inline]
    fn grow(&mut self, n: usize) -> Result<()> {
        self.grown = self.grown.saturating_add(n);
        if self.grown > self.max_items {
            return Err(DecodeError::TooLarge("max_items"));
        }
        Ok(())
    }

    /// Lowest stack position reachable: the innermost open mark.
    #[inline]
    fn base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline]
    fn pop(&mut self) -> Result<Item> {
        if self.stack.len() <= self.base() {
            return Err(malformed("pickle", "stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| malformed("pickle", "stack underflow"))
    }

    #[inline]
    fn top(&self) -> Result<Item> {
        if self.stack.len() <= self.base() {
            return Err(malformed("pickle", "stack underflow"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| malformed("pickle", "stack underflow"))
    }

    /// Closes the innermost mark; the items above it are `stack[k..]`.
    fn pop_mark(&mut self) -> Result<usize> {
        let k = self
            .marks
            .pop()
            .ok_or_else(|| malformed("pickle", "no MARK to close"))?;
        // Marks are pushed at the stack height and everything pops above them, so k <= len.
        if k > self.stack.len() {
            return Err(malformed("pickle", "stack underflow"));
        }
        Ok(k)
    }

    /// The object that APPENDS/SETITEMS/ADDITEMS extend: the item just below the closed mark.
    fn target(&self, k: usize) -> Result<Item> {
        if k == 0 || k - 1 < self.base() {
            return Err(malformed("pickle", "stack underflow"));
        }
        self.stack
            .get(k - 1)
            .copied()
            .ok_or_else(|| malformed("pickle", "stack underflow"))
    }

    fn list_items_of<'n>(
        arena: &'n mut [Node],
        target: Item,
        what: &'static str,
        seq: Seq,
    ) -> Result<&'n mut Vec<Item>> {
        if let Item::Node(i) = target {
            match arena.get_mut(i as usize) {
                Some(Node::List(items, s)) if *s == seq => return Ok(items),
                Some(Node::Object(obj)) if seq == Seq::List => return Ok(&mut obj.list_items),
                _ => {}
            }
        }
        Err(DecodeError::malformed(
            "pickle",
            format!(
                "{what} on something that is not a {}",
                if seq == Seq::List { "list" } else { "set" }
            ),
        ))
    }

    fn dict_items_of<'n>(
        arena: &'n mut [Node],
        target: Item,
        what: &'static str,
    ) -> Result<&'n mut Vec<(Item, Item)>> {
        if let Item::Node(i) = target {
            match arena.get_mut(i as usize) {
                Some(Node::Dict(pairs)) => return Ok(pairs),
                Some(Node::Object(obj)) => return Ok(&mut obj.dict_items),
                _ => {}
            }
        }
        Err(DecodeError::malformed(
            "pickle",
            format!("{what} on something that is not a dict"),
        ))
    }

    fn is_text(&self, it: Item) -> bool {
        match it {
            Item::Str(_) | Item::PyStr(_) => true,
            Item::Node(i) => matches!(
                self.arena.get(i as usize),
                Some(Node::Str(_) | Node::PyStr(_))
            ),
            _ => false,
        }
    }

    // --- memo ----------------------------------------------------------------------------

    #[inline]
    fn memo_put(&mut self, slot: usize) -> Result<()> {
        let it = self.top()?;
        self.memo_store(slot, it)
    }

    /// Pushes `it` and, when the next opcode is BINPUT (protocol 1 memoizes every string and
    /// container that way), stores it in the memo straight away. Reading back the item just
    /// pushed would stall on store forwarding, which showed up as the decoder's hottest spot.
    #[inline]
    fn push_put(&mut self, it: Item) -> Result<()> {
        self.push_put_with(|| it)
    }

    /// [`push_put`](Self::push_put) that builds the item where it is stored, for the hottest
    /// opcodes: an item copied through a temporary is written as a tag byte plus words and read
    /// back as one 16-byte load, which cannot be store-forwarded.
    #[inline(always)]
    fn push_put_with(&mut self, make: impl Fn() -> Item) -> Result<()> {
        self.stack.push(make());
        if let Some(&[op::BINPUT, slot]) =
            self.data.get(self.pos..).and_then(|r| r.first_chunk::<2>())
        {
            self.pos += 2;
            return self.memo_store(usize::from(slot), make());
        }
        Ok(())
    }

    #[inline(always)]
    fn memo_store(&mut self, slot: usize, it: Item) -> Result<()> {
        // Real picklers number slots 0, 1, 2, …: the next slot is almost always the end.
        if slot == self.memo.len() && self.sparse.is_empty() {
            self.grow(1)?;
            self.memo.push(Packed::pack(it));
            self.memo_len += 1;
            return Ok(());
        }
        self.memo_put_slow(slot, it)
    }

    #[cold]
    #[inline(never)]
    fn memo_put_slow(&mut self, slot: usize, it: Item) -> Result<()> {
        if let Some(cell) = self.memo.get_mut(slot) {
            if *cell == Packed::UNSET && !self.sparse.contains_key(&slot) {
                self.memo_len += 1;
            }
            *cell = Packed::pack(it);
        } else if slot <= self.memo.len() + MEMO_MAX_GAP {
            // The gap's empty slots cost memory too.
            self.grow(slot + 1 - self.memo.len())?;
            // Slots moved to the sparse map earlier come back into the dense range here.
            if self.sparse.remove(&slot).is_none() {
                self.memo_len += 1;
            }
            self.memo.resize(slot, Packed::UNSET);
            self.memo.push(Packed::pack(it));
        } else {
            self.grow(1)?;
            if self.sparse.insert(slot, it).is_none() {
                self.memo_len += 1;
            }
        }
        Ok(())
    }

    #[inline]
    fn memo_get(&mut self, slot: usize) -> Result<()> {
        let it = match self.memo.get(slot).and_then(|p| p.unpack()) {
            Some(it) => it,
            None => *self.sparse.get(&slot).ok_or_else(|| {
                DecodeError::malformed("pickle", format!("memo slot {slot} is empty"))
            })?,
        };
        self.stack.push(it);
        Ok(())
    }
}

/// Little-endian two's complement to i64, or to decimal digits when it does not fit.
fn twos_complement_le(b: &[u8]) -> std::result::Result<i64, String> {
    let Some(&last) = b.last() else {
        return Ok(0);
    };
    let neg = last & 0x80 != 0;
    if b.len() <= 8 {
        let mut buf = if neg { [0xff; 8] } else { [0; 8] };
        buf[..b.len()].copy_from_slice(b);
        return Ok(i64::from_le_bytes(buf));
    }
    // Magnitude in base-2^32 limbs, least significant first.
    let mut limbs: Vec<u32> = b
        .chunks(4)
        .map(|c| {
            let mut w = if neg { [0xff; 4] } else { [0; 4] };
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    if neg {
        // Negate: invert and add one.
        let mut carry = 1u64;
        for l in &mut limbs {
            let v = u64::from(!*l) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mag: u128 = match limbs.len() {
        0 => 0,
        1..=4 => limbs
            .iter()
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | u128::from(l)),
        _ => u128::MAX,
    };
    if neg && mag <= 1u128 << 63 {
        return Ok((mag as i128).wrapping_neg() as i64);
    }
    if !neg && mag <= i64::MAX as u128 {
        return Ok(mag as i64);
    }
    // Repeated division by 10^9 gives the decimal digits nine at a time, least significant first.
    let mut chunks = Vec::with_capacity(limbs.len() * 32 / 29 + 1);
    while !limbs.is_empty() {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut out = String::with_capacity(chunks.len() * 9 + 1);
    if neg {
        out.push('-');
    }
    let mut it = chunks.iter().rev();
    if let Some(first) = it.next() {
        let _ = write!(out, "{first}");
    }
    for c in it {
        let _ = write!(out, "{c:09}");
    }
    Err(out)
}

/// Decodes Python's `raw-unicode-escape` (the UNICODE opcode): bytes are Latin-1 except
/// `\uXXXX`/`\UXXXXXXXX` after an odd run of backslashes.
fn raw_unicode_escape(line: &[u8]) -> Cow<'_, str> {
    if line.is_ascii() && !line.contains(&b'\\') {
        // ASCII is valid UTF-8 and means the same in Latin-1.
        if let Ok(s) = std::str::from_utf8(line) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut pending_high: Option<u32> = None;
    while let Some(&b) = line.get(i) {
        if b == b'\\' {
            let run = line[i..].iter().take_while(|&&c| c == b'\\').count();
            let after = line.get(i + run).copied();
            let width = match after {
                Some(b'u') => 4,
                Some(b'U') => 8,
                _ => 0,
            };
            let hex = line.get(i + run + 1..i + run + 1 + width);
            let code = hex
                .filter(|_| width > 0 && run % 2 == 1)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok());
            if let Some(code) = code {
                flush_high(&mut out, &mut pending_high);
                out.extend(std::iter::repeat_n('\\', run - 1));
                push_code_point(&mut out, &mut pending_high, code);
                i += run + 1 + width;
            } else {
                flush_high(&mut out, &mut pending_high);
                out.extend(std::iter::repeat_n('\\', run));
                i += run;
            }
        } else {
            flush_high(&mut out, &mut pending_high);
            out.push(char::from(b));
            i += 1;
        }
    }
    flush_high(&mut out, &mut pending_high);
    Cow::Owned(out)
}

/// Pushes a code point, joining UTF-16 surrogate pairs (narrow Python 2 builds wrote those) and
/// replacing lone surrogates, which Rust strings cannot hold.
fn push_code_point(out: &mut String, pending_high: &mut Option<u32>, code: u32) {
    match code {
        0xd800..=0xdbff => {
            flush_high(out, pending_high);
            *pending_high = Some(code);
        }
        0xdc00..=0xdfff => match pending_high.take() {
            Some(high) => {
                let c = 0x10000 + ((high - 0xd800) << 10) + (code - 0xdc00);
                out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            None => out.push(char::REPLACEMENT_CHARACTER),
        },
        _ => {
            flush_high(out, pending_high);
            out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
    }
}

fn flush_high(out: &mut String, pending_high: &mut Option<u32>) {
    if pending_high.take().is_some() {
        out.push(char::REPLACEMENT_CHARACTER);
    }
}

/// Decodes the backslash escapes of a Python 2 string literal (CPython's `codecs.escape_decode`,
/// which the STRING opcode uses).
fn escape_decode(s: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !s.contains(&b'\\') {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let &e = s
            .get(i)
            .ok_or_else(|| malformed("pickle", "STRING ends in a backslash"))?;
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // CPython keeps the low byte of `\777`.
                out.push(v as u8);
            }
            b'x' => {
                let v = s
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("pickle", "bad \\x escape in STRING"))?;
                out.push(v);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Text from BINUNICODE & co. Invalid UTF-8 (CPython writes lone surrogates with `surrogatepass`)
/// is replaced with U+FFFD: one odd character should not lose a log record.
#[inline(always)]
fn utf8_text(b: &[u8]) -> Cow<'_, str> {
    // Nearly all log text is ASCII, and `is_ascii` checks a word at a time where `from_utf8`
    // walks short, unaligned strings byte by byte: that was 8% of `decode_record`'s time.
    if b.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(b) });
    }
    utf8_text_slow(b)
}

/// [`utf8_text`] past its ASCII check, out of line.
#[inline(never)]
fn utf8_text_slow(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// A Python 2 `str` as text: UTF-8 when it is valid, else Latin-1, which maps every byte to a
/// character and so loses nothing.
fn py2_text(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(b.iter().map(|&c| char::from(c)).collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// Conversion to `Value` and placeholder text. Both walk the arena with explicit stacks, never by
// recursion, and charge every produced item and byte (memo copies included) to one budget.
// ---------------------------------------------------------------------------------------------

/// What one payload may still produce.
struct Budget {
    items: usize,
    bytes: usize,
}

impl Budget {
    fn take_items(&mut self, n: usize) -> Result<()> {
        self.items = self
            .items
            .checked_sub(n)
            .ok_or(DecodeError::TooLarge("max_items"))?;
        Ok(())
    }

    fn take_bytes(&mut self, n: usize) -> Result<()> {
        self.bytes = self
            .bytes
            .checked_sub(n)
            .ok_or(DecodeError::TooLarge("max_decoded"))?;
        Ok(())
    }
}

/// A container being converted: its arena index (for cycle checks), the children left, and the
/// values made so far.
enum Frame<'r> {
    List {
        node: u32,
        items: std::slice::Iter<'r, Item>,
        out: Vec<Value>,
    },
    Map {
        node: u32,
        pairs: std::slice::Iter<'r, (Item, Item)>,
        out: Vec<(String, Value)>,
        /// The key of the child container being converted.
        key: String,
    },
}

impl Frame<'_> {
    fn node(&self) -> u32 {
        match self {
            Frame::List { node, .. } | Frame::Map { node, .. } => *node,
        }
    }
}

/// What [`Converter::enter`] makes of an item: a finished value (`Ok`), or a frame for a
/// container still to convert (`Err`, as in "not done yet").
type Step<'r> = std::result::Result<Value, Frame<'r>>;

/// A container's children, as the converter sees them.
enum View<'r> {
    List(&'r [Item]),
    Map(&'r [(Item, Item)]),
}

/// One step of placeholder text: literal text, or an item to render.
enum Part {
    Lit(&'static str),
    Text(String),
    Item(Item),
}

/// A node whose placeholder text is being written.
struct ReprFrame {
    node: u32,
    parts: std::vec::IntoIter<Part>,
}

/// How an object was made, with copyreg's helper functions seen through.
struct Call<'r> {
    callee: Item,
    args: Args<'r>,
    kwargs: Option<Item>,
    state: Option<Item>,
}

enum Args<'r> {
    Seq(&'r [Item]),
    /// Not a tuple (only a hostile pickle does this): shown as `*args`.
    Other(Item),
}

struct Converter<'r> {
    arena: &'r [Node],
    /// The payload the items' spans point into.
    data: &'r [u8],
    budget: Budget,
    max_depth: usize,
}

impl<'r> Converter<'r> {
    fn new(arena: &'r [Node], data: &'r [u8], limits: &DecodeLimits) -> Self {
        Converter {
            arena,
            data,
            budget: Budget {
                items: limits.max_items,
                bytes: limits.max_decoded,
            },
            max_depth: limits.max_depth,
        }
    }

    fn get(&self, i: u32) -> Option<&'r Node> {
        self.arena.get(i as usize)
    }

    /// Converts `item`, which sits at nesting `depth` (its own containers are `depth + 1`);
    /// `outer` is a container already being converted by the caller, for cycle checks.
    fn convert(&mut self, item: Item, depth: usize, outer: Option<u32>) -> Result<Value> {
        let mut frames: Vec<Frame<'r>> = Vec::new();
        let mut pending = match self.enter(item, depth, outer, &frames)? {
            Ok(v) => return Ok(v),
            Err(frame) => frame,
        };
        loop {
            frames.push(pending);
            // Advance the innermost frame until it finishes or opens a child container.
            let next = loop {
                let Some(top) = frames.last_mut() else {
                    return Err(malformed("pickle", "conversion lost its place"));
                };
                let child = match top {
                    Frame::List { items, .. } => items.next().copied().map(|c| (None, c)),
                    Frame::Map { pairs, .. } => pairs.next().copied().map(|(k, c)| (Some(k), c)),
                };
                match child {
                    Some((key, child)) => {
                        let key = match key {
                            Some(k) => Some(self.key_text(k)?),
                            None => None,
                        };
                        let d = depth + frames.len();
                        match self.enter(child, d, outer, &frames)? {
                            Ok(v) => push_child(frames.last_mut(), key, v),
                            Err(frame) => {
                                if let (Some(Frame::Map { key: slot, .. }), Some(k)) =
                                    (frames.last_mut(), key)
                                {
                                    *slot = k;
                                }
                                break frame;
                            }
                        }
                    }
                    None => {
                        let done = match frames.pop() {
                            Some(Frame::List { out, .. }) => Value::List(out),
                            Some(Frame::Map { out, .. }) => Value::Map(out),
                            None => return Err(malformed("pickle", "conversion lost its place")),
                        };
                        match frames.last_mut() {
                            None => return Ok(done),
                            Some(Frame::List { out, .. }) => out.push(done),
                            Some(Frame::Map { out, key, .. }) => {
                                out.push((std::mem::take(key), done));
                            }
                        }
                    }
                }
            };
            pending = next;
        }
    }

    /// A finished value for `item`, or a frame to convert it.
    fn enter(
        &mut self,
        item: Item,
        depth: usize,
        outer: Option<u32>,
        frames: &[Frame<'r>],
    ) -> Result<Step<'r>> {
        let i = match item {
            Item::None => return Ok(Ok(Value::Null)),
            Item::Bool(b) => return Ok(Ok(Value::Bool(b))),
            Item::Int(v) => return Ok(Ok(Value::Int(v))),
            Item::Float(f) => return Ok(Ok(Value::Float(f))),
            Item::Str(b) => {
                return Ok(Ok(Value::Str(self.owned_text(utf8_text(b.of(self.data)))?)));
            }
            Item::PyStr(b) => {
                return Ok(Ok(Value::Str(self.owned_text(py2_text(b.of(self.data)))?)));
            }
            Item::Bytes(_) | Item::ByteArray(_) => return Ok(Ok(Value::Str(self.repr(item)?))),
            Item::Node(i) => i,
        };
        let view = match self.get(i) {
            Some(Node::Str(s)) => return Ok(Ok(Value::Str(self.owned_text(Cow::Borrowed(s))?))),
            Some(Node::PyStr(b)) => return Ok(Ok(Value::Str(self.owned_text(py2_text(b))?))),
            Some(Node::BigInt(d)) => {
                self.budget.take_bytes(d.len())?;
                return Ok(Ok(Value::BigInt(d.clone())));
            }
            Some(Node::List(items, _)) => View::List(items),
            Some(Node::Dict(pairs)) => View::Map(pairs),
            Some(Node::Object(obj)) => match self.object_view(obj) {
                Some(v) => v,
                None => return Ok(Ok(Value::Str(self.repr(item)?))),
            },
            _ => return Ok(Ok(Value::Str(self.repr(item)?))),
        };
        if outer == Some(i) || frames.iter().any(|f| f.node() == i) {
            // Python's repr shows a container inside itself as `[...]`; do the same.
            return Ok(Ok(Value::Str(self.cycle_marker(i).to_owned())));
        }
        if depth >= self.max_depth {
            return Err(DecodeError::TooDeep(self.max_depth));
        }
        Ok(Err(match view {
            View::List(items) => {
                self.budget.take_items(items.len())?;
                Frame::List {
                    node: i,
                    items: items.iter(),
                    out: Vec::with_capacity(items.len()),
                }
            }
            View::Map(pairs) => {
                self.budget.take_items(pairs.len())?;
                Frame::Map {
                    node: i,
                    pairs: pairs.iter(),
                    out: Vec::with_capacity(pairs.len()),
                    key: String::new(),
                }
            }
        }))
    }

    /// Objects that are really data: sets (pickled as `set([…])` before protocol 4), and objects
    /// that were filled with APPEND/SETITEMS after construction (OrderedDict, defaultdict, …).
    fn object_view(&self, obj: &'r Obj) -> Option<View<'r>> {
        if !obj.dict_items.is_empty() {
            return Some(View::Map(&obj.dict_items));
        }
        if !obj.list_items.is_empty() {
            return Some(View::List(&obj.list_items));
        }
        let call = self.call_of(obj);
        let (module, name) = self.global_name(call.callee)?;
        if module != "builtins" || !matches!(name.as_ref(), "set" | "frozenset") {
            return None;
        }
        match call.args {
            Args::Seq([]) => Some(View::List(&[])),
            Args::Seq([arg]) => self.seq_of(*arg).map(View::List),
            _ => None,
        }
    }

    fn cycle_marker(&self, i: u32) -> &'static str {
        match self.get(i) {
            Some(Node::List(_, Seq::List)) => "[...]",
            Some(Node::List(_, Seq::Tuple)) => "(...)",
            Some(Node::List(..)) | Some(Node::Dict(_)) => "{...}",
            _ => "...",
        }
    }

    fn owned_text(&mut self, s: Cow<'_, str>) -> Result<String> {
        self.budget.take_bytes(s.len())?;
        Ok(s.into_owned())
    }

    /// A map key as text: strings as they are, anything else as Python's `str()` would show it.
    fn key_text(&mut self, k: Item) -> Result<String> {
        match self.text_of(k) {
            Some(s) => self.owned_text(s),
            None => self.repr(k),
        }
    }

    /// The text of a string item, whichever opcode made it.
    fn text_of(&self, it: Item) -> Option<Cow<'r, str>> {
        match it {
            Item::Str(b) => Some(utf8_text(b.of(self.data))),
            Item::PyStr(b) => Some(py2_text(b.of(self.data))),
            Item::Node(i) => match self.get(i) {
                Some(Node::Str(s)) => Some(Cow::Borrowed(s.as_str())),
                Some(Node::PyStr(b)) => Some(py2_text(b)),
                _ => None,
            },
            _ => None,
        }
    }

    fn seq_of(&self, it: Item) -> Option<&'r [Item]> {
        match it {
            Item::Node(i) => match self.get(i) {
                Some(Node::List(items, _)) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    fn int_of(&self, it: Item) -> Option<i64> {
        match it {
            Item::Int(v) => Some(v),
            Item::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    /// `module.name` of a global reference, with Python 2 names mapped as CPython's `fix_imports` does.
    fn global_name(&self, it: Item) -> Option<(Cow<'r, str>, Cow<'r, str>)> {
        let Item::Node(i) = it else { return None };
        let Some(Node::Global { module, name }) = self.get(i) else {
            return None;
        };
        let module = self.text_of(*module)?;
        let name = self.text_of(*name)?;
        Some(py3_name(module, name))
    }

    /// The bytes of a bytes-like item: Python 3 bytes, a Python 2 str, or `_codecs.encode(s, 'latin1')`,
    /// which is how protocols 0–2 write `bytes`.
    fn bytes_of(&self, it: Item) -> Option<Cow<'r, [u8]>> {
        match it {
            Item::Bytes(b) | Item::PyStr(b) | Item::ByteArray(b) => {
                Some(Cow::Borrowed(b.of(self.data)))
            }
            Item::Node(i) => match self.get(i) {
                Some(Node::PyStr(b)) => Some(Cow::Borrowed(b)),
                Some(Node::Object(obj)) => {
                    let call = self.call_of(obj);
                    let (module, name) = self.global_name(call.callee)?;
                    match (module.as_ref(), name.as_ref(), call.args) {
                        ("_codecs", "encode", Args::Seq([text_arg, enc])) => {
                            self.latin1_arg(*text_arg, *enc).map(Cow::Owned)
                        }
                        ("builtins", "bytes", Args::Seq([])) => Some(Cow::Borrowed(&[])),
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// `str.encode(text, enc)` for the Latin-1 spellings CPython's bytes/bytearray reducers use.
    fn latin1_arg(&self, text_arg: Item, enc: Item) -> Option<Vec<u8>> {
        let enc = self.text_of(enc)?;
        if !matches!(
            enc.to_ascii_lowercase().as_str(),
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1"
        ) {
            return None;
        }
        latin1_bytes(&self.text_of(text_arg)?)
    }

    /// Sees through copyreg's helpers so the placeholder names the real class.
    fn call_of(&self, obj: &'r Obj) -> Call<'r> {
        let args = match self.seq_of(obj.args) {
            Some(items) => Args::Seq(items),
            None => Args::Other(obj.args),
        };
        let mut call = Call {
            callee: obj.call,
            args,
            kwargs: obj.kwargs,
            state: obj.state,
        };
        let Some((module, name)) = self.global_name(obj.call) else {
            return call;
        };
        if module != "copyreg" {
            return call;
        }
        match (name.as_ref(), &call.args) {
            // Protocols 0–1: `_reconstructor(cls, base, base_state)`, then BUILD.
            ("_reconstructor", Args::Seq([cls, _base, base_state])) => {
                call.callee = *cls;
                call.args = match base_state {
                    Item::None => Args::Seq(&[]),
                    _ => Args::Seq(std::slice::from_ref(base_state)),
                };
            }
            ("__newobj__", Args::Seq([cls, rest @ ..])) => {
                call.callee = *cls;
                call.args = Args::Seq(rest);
            }
            ("__newobj_ex__", Args::Seq([cls, args, kwargs])) => {
                call.callee = *cls;
                call.args = match self.seq_of(*args) {
                    Some(items) => Args::Seq(items),
                    None => Args::Other(*args),
                };
                call.kwargs = Some(*kwargs);
            }
            _ => {}
        }
        call
    }

    // --- placeholder text ----------------------------------------------------------------

    /// Python-style text for any item, charged to the byte budget.
    fn repr(&mut self, item: Item) -> Result<String> {
        let mut out = String::new();
        self.repr_into(item, &mut out)?;
        Ok(out)
    }

    fn repr_into(&mut self, item: Item, out: &mut String) -> Result<()> {
        let start = out.len();
        let mut frames: Vec<ReprFrame> = Vec::new();
        self.repr_step(item, &mut frames, out)?;
        while let Some(top) = frames.last_mut() {
            match top.parts.next() {
                None => {
                    frames.pop();
                }
                Some(Part::Lit(s)) => out.push_str(s),
                Some(Part::Text(s)) => out.push_str(&s),
                Some(Part::Item(it)) => self.repr_step(it, &mut frames, out)?,
            }
            if out.len() - start > self.budget.bytes {
                return Err(DecodeError::TooLarge("max_decoded"));
            }
        }
        self.budget.take_bytes(out.len() - start)
    }

    /// Writes a leaf, or pushes a frame with the parts of a node.
    fn repr_step(
        &mut self,
        item: Item,
        frames: &mut Vec<ReprFrame>,
        out: &mut String,
    ) -> Result<()> {
        let i = match item {
            Item::Node(i) => i,
            leaf => {
                scalar_repr(leaf, self.data, out);
                return Ok(());
            }
        };
        let node = self
            .get(i)
            .ok_or_else(|| malformed("pickle", "dangling reference"))?;
        match node {
            Node::Str(s) => pyrepr::write_str_repr(s, false, out),
            Node::PyStr(b) => pyrepr::write_str_repr(&py2_text(b), false, out),
            Node::BigInt(d) => out.push_str(d),
            Node::Ext(code) => {
                let _ = write!(out, "copyreg.extension({code})");
            }
            Node::Global { .. } => match self.global_name(item) {
                Some((m, n)) => qualified(&m, &n, out),
                None => out.push_str("<global>"),
            },
            Node::List(..) | Node::Dict(_) | Node::Object(_) | Node::PersId(_) => {}
        }
        if !matches!(
            node,
            Node::List(..) | Node::Dict(_) | Node::Object(_) | Node::PersId(_)
        ) {
            return Ok(());
        }
        if frames.iter().any(|f| f.node == i) {
            out.push_str(self.cycle_marker(i));
            return Ok(());
        }
        if frames.len() >= self.max_depth {
            return Err(DecodeError::TooDeep(self.max_depth));
        }
        let parts = match node {
            Node::List(items, seq) => {
                self.budget.take_items(items.len())?;
                seq_parts(*seq, items)
            }
            Node::Dict(pairs) => {
                self.budget.take_items(pairs.len())?;
                dict_parts(pairs)
            }
            Node::Object(obj) => self.object_parts(obj)?,
            Node::PersId(id) => vec![Part::Lit("persistent_id("), Part::Item(*id), Part::Lit(")")],
            _ => Vec::new(),
        };
        frames.push(ReprFrame {
            node: i,
            parts: parts.into_iter(),
        });
        Ok(())
    }

    /// The placeholder for an object: Python's own repr for the common types, else
    /// `module.Class(args, key=value)` from its constructor arguments and state.
    fn object_parts(&mut self, obj: &'r Obj) -> Result<Vec<Part>> {
        let call = self.call_of(obj);
        let n_args = match call.args {
            Args::Seq(a) => a.len(),
            Args::Other(_) => 1,
        };
        self.budget
            .take_items(n_args + 3 + obj.list_items.len() + obj.dict_items.len())?;
        if let Some(parts) = self.known_object(&call) {
            return Ok(parts);
        }
        let mut parts = Vec::with_capacity(2 * n_args + 8);
        match self.global_name(call.callee) {
            Some((m, n)) => {
                let mut head = String::new();
                qualified(&m, &n, &mut head);
                head.push('(');
                parts.push(Part::Text(head));
            }
            None => {
                parts.push(Part::Item(call.callee));
                parts.push(Part::Lit("("));
            }
        }
        let mut first = true;
        let mut sep = |parts: &mut Vec<Part>| {
            if !std::mem::take(&mut first) {
                parts.push(Part::Lit(", "));
            }
        };
        match call.args {
            Args::Seq(args) => {
                for a in args {
                    sep(&mut parts);
                    parts.push(Part::Item(*a));
                }
            }
            Args::Other(a) => {
                sep(&mut parts);
                parts.push(Part::Lit("*"));
                parts.push(Part::Item(a));
            }
        }
        for extra in [call.kwargs, call.state].into_iter().flatten() {
            match self.str_keyed_pairs(extra) {
                Some(pairs) => {
                    self.budget.take_items(pairs.len())?;
                    for (k, v) in pairs {
                        sep(&mut parts);
                        parts.push(Part::Text(format!("{k}=")));
                        parts.push(Part::Item(*v));
                    }
                }
                None => {
                    sep(&mut parts);
                    parts.push(Part::Item(extra));
                }
            }
        }
        if !obj.list_items.is_empty() {
            sep(&mut parts);
            parts.extend(seq_parts(Seq::List, &obj.list_items));
        }
        if !obj.dict_items.is_empty() {
            sep(&mut parts);
            parts.extend(dict_parts(&obj.dict_items));
        }
        parts.push(Part::Lit(")"));
        Ok(parts)
    }

    /// The pairs of a dict whose keys are all identifiers, to show as `key=value`.
    fn str_keyed_pairs(&self, it: Item) -> Option<Vec<(Cow<'r, str>, &'r Item)>> {
        let Item::Node(i) = it else { return None };
        let Some(Node::Dict(pairs)) = self.get(i) else {
            return None;
        };
        pairs
            .iter()
            .map(|(k, v)| {
                let k = self.text_of(*k)?;
                is_identifier(&k).then_some((k, v))
            })
            .collect()
    }

    /// Python's repr for the types log extras commonly carry.
    fn known_object(&self, call: &Call<'r>) -> Option<Vec<Part>> {
        let (module, name) = self.global_name(call.callee)?;
        let Args::Seq(args) = call.args else {
            return None;
        };
        let text = |s: String| Some(vec![Part::Text(s)]);
        match (module.as_ref(), name.as_ref()) {
            ("datetime", "datetime") => {
                let b = self.bytes_of(*args.first()?)?;
                let &[y0, y1, mo, d, h, mi, s, u0, u1, u2] = b.as_ref() else {
                    return None;
                };
                let mut out = format!(
                    "datetime.datetime({}, {}, {}, {}, {}",
                    u16::from_be_bytes([y0, y1]),
                    mo & 0x7f,
                    d,
                    h,
                    mi
                );
                let us = u32::from_be_bytes([0, u0, u1, u2]);
                if us != 0 {
                    let _ = write!(out, ", {s}, {us}");
                } else if s != 0 {
                    let _ = write!(out, ", {s}");
                }
                Some(self.with_tz(out, args.get(1), mo & 0x80 != 0))
            }
            ("datetime", "date") => {
                let b = self.bytes_of(*args.first()?)?;
                let &[y0, y1, mo, d] = b.as_ref() else {
                    return None;
                };
                text(format!(
                    "datetime.date({}, {}, {})",
                    u16::from_be_bytes([y0, y1]),
                    mo,
                    d
                ))
            }
            ("datetime", "time") => {
                let b = self.bytes_of(*args.first()?)?;
                let &[h, mi, s, u0, u1, u2] = b.as_ref() else {
                    return None;
                };
                let mut out = format!("datetime.time({}, {}", h & 0x7f, mi);
                let us = u32::from_be_bytes([0, u0, u1, u2]);
                if us != 0 {
                    let _ = write!(out, ", {s}, {us}");
                } else if s != 0 {
                    let _ = write!(out, ", {s}");
                }
                Some(self.with_tz(out, args.get(1), h & 0x80 != 0))
            }
            ("datetime", "timedelta") => {
                let [d, s, us] = args else { return None };
                text(timedelta_repr(
                    self.int_of(*d)?,
                    self.int_of(*s)?,
                    self.int_of(*us)?,
                ))
            }
            ("datetime", "timezone") => {
                // Only UTC has a repr of its own; other offsets read well generically.
                let [td] = args else { return None };
                let Item::Node(i) = td else { return None };
                let Some(Node::Object(obj)) = self.get(*i) else {
                    return None;
                };
                let inner = self.call_of(obj);
                let (m, n) = self.global_name(inner.callee)?;
                let Args::Seq(parts) = inner.args else {
                    return None;
                };
                let zero = parts.iter().all(|p| self.int_of(*p) == Some(0));
                (m == "datetime" && n == "timedelta" && zero)
                    .then(|| vec![Part::Lit("datetime.timezone.utc")])
            }
            ("decimal", "Decimal") => {
                let [s] = args else { return None };
                let s = self.text_of(*s)?;
                let mut out = String::from("Decimal(");
                pyrepr::write_str_repr(&s, false, &mut out);
                out.push(')');
                text(out)
            }
            ("uuid", "UUID") => {
                let state = call.state?;
                let pairs = self.str_keyed_pairs(state)?;
                let (_, v) = pairs.iter().find(|(k, _)| k == "int")?;
                let n: u128 = match **v {
                    Item::Int(i) => u128::try_from(i).ok()?,
                    Item::Node(i) => match self.get(i) {
                        Some(Node::BigInt(d)) => d.parse().ok()?,
                        _ => return None,
                    },
                    _ => return None,
                };
                let h = format!("{n:032x}");
                text(format!(
                    "UUID('{}-{}-{}-{}-{}')",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                ))
            }
            ("_codecs", "encode") => {
                let [text_arg, enc] = args else { return None };
                let b = self.latin1_arg(*text_arg, *enc)?;
                let mut out = String::new();
                py_bytes_repr(&b, &mut out);
                text(out)
            }
            ("builtins", "bytes") => {
                let b = match args {
                    [] => Cow::Borrowed(&[][..]),
                    [one] => self.bytes_of(*one)?,
                    _ => return None,
                };
                let mut out = String::new();
                py_bytes_repr(&b, &mut out);
                text(out)
            }
            ("builtins", "bytearray") => {
                let b = match args {
                    [] => Cow::Borrowed(&[][..]),
                    [one] => self.bytes_of(*one)?,
                    [text_arg, enc] => Cow::Owned(self.latin1_arg(*text_arg, *enc)?),
                    _ => return None,
                };
                let mut out = String::from("bytearray(");
                py_bytes_repr(&b, &mut out);
                out.push(')');
                text(out)
            }
            ("builtins", "set" | "frozenset") => {
                let frozen = name == "frozenset";
                let items = match args {
                    [] => &[][..],
                    [one] => self.seq_of(*one)?,
                    _ => return None,
                };
                if items.is_empty() {
                    return Some(vec![Part::Lit(if frozen {
                        "frozenset()"
                    } else {
                        "set()"
                    })]);
                }
                let mut parts = seq_parts(Seq::Set, items);
                if frozen {
                    parts.insert(0, Part::Lit("frozenset("));
                    parts.push(Part::Lit(")"));
                }
                Some(parts)
            }
            _ => None,
        }
    }

    /// Appends `, tzinfo=…` and `, fold=1` to a datetime/time repr, as CPython does.
    fn with_tz(&self, mut head: String, tz: Option<&Item>, fold: bool) -> Vec<Part> {
        let mut parts = Vec::with_capacity(4);
        match tz {
            Some(tz) if !matches!(tz, Item::None) => {
                head.push_str(", tzinfo=");
                parts.push(Part::Text(head));
                parts.push(Part::Item(*tz));
            }
            _ => parts.push(Part::Text(head)),
        }
        parts.push(Part::Lit(if fold { ", fold=1)" } else { ")" }));
        parts
    }
}

/// Python's repr of an item that is not in the arena.
fn scalar_repr(item: Item, data: &[u8], out: &mut String) {
    match item {
        Item::None => out.push_str("None"),
        Item::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Item::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Item::Float(f) => out.push_str(&pyrepr::float_repr(f)),
        Item::Str(b) => pyrepr::write_str_repr(&utf8_text(b.of(data)), false, out),
        Item::PyStr(b) => pyrepr::write_str_repr(&py2_text(b.of(data)), false, out),
        Item::Bytes(b) => py_bytes_repr(b.of(data), out),
        Item::ByteArray(b) => {
            out.push_str("bytearray(");
            py_bytes_repr(b.of(data), out);
            out.push(')');
        }
        Item::Node(_) => out.push_str("<node>"),
    }
}

fn push_child(frame: Option<&mut Frame<'_>>, key: Option<String>, v: Value) {
    match frame {
        Some(Frame::List { out, .. }) => out.push(v),
        Some(Frame::Map { out, .. }) => out.push((key.unwrap_or_default(), v)),
        None => {}
    }
}

/// The parts of a list, tuple or set: `[a, b]`, `(a,)`, `{a, b}`, `set()`.
fn seq_parts(seq: Seq, items: &[Item]) -> Vec<Part> {
    let (open, close) = match seq {
        Seq::List => ("[", "]"),
        Seq::Tuple => ("(", ")"),
        Seq::Set if items.is_empty() => return vec![Part::Lit("set()")],
        Seq::FrozenSet if items.is_empty() => return vec![Part::Lit("frozenset()")],
        Seq::Set => ("{", "}"),
        Seq::FrozenSet => ("frozenset({", "})"),
    };
    let mut parts = Vec::with_capacity(2 * items.len() + 2);
    parts.push(Part::Lit(open));
    for (n, it) in items.iter().enumerate() {
        if n > 0 {
            parts.push(Part::Lit(", "));
        }
        parts.push(Part::Item(*it));
    }
    if seq == Seq::Tuple && items.len() == 1 {
        parts.push(Part::Lit(","));
    }
    parts.push(Part::Lit(close));
    parts
}

fn dict_parts(pairs: &[(Item, Item)]) -> Vec<Part> {
    let mut parts = Vec::with_capacity(4 * pairs.len() + 2);
    parts.push(Part::Lit("{"));
    for (n, (k, v)) in pairs.iter().enumerate() {
        if n > 0 {
            parts.push(Part::Lit(", "));
        }
        parts.push(Part::Item(*k));
        parts.push(Part::Lit(": "));
        parts.push(Part::Item(*v));
    }
    parts.push(Part::Lit("}"));
    parts
}

/// CPython's `_compat_pickle` mapping of Python 2 module names (the ones log extras meet).
fn py3_name<'r>(module: Cow<'r, str>, name: Cow<'r, str>) -> (Cow<'r, str>, Cow<'r, str>) {
    let module = match module.as_ref() {
        "__builtin__" | "exceptions" => Cow::Borrowed("builtins"),
        "copy_reg" => Cow::Borrowed("copyreg"),
        "Queue" => Cow::Borrowed("queue"),
        "cPickle" => Cow::Borrowed("pickle"),
        "cStringIO" | "StringIO" => Cow::Borrowed("io"),
        "UserDict" | "UserList" | "UserString" => Cow::Borrowed("collections"),
        "urlparse" => Cow::Borrowed("urllib.parse"),
        "thread" => Cow::Borrowed("_thread"),
        _ => module,
    };
    let name = match (module.as_ref(), name.as_ref()) {
        ("builtins", "unicode" | "basestring") => Cow::Borrowed("str"),
        ("builtins", "long") => Cow::Borrowed("int"),
        ("builtins", "xrange") => Cow::Borrowed("range"),
        _ => name,
    };
    (module, name)
}

/// `module.name`, or the bare name for builtins, as Python's repr writes them.
fn qualified(module: &str, name: &str, out: &mut String) {
    if module != "builtins" {
        out.push_str(module);
        out.push('.');
    }
    out.push_str(name);
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn timedelta_repr(days: i64, seconds: i64, us: i64) -> String {
    let mut parts = Vec::with_capacity(3);
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if seconds != 0 {
        parts.push(format!("seconds={seconds}"));
    }
    if us != 0 {
        parts.push(format!("microseconds={us}"));
    }
    if parts.is_empty() {
        parts.push("0".to_owned());
    }
    format!("datetime.timedelta({})", parts.join(", "))
}

/// Python's `repr(bytes)`.
fn py_bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.reserve(b.len() + 3);
    out.push('b');
    out.push(char::from(quote));
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(char::from(quote));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dv(p: &[u8]) -> Result<Value> {
        decode_value(p, &DecodeLimits::default())
    }

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    #[test]
    fn scalars_of_every_protocol() {
        assert_eq!(dv(b"N."), Ok(Value::Null));
        assert_eq!(dv(b"I01\n."), Ok(Value::Bool(true)));
        assert_eq!(dv(b"I00\n."), Ok(Value::Bool(false)));
        assert_eq!(dv(b"I-12\n."), Ok(Value::Int(-12)));
        assert_eq!(
            dv(b"I123456789012345678901234\n."),
            Ok(Value::BigInt("123456789012345678901234".into()))
        );
        assert_eq!(dv(b"L-5L\n."), Ok(Value::Int(-5)));
        assert_eq!(
            dv(b"L-000099999999999999999999L\n."),
            Ok(Value::BigInt("-99999999999999999999".into()))
        );
        assert_eq!(dv(b"\x80\x02\x88."), Ok(Value::Bool(true)));
        assert_eq!(dv(b"\x80\x02\x89."), Ok(Value::Bool(false)));
        assert_eq!(dv(b"J\xff\xff\xff\xff."), Ok(Value::Int(-1)));
        assert_eq!(dv(b"F2.5\n."), Ok(Value::Float(2.5)));
        assert_eq!(
            dv(b"G?\xf0\x00\x00\x00\x00\x00\x00."),
            Ok(Value::Float(1.0))
        );
        assert_eq!(dv(b"\x8c\x02hi."), Ok(s("hi")));
        assert_eq!(dv(b"\x8d\x02\0\0\0\0\0\0\0hi."), Ok(s("hi")));
        assert_eq!(dv(b"C\x02\x00\xff."), Ok(s("b'\\x00\\xff'")));
        assert_eq!(dv(b"S'a\\'b\\x41\\n'\n."), Ok(s("a'bA\n")));
        assert_eq!(dv(b"U\x02\xe9x."), Ok(s("\u{e9}x")));
        assert_eq!(
            dv(b"Vz\xe9\\u000a\\u005c\\U0001f680\n."),
            Ok(s("z\u{e9}\n\\\u{1f680}"))
        );
    }

    #[test]
    fn binary_longs() {
        assert_eq!(dv(b"\x8a\x00."), Ok(Value::Int(0)));
        assert_eq!(dv(b"\x8a\x01\xff."), Ok(Value::Int(-1)));
        assert_eq!(dv(b"\x8a\x02\xff\x00."), Ok(Value::Int(255)));
        assert_eq!(
            dv(b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00."),
            Ok(Value::BigInt("9223372036854775808".into()))
        );
        assert_eq!(
            dv(b"\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff."),
            Ok(Value::BigInt("-9223372036854775809".into()))
        );
        assert_eq!(
            dv(b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xff."),
            Ok(Value::Int(i64::MIN))
        );
        // 10**30, as Python 3 writes it with protocol 2.
        assert_eq!(
            dv(b"\x80\x02\x8a\r\x00\x00\x00@\xea\xed\x74F\xd0\x9c,\x9f\x0c."),
            Ok(Value::BigInt("1000000000000000000000000000000".into()))
        );
        let mut big = b"\x8b\x01\x01\x00\x00".to_vec();
        big.extend(vec![1u8; 257]);
        big.push(b'.');
        assert_eq!(dv(&big), Err(DecodeError::TooLarge("integer size")));
    }

    #[test]
    fn placeholder_text_reprs_like_python() {
        // Floats and strings inside placeholders are pyrepr's, the one Python repr in the crate.
        let float = |f: f64| {
            let mut out = String::new();
            scalar_repr(Item::Float(f), b"", &mut out);
            out
        };
        for (f, want) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.2345e-300, "1.2345e-300"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(float(f), want, "{f:?}");
        }
        let text = "it's \u{1b}[31m\u{e9}\u{a0}\u{378}";
        let mut out = String::new();
        scalar_repr(
            Item::Str(Span {
                off: 0,
                len: text.len() as u32,
            }),
            text.as_bytes(),
            &mut out,
        );
        assert_eq!(out, "\"it's \\x1b[31m\u{e9}\\xa0\\u0378\"");
        out.clear();
        py_bytes_repr(b"\x00\xffbytes'", &mut out);
        assert_eq!(out, "b\"\\x00\\xffbytes'\"");
    }

    #[test]
    fn objects_are_inert_placeholders() {
        assert_eq!(
            dv(b"cos\nsystem\n(S'echo pwned'\ntR."),
            Ok(s("os.system('echo pwned')"))
        );
        assert_eq!(
            dv(b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x0aecho pwned\x85R."),
            Ok(s("os.system('echo pwned')"))
        );
        assert_eq!(dv(b"c__builtin__\neval\n(S'1'\ntR."), Ok(s("eval('1')")));
        assert_eq!(
            dv(b"(c__main__\nP\no}(U\x01xK\x01ub."),
            Ok(s("__main__.P(x=1)"))
        );
        assert_eq!(dv(b"(K\x01ias\nT\n."), Ok(s("as.T(1)")));
        assert_eq!(dv(b"\x80\x02\x82\x07."), Ok(s("copyreg.extension(7)")));
        assert_eq!(dv(b"Pabc\n."), Ok(s("persistent_id('abc')")));
    }

    #[test]
    fn memo_shares_containers() {
        // l = []; d = {'a': l, 'b': l} with l filled after the first reference.
        let p = b"}q\x00(X\x01\x00\x00\x00a]q\x01X\x01\x00\x00\x00bh\x01u.";
        let v = dv(p).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                ("a".into(), Value::List(vec![])),
                ("b".into(), Value::List(vec![]))
            ])
        );
        let p = b"(]q\x01h\x01K\x05al.";
        assert_eq!(
            dv(p),
            Ok(Value::List(vec![
                Value::List(vec![Value::Int(5)]),
                Value::List(vec![Value::Int(5)])
            ]))
        );
    }

    #[test]
    fn cycles_render_like_python() {
        // l = []; l.append(l)
        assert_eq!(dv(b"]q\x00h\x00a."), Ok(Value::List(vec![s("[...]")])));
        // d = {}; d['d'] = d
        assert_eq!(
            dv(b"}q\x00X\x01\x00\x00\x00dh\x00s."),
            Ok(Value::Map(vec![("d".into(), s("{...}"))]))
        );
    }

    #[test]
    fn sparse_memo_slots_do_not_allocate() {
        assert_eq!(
            dv(b"K\x07r\xff\xff\xff\xffj\xff\xff\xff\xff."),
            Ok(Value::Int(7))
        );
        assert!(matches!(
            dv(b"j\x05\x00\x00\x00."),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn stack_discipline_follows_cpython() {
        // An APPEND may not reach below a MARK.
        assert!(matches!(
            dv(b"](K\x01a."),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            dv(b"K\x01K\x02s."),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(dv(b"."), Err(DecodeError::Malformed { .. })));
        assert_eq!(dv(b"K\x01"), Err(DecodeError::Truncated));
        assert_eq!(
            dv(b"\xff"),
            Err(DecodeError::BadOpcode { op: 0xff, pos: 0 })
        );
        assert!(matches!(
            dv(b"\x80\x06N."),
            Err(DecodeError::Malformed { .. })
        ));
    }

    /// Every payload the tests have: the committed bench mix and the captured samples.
    fn fixture_payloads() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pickle");
        let mut out = Vec::new();
        let mix = std::fs::read(dir.join("bench_mix.frames")).unwrap();
        let mut buf = &mix[..];
        while let Some((p, rest)) = crate::decode::frame::split(buf, 1 << 24).unwrap() {
            out.push(p.to_vec());
            buf = rest;
        }
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".hex") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
            let frame: Vec<u8> = hex
                .chunks(2)
                .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
                .collect();
            out.push(frame[4..].to_vec());
        }
        out
    }

    /// Asserts the flat fast path, when it takes a payload, builds exactly what the general
    /// unpickler builds. Returns whether the flat path took it.
    fn same_record_both_ways(p: &[u8], limits: &DecodeLimits) -> bool {
        let Some(mut flat) = flat_record(p, limits, SourceKind::Tcp, "o") else {
            return false;
        };
        let mut general = general_record(p, limits, SourceKind::Tcp, "o")
            .unwrap_or_else(|e| panic!("general path rejects what the flat path took: {e}"));
        // Without a `created` key both stamp "now", a few nanoseconds apart.
        let has_created = matches!(decode_value(p, limits), Ok(Value::Map(m)) if m.iter().any(|(k, _)| k == "created"));
        if !has_created {
            flat.created = 0.0;
            general.created = 0.0;
        }
        assert_eq!(flat.created.to_bits(), general.created.to_bits());
        assert_eq!(flat, general);
        true
    }

    #[test]
    fn flat_path_matches_general_path() {
        let limits = DecodeLimits::default();
        let payloads = fixture_payloads();
        let flat = payloads
            .iter()
            .filter(|p| same_record_both_ways(p, &limits))
            .count();
        // All 1000 mix frames (the WARNINGs' list extra included), plus the flat samples.
        assert!(
            flat >= 1000,
            "flat path took only {flat} of {}",
            payloads.len()
        );
        // Mutations that keep the flat shape (a byte inside a string, a number) must agree too.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut took = 0;
        for i in 0..20_000 {
            let mut p = payloads[i % payloads.len()].clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % p.len();
                match next() % 3 {
                    0 => p[at] ^= 1 << (next() % 8),
                    1 => p[at] = next() as u8,
                    _ => {
                        p.remove(at);
                    }
                }
            }
            took += usize::from(same_record_both_ways(&p, &limits));
        }
        assert!(
            took > 1000,
            "only {took} mutated frames kept the flat shape"
        );
        // Tight limits: the flat path steps aside and the general path reports the error.
        let tight = DecodeLimits {
            max_decoded: 100,
            ..DecodeLimits::default()
        };
        for p in &payloads {
            assert!(flat_record(p, &tight, SourceKind::Tcp, "o").is_none());
        }
    }

    /// A protocol-1 record dict `{"name": "n", <key>: <value>}`, the value's opcodes as given.
    fn record_with(key: &str, value: &[u8]) -> Vec<u8> {
        let mut p = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x01\x00\x00\x00nq\x02".to_vec();
        p.push(op::BINUNICODE);
        p.extend((key.len() as u32).to_le_bytes());
        p.extend(key.as_bytes());
        p.extend(value);
        p.extend(b"X\x07\x00\x00\x00createdG@\x00\x00\x00\x00\x00\x00\x00u.");
        p
    }

    #[test]
    fn flat_path_takes_scalar_lists_and_tuples_as_cpython_batches_them() {
        let limits = DecodeLimits::default();
        let ab = Value::List(vec![s("a"), Value::Int(1)]);
        for (value, want) in [
            // [] ; ["a"] (one item: APPEND) ; ["a", 1] (a batch: MARK … APPENDS)
            (&b"]q\x03"[..], Value::List(vec![])),
            (b"]q\x03X\x01\x00\x00\x00aq\x04a", Value::List(vec![s("a")])),
            (b"]q\x03(X\x01\x00\x00\x00aq\x04K\x01e", ab.clone()),
            // () ; ("a", 1) ; {}
            (b")", Value::List(vec![])),
            (b"(X\x01\x00\x00\x00aq\x03K\x01tq\x04", ab),
            (b"}q\x03", Value::Map(vec![])),
        ] {
            let p = record_with("tags", value);
            assert!(same_record_both_ways(&p, &limits), "{value:?}");
            let r = decode_record(&p, &limits, SourceKind::Tcp, "o").unwrap();
            assert_eq!(r.extra, vec![("tags".to_owned(), want)], "{value:?}");
            assert_eq!((r.logger.as_str(), r.created), ("n", 2.0));
            // The general path refuses a container one level down at max_depth 1: so does the
            // flat path, by stepping aside.
            let shallow = DecodeLimits {
                max_depth: 1,
                ..DecodeLimits::default()
            };
            assert!(flat_record(&p, &shallow, SourceKind::Tcp, "o").is_none());
            assert_eq!(
                decode_record(&p, &shallow, SourceKind::Tcp, "o"),
                Err(DecodeError::TooDeep(1))
            );
        }
        // Nested containers, a dict with items and a memo GET are the general path's.
        for value in [
            &b"]q\x03(]q\x04K\x01e"[..],
            b"}q\x03(X\x01\x00\x00\x00aK\x01u",
            b"]q\x03(h\x02K\x01e",
        ] {
            let p = record_with("tags", value);
            assert!(
                flat_record(&p, &limits, SourceKind::Tcp, "o").is_none(),
                "{value:?}"
            );
            assert!(
                decode_record(&p, &limits, SourceKind::Tcp, "o").is_ok(),
                "{value:?}"
            );
        }
    }
}
