//! Redis payloads (pub/sub messages, list values) to records: exactly one record per payload.
//! Smarter's and Logbook's JSON, generic JSON objects and text lines; anything else is kept as text.
//!
//! A payload never becomes zero records. Redis has no way to tell a publisher that a message was
//! refused, and pub/sub has no history to fetch it again from, so a payload that is not a record
//! (broken JSON, JSON that is no log record, binary, too big) is still stored: as a text record
//! whose message is the payload (lossy UTF-8, cut to [`MAX_UNDECODABLE_TEXT`]), marked with the
//! extra [`UNDECODABLE`] naming why, so it can be found (`extra.undecodable`) and counted.

use crate::decode::json::parse_value;
use crate::decode::logrecord::{
    Field, NO_RECORD_KEYS, RECORD_KEYS, RecordBuilder, Rendering, has_any,
};
use crate::limits::DecodeLimits;
use crate::record::{self, Record, SourceKind};
use crate::timefmt;
use crate::value::Value;

/// What every Smarter channel name starts with (`CHANNEL_PREFIX = "logs"`, joined by `:`).
pub const CHANNEL_PREFIX: &str = "logs:";
/// The id of Smarter's channel that carries every record a second time (`GLOBAL_LOG_CHANNEL`).
pub const GLOBAL_ID: &str = "global";
/// The full name of that channel.
pub const GLOBAL_CHANNEL: &str = "logs:global";

/// The extra that marks a payload kept as text because it was not a record; its value says why.
pub const UNDECODABLE: &str = "undecodable";
/// Most bytes of an undecodable payload kept as its message: enough to read and search what a
/// stranger sent, small enough that a flood of junk costs the store little.
pub const MAX_UNDECODABLE_TEXT: usize = 64 * 1024;
/// Most bytes of a payload that is not UTF-8 kept, base64-encoded, in `extra.raw` (48 KiB
/// encode to 64 KiB): the message's lossy text loses bytes, the raw copy does not.
pub const MAX_RAW_BYTES: usize = 48 * 1024;
/// How far into a text line the level is looked for: log formats put it near the start, and
/// the search must cost the same for a 16 MiB line as for a short one.
const SNIFF_BYTES: usize = 256;

/// The job a channel carries: `logs:User.admin` → `User.admin`, `logs:job_<uuid>` →
/// `job_<uuid>`. `logs:global` carries every job's records and so names none; neither does
/// a channel outside Smarter's `logs:` naming.
pub fn job_of_channel(channel: &str) -> Option<&str> {
    let id = channel.strip_prefix(CHANNEL_PREFIX)?;
    (!id.is_empty() && id != GLOBAL_ID).then_some(id)
}

/// One payload's record, and whether it was kept as text because it was not a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub record: Record,
    pub undecodable: bool,
}

/// Decodes one pub/sub message that came on `channel`: the record's origin is the channel and
/// its job the channel's ([`job_of_channel`]), which wins over a `job` the payload names (that
/// one is kept as the extra `job`).
///
/// `payload` is what was kept of a message of `full_len` bytes: a message over
/// `limits.max_frame` is kept only in part (the caller cuts it) and stored as undecodable.
pub fn decode_message(
    channel: &str,
    payload: &[u8],
    full_len: usize,
    limits: &DecodeLimits,
) -> Decoded {
    let mut d = decode_payload(payload, full_len, channel, limits);
    if let Some(job) = job_of_channel(channel) {
        let r = &mut d.record;
        match r.job.take() {
            Some(own) if own != job => r.extra.push(("job".to_owned(), Value::Str(own))),
            _ => {}
        }
        r.job = Some(job.to_owned());
    }
    d
}

/// Decodes one Redis payload (a message, a list value) from `origin` into exactly one record.
///
/// * `{…}`: a JSON object with at least one of [`RECORD_KEYS`]: Smarter's
///   `{message, level, timestamp, logger, pod}`, Logbook's RedisHandler values and `to_dict`,
///   or any object naming its message `msg`/`message`, its level `level`/`levelname`/`severity`,
///   its time `created`/`timestamp`/`time`/`ts`/`@timestamp` and its logger
///   `logger`/`name`/`channel`. Other keys become extras.
/// * Anything else that is UTF-8 (a `[…]` that is not JSON included, as text formats often open
///   with `[date]` or `[LEVEL]`): a text line, its level read from the text ([`sniff_level`]),
///   stamped with the time it arrived.
/// * The rest (broken JSON, JSON that is not a record, not UTF-8, empty, over the size limit):
///   kept as text and marked [`UNDECODABLE`].
pub fn decode_payload(
    payload: &[u8],
    full_len: usize,
    origin: &str,
    limits: &DecodeLimits,
) -> Decoded {
    match classify(payload, full_len, limits) {
        Ok(Kind::Json(pairs)) => Decoded {
            record: from_object(pairs, origin, limits),
            undecodable: false,
        },
        Ok(Kind::Text(text)) => Decoded {
            record: text_record(text, origin),
            undecodable: false,
        },
        Err(why) => Decoded {
            record: undecodable(payload, full_len, &why, origin),
            undecodable: true,
        },
    }
}

