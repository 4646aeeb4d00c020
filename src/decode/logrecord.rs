//! Maps a LogRecord-shaped key/value set onto [`Record`], whatever carried it:
//! a pickled `record.__dict__`, an HTTPHandler form, Logbook's `to_dict`, Smarter's or Logbook's Redis JSON.

use crate::decode::pyrepr;
use crate::limits::DecodeLimits;
use crate::record::{self, Record, Source};
use crate::timefmt;
use crate::value::Value;

/// How the sender rendered values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    /// Values keep their types (pickle, JSON).
    Typed,
    /// Every value went through Python's `str()` (HTTPHandler's urlencode):
    /// `"None"` means null, numbers are text, `args` is a repr.
    Text,
}

/// A LogRecord attribute that [`RecordBuilder`] maps onto a [`Record`] field (or drops), under
/// every name the supported senders use for it. A decoder that recognises keys itself (the
/// pickle decoder matches them as bytes) passes the `Field` to [`RecordBuilder::set_field`], so
/// no key is matched twice; [`Field::from_key`] is the one table of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `name` (stdlib), `logger`, `logger_name`.
    Name,
    /// Logbook's `channel`: the logger name, and what marks a record as Logbook's.
    Channel,
    Msg,
    /// An already formatted message (`message`), which wins over `msg % args`.
    Message,
    Args,
    Levelno,
    /// `levelname`, `level_name`.
    Levelname,
    /// Logbook's and Smarter's `level`: a number or a name.
    Level,
    /// `created`, `timestamp`: epoch seconds.
    Created,
    /// Logbook's ISO-8601 `time`; `created` wins when both are present.
    Time,
    Pathname,
    Filename,
    Module,
    Lineno,
    /// `funcName`, `func_name`.
    FuncName,
    Process,
    /// `processName`, `process_name`.
    ProcessName,
    Thread,
    /// `threadName`, `thread_name`.
    ThreadName,
    TaskName,
    /// `exc_text`, `formatted_exception`.
    ExcText,
    StackInfo,
    /// `host`, `hostname`, `pod`.
    Host,
    /// `job`, `job_id`.
    Job,
    ExcInfo,
    /// Logbook's `extra` dict, flattened into the extras; anyone else's `extra` is an ordinary extra.
    Extra,
    /// Attributes that carry nothing the record does not already hold: `msecs`,
    /// `relativeCreated`, and Logbook's internal flags.
    Noise,
}

impl Field {
    /// The field a sender's key names, or `None` for a key that becomes an extra.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::from_bytes(key.as_bytes())
    }

    /// [`from_key`](Self::from_key) for a key not yet checked as UTF-8: only an exact byte match
    /// is a field, and every name is ASCII, so a decoder can skip validating the keys it knows.
    #[inline]
    pub fn from_bytes(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"name" | b"logger" | b"logger_name" => Field::Name,
            b"channel" => Field::Channel,
            b"msg" => Field::Msg,
            b"message" => Field::Message,
            b"args" => Field::Args,
            b"levelno" => Field::Levelno,
            b"levelname" | b"level_name" => Field::Levelname,
            b"level" => Field::Level,
            b"created" | b"timestamp" => Field::Created,
            b"time" => Field::Time,
            b"pathname" => Field::Pathname,
            b"filename" => Field::Filename,
            b"module" => Field::Module,
            b"lineno" => Field::Lineno,
            b"funcName" | b"func_name" => Field::FuncName,
            b"process" => Field::Process,
            b"processName" | b"process_name" => Field::ProcessName,
            b"thread" => Field::Thread,
            b"threadName" | b"thread_name" => Field::ThreadName,
            b"taskName" => Field::TaskName,
            b"exc_text" | b"formatted_exception" => Field::ExcText,
            b"stack_info" => Field::StackInfo,
            b"host" | b"hostname" | b"pod" => Field::Host,
            b"job" | b"job_id" => Field::Job,
            b"exc_info" => Field::ExcInfo,
            b"extra" => Field::Extra,
            b"msecs"
            | b"relativeCreated"
            | b"heavy_initialized"
            | b"information_pulled"
            | b"frame_correction" => Field::Noise,
            _ => return None,
        })
    }
}

/// A level name as the sender gave it. The stdlib's own names are kept as their level, so the
/// usual `levelname` costs no allocation until the record's one copy of it is made.
#[derive(Debug)]
enum LevelName {
    /// Exactly the name [`record::level_name`] writes for this level.
    Canonical(i32),
    Text(String),
}

