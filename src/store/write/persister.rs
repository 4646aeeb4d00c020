//! The one writer: a dedicated thread that buffers records from the intake queue and
//! commits them in batches, raising threshold alerts, drop notices and retention as it goes.

use super::alerts::Thresholds;
use super::checkpoint::Checkpointer;
use super::rules::Settings;
use super::writer::{RETENTION_CHUNK, Writer};
use crate::intake::{Batch, Envelope, OnCommit, Outlet};
use crate::record::{Record, SourceKind, WARNING, now_epoch};
use crate::stats::Stats;
use crate::store::config::StoreConfig;
use crate::store::db::schema::{self, Tuning};
use crate::store::error::StoreError;
use crate::store::feed::{CommittedBatch, Feed};
use crate::store::index::build::{self as index, IndexHandle, IndexMsg};
use crate::store::index::index_path;
use crate::value::Value;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The running persister.
pub struct PersisterHandle {
    thread: std::thread::JoinHandle<Result<(), StoreError>>,
}

impl PersisterHandle {
    /// Waits for the persister to finish: it ends once every `Intake` is dropped and
    /// its final flush is done. An error means records were lost at shutdown.
    pub fn join(self) -> Result<(), StoreError> {
        self.thread.join().map_err(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            StoreError::Panicked(msg)
        })?
    }
}

/// Opens the store at `path` (so an unwritable store is reported here) and starts the
/// writer thread that drains `outlet`. Every committed batch is published to `feed`, and a
/// flush is acknowledged only after its batch was published.
pub fn spawn(
    path: &Path,
    cfg: &StoreConfig,
    outlet: Outlet,
    stats: Arc<Stats>,
    feed: Feed,
) -> Result<PersisterHandle, StoreError> {
    spawn_tuned(path, cfg, &Tuning::default(), outlet, stats, feed)
}

/// [`spawn`] with explicit physical settings, for the benchmark.
#[doc(hidden)]
pub fn spawn_tuned(
    path: &Path,
    cfg: &StoreConfig,
    tuning: &Tuning,
    outlet: Outlet,
    stats: Arc<Stats>,
    feed: Feed,
) -> Result<PersisterHandle, StoreError> {
    let settings = Settings::from_config(cfg)?;
    // Two writers would hand out the same ids, and the second one's records would fall
    // where the first one's index says there are none.
    let lock = writer_lock(path)?;
    let conn = schema::open_writer(path, tuning)?;
    let writer = Writer::new(conn, path, tuning.rows_per_insert)?;
    // Before the writer's first commit: see `index::spawn`.
    let index = match tuning.index {
        true => Some(index::spawn(
            path,
            writer.conn(),
            tuning,
            feed.clone(),
            settings.buffer_bytes.saturating_mul(INDEX_QUEUE_FLUSHES),
        )?),
        false => None,
    };
    let checkpoints = match tuning.checkpoint_in_background {
        true => {
            schema::backstop(writer.conn(), path, tuning.wal_autocheckpoint)?;
            let mut files = vec![path.to_path_buf()];
            if tuning.index {
                files.push(index_path(path));
            }
            Some(super::checkpoint::spawn(&files)?)
        }
        false => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(StoreError::Thread)?;
    let p = Persister::new(writer, index, checkpoints, settings, stats, feed);
    let thread = std::thread::Builder::new()
        .name("logtui-store".into())
        .spawn(move || {
            let r = rt.block_on(p.run(outlet));
            // Held until the last commit, index included, is done.
            drop(lock);
            r
        })
        .map_err(StoreError::Thread)?;
    Ok(PersisterHandle { thread })
}

/// Takes `<db>-lock` for this process (an advisory lock, released when the file closes,
/// even if the process dies).
fn writer_lock(path: &Path) -> Result<std::fs::File, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    let lock = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| StoreError::Lock {
            lock: lock.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
            path: path.to_path_buf(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Lock { lock, source }),
    }
}

