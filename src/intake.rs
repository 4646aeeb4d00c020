//! The intake queue: the one path from the sources to the store.
//! Sources hand it batches; a bounded queue sits in front of the persister so a slow disk is felt, never hidden.

use crate::decode::logrecord::format_refused;
use crate::record::Record;
use crate::stats::Stats;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most records a source puts in one batch; keeps per-message overhead low without big bursts.
pub const MAX_BATCH_RECORDS: usize = 1024;
/// Most approximate bytes a source puts in one batch, so queue memory stays bounded
/// (queue capacity × this) even when every record is huge.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Called once the transaction holding its batch has committed: how a source that can take
/// back what it handed over (a Redis list) learns that it may forget it.
pub type OnCommit = Box<dyn FnOnce() + Send>;

/// Records for the store, with what their source wants kept alongside them.
///
/// `state` is written to the store's `source_state` table in the same transaction as
/// `records`, so a source's position and the records it covers are committed together or not
/// at all; `committed` runs after that transaction commits. A socket listener's batch has
/// neither (no allocation: both are empty).
#[derive(Default)]
pub struct Batch {
    pub records: Vec<Record>,
    /// `(key, value)` pairs for `source_state`; a later batch's value for a key replaces an earlier one's.
    pub state: Vec<(String, String)>,
    pub committed: Option<OnCommit>,
}

impl From<Vec<Record>> for Batch {
    fn from(records: Vec<Record>) -> Batch {
        Batch {
            records,
            state: Vec::new(),
            committed: None,
        }
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("records", &self.records.len())
            .field("state", &self.state)
            .field("committed", &self.committed.is_some())
            .finish()
    }
}

impl Batch {
    /// Nothing to store and nothing to record or report.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.state.is_empty() && self.committed.is_none()
    }
}

/// What travels to the persister.
#[derive(Debug)]
pub enum Envelope {
    Records(Batch),
    /// Flush now and acknowledge once committed.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The sources' handle on the intake queue. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<Envelope>,
    pub stats: Arc<Stats>,
}

/// The persister's end of the queue.
pub type Outlet = mpsc::Receiver<Envelope>;

impl Intake {
    /// Makes the queue: `capacity` batches of at most [`MAX_BATCH_RECORDS`] records each.
    pub fn new(capacity: usize, stats: Arc<Stats>) -> (Intake, Outlet) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Intake { tx, stats }, rx)
    }

    /// Waits for room: used by TCP, which applies backpressure by not reading while it waits,
    /// and by the Redis list consumer. Returns false once the store has gone away, having
    /// counted the batch's records as dropped (its `committed` then never runs).
    pub async fn submit(&self, batch: impl Into<Batch>) -> bool {
        let batch = batch.into();
        if batch.is_empty() {
            return true;
        }
        self.count_format_refused(&batch.records);
        let (n, source) = (
            batch.records.len() as u64,
            batch.records.first().map(|r| r.source),
        );
        let ok = self.tx.send(Envelope::Records(batch)).await.is_ok();
        if let (false, Some(source)) = (ok, source) {
            self.stats.add_dropped(source, n);
        }
        ok
    }

    /// Never waits: used by UDP and HTTP, whose senders cannot be slowed.
    /// A full queue drops the batch and counts it against its records' source.
    pub fn try_submit(&self, batch: Vec<Record>) -> bool {
        if batch.is_empty() {
            return true;
        }
        self.count_format_refused(&batch);
        let (n, source) = (batch.len() as u64, batch[0].source);
        match self.tx.try_send(Envelope::Records(batch.into())) {
            Ok(()) => true,
            Err(_) => {
                self.stats.add_dropped(source, n);
                false
            }
        }
    }

    /// Counts the records whose formatting was refused, against their own source. One look at
    /// each record's last extra (the decoder puts the mark there), on memory the batcher just read.
    fn count_format_refused(&self, batch: &[Record]) {
        for r in batch.iter().filter(|r| format_refused(r)) {
            self.stats.add_format_refused(r.source, 1);
        }
    }

    /// Whether the store's writer has gone (nothing submitted will be stored).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Asks the persister to flush and waits until it has committed.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Envelope::Flush(tx)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }
}

/// Accumulates records into batches within the size bounds above.
#[derive(Default)]
pub struct Batcher {
    records: Vec<Record>,
    bytes: usize,
}

impl Batcher {
    /// Adds a record; returns a full batch when one is ready to send.
    pub fn push(&mut self, r: Record) -> Option<Vec<Record>> {
        self.bytes += r.approx_size();
        self.records.push(r);
        (self.records.len() >= MAX_BATCH_RECORDS || self.bytes >= MAX_BATCH_BYTES)
            .then(|| self.take())
    }

    pub fn take(&mut self) -> Vec<Record> {
        self.bytes = 0;
        // The next batch is likely this one's size: room for it at once spares the copies of
        // growing one (a full batch is a few hundred KiB of records).
        let n = self.records.len();
        let mut batch = std::mem::replace(&mut self.records, Vec::with_capacity(n));
        // A short batch after a long one gives back the room it does not use, so a queue of
        // them holds what they carry, not that many full batches.
        if batch.capacity() > 2 * n {
            batch.shrink_to_fit();
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
