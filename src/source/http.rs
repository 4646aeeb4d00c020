//! HTTP listener for `logging.handlers.HTTPHandler` and JSON senders: read one request, decode it, answer at once.
//! Only the socket side lives here; heads are parsed by `decode::httpreq`, bodies by `decode::form`/`decode::json`.

use crate::decode::httpreq::{self, ChunkedDecoder, Head};
use crate::decode::{DecodeError, form, json};
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::source::budget::{ByteBudget, Reservation};
use crate::source::conns::{
    Acceptor, ConnLimits, ConnTable, PeerKey, ShedSignal, Slot, accept_loop,
};
use crate::source::pool::{Abandoned, OFFLOAD_BYTES};
use crate::source::tcp::read_now;
use crate::source::{Phase, Shared, Shutdown};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};

/// Most connections served at once. HTTPHandler opens one connection per record
/// and closes it, so a busy sender holds few at a time; 1024 leaves room for many
/// senders while bounding buffers and file descriptors. Connections beyond it wait in the
/// kernel's accept queue until one ends or an idle keep-alive one gives way.
pub const MAX_CONNECTIONS: usize = 1024;

/// A peer's share once the listener is full: half, as for TCP.
pub const MAX_PER_PEER: usize = MAX_CONNECTIONS / 2;

/// How long a shed connection may take to finish a request it had started.
const SHED_GRACE: Duration = Duration::from_secs(1);

/// The connection rules of the HTTP listener by default; idle as for TCP.
pub fn default_conn_limits() -> ConnLimits {
    ConnLimits {
        max: MAX_CONNECTIONS,
        per_peer: MAX_PER_PEER,
        idle_after: crate::source::tcp::IDLE_AFTER,
    }
}

/// Longest wait for a complete request head, counted from when the connection
/// (or the previous request on it) was ready. It closes idle keep-alive sockets
/// and slow-drip heads alike; real senders send a head in one write.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest silence while a body is arriving. Per read, not per body, so a large
/// body on a slow link still gets through while a stalled one frees its slot.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for a peer to take our (tiny) reply before we drop it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of blank lines (CR/LF) tolerated before a request line; keep-alive clients
/// may send a stray CRLF after a body, nobody sends more than a few.
pub const MAX_LEADING_BLANK: usize = 64;

/// Room for the header lines of a request, beyond its request line.
pub const MAX_HEAD: usize = httpreq::DEFAULT_MAX_HEAD;

/// How long, and how many bytes, we keep reading and discarding after refusing
/// a request whose body we did not read. Closing with unread input makes the
/// kernel send a reset, which can destroy the reply before the client reads it;
/// HTTPHandler would then print a traceback instead of seeing our status.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes discarded while lingering: a small body's worth, so a sender that keeps streaming cannot hold us.
const LINGER_BYTES: usize = 1 << 20;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// Until the request line is complete, the head is re-checked on each read while
/// the buffer is this small, so a non-HTTP client is refused at once; after it, only when a line ends.
const EARLY_CHECK_BYTES: usize = 64;

/// Serves HTTP on `listener` until `shutdown` reaches [`Phase::Draining`].
///
/// With `auth` set, every request must carry matching Basic credentials. Open
/// connections finish their current request and end at EOF, on [`Phase::Stop`],
/// or (while draining) after their next reply.
///
/// Status codes:
/// * `200` with an empty body: the request carried records (for JSON, at least one
///   element was a record), or it was empty (a GET without a query, an empty POST body).
///   Empty requests record and count nothing, so `curl http://host:port/` works as a liveness probe.
///   Any path is accepted. A GET's query is the form; for a form POST, the target's query
///   (HTTPHandler's `url` may carry one) is read before the body, so both methods give the same record.
/// * `400`: malformed head or chunked framing (the connection closes), or a complete body with no record in it.
/// * `401` + `WWW-Authenticate: Basic realm="logtui"`: credentials are configured and missing or wrong.
/// * `405`: a method other than GET/POST. `411`: a POST with neither Content-Length nor chunked framing.
/// * `413`: the body is over `max_frame` (it is not read). `415`: a body that is neither form nor JSON.
/// * `431`: the head is over [`MAX_HEAD`] plus `max_frame` (a GET carries its whole
///   record in the request line, so it gets the same allowance as a POST body).
///
/// Every refused request counts once as received and rejected, and is logged once with the peer address.
/// After a refusal that leaves input unread, the connection closes.
pub async fn serve(
    listener: TcpListener,
    auth: Option<(String, String)>,
    limits: DecodeLimits,
    budget: ByteBudget,
    intake: Intake,
    shutdown: Shutdown,
) {
    let shared = Shared {
        budget,
        pool: crate::source::pool::DecodePool::per_core(),
    };
    serve_with(
        listener,
        auth,
        limits,
        shared,
        default_conn_limits(),
        intake,
        shutdown,
    )
    .await;
}