/// How often, at most, drops are looked for while idle.
const DROP_CHECK: Duration = Duration::from_secs(1);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// First and longest wait before retrying a failed flush.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Flush attempts at shutdown before giving up on the buffer.
const SHUTDOWN_ATTEMPTS: u32 = 4;
/// Most alerts stored per flush; the rest are summed up in one record.
const MAX_ALERTS_PER_FLUSH: usize = 100;
/// How many buffers' worth of bytes (`buffer_bytes`) may wait for the index thread: the
/// writer runs at most this far ahead of the index in memory, as `CHANNEL` bounds it in
/// flushes.
const INDEX_QUEUE_FLUSHES: usize = 2;
/// While flushes fail, the buffer may grow to this many times its size (records and bytes)
/// before the queue is left to fill.
const FAILING_GROWTH: usize = 4;

struct Persister {
    w: Writer,
    /// The index thread, which also publishes to the feed and frees committed records.
    index: Option<IndexHandle>,
    /// The checkpoint thread; stopped when the persister ends, after the index thread.
    _checkpoints: Option<Checkpointer>,
    s: Settings,
    stats: Arc<Stats>,
    /// Where committed batches go; the index thread publishes when there is one.
    feed: Feed,
    thresholds: Thresholds,
    /// Records waiting for the next commit, with their ids once written.
    buffer: Vec<(i64, Record)>,
    /// What `buffer` holds in bytes, as [`Record::approx_size`] counts them.
    buffered_bytes: usize,
    /// Positions of alert records in `buffer`.
    alerts: Vec<usize>,
    alerts_suppressed: u64,
    /// When the oldest buffered record arrived.
    oldest: Option<Instant>,
    acks: Vec<oneshot::Sender<()>>,
    /// Source state to write with the buffer (one value per key, the latest), and whom to
    /// tell once it is committed.
    state: Vec<(String, String)>,
    on_commit: Vec<OnCommit>,
    /// Consecutive failed flushes, and when to try again.
    failures: u32,
    retry_at: Option<Instant>,
    last_dropped: [u64; 5],
    last_drop_note: Option<Instant>,
    next_drop_check: Instant,
    next_retention: Instant,
    retention_pending: bool,
    /// The age sweep of the current retention round has not finished.
    age_pending: bool,
}

impl Persister {
    fn new(
        w: Writer,
        index: Option<IndexHandle>,
        checkpoints: Option<Checkpointer>,
        s: Settings,
        stats: Arc<Stats>,
        feed: Feed,
    ) -> Persister {
        let now = Instant::now();
        Persister {
            w,
            index,
            _checkpoints: checkpoints,
            thresholds: Thresholds::new(s.thresholds.clone(), s.threshold_window),
            buffer: Vec::with_capacity(s.buffer_size + crate::intake::MAX_BATCH_RECORDS),
            buffered_bytes: 0,
            s,
            stats,
            feed,
            alerts: Vec::new(),
            alerts_suppressed: 0,
            oldest: None,
            acks: Vec::new(),
            state: Vec::new(),
            on_commit: Vec::new(),
            failures: 0,
            retry_at: None,
            last_dropped: [0; 5],
            last_drop_note: None,
            next_drop_check: now,
            next_retention: now,
            retention_pending: false,
            age_pending: false,
        }
    }

    async fn run(mut self, mut outlet: Outlet) -> Result<(), StoreError> {
        let mut open = true;
        while open {
            let wake = self.next_wake();
            let accepting = self.accepting();
            if !accepting && outlet.is_closed() {
                // Flushes are failing and every source has gone: waiting for room would wait
                // forever. Take what is queued into the buffer; shutdown stores it or reports it lost.
                while let Ok(env) = outlet.try_recv() {
                    self.on_envelope(env, &mut outlet);
                }
                break;
            }
            tokio::select! {
                biased;
                msg = outlet.recv(), if accepting => match msg {
                    Some(env) => open = self.on_envelope(env, &mut outlet),
                    None => open = false,
                },
                () = tokio::time::sleep_until(wake) => {}
                () = std::future::ready(()), if self.retention_pending => self.retention_chunk(),
            }
            if open {
                self.housekeeping();
            }
        }
        self.shutdown().await
    }