impl LevelName {
    fn from_text(s: String) -> LevelName {
        match record::canonical_level(&s) {
            Some(level) => LevelName::Canonical(level),
            None => LevelName::Text(s),
        }
    }

    /// The level the name stands for, if it names one.
    fn level(&self) -> Option<i32> {
        match self {
            LevelName::Canonical(level) => Some(*level),
            LevelName::Text(s) => record::level_from_name(s),
        }
    }
}

/// Collects fields one key at a time, then resolves message and level in [`finish`](Self::finish).
///
/// Keys are taken by `&str` so a decoder can pass borrowed keys: only extras allocate a key.
pub struct RecordBuilder {
    rec: Record,
    rendering: Rendering,
    msg: Option<Value>,
    message: Option<String>,
    args: Option<Value>,
    levelno: Option<i64>,
    levelname: Option<LevelName>,
    /// Logbook's `level`: a number on its own scale, or a name.
    level: Option<Value>,
    logbook: bool,
    have_logger: bool,
    have_created: bool,
}

impl RecordBuilder {
    pub fn new(source: Source, origin: &str, rendering: Rendering) -> RecordBuilder {
        RecordBuilder {
            // Blank, not `Record::new`: `finish` sets the defaults only where the sender gave
            // nothing, so the usual record allocates no default text and reads no clock.
            rec: Record::blank(source, origin),
            rendering,
            msg: None,
            message: None,
            args: None,
            levelno: None,
            levelname: None,
            level: None,
            logbook: false,
            have_logger: false,
            have_created: false,
        }
    }

    /// Takes one attribute of the sender's record.
    pub fn set(&mut self, key: &str, value: Value) {
        match Field::from_key(key) {
            Some(field) => self.set_field(field, value),
            None => self.set_extra(key.to_owned(), value),
        }
    }

    /// Takes an attribute whose key is not a [`Field`] (the caller has checked): it is kept as
    /// an extra under `key`.
    pub fn set_extra(&mut self, key: String, value: Value) {
        let value = self.rendered(value);
        self.rec.extra.push((key, value));
    }

    /// Takes a text attribute the decoder holds borrowed: the same as
    /// `set_field(field, Value::Str(text.to_owned()))`, but text the builder only compares or
    /// drops (a stdlib level name, `exc_info` from a typed sender) is never copied.
    pub fn set_field_str(&mut self, field: Field, text: &str) {
        let is_null = self.rendering == Rendering::Text && text == "None";
        match field {
            Field::Levelname if !is_null => {
                self.levelname = Some(match record::canonical_level(text) {
                    Some(level) => LevelName::Canonical(level),
                    None => LevelName::Text(text.to_owned()),
                });
            }
            Field::Noise => {}
            Field::ExcInfo if self.rendering == Rendering::Typed => {}
            _ => self.set_field(field, Value::Str(text.to_owned())),
        }
    }

