//! `application/x-www-form-urlencoded` bodies and GET query strings, as `logging.handlers.HTTPHandler` sends them.
//! Every value arrived through Python's `str()`, so the pairs go to [`RecordBuilder`] with [`Rendering::Text`].

use crate::decode::DecodeError;
use crate::decode::logrecord::RECORD_KEYS;
use crate::decode::logrecord::{RecordBuilder, Rendering};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::value::Value;

/// Decodes one urlencoded body or query string into a record.
///
/// `+` is a space and `%XX` a byte; a `%` not followed by two hex digits is kept
/// as written. Bytes are read as UTF-8, and any byte that is not valid UTF-8 is
/// kept as the Latin-1 character of the same value, so nothing is lost or replaced.
pub fn decode_form(
    data: &[u8],
    limits: &DecodeLimits,
    origin: &str,
) -> Result<Record, DecodeError> {
    if data.len() > limits.max_frame {
        return Err(DecodeError::FrameTooLarge {
            len: data.len() as u64,
            max: limits.max_frame,
        });
    }
    let mut builder = RecordBuilder::new(SourceKind::Http, origin, Rendering::Text);
    let mut is_record = false;
    let mut pairs = 0usize;
    let mut decoded = 0usize;
    for part in data.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        pairs += 1;
        if pairs > limits.max_items {
            return Err(DecodeError::TooLarge("item"));
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        let key = text_lossless(&unquote_plus(k));
        let value = text_lossless(&unquote_plus(v));
        decoded += key.len() + value.len();
        if decoded > limits.max_decoded {
            return Err(DecodeError::TooLarge("decoded size"));
        }
        is_record |= RECORD_KEYS.contains(&key.as_str());
        builder.set(&key, Value::Str(value));
    }
    if !is_record {
        return Err(DecodeError::NotARecord(
            "form has none of the keys msg, message, name, channel, logger".to_owned(),
        ));
    }
    Ok(builder.finish(limits))
}

/// Undoes `urllib.parse.quote_plus`: `+` is a space, `%XX` a byte, a bad escape stays literal.
pub fn unquote_plus(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).and_then(|h| {
                    let hi = (h[0] as char).to_digit(16)?;
                    let lo = (h[1] as char).to_digit(16)?;
                    Some((hi * 16 + lo) as u8)
                });
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Reads bytes as UTF-8, mapping each byte of an invalid sequence to the Latin-1
/// character with that value, so a Latin-1 sender's `é` still reads as `é` and no input is replaced by U+FFFD.
pub fn text_lossless(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|&b| char::from(b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<Record, DecodeError> {
        decode_form(body.as_bytes(), &DecodeLimits::default(), "127.0.0.1:9")
    }

    #[test]
    fn httphandler_pairs_become_a_formatted_record() {
        let r = form(
            "name=web.api&msg=disk+%25s+at+%25d%25%25&args=%28%27%2Fdev%2Fsda1%27%2C+93%29\
             &levelname=WARNING&levelno=30&created=1795564953.8253715&user=Zo%C3%AB&n=None",
        )
        .unwrap();
        assert_eq!(r.logger, "web.api");
        assert_eq!(r.message, "disk /dev/sda1 at 93%");
        assert_eq!((r.level, r.levelname.as_str()), (30, "WARNING"));
        assert_eq!(r.created, 1795564953.8253715);
        assert_eq!(r.source, SourceKind::Http);
        assert_eq!(r.origin, "127.0.0.1:9");
        assert_eq!(
            r.extra,
            vec![
                ("user".to_owned(), Value::Str("Zoë".into())),
                ("n".to_owned(), Value::Null)
            ]
        );
    }

    #[test]
    fn escapes_plus_and_bad_percent() {
        assert_eq!(unquote_plus(b"a+b%20c%2"), b"a b c%2");
        assert_eq!(unquote_plus(b"%zz%4"), b"%zz%4");
        assert_eq!(unquote_plus(b"%C3%A9%e9"), b"\xc3\xa9\xe9");
        let r = form("msg=100%+done%ZZ&name=x").unwrap();
        assert_eq!(r.message, "100% done%ZZ");
    }

    #[test]
    fn invalid_utf8_falls_back_to_latin1() {
        assert_eq!(text_lossless(b"caf\xe9 ok \xc3\xa9"), "café ok é");
        assert_eq!(text_lossless(b"\xff\xfe"), "ÿþ");
        let r = form("msg=caf%E9&name=x").unwrap();
        assert_eq!(r.message, "café");
    }

    #[test]
    fn empty_args_leave_the_template_alone() {
        // Python logs `log.info("100%%")` as `100%%`: no args, no formatting.
        let r = form("msg=100%25%25&args=%28%29&name=x").unwrap();
        assert_eq!(r.message, "100%%");
        assert!(r.extra.is_empty());
    }

    #[test]
    fn non_literal_args_keep_template_and_args_text() {
        let r =
            form("msg=at+%25s&args=%28datetime.datetime%282026%2C+1%2C+2%29%2C%29&name=x").unwrap();
        assert_eq!(r.message, "at %s");
        assert_eq!(
            r.extra,
            vec![(
                "args".to_owned(),
                Value::Str("(datetime.datetime(2026, 1, 2),)".into())
            )]
        );
        // Args that do not fit the template: Python would raise, so nothing is guessed.
        let r = form("msg=%25d&args=%28%27x%27%2C%29&name=x").unwrap();
        assert_eq!(r.message, "%d");
    }

    #[test]
    fn forms_without_record_keys_are_not_records() {
        assert!(matches!(form("a=1&b=2"), Err(DecodeError::NotARecord(_))));
        assert!(matches!(form(""), Err(DecodeError::NotARecord(_))));
        assert!(form("name=only").is_ok());
        let small = DecodeLimits {
            max_items: 2,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode_form(b"name=a&b=1&c=2", &small, "o"),
            Err(DecodeError::TooLarge("item"))
        );
        let tiny = DecodeLimits {
            max_frame: 4,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode_form(b"name=a", &tiny, "o"),
            Err(DecodeError::FrameTooLarge { len: 6, max: 4 })
        ));
    }
}