/// [`serve`] with the listeners' shared budget and decoder pool, and these connection rules.
pub async fn serve_with(
    listener: TcpListener,
    auth: Option<(String, String)>,
    limits: DecodeLimits,
    shared: Shared,
    conn_limits: ConnLimits,
    intake: Intake,
    mut shutdown: Shutdown,
) {
    let table = ConnTable::new(conn_limits, SourceKind::Http, intake.stats.clone());
    let ctx = Arc::new(Ctx {
        auth,
        limits,
        shared,
        intake,
    });
    let watch = shutdown.clone();
    let listener = HttpListener(listener);
    accept_loop(&listener, &table, &mut shutdown, |stream, origin, slot| {
        let conn = Conn {
            stream,
            origin,
            buf: Vec::new(),
            ctx: ctx.clone(),
            v10: false,
            held: None,
            want: 0,
            shed: slot.shed_signal(),
            finish_by: None,
            slot,
        };
        tokio::spawn(conn.serve(watch.clone()));
    })
    .await;
}

struct HttpListener(TcpListener);

impl Acceptor for HttpListener {
    type Conn = TcpStream;

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<(TcpStream, PeerKey, String)>> {
        self.0.poll_accept(cx).map_ok(|(s, peer)| {
            let _ = s.set_nodelay(true);
            (s, PeerKey::of(&peer), peer.to_string())
        })
    }
}

/// What every connection shares.
struct Ctx {
    auth: Option<(String, String)>,
    limits: DecodeLimits,
    shared: Shared,
    intake: Intake,
}

/// How a request leaves its connection.
enum Next {
    KeepAlive,
    Close,
    /// Close after draining unread input (see [`LINGER`]).
    Linger,
}

#[derive(Clone, Copy)]
enum BodyKind {
    Form,
    Json,
}

/// One accepted connection: the socket, bytes read but not yet used, and the peer.
struct Conn {
    stream: TcpStream,
    origin: String,
    buf: Vec<u8>,
    ctx: Arc<Ctx>,
    /// The current request is HTTP/1.0.
    v10: bool,
    /// Budget held while the current request needs more than a read chunk of buffer; the
    /// request must be complete by its deadline.
    held: Option<Reservation>,
    /// The most the current request may still need buffered: its head, then its body.
    want: usize,
    /// Asked to give way (idle while the listener was full): finish what was sent, then close.
    shed: ShedSignal,
    /// Once shed in the middle of a body: when that body must be complete. Set once, so a
    /// sender trickling a byte at a time cannot stretch its grace.
    finish_by: Option<Instant>,
    /// The connection's place in the listener's table, freed when the connection ends.
    slot: Slot,
}

impl Conn {
    async fn serve(mut self, mut shutdown: Shutdown) {
        let watch = shutdown.clone();
        // The request first, so a decode abandoned at Stop is counted where it happens.
        tokio::select! {
            biased;
            () = self.requests(&watch) => {}
            _ = shutdown.reached(Phase::Stop) => {}
        }
    }

    async fn requests(&mut self, watch: &Shutdown) {
        loop {
            self.want = MAX_HEAD.saturating_add(self.ctx.limits.max_frame);
            let Some(head) = self.read_head().await else {
                return;
            };
            let next = self.handle(head, watch).await;
            self.slot.progress();
            if self.held.take().is_some() && self.buf.capacity() > 4 * READ_CHUNK {
                // The big request is done: give back its memory, not only its budget.
                self.buf.shrink_to(2 * READ_CHUNK);
            }
            match next {
                Next::KeepAlive => {}
                Next::Close => {
                    let _ = timeout(WRITE_TIMEOUT, self.stream.shutdown()).await;
                    return;
                }
                Next::Linger => {
                    self.linger().await;
                    return;
                }
            }
        }
    }

