//! The SocketHandler listener: TCP (or a Unix stream socket) carrying length-prefixed pickles.
//! Backpressure, not loss: when the store's queue is full a connection stops reading until there is room.

use crate::decode::{DecodeError, frame, pickle};
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::SourceKind;
use crate::source::budget::{ByteBudget, Reservation};
use crate::source::conns::{Acceptor, ConnLimits, ConnTable, PeerKey, Slot, accept_loop};
use crate::source::pool::{Abandoned, OFFLOAD_BYTES};
use crate::source::{Phase, Shared, Shutdown};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// How much is read from a socket at a time: large enough to carry ~100 typical frames.
const READ_CHUNK: usize = 64 * 1024;

/// Most connections served at once; further ones wait in the kernel's backlog until one
/// finishes or an idle one gives way. Each holds at most one frame (≤ `max_frame`) plus one read
/// chunk, and frames over a read chunk are held against the listeners' shared [`ByteBudget`].
pub const MAX_CONNECTIONS: usize = 256;

/// A peer's share once the listener is full: half, so one host (or one runaway process on
/// this one) can never keep the other half from everyone else.
pub const MAX_PER_PEER: usize = MAX_CONNECTIONS / 2;

/// A connection with no complete frame for this long counts as idle and gives way when the
/// listener (or its peer) is full. A SocketHandler keeps its connection open between records,
/// so a quiet sender is idle too: 10 s keeps anyone who logs every few seconds connected, and
/// a shed SocketHandler reconnects on its next record (what it fully sent before is stored).
pub const IDLE_AFTER: Duration = Duration::from_secs(10);

/// Reads taken after a connection is told to finish (shed, or the drain time is over): enough
/// to take in what the kernel already holds for it, not enough for a sender to keep it going.
const FINISH_READS: usize = 16;

/// A bound stream listener: TCP or a Unix socket path.
pub enum StreamListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, std::path::PathBuf),
}

impl StreamListener {
    /// Binds `addr`: `HOST:PORT` or `unix:/path`. A stale socket file at the path is replaced.
    pub async fn bind(addr: &str) -> std::io::Result<StreamListener> {
        match addr.strip_prefix("unix:") {
            Some(path) => {
                let path = std::path::PathBuf::from(path);
                if std::os::unix::net::UnixStream::connect(&path).is_err() {
                    let _ = std::fs::remove_file(&path);
                }
                let l = tokio::net::UnixListener::bind(&path)?;
                Ok(StreamListener::Unix(l, path))
            }
            None => Ok(StreamListener::Tcp(
                tokio::net::TcpListener::bind(addr).await?,
            )),
        }
    }

    /// The address actually bound, for messages (port 0 resolved).
    pub fn local_addr(&self) -> String {
        match self {
            StreamListener::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into()),
            StreamListener::Unix(_, p) => format!("unix:{}", p.display()),
        }
    }
}

impl Acceptor for StreamListener {
    type Conn = BoxedStream;

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<(BoxedStream, PeerKey, String)>> {
        match self {
            StreamListener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, peer)| {
                let _ = s.set_nodelay(true);
                // We never write to a SocketHandler, so closing with a reset loses nothing of
                // ours, and tells a sender we closed on (shed, drain over) at its next send
                // instead of one send later: CPython's SocketHandler then reconnects one record
                // sooner (a plain close costs it two records, a reset one).
                let _ = s.set_zero_linger();
                let conn: BoxedStream = Box::new(s);
                (conn, PeerKey::of(&peer), peer.to_string())
            }),
            StreamListener::Unix(l, path) => l.poll_accept(cx).map_ok(|(s, _)| {
                let conn: BoxedStream = Box::new(s);
                (conn, PeerKey::Local, format!("unix:{}", path.display()))
            }),
        }
    }
}