/// What a payload turned out to be.
enum Kind<'a> {
    Json(Vec<(String, Value)>),
    Text(&'a str),
}

/// Sorts a payload into a JSON record, a text line, or the reason it is neither.
fn classify<'a>(
    payload: &'a [u8],
    full_len: usize,
    limits: &DecodeLimits,
) -> Result<Kind<'a>, String> {
    if full_len > limits.max_frame || payload.len() > limits.max_frame {
        return Err(format!(
            "payload of {full_len} bytes exceeds the {}-byte limit",
            limits.max_frame
        ));
    }
    let body = payload.strip_prefix(b"\xef\xbb\xbf").unwrap_or(payload);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err("empty payload".to_owned());
    };
    match body[start] {
        b'{' => match parse_value(body, limits) {
            Ok(Value::Map(pairs)) if has_any(&pairs, &RECORD_KEYS) => Ok(Kind::Json(pairs)),
            Ok(_) => Err(NO_RECORD_KEYS.to_owned()),
            Err(e) => Err(format!("invalid JSON: {e}")),
        },
        // A JSON array is not one record; a `[` that is not JSON is a text line (`[WARNING] …`).
        b'[' if parse_value(body, limits).is_ok() => {
            Err("JSON array is not a log record".to_owned())
        }
        _ => match std::str::from_utf8(payload) {
            Ok(text) => Ok(Kind::Text(text)),
            Err(_) => Err("not UTF-8 text".to_owned()),
        },
    }
}

/// Maps a JSON object onto a record through the one [`RecordBuilder`], after reading the
/// generic senders' names the builder does not know (`severity`, `ts`, `@timestamp`) and
/// reading a non-Logbook `time` as a decimal fraction.
fn from_object(pairs: Vec<(String, Value)>, origin: &str, limits: &DecodeLimits) -> Record {
    // Logbook's `to_dict` names its logger `channel`; that switches the builder to Logbook's
    // level scale and `extra` flattening, so it goes in first (as `decode::json` does).
    let logbook = has_any(&pairs, &["channel"]);
    let have_level = has_any(&pairs, &["levelno", "levelname", "level_name", "level"]);
    let have_time = has_any(&pairs, &["created", "timestamp", "time"]);
    let mut time_taken = have_time;
    let mut level_taken = have_level;
    let mut b = RecordBuilder::new(SourceKind::Redis, origin, Rendering::Typed);
    let mut rest = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k == "channel" {
            b.set(&k, v);
        } else {
            rest.push((k, v));
        }
    }
    let decimal_time = !logbook && !has_any(&rest, &["created", "timestamp"]);
    for (k, v) in rest {
        match (k.as_str(), &v) {
            // `severity` is a name here (`"ERROR"`); a number could be syslog's 0–7, whose
            // order is reversed, so a number stays an extra.
            ("severity", Value::Str(_)) if !level_taken => {
                level_taken = true;
                b.set_field(Field::Level, v);
            }
            ("ts" | "@timestamp", _) if !time_taken => match epoch_of(&v) {
                Some(t) => {
                    time_taken = true;
                    b.set_field(Field::Created, t);
                }
                None => b.set_extra(k, v),
            },
            // The builder reads `time` by Logbook's rule (a short fraction counts
            // microseconds), which only Logbook's `to_dict` needs; anyone else's `.123` is 123 ms.
            // Both rules agree on the six digits `isoformat()` writes (Logbook's RedisHandler).
            ("time", Value::Str(s)) if decimal_time => match timefmt::parse_iso(s, false) {
                Some(t) => b.set_field(Field::Created, t),
                None => b.set(&k, v),
            },
            _ => b.set(&k, v),
        }
    }
    b.finish(limits)
}

