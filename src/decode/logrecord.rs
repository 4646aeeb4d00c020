//! Maps a LogRecord-shaped key/value set onto [`Record`], whatever carried it:
//! a pickled `record.__dict__`, an HTTPHandler form, Logbook's `to_dict`, Smarter's or Logbook's Redis JSON.

use crate::limits;
use crate::limits::DecodeLimits;
use crate::python::{self as pyrepr, Refused, Work};
use crate::record::{self, Record, SourceKind};
use crate::timefmt;
use crate::value::Value;

/// The `extra` key that marks a record whose message was left unformatted because formatting
/// would cost more than its work budget; its value says why ([`WORK_BUDGET`]).
pub const FORMAT_REFUSED: &str = "format_refused";

/// [`FORMAT_REFUSED`]'s value when the per-record work budget ran out.
pub const WORK_BUDGET: &str = "work budget";

/// Whether [`RecordBuilder::finish`] refused to format this record's message. The mark is the
/// last extra it pushes and nothing decodes after it, so this reads one entry, not the map.
#[inline]
pub fn format_refused(r: &Record) -> bool {
    r.extra.last().is_some_and(|(k, _)| k == FORMAT_REFUSED)
}

/// Keys at least one of which a payload must have to be taken as a log record: stdlib dicts
/// have `name`/`msg`, Logbook `channel`/`msg`/`message`, Logbook's RedisHandler and Smarter
/// `message`, Smarter `logger`.
pub const RECORD_KEYS: [&str; 5] = ["msg", "message", "name", "channel", "logger"];

/// Why an object without any of [`RECORD_KEYS`] is not taken as a record.
pub const NO_RECORD_KEYS: &str =
    "JSON object has none of the keys msg, message, name, channel, logger";

