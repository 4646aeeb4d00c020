//! The post-commit hub: committed batches fan out to subscribers (panes, `--echo`, forwarders)
//! through bounded queues, so no consumer can slow the store; one that lags is told what it missed.
//!
//! The index thread publishes each batch once, after its commit. Every subscriber has its own
//! queue, bounded in batches and in bytes; batches are shared (`Arc`), so what the hub holds
//! is bounded by the largest subscriber's limit, not by their sum. A batch that does not fit a
//! subscriber's queue is not queued for it: its id range joins that subscriber's pending
//! [`FeedItem::Missed`], which arrives in order, so the subscriber reads exactly that range
//! back from the store (by id) and never sees a gap it does not know about.

use crate::record::Record;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Records just committed, with their row ids, in insert order (ids ascending).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommittedBatch {
    pub rows: Vec<(i64, Record)>,
    /// Positions in `rows` of the threshold alerts among them.
    pub alerts: Vec<usize>,
}

impl CommittedBatch {
    /// The threshold alerts among the rows, in order.
    pub fn alert_rows(&self) -> impl Iterator<Item = &(i64, Record)> {
        self.alerts.iter().filter_map(|&i| self.rows.get(i))
    }

    /// What the rows hold in bytes, as [`Record::approx_size`] counts them.
    pub fn bytes(&self) -> usize {
        self.rows.iter().map(|(_, r)| r.approx_size()).sum()
    }
}

/// How much one subscriber's queue may hold before batches are missed instead of queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Batches waiting (one per commit, so this is how many flushes a consumer may fall behind).
    pub max_batches: usize,
    /// Bytes of records waiting, as [`Record::approx_size`] counts them. An empty queue takes
    /// one batch whatever its size: it exists anyway, and a consumer that keeps up must not
    /// miss records because one burst made a big batch.
    pub max_bytes: usize,
}

/// What a subscriber receives, in id order.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// A committed batch, shared with the other subscribers.
    Batch(Arc<CommittedBatch>),
    /// Batches that did not fit this subscriber's queue: `records` rows with ids from
    /// `first_id` to `last_id` (inclusive) were committed and are in the store (unless
    /// retention has since deleted them). Everything before this item was delivered and
    /// everything after it comes after `last_id`.
    Missed {
        first_id: i64,
        last_id: i64,
        records: u64,
    },
}

/// The hub: a cheap handle, cloned by the publisher and by everyone who subscribes.
#[derive(Clone)]
pub struct Feed {
    hub: Arc<Hub>,
}

struct Hub {
    subscribers: Mutex<Vec<Arc<Slot>>>,
    /// How many subscribers there are, read without the lock so a store nobody watches
    /// pays one atomic load per commit.
    live: AtomicUsize,
    missed: AtomicU64,
}

/// One subscriber's queue.
struct Slot {
    name: &'static str,
    limits: FeedLimits,
    queue: Mutex<Queue>,
    ready: Condvar,
    missed: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Batches and missed ranges, in id order. Adjacent missed ranges merge, so there are at
    /// most `batches + 1` of them: the queue is bounded by its batch limit.
    items: VecDeque<Entry>,
    batches: usize,
    bytes: usize,
    /// Set while the subscriber is missing batches, so the lag is logged once per episode.
    lagging: bool,
}

enum Entry {
    Batch(Arc<CommittedBatch>, usize),
    Missed {
        first_id: i64,
        last_id: i64,
        records: u64,
    },
}