/// Epoch seconds from a generic sender's `ts`/`@timestamp`: a number of seconds (or of
/// milliseconds, when it is past the year 5000 as seconds: JavaScript's `Date.now()`), or
/// an ISO 8601 text with a decimal fraction.
fn epoch_of(v: &Value) -> Option<f64> {
    /// Seconds since the epoch beyond which a number is taken as milliseconds (year 5138).
    const MILLIS_FROM: f64 = 1e11;
    let t = match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) if f.is_finite() => *f,
        Value::Str(s) => return timefmt::parse_iso(s, false),
        _ => return None,
    };
    Some(if t.abs() >= MILLIS_FROM {
        t / 1000.0
    } else {
        t
    })
}

/// A text line as a record: the line itself (one trailing line break dropped), its level read
/// from the text, stamped now, from the `root` logger as Python's `logging` would name it.
fn text_record(text: &str, origin: &str) -> Record {
    let line = text
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(text);
    let mut r = Record::new(SourceKind::Redis, origin);
    if let Some(level) = sniff_level(line) {
        r.set_level(level);
    }
    r.message = line.to_owned();
    r
}

/// The record of a payload that is not a record: its text (lossy UTF-8, at most
/// [`MAX_UNDECODABLE_TEXT`] bytes, cut on a character boundary) as the message, the level its
/// text names, and extras saying why (`undecodable`), how big it was (`payload_bytes`), whether
/// the message was cut (`truncated`) and, when the text is not the bytes (not UTF-8), the bytes
/// themselves in base64 (`raw`, at most [`MAX_RAW_BYTES`] of them).
fn undecodable(payload: &[u8], full_len: usize, why: &str, origin: &str) -> Record {
    use base64::Engine;
    let mut cut = payload.len().min(MAX_UNDECODABLE_TEXT);
    // Back off to the start of a UTF-8 sequence (at most 3 bytes), so valid text is not cut
    // mid-character.
    if cut < payload.len() {
        let mut back = 0;
        while back < 3 && cut > 0 && payload[cut] & 0xC0 == 0x80 {
            cut -= 1;
            back += 1;
        }
    }
    let kept = &payload[..cut];
    let text = String::from_utf8_lossy(kept);
    let exact = matches!(text, std::borrow::Cow::Borrowed(_));
    let mut r = Record::new(SourceKind::Redis, origin);
    if let Some(level) = sniff_level(&text) {
        r.set_level(level);
    }
    r.message = text.into_owned();
    r.extra
        .push((UNDECODABLE.to_owned(), Value::Str(why.to_owned())));
    r.extra
        .push(("payload_bytes".to_owned(), Value::count(full_len)));
    if cut < full_len {
        r.extra.push(("truncated".to_owned(), Value::Bool(true)));
    }
    if !exact {
        let raw = &payload[..payload.len().min(MAX_RAW_BYTES)];
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        r.extra.push(("raw".to_owned(), Value::Str(b64)));
    }
    r
}

/// The level a text line names near its start, if any: `level=error` (or `levelname=`), else
/// the first upper-case level name standing as a word (` ERROR `, `[WARNING]`, `INFO:`),
/// as the usual text formats write it. Looks at the first [`SNIFF_BYTES`] bytes only.
pub fn sniff_level(text: &str) -> Option<i32> {
    let head = &text.as_bytes()[..text.len().min(SNIFF_BYTES)];
    level_after_key(head).or_else(|| upper_word_level(head, text.len() > SNIFF_BYTES))
}

