//! The opcode parser: one pass over a pickle, building the arena of [`Node`]s with no recursion.
//! Every allocation is bounded by the payload length and [`DecodeLimits`]; nothing is imported or called.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::DecodeError;
use crate::limits::DecodeLimits;
use crate::python;

use super::Result;
use super::ir::{Item, Node, Obj, Packed, Parsed, Seq, Span};
use super::opcodes as op;
use super::opcodes::HIGHEST_PROTOCOL;

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

// ---------------------------------------------------------------------------------------------
// Parsing: one pass over the opcodes, no recursion, every allocation bounded by the payload length.
// ---------------------------------------------------------------------------------------------

pub(super) fn parse(data: &[u8], limits: &DecodeLimits) -> Result<Parsed> {
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

pub(super) fn malformed(what: &'static str, detail: &str) -> DecodeError {
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
        // CPython's own limit (the python module's): a real sender cannot `repr()` a longer int, which is
        // how protocols 0-1 write them. Leading zeros count, as they do for `int()`.
        if digits.len() > python::MAX_INT_DIGITS {
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
pub(super) fn utf8_text(b: &[u8]) -> Cow<'_, str> {
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
pub(super) fn py2_text(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(b.iter().map(|&c| char::from(c)).collect()),
    }
}
