//! Python literal reprs and `%` formatting, as HTTPHandler's senders leave them to us.
//! TODO(helper): implement; signatures are fixed.

use crate::limits::DecodeLimits;
use crate::value::Value;

/// Parses a Python literal repr (`('a', 1)`, `{'k': u'v'}`, `None`, …) without evaluating anything.
pub fn parse_literal(_text: &str, _limits: &DecodeLimits) -> Option<Value> {
    None
}

/// Formats `template % args` exactly as Python's `%` operator would, or `None` when Python would raise.
pub fn percent_format(_template: &str, _args: &Value) -> Option<String> {
    None
}

/// Renders a value as Python's `str()` would.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_json(),
    }
}
