//! The one record model every source decodes into, and level normalisation.
//! A network record has no local dispatcher: its identity is its logger name plus where it came from.

use crate::value::Value;

/// Which kind of listener a record arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Tcp,
    Udp,
    Http,
    Redis,
    /// Records logtui makes itself: alerts, drop notices.
    Internal,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Tcp,
        SourceKind::Udp,
        SourceKind::Http,
        SourceKind::Redis,
        SourceKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Tcp => "tcp",
            SourceKind::Udp => "udp",
            SourceKind::Http => "http",
            SourceKind::Redis => "redis",
            SourceKind::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log record, whatever sent it. Optional fields are `None` when the
/// sender did not say; `extra` holds everything the model has no column for.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The sender's timestamp, epoch seconds (receive time when the sender gave none).
    pub created: f64,
    /// Level on the stdlib scale (DEBUG 10 … CRITICAL 50).
    pub level: i32,
    pub levelname: String,
    pub logger: String,
    pub message: String,
    pub source: SourceKind,
    /// Where it came from: the peer address, socket path or channel.
    pub origin: String,
    pub job: Option<String>,
    pub host: Option<String>,
    pub process: Option<i64>,
    pub process_name: Option<String>,
    pub thread: Option<i64>,
    pub thread_name: Option<String>,
    pub task_name: Option<String>,
    pub pathname: Option<String>,
    pub filename: Option<String>,
    pub module: Option<String>,
    pub lineno: Option<i64>,
    pub func: Option<String>,
    pub exc_text: Option<String>,
    pub stack_info: Option<String>,
    pub extra: Vec<(String, Value)>,
}

impl Record {
    /// A record with only the required fields set, stamped now, at INFO from the `root` logger;
    /// the caller fills in the rest.
    pub fn new(source: SourceKind, origin: impl Into<String>) -> Record {
        let mut r = Record::blank(source, origin);
        r.created = now_epoch();
        r.set_level(INFO);
        r.logger = ROOT_LOGGER.to_owned();
        r
    }

    /// A record with every text empty, `created` 0 and level NOTSET: no allocation but the
    /// origin's and no clock read, for a decoder that sets (or defaults) every field itself, as
    /// [`RecordBuilder::finish`](crate::decode::logrecord::RecordBuilder::finish) does.
    /// [`Record::new`] is this plus the defaults, for callers that build records by hand.
    pub fn blank(source: SourceKind, origin: impl Into<String>) -> Record {
        Record {
            created: 0.0,
            level: NOTSET,
            levelname: String::new(),
            logger: String::new(),
            message: String::new(),
            source,
            origin: origin.into(),
            job: None,
            host: None,
            process: None,
            process_name: None,
            thread: None,
            thread_name: None,
            task_name: None,
            pathname: None,
            filename: None,
            module: None,
            lineno: None,
            func: None,
            exc_text: None,
            stack_info: None,
            extra: Vec::new(),
        }
    }

    /// A record logtui makes about itself (alerts, drops), stored like any other.
    pub fn internal(level: i32, logger: &str, message: String) -> Record {
        let mut r = Record::new(SourceKind::Internal, "logtui");
        r.set_level(level);
        r.logger = logger.to_owned();
        r.message = message;
        r.process = Some(i64::from(std::process::id()));
        r
    }

    /// Sets the numeric level and its canonical name together.
    pub fn set_level(&mut self, level: i32) {
        self.level = level;
        self.levelname = level_name(level);
    }

    /// The extras rendered as one JSON object.
    pub fn extra_json(&self) -> String {
        let mut s = String::new();
        crate::value::write_json_map(&self.extra, &mut s);
        s
    }