    /// Takes one attribute of the sender's record, its key already recognised.
    pub fn set_field(&mut self, field: Field, value: Value) {
        let value = self.rendered(value);
        let r = &mut self.rec;
        match field {
            Field::Name | Field::Channel => {
                if field == Field::Channel {
                    self.logbook = true;
                }
                if let Some(s) = text(value) {
                    r.logger = s;
                    self.have_logger = true;
                }
            }
            Field::Msg => self.msg = Some(value),
            Field::Message => self.message = text(value),
            Field::Args => self.args = Some(value),
            Field::Levelno => self.levelno = int(value),
            Field::Levelname => self.levelname = text(value).map(LevelName::from_text),
            Field::Level => self.level = Some(value),
            Field::Created => {
                if let Some(t) = float(value) {
                    r.created = t;
                    self.have_created = true;
                }
            }
            Field::Time => {
                // Logbook's ISO stamps; `created` wins when both are present.
                if !self.have_created
                    && let Some(t) = value.as_str().and_then(|s| timefmt::parse_iso(s, true))
                {
                    r.created = t;
                    self.have_created = true;
                }
            }
            Field::Pathname => r.pathname = text(value),
            Field::Filename => {
                // Logbook's `filename` is the absolute path.
                let s = text(value);
                if self.logbook || s.as_deref().is_some_and(|p| p.contains('/')) {
                    r.filename = s
                        .as_deref()
                        .map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p).to_owned());
                    if r.pathname.is_none() {
                        r.pathname = s;
                    }
                } else {
                    r.filename = s;
                }
            }
            Field::Module => r.module = text(value),
            Field::Lineno => r.lineno = int(value),
            Field::FuncName => r.func = text(value),
            Field::Process => r.process = int(value),
            Field::ProcessName => r.process_name = text(value),
            Field::Thread => r.thread = int(value),
            Field::ThreadName => r.thread_name = text(value),
            Field::TaskName => r.task_name = text(value),
            Field::ExcText => {
                if let Some(s) = text(value) {
                    r.exc_text = Some(s);
                }
            }
            Field::StackInfo => r.stack_info = text(value),
            Field::Host => r.host = text(value),
            Field::Job => r.job = text(value),
            // HTTPHandler sends no traceback, only repr(exc_info): the exception's type and
            // message are news, so keep them.
            Field::ExcInfo if self.rendering == Rendering::Text && value != Value::Null => {
                r.extra.push(("exc_info".to_owned(), value));
            }
            // Carry nothing the record does not already hold.
            Field::ExcInfo | Field::Noise => {}
            // Logbook's `extra` dict is the user's extras: flatten it.
            Field::Extra if self.logbook => {
                if let Value::Map(pairs) = value {
                    r.extra.extend(pairs);
                } else {
                    r.extra.push(("extra".to_owned(), value));
                }
            }
            Field::Extra => r.extra.push(("extra".to_owned(), value)),
        }
    }

    /// The value as the builder reads it: HTTPHandler's text `None` is a null.
    #[inline]
    fn rendered(&self, value: Value) -> Value {
        match self.rendering {
            Rendering::Text if value.as_str() == Some("None") => Value::Null,
            _ => value,
        }
    }

    /// Resolves the message (formatting `msg % args` where the sender did not)
    /// and the level, fills the defaults for what the sender did not say (logger `root`,
    /// level INFO, created now), and returns the record.
    pub fn finish(mut self, limits: &DecodeLimits) -> Record {
        self.resolve_level();
        if !self.have_logger {
            self.rec.logger = record::ROOT_LOGGER.to_owned();
        }
        if !self.have_created {
            self.rec.created = record::now_epoch();
        }
        let template = self.msg.take().map(|m| match m {
            Value::Str(s) => s,
            other => pyrepr::py_str(&other),
        });
        let args = match self.args.take() {
            Some(Value::Str(repr)) if self.rendering == Rendering::Text => {
                match pyrepr::parse_literal(&repr, limits) {
                    Some(Value::List(l)) if l.is_empty() => None,
                    Some(Value::Map(m)) if m.is_empty() => None,
                    Some(v) => Some((v, repr)),
                    None => Some((Value::Null, repr)),
                }
            }
            // LogRecord.getMessage formats only when args is truthy: `()` and `{}` leave msg as is.
            Some(Value::Null) | None => None,
            Some(Value::List(l)) if l.is_empty() => None,
            Some(Value::Map(m)) if m.is_empty() => None,
            Some(v) => {
                let repr = pyrepr::py_str(&v);
                Some((v, repr))
            }
        };
        self.rec.message = match (self.message.take(), template, args) {
            (Some(formatted), _, _) => formatted,
            (None, Some(t), None) => t,
            (None, Some(t), Some((args, repr))) => {
                match (!matches!(args, Value::Null))
                    .then(|| pyrepr::percent_format(&t, &args))
                    .flatten()
                {
                    Some(m) => m,
                    None => {
                        // Keep the template and the args text rather than guess.
                        self.rec.extra.push(("args".to_owned(), Value::Str(repr)));
                        t
                    }
                }
            }
            (None, None, args) => {
                if let Some((_, repr)) = args {
                    self.rec.extra.push(("args".to_owned(), Value::Str(repr)));
                }
                String::new()
            }
        };
        self.rec
    }

    fn resolve_level(&mut self) {
        let from_level_key = match self.level.take() {
            Some(Value::Int(n)) if self.logbook => Some(record::level_from_logbook(n)),
            Some(Value::Int(n)) => Some(n.clamp(0, 1000) as i32),
            Some(Value::Str(s)) => {
                let lvl = s
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .map(|n| n.clamp(0, 1000) as i32)
                    .or_else(|| record::level_from_name(&s));
                if self.levelname.is_none() && lvl.is_none() {
                    self.levelname = Some(LevelName::Text(s));
                }
                lvl
            }
            _ => None,
        };
        let name_level = self.levelname.as_ref().and_then(LevelName::level);
        let level = self
            .levelno
            .map(|n| n.clamp(0, 1000) as i32)
            .or(from_level_key)
            .or(name_level);
        match (level, self.levelname.take()) {
            (Some(n), Some(LevelName::Text(name)))
                if name_level.is_none() || name_level == Some(n) =>
            {
                // A custom name registered with addLevelName keeps its text.
                self.rec.level = n;
                self.rec.levelname = name;
            }
            (None, Some(LevelName::Text(name))) => {
                self.rec.level = record::UNKNOWN_NAME_LEVEL;
                self.rec.levelname = name;
            }
            // A canonical name is the text `set_level` writes for its own level, and any other
            // level overrides it. (A canonical name always gives a level, so `None` here means
            // the sender said nothing about the level: INFO, as for `Record::new`.)
            (level, _) => self.rec.set_level(level.unwrap_or(record::INFO)),
        }
    }
}

