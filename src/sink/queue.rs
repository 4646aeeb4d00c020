//! The bounded queue in front of one sink's target: the dispatcher pushes without ever waiting,
//! and what does not fit (in records or in bytes) is dropped and counted, so a dead target costs
//! ingest nothing.

use crate::record::Record;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A matched record, with its store row id.
pub type Item = (i64, Record);

/// One sink's queue.
pub struct SinkQueue {
    max_records: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
    ready: Condvar,
    /// Records refused because the queue was full.
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct Inner {
    items: VecDeque<(Item, usize)>,
    bytes: usize,
    /// Set at shutdown: nothing more is pushed, and waits end at once.
    closed: bool,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Nothing panics while holding the lock; a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SinkQueue {
    pub fn new(max_records: usize, max_bytes: usize) -> SinkQueue {
        SinkQueue {
            max_records: max_records.max(1),
            max_bytes,
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `item`, or drops and counts it when the queue is full or closed. Never waits.
    /// An empty queue takes one record whatever its size, so a big record is not always lost.
    pub fn push(&self, item: Item) -> bool {
        let size = item.1.approx_size();
        let mut q = lock(&self.inner);
        let fits = !q.closed
            && (q.items.is_empty()
                || (q.items.len() < self.max_records
                    && q.bytes.saturating_add(size) <= self.max_bytes));
        if !fits {
            drop(q);
            self.dropped.fetch_add(1, Relaxed);
            return false;
        }
        q.items.push_back((item, size));
        q.bytes += size;
        drop(q);
        self.ready.notify_one();
        true
    }

    /// Up to `max` records, waiting until `deadline` for the first. Empty when none came in
    /// time or the queue is closed and empty.
    pub fn pop_batch(&self, max: usize, deadline: Instant) -> Vec<Item> {
        let mut q = lock(&self.inner);
        loop {
            if !q.items.is_empty() {
                let n = q.items.len().min(max.max(1));
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    if let Some((item, size)) = q.items.pop_front() {
                        q.bytes -= size;
                        out.push(item);
                    }
                }
                return out;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if q.closed || left.is_zero() {
                return Vec::new();
            }
            q = self
                .ready
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until `deadline`, or less if the queue is closed meanwhile (a sink waiting out its
    /// backoff must notice shutdown).
    pub fn sleep_until(&self, deadline: Instant) {
        let mut q = lock(&self.inner);
        while !q.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            q = self
                .ready
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Refuses new records from now on and wakes the sink.
    pub fn close(&self) {
        lock(&self.inner).closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.inner).closed
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        lock(&self.inner).items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes everything left (what a sink could not send before its drain deadline).
    pub fn take_all(&self) -> usize {
        let mut q = lock(&self.inner);
        let n = q.items.len();
        q.items.clear();
        q.bytes = 0;
        n
    }
}

/// How long a pop waits by default when nothing is queued.
pub const IDLE_WAIT: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SourceKind;

    fn item(id: i64) -> Item {
        (id, Record::new(SourceKind::Tcp, "t"))
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let q = SinkQueue::new(2, usize::MAX);
        assert!(q.push(item(1)) && q.push(item(2)));
        assert!(!q.push(item(3)));
        assert_eq!(q.dropped.load(Relaxed), 1);
        let got = q.pop_batch(10, Instant::now());
        assert_eq!(got.iter().map(|i| i.0).collect::<Vec<_>>(), [1, 2]);
        assert!(q.push(item(4)));
        q.close();
        assert!(!q.push(item(5)), "closed");
        assert_eq!(
            q.pop_batch(10, Instant::now() + Duration::from_secs(60))
                .len(),
            1
        );
        assert!(
            q.pop_batch(10, Instant::now() + Duration::from_secs(60))
                .is_empty(),
            "closed and empty: no wait"
        );
    }

    #[test]
    fn the_byte_bound_holds_but_an_empty_queue_takes_one() {
        let one = item(1).1.approx_size();
        let q = SinkQueue::new(100, one);
        assert!(q.push(item(1)));
        assert!(!q.push(item(2)));
        assert_eq!(q.take_all(), 1);
        assert!(q.is_empty());
    }

    #[test]
    fn a_pop_wakes_for_a_push() {
        let q = std::sync::Arc::new(SinkQueue::new(10, usize::MAX));
        let q2 = q.clone();
        let t =
            std::thread::spawn(move || q2.pop_batch(5, Instant::now() + Duration::from_secs(30)));
        while !q.push(item(7)) {}
        assert_eq!(t.join().unwrap()[0].0, 7);
    }
}