    /// The record as one JSON object with exactly the keys `logtui query --format jsonl`
    /// documents, in that order. `id` is the store's row id.
    pub fn to_json_line(&self, id: i64) -> String {
        use crate::value::{write_float, write_json_str};
        fn opt_str(out: &mut String, key: &str, v: &Option<String>) {
            out.push_str(key);
            match v {
                Some(s) => write_json_str(s, out),
                None => out.push_str("null"),
            }
        }
        fn opt_int(out: &mut String, key: &str, v: Option<i64>) {
            out.push_str(key);
            match v {
                Some(i) => out.push_str(&i.to_string()),
                None => out.push_str("null"),
            }
        }
        let mut o = String::with_capacity(256 + self.message.len());
        o.push_str("{\"id\":");
        o.push_str(&id.to_string());
        o.push_str(",\"time\":");
        write_json_str(&crate::timefmt::rfc3339_micros(self.created), &mut o);
        o.push_str(",\"created\":");
        write_float(self.created, &mut o);
        o.push_str(",\"level\":");
        o.push_str(&self.level.to_string());
        o.push_str(",\"levelname\":");
        write_json_str(&self.levelname, &mut o);
        o.push_str(",\"logger\":");
        write_json_str(&self.logger, &mut o);
        o.push_str(",\"message\":");
        write_json_str(&self.message, &mut o);
        o.push_str(",\"source\":");
        write_json_str(self.source.as_str(), &mut o);
        o.push_str(",\"origin\":");
        write_json_str(&self.origin, &mut o);
        opt_str(&mut o, ",\"job\":", &self.job);
        opt_str(&mut o, ",\"host\":", &self.host);
        opt_int(&mut o, ",\"process\":", self.process);
        opt_str(&mut o, ",\"process_name\":", &self.process_name);
        opt_int(&mut o, ",\"thread\":", self.thread);
        opt_str(&mut o, ",\"thread_name\":", &self.thread_name);
        opt_str(&mut o, ",\"task_name\":", &self.task_name);
        opt_str(&mut o, ",\"pathname\":", &self.pathname);
        opt_str(&mut o, ",\"filename\":", &self.filename);
        opt_str(&mut o, ",\"module\":", &self.module);
        opt_int(&mut o, ",\"lineno\":", self.lineno);
        opt_str(&mut o, ",\"func\":", &self.func);
        opt_str(&mut o, ",\"exc_text\":", &self.exc_text);
        opt_str(&mut o, ",\"stack_info\":", &self.stack_info);
        o.push_str(",\"extra\":");
        crate::value::write_json_map(&self.extra, &mut o);
        o.push('}');
        o
    }

    /// A rough count of heap bytes held, used to bound queues by memory as well as by count.
    pub fn approx_size(&self) -> usize {
        fn o(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::len)
        }
        let texts = [
            &self.job,
            &self.host,
            &self.process_name,
            &self.thread_name,
            &self.task_name,
            &self.pathname,
            &self.filename,
            &self.module,
            &self.func,
            &self.exc_text,
            &self.stack_info,
        ];
        200 + self.message.len()
            + self.logger.len()
            + self.levelname.len()
            + self.origin.len()
            + texts.into_iter().map(o).sum::<usize>()
            + self
                .extra
                .iter()
                .map(|(k, v)| k.len() + v.approx_size())
                .sum::<usize>()
    }
}

pub const NOTSET: i32 = 0;
pub const TRACE: i32 = 5;
pub const DEBUG: i32 = 10;
pub const INFO: i32 = 20;
pub const NOTICE: i32 = 25;
pub const WARNING: i32 = 30;
pub const ERROR: i32 = 40;
pub const CRITICAL: i32 = 50;

/// The logger a record is from when the sender names none: Python's root logger.
pub const ROOT_LOGGER: &str = "root";

/// The stdlib name for a level number, or `Level N` as `logging.getLevelName` writes it.
pub fn level_name(level: i32) -> String {
    match canonical_level_name(level) {
        Some(name) => name.to_owned(),
        None => format!("Level {level}"),
    }
}

/// The levels that have a name of their own (the stdlib's plus TRACE and NOTICE), one table
/// for both directions.
const LEVEL_NAMES: [(i32, &str); 8] = [
    (NOTSET, "NOTSET"),
    (TRACE, "TRACE"),
    (DEBUG, "DEBUG"),
    (INFO, "INFO"),
    (NOTICE, "NOTICE"),
    (WARNING, "WARNING"),
    (ERROR, "ERROR"),
    (CRITICAL, "CRITICAL"),
];

/// The name of a level that has one; `None` for the numbers `logging.getLevelName` writes as
/// `Level N`.
pub fn canonical_level_name(level: i32) -> Option<&'static str> {
    LEVEL_NAMES
        .iter()
        .find(|&&(n, _)| n == level)
        .map(|&(_, name)| name)
}

/// The level whose canonical name is exactly `name`, as [`level_name`] writes it, so a decoder
/// can recognise the usual names without allocating; anything else (other case, aliases,
/// `Level N`) is `None` and goes through [`level_from_name`].
pub fn canonical_level(name: &str) -> Option<i32> {
    LEVEL_NAMES
        .iter()
        .find(|&&(_, n)| n == name)
        .map(|&(level, _)| level)
}

