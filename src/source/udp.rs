//! The DatagramHandler listener: one length-prefixed pickle per UDP datagram.
//! UDP senders cannot be slowed, so a full queue drops the batch and counts it.

use crate::decode::{frame, pickle};
use crate::intake::{Batcher, Intake};
use crate::limits::DecodeLimits;
use crate::record::SourceKind;
use crate::source::{Phase, Shutdown};
use tokio::net::UdpSocket;

/// Largest possible UDP payload; every datagram fits in one buffer of this size.
const MAX_DATAGRAM: usize = 65_536;

/// Receives datagrams until draining starts, then empties the socket's queue and returns.
pub async fn serve(
    socket: UdpSocket,
    limits: DecodeLimits,
    intake: Intake,
    mut shutdown: Shutdown,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut batch = Batcher::default();
    let mut reported = 0u64;
    loop {
        let first = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shutdown.reached(Phase::Draining) => {
                // Whatever the kernel already holds was sent before we stopped: keep it.
                while let Ok(got) = socket.try_recv_from(&mut buf) {
                    handle(&buf[..got.0], &got.1.to_string(), &limits, &intake, &mut batch, &mut reported);
                }
                intake.try_submit(SourceKind::Udp, batch.take());
                return;
            }
        };
        let mut next = first;
        // Drain what is already waiting before handing a batch over: one queue slot per burst.
        loop {
            match next {
                Ok((n, peer)) => handle(
                    &buf[..n],
                    &peer.to_string(),
                    &limits,
                    &intake,
                    &mut batch,
                    &mut reported,
                ),
                Err(e) => tracing::debug!("udp receive error: {e}"),
            }
            if batch.len() >= crate::intake::MAX_BATCH_RECORDS {
                break;
            }
            match socket.try_recv_from(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                r => next = r,
            }
        }
        intake.try_submit(SourceKind::Udp, batch.take());
    }
}

/// Decodes one datagram into the batch; a bad one costs only itself.
fn handle(
    dgram: &[u8],
    peer: &str,
    limits: &DecodeLimits,
    intake: &Intake,
    batch: &mut Batcher,
    reported: &mut u64,
) {
    let stats = &intake.stats;
    stats.add_received(SourceKind::Udp, 1);
    let decoded = frame::datagram_payload(dgram, limits.max_frame)
        .and_then(|p| pickle::decode_record(p, limits, SourceKind::Udp, peer));
    match decoded {
        Ok(rec) => {
            if let Some(full) = batch.push(rec) {
                intake.try_submit(SourceKind::Udp, full);
            }
        }
        Err(e) => {
            stats.add_rejected(SourceKind::Udp, 1);
            // Log the first bad datagram and then every 1000th, so a flood cannot flood our log.
            if (*reported).is_multiple_of(1000) {
                tracing::warn!(
                    "udp {peer}: rejected a datagram: {e} ({} rejected so far)",
                    *reported + 1
                );
            }
            *reported += 1;
        }
    }
}