    /// Reads until a complete head is buffered; `None` ends the connection (any reply already sent).
    async fn read_head(&mut self) -> Option<Head> {
        let mut deadline = Instant::now() + HEAD_TIMEOUT;
        if self.shed.is_shed() {
            deadline = Instant::now() + SHED_GRACE;
        }
        let mut from = 0;
        let mut line_checked = false;
        let mut blank = 0usize;
        loop {
            // Blank lines before a request line are allowed (RFC 9112 §2.2), but only a few.
            // Dropping them as they arrive keeps every later scan from re-walking a CR/LF flood.
            if !line_checked {
                let lead = self
                    .buf
                    .iter()
                    .take_while(|&&c| c == b'\r' || c == b'\n')
                    .count();
                if lead > 0 {
                    self.buf.drain(..lead);
                    from = 0;
                    blank += lead;
                }
                if blank > MAX_LEADING_BLANK {
                    self.reject(
                        "request head",
                        &"too many blank lines before the request line",
                    );
                    self.respond(400, true, &[]).await;
                    return None;
                }
            }
            let complete = httpreq::find_head_end(&self.buf, from).is_some();
            // Only bytes new since the last look are searched, so a byte-at-a-time sender costs O(n).
            let first_line = !line_checked && self.buf[from..].contains(&b'\n');
            let early =
                !line_checked && !self.buf.is_empty() && self.buf.len() <= EARLY_CHECK_BYTES;
            let max_head = MAX_HEAD.saturating_add(self.ctx.limits.max_frame);
            if complete || first_line || early || self.buf.len() >= max_head {
                line_checked |= first_line;
                match httpreq::parse_head(&self.buf, max_head) {
                    Ok(Some((head, len))) => {
                        self.buf.drain(..len);
                        return Some(head);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.reject("bad request head", &e);
                        // Too long, or too many fields (TooLarge): 431 Request Header Fields Too Large.
                        let status = if matches!(
                            e,
                            DecodeError::FrameTooLarge { .. } | DecodeError::TooLarge(_)
                        ) {
                            431
                        } else {
                            400
                        };
                        self.respond(status, true, &[]).await;
                        self.linger().await;
                        return None;
                    }
                }
            }
            from = self.buf.len().saturating_sub(2);
            // Leading blanks were dropped above, so this looks at one byte at most.
            let idle = self.buf.iter().all(|&c| c == b'\r' || c == b'\n');
            if !self.shed.is_shed() {
                let shed = self.shed.clone();
                tokio::select! {
                    biased;
                    _ = shed.shed() => {}
                    _ = self.stream.readable() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            if self.shed.is_shed() {
                // Given way: a request already sent is still served (and then the connection
                // closes); with nothing sent, close now.
                deadline = deadline.min(Instant::now() + SHED_GRACE);
                if idle {
                    if self.read_now() == 0 {
                        return None;
                    }
                    // Look at what arrived before waiting for more.
                    continue;
                }
            }
            match timeout_at(deadline, self.read_more()).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(Ok(_)) if idle => return None,
                Ok(Ok(_)) => {
                    self.reject("request head", &DecodeError::Truncated);
                    return None;
                }
                Err(_) if idle => return None,
                Err(_) => {
                    self.reject("request head", &"timed out before the head was complete");
                    return None;
                }
                Ok(Err(e)) => {
                    tracing::debug!(peer = %self.origin, error = %e, "http: read failed");
                    return None;
                }
            }
        }
    }

    async fn handle(&mut self, head: Head, watch: &Shutdown) -> Next {
        self.v10 = head.version_1_0;
        let close =
            head.connection_close || watch.phase() >= Phase::Draining || self.shed.is_shed();
        let is_get = head.method == "GET";
        if !is_get && head.method != "POST" {
            self.reject("request", &format!("method {} not allowed", head.method));
            self.respond(405, true, &[("Allow", "GET, POST")]).await;
            return Next::Linger;
        }
        if let Some((user, password)) = &self.ctx.auth
            && !httpreq::basic_auth_ok(head.authorization.as_deref(), user, password)
        {
            self.reject("request", &"missing or wrong Basic credentials");
            self.respond(401, true, &[("WWW-Authenticate", "Basic realm=\"logtui\"")])
                .await;
            return Next::Linger;
        }
        let body = match self.read_body(&head, is_get).await {
            Ok(body) => body,
            Err(next) => return next,
        };
        let query = head.query().unwrap_or("").as_bytes();
        let kind = body_kind(head.media_type(), &body, is_get);
        let payload = match kind {
            // A GET, or a POST whose record is all in the URL (`curl -X POST '…?msg=x'`).
            Some(BodyKind::Form) if is_get || body.iter().all(u8::is_ascii_whitespace) => {
                query.to_vec()
            }
            // HTTPHandler keeps the URL's own query (`/log?app=x`) in the target for
            // POST too; put it first, as GET has it, so both methods give the same record.
            Some(BodyKind::Form)
                if !query.is_empty() && !body.iter().all(u8::is_ascii_whitespace) =>
            {
                [query, b"&", &body].concat()
            }
            _ => body,
        };
        let status = if payload.iter().all(u8::is_ascii_whitespace) {
            200
        } else if let Some(kind) = kind {
            self.ingest(kind, payload, watch).await
        } else {
            let what = head.content_type.unwrap_or_default();
            self.reject(
                "request body",
                &format!("unsupported content type {what:?}"),
            );
            415
        };
        if !self.respond(status, close, &[]).await || close {
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// Reads the request body per its framing. On `Err` the reply has been sent and the connection must end that way.
    async fn read_body(&mut self, head: &Head, is_get: bool) -> Result<Vec<u8>, Next> {
        let max = self.ctx.limits.max_frame;
        if head.chunked {
            if head.expect_continue && !self.send_continue().await {
                return Err(Next::Close);
            }
            // The decoder keeps the body itself, and its size is unknown until the last
            // chunk: hold budget for the largest allowed before taking any of it.
            if self.held.is_none() {
                match timeout(BODY_IDLE_TIMEOUT, self.ctx.shared.budget.reserve(max)).await {
                    Ok(r) => self.held = r,
                    Err(_) => {
                        self.reject("chunked body", &"timed out waiting for buffer budget");
                        self.respond(503, true, &[]).await;
                        return Err(Next::Close);
                    }
                }
            }
            let mut dec = ChunkedDecoder::new(max);
            loop {
                match dec.feed(&self.buf) {
                    Ok(used) => {
                        self.buf.drain(..used);
                    }
                    Err(e) => {
                        self.reject("chunked body", &e);
                        let status = if matches!(e, DecodeError::FrameTooLarge { .. }) {
                            413
                        } else {
                            400
                        };
                        self.respond(status, true, &[]).await;
                        return Err(Next::Linger);
                    }
                }
                if dec.is_done() {
                    return Ok(dec.into_body());
                }
                self.read_body_bytes().await?;
            }
        }
        let Some(len) = head.content_length else {
            if is_get {
                return Ok(Vec::new());
            }
            self.reject("request", &"POST without Content-Length");
            self.respond(411, true, &[]).await;
            return Err(Next::Linger);
        };
        if len > max as u64 {
            self.reject("request body", &DecodeError::FrameTooLarge { len, max });
            self.respond(413, true, &[]).await;
            return Err(Next::Linger);
        }
        let len = len as usize;
        if self.held.is_none() {
            self.want = len.saturating_add(READ_CHUNK);
        }
        if head.expect_continue && len > self.buf.len() && !self.send_continue().await {
            return Err(Next::Close);
        }
        while self.buf.len() < len {
            self.read_body_bytes().await?;
        }
        let rest = self.buf.split_off(len);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    /// One read while a body is expected; a stall or EOF counts the request as rejected.
    async fn read_body_bytes(&mut self) -> Result<(), Next> {
        let mut deadline = Instant::now() + BODY_IDLE_TIMEOUT;
        if let Some(r) = &self.held {
            deadline = deadline.min(r.deadline);
        }
        let read = if self.shed.is_shed() {
            None
        } else {
            // Reads (and budget waits) are cancel-safe: a shed that comes first loses nothing.
            let shed = self.shed.clone();
            tokio::select! {
                biased;
                _ = shed.shed() => None,
                r = timeout_at(deadline, self.read_more()) => Some(r),
            }
        };
        let read = match read {
            Some(r) => r,
            None => {
                // Given way mid-body: the body must be complete within a short grace, counted
                // from when the shed was first seen.
                let grace = *self
                    .finish_by
                    .get_or_insert_with(|| Instant::now() + SHED_GRACE);
                timeout_at(deadline.min(grace), self.read_more()).await
            }
        };
        match read {
            Ok(Ok(n)) if n > 0 => Ok(()),
            Ok(Ok(_)) => {
                self.reject("request body", &DecodeError::Truncated);
                Err(Next::Close)
            }
            Err(_) => {
                self.reject("request body", &"timed out while the body was arriving");
                Err(Next::Close)
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.origin, error = %e, "http: read failed");
                Err(Next::Close)
            }
        }
    }

    /// Decodes a body, counts and submits its records, and picks the status.
    async fn ingest(&mut self, kind: BodyKind, payload: Vec<u8>, watch: &Shutdown) -> u16 {
        let limits = self.ctx.limits;
        let d = if payload.len() > OFFLOAD_BYTES {
            let origin = self.origin.clone();
            let intake = self.ctx.intake.clone();
            let job = move || decode(kind, &payload, &limits, &origin, &intake);
            match self.ctx.shared.pool.run(&mut watch.clone(), job).await {
                Ok(out) => out,
                Err(Abandoned::Stopped) => {
                    // The decode goes on without us and counts and submits its records itself
                    // (stored if the store still takes them, else dropped and counted), so
                    // only the abandonment is counted here.
                    let stats = &self.ctx.intake.stats;
                    stats
                        .conns(SourceKind::Http)
                        .abandoned
                        .fetch_add(1, Relaxed);
                    tracing::warn!(peer = %self.origin, "http: drain time over while a large body was decoding; not waiting for it");
                    return 503;
                }
                Err(Abandoned::Failed) => {
                    Decoded::failed(DecodeError::malformed("body", "the decoder failed"))
                }
            }
        } else {
            decode(kind, &payload, &limits, &self.origin, &self.ctx.intake)
        };
        if let Some(first) = &d.first_error {
            tracing::warn!(
                peer = %self.origin,
                rejected = d.rejected,
                accepted = d.accepted,
                error = %first,
                "http: rejected body or elements"
            );
        }
        let mut status = if d.accepted == 0 { 400 } else { 200 };
        // The store's queue was full: the records are counted as dropped, and a client that
        // reads statuses (HTTPHandler does not) learns to retry.
        if !d.kept {
            status = 503;
        }
        status
    }

    /// Counts one refused request and reports it once in logtui's own log.
    fn reject(&self, what: &str, err: &dyn std::fmt::Display) {
        let stats = &self.ctx.intake.stats;
        stats.add_received(SourceKind::Http, 1);
        stats.add_rejected(SourceKind::Http, 1);
        tracing::warn!(peer = %self.origin, error = %err, "http: rejected {what}");
    }

    /// Reads once. A buffer about to pass a read chunk first takes the request's share of
    /// the listeners' budget, waiting for it under the caller's timeout.
    async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.held.is_none() && ByteBudget::needs_reservation(self.buf.len() + READ_CHUNK) {
            self.held = self.ctx.shared.budget.reserve(self.want).await;
        }
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Takes what the socket already holds, without waiting; the bytes taken.
    fn read_now(&mut self) -> usize {
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = read_now(&mut self.stream, &mut self.buf[old..]).unwrap_or(0);
        self.buf.truncate(old + n);
        n
    }

    async fn send_continue(&mut self) -> bool {
        if self.v10 {
            return true;
        }
        matches!(
            timeout(
                WRITE_TIMEOUT,
                self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            )
            .await,
            Ok(Ok(()))
        )
    }

    /// Writes a complete reply; false when the peer did not take it.
    async fn respond(&mut self, status: u16, close: bool, headers: &[(&str, &str)]) -> bool {
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            405 => "Method Not Allowed",
            411 => "Length Required",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Error",
        };
        // Errors carry a one-line body for people using curl; success stays empty, as HTTPHandler expects.
        let body = if status >= 400 {
            format!("{status} {reason}\n")
        } else {
            String::new()
        };
        let mut msg = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            msg.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        }
        for (k, v) in headers {
            msg.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            msg.push_str("Connection: close\r\n");
        } else if self.v10 {
            msg.push_str("Connection: keep-alive\r\n");
        }
        msg.push_str("\r\n");
        msg.push_str(&body);
        matches!(
            timeout(WRITE_TIMEOUT, self.stream.write_all(msg.as_bytes())).await,
            Ok(Ok(()))
        )
    }

    /// Half-closes, then discards input for a moment so the reply is not lost to a reset.
    async fn linger(&mut self) {
        let _ = timeout(WRITE_TIMEOUT, self.stream.shutdown()).await;
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Ok(Ok(n)) if n > 0 => drained += n,
                _ => break,
            }
        }
    }
}

