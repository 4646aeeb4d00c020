//! Every bound logtui puts on strangers' input, with one home each.
//! Decoders take a [`DecodeLimits`]; the config's `[limits]` section is [`Limits`]; queue sizes live in the config.

use serde::{Deserialize, Serialize};

/// Largest frame or body accepted by default: 16 MiB, far above any real log
/// record (a 100 KB message pickles to ~100 KB) yet small enough that a handful
/// of concurrent bad senders cannot exhaust memory.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Deepest container nesting a decoder accepts. Real extras nest a few levels;
/// 64 keeps every recursive walk over a decoded value (JSON writing, dropping) shallow.
pub const MAX_DEPTH: usize = 64;

/// Highest `max_depth` a config may set; larger values are clamped to it by [`Limits::decode`].
/// A decoded [`crate::value::Value`] is cloned, dropped and written as JSON by recursive code
/// (the derived `Clone`/`Drop`, `write_json`), one call frame or a few per level. The test
/// `limits::tests::ceiling_depth_survives_a_small_stack` builds a value this deep and clones,
/// writes and drops it on a 256 KiB thread, an eighth of the 2 MiB tokio and its blocking pool
/// give each thread, in an unoptimised build (whose frames are the biggest); there, 512 levels
/// overflow 256 KiB, so a 2 MiB thread has about 16× the stack this depth needs. Real extras
/// nest a few levels; the default stays [`MAX_DEPTH`].
pub const MAX_DEPTH_CEILING: usize = 256;

/// Most container items (list elements, map pairs, memo copies) one payload
/// may produce. It stops memo bombs, where tiny input references the same
/// container many times and naive copying expands it exponentially.
pub const DEFAULT_MAX_ITEMS: usize = 1_000_000;

/// The most bytes of decoded text one payload may produce, counting copies
/// made from memo references; 4× the frame cap.
pub const DEFAULT_MAX_DECODED: usize = 64 * 1024 * 1024;

/// The most bytes all listeners together hold in unfinished frames and request bodies
/// larger than a read chunk: 16 frames at the default `max_frame`.
pub const DEFAULT_MAX_BUFFERED: usize = 256 * 1024 * 1024;

/// Most bytes one `%` formatting may produce. A template such as `%9999999s` is legal Python
/// but would make us allocate for a stranger; 16 MiB (the default frame cap) is far above any
/// real message, and going past it keeps the template and the args text instead.
pub const MAX_FORMATTED: usize = 16 * 1024 * 1024;

/// Widest field width or precision a `%` conversion may ask for. Python accepts up to
/// `sys.maxsize`; a log line padded past 1 MiB is an attack, not a message, and the cap keeps
/// the number itself from costing anything before the budget sees it.
pub const MAX_FORMAT_WIDTH: usize = 1024 * 1024;

/// Highest precision of `%e %f %g`. An f64 has at most 767 significant decimal digits and its
/// smallest value 1074 fractional ones, so no precision past 1100 shows anything but zeros;
/// `%.16777216g` would make the float formatter write 16 MiB for one number.
pub const MAX_FLOAT_PRECISION: usize = 1100;

/// Maps up to this many pairs are searched in place by `%(key)s`; a bigger one is indexed by a
/// hash map on the first lookup, so a template repeating `%(key)s` costs O(1) per lookup.
/// Real args dicts hold a handful of keys, and a linear scan of 16 beats hashing.
pub const SMALL_MAP: usize = 16;

/// Work units (about a byte scanned or produced each) every record may spend on formatting,
/// however small it is: 1 Mi units is about a millisecond, enough for any real message with
/// room to spare, yet a 1 KB template repeating a conversion against a big argument stops there.
pub const FORMAT_WORK_FLOOR: usize = 1 << 20;

/// Work units per byte of a record's template and arguments, on top of the floor: an honest
/// message produces about as much as it carries (a 16 MiB `%s` argument renders once), so 8× its
/// size formats every real record while keeping the worst case linear in what the sender sent.
pub const FORMAT_WORK_PER_BYTE: usize = 8;

/// The work budget of one record whose template and arguments come to `input_bytes`.
pub fn format_work_budget(input_bytes: usize) -> usize {
    FORMAT_WORK_FLOOR.saturating_add(FORMAT_WORK_PER_BYTE.saturating_mul(input_bytes))
}

/// The `[limits]` section of the configuration: what decoders may produce from one payload,
/// and what the listeners may hold for all senders together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest frame (TCP/UDP) or request body (HTTP), in bytes.
    pub max_frame: usize,
    /// Deepest nesting of lists/maps/tuples.
    pub max_depth: usize,
    /// Most container items produced, memo copies included.
    pub max_items: usize,
    /// Most decoded string bytes produced, memo copies included.
    pub max_decoded: usize,
    /// Most bytes held at once, across all connections, in frames and bodies over 64 KiB;
    /// a connection that would exceed it waits (TCP backpressure) until others finish.
    pub max_buffered: usize,
}

impl Limits {
    /// The bounds every decoder applies to one payload, `max_depth` clamped to [`MAX_DEPTH_CEILING`].
    pub fn decode(&self) -> DecodeLimits {
        DecodeLimits {
            max_frame: self.max_frame,
            max_depth: self.max_depth.min(MAX_DEPTH_CEILING),
            max_items: self.max_items,
            max_decoded: self.max_decoded,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let d = DecodeLimits::default();
        Limits {
            max_frame: d.max_frame,
            max_depth: d.max_depth,
            max_items: d.max_items,
            max_decoded: d.max_decoded,
            max_buffered: DEFAULT_MAX_BUFFERED,
        }
    }
}

/// Bounds applied by every decoder (pickle, JSON, form) to one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest frame (TCP/UDP) or request body (HTTP), in bytes.
    pub max_frame: usize,
    /// Deepest nesting of lists/maps/tuples.
    pub max_depth: usize,
    /// Most container items produced, memo copies included.
    pub max_items: usize,
    /// Most decoded string bytes produced, memo copies included.
    pub max_decoded: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_frame: DEFAULT_MAX_FRAME,
            max_depth: MAX_DEPTH,
            max_items: DEFAULT_MAX_ITEMS,
            max_decoded: DEFAULT_MAX_DECODED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    /// A value `depth` levels deep, each level a map holding a list (so both kinds recurse).
    fn nested(depth: usize) -> Value {
        let mut v = Value::Str("leaf".into());
        for i in 0..depth {
            v = if i % 2 == 0 {
                Value::List(vec![Value::Int(1), v])
            } else {
                Value::Map(vec![("k".into(), v)])
            };
        }
        v
    }

    fn clone_write_drop_on_small_stack(depth: usize) -> std::thread::Result<usize> {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let v = nested(depth);
                let copy = v.clone();
                let json = copy.to_json();
                let repr = crate::python::py_repr(&v);
                drop(copy);
                drop(v);
                json.len() + repr.len()
            })
            .expect("spawn")
            .join()
    }

    #[test]
    fn ceiling_depth_survives_a_small_stack() {
        let n = clone_write_drop_on_small_stack(MAX_DEPTH_CEILING).expect("no stack overflow");
        assert!(n > MAX_DEPTH_CEILING * 2);
    }

    #[test]
    fn config_depth_is_clamped() {
        let l = Limits {
            max_depth: 1_000_000,
            ..Limits::default()
        };
        assert_eq!(l.decode().max_depth, MAX_DEPTH_CEILING);
        assert_eq!(Limits::default().decode().max_depth, MAX_DEPTH);
    }
}
