//! The DatagramHandler listener: one length-prefixed pickle per UDP datagram.
//! UDP senders cannot be slowed, so a full queue drops the batch and counts it.

use crate::decode::{DecodeError, frame, pickle};
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::{Record, SourceKind};
use crate::source::pool::{Abandoned, DecodePool, OFFLOAD_BYTES};
use crate::source::{Phase, Shutdown};
use std::sync::atomic::Ordering::Relaxed;
use tokio::net::UdpSocket;

/// Largest possible UDP payload; every datagram fits in one buffer of this size.
const MAX_DATAGRAM: usize = 65_536;

/// Most datagrams read after draining starts: far more than a socket's receive buffer holds
/// (a few hundred KiB of datagrams of at least a few bytes), so what was queued before the
/// signal is kept, while a sender that never stops cannot keep the listener from ending.
const MAX_DRAIN_DATAGRAMS: usize = 65_536;

/// Receives datagrams until draining starts, then empties the socket's queue and returns.
pub async fn serve(
    socket: UdpSocket,
    limits: DecodeLimits,
    pool: DecodePool,
    intake: Intake,
    mut shutdown: Shutdown,
) {
    let mut rx = Receiver {
        limits,
        pool,
        intake,
        batch: Batcher::default(),
        reported: 0,
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let first = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.reached(Phase::Draining) => {
                // Whatever the kernel already holds was sent before we stopped: keep it. Only
                // that much, though: a sender that keeps sending must not keep us here.
                for _ in 0..MAX_DRAIN_DATAGRAMS {
                    let Ok((n, peer)) = socket.try_recv_from(&mut buf) else {
                        break;
                    };
                    if shutdown.phase() >= Phase::Stop
                        || !rx.handle(&buf[..n], &peer.to_string(), &mut shutdown).await
                    {
                        break;
                    }
                }
                rx.intake.try_submit(rx.batch.take());
                return;
            }
        };
        let mut next = first;
        // Drain what is already waiting before handing a batch over: one queue slot per burst.
        loop {
            match next {
                Ok((n, peer)) => {
                    if !rx.handle(&buf[..n], &peer.to_string(), &mut shutdown).await {
                        rx.intake.try_submit(rx.batch.take());
                        return;
                    }
                }
                Err(e) => tracing::debug!("udp receive error: {e}"),
            }
            if rx.batch.len() >= crate::intake::MAX_BATCH_RECORDS {
                break;
            }
            match socket.try_recv_from(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                r => next = r,
            }
        }
        rx.intake.try_submit(rx.batch.take());
    }
}

/// The listener's state between datagrams.
struct Receiver {
    limits: DecodeLimits,
    pool: DecodePool,
    intake: Intake,
    batch: Batcher,
    reported: u64,
}

impl Receiver {
    /// Decodes one datagram into the batch (a big one on the pool); a bad one costs only
    /// itself. False when the drain time ended while a big one was decoding.
    async fn handle(&mut self, dgram: &[u8], peer: &str, shutdown: &mut Shutdown) -> bool {
        let stats = &self.intake.stats;
        stats.add_received(SourceKind::Udp, 1);
        let decoded = if dgram.len() > OFFLOAD_BYTES {
            let (owned, limits, origin) = (dgram.to_vec(), self.limits, peer.to_owned());
            match self
                .pool
                .run(shutdown, move || decode(&owned, &limits, &origin))
                .await
            {
                Ok(r) => r,
                Err(Abandoned::Stopped) => {
                    stats.conns(SourceKind::Udp).abandoned.fetch_add(1, Relaxed);
                    stats.add_dropped(SourceKind::Udp, 1);
                    return false;
                }
                Err(Abandoned::Failed) => {
                    Err(DecodeError::malformed("datagram", "the decoder failed"))
                }
            }
        } else {
            decode(dgram, &self.limits, peer)
        };
        match decoded {
            Ok(rec) => {
                if let Some(full) = self.batch.push(rec) {
                    self.intake.try_submit(full);
                }
            }
            Err(e) => {
                stats.add_rejected(SourceKind::Udp, 1);
                // Log the first bad datagram and then every 1000th, so a flood cannot flood our log.
                if self.reported.is_multiple_of(1000) {
                    tracing::warn!(
                        "udp {peer}: rejected a datagram: {e} ({} rejected so far)",
                        self.reported + 1
                    );
                }
                self.reported += 1;
            }
        }
        true
    }
}

fn decode(dgram: &[u8], limits: &DecodeLimits, peer: &str) -> Result<Record, DecodeError> {
    frame::datagram_payload(dgram, limits.max_frame)
        .and_then(|p| pickle::decode_record(p, limits, SourceKind::Udp, peer))
}
