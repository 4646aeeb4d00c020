//! HTTP/1.x request heads, Basic auth and chunked bodies, parsed from bytes with no I/O.
//! The HTTP listener reads the socket; this file decides what the bytes mean, so it can be tested without one.

use crate::decode::DecodeError;
use crate::decode::form::text_lossless;
use base64::Engine as _;

/// Largest request head (request line plus headers) accepted: 64 KiB. HTTPHandler's
/// GET puts the whole record in the URL, so a record with a long message or
/// stack makes a long request line; 64 KiB is about what common servers allow, and bounds each connection's buffer.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size line or trailer line in a chunked body. Real ones are a
/// few hex digits; the cap stops a sender from making us buffer an endless line.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Longest method token accepted; the longest registered method is 17 characters.
const MAX_METHOD: usize = 32;

/// The parts of a request head that the listener acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent: `/path?query`, or an absolute URL.
    pub target: String,
    /// HTTP/1.0 (Python 2's `httplib.HTTP`, as Camelot used); otherwise HTTP/1.1.
    pub version_1_0: bool,
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    /// The connection ends after this request: `Connection: close`, or HTTP/1.0 without `keep-alive`.
    pub connection_close: bool,
    /// `Expect: 100-continue`: the client waits for a `100 Continue` before sending the body.
    pub expect_continue: bool,
}

impl Head {
    /// The query string after `?`, if any (without a `#fragment`).
    pub fn query(&self) -> Option<&str> {
        let q = self.target.split_once('?')?.1;
        Some(q.split('#').next().unwrap_or(q))
    }

    /// The media type of `Content-Type` in lower case, without parameters (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        let ct = self.content_type.as_deref()?;
        let essence = ct.split(';').next().unwrap_or(ct).trim();
        (!essence.is_empty()).then(|| essence.to_ascii_lowercase())
    }
}

/// Finds the end of a request head: the index just past the first empty line
/// (`\r\n\r\n`, or bare `\n\n`), ignoring blank lines before the request line.
///
/// `from` lets a caller resume a search over a growing buffer: pass the previous
/// length minus 2, and each byte is examined a bounded number of times.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
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

/// Most header fields one request head may carry: 64. Python's HTTPHandler sends four to six
/// (Host, Content-type, Content-length, Authorization, Accept-Encoding), proxies add a handful;
/// httparse fills a fixed array, so this also bounds the per-request work on the stack. A head
/// with more is refused as too large (431), as an oversized head is.
pub const MAX_HEADERS: usize = 64;

