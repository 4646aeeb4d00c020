//! Following a store another process writes (`logtui view`): a thread with its own read-only
//! connection publishes newly committed rows into a [`Feed`], as the persister does for its own.
//!
//! The store's directory is watched with `notify`: a change to the store or its `-wal` wakes
//! the thread, which asks `PRAGMA data_version` whether another connection committed and, if
//! so, reads the rows after the last one it published, a page at a time. A poll every
//! [`POLL`] backs the watcher up on filesystems where it sees nothing, and replaces it where
//! it cannot start; [`Follower::how`] says which is in use.

use super::error::StoreError;
use super::feed::{CommittedBatch, Feed};
use super::open::open_read_only;
use super::read::query::{Filter, for_each};
use super::write::alerts::is_alert;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use rusqlite::Connection;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often the store is checked whatever the watcher says. A check that finds nothing new
/// is one `PRAGMA data_version`, so this costs next to nothing, and it keeps a view within a
/// quarter of a second of the writer where notify is blind (network filesystems).
pub const POLL: Duration = Duration::from_millis(250);
/// After a change is seen, how long further events are gathered before reading, so a burst
/// of writes (a flush touches the WAL many times) costs one read.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// Rows per published batch: one page of the store read.
pub const PAGE: u64 = 1000;

/// How a follower learns that the store changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowMode {
    /// The directory watcher, with the poll as a backstop.
    Notify,
    /// The poll alone: the watcher could not be started here.
    Polling,
}

/// The running follower; [`stop`](Follower::stop) (or dropping it) ends its thread.
pub struct Follower {
    mode: FollowMode,
    state: Arc<State>,
    wake: SyncSender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Kept so the watch lasts as long as the follower.
    _watcher: Option<RecommendedWatcher>,
}

/// What the thread shares with its handle.
struct State {
    last_id: AtomicI64,
    writer_seen: Mutex<Option<Instant>>,
    stop: AtomicBool,
}

/// Starts following the store at `path`: rows with ids above `after_id` (those there now,
/// then those committed later) are published to `feed` in id order, at most [`PAGE`] per
/// batch. Fails as [`open_read_only`] does when the store cannot be read.
pub fn follow(path: &Path, feed: Feed, after_id: i64) -> Result<Follower, StoreError> {
    let conn = open_read_only(path)?;
    let state = Arc::new(State {
        last_id: AtomicI64::new(after_id),
        writer_seen: Mutex::new(None),
        stop: AtomicBool::new(false),
    });
    // One pending wake-up at most: events arriving while one waits cost nothing more.
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let watcher = watch(path, wake.clone());
    let mode = match watcher {
        Some(_) => FollowMode::Notify,
        None => FollowMode::Polling,
    };
    let reader = Reader {
        conn,
        feed,
        state: state.clone(),
        version: None,
        failing: false,
    };
    let thread = std::thread::Builder::new()
        .name("logtui-follow".into())
        .spawn(move || reader.run(woken))
        .map_err(StoreError::Thread)?;
    Ok(Follower {
        mode,
        state,
        wake,
        thread: Some(thread),
        _watcher: watcher,
    })
}

impl Follower {
    /// Whether the watcher or the poll alone tells the follower of changes.
    pub fn how(&self) -> FollowMode {
        self.mode
    }

    /// The id of the last row published (the `after_id` it started from until one is).
    pub fn last_id(&self) -> i64 {
        self.state.last_id.load(Relaxed)
    }