impl Drop for StreamListener {
    fn drop(&mut self) {
        if let StreamListener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The connection rules of the TCP listener by default.
pub fn default_conn_limits() -> ConnLimits {
    ConnLimits {
        max: MAX_CONNECTIONS,
        per_peer: MAX_PER_PEER,
        idle_after: IDLE_AFTER,
    }
}

/// Accepts connections until draining starts (then those already queued); each connection runs
/// until EOF, until it is shed, or until `Phase::Stop`.
pub async fn serve(
    listener: StreamListener,
    limits: DecodeLimits,
    shared: Shared,
    conn_limits: ConnLimits,
    intake: Intake,
    mut shutdown: Shutdown,
) {
    let table = ConnTable::new(conn_limits, SourceKind::Tcp, intake.stats.clone());
    let watch = shutdown.clone();
    accept_loop(&listener, &table, &mut shutdown, |stream, peer, slot| {
        let intake = intake.clone();
        let shared = shared.clone();
        let conn_shutdown = watch.clone();
        tokio::spawn(async move {
            read_frames(
                stream,
                &peer,
                limits,
                &shared,
                &intake,
                &slot,
                conn_shutdown,
            )
            .await;
            drop(slot);
        });
    })
    .await;
}

type BoxedStream = Box<dyn AsyncRead + Unpin + Send>;

/// Why a connection woke from waiting for input.
enum Woke {
    Read(std::io::Result<usize>),
    /// Shed, or the drain time is over: take what is already readable, then end.
    Finish,
    Stalled,
}

/// Reads what the socket already holds without waiting: `Ok(0)` when nothing is there.
pub fn read_now<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut rb = ReadBuf::new(buf);
    match Pin::new(stream).poll_read(&mut cx, &mut rb) {
        Poll::Ready(Ok(())) => Ok(rb.filled().len()),
        Poll::Ready(Err(e)) => Err(e),
        Poll::Pending => Ok(0),
    }
}

/// Reads frames from one connection and hands decoded records to the intake queue.
///
/// A frame that is correctly delimited but does not decode costs only itself;
/// a framing error (oversized length) costs the connection, since nothing after
/// it can be trusted to be a frame boundary. Frames over [`OFFLOAD_BYTES`] decode on the
/// shared pool, so this connection waits for them but the async workers do not. When the
/// connection is shed or the drain time ends, frames already received (in our buffer or the
/// kernel's) are still decoded and submitted before it closes.
pub async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: &str,
    limits: DecodeLimits,
    shared: &Shared,
    intake: &Intake,
    slot: &Slot,
    mut shutdown: Shutdown,
) {
    let stats = &intake.stats;
    let shed = slot.shed_signal();
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    // Budget held for the large frame at the front of `buf`, until it is consumed; the
    // frame must be complete by its deadline.
    let mut held: Option<Reservation> = None;
    let mut batch = Batcher::default();
    let mut finishing = false;
    let mut reads_left = FINISH_READS;
    let mut reported = false;
    let mut report = |e: &DecodeError| {
        if !std::mem::replace(&mut reported, true) {
            tracing::warn!(
                "tcp {peer}: rejected a frame: {e} (further errors on this connection are counted, not logged)"
            );
        }
    };
    loop {
        // Decode every whole frame already buffered.
        let mut progressed = false;
        loop {
            match frame::check(&buf[start..], limits.max_frame) {
                Ok(Some(len)) => {
                    stats.add_received(SourceKind::Tcp, 1);
                    progressed = true;
                    let decoded = if len - frame::PREFIX > OFFLOAD_BYTES {
                        // Hand the buffer itself to the pool (no copy of the big frame) and
                        // keep only what follows it; the frame's budget goes with it.
                        let whole = std::mem::replace(&mut buf, Vec::with_capacity(READ_CHUNK));
                        buf.extend_from_slice(&whole[start + len..]);
                        let payload = start + frame::PREFIX..start + len;
                        start = 0;
                        let reservation = held.take();
                        let origin = peer.to_owned();
                        let job = move || {
                            let _held = reservation;
                            pickle::decode_record(
                                &whole[payload],
                                &limits,
                                SourceKind::Tcp,
                                &origin,
                            )
                        };
                        match shared.pool.run(&mut shutdown, job).await {
                            Ok(r) => r,
                            Err(Abandoned::Stopped) => {
                                stats.conns(SourceKind::Tcp).abandoned.fetch_add(1, Relaxed);
                                // It, and any whole frames that came after it, are dropped.
                                let after = whole_frames(&buf, limits.max_frame);
                                stats.add_received(SourceKind::Tcp, after);
                                stats.add_dropped(SourceKind::Tcp, 1 + after);
                                tracing::warn!(
                                    "tcp {peer}: drain time over while a large frame was decoding; it is dropped"
                                );
                                submit(intake, batch.take(), &mut shutdown).await;
                                return;
                            }
                            Err(Abandoned::Failed) => {
                                Err(DecodeError::malformed("frame", "the decoder failed"))
                            }
                        }
                    } else {
                        let payload = &buf[start + frame::PREFIX..start + len];
                        start += len;
                        held = None;
                        pickle::decode_record(payload, &limits, SourceKind::Tcp, peer)
                    };
                    match decoded {
                        Ok(rec) => {
                            if let Some(full) = batch.push(rec)
                                && !submit(intake, full, &mut shutdown).await
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            stats.add_rejected(SourceKind::Tcp, 1);
                            report(&e);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    stats.add_received(SourceKind::Tcp, 1);
                    stats.add_rejected(SourceKind::Tcp, 1);
                    report(&e);
                    submit(intake, batch.take(), &mut shutdown).await;
                    return;
                }
            }
        }
        if progressed {
            slot.progress();
        }
        if !submit(intake, batch.take(), &mut shutdown).await {
            return;
        }
        // Keep the unread tail at the front so the buffer never grows past one frame plus a chunk.
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
        if held.is_none() && buf.capacity() > 4 * READ_CHUNK {
            // The big frame is gone: so is its memory, not only its budget.
            buf.shrink_to(2 * READ_CHUNK);
        }
        let mut stopped = false;
        let want = if buf.len() >= frame::PREFIX {
            // A partial frame whose length we know: read the rest in as few calls as possible.
            let declared = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            let whole = declared + frame::PREFIX;
            if held.is_none() && ByteBudget::needs_reservation(whole) {
                // Past a read chunk, a frame waits for its share of the shared budget; the
                // sender meanwhile sees backpressure, as when the store is slow. A connection
                // told to finish does not start waiting.
                held = match finishing {
                    true => None,
                    false => tokio::select! {
                        biased;
                        _ = shutdown.reached(Phase::Stop) => None,
                        _ = shed.shed() => None,
                        r = shared.budget.reserve(whole) => r,
                    },
                };
                stopped = held.is_none();
            }
            whole
                .saturating_sub(buf.len())
                .clamp(READ_CHUNK, READ_CHUNK * 16)
        } else {
            READ_CHUNK
        };
        let old = buf.len();
        buf.resize(old + want, 0);
        let woke = match (stopped, finishing) {
            (true, _) => Woke::Read(Err(std::io::Error::other("told to finish mid-frame"))),
            (false, true) => Woke::Finish,
            // Stop and shed first: a sender that never pauses must not keep its connection past them.
            (false, false) => tokio::select! {
                biased;
                _ = shutdown.reached(Phase::Stop) => Woke::Finish,
                _ = shed.shed() => Woke::Finish,
                r = stream.read(&mut buf[old..]) => Woke::Read(r),
                _ = sleep_until_held(&held) => Woke::Stalled,
            },
        };
        let n = match woke {
            Woke::Read(r) => r,
            Woke::Finish if reads_left == 0 => Ok(0),
            Woke::Finish => {
                finishing = true;
                reads_left -= 1;
                read_now(&mut stream, &mut buf[old..])
            }
            Woke::Stalled => Err(std::io::Error::other(
                "a large frame stalled while holding buffer budget",
            )),
        };
        match n {
            Ok(0) | Err(_) => {
                buf.truncate(old);
                if let Err(e) = &n {
                    tracing::debug!("tcp {peer}: connection ends: {e}");
                }
                if !buf.is_empty() {
                    // EOF (SocketHandler can time out mid-send and close), a shed, or the
                    // drain deadline: the unfinished frame is lost, and counted.
                    stats.add_received(SourceKind::Tcp, 1);
                    stats.add_rejected(SourceKind::Tcp, 1);
                    report(&DecodeError::Truncated);
                }
                return;
            }
            Ok(n) => buf.truncate(old + n),
        }
    }
}

/// Waits for the deadline of the reservation, if any; forever without one.
async fn sleep_until_held(held: &Option<Reservation>) {
    match held {
        Some(r) => tokio::time::sleep_until(r.deadline).await,
        None => std::future::pending().await,
    }
}

/// Waits for room in the queue (backpressure), but not past the drain deadline: a batch
/// still waiting at `Phase::Stop` is counted as dropped, so shutdown can never hang on a
/// stalled store. Returns false when the connection should end.
/// How many whole frames `buf` holds from its start (to count what is dropped unread).
fn whole_frames(mut buf: &[u8], max_frame: usize) -> u64 {
    let mut n = 0;
    while let Ok(Some(len)) = frame::check(buf, max_frame) {
        n += 1;
        buf = &buf[len..];
    }
    n
}

async fn submit(
    intake: &Intake,
    batch: Vec<crate::record::Record>,
    shutdown: &mut Shutdown,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let n = batch.len() as u64;
    // Room in the queue first: past Stop a batch is still taken if it fits.
    tokio::select! {
        biased;
        ok = intake.submit(batch) => ok,
        _ = shutdown.reached(Phase::Stop) => {
            intake.stats.add_dropped(SourceKind::Tcp, n);
            tracing::warn!("tcp: drain time over with {n} records still waiting for the store");
            false
        }
    }
}
