//! The SocketHandler listener: TCP (or a Unix stream socket) carrying length-prefixed pickles.
//! Backpressure, not loss: when the store's queue is full a connection stops reading until there is room.

use crate::decode::{DecodeError, frame, pickle};
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::SourceKind;
use crate::source::budget::{ByteBudget, Reservation};
use crate::source::{Phase, Shutdown};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

/// How much is read from a socket at a time: large enough to carry ~100 typical frames.
const READ_CHUNK: usize = 64 * 1024;

/// Most connections served at once; further ones wait in the kernel's backlog.
/// Each holds at most one frame (≤ `max_frame`) plus one read chunk, and frames over a
/// read chunk are held against the listeners' shared [`ByteBudget`].
pub const MAX_CONNECTIONS: usize = 256;

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

impl Drop for StreamListener {
    fn drop(&mut self) {
        if let StreamListener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Accepts connections until draining starts; each connection runs until EOF or `Phase::Stop`.
pub async fn serve(
    listener: StreamListener,
    limits: DecodeLimits,
    budget: ByteBudget,
    intake: Intake,
    mut shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Waiting for a free slot must not keep the listener open past the start of draining.
        let permit = tokio::select! {
            _ = shutdown.reached(Phase::Draining) => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.reached(Phase::Draining) => return,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                let intake = intake.clone();
                let budget = budget.clone();
                let conn_shutdown = shutdown.clone();
                tokio::spawn(async move {
                    read_frames(stream, &peer, limits, &budget, &intake, conn_shutdown).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and friends: say so, back off briefly, keep serving.
                tracing::warn!("tcp accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

type BoxedStream = Box<dyn AsyncRead + Unpin + Send>;

async fn accept(l: &StreamListener) -> std::io::Result<(BoxedStream, String)> {
    match l {
        StreamListener::Tcp(l) => {
            let (s, peer) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((Box::new(s), peer.to_string()))
        }
        StreamListener::Unix(l, path) => {
            let (s, _) = l.accept().await?;
            Ok((Box::new(s), format!("unix:{}", path.display())))
        }
    }
}

/// Reads frames from one connection and hands decoded records to the intake queue.
///
/// A frame that is correctly delimited but does not decode costs only itself;
/// a framing error (oversized length) costs the connection, since nothing after
/// it can be trusted to be a frame boundary.
pub async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: &str,
    limits: DecodeLimits,
    budget: &ByteBudget,
    intake: &Intake,
    mut shutdown: Shutdown,
) {
    let stats = &intake.stats;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut start = 0usize;
    // Budget held for the large frame at the front of `buf`, until it is consumed; the
    // frame must be complete by its deadline.
    let mut held: Option<Reservation> = None;
    let mut batch = Batcher::default();
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
        loop {
            match frame::check(&buf[start..], limits.max_frame) {
                Ok(Some(len)) => {
                    let payload = &buf[start + frame::PREFIX..start + len];
                    start += len;
                    held = None;
                    stats.add_received(SourceKind::Tcp, 1);
                    match pickle::decode_record(payload, &limits, SourceKind::Tcp, peer) {
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
                // sender meanwhile sees backpressure, as when the store is slow.
                held = tokio::select! {
                    r = budget.reserve(whole) => r,
                    _ = shutdown.reached(Phase::Stop) => None,
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
        let n = match stopped {
            true => Err(std::io::Error::other("drain time over")),
            false => tokio::select! {
                r = stream.read(&mut buf[old..]) => r,
                _ = shutdown.reached(Phase::Stop) => Err(std::io::Error::other("drain time over")),
                _ = sleep_until_held(&held) => {
                    Err(std::io::Error::other("a large frame stalled while holding buffer budget"))
                }
            },
        };
        match n {
            Ok(0) | Err(_) => {
                buf.truncate(old);
                if let Err(e) = &n {
                    tracing::debug!("tcp {peer}: connection ends: {e}");
                }
                if !buf.is_empty() {
                    // EOF (SocketHandler can time out mid-send and close) or the drain
                    // deadline: the unfinished frame is lost, and counted.
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
async fn submit(
    intake: &Intake,
    batch: Vec<crate::record::Record>,
    shutdown: &mut Shutdown,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let n = batch.len() as u64;
    tokio::select! {
        ok = intake.submit(batch) => ok,
        _ = shutdown.reached(Phase::Stop) => {
            intake.stats.add_dropped(SourceKind::Tcp, n);
            tracing::warn!("tcp: drain time over with {n} records still waiting for the store");
            false
        }
    }
}
