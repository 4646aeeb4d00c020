//! Conversion of the parsed arena into [`Value`]s, walked with explicit stacks, never by recursion.
//! Every item and byte produced (memo copies included) is charged to one [`Budget`].

use std::borrow::Cow;

use crate::decode::DecodeError;
use crate::limits::DecodeLimits;
use crate::value::Value;

use super::Result;
use super::ir::{Item, Node, Obj, Seq};
use super::parse::{malformed, py2_text, utf8_text};
use super::placeholder::{latin1_bytes, py3_name};

/// What one payload may still produce.
pub(super) struct Budget {
    items: usize,
    pub(super) bytes: usize,
}

impl Budget {
    pub(super) fn take_items(&mut self, n: usize) -> Result<()> {
        self.items = self
            .items
            .checked_sub(n)
            .ok_or(DecodeError::TooLarge("max_items"))?;
        Ok(())
    }

    pub(super) fn take_bytes(&mut self, n: usize) -> Result<()> {
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

/// How an object was made, with copyreg's helper functions seen through.
pub(super) struct Call<'r> {
    pub(super) callee: Item,
    pub(super) args: Args<'r>,
    pub(super) kwargs: Option<Item>,
    pub(super) state: Option<Item>,
}

pub(super) enum Args<'r> {
    Seq(&'r [Item]),
    /// Not a tuple (only a hostile pickle does this): shown as `*args`.
    Other(Item),
}

pub(super) struct Converter<'r> {
    arena: &'r [Node],
    /// The payload the items' spans point into.
    pub(super) data: &'r [u8],
    pub(super) budget: Budget,
    pub(super) max_depth: usize,
}

impl<'r> Converter<'r> {
    pub(super) fn new(arena: &'r [Node], data: &'r [u8], limits: &DecodeLimits) -> Self {
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

    pub(super) fn get(&self, i: u32) -> Option<&'r Node> {
        self.arena.get(i as usize)
    }

    /// Converts `item`, which sits at nesting `depth` (its own containers are `depth + 1`);
    /// `outer` is a container already being converted by the caller, for cycle checks.
    pub(super) fn convert(
        &mut self,
        item: Item,
        depth: usize,
        outer: Option<u32>,
    ) -> Result<Value> {
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

    pub(super) fn cycle_marker(&self, i: u32) -> &'static str {
        match self.get(i) {
            Some(Node::List(_, Seq::List)) => "[...]",
            Some(Node::List(_, Seq::Tuple)) => "(...)",
            Some(Node::List(..)) | Some(Node::Dict(_)) => "{...}",
            _ => "...",
        }
    }

    pub(super) fn owned_text(&mut self, s: Cow<'_, str>) -> Result<String> {
        self.budget.take_bytes(s.len())?;
        Ok(s.into_owned())
    }

    /// A map key as text: strings as they are, anything else as Python's `str()` would show it.
    pub(super) fn key_text(&mut self, k: Item) -> Result<String> {
        match self.text_of(k) {
            Some(s) => self.owned_text(s),
            None => self.repr(k),
        }
    }

    /// The text of a string item, whichever opcode made it.
    pub(super) fn text_of(&self, it: Item) -> Option<Cow<'r, str>> {
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

    pub(super) fn seq_of(&self, it: Item) -> Option<&'r [Item]> {
        match it {
            Item::Node(i) => match self.get(i) {
                Some(Node::List(items, _)) => Some(items),
                _ => None,
            },
            _ => None,
        }
    }

    pub(super) fn int_of(&self, it: Item) -> Option<i64> {
        match it {
            Item::Int(v) => Some(v),
            Item::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    /// `module.name` of a global reference, with Python 2 names mapped as CPython's `fix_imports` does.
    pub(super) fn global_name(&self, it: Item) -> Option<(Cow<'r, str>, Cow<'r, str>)> {
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
    pub(super) fn bytes_of(&self, it: Item) -> Option<Cow<'r, [u8]>> {
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
    pub(super) fn latin1_arg(&self, text_arg: Item, enc: Item) -> Option<Vec<u8>> {
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
    pub(super) fn call_of(&self, obj: &'r Obj) -> Call<'r> {
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
}

fn push_child(frame: Option<&mut Frame<'_>>, key: Option<String>, v: Value) {
    match frame {
        Some(Frame::List { out, .. }) => out.push(v),
        Some(Frame::Map { out, .. }) => out.push((key.unwrap_or_default(), v)),
        None => {}
    }
}
