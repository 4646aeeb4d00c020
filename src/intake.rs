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

/// What travels to the persister.
#[derive(Debug)]
pub enum Envelope {
    Records(Vec<Record>),
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

    /// Waits for room: used by TCP, which applies backpressure by not reading while it waits.
    /// Returns false once the store has gone away, having counted the batch as dropped.
    pub async fn submit(&self, batch: Vec<Record>) -> bool {
        if batch.is_empty() {
            return true;
        }
        self.count_format_refused(&batch);
        let (n, source) = (batch.len() as u64, batch[0].source);
        let ok = self.tx.send(Envelope::Records(batch)).await.is_ok();
        if !ok {
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
        match self.tx.try_send(Envelope::Records(batch)) {
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
        std::mem::take(&mut self.records)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
