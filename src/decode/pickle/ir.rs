//! The unpickler's intermediate representation: items pointing into the payload, and an arena of nodes.
//! Containers and objects are arena indices, so memo sharing and cycles need no references or recursion.

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
pub(super) struct Span {
    pub(super) off: u32,
    pub(super) len: u32,
}

impl Span {
    /// The bytes this span covers. Spans are only made from ranges of the same payload, so the
    /// empty fallback is unreachable; it exists so no input can make this panic.
    #[inline]
    pub(super) fn of(self, data: &[u8]) -> &[u8] {
        let start = self.off as usize;
        data.get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// One value on the unpickler's stack or in its memo.
#[derive(Clone, Copy, Debug)]
pub(super) enum Item {
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
pub(super) struct Packed {
    tag: u64,
    bits: u64,
}

impl Packed {
    pub(super) const UNSET: Packed = Packed { tag: 0, bits: 0 };

    #[inline(always)]
    pub(super) fn pack(it: Item) -> Packed {
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
    pub(super) fn unpack(self) -> Option<Item> {
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
pub(super) enum Seq {
    List,
    Tuple,
    Set,
    FrozenSet,
}

/// Arena entries: everything that is shared, mutable or owned.
#[derive(Debug)]
pub(super) enum Node {
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
pub(super) struct Obj {
    pub(super) call: Item,
    pub(super) args: Item,
    pub(super) kwargs: Option<Item>,
    pub(super) state: Option<Item>,
    pub(super) list_items: Vec<Item>,
    pub(super) dict_items: Vec<(Item, Item)>,
}

impl Obj {
    pub(super) fn new(call: Item, args: Item, kwargs: Option<Item>) -> Box<Obj> {
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

pub(super) struct Parsed {
    pub(super) arena: Vec<Node>,
    pub(super) root: Item,
}