/// `level=NAME` / `levelname=NAME` (any case, the name optionally quoted).
fn level_after_key(head: &[u8]) -> Option<i32> {
    const KEY: &[u8] = b"level";
    let mut i = 0;
    while i + KEY.len() < head.len() {
        let at_word = i == 0 || !head[i - 1].is_ascii_alphanumeric();
        if at_word && head[i..i + KEY.len()].eq_ignore_ascii_case(KEY) {
            let mut j = i + KEY.len();
            if head[j..].len() >= 4 && head[j..j + 4].eq_ignore_ascii_case(b"name") {
                j += 4;
            }
            if head.get(j) == Some(&b'=') {
                j += 1;
                if matches!(head.get(j), Some(b'"' | b'\'')) {
                    j += 1;
                }
                let n = head[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .count();
                // Every level name is ASCII, so this slice is on character boundaries.
                let name = std::str::from_utf8(&head[j..j + n]).ok()?;
                if let Some(level) = record::level_from_name(name) {
                    return Some(level);
                }
            }
        }
        i += 1;
    }
    None
}

/// The first whole upper-case word that is a level name; `cut` says the text goes on past `head`.
fn upper_word_level(head: &[u8], cut: bool) -> Option<i32> {
    const NAMES: [(&[u8], i32); 10] = [
        (b"TRACE", record::TRACE),
        (b"DEBUG", record::DEBUG),
        (b"INFO", record::INFO),
        (b"NOTICE", record::NOTICE),
        (b"WARNING", record::WARNING),
        (b"WARN", record::WARNING),
        (b"ERROR", record::ERROR),
        (b"CRITICAL", record::CRITICAL),
        (b"FATAL", record::CRITICAL),
        (b"EXCEPTION", record::ERROR),
    ];
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < head.len() {
        if !word_char(head[i]) {
            i += 1;
            continue;
        }
        let n = head[i..].iter().take_while(|&&c| word_char(c)).count();
        let word = &head[i..i + n];
        // A word cut by the end of the head may be longer than it looks: skip it.
        if (i + n < head.len() || !cut)
            && let Some(&(_, level)) = NAMES.iter().find(|(name, _)| *name == word)
        {
            return Some(level);
        }
        i += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMARTER_INFO: &[u8] =
        include_bytes!("../../tests/fixtures/redis/smarter_0_logs_User.admin.json");
    const SMARTER_INFO_GLOBAL: &[u8] =
        include_bytes!("../../tests/fixtures/redis/smarter_1_logs_global.json");
    const SMARTER_ERROR: &[u8] =
        include_bytes!("../../tests/fixtures/redis/smarter_2_logs_User.admin.json");
    const SMARTER_JOB: &[u8] = include_bytes!(
        "../../tests/fixtures/redis/smarter_4_logs_job_45039018-3256-4094-b374-dc0b86a131c2.json"
    );
    const LOGBOOK_VALUES: &str =
        include_str!("../../tests/fixtures/redis/logbook_redis_rpush_values.ndjson");
    const TO_DICT_0: &[u8] = include_bytes!("../../tests/fixtures/redis/to_dict_json_safe_0.json");
    const TO_DICT_1: &[u8] = include_bytes!("../../tests/fixtures/redis/to_dict_json_safe_1.json");
    const ZMQ_FRAME: &[u8] = include_bytes!("../../tests/fixtures/redis/zeromq_frame.json");

    fn msg(channel: &str, payload: &[u8]) -> Decoded {
        decode_message(channel, payload, payload.len(), &DecodeLimits::default())
    }

    fn ok(channel: &str, payload: &[u8]) -> Record {
        let d = msg(channel, payload);
        assert!(!d.undecodable, "{:?}", d.record);
        d.record
    }

    fn extra<'a>(r: &'a Record, key: &str) -> Option<&'a Value> {
        r.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[test]
    fn channels_name_their_job() {
        assert_eq!(job_of_channel("logs:User.admin"), Some("User.admin"));
        assert_eq!(
            job_of_channel("logs:job_45039018-3256-4094-b374-dc0b86a131c2"),
            Some("job_45039018-3256-4094-b374-dc0b86a131c2")
        );
        assert_eq!(job_of_channel(GLOBAL_CHANNEL), None);
        assert_eq!(job_of_channel("logs:"), None);
        assert_eq!(job_of_channel("app-logs"), None);
        assert_eq!(job_of_channel("logs:global:x"), Some("global:x"));
    }

    #[test]
    fn smarter_payloads_keep_message_escapes_and_microseconds() {
        let r = ok("logs:User.admin", SMARTER_INFO);
        assert_eq!(
            r.message,
            "[2026-11-25 00:03:38] INFO \u{1b}[1;31msmarter.apps.prompt.views.PromptView()\u{1b}[0m rendered prompt 17 for Zo\u{eb}"
        );
        assert_eq!((r.level, r.levelname.as_str()), (20, "INFO"));
        assert_eq!(r.logger, "smarter.apps.prompt.views");
        assert_eq!(r.created, 1795565018.211189);
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2026-11-25T00:03:38.211189Z"
        );
        assert_eq!(r.host.as_deref(), Some("smarter-web-7d9f-abcde"));
        assert_eq!(r.job.as_deref(), Some("User.admin"));
        assert_eq!(
            (r.source, r.origin.as_str()),
            (SourceKind::Redis, "logs:User.admin")
        );
        assert!(r.extra.is_empty(), "{:?}", r.extra);

        let e = ok("logs:User.admin", SMARTER_ERROR);
        assert_eq!(e.level, 40);
        assert!(
            e.message
                .starts_with("[2026-11-25 00:03:38] ERROR failed\nTraceback")
        );
        assert!(e.message.ends_with("ZeroDivisionError: division by zero"));
        assert_eq!(e.created, 1795565018.2114208);
        assert_eq!(
            timefmt::rfc3339_micros(e.created),
            "2026-11-25T00:03:38.211421Z"
        );

        let j = ok("logs:job_45039018-3256-4094-b374-dc0b86a131c2", SMARTER_JOB);
        assert_eq!(
            j.job.as_deref(),
            Some("job_45039018-3256-4094-b374-dc0b86a131c2")
        );
        assert_eq!(j.level, 30);
        // The global copy is the same record without a job.
        let g = ok(GLOBAL_CHANNEL, SMARTER_INFO_GLOBAL);
        assert_eq!(g.job, None);
        assert_eq!(
            Record {
                job: None,
                origin: String::new(),
                ..r
            },
            Record {
                origin: String::new(),
                ..g
            }
        );
    }

    #[test]
    fn smarter_pod_null_is_no_host() {
        let p = br#"{
  "message": "x",
  "level": "DEBUG",
  "timestamp": 1.5,
  "logger": "l",
  "pod": null
}"#;
        let r = ok("logs:User.a", p);
        assert_eq!((r.host, r.level, r.created), (None, 10, 1.5));
    }

    #[test]
    fn logbook_redis_handler_values() {
        let lines: Vec<&str> = LOGBOOK_VALUES.lines().collect();
        let r = ok("redis", lines[0].as_bytes());
        assert_eq!(r.message, "disk {pct}% full on {}");
        assert_eq!(r.host.as_deref(), Some("vm"));
        assert_eq!((r.level, r.levelname.as_str()), (30, "WARNING"));
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2026-11-25T00:05:23.695571Z"
        );
        assert_eq!(extra(&r, "service"), Some(&Value::Str("billing".into())));
        assert_eq!(extra(&r, "pct"), Some(&Value::Int(93)));
        assert_eq!(r.job, None);
        // kwargs overwrote `message`: what was sent is what is stored.
        let r = ok("redis", lines[2].as_bytes());
        assert_eq!((r.message.as_str(), r.level), ("SHADOWED", 40));
        // Logbook's own names, and a time with no fraction (µs == 0).
        for (name, level) in [("NOTICE", 25), ("TRACE", 5), ("CRITICAL", 50)] {
            let p = format!(
                r#"{{"message": "m", "host": "vm", "level": "{name}", "time": "2026-11-25T00:05:23"}}"#
            );
            let r = ok("redis", p.as_bytes());
            assert_eq!((r.level, r.levelname.as_str()), (level, name));
            assert_eq!(
                timefmt::rfc3339_micros(r.created),
                "2026-11-25T00:05:23.000000Z"
            );
        }
        // A kwarg named `time` that is no time is kept, not lost.
        let r = ok("redis", br#"{"message": "m", "time": "soon"}"#);
        assert_eq!(extra(&r, "time"), Some(&Value::Str("soon".into())));
    }

    #[test]
    fn logbook_to_dict_scale_fraction_and_channel() {
        let r = ok("logs:global", TO_DICT_0);
        assert_eq!(r.logger, "billing.worker");
        assert_eq!((r.level, r.levelname.as_str()), (20, "INFO"));
        assert_eq!(r.message, "charged 1250 cents to Zo\u{eb}");
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2026-11-25T00:05:23.689020Z"
        );
        assert_eq!(extra(&r, "req"), Some(&Value::Int(7)));
        let r = ok("logs:global", TO_DICT_1);
        assert_eq!(r.level, 40);
        assert!(r.exc_text.as_deref().unwrap().ends_with("KeyError: 'k'"));
        // `extra.dt` keeps Logbook's unpadded fraction as the text it was.
        assert_eq!(
            extra(&r, "dt"),
            Some(&Value::Str("2024-01-02T03:04:05.5123Z".into()))
        );
        let r = ok("logs:global", ZMQ_FRAME);
        assert_eq!((r.level, r.levelname.as_str()), (25, "NOTICE"));
        // Logbook's broken ISO fraction: the digits count microseconds.
        let p = br#"{"channel": "c", "msg": "m", "level": 9, "time": "2026-11-25T00:05:25.5123Z"}"#;
        let r = ok("logs:global", p);
        assert_eq!((r.level, r.levelname.as_str()), (5, "TRACE"));
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2026-11-25T00:05:25.005123Z"
        );
    }

    #[test]
    fn generic_json_objects() {
        let r = ok(
            "app",
            br#"{"msg": "hi", "severity": "ERROR", "ts": 1700000000.25, "name": "svc"}"#,
        );
        assert_eq!(
            (r.message.as_str(), r.level, r.logger.as_str()),
            ("hi", 40, "svc")
        );
        assert_eq!(r.created, 1700000000.25);
        assert!(r.extra.is_empty(), "{:?}", r.extra);
        let r = ok(
            "app",
            br#"{"message": "m", "levelname": "warning", "@timestamp": "2024-01-01T00:00:00.123Z", "logger": "l"}"#,
        );
        assert_eq!(r.level, 30);
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2024-01-01T00:00:00.123000Z"
        );
        // A generic `time` with a millisecond fraction is milliseconds, not Logbook's microseconds.
        let r = ok("app", br#"{"msg": "m", "time": "2024-01-01T00:00:00.5Z"}"#);
        assert_eq!(
            timefmt::rfc3339_micros(r.created),
            "2024-01-01T00:00:00.500000Z"
        );
        // Milliseconds since the epoch.
        let r = ok("app", br#"{"msg": "m", "ts": 1700000000250}"#);
        assert_eq!(r.created, 1700000000.25);
        // A level key wins over `severity`, which is then an ordinary extra; a numeric
        // severity (syslog's reversed scale) stays an extra.
        let r = ok(
            "app",
            br#"{"msg": "m", "level": "DEBUG", "severity": "ERROR"}"#,
        );
        assert_eq!(r.level, 10);
        assert_eq!(extra(&r, "severity"), Some(&Value::Str("ERROR".into())));
        let r = ok("app", br#"{"msg": "m", "severity": 3}"#);
        assert_eq!((r.level, extra(&r, "severity")), (20, Some(&Value::Int(3))));
        // `ts` yields to `timestamp`.
        let r = ok("app", br#"{"msg": "m", "timestamp": 5.0, "ts": 7.0}"#);
        assert_eq!(
            (r.created, extra(&r, "ts")),
            (5.0, Some(&Value::Float(7.0)))
        );
        // A payload's own job gives way to the channel's, and is kept.
        let r = ok("logs:User.a", br#"{"msg": "m", "job": "other"}"#);
        assert_eq!(r.job.as_deref(), Some("User.a"));
        assert_eq!(extra(&r, "job"), Some(&Value::Str("other".into())));
        let r = ok("app", br#"{"msg": "m", "job": "own"}"#);
        assert_eq!(r.job.as_deref(), Some("own"));
    }

    #[test]
    fn text_lines_with_their_level() {
        let before = record::now_epoch();
        let r = ok("app", b"2024-01-01 12:00:00 ERROR db: connection refused\n");
        assert_eq!(
            r.message,
            "2024-01-01 12:00:00 ERROR db: connection refused"
        );
        assert_eq!((r.level, r.logger.as_str()), (40, "root"));
        assert!(r.created >= before);
        for (line, level) in [
            ("[WARNING] disk 93% full", 30),
            ("[2026-11-25 00:03:38] INFO started", 20),
            ("ts=1 level=error msg=boom", 40),
            ("levelname='critical' x", 50),
            ("CRITICAL:root:gone", 50),
            ("just words, no level; an error in lower case", 20),
            ("INFORMATION only", 20),
            ("WARNINGS are not WARNING", 30),
            ("DEBUG_MODE on", 20),
            ("{user} logged in", 20),
        ] {
            let d = msg("app", line.as_bytes());
            assert_eq!(d.record.level, level, "{line}");
            if line.starts_with('{') {
                // A text line that opens like an object is broken JSON, kept as its text.
                assert!(d.undecodable);
                assert_eq!(d.record.message, line);
            } else {
                assert!(!d.undecodable, "{line}");
            }
        }
        // The sniff reads the head only, whatever the length.
        let long = format!("{} ERROR", "x".repeat(10_000));
        assert_eq!(sniff_level(&long), None);
        assert_eq!(ok("app", b"\"quoted\"").message, "\"quoted\"");
    }

    #[test]
    fn undecodable_payloads_are_kept_as_marked_text() {
        let cases: [(&[u8], &str); 6] = [
            (b"{\"message\": \"cut", "invalid JSON"),
            (b"{\"event\": \"no record keys\"}", "none of the keys"),
            (b"[1, 2, 3]", "JSON array"),
            (b"", "empty"),
            (b"  \n", "empty"),
            (b"\x80\x02}q\x00ERROR (pickle)", "not UTF-8"),
        ];
        for (p, why) in cases {
            let d = msg("logs:User.a", p);
            assert!(d.undecodable, "{p:?}");
            let r = &d.record;
            let reason = extra(r, UNDECODABLE).and_then(Value::as_str).unwrap();
            assert!(reason.contains(why), "{reason} for {p:?}");
            assert_eq!(extra(r, "payload_bytes"), Some(&Value::Int(p.len() as i64)));
            assert_eq!(r.job.as_deref(), Some("User.a"));
            assert_eq!(r.source, SourceKind::Redis);
        }
        let d = msg("a", b"{\"message\": \"cut");
        assert_eq!(d.record.message, "{\"message\": \"cut");
        assert_eq!(extra(&d.record, "raw"), None);
        // Not UTF-8: lossy text, the bytes in base64, and the level its text names.
        let d = msg("a", b"\x80\x02}q\x00ERROR (pickle)");
        assert_eq!(d.record.message, "\u{fffd}\u{2}}q\u{0}ERROR (pickle)");
        assert_eq!(d.record.level, 40);
        assert_eq!(
            extra(&d.record, "raw"),
            Some(&Value::Str("gAJ9cQBFUlJPUiAocGlja2xlKQ==".into()))
        );
    }

    #[test]
    fn oversized_and_deep_payloads_are_bounded() {
        let limits = DecodeLimits {
            max_frame: 1000,
            ..DecodeLimits::default()
        };
        // The caller kept a part of a bigger message.
        let part = "é".repeat(400);
        let d = decode_message("a", part.as_bytes(), 5_000_000, &limits);
        assert!(d.undecodable);
        assert!(
            extra(&d.record, UNDECODABLE)
                .unwrap()
                .as_str()
                .unwrap()
                .contains("exceeds")
        );
        assert_eq!(
            extra(&d.record, "payload_bytes"),
            Some(&Value::Int(5_000_000))
        );
        assert_eq!(extra(&d.record, "truncated"), Some(&Value::Bool(true)));
        // Big valid text is cut on a character boundary, so it stays exact UTF-8 (no raw copy).
        let big = format!("{{{}", "é".repeat(MAX_UNDECODABLE_TEXT));
        let d = msg("a", big.as_bytes());
        assert!(d.record.message.len() <= MAX_UNDECODABLE_TEXT);
        assert!(d.record.message.len() > MAX_UNDECODABLE_TEXT - 4);
        assert!(!d.record.message.contains('\u{fffd}'));
        assert_eq!(extra(&d.record, "raw"), None);
        assert_eq!(extra(&d.record, "truncated"), Some(&Value::Bool(true)));
        // Nesting past the limit is refused by the iterative reader, not a stack overflow.
        let deep = format!(
            "{{\"msg\": {}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let d = msg("a", deep.as_bytes());
        assert!(d.undecodable);
        assert!(d.record.message.len() <= MAX_UNDECODABLE_TEXT);
        let raw = vec![0xffu8; 200_000];
        let d = msg("a", &raw);
        let Some(Value::Str(b64)) = extra(&d.record, "raw") else {
            panic!("raw kept")
        };
        assert_eq!(b64.len(), MAX_RAW_BYTES / 3 * 4);
    }

    #[test]
    fn every_payload_gives_one_record() {
        // A crude fuzz over prefixes and byte flips of the captured payloads.
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for p in [SMARTER_INFO, SMARTER_ERROR, TO_DICT_1, ZMQ_FRAME] {
            for n in (0..p.len()).step_by(7) {
                inputs.push(p[..n].to_vec());
                let mut flipped = p.to_vec();
                flipped[n] ^= 0x80;
                inputs.push(flipped);
            }
        }
        for p in inputs {
            let d = msg("logs:global", &p);
            assert_eq!(d.record.source, SourceKind::Redis);
            assert_eq!(d.record.origin, "logs:global");
        }
    }
}