/// A subscriber's end of the feed; dropping it unsubscribes.
pub struct Subscription {
    slot: Arc<Slot>,
    hub: Arc<Hub>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        Feed {
            hub: Arc::new(Hub {
                subscribers: Mutex::new(Vec::new()),
                live: AtomicUsize::new(0),
                missed: AtomicU64::new(0),
            }),
        }
    }

    /// A new subscriber, which receives every batch published from now on. `name` says who
    /// it is in logs (`"echo"`, `"pane"`).
    pub fn subscribe(&self, name: &'static str, limits: FeedLimits) -> Subscription {
        let slot = Arc::new(Slot {
            name,
            limits,
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            missed: AtomicU64::new(0),
        });
        let mut subs = lock(&self.hub.subscribers);
        subs.push(slot.clone());
        self.hub.live.store(subs.len(), Relaxed);
        Subscription {
            slot,
            hub: self.hub.clone(),
        }
    }

    /// Whether anyone is subscribed (a hint: it may change at once).
    pub fn has_subscribers(&self) -> bool {
        self.hub.live.load(Relaxed) > 0
    }

    /// Offers `batch` to every subscriber. Never blocks on a consumer: it takes each
    /// subscriber's lock only to push or to grow a missed range. Returns the batch back when
    /// nobody kept it (nobody subscribed, every queue full, or no rows), so the caller can
    /// reuse its buffers.
    pub fn publish(&self, batch: CommittedBatch) -> Option<CommittedBatch> {
        if batch.rows.is_empty() || !self.has_subscribers() {
            return Some(batch);
        }
        let bytes = batch.bytes();
        let shared = Arc::new(batch);
        self.publish_shared(&shared, bytes);
        Arc::try_unwrap(shared).ok()
    }

    /// [`publish`](Feed::publish) for a batch the caller still reads (the index thread
    /// indexes it after publishing) and whose size it already knows.
    pub(crate) fn publish_shared(&self, batch: &Arc<CommittedBatch>, bytes: usize) {
        let (Some(first), Some(last)) = (batch.rows.first(), batch.rows.last()) else {
            return;
        };
        let (first_id, last_id) = (first.0, last.0);
        let records = batch.rows.len() as u64;
        let subs = lock(&self.hub.subscribers);
        for slot in subs.iter() {
            if !slot.offer(batch, bytes, first_id, last_id, records) {
                self.hub.missed.fetch_add(records, Relaxed);
            }
        }
    }

    /// Records dropped for lagging subscribers so far, all subscribers together (a record
    /// two subscribers missed counts twice).
    pub fn missed_total(&self) -> u64 {
        self.hub.missed.load(Relaxed)
    }
}

impl Slot {
    /// Queues `batch`, or adds it to the missed range; returns whether it was queued.
    fn offer(
        &self,
        batch: &Arc<CommittedBatch>,
        bytes: usize,
        first_id: i64,
        last_id: i64,
        records: u64,
    ) -> bool {
        let mut q = lock(&self.queue);
        let fits = q.batches == 0
            || (q.batches < self.limits.max_batches
                && q.bytes.saturating_add(bytes) <= self.limits.max_bytes);
        if fits {
            q.items.push_back(Entry::Batch(batch.clone(), bytes));
            q.batches += 1;
            q.bytes += bytes;
            q.lagging = false;
        } else {
            match q.items.back_mut() {
                Some(Entry::Missed {
                    last_id: l,
                    records: n,
                    ..
                }) => {
                    *l = last_id;
                    *n += records;
                }
                _ => q.items.push_back(Entry::Missed {
                    first_id,
                    last_id,
                    records,
                }),
            }
            self.missed.fetch_add(records, Relaxed);
            if !q.lagging {
                q.lagging = true;
                tracing::debug!(
                    subscriber = self.name,
                    first_id,
                    "a feed subscriber fell behind; it reads what it missed from the store"
                );
            }
        }
        drop(q);
        self.ready.notify_one();
        fits
    }
}

impl Queue {
    fn pop(&mut self) -> Option<FeedItem> {
        Some(match self.items.pop_front()? {
            Entry::Batch(b, bytes) => {
                self.batches -= 1;
                self.bytes -= bytes;
                FeedItem::Batch(b)
            }
            Entry::Missed {
                first_id,
                last_id,
                records,
            } => FeedItem::Missed {
                first_id,
                last_id,
                records,
            },
        })
    }
}

impl Subscription {
    /// The next item, if one is waiting.
    pub fn try_recv(&self) -> Option<FeedItem> {
        lock(&self.slot.queue).pop()
    }

