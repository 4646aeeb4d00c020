//! Decodes the pickles that `logging.handlers.SocketHandler`/`DatagramHandler` send (protocols 0–5) into [`Value`]s and [`Record`]s.
//! Safe by construction: nothing is imported or called, GLOBAL/REDUCE/BUILD only build inert placeholder text, and every bound comes from [`DecodeLimits`].

use crate::decode::DecodeError;
use crate::decode::logrecord::{RecordBuilder, Rendering};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::value::Value;

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

mod convert;
mod flat;
mod ir;
mod opcodes;
mod parse;
mod placeholder;
#[cfg(test)]
mod tests;

use convert::Converter;
use flat::{flat_fields, set_by_key};
use ir::{Item, Node, Seq};
use parse::{parse, utf8_text};

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
