//! Smarter's RedisLogHandler payload for a record, byte for byte as `smarter.lib.json.dumps`
//! writes it: `{message, level, timestamp, logger, pod}`, indent 2, ASCII only (`\uXXXX`).
//!
//! What `decode::redis` reads back as the same record: the message (with the traceback after a
//! line break, as Smarter's formatter puts it), the level name, the time, the logger and the host.

use crate::record::Record;
use crate::value::write_float;
use std::fmt::Write as _;

/// The JSON text Smarter publishes for `r`.
pub fn payload(r: &Record) -> String {
    let mut out = String::with_capacity(128 + r.message.len());
    out.push_str("{\n  \"message\": ");
    match &r.exc_text {
        Some(tb) if !tb.is_empty() => ascii_str(&format!("{}\n{tb}", r.message), &mut out),
        _ => ascii_str(&r.message, &mut out),
    }
    out.push_str(",\n  \"level\": ");
    ascii_str(&r.levelname, &mut out);
    out.push_str(",\n  \"timestamp\": ");
    write_float(r.created, &mut out);
    out.push_str(",\n  \"logger\": ");
    ascii_str(&r.logger, &mut out);
    out.push_str(",\n  \"pod\": ");
    match &r.host {
        Some(h) => ascii_str(h, &mut out),
        None => out.push_str("null"),
    }
    out.push_str("\n}");
    out
}

/// A JSON string as Python's `json.dumps(..., ensure_ascii=True)` writes it: the short escapes
/// for `"`, `\`, `\n`, `\r`, `\t`, `\b`, `\f`; every other character outside space..`~` as
/// `\u` and four lowercase hex digits (a surrogate pair above U+FFFF).
fn ascii_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::redis::decode_payload;
    use crate::record::SourceKind;

    #[test]
    fn smarters_own_capture_is_reproduced_byte_for_byte() {
        let want = include_str!("../../tests/fixtures/redis/smarter_0_logs_User.admin.json");
        let got = decode_payload(
            want.as_bytes(),
            want.len(),
            "logs:User.admin",
            &crate::limits::Limits::default().decode(),
        );
        assert!(!got.undecodable);
        assert_eq!(payload(&got.record), want.trim_end());
    }

    #[test]
    fn a_record_round_trips_through_the_redis_decoder() {
        let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:5000");
        r.set_level(40);
        r.logger = "svc.pay\u{e9}".into();
        r.message = "card \"4242\" declined \u{1b}[31m\\ Zo\u{eb} \u{1f600}\tend".into();
        r.created = 1_795_565_018.25;
        r.host = Some("web-1".into());
        let text = payload(&r);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("\\ud83d\\ude00"), "{text}");
        assert!(text.starts_with("{\n  \"message\": "), "{text}");
        let back = decode_payload(
            text.as_bytes(),
            text.len(),
            "logs:alerts",
            &crate::limits::Limits::default().decode(),
        );
        assert!(!back.undecodable);
        let b = back.record;
        assert_eq!(
            (
                &b.message,
                b.level,
                &b.levelname,
                b.created,
                &b.logger,
                &b.host
            ),
            (&r.message, 40, &r.levelname, r.created, &r.logger, &r.host)
        );
        r.exc_text = Some("Traceback (most recent call last):\n  boom".into());
        r.host = None;
        let text = payload(&r);
        assert!(text.ends_with("\"pod\": null\n}"), "{text}");
        let b = decode_payload(
            text.as_bytes(),
            text.len(),
            "logs:alerts",
            &crate::limits::Limits::default().decode(),
        )
        .record;
        assert_eq!(
            b.message,
            format!(
                "{}\n{}",
                r.message, "Traceback (most recent call last):\n  boom"
            )
        );
        assert_eq!(b.host, None);
    }
}