    /// The next item, waiting up to `d` for one.
    pub fn recv_timeout(&self, d: Duration) -> Option<FeedItem> {
        let deadline = Instant::now().checked_add(d);
        let mut q = lock(&self.slot.queue);
        loop {
            if let Some(item) = q.pop() {
                return Some(item);
            }
            let left = match deadline {
                Some(t) => t.checked_duration_since(Instant::now())?,
                // A wait too long to represent: wait in long steps.
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return None;
            }
            q = self
                .slot
                .ready
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Records this subscriber has missed in total (each announced by a [`FeedItem::Missed`]).
    pub fn missed(&self) -> u64 {
        self.slot.missed.load(Relaxed)
    }

    /// The name it subscribed with.
    pub fn name(&self) -> &'static str {
        self.slot.name
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = lock(&self.hub.subscribers);
        subs.retain(|s| !Arc::ptr_eq(s, &self.slot));
        self.hub.live.store(subs.len(), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SourceKind;

    fn batch(ids: std::ops::RangeInclusive<i64>) -> CommittedBatch {
        CommittedBatch {
            rows: ids
                .map(|id| {
                    let mut r = Record::new(SourceKind::Tcp, "t");
                    r.message = format!("m{id}");
                    (id, r)
                })
                .collect(),
            alerts: Vec::new(),
        }
    }

    const ROOMY: FeedLimits = FeedLimits {
        max_batches: 100,
        max_bytes: usize::MAX,
    };

    fn ids(item: &FeedItem) -> Vec<i64> {
        match item {
            FeedItem::Batch(b) => b.rows.iter().map(|(id, _)| *id).collect(),
            FeedItem::Missed { .. } => panic!("missed {item:?}"),
        }
    }

    #[test]
    fn nobody_subscribed_hands_the_batch_back() {
        let feed = Feed::new();
        let b = batch(1..=3);
        assert_eq!(feed.publish(b.clone()), Some(b.clone()));
        let sub = feed.subscribe("t", ROOMY);
        assert_eq!(feed.publish(b.clone()), None, "a subscriber keeps it");
        drop(sub);
        assert!(!feed.has_subscribers());
        assert_eq!(feed.publish(b.clone()), Some(b));
        assert_eq!(feed.missed_total(), 0);
    }

    #[test]
    fn every_subscriber_gets_the_same_shared_batch_in_order() {
        let feed = Feed::new();
        let (a, b) = (feed.subscribe("a", ROOMY), feed.subscribe("b", ROOMY));
        feed.publish(batch(1..=2));
        feed.publish(batch(3..=3));
        let (a1, b1) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        match (&a1, &b1) {
            (FeedItem::Batch(x), FeedItem::Batch(y)) => assert!(Arc::ptr_eq(x, y)),
            _ => panic!("{a1:?} {b1:?}"),
        }
        assert_eq!(ids(&a1), [1, 2]);
        assert_eq!(ids(&a.try_recv().unwrap()), [3]);
        assert!(a.try_recv().is_none());
        assert_eq!(ids(&b.try_recv().unwrap()), [3]);
    }

    #[test]
    fn a_full_queue_turns_batches_into_one_missed_range_in_order() {
        let feed = Feed::new();
        let slow = feed.subscribe(
            "slow",
            FeedLimits {
                max_batches: 2,
                max_bytes: usize::MAX,
            },
        );
        let fast = feed.subscribe("fast", ROOMY);
        for i in 0..5 {
            feed.publish(batch(i * 10 + 1..=i * 10 + 10));
        }
        // Two queued, three missed as one range; then room again: the next batch follows it.
        assert_eq!(ids(&slow.try_recv().unwrap()), (1..=10).collect::<Vec<_>>());
        feed.publish(batch(51..=52));
        assert_eq!(
            ids(&slow.try_recv().unwrap()),
            (11..=20).collect::<Vec<_>>()
        );
        match slow.try_recv().unwrap() {
            FeedItem::Missed {
                first_id,
                last_id,
                records,
            } => assert_eq!((first_id, last_id, records), (21, 50, 30)),
            other => panic!("{other:?}"),
        }
        assert_eq!(ids(&slow.try_recv().unwrap()), [51, 52]);
        assert!(slow.try_recv().is_none());
        assert_eq!(
            (slow.missed(), fast.missed(), feed.missed_total()),
            (30, 0, 30)
        );
        assert_eq!((0..6).filter_map(|_| fast.try_recv()).count(), 6);
    }

    #[test]
    fn the_byte_limit_holds_but_an_empty_queue_takes_any_batch() {
        let feed = Feed::new();
        let one = batch(1..=1).bytes();
        let sub = feed.subscribe(
            "t",
            FeedLimits {
                max_batches: 100,
                max_bytes: one * 2,
            },
        );
        feed.publish(batch(1..=5)); // bigger than the limit, into an empty queue
        feed.publish(batch(6..=6)); // does not fit behind it
        assert_eq!(ids(&sub.try_recv().unwrap()).len(), 5);
        feed.publish(batch(7..=7));
        feed.publish(batch(8..=8));
        feed.publish(batch(9..=9)); // over two records' bytes
        assert!(matches!(
            sub.try_recv(),
            Some(FeedItem::Missed {
                first_id: 6,
                last_id: 6,
                records: 1
            })
        ));
        assert_eq!(ids(&sub.try_recv().unwrap()), [7]);
        assert_eq!(ids(&sub.try_recv().unwrap()), [8]);
        assert!(matches!(
            sub.try_recv(),
            Some(FeedItem::Missed { first_id: 9, .. })
        ));
        assert_eq!(sub.missed(), 2);
    }

    #[test]
    fn recv_timeout_wakes_for_a_publish_and_times_out_without_one() {
        let feed = Feed::new();
        let sub = feed.subscribe("t", ROOMY);
        assert!(sub.recv_timeout(Duration::from_millis(20)).is_none());
        let f2 = feed.clone();
        let t = std::thread::spawn(move || f2.publish(batch(1..=1)));
        let got = sub.recv_timeout(Duration::from_secs(30));
        assert_eq!(ids(&got.unwrap()), [1]);
        t.join().unwrap();
    }
}