    /// Whether to take more from the queue. While flushes fail the buffer may grow to a
    /// bound, then the queue fills and the sources feel it (TCP waits, UDP/HTTP count drops).
    fn accepting(&self) -> bool {
        self.failures == 0
            || (self.buffer.len() < (self.s.buffer_size * FAILING_GROWTH).max(10_000)
                && self.buffered_bytes < self.s.buffer_bytes.saturating_mul(FAILING_GROWTH))
    }

    fn flush_due(&self) -> Option<Instant> {
        let due = self.oldest.map(|t| t + self.s.flush_interval);
        match (due, self.retry_at) {
            (Some(d), Some(r)) => Some(d.max(r)),
            (d, _) => d,
        }
    }

    fn next_wake(&self) -> Instant {
        let mut wake = self.next_drop_check;
        if self.s.retention_enabled() {
            wake = wake.min(self.next_retention);
        }
        if let Some(d) = self.flush_due() {
            wake = wake.min(d);
        }
        wake
    }

    /// The timer's work, also done after every message so a busy queue cannot starve it.
    fn housekeeping(&mut self) {
        let now = Instant::now();
        if now >= self.next_drop_check {
            self.next_drop_check = now + DROP_CHECK;
            self.note_drops(false);
        }
        if self.s.retention_enabled() && now >= self.next_retention {
            self.next_retention = now + RETENTION_EVERY;
            self.retention_pending = true;
            self.age_pending = self.s.retention_days > 0.0;
            if self.age_pending
                && let Err(e) = self.w.start_age_round()
            {
                tracing::error!(error = %e, "retention failed; trying again at the next round");
                self.age_pending = false;
            }
        }
        if self.flush_due().is_some_and(|d| now >= d) {
            self.flush(false);
        }
    }