    /// When another connection was last seen committing to the store; `None` until it is.
    pub fn writer_seen(&self) -> Option<Instant> {
        *self
            .state
            .writer_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the thread, after the page it may be reading.
    pub fn stop(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.state.stop.store(true, SeqCst);
        let _ = self.wake.try_send(());
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the store follower panicked");
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.end();
    }
}

/// Watches the store's directory for changes to the store and its WAL; `None` when the
/// watcher cannot start (the poll then does the work alone).
fn watch(path: &Path, wake: SyncSender<()>) -> Option<RecommendedWatcher> {
    let name = path.file_name()?.to_owned();
    let mut wal = name.clone();
    wal.push("-wal");
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let names: [OsString; 2] = [name, wal];
    let handler = move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        // Reads open and close the files too (our own among them); only writes matter.
        let writes = match ev.kind {
            EventKind::Access(notify::event::AccessKind::Close(
                notify::event::AccessMode::Write,
            )) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        // `-shm` changes on every read, `-index` with the writer's indexing: neither says
        // that records were committed.
        let ours = ev
            .paths
            .iter()
            .any(|p| p.file_name().is_some_and(|f| names.iter().any(|n| n == f)));
        if writes && ours {
            // Full: a wake-up is already pending, which is all a burst needs.
            let _ = wake.try_send(());
        }
    };
    let mut w = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::info!(error = %e, "cannot watch the store for changes; polling it instead");
            return None;
        }
    };
    match w.watch(&dir, RecursiveMode::NonRecursive) {
        Ok(()) => Some(w),
        Err(e) => {
            tracing::info!(error = %e, dir = %dir.display(), "cannot watch the store's directory; polling it instead");
            None
        }
    }
}

/// The thread's side.
struct Reader {
    conn: Connection,
    feed: Feed,
    state: Arc<State>,
    /// `PRAGMA data_version` when the store was last read in full; `None` before the first read.
    version: Option<i64>,
    /// Set while checks fail, so a lasting failure is logged once.
    failing: bool,
}

impl Reader {
    fn run(mut self, woken: Receiver<()>) {
        loop {
            if self.state.stop.load(SeqCst) {
                return;
            }
            match self.check() {
                Ok(()) => self.failing = false,
                Err(e) => {
                    if !self.failing {
                        tracing::warn!(error = %e, "cannot read new records from the store; trying again");
                    }
                    self.failing = true;
                }
            }
            match woken.recv_timeout(POLL) {
                Ok(()) => {
                    // Gather the rest of the burst, then read once.
                    let until = Instant::now() + DEBOUNCE;
                    while let Some(left) = until.checked_duration_since(Instant::now()) {
                        if left.is_zero() || woken.recv_timeout(left).is_err() {
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Reads and publishes what is new, if another connection committed since the last read.
    fn check(&mut self) -> Result<(), StoreError> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(path_of(&self.conn), "read data_version", e))?;
        if self.version == Some(v) {
            return Ok(());
        }
        if self.version.is_some() {
            *self
                .state
                .writer_seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        }
        self.read_new()?;
        // Only once everything up to now was read: a failed read is retried at the next check.
        self.version = Some(v);
        Ok(())
    }

    fn read_new(&mut self) -> Result<(), StoreError> {
        if !self.feed.has_subscribers() {
            // Nobody to tell: move past what is there without reading it.
            let max: Option<i64> = self
                .conn
                .query_row("SELECT max(id) FROM records", [], |r| r.get(0))
                .map_err(|e| StoreError::sqlite(path_of(&self.conn), "read the last id", e))?;
            if let Some(m) = max {
                self.state.last_id.fetch_max(m, Relaxed);
            }
            return Ok(());
        }
        loop {
            if self.state.stop.load(SeqCst) {
                return Ok(());
            }
            let last = self.state.last_id.load(Relaxed);
            let f = Filter {
                after_id: Some(last),
                limit: Some(PAGE),
                ..Filter::default()
            };
            let mut batch = CommittedBatch::default();
            for_each(&self.conn, &f, |id, r| {
                if is_alert(&r) {
                    batch.alerts.push(batch.rows.len());
                }
                batch.rows.push((id, r));
            })?;
            let Some(top) = batch.rows.last().map(|(id, _)| *id) else {
                return Ok(());
            };
            let full = batch.rows.len() as u64 >= PAGE;
            self.state.last_id.store(top, Relaxed);
            let _ = self.feed.publish(batch);
            if !full {
                return Ok(());
            }
        }
    }
}

/// The file a connection reads, for error messages.
fn path_of(conn: &Connection) -> PathBuf {
    conn.path().map(PathBuf::from).unwrap_or_default()
}