/// A field that should be text: strings as they are, anything else rendered as Python would print it.
fn text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Str(s) => Some(s),
        other => Some(pyrepr::py_str(&other)),
    }
}

// `int` and `float` take the value so the common number arms need no drop of it.
fn int(v: Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(i),
        Value::Bool(b) => Some(i64::from(b)),
        Value::Float(f) if f.is_finite() => Some(f as i64),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(v: Value) -> Option<f64> {
    match v {
        Value::Float(f) if f.is_finite() => Some(f),
        Value::Int(i) => Some(i as f64),
        Value::Str(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(rendering: Rendering, pairs: &[(&str, Value)]) -> Record {
        let mut b = RecordBuilder::new(Source::Tcp, "127.0.0.1:1", rendering);
        for (k, v) in pairs {
            b.set(k, v.clone());
        }
        b.finish(&DecodeLimits::default())
    }

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    #[test]
    fn stdlib_fields_map_and_noise_is_dropped() {
        let r = build(
            Rendering::Typed,
            &[
                ("name", s("app.db")),
                ("msg", s("hello")),
                ("args", Value::Null),
                ("levelname", s("WARNING")),
                ("levelno", Value::Int(30)),
                ("msecs", Value::Float(1.0)),
                ("created", Value::Float(12.5)),
                ("user", s("alice")),
            ],
        );
        assert_eq!(r.logger, "app.db");
        assert_eq!(r.message, "hello");
        assert_eq!((r.level, r.levelname.as_str()), (30, "WARNING"));
        assert_eq!(r.created, 12.5);
        assert_eq!(r.extra, vec![("user".to_owned(), s("alice"))]);
    }

    #[test]
    fn custom_level_names_keep_their_text() {
        let r = build(
            Rendering::Typed,
            &[("levelname", s("Level 25")), ("levelno", Value::Int(25))],
        );
        assert_eq!((r.level, r.levelname.as_str()), (25, "Level 25"));
        let r = build(
            Rendering::Typed,
            &[("levelname", s("AUDIT")), ("levelno", Value::Int(35))],
        );
        assert_eq!((r.level, r.levelname.as_str()), (35, "AUDIT"));
        let r = build(Rendering::Typed, &[("level", s("SHOUTY"))]);
        assert_eq!((r.level, r.levelname.as_str()), (20, "SHOUTY"));
    }

    #[test]
    fn logbook_scale_applies_only_with_a_channel() {
        let r = build(
            Rendering::Typed,
            &[("channel", s("svc")), ("level", Value::Int(12))],
        );
        assert_eq!((r.level, r.levelname.as_str()), (25, "NOTICE"));
        let r = build(Rendering::Typed, &[("level", s("NOTICE"))]);
        assert_eq!(r.level, 25);
    }

    #[test]
    fn text_rendering_reads_none_and_numbers() {
        let r = build(
            Rendering::Text,
            &[
                ("levelno", s("40")),
                ("levelname", s("ERROR")),
                ("created", s("1795565164.45")),
                ("exc_text", s("None")),
                ("lineno", s("12")),
            ],
        );
        assert_eq!(r.level, 40);
        assert_eq!(r.created, 1795565164.45);
        assert_eq!(r.exc_text, None);
        assert_eq!(r.lineno, Some(12));
    }
}
