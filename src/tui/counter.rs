//! Panes' match counts on a thread of their own (`logtui-counter`, at a lowered priority): a
//! count over millions of records reports as it goes, and a pane's new filter cancels its old count.
//!
//! Each count covers the records stored when it starts (ids up to `until`, said in every
//! update), read in pieces of [`PIECE_IDS`] ids; between pieces it reports the count so far
//! and looks whether it was cancelled. Records stored later are the pane's to count from the
//! feed, so the figure stays exact as the store grows. Updates go through a channel of one:
//! when the UI does not take them, the count waits instead of piling them up.

use super::TuiError;
use super::reader::PaneId;
use crate::store::{self, Filter};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};

/// Row ids per piece: at a few hundred thousand search matches a second, tens of
/// milliseconds, so the first figure shows in a frame or two and a cancel waits no longer.
pub const PIECE_IDS: i64 = 65_536;

/// The nice value the counting thread runs at (at least): a count may use a core for
/// seconds, and the recorder and the UI come first.
pub const NICE: i32 = 10;

/// One figure of a pane's count.
#[derive(Debug, Clone, PartialEq)]
pub struct CountUpdate {
    pub pane: PaneId,
    /// The pane's count number: an update for an older one is stale.
    pub seq: u64,
    /// The count covers records with ids up to this (the newest stored when it started).
    pub until: i64,
    /// Matches so far; with `done`, all of them up to `until`.
    pub counted: u64,
    pub done: bool,
    /// Why the count stopped short (a read error); `done` is then true.
    pub error: Option<String>,
}

struct Job {
    pane: PaneId,
    seq: u64,
    filter: Filter,
}

struct Shared {
    /// At most one waiting count per pane: a newer one replaces it.
    queue: Vec<Job>,
    /// The pane whose count runs, and whether it was cancelled.
    running: Option<(PaneId, bool)>,
    closed: bool,
}

/// The counting thread's handle. Dropping it ends the thread.
pub struct Counter {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    updates: Receiver<CountUpdate>,
}

impl Counter {
    /// Opens the store read-only for a new counting thread; fails when it cannot.
    pub fn open(path: &Path) -> Result<Counter, TuiError> {
        Counter::with_pieces(path, PIECE_IDS)
    }

    /// [`Counter::open`] with pieces of `piece_ids` ids (tests use small ones).
    pub fn with_pieces(path: &Path, piece_ids: i64) -> Result<Counter, TuiError> {
        let conn = store::open_read_only(path)?;
        super::reader::bounded_cache(&conn);
        let shared = Arc::new((
            Mutex::new(Shared {
                queue: Vec::new(),
                running: None,
                closed: false,
            }),
            Condvar::new(),
        ));
        let (tx, updates) = sync_channel(1);
        let s = shared.clone();
        std::thread::Builder::new()
            .name("logtui-counter".into())
            .spawn(move || {
                lower_priority();
                serve(&conn, &s, &tx, piece_ids.max(1));
            })
            .map_err(|e| TuiError::Thread("match counter", e))?;
        Ok(Counter { shared, updates })
    }

    /// Starts counting `filter`'s matches for `pane`, cancelling its previous count.
    pub fn start(&self, pane: PaneId, seq: u64, filter: Filter) {
        self.stop_and(pane, Some(Job { pane, seq, filter }));
    }

    /// Cancels `pane`'s count, waiting or running.
    pub fn cancel(&self, pane: PaneId) {
        self.stop_and(pane, None);
    }

    fn stop_and(&self, pane: PaneId, job: Option<Job>) {
        let (m, cv) = &*self.shared;
        let Ok(mut s) = m.lock() else { return };
        s.queue.retain(|j| j.pane != pane);
        if let Some((p, cancelled)) = &mut s.running
            && *p == pane
        {
            *cancelled = true;
        }
        if let Some(j) = job {
            s.queue.push(j);
        }
        cv.notify_one();
    }

    /// An update, if one is ready.
    pub fn try_recv(&self) -> Option<CountUpdate> {
        self.updates.try_recv().ok()
    }

    /// Waits up to `timeout` for an update (for tests and tools; the UI polls).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<CountUpdate> {
        self.updates.recv_timeout(timeout).ok()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        if let Ok(mut s) = m.lock() {
            s.closed = true;
            s.queue.clear();
            if let Some((_, cancelled)) = &mut s.running {
                *cancelled = true;
            }
        }
        cv.notify_one();
    }
}

/// Lowers the calling thread's priority to at least [`NICE`]. On Linux a nice value belongs
/// to one thread (its task id), so the UI and the recorder keep theirs.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), now.max(NICE)) {
            tracing::debug!(error = %e, "cannot lower the match counter's priority");
        }
    }
}

fn serve(
    conn: &rusqlite::Connection,
    shared: &(Mutex<Shared>, Condvar),
    tx: &SyncSender<CountUpdate>,
    piece_ids: i64,
) {
    let (m, cv) = shared;
    loop {
        let job = {
            let Ok(mut s) = m.lock() else { return };
            loop {
                if s.closed {
                    return;
                }
                if !s.queue.is_empty() {
                    let j = s.queue.remove(0);
                    s.running = Some((j.pane, false));
                    break j;
                }
                s = match cv.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        };
        let cancelled = || {
            m.lock()
                .map_or(true, |s| s.closed || s.running.is_none_or(|(_, c)| c))
        };
        let finished = count(conn, &job, piece_ids, tx, &cancelled);
        if let Ok(mut s) = m.lock() {
            s.running = None;
        }
        if !finished {
            return; // The UI is gone.
        }
    }
}

/// Counts one job, sending its figures; false when the UI no longer listens.
fn count(
    conn: &rusqlite::Connection,
    job: &Job,
    piece_ids: i64,
    tx: &SyncSender<CountUpdate>,
    cancelled: &dyn Fn() -> bool,
) -> bool {
    let update = |until: i64, counted: u64, done: bool, error: Option<String>| CountUpdate {
        pane: job.pane,
        seq: job.seq,
        until,
        counted,
        done,
        error,
    };
    let until = match store::read::channels::id_span(conn) {
        Ok(span) => span.map_or(0, |(_, hi)| hi),
        Err(e) => return tx.send(update(0, 0, true, Some(e.to_string()))).is_ok(),
    };
    // Records stored after `until` are the pane's to count from the feed.
    let mut f = job.filter.clone();
    let end = until.saturating_add(1);
    f.before_id = Some(f.before_id.map_or(end, |b| b.min(end)));
    f.limit = None;
    let mut listening = true;
    let result = store::count_in_pieces(conn, &f, piece_ids, |so_far| {
        if cancelled() {
            return false;
        }
        listening = tx.send(update(until, so_far, false, None)).is_ok();
        listening
    });
    if !listening {
        return false;
    }
    let last = match result {
        Ok(Some(n)) => update(until, n, true, None),
        Ok(None) => return true, // Cancelled: a newer count says what is true now.
        Err(e) => update(until, 0, true, Some(crate::term::error_text(&e))),
    };
    tx.send(last).is_ok()
}
