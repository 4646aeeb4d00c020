//! Encoders that write records exactly as Python's handlers do, for `logtui emit` and the sinks.
//! They are the mirror of `decode`: SocketHandler pickles, HTTPHandler forms, Smarter's Redis JSON.

pub mod form;
pub mod pickle;
pub mod smarter;

use crate::record::Record;
use crate::value::Value;

/// The LogRecord `__dict__` a CPython 3.12 sender would have for `r`, in
/// `LogRecord.__init__` order, with `msg` already merged and `args` None, as
/// `SocketHandler.makePickle` leaves it.
pub fn logrecord_dict(r: &Record, relative_created: f64) -> Vec<(&'static str, Value)> {
    let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Str);
    let i = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
    vec![
        ("name", Value::Str(r.logger.clone())),
        ("msg", Value::Str(r.message.clone())),
        ("args", Value::Null),
        ("levelname", Value::Str(r.levelname.clone())),
        ("levelno", Value::Int(i64::from(r.level))),
        ("pathname", s(&r.pathname)),
        ("filename", s(&r.filename)),
        ("module", s(&r.module)),
        ("exc_info", Value::Null),
        ("exc_text", s(&r.exc_text)),
        ("stack_info", s(&r.stack_info)),
        ("lineno", i(r.lineno)),
        ("funcName", s(&r.func)),
        ("created", Value::Float(r.created)),
        (
            "msecs",
            Value::Float(((r.created.fract() * 1000.0).floor()).max(0.0)),
        ),
        ("relativeCreated", Value::Float(relative_created)),
        ("thread", i(r.thread)),
        ("threadName", s(&r.thread_name)),
        ("processName", s(&r.process_name)),
        ("process", i(r.process)),
        ("taskName", s(&r.task_name)),
    ]
}
