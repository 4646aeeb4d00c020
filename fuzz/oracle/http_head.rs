//! The request-head parser logtui had before it used httparse, kept verbatim as the oracle, and
//! [`check`], which the fuzz target and `tests/http_head.rs` use to hold the new one to it.

use logtui::decode::DecodeError;
use logtui::decode::form::text_lossless;
use logtui::decode::httpreq::{self, Head};

/// Parses `buf` with logtui's parser and with the oracle, and panics where they disagree.
///
/// They must give the same head and length, both need more bytes, or refuse alike (too large
/// with the same figures, or malformed). The one intended difference: a head with more than
/// [`httpreq::MAX_HEADERS`] field lines is refused as too large, whatever the oracle made of it.
pub fn check(buf: &[u8], max_head: usize) {
    let new = httpreq::parse_head(buf, max_head);
    let old = parse_head(buf, max_head);
    if let Ok(Some((_, n))) = &new {
        assert_eq!(
            Some(*n),
            httpreq::find_head_end(buf, 0),
            "length for {buf:?}"
        );
    }
    let agree = match (&new, &old) {
        (Ok(a), Ok(b)) => a == b,
        (Err(DecodeError::TooLarge(_)), _) => field_lines(buf) > httpreq::MAX_HEADERS,
        (Err(a @ DecodeError::FrameTooLarge { .. }), Err(b)) => a == b,
        (Err(DecodeError::Malformed { .. }), Err(DecodeError::Malformed { .. })) => true,
        _ => false,
    };
    assert!(
        agree,
        "httparse-based {new:?}\n   hand-written {old:?}\n for {:?}",
        String::from_utf8_lossy(buf)
    );
}

/// Lines between the request line and the empty line of a complete head (0 if incomplete).
fn field_lines(buf: &[u8]) -> usize {
    let lead = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    httpreq::find_head_end(buf, 0).map_or(0, |end| {
        let lines = buf[lead..end].iter().filter(|&&c| c == b'\n').count();
        lines.saturating_sub(2)
    })
}

/// Longest method token accepted; the longest registered method is 17 characters.
const MAX_METHOD: usize = 32;

/// Finds the end of a request head: the index just past the first empty line
/// (`\r\n\r\n`, or bare `\n\n`), ignoring blank lines before the request line.
///
/// `from` lets a caller resume a search over a growing buffer: pass the previous
/// length minus 2, and each byte is examined a bounded number of times.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let lead = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    let mut i = from.max(lead);
    while i < buf.len() {
        let nl = i + buf[i..].iter().position(|&c| c == b'\n')?;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            (None, _) | (Some(b'\r'), None) => return None,
            _ => i = nl + 1,
        }
    }
    None
}

/// Parses a request head from the start of `buf`.
///
/// Returns the head and its length in bytes once the empty line has arrived,
/// `Ok(None)` when more bytes are needed, and an error when the bytes cannot be
/// HTTP/1.x or the head would exceed `max_head` (`FrameTooLarge`). The request
/// line is checked as soon as it is complete, so a stranger speaking another
/// protocol is turned away without waiting for the cap.
pub fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<(Head, usize)>, DecodeError> {
    let Some(end) = find_head_end(buf, 0) else {
        let lead = buf
            .iter()
            .take_while(|&&c| c == b'\r' || c == b'\n')
            .count();
        if let Some(nl) = buf[lead..].iter().position(|&c| c == b'\n') {
            request_line(trim_cr(&buf[lead..lead + nl]))?;
        } else {
            // The method is a short token: anything else this early (a TLS hello, binary) is not HTTP.
            let method = buf[lead..].iter().take_while(|&&c| c != b' ');
            for (len, &c) in method.enumerate() {
                if !is_tchar(c) || len >= MAX_METHOD {
                    return Err(bad("not an HTTP request"));
                }
            }
        }
        if buf.len() >= max_head {
            return Err(DecodeError::FrameTooLarge {
                len: buf.len() as u64,
                max: max_head,
            });
        }
        return Ok(None);
    };
    if end > max_head {
        return Err(DecodeError::FrameTooLarge {
            len: end as u64,
            max: max_head,
        });
    }
    let lead = buf
        .iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count();
    let mut lines = buf[lead..end].split(|&c| c == b'\n').map(trim_cr);
    let (method, target, version_1_0) = request_line(lines.next().unwrap_or_default())?;
    let mut head = Head {
        method,
        target,
        version_1_0,
        content_length: None,
        chunked: false,
        content_type: None,
        authorization: None,
        connection_close: false,
        expect_continue: false,
    };
    let mut keep_alive = false;
    let mut codings: Vec<String> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(bad("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|&c| c == b':')
            .ok_or_else(|| bad("header line without ':'"))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return Err(bad("invalid header name"));
        }
        let raw = &line[colon + 1..];
        if raw.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return Err(bad("control character in header value"));
        }
        // Header bytes beyond ASCII are obs-text: keep them losslessly rather than refuse.
        let value = text_lossless(raw);
        let value = value.trim_matches([' ', '\t']);
        let name = std::str::from_utf8(name)
            .unwrap_or_default()
            .to_ascii_lowercase();
        match name.as_str() {
            "content-length" => {
                // A repeated header or a list must agree on one value (RFC 9110 §8.6).
                for part in value.split(',') {
                    let part = part.trim();
                    if part.is_empty()
                        || part.len() > 19
                        || !part.bytes().all(|c| c.is_ascii_digit())
                    {
                        return Err(bad("invalid Content-Length"));
                    }
                    let n: u64 = part.parse().map_err(|_| bad("invalid Content-Length"))?;
                    if head.content_length.is_some_and(|m| m != n) {
                        return Err(bad("conflicting Content-Length"));
                    }
                    head.content_length = Some(n);
                }
            }
            "transfer-encoding" => codings.extend(
                value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            ),
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        head.connection_close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        keep_alive = true;
                    }
                }
            }
            "expect" => head.expect_continue |= value.eq_ignore_ascii_case("100-continue"),
            "content-type" => head.content_type = Some(value.to_owned()),
            "authorization" => {
                if head.authorization.is_some() {
                    return Err(bad("repeated Authorization"));
                }
                head.authorization = Some(value.to_owned());
            }
            _ => {}
        }
    }
    if !codings.is_empty() {
        // Only plain chunked framing is understood; gzip and friends are refused rather than stored as noise.
        if codings.iter().any(|c| c != "chunked") || codings.len() > 1 {
            return Err(bad("unsupported Transfer-Encoding"));
        }
        if head.version_1_0 {
            return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        // Both framings at once is how requests are smuggled past proxies: refuse it.
        if head.content_length.is_some() {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        head.chunked = true;
    }
    if head.version_1_0 && !keep_alive {
        head.connection_close = true;
    }
    Ok(Some((head, end)))
}

fn bad(detail: &str) -> DecodeError {
    DecodeError::malformed("HTTP head", detail)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `METHOD SP target SP HTTP/1.x`.
fn request_line(line: &[u8]) -> Result<(String, String, bool), DecodeError> {
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("request line is not METHOD TARGET VERSION"));
    };
    if method.is_empty() || !method.iter().all(|&c| is_tchar(c)) {
        return Err(bad("invalid method"));
    }
    if target.is_empty() || target.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(bad("invalid request target"));
    }
    let version_1_0 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return Err(bad("unsupported HTTP version")),
    };
    Ok((text_lossless(method), text_lossless(target), version_1_0))
}

/// A `token` character (RFC 9110 §5.6.2): what methods and header names are made of.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}