    /// Handles one envelope; returns false when the queue turned out to be closed.
    fn on_envelope(&mut self, env: Envelope, outlet: &mut Outlet) -> bool {
        match env {
            Envelope::Flush(ack) => {
                self.acks.push(ack);
                self.flush(true);
                true
            }
            Envelope::Records(batch) => {
                let urgent = self.take(batch);
                let mut open = true;
                if urgent {
                    // One flush for the whole burst: take what is already queued first.
                    while !self.full() {
                        match outlet.try_recv() {
                            Ok(Envelope::Records(b)) => {
                                self.take(b);
                            }
                            Ok(Envelope::Flush(ack)) => self.acks.push(ack),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                }
                if urgent || self.full() || !self.acks.is_empty() {
                    self.flush(!self.acks.is_empty());
                }
                open
            }
        }
    }

    /// Whether the buffer has reached its size in records or in bytes (as the intake's
    /// batches count them: [`Record::approx_size`]), and so must be flushed.
    fn full(&self) -> bool {
        self.buffer.len() >= self.s.buffer_size || self.buffered_bytes >= self.s.buffer_bytes
    }

    /// Buffers a batch after the ignore rules; returns whether it holds an urgent record.
    fn take(&mut self, batch: Batch) -> bool {
        let Batch {
            records,
            state,
            committed,
        } = batch;
        for (k, v) in state {
            match self.state.iter_mut().find(|(have, _)| *have == k) {
                Some(slot) => slot.1 = v,
                None => self.state.push((k, v)),
            }
        }
        if let Some(f) = committed {
            if self.oldest.is_none() {
                // A batch of state alone still waits at most one flush interval.
                self.oldest = Some(Instant::now());
            }
            self.on_commit.push(f);
        }
        let mut urgent = false;
        let mut ignored = [0u64; 5];
        let check_ignore = !self.s.ignore.is_empty();
        for r in records {
            if check_ignore && self.s.ignore.ignores(&r) {
                ignored[r.source as usize] += 1;
                continue;
            }
            urgent |= r.level >= self.s.flush_level;
            self.push(r);
        }
        for s in SourceKind::ALL {
            if ignored[s as usize] > 0 {
                self.stats.add_ignored(s, ignored[s as usize]);
            }
        }
        urgent
    }

    fn push(&mut self, r: Record) {
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        let alert = if self.s.thresholds.is_empty() {
            None
        } else {
            self.thresholds.observe(&r)
        };
        self.buffered_bytes += r.approx_size();
        self.buffer.push((0, r));
        if let Some(a) = alert {
            if self.alerts.len() < MAX_ALERTS_PER_FLUSH {
                self.alerts.push(self.buffer.len());
                self.push_internal(a);
            } else {
                self.alerts_suppressed += 1;
            }
        }
    }

    /// Buffers a record logtui made itself, counting it as received so the per-source
    /// totals add up.
    fn push_internal(&mut self, r: Record) {
        self.stats.add_received(SourceKind::Internal, 1);
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        self.buffered_bytes += r.approx_size();
        self.buffer.push((0, r));
    }

    /// Adds one drop notice when any source's drop counter grew since the last one; at
    /// most one a second (under overload a flush happens every few milliseconds) unless
    /// `force`d at shutdown.
    fn note_drops(&mut self, force: bool) {
        let now = Instant::now();
        if !force && self.last_drop_note.is_some_and(|t| now < t + DROP_CHECK) {
            return;
        }
        let mut parts = Vec::new();
        let mut extra = Vec::new();
        let mut total = 0u64;
        for s in SourceKind::ALL {
            let now = self.stats.of(s).dropped.load(Relaxed);
            let grew = now.saturating_sub(self.last_dropped[s as usize]);
            self.last_dropped[s as usize] = now;
            if grew > 0 {
                total += grew;
                parts.push(format!("{grew} from {s}"));
                extra.push((format!("dropped_{s}"), Value::count(grew)));
            }
        }
        if total == 0 {
            return;
        }
        self.last_drop_note = Some(now);
        let mut r = Record::internal(
            WARNING,
            "logtui.drops",
            format!(
                "{total} records were dropped since the last report because the queue to the store was full: {}",
                parts.join(", ")
            ),
        );
        extra.insert(0, ("dropped".to_owned(), Value::count(total)));
        r.extra = extra;
        tracing::warn!(dropped = total, "{}", r.message);
        self.push_internal(r);
    }

    /// Commits the buffer. Unless `explicit`, a flush inside a retry back-off waits.
    /// Returns whether the buffer is now empty and committed.
    fn flush(&mut self, explicit: bool) -> bool {
        if !explicit && self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        self.note_drops(false);
        if self.alerts_suppressed > 0 {
            let n = std::mem::take(&mut self.alerts_suppressed);
            let mut r = Record::internal(
                WARNING,
                super::alerts::ALERT_LOGGER,
                format!(
                    "{n} more threshold alerts were not stored (at most {MAX_ALERTS_PER_FLUSH} per flush)"
                ),
            );
            r.extra = vec![("suppressed".into(), Value::count(n))];
            self.push_internal(r);
        }
        if self.buffer.is_empty() && self.state.is_empty() && self.on_commit.is_empty() {
            self.ack_all();
            return true;
        }
        match self.w.write(&mut self.buffer, &self.state) {
            Ok(()) => {
                self.after_commit();
                if self.retention_pending {
                    // Under a steady stream the idle branch never runs; interleave here.
                    self.retention_chunk();
                }
                true
            }
            Err(e) => {
                self.failures += 1;
                let wait = RETRY_MIN
                    .saturating_mul(1u32 << self.failures.clamp(1, 10).saturating_sub(1))
                    .min(RETRY_MAX);
                self.retry_at = Some(Instant::now() + wait);
                tracing::error!(
                    error = %e,
                    buffered = self.buffer.len(),
                    failures = self.failures,
                    retry_in_ms = wait.as_millis() as u64,
                    "store flush failed; keeping the records and retrying"
                );
                // The requesters learn that nothing was committed for them.
                self.acks.clear();
                false
            }
        }
    }

    fn after_commit(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                "store flush succeeded after earlier failures"
            );
        }
        self.failures = 0;
        self.retry_at = None;
        self.state.clear();
        for f in self.on_commit.drain(..) {
            f();
        }
        let mut per = [0u64; 5];
        for (_, r) in &self.buffer {
            per[r.source as usize] += 1;
        }
        for s in SourceKind::ALL {
            if per[s as usize] > 0 {
                self.stats.add_stored(s, per[s as usize]);
            }
        }
        match &mut self.index {
            _ if self.buffer.is_empty() => {}
            Some(index) => {
                // The index thread publishes these records, indexes them and frees them,
                // then hands the emptied vector back.
                let fresh = index
                    .recycled()
                    .unwrap_or_else(|| Vec::with_capacity(self.buffer.capacity()));
                let batch = std::mem::replace(&mut self.buffer, fresh);
                index.send(IndexMsg::Index(
                    batch,
                    std::mem::take(&mut self.alerts),
                    self.buffered_bytes,
                ));
            }
            None => {
                let capacity = self.buffer.capacity();
                let batch = CommittedBatch {
                    rows: std::mem::take(&mut self.buffer),
                    alerts: std::mem::take(&mut self.alerts),
                };
                // Reused when no subscriber kept it, as the index thread's recycling does.
                self.buffer = match self.feed.publish(batch) {
                    Some(mut back) => {
                        back.rows.clear();
                        back.rows
                    }
                    None => Vec::with_capacity(capacity),
                };
            }
        }
        self.oldest = None;
        self.buffered_bytes = 0;
        self.ack_all();
    }