/// Whether any of `keys` is among an object's keys; with [`RECORD_KEYS`], whether the object
/// may be a log record.
pub fn has_any(pairs: &[(String, Value)], keys: &[&str]) -> bool {
    pairs.iter().any(|(k, _)| keys.contains(&k.as_str()))
}

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
    /// `name`: the stdlib logger name.
    Name,
    /// `logger` (Smarter's key for the logger name); yields to `name`.
    Logger,
    /// `logger_name` (django-log-panel's); yields to `name`.
    LoggerName,
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
    /// `created`: epoch seconds.
    Created,
    /// Smarter's `timestamp`, epoch seconds; yields to `created`.
    Timestamp,
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
    /// The key an alias field arrived under, for keeping it as an extra.
    fn alias_key(self) -> &'static str {
        match self {
            Field::Logger => "logger",
            Field::LoggerName => "logger_name",
            Field::Timestamp => "timestamp",
            Field::Time => "time",
            Field::Level => "level",
            _ => "channel",
        }
    }

    /// The field a sender's key names, or `None` for a key that becomes an extra.
    pub fn from_key(key: &str) -> Option<Field> {
        Field::from_bytes(key.as_bytes())
    }

    /// [`from_key`](Self::from_key) for a key not yet checked as UTF-8: only an exact byte match
    /// is a field, and every name is ASCII, so a decoder can skip validating the keys it knows.
    #[inline(always)]
    pub fn from_bytes(key: &[u8]) -> Option<Field> {
        use Field::*;
        // Grouped by length: one jump on the length, then a name or two of exactly that length,
        // each compared as one or two integer loads. A single flat list of names compiled to
        // a chain of length tests, and this runs for every key of every record.
        Some(match key.len() {
            3 => match key {
                b"msg" => Msg,
                b"pod" => Host,
                b"job" => Job,
                _ => return None,
            },
            4 => match key {
                b"name" => Name,
                b"args" => Args,
                b"time" => Time,
                b"host" => Host,
                _ => return None,
            },
            5 => match key {
                b"level" => Level,
                b"msecs" => Noise,
                b"extra" => Extra,
                _ => return None,
            },
            6 => match key {
                b"module" => Module,
                b"lineno" => Lineno,
                b"thread" => Thread,
                b"logger" => Logger,
                b"job_id" => Job,
                _ => return None,
            },
            7 => match key {
                b"levelno" => Levelno,
                b"created" => Created,
                b"process" => Process,
                b"message" => Message,
                b"channel" => Channel,
                _ => return None,
            },
            8 => match key {
                b"pathname" => Pathname,
                b"filename" => Filename,
                b"exc_info" => ExcInfo,
                b"exc_text" => ExcText,
                b"funcName" => FuncName,
                b"taskName" => TaskName,
                b"hostname" => Host,
                _ => return None,
            },
            9 => match key {
                b"levelname" => Levelname,
                b"timestamp" => Timestamp,
                b"func_name" => FuncName,
                _ => return None,
            },
            10 => match key {
                b"stack_info" => StackInfo,
                b"threadName" => ThreadName,
                b"level_name" => Levelname,
                _ => return None,
            },
            11 => match key {
                b"processName" => ProcessName,
                b"logger_name" => LoggerName,
                b"thread_name" => ThreadName,
                _ => return None,
            },
            12 => match key {
                b"process_name" => ProcessName,
                _ => return None,
            },
            15 => match key {
                b"relativeCreated" => Noise,
                _ => return None,
            },
            16 => match key {
                b"frame_correction" => Noise,
                _ => return None,
            },
            17 => match key {
                b"heavy_initialized" => Noise,
                _ => return None,
            },
            18 => match key {
                b"information_pulled" => Noise,
                _ => return None,
            },
            19 => match key {
                b"formatted_exception" => ExcText,
                _ => return None,
            },
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
    /// Another sender's name for a field (`logger`, `timestamp`, `time`, `level`, …): it fills
    /// the field only when the stdlib key is absent, and is otherwise kept as an extra, so a
    /// user's `extra={"timestamp": …}` can neither overwrite `created` nor vanish.
    aliases: Vec<(Field, Value)>,
    have_name: bool,
}

impl RecordBuilder {
    pub fn new(source: SourceKind, origin: &str, rendering: Rendering) -> RecordBuilder {
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
            aliases: Vec::new(),
            have_name: false,
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

    /// Takes one attribute of the sender's record, its key already recognised: a [`Value`],
    /// or text, an int or a float the decoder has not made a `Value` of (see [`FieldValue`]).
    #[inline]
    pub fn set_field<V: FieldValue>(&mut self, field: Field, value: V) {
        if self.rendering == Rendering::Text && value.as_str() == Some("None") {
            self.put(field, Value::Null);
        } else {
            self.put(field, value);
        }
    }

    /// The one mapping of fields onto the record, for owned values and borrowed text alike.
    fn put<V: FieldValue>(&mut self, field: Field, value: V) {
        let r = &mut self.rec;
        match field {
            // A stdlib record's `channel` is a user extra, kept in `resolve_aliases` with the rest.
            Field::Channel if self.have_name => self.aliases.push((field, value.into_value())),
            Field::Name | Field::Channel => {
                if field == Field::Channel {
                    self.logbook = true;
                } else {
                    self.have_name = true;
                }
                if let Some(s) = value.into_text() {
                    r.logger = s;
                    self.have_logger = true;
                }
            }
            Field::Logger | Field::LoggerName | Field::Timestamp | Field::Time | Field::Level => {
                self.aliases.push((field, value.into_value()));
            }
            Field::Msg => self.msg = Some(value.into_value()),
            Field::Message => self.message = value.into_text(),
            Field::Args => self.args = Some(value.into_value()),
            Field::Levelno => self.levelno = value.into_int(),
            Field::Levelname => {
                // A stdlib name is kept as its level: no copy now, one in `finish`.
                self.levelname = match value.as_str().and_then(record::canonical_level) {
                    Some(level) => Some(LevelName::Canonical(level)),
                    None => value.into_text().map(LevelName::Text),
                };
            }
            Field::Created => {
                if let Some(t) = value.into_float() {
                    r.created = t;
                    self.have_created = true;
                }
            }
            Field::Pathname => r.pathname = value.into_text(),
            Field::Filename => {
                // Logbook's `filename` is the absolute path. (A byte search: `contains('/')` on
                // the `str` sets up a char searcher, and this runs for every record.)
                let s = value.into_text();
                if self.logbook || s.as_deref().is_some_and(|p| p.as_bytes().contains(&b'/')) {
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
            Field::Module => r.module = value.into_text(),
            Field::Lineno => r.lineno = value.into_int(),
            Field::FuncName => r.func = value.into_text(),
            Field::Process => r.process = value.into_int(),
            Field::ProcessName => r.process_name = value.into_text(),
            Field::Thread => r.thread = value.into_int(),
            Field::ThreadName => r.thread_name = value.into_text(),
            Field::TaskName => r.task_name = value.into_text(),
            Field::ExcText => {
                if let Some(s) = value.into_text() {
                    r.exc_text = Some(s);
                }
            }
            Field::StackInfo => r.stack_info = value.into_text(),
            Field::Host => r.host = value.into_text(),
            Field::Job => r.job = value.into_text(),
            // HTTPHandler sends no traceback, only repr(exc_info): the exception's type and
            // message are news, so keep them.
            Field::ExcInfo if self.rendering == Rendering::Text && !value.is_null() => {
                r.extra.push(("exc_info".to_owned(), value.into_value()));
            }
            // Carry nothing the record does not already hold.
            Field::ExcInfo | Field::Noise => {}
            // Logbook's `extra` dict is the user's extras: flatten it.
            Field::Extra if self.logbook => match value.into_value() {
                Value::Map(pairs) => r.extra.extend(pairs),
                other => r.extra.push(("extra".to_owned(), other)),
            },
            Field::Extra => r.extra.push(("extra".to_owned(), value.into_value())),
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
        self.resolve_aliases();
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
        // The args as Python sees them, and their text (kept when the message cannot be
        // formatted); a typed value's text is only rendered then.
        let args = match self.args.take() {
            Some(Value::Str(repr)) if self.rendering == Rendering::Text => {
                match pyrepr::parse_literal(&repr, limits) {
                    Some(Value::List(l)) if l.is_empty() => None,
                    Some(Value::Map(m)) if m.is_empty() => None,
                    Some(v) => Some((v, Some(repr))),
                    None => Some((Value::Null, Some(repr))),
                }
            }
            // LogRecord.getMessage formats only when args is truthy: `()` and `{}` leave msg as is.
            Some(Value::Null) | None => None,
            Some(Value::List(l)) if l.is_empty() => None,
            Some(Value::Map(m)) if m.is_empty() => None,
            Some(v) => Some((v, None)),
        };
        self.rec.message = match (self.message.take(), template, args) {
            (Some(formatted), _, _) => formatted,
            (None, Some(t), None) => t,
            (None, Some(t), Some((args, repr))) => {
                let refused = if matches!(args, Value::Null) {
                    Refused::Python
                } else {
                    let input = t.len()
                        + repr
                            .as_ref()
                            .map_or_else(|| args.approx_size(), String::len);
                    let mut work = Work::new(limits::format_work_budget(input));
                    // Reading the args literal was one linear pass over its text.
                    let _ = work.charge(repr.as_ref().map_or(0, String::len));
                    match pyrepr::percent_format_within(&t, &args, &mut work) {
                        Ok(m) => {
                            self.rec.message = m;
                            return self.rec;
                        }
                        Err(why) => why,
                    }
                };
                // Keep the template and the args text rather than guess.
                let repr = repr.unwrap_or_else(|| pyrepr::py_str(&args));
                self.rec.extra.push(("args".to_owned(), Value::Str(repr)));
                if refused == Refused::Budget {
                    self.rec.extra.push((
                        FORMAT_REFUSED.to_owned(),
                        Value::Str(WORK_BUDGET.to_owned()),
                    ));
                }
                t
            }
            (None, None, args) => {
                if let Some((v, repr)) = args {
                    let repr = repr.unwrap_or_else(|| pyrepr::py_str(&v));
                    self.rec.extra.push(("args".to_owned(), Value::Str(repr)));
                }
                String::new()
            }
        };
        self.rec
    }

    /// Applies each alias whose field the stdlib key left empty; keeps the rest as extras.
    fn resolve_aliases(&mut self) {
        for (field, value) in std::mem::take(&mut self.aliases) {
            let used = match field {
                Field::Logger | Field::LoggerName if !self.have_logger => match &value {
                    Value::Str(s) => {
                        self.rec.logger = s.clone();
                        self.have_logger = true;
                        true
                    }
                    _ => false,
                },
                Field::Timestamp | Field::Time if !self.have_created => {
                    let t = match &value {
                        Value::Str(s) if field == Field::Time => timefmt::parse_iso(s, true),
                        v => v.clone().into_float(),
                    };
                    if let Some(t) = t {
                        self.rec.created = t;
                        self.have_created = true;
                    }
                    t.is_some()
                }
                Field::Level if self.levelno.is_none() && self.level.is_none() => {
                    self.level = Some(value.clone());
                    true
                }
                _ => false,
            };
            if !used {
                self.rec.extra.push((field.alias_key().to_owned(), value));
            }
        }
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

/// What [`RecordBuilder::set_field`] takes: an owned [`Value`], text a decoder lends, or an int
/// or float it has read without making a `Value`. One mapping serves them all and each field
/// takes only what it keeps: lent text is copied only into a field that keeps text, never where
/// the builder just compares it (a stdlib level name) or drops it (`msecs`, a typed `exc_info`).
/// Each kind reads exactly as the same `Value` would.
pub trait FieldValue: Sized {
    /// Whether this is Python's `None`.
    fn is_null(&self) -> bool {
        false
    }
    /// The text, when this is text.
    fn as_str(&self) -> Option<&str> {
        None
    }
    /// The whole value, for what is resolved later (`msg`, `args`, `level`) or kept as an extra.
    fn into_value(self) -> Value;
    /// A field that should be text: strings as they are, anything else rendered as Python
    /// would print it, `None` for null.
    fn into_text(self) -> Option<String> {
        self.into_value().into_text()
    }
    fn into_int(self) -> Option<i64>;
    fn into_float(self) -> Option<f64>;
}

impl FieldValue for &str {
    fn as_str(&self) -> Option<&str> {
        Some(self)
    }

    fn into_value(self) -> Value {
        Value::Str(self.to_owned())
    }

    fn into_text(self) -> Option<String> {
        Some(self.to_owned())
    }

    fn into_int(self) -> Option<i64> {
        self.trim().parse().ok()
    }

    fn into_float(self) -> Option<f64> {
        self.trim().parse::<f64>().ok().filter(|f| f.is_finite())
    }
}

impl FieldValue for Value {
    fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn into_value(self) -> Value {
        self
    }

    fn into_text(self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Str(s) => Some(s),
            other => Some(pyrepr::py_str(&other)),
        }
    }

    fn into_int(self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i),
            Value::Bool(b) => Some(i64::from(b)),
            Value::Float(f) if f.is_finite() => Some(f as i64),
            Value::Str(s) => s.as_str().into_int(),
            _ => None,
        }
    }

    fn into_float(self) -> Option<f64> {
        match self {
            Value::Float(f) if f.is_finite() => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::Str(s) => s.as_str().into_float(),
            _ => None,
        }
    }
}

// Numbers a decoder read without making a `Value`: each reads as its `Value` would.
impl FieldValue for i64 {
    fn into_value(self) -> Value {
        Value::Int(self)
    }

    fn into_int(self) -> Option<i64> {
        Some(self)
    }

    fn into_float(self) -> Option<f64> {
        Some(self as f64)
    }
}

impl FieldValue for f64 {
    fn into_value(self) -> Value {
        Value::Float(self)
    }

    fn into_int(self) -> Option<i64> {
        self.is_finite().then_some(self as i64)
    }

    fn into_float(self) -> Option<f64> {
        Some(self).filter(|f| f.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(rendering: Rendering, pairs: &[(&str, Value)]) -> Record {
        let mut b = RecordBuilder::new(SourceKind::Tcp, "127.0.0.1:1", rendering);
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
    fn other_senders_names_never_overwrite_stdlib_fields() {
        // A stdlib record whose user extras happen to use Smarter's or Logbook's key names.
        let stdlib = [
            ("name", s("app")),
            ("levelno", Value::Int(30)),
            ("levelname", s("WARNING")),
            ("created", Value::Float(100.5)),
            ("timestamp", Value::Float(7.0)),
            ("time", s("2020-01-01T00:00:00")),
            ("logger", s("other")),
            ("level", s("DEBUG")),
            ("channel", s("chan")),
        ];
        let r = build(Rendering::Typed, &stdlib);
        assert_eq!((r.logger.as_str(), r.level, r.created), ("app", 30, 100.5));
        let keys: Vec<&str> = r.extra.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["timestamp", "time", "logger", "level", "channel"]);
        // The same keys alone still fill the record (Smarter's payload).
        let smarter = [
            ("logger", s("svc")),
            ("level", s("ERROR")),
            ("timestamp", Value::Float(9.25)),
        ];
        let r = build(Rendering::Typed, &smarter);
        assert_eq!((r.logger.as_str(), r.level, r.created), ("svc", 40, 9.25));
        assert!(r.extra.is_empty());
        // Order does not matter: an alias before the stdlib key still yields to it.
        let r = build(
            Rendering::Typed,
            &[
                ("timestamp", Value::Float(7.0)),
                ("created", Value::Float(8.0)),
            ],
        );
        assert_eq!(r.created, 8.0);
        assert_eq!(r.extra, vec![("timestamp".to_owned(), Value::Float(7.0))]);
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

    /// Every key name the builder knows, with its field: each field has at least one.
    const NAMES: [(&str, Field); 42] = [
        ("name", Field::Name),
        ("logger", Field::Logger),
        ("logger_name", Field::LoggerName),
        ("channel", Field::Channel),
        ("msg", Field::Msg),
        ("message", Field::Message),
        ("args", Field::Args),
        ("levelno", Field::Levelno),
        ("levelname", Field::Levelname),
        ("level_name", Field::Levelname),
        ("level", Field::Level),
        ("created", Field::Created),
        ("timestamp", Field::Timestamp),
        ("time", Field::Time),
        ("pathname", Field::Pathname),
        ("filename", Field::Filename),
        ("module", Field::Module),
        ("lineno", Field::Lineno),
        ("funcName", Field::FuncName),
        ("func_name", Field::FuncName),
        ("process", Field::Process),
        ("processName", Field::ProcessName),
        ("process_name", Field::ProcessName),
        ("thread", Field::Thread),
        ("threadName", Field::ThreadName),
        ("thread_name", Field::ThreadName),
        ("taskName", Field::TaskName),
        ("exc_text", Field::ExcText),
        ("formatted_exception", Field::ExcText),
        ("stack_info", Field::StackInfo),
        ("host", Field::Host),
        ("hostname", Field::Host),
        ("pod", Field::Host),
        ("job", Field::Job),
        ("job_id", Field::Job),
        ("exc_info", Field::ExcInfo),
        ("extra", Field::Extra),
        ("msecs", Field::Noise),
        ("relativeCreated", Field::Noise),
        ("heavy_initialized", Field::Noise),
        ("information_pulled", Field::Noise),
        ("frame_correction", Field::Noise),
    ];

    #[test]
    fn every_key_name_maps_to_its_field_and_nothing_else_does() {
        for (key, field) in NAMES {
            assert_eq!(Field::from_key(key), Some(field), "{key}");
            let near = [
                format!("{key}_"),
                key[..key.len() - 1].to_owned(),
                key.to_uppercase(),
                format!(" {key}"),
            ];
            for other in near {
                assert_eq!(Field::from_key(&other), None, "{other:?}");
            }
        }
        for key in ["", "asctime", "user", "levelnamex", "names"] {
            assert_eq!(Field::from_key(key), None, "{key:?}");
        }
    }

    #[test]
    fn lent_text_and_plain_numbers_read_as_the_same_value_does() {
        let mut fields: Vec<Field> = Vec::new();
        for (_, field) in NAMES {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        let texts = [
            "INFO",
            "warning",
            "Level 5",
            "AUDIT",
            "12",
            " 7 ",
            "1.5",
            "nan",
            "None",
            "",
            "/a/b.py",
            "b.py",
            "2026-01-02T03:04:05Z",
            "100%s",
        ];
        let build = |rendering: Rendering, set: &dyn Fn(&mut RecordBuilder)| {
            let mut b = RecordBuilder::new(SourceKind::Tcp, "o", rendering);
            // A fixed clock and args, so only the field under test can differ.
            b.set("created", Value::Float(1.0));
            b.set("args", Value::List(vec![Value::Int(1)]));
            set(&mut b);
            b.finish(&DecodeLimits::default())
        };
        for rendering in [Rendering::Typed, Rendering::Text] {
            for &field in &fields {
                for t in texts {
                    let lent = build(rendering, &|b| b.set_field(field, t));
                    let owned = build(rendering, &|b| b.set_field(field, s(t)));
                    assert_eq!(lent, owned, "{rendering:?} {field:?} {t:?}");
                }
                for i in [0, 20, -3, i64::MAX] {
                    let plain = build(rendering, &|b| b.set_field(field, i));
                    let owned = build(rendering, &|b| b.set_field(field, Value::Int(i)));
                    assert_eq!(plain, owned, "{rendering:?} {field:?} {i}");
                }
                for f in [1.5, -0.0, f64::NAN, f64::INFINITY, 1e300, 12.0] {
                    let plain = build(rendering, &|b| b.set_field(field, f));
                    let owned = build(rendering, &|b| b.set_field(field, Value::Float(f)));
                    // NaN != NaN: compare what is stored, bit for bit.
                    assert_eq!(format!("{plain:?}"), format!("{owned:?}"), "{field:?} {f}");
                }
            }
        }
    }

    #[test]
    fn defaults_fill_only_what_the_sender_left_out() {
        let before = record::now_epoch();
        let r = build(Rendering::Typed, &[("msg", s("x")), ("name", Value::Null)]);
        assert_eq!(
            (r.logger.as_str(), r.level, r.levelname.as_str()),
            ("root", 20, "INFO")
        );
        assert!(r.created >= before && r.created <= record::now_epoch());
        // An empty name is the sender's, not a missing one.
        let r = build(Rendering::Typed, &[("name", s(""))]);
        assert_eq!(r.logger, "");
        // A stdlib name that disagrees with levelno gives way to the number's name.
        let r = build(
            Rendering::Typed,
            &[("levelname", s("INFO")), ("levelno", Value::Int(30))],
        );
        assert_eq!((r.level, r.levelname.as_str()), (30, "WARNING"));
        let r = build(Rendering::Typed, &[("levelname", s("info"))]);
        assert_eq!((r.level, r.levelname.as_str()), (20, "info"));
        let r = build(Rendering::Typed, &[("levelno", Value::Int(35))]);
        assert_eq!((r.level, r.levelname.as_str()), (35, "Level 35"));
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
