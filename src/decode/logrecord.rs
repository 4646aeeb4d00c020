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
    levelname: Option<String>,
    /// Logbook's `level`: a number on its own scale, or a name.
    level: Option<Value>,
    logbook: bool,
    have_created: bool,
}

impl RecordBuilder {
    pub fn new(source: Source, origin: &str, rendering: Rendering) -> RecordBuilder {
        RecordBuilder {
            rec: Record::new(source, origin),
            rendering,
            msg: None,
            message: None,
            args: None,
            levelno: None,
            levelname: None,
            level: None,
            logbook: false,
            have_created: false,
        }
    }

    /// Takes one attribute of the sender's record.
    pub fn set(&mut self, key: &str, value: Value) {
        let value = match self.rendering {
            Rendering::Text if value.as_str() == Some("None") => Value::Null,
            _ => value,
        };
        let r = &mut self.rec;
        match key {
            "name" | "channel" | "logger" | "logger_name" => {
                if key == "channel" {
                    self.logbook = true;
                }
                if let Some(s) = text(value) {
                    r.logger = s;
                }
            }
            "msg" => self.msg = Some(value),
            "message" => self.message = text(value),
            "args" => self.args = Some(value),
            "levelno" => self.levelno = int(&value),
            "levelname" | "level_name" => self.levelname = text(value),
            "level" => self.level = Some(value),
            "created" | "timestamp" => {
                if let Some(t) = float(&value) {
                    r.created = t;
                    self.have_created = true;
                }
            }
            "time" => {
                // Logbook's ISO stamps; `created` wins when both are present.
                if !self.have_created
                    && let Some(t) = value.as_str().and_then(|s| timefmt::parse_iso(s, true))
                {
                    r.created = t;
                    self.have_created = true;
                }
            }
            "pathname" => r.pathname = text(value),
            "filename" => {
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
            "module" => r.module = text(value),
            "lineno" => r.lineno = int(&value),
            "funcName" | "func_name" => r.func = text(value),
            "process" => r.process = int(&value),
            "processName" | "process_name" => r.process_name = text(value),
            "thread" => r.thread = int(&value),
            "threadName" | "thread_name" => r.thread_name = text(value),
            "taskName" => r.task_name = text(value),
            "exc_text" | "formatted_exception" => {
                if let Some(s) = text(value) {
                    r.exc_text = Some(s);
                }
            }
            "stack_info" => r.stack_info = text(value),
            "host" | "hostname" | "pod" => r.host = text(value),
            "job" | "job_id" => r.job = text(value),
            // HTTPHandler sends no traceback, only repr(exc_info): the exception's type and
            // message are news, so keep them.
            "exc_info" if self.rendering == Rendering::Text && value != Value::Null => {
                r.extra.push((key.to_owned(), value));
            }
            // Carry nothing the record does not already hold.
            "exc_info" | "msecs" | "relativeCreated" | "heavy_initialized"
            | "information_pulled" | "frame_correction" => {}
            // Logbook's `extra` dict is the user's extras: flatten it.
            "extra" if self.logbook => {
                if let Value::Map(pairs) = value {
                    self.rec.extra.extend(pairs);
                } else {
                    self.rec.extra.push(("extra".to_owned(), value));
                }
            }
            _ => r.extra.push((key.to_owned(), value)),
        }
    }

    /// Resolves the message (formatting `msg % args` where the sender did not)
    /// and the level, and returns the record.
    pub fn finish(mut self, limits: &DecodeLimits) -> Record {
        self.resolve_level();
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
                    self.levelname = Some(s);
                }
                lvl
            }
            _ => None,
        };
        let name_level = self.levelname.as_deref().and_then(record::level_from_name);
        let level = self
            .levelno
            .map(|n| n.clamp(0, 1000) as i32)
            .or(from_level_key)
            .or(name_level);
        match (level, self.levelname.take()) {
            (Some(n), Some(name)) if name_level.is_none() || name_level == Some(n) => {
                // A custom name registered with addLevelName keeps its text.
                self.rec.level = n;
                self.rec.levelname = name;
            }
            (Some(n), _) => self.rec.set_level(n),
            (None, Some(name)) => {
                self.rec.level = record::UNKNOWN_NAME_LEVEL;
                self.rec.levelname = name;
            }
            (None, None) => {}
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

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Float(f) if f.is_finite() => Some(*f as i64),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) if f.is_finite() => Some(*f),
        Value::Int(i) => Some(*i as f64),
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
        let r = build(Rendering::Typed, &[("levelname", s("Level 25")), ("levelno", Value::Int(25))]);
        assert_eq!((r.level, r.levelname.as_str()), (25, "Level 25"));
        let r = build(Rendering::Typed, &[("levelname", s("AUDIT")), ("levelno", Value::Int(35))]);
        assert_eq!((r.level, r.levelname.as_str()), (35, "AUDIT"));
        let r = build(Rendering::Typed, &[("level", s("SHOUTY"))]);
        assert_eq!((r.level, r.levelname.as_str()), (20, "SHOUTY"));
    }

    #[test]
    fn logbook_scale_applies_only_with_a_channel() {
        let r = build(Rendering::Typed, &[("channel", s("svc")), ("level", Value::Int(12))]);
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