/// Maps a level name from any sender (stdlib, Logbook, Smarter) to the stdlib
/// scale. `Level 25` gives 25. Unknown names give `None`; callers keep the text.
pub fn level_from_name(name: &str) -> Option<i32> {
    let n = name.trim();
    let upper = n.to_ascii_uppercase();
    let level = match upper.as_str() {
        "NOTSET" => NOTSET,
        "TRACE" => TRACE,
        "DEBUG" => DEBUG,
        "INFO" | "INFORMATION" => INFO,
        "NOTICE" => NOTICE,
        "WARNING" | "WARN" => WARNING,
        "ERROR" | "ERR" => ERROR,
        "CRITICAL" | "FATAL" | "CRIT" => CRITICAL,
        _ => {
            let rest = upper.strip_prefix("LEVEL ")?;
            return rest.trim().parse::<i32>().ok();
        }
    };
    Some(level)
}

/// Parses what a user types for a level: a name or a number.
pub fn parse_level_arg(s: &str) -> Option<i32> {
    s.trim().parse::<i32>().ok().or_else(|| level_from_name(s))
}

/// Maps a Logbook level number (TRACE=9 … CRITICAL=15) to the stdlib scale.
pub fn level_from_logbook(n: i64) -> i32 {
    match n {
        0 => NOTSET,
        9 => TRACE,
        10 => DEBUG,
        11 => INFO,
        12 => NOTICE,
        13 => WARNING,
        14 => ERROR,
        15 => CRITICAL,
        n => n.clamp(0, 100) as i32,
    }
}

/// The level an unknown level name is stored at: it is shown, not hidden.
pub const UNKNOWN_NAME_LEVEL: i32 = INFO;

/// Seconds since the epoch, now.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_the_documented_keys_in_order() {
        let mut r = Record::new(SourceKind::Udp, "127.0.0.1:5");
        r.created = 1.5;
        r.message = "hi".into();
        r.extra.push(("k".into(), Value::Int(1)));
        assert_eq!(
            r.to_json_line(7),
            concat!(
                r#"{"id":7,"time":"1970-01-01T00:00:01.500000Z","created":1.5,"level":20,"levelname":"INFO","#,
                r#""logger":"root","message":"hi","source":"udp","origin":"127.0.0.1:5","job":null,"host":null,"#,
                r#""process":null,"process_name":null,"thread":null,"thread_name":null,"task_name":null,"#,
                r#""pathname":null,"filename":null,"module":null,"lineno":null,"func":null,"exc_text":null,"#,
                r#""stack_info":null,"extra":{"k":1}}"#
            )
        );
    }

    #[test]
    fn blank_is_empty_and_new_has_the_defaults() {
        let b = Record::blank(SourceKind::Tcp, "o");
        assert_eq!((b.created, b.level, b.origin.as_str()), (0.0, NOTSET, "o"));
        // Nothing allocated but the origin.
        assert_eq!((b.levelname.capacity(), b.logger.capacity()), (0, 0));
        let before = now_epoch();
        let n = Record::new(SourceKind::Tcp, "o");
        assert_eq!(
            (n.level, n.levelname.as_str(), n.logger.as_str()),
            (INFO, "INFO", ROOT_LOGGER)
        );
        assert!(n.created >= before);
        assert_eq!(
            Record {
                created: 0.0,
                level: NOTSET,
                levelname: String::new(),
                logger: String::new(),
                ..n
            },
            b
        );
    }

    #[test]
    fn canonical_names_go_both_ways() {
        for level in -1..=60 {
            match canonical_level_name(level) {
                Some(name) => {
                    assert_eq!(canonical_level(name), Some(level));
                    assert_eq!(level_from_name(name), Some(level));
                    assert_eq!(level_name(level), name);
                }
                None => assert_eq!(level_name(level), format!("Level {level}")),
            }
        }
        assert_eq!(canonical_level("info"), None);
        assert_eq!(canonical_level("WARN"), None);
    }

    #[test]
    fn names_map_to_stdlib_scale() {
        assert_eq!(level_from_name("warning"), Some(30));
        assert_eq!(level_from_name("NOTICE"), Some(25));
        assert_eq!(level_from_name("TRACE"), Some(5));
        assert_eq!(level_from_name("Level 25"), Some(25));
        assert_eq!(level_from_name("AUDIT"), None);
        assert_eq!(level_from_logbook(12), 25);
        assert_eq!(level_from_logbook(9), 5);
        assert_eq!(level_name(25), "NOTICE");
        assert_eq!(level_name(35), "Level 35");
        assert_eq!(parse_level_arg("error"), Some(40));
        assert_eq!(parse_level_arg("35"), Some(35));
    }
}