    /// Answers flush requests: at once, or once the block index has caught up.
    fn ack_all(&mut self) {
        for ack in self.acks.drain(..) {
            match &mut self.index {
                Some(index) => index.send(IndexMsg::Ack(ack)),
                None => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// Deletes one bounded chunk of expired records; clears `retention_pending` when done.
    fn retention_chunk(&mut self) {
        let mut deleted = 0;
        let mut more = false;
        let result = (|| {
            if self.age_pending {
                let cutoff = now_epoch() - self.s.retention_days * 86_400.0;
                let (n, go_on) = self.w.delete_older_than(cutoff)?;
                deleted += n;
                self.age_pending = go_on;
                more |= go_on;
            }
            if self.s.retention_max_rows > 0 && !more {
                let n = self.w.delete_beyond(self.s.retention_max_rows)?;
                deleted += n;
                more |= n >= RETENTION_CHUNK;
            }
            if deleted > 0 {
                self.forget()?;
            }
            Ok::<(), StoreError>(())
        })();
        match result {
            Ok(()) => {
                if deleted > 0 {
                    tracing::debug!(deleted, more, "retention deleted old records");
                }
                self.retention_pending = more;
            }
            Err(e) => {
                tracing::error!(error = %e, "retention failed; trying again at the next round");
                self.retention_pending = false;
                self.age_pending = false;
            }
        }
    }

    /// Tells the index which blocks retention has emptied.
    fn forget(&mut self) -> Result<(), StoreError> {
        if let Some(index) = &mut self.index {
            index.send(IndexMsg::Forget(self.w.first_id()?));
        }
        Ok(())
    }

    /// The queue is closed: commit what is left, retrying a few times before giving up.
    async fn shutdown(mut self) -> Result<(), StoreError> {
        self.note_drops(true);
        let mut wait = RETRY_MIN;
        for attempt in 1..=SHUTDOWN_ATTEMPTS {
            if self.flush(true) {
                if let Some(index) = &mut self.index {
                    index.finish();
                }
                return Ok(());
            }
            if attempt < SHUTDOWN_ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        let lost = self.buffer.len();
        tracing::error!(lost, "store could not be written at shutdown; records lost");
        // One more attempt to get the exact error for the caller.
        let err = match self.w.write(&mut self.buffer, &self.state) {
            Ok(()) => {
                self.after_commit();
                return Ok(());
            }
            Err(e) => e,
        };
        Err(StoreError::Lost {
            path: self.w.path().to_path_buf(),
            lost,
            source: Box::new(err),
        })
    }
}