/// Picks the decoder. A body that starts with `{` or `[` is JSON whatever the
/// Content-Type says, because `curl -d '{…}'` labels JSON as a form.
fn body_kind(media: Option<String>, body: &[u8], is_get: bool) -> Option<BodyKind> {
    if is_get {
        return Some(BodyKind::Form);
    }
    let looks_json = matches!(
        body.iter().find(|c| !c.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    match media.as_deref() {
        _ if looks_json => Some(BodyKind::Json),
        None | Some("application/x-www-form-urlencoded") => Some(BodyKind::Form),
        Some("application/json" | "application/x-ndjson" | "application/jsonl" | "text/json") => {
            Some(BodyKind::Json)
        }
        Some(m) if m.ends_with("+json") => Some(BodyKind::Json),
        Some(_) => None,
    }
}

/// What decoding one body did: records handed to the intake queue, failures counted (only the
/// first kept), and whether the queue took every batch.
struct Decoded {
    accepted: u64,
    rejected: u64,
    first_error: Option<DecodeError>,
    kept: bool,
}

impl Decoded {
    fn failed(e: DecodeError) -> Decoded {
        Decoded {
            accepted: 0,
            rejected: 1,
            first_error: Some(e),
            kept: true,
        }
    }
}

/// Decodes a payload, submitting its records in batches as they are decoded (so a body of a
/// million records never holds them all) and counting them and its failures as received.
fn decode(
    kind: BodyKind,
    payload: &[u8],
    limits: &DecodeLimits,
    origin: &str,
    intake: &Intake,
) -> Decoded {
    let stats = &intake.stats;
    let mut d = Decoded {
        accepted: 0,
        rejected: 0,
        first_error: None,
        kept: true,
    };
    let mut batcher = Batcher::default();
    let submit = |batch: Vec<Record>, kept: &mut bool| {
        // Received before submitted, so a stored count never runs ahead of the received one.
        stats.add_received(SourceKind::Http, batch.len() as u64);
        *kept &= intake.try_submit(batch);
    };
    let mut push = |r: Record, d: &mut Decoded| {
        d.accepted += 1;
        if let Some(batch) = batcher.push(r) {
            submit(batch, &mut d.kept);
        }
    };
    match kind {
        BodyKind::Form => match form::decode_form(payload, limits, origin) {
            Ok(r) => push(r, &mut d),
            Err(e) => d = Decoded::failed(e),
        },
        BodyKind::Json => {
            let res = json::decode_json_each(payload, limits, SourceKind::Http, origin, |r| {
                push(r, &mut d)
            });
            match res {
                Ok(s) => {
                    d.rejected = s.rejected as u64;
                    d.first_error = s.first_error;
                }
                // Not JSON at all: nothing was decoded, so nothing was submitted.
                Err(e) => d = Decoded::failed(e),
            }
        }
    }
    if !batcher.is_empty() {
        submit(batcher.take(), &mut d.kept);
    }
    if d.rejected > 0 {
        stats.add_received(SourceKind::Http, d.rejected);
        stats.add_rejected(SourceKind::Http, d.rejected);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_kind_follows_content_and_type() {
        let kind = |m: Option<&str>, b: &str| body_kind(m.map(str::to_owned), b.as_bytes(), false);
        assert!(matches!(kind(None, "name=a"), Some(BodyKind::Form)));
        assert!(matches!(
            kind(Some("application/x-www-form-urlencoded"), "name=a"),
            Some(BodyKind::Form)
        ));
        assert!(matches!(
            kind(Some("application/x-www-form-urlencoded"), "{\"msg\": 1}"),
            Some(BodyKind::Json)
        ));
        assert!(matches!(
            kind(Some("application/x-ndjson"), "x"),
            Some(BodyKind::Json)
        ));
        assert!(matches!(
            kind(Some("application/vnd.api+json"), "x"),
            Some(BodyKind::Json)
        ));
        assert!(matches!(
            kind(Some("text/plain"), " [1]"),
            Some(BodyKind::Json)
        ));
        assert!(kind(Some("multipart/form-data"), "--x").is_none());
        assert!(matches!(
            body_kind(Some("application/json".into()), b"{}", true),
            Some(BodyKind::Form)
        ));
    }
}
