//! Placeholder text for Python objects that are described, never constructed: `Decimal('1.10')`, `datetime.date(...)`.
//! Rendered like Python's `repr`, from the arena, with explicit stacks and the converter's byte budget.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::decode::DecodeError;
use crate::python;

use super::Result;
use super::convert::{Args, Call, Converter};
use super::ir::{Item, Node, Obj, Seq};
use super::parse::{malformed, py2_text, utf8_text};

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

impl<'r> Converter<'r> {
    /// Python-style text for any item, charged to the byte budget.
    pub(super) fn repr(&mut self, item: Item) -> Result<String> {
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
            Node::Str(s) => python::write_str_repr(s, false, out),
            Node::PyStr(b) => python::write_str_repr(&py2_text(b), false, out),
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
                python::write_str_repr(&s, false, &mut out);
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
pub(super) fn scalar_repr(item: Item, data: &[u8], out: &mut String) {
    match item {
        Item::None => out.push_str("None"),
        Item::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Item::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Item::Float(f) => out.push_str(&python::float_repr(f)),
        Item::Str(b) => python::write_str_repr(&utf8_text(b.of(data)), false, out),
        Item::PyStr(b) => python::write_str_repr(&py2_text(b.of(data)), false, out),
        Item::Bytes(b) => py_bytes_repr(b.of(data), out),
        Item::ByteArray(b) => {
            out.push_str("bytearray(");
            py_bytes_repr(b.of(data), out);
            out.push(')');
        }
        Item::Node(_) => out.push_str("<node>"),
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
pub(super) fn py3_name<'r>(
    module: Cow<'r, str>,
    name: Cow<'r, str>,
) -> (Cow<'r, str>, Cow<'r, str>) {
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

pub(super) fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
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
pub(super) fn py_bytes_repr(b: &[u8], out: &mut String) {
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
