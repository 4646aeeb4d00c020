//! Shared helpers for the `store_*` tests (included with `#[path]`; as its own test
//! target it has no tests).
#![allow(dead_code)]

use logtui::config::StoreConfig;
use logtui::intake::Intake;
use logtui::record::{INFO, Record, SourceKind};
use logtui::stats::Stats;
use logtui::store::{
    self, Feed, FeedItem, FeedLimits, Filter, PersisterHandle, StoreError, Subscription,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a feed subscriber saw.
#[derive(Default)]
pub struct Seen {
    pub stored: Vec<(i64, Record)>,
    pub commits: usize,
    pub alerts: Vec<Record>,
}

/// A persister on a temporary store, fed through a real `Intake`.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub intake: Option<Intake>,
    pub stats: Arc<Stats>,
    pub handle: Option<PersisterHandle>,
    pub feed: Feed,
    /// Subscribed with room for everything a test sends; read it through [`Harness::seen`].
    pub sub: Subscription,
    observed: Mutex<Seen>,
    pub rt: tokio::runtime::Runtime,
}

pub fn config() -> StoreConfig {
    StoreConfig {
        buffer_size: 1000,
        flush_interval: 3600.0,
        flush_level: "CRITICAL".into(),
        thresholds: Default::default(),
        ..StoreConfig::default()
    }
}

impl Harness {
    pub fn start(cfg: StoreConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        Harness::start_at(dir, path, cfg)
    }

    pub fn start_at(dir: tempfile::TempDir, path: PathBuf, cfg: StoreConfig) -> Harness {
        let stats = Arc::new(Stats::default());
        let (intake, outlet) = Intake::new(cfg.queue_batches, stats.clone());
        let feed = Feed::new();
        let sub = feed.subscribe(
            "test",
            FeedLimits {
                max_batches: usize::MAX,
                max_bytes: usize::MAX,
            },
        );
        let handle = store::spawn(&path, &cfg, outlet, stats.clone(), feed.clone()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Harness {
            dir,
            path,
            intake: Some(intake),
            stats,
            handle: Some(handle),
            feed,
            sub,
            observed: Mutex::new(Seen::default()),
            rt,
        }
    }

    pub fn send(&self, batch: Vec<Record>) {
        let intake = self.intake.as_ref().unwrap();
        for r in &batch {
            self.stats.add_received(r.source, 1);
        }
        assert!(self.rt.block_on(intake.submit(batch)));
    }

    /// What the subscriber has been given so far: every batch published before the last
    /// answered flush (or before the persister ended) is in.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        let mut s = self.observed.lock().unwrap();
        while let Some(item) = self.sub.try_recv() {
            match item {
                FeedItem::Batch(b) => {
                    s.commits += 1;
                    s.stored.extend(b.rows.iter().cloned());
                    s.alerts.extend(b.alert_rows().map(|(_, r)| r.clone()));
                }
                FeedItem::Missed { .. } => panic!("the test subscriber has room for everything"),
            }
        }
        s
    }

    pub fn flush(&self) {
        assert!(self.rt.block_on(self.intake.as_ref().unwrap().flush()));
    }

    /// Closes the queue and waits for the persister's final flush.
    pub fn close(&mut self) -> Result<(), StoreError> {
        self.intake = None;
        self.handle.take().unwrap().join()
    }

    /// Rows in the store, read through a fresh read-only connection.
    pub fn count(&self, f: &Filter) -> u64 {
        let c = store::open_read_only(&self.path).unwrap();
        store::count(&c, f).unwrap()
    }

    pub fn all(&self, f: &Filter) -> Vec<(i64, Record)> {
        let c = store::open_read_only(&self.path).unwrap();
        let mut out = Vec::new();
        store::for_each(&c, f, |id, r| out.push((id, r))).unwrap();
        out
    }

    pub fn rows(&self) -> u64 {
        self.count(&Filter::default())
    }

    /// Waits up to `limit` for `cond`.
    pub fn wait_for(&self, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        cond()
    }
}

/// A plain record from `logger` at `level` with `message`.
pub fn rec(logger: &str, level: i32, message: &str) -> Record {
    let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:4000");
    r.logger = logger.into();
    r.set_level(level);
    r.message = message.into();
    r
}

pub fn info(message: &str) -> Record {
    rec("app", INFO, message)
}