/// Parses a request head from the start of `buf`.
///
/// Returns the head and its length in bytes once the empty line has arrived,
/// `Ok(None)` when more bytes are needed, and an error when the bytes cannot be
/// HTTP/1.x, the head would exceed `max_head` (`FrameTooLarge`) or it has more than
/// [`MAX_HEADERS`] fields (`TooLarge`). The request line is checked as soon as it is
/// complete, so a stranger speaking another protocol is turned away without waiting for the cap.
///
/// The syntax (request line, header names and values, line ends) is httparse's; what the
/// fields mean and which combinations are refused (framing, repeats) is logtui's own, below.
pub fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<(Head, usize)>, DecodeError> {
    let lead = leading_blank(buf);
    let Some(end) = find_head_end(buf, 0) else {
        if let Some(nl) = buf[lead..].iter().position(|&c| c == b'\n') {
            parse_request(&buf[lead..=lead + nl], &mut [])?;
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
    let raw = &buf[lead..end];
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let parsed = parse_request(raw, &mut fields)?;
    if parsed.len != Some(raw.len()) {
        // find_head_end and httparse agree on where a head ends; if they ever do not, refuse.
        return Err(bad("head ends where no empty line is"));
    }
    let method = &raw[..parsed.method_len];
    // httparse allows exactly one space after the method, so the target's bytes are these.
    let target = &raw[parsed.method_len + 1..parsed.method_len + 1 + parsed.target_len];
    let mut head = Head {
        method: text_lossless(method),
        target: text_lossless(target),
        version_1_0: parsed.version_1_0,
        content_length: None,
        chunked: false,
        content_type: None,
        authorization: None,
        connection_close: false,
        expect_continue: false,
    };
    let mut keep_alive = false;
    let mut codings: Vec<String> = Vec::new();
    for field in &fields[..parsed.fields] {
        // Header bytes beyond ASCII are obs-text: keep them losslessly rather than refuse.
        let value = text_lossless(field.value);
        let value = value.trim_matches([' ', '\t']);
        let name = field.name;
        if name.eq_ignore_ascii_case("content-length") {
            // A repeated header or a list must agree on one value (RFC 9110 §8.6).
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || part.len() > 19 || !part.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad("invalid Content-Length"));
                }
                let n: u64 = part.parse().map_err(|_| bad("invalid Content-Length"))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(bad("conflicting Content-Length"));
                }
                head.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            codings.extend(
                value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            );
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.connection_close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue |= value.eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("authorization") {
            if head.authorization.is_some() {
                return Err(bad("repeated Authorization"));
            }
            head.authorization = Some(value.to_owned());
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

/// How many CR and LF bytes open `buf`: blank lines before the request line, which are dropped
/// (RFC 9112 §2.2). Any mix counts, as it always has; httparse would refuse a CR not followed by LF.
fn leading_blank(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&c| c == b'\r' || c == b'\n')
        .count()
}

/// What httparse found in a complete request line, and in the fields after it.
struct Parsed {
    method_len: usize,
    target_len: usize,
    version_1_0: bool,
    /// Bytes from the request line through the empty line; `None` while fields are still arriving.
    len: Option<usize>,
    /// How many entries of the caller's array hold fields.
    fields: usize,
}

/// Runs httparse over `raw` (no leading blank lines, request line complete), mapping its errors
/// to logtui's: the request line first, then the fields into `fields`.
///
/// httparse wants a UTF-8 request target, but Python 2's httplib sends a byte-string path as
/// it is, and logtui reads such a target as Latin-1 ([`text_lossless`]). So when the request
/// line is not UTF-8, httparse reads a copy of it with each byte past ASCII replaced by `@`:
/// a byte that is valid in a target and invalid in a method or version, as bytes past ASCII are.
/// The caller takes the target from the original bytes.
fn parse_request<'b>(
    raw: &'b [u8],
    fields: &mut [httparse::Header<'b>],
) -> Result<Parsed, DecodeError> {
    let line_end = raw
        .iter()
        .position(|&c| c == b'\n')
        .map_or(raw.len(), |p| p + 1);
    let patched;
    let line = match std::str::from_utf8(&raw[..line_end]) {
        Ok(_) => &raw[..line_end],
        Err(_) => {
            patched = raw[..line_end]
                .iter()
                .map(|&c| if c.is_ascii() { c } else { b'@' })
                .collect::<Vec<u8>>();
            &patched[..]
        }
    };
    let mut none = [httparse::EMPTY_HEADER; 0];
    let mut req = httparse::Request::new(&mut none);
    // The request line alone: httparse then waits for fields, or says what is wrong.
    match req.parse(line).map_err(httparse_error)? {
        httparse::Status::Partial if req.version.is_some() => {}
        _ => return Err(bad("request line is not METHOD TARGET VERSION")),
    }
    let mut parsed = Parsed {
        method_len: req.method.map_or(0, str::len),
        target_len: req.path.map_or(0, str::len),
        version_1_0: req.version == Some(0),
        len: None,
        fields: 0,
    };
    if let httparse::Status::Complete((n, found)) =
        httparse::parse_headers(&raw[line_end..], fields).map_err(httparse_error)?
    {
        parsed.len = Some(line_end + n);
        parsed.fields = found.len();
    }
    Ok(parsed)
}

/// logtui's answer for each httparse refusal: too many fields is a head too large (431), the rest is 400.
fn httparse_error(e: httparse::Error) -> DecodeError {
    match e {
        httparse::Error::TooManyHeaders => DecodeError::TooLarge("64-header"),
        httparse::Error::Token => bad("invalid method or request target"),
        httparse::Error::Version => bad("unsupported HTTP version"),
        // A line that opens with a space (obsolete line folding) or lacks its ':' lands here too.
        httparse::Error::HeaderName => bad("invalid header name"),
        httparse::Error::HeaderValue => bad("control character in header value"),
        httparse::Error::NewLine => bad("carriage return not followed by line feed"),
        httparse::Error::Status => bad("request line is not METHOD TARGET VERSION"),
    }
}

fn bad(detail: &str) -> DecodeError {
    DecodeError::malformed("HTTP head", detail)
}

/// A `token` character (RFC 9110 §5.6.2): what methods are made of. Checked by hand only while
/// the request line has not ended, so a stranger's binary is refused before httparse can see it.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Checks an `Authorization` header against the configured Basic credentials.
///
/// HTTPHandler sends `Basic base64("user:password")` of the UTF-8 text; the
/// password may itself contain `:`, so only the first `:` splits. The comparison
/// does not stop at the first differing byte, so timing says little about the secret.
pub fn basic_auth_ok(header: Option<&str>, user: &str, password: &str) -> bool {
    let Some(h) = header else { return false };
    let h = h.trim();
    let Some((scheme, token)) = h.split_once([' ', '\t']) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let token = token.trim();
    let Ok(decoded) = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(token))
    else {
        return false;
    };
    let mut expected = Vec::with_capacity(user.len() + password.len() + 1);
    expected.extend_from_slice(user.as_bytes());
    expected.push(b':');
    expected.extend_from_slice(password.as_bytes());
    // A user name cannot hold ':', so `user:pass` compared whole splits at the first ':' as required.
    !user.contains(':') && ct_eq(&decoded, &expected)
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where a [`ChunkedDecoder`] is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

/// Decodes a `Transfer-Encoding: chunked` body incrementally: feed it bytes as
/// they arrive; it takes what it can use and says how much that was.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: ChunkState,
    body: Vec<u8>,
    max_body: usize,
    line: Vec<u8>,
    trailer_bytes: usize,
}

impl ChunkedDecoder {
    /// A decoder that refuses bodies larger than `max_body` bytes.
    pub fn new(max_body: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: ChunkState::Size,
            body: Vec::new(),
            max_body,
            line: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// True once the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// The body so far (all of it once [`is_done`](Self::is_done)).
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Consumes from `input`; returns how many bytes were used. Stops at the end
    /// of the body, so bytes of a following request are left alone.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut i = 0;
        while i < input.len() && self.state != ChunkState::Done {
            match self.state {
                ChunkState::Size | ChunkState::Trailer | ChunkState::DataEnd => {
                    let Some(line) = self.take_line(input, &mut i)? else {
                        break;
                    };
                    self.on_line(&line)?;
                }
                ChunkState::Data(left) => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    self.body.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::Done => {}
            }
        }
        Ok(i)
    }

    /// Accumulates one line; `None` until its `\n` has arrived.
    fn take_line(&mut self, input: &[u8], i: &mut usize) -> Result<Option<Vec<u8>>, DecodeError> {
        let rest = &input[*i..];
        let (chunk, complete) = match rest.iter().position(|&c| c == b'\n') {
            Some(p) => (&rest[..=p], true),
            None => (rest, false),
        };
        if self.line.len() + chunk.len() > MAX_CHUNK_LINE {
            return Err(DecodeError::malformed("chunked body", "line too long"));
        }
        self.line.extend_from_slice(chunk);
        *i += chunk.len();
        if !complete {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), DecodeError> {
        match self.state {
            ChunkState::DataEnd => {
                if !line.is_empty() {
                    return Err(DecodeError::malformed(
                        "chunked body",
                        "chunk not followed by CRLF",
                    ));
                }
                self.state = ChunkState::Size;
            }
            ChunkState::Size => {
                let hex = line.split(|&c| c == b';').next().unwrap_or_default();
                let hex = std::str::from_utf8(hex)
                    .unwrap_or("")
                    .trim_matches([' ', '\t']);
                if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(DecodeError::malformed("chunked body", "bad chunk size"));
                }
                let size = u64::from_str_radix(hex, 16)
                    .map_err(|_| DecodeError::malformed("chunked body", "bad chunk size"))?;
                let total = (self.body.len() as u64).saturating_add(size);
                if total > self.max_body as u64 {
                    return Err(DecodeError::FrameTooLarge {
                        len: total,
                        max: self.max_body,
                    });
                }
                self.state = if size == 0 {
                    ChunkState::Trailer
                } else {
                    ChunkState::Data(size)
                };
            }
            ChunkState::Trailer => {
                self.trailer_bytes += line.len();
                if self.trailer_bytes > DEFAULT_MAX_HEAD {
                    return Err(DecodeError::malformed("chunked body", "trailers too long"));
                }
                if line.is_empty() {
                    self.state = ChunkState::Done;
                }
            }
            ChunkState::Data(_) | ChunkState::Done => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] =
        b"GET /log?name=a&msg=b HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n";

    fn head(raw: &[u8]) -> Head {
        parse_head(raw, DEFAULT_MAX_HEAD).unwrap().unwrap().0
    }

    #[test]
    fn complete_head_and_its_length() {
        let mut raw = GET.to_vec();
        raw.extend_from_slice(b"NEXT");
        let (h, n) = parse_head(&raw, DEFAULT_MAX_HEAD).unwrap().unwrap();
        assert_eq!(n, GET.len());
        assert_eq!(
            (h.method.as_str(), h.target.as_str()),
            ("GET", "/log?name=a&msg=b")
        );
        assert_eq!(h.query(), Some("name=a&msg=b"));
        assert!(!h.version_1_0 && !h.connection_close && !h.chunked);
        // Every prefix is "need more".
        for cut in 0..GET.len() {
            assert_eq!(
                parse_head(&GET[..cut], DEFAULT_MAX_HEAD),
                Ok(None),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn headers_that_matter() {
        let h = head(
            b"\r\nPOST /log HTTP/1.1\r\nContent-type: Application/X-WWW-Form-Urlencoded; charset=utf-8\r\n\
              Content-length: 759\r\nAuthorization: Basic dXNlcjpww6Q6c3M=\r\nConnection: keep-alive, Close\r\n\
              Expect: 100-continue\r\n\r\n",
        );
        assert_eq!(h.content_length, Some(759));
        assert_eq!(
            h.media_type().as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(h.authorization.as_deref(), Some("Basic dXNlcjpww6Q6c3M="));
        assert!(h.connection_close && h.expect_continue);
        let h = head(b"GET /x HTTP/1.0\nHost: 127.0.0.1\n\n");
        assert!(h.version_1_0 && h.connection_close);
        let h = head(b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(!h.connection_close);
        let h = head(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(h.chunked && h.content_length.is_none());
        let h = head(b"POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(h.content_length, Some(5));
    }

    #[test]
    fn latin1_targets_and_values_are_kept() {
        // Python 2's httplib sends a byte-string path as is; httparse alone would refuse it.
        let h = head(b"GET /l\xf6g?m=caf\xe9 HTTP/1.0\r\nContent-Type: caf\xe9\r\n\r\n");
        assert_eq!(h.target, "/l\u{f6}g?m=caf\u{e9}");
        assert_eq!(h.content_type.as_deref(), Some("caf\u{e9}"));
        assert!(parse_head(b"G\xe9T /x HTTP/1.1\r\n\r\n", DEFAULT_MAX_HEAD).is_err());
        assert!(parse_head(b"GET /x HTTP/1.\xb1\r\n\r\n", DEFAULT_MAX_HEAD).is_err());
    }

    #[test]
    fn malformed_heads_are_errors() {
        for raw in [
            &b"GET /x\r\n\r\n"[..],
            b"GET /x HTTP/2.0\r\n\r\n",
            b"GET  /x HTTP/1.1\r\n\r\n",
            b"G(T /x HTTP/1.1\r\n\r\n",
            b"GET /x HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET /x HTTP/1.1\r\nBad name: v\r\n\r\n",
            b"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"GET /x HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /x HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_head(raw, DEFAULT_MAX_HEAD),
                    Err(DecodeError::Malformed { .. })
                ),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        // Not HTTP at all is refused before the head completes.
        assert!(parse_head(b"\x16\x03\x01\x02\x00\x01", DEFAULT_MAX_HEAD).is_err());
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.6\r\n", DEFAULT_MAX_HEAD).is_err());
    }

    #[test]
    fn oversized_heads_are_refused() {
        let mut raw = b"GET /".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 2000));
        assert_eq!(
            parse_head(&raw, 1024),
            Err(DecodeError::FrameTooLarge {
                len: 2005,
                max: 1024
            })
        );
        raw.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert!(matches!(
            parse_head(&raw, 1024),
            Err(DecodeError::FrameTooLarge { .. })
        ));
        assert!(parse_head(&raw, DEFAULT_MAX_HEAD).unwrap().is_some());
    }

    #[test]
    fn head_end_search_resumes() {
        let mut buf = Vec::new();
        let mut from = 0;
        for (i, &b) in GET.iter().enumerate() {
            buf.push(b);
            let found = find_head_end(&buf, from);
            assert_eq!(found.is_some(), i == GET.len() - 1);
            from = buf.len().saturating_sub(2);
        }
        assert_eq!(find_head_end(b"\r\n\r\nGET / HTTP/1.1\n\n", 0), Some(20));
    }

    #[test]
    fn basic_auth() {
        // The captured header for ("user", "pä:ss").
        assert!(basic_auth_ok(
            Some("Basic dXNlcjpww6Q6c3M="),
            "user",
            "pä:ss"
        ));
        assert!(basic_auth_ok(
            Some("basic  dXNlcjpww6Q6c3M"),
            "user",
            "pä:ss"
        ));
        assert!(!basic_auth_ok(
            Some("Basic dXNlcjpww6Q6c3M="),
            "user",
            "pä:s"
        ));
        assert!(!basic_auth_ok(
            Some("Basic dXNlcjpww6Q6c3M="),
            "usr",
            "pä:ss"
        ));
        assert!(!basic_auth_ok(
            Some("Bearer dXNlcjpww6Q6c3M="),
            "user",
            "pä:ss"
        ));
        assert!(!basic_auth_ok(Some("Basic !!!"), "user", "pä:ss"));
        assert!(!basic_auth_ok(None, "user", "pä:ss"));
        // "us:er" + ":" + "x" would otherwise equal "us" + ":" + "er:x".
        let token = base64::engine::general_purpose::STANDARD.encode("us:er:x");
        assert!(!basic_auth_ok(
            Some(&format!("Basic {token}")),
            "us:er",
            "x"
        ));
        assert!(basic_auth_ok(Some(&format!("Basic {token}")), "us", "er:x"));
    }

    #[test]
    fn chunked_bodies() {
        let raw = b"4\r\nname\r\n6;ext=1\r\n=a&m=b\r\n0\r\nX-Trailer: 1\r\n\r\nGET";
        // Fed whole, and fed a byte at a time.
        let mut d = ChunkedDecoder::new(100);
        assert_eq!(d.feed(raw).unwrap(), raw.len() - 3);
        assert!(d.is_done());
        assert_eq!(d.into_body(), b"name=a&m=b");
        let mut d = ChunkedDecoder::new(100);
        let mut used = 0;
        for i in 0..raw.len() - 3 {
            used += d.feed(&raw[i..=i]).unwrap();
        }
        assert!(d.is_done() && used == raw.len() - 3);
        assert_eq!(d.into_body(), b"name=a&m=b");
        let mut d = ChunkedDecoder::new(100);
        d.feed(b"3\nabc\n0\n\n").unwrap();
        assert!(d.is_done());

        assert!(matches!(
            ChunkedDecoder::new(8).feed(b"9\r\n"),
            Err(DecodeError::FrameTooLarge { .. })
        ));
        assert!(ChunkedDecoder::new(100).feed(b"zz\r\n").is_err());
        assert!(ChunkedDecoder::new(100).feed(b"3\r\nabcX\r\n").is_err());
        assert!(ChunkedDecoder::new(100).feed(&[b'1'; 5000]).is_err());
        assert!(
            ChunkedDecoder::new(u64::MAX as usize)
                .feed(b"ffffffffffffffffff\r\n")
                .is_err()
        );
    }
}
