//! The UI's reads from the store: one thread with its own read-only connection answers the
//! panes' page requests, so a slow query never freezes the keys or the live feed.
//!
//! Requests are keyset pages on the row id through the store's query layer, with the pane's
//! filter. A newer request from the same pane makes an older queued one moot (it is skipped)
//! and interrupts one already running, so holding a key down costs one query, not hundreds.

use super::TuiError;
use crate::record::Record;
use crate::store::{self, Filter};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which pane (or popup) asked; replies go back to it.
pub type PaneId = u32;

/// One row a pane shows: its id in the store and the record.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub rec: Record,
}

/// Which page of the pane's filtered records is wanted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Want {
    /// The newest `limit`.
    Tail,
    /// The oldest `limit`.
    Head,
    /// Up to `limit` just before this id.
    Before(i64),
    /// Up to `limit` just after this id.
    After(i64),
    /// The first match after (`forward`) or before this id, with the rows around it; `from`
    /// itself is not a match. The request's filter carries what is sought (a search, a level).
    Find { from: i64, forward: bool },
    /// The rows around this id (it included when it matches), as a `Find` answer shows them.
    Around(i64),
    /// The filter's histogram over the whole store, in `limit` buckets, from the block index.
    Histogram,
}

/// A page request.
#[derive(Debug, Clone)]
pub struct Request {
    pub pane: PaneId,
    /// The pane's counter: a reply whose `seq` is not the pane's latest is stale.
    pub seq: u64,
    /// The pane's filter (for `Find`, plus what is sought).
    pub filter: Filter,
    /// For `Find`: the pane's own filter, to read the rows around the match with.
    pub around: Option<Filter>,
    pub want: Want,
    pub limit: usize,
}

/// A page: rows in ascending id order.
#[derive(Debug)]
pub struct Reply {
    pub pane: PaneId,
    pub seq: u64,
    pub want: Want,
    pub limit: usize,
    pub rows: Result<Vec<Row>, String>,
    /// For `Find` and `Around`: the row sought (None when nothing matched).
    pub focus: Option<i64>,
    /// Whether the rows reach the oldest / newest matching record.
    pub at_head: bool,
    pub at_tail: bool,
    /// For `Histogram`: the answer (None when the store has no usable index).
    pub histogram: Option<store::read::histogram::Histogram>,
    pub took: Duration,
}

struct Shared {
    queue: VecDeque<Request>,
    running: Option<PaneId>,
    closed: bool,
}

/// The reader thread's handle. Dropping it ends the thread.
pub struct Reader {
    shared: Arc<(Mutex<Shared>, std::sync::Condvar)>,
    interrupt: Arc<Mutex<Option<rusqlite::InterruptHandle>>>,
    replies: Receiver<Reply>,
    /// The store it reads, for components that open their own connection (the picker's scan).
    path: std::path::PathBuf,
    /// Match counts, on a thread of their own so a long count never delays a page.
    counter: super::counter::Counter,
}

/// SQLite's page cache for each of the UI's connections, KiB. `query` gives its one-shot
/// connection 64 MiB; the UI keeps two or three open for as long as it runs, and its reads are
/// keyset pages and index lookups, so a few MiB each keep it well under its 100 MB bound.
const UI_CACHE_KIB: u32 = 8 * 1024;

/// Caps a UI connection's page cache at [`UI_CACHE_KIB`].
pub fn bounded_cache(conn: &rusqlite::Connection) {
    if let Err(e) = conn.execute_batch(&format!("PRAGMA cache_size = -{UI_CACHE_KIB}")) {
        tracing::debug!(error = %e, "cannot cap the page cache");
    }
}

/// The most rows one request may ask for: a pane holds a few screens, and a page is bounded
/// so one request is bounded work and memory whatever the store's size.
pub const MAX_PAGE: usize = 2000;

impl Reader {
    /// Opens the store read-only on a new thread. Fails here, before the UI starts, when the
    /// store cannot be opened.
    pub fn open(path: &Path) -> Result<Reader, TuiError> {
        let conn = store::open_read_only(path)?;
        bounded_cache(&conn);
        let interrupt = Arc::new(Mutex::new(Some(conn.get_interrupt_handle())));
        let shared = Arc::new((
            Mutex::new(Shared {
                queue: VecDeque::new(),
                running: None,
                closed: false,
            }),
            std::sync::Condvar::new(),
        ));
        let (tx, replies) = channel();
        let s = shared.clone();
        std::thread::Builder::new()
            .name("logtui-reader".into())
            .spawn(move || serve(conn, s, tx))
            .map_err(|e| TuiError::Thread("store reader", e))?;
        Ok(Reader {
            shared,
            interrupt,
            replies,
            path: path.to_owned(),
            counter: super::counter::Counter::open(path)?,
        })
    }

    /// Queues a request; an older one from the same pane is dropped, or interrupted when it
    /// is running.
    pub fn send(&self, req: Request) {
        let (m, cv) = &*self.shared;
        let Ok(mut s) = m.lock() else { return };
        s.queue.retain(|q| q.pane != req.pane);
        if s.running == Some(req.pane)
            && let Ok(h) = self.interrupt.lock()
            && let Some(h) = h.as_ref()
        {
            h.interrupt();
        }
        s.queue.push_back(req);
        cv.notify_one();
    }

    /// The store this reader reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reply, if one is ready.
    pub fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }

    /// The match counter (see [`super::counter`]): panes start and cancel counts through it.
    pub fn counter(&self) -> &super::counter::Counter {
        &self.counter
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        if let Ok(mut s) = m.lock() {
            s.closed = true;
            s.queue.clear();
        }
        cv.notify_one();
        if let Ok(h) = self.interrupt.lock()
            && let Some(h) = h.as_ref()
        {
            h.interrupt();
        }
    }
}

fn serve(
    conn: rusqlite::Connection,
    shared: Arc<(Mutex<Shared>, std::sync::Condvar)>,
    tx: Sender<Reply>,
) {
    let (m, cv) = &*shared;
    loop {
        let req = {
            let Ok(mut s) = m.lock() else { return };
            loop {
                if s.closed {
                    return;
                }
                if let Some(r) = s.queue.pop_front() {
                    s.running = Some(r.pane);
                    break r;
                }
                s = match cv.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        };
        let start = Instant::now();
        let reply = answer(&conn, req, start);
        if let Ok(mut s) = m.lock() {
            s.running = None;
        }
        if tx.send(reply).is_err() {
            return;
        }
    }
}

/// Reads up to `limit` rows of `f` in its order.
fn read(conn: &rusqlite::Connection, f: &Filter) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    store::for_each(conn, f, |id, rec| rows.push(Row { id, rec }))
        .map_err(|e| crate::term::error_text(&e))?;
    Ok(rows)
}

fn page(base: &Filter, limit: usize, descending: bool) -> Filter {
    Filter {
        limit: Some(limit as u64),
        descending,
        ..base.clone()
    }
}

/// Rows around `id`: up to `limit / 2` at or before it, the rest after, ascending.
fn around(
    conn: &rusqlite::Connection,
    f: &Filter,
    id: i64,
    limit: usize,
) -> Result<(Vec<Row>, bool, bool), String> {
    let half = (limit / 2).max(1);
    let mut before = read(
        conn,
        &Filter {
            before_id: Some(id.saturating_add(1)),
            ..page(f, half, true)
        },
    )?;
    let at_head = before.len() < half;
    before.reverse();
    let after_n = limit.saturating_sub(before.len()).max(1);
    let after = read(
        conn,
        &Filter {
            after_id: Some(id),
            ..page(f, after_n, false)
        },
    )?;
    let at_tail = after.len() < after_n;
    before.extend(after);
    Ok((before, at_head, at_tail))
}

fn answer(conn: &rusqlite::Connection, req: Request, start: Instant) -> Reply {
    let limit = req.limit.clamp(1, MAX_PAGE);
    let f = &req.filter;
    let mut focus = None;
    let mut histogram = None;
    let result = (|| -> Result<(Vec<Row>, bool, bool), String> {
        Ok(match req.want {
            Want::Tail => {
                let mut rows = read(conn, &page(f, limit, true))?;
                rows.reverse();
                let head = rows.len() < limit;
                (rows, head, true)
            }
            Want::Head => {
                let rows = read(conn, &page(f, limit, false))?;
                let tail = rows.len() < limit;
                (rows, true, tail)
            }
            Want::Before(id) => {
                let mut rows = read(
                    conn,
                    &Filter {
                        before_id: Some(id),
                        ..page(f, limit, true)
                    },
                )?;
                rows.reverse();
                let head = rows.len() < limit;
                (rows, head, false)
            }
            Want::After(id) => {
                let rows = read(
                    conn,
                    &Filter {
                        after_id: Some(id),
                        ..page(f, limit, false)
                    },
                )?;
                let tail = rows.len() < limit;
                (rows, false, tail)
            }
            Want::Find { from, forward } => {
                let seek = if forward {
                    Filter {
                        after_id: Some(from),
                        ..page(f, 1, false)
                    }
                } else {
                    Filter {
                        before_id: Some(from),
                        ..page(f, 1, true)
                    }
                };
                match read(conn, &seek)?.pop() {
                    Some(hit) => {
                        focus = Some(hit.id);
                        around(conn, req.around.as_ref().unwrap_or(f), hit.id, limit)?
                    }
                    None => (Vec::new(), false, false),
                }
            }
            Want::Around(id) => {
                focus = Some(id);
                around(conn, f, id, limit)?
            }
            Want::Histogram => {
                histogram = store::read::histogram::histogram(conn, f, req.limit)
                    .map_err(|e| crate::term::error_text(&e))?;
                (Vec::new(), false, false)
            }
        })
    })();
    let (rows, at_head, at_tail) = match result {
        Ok((r, h, t)) => (Ok(r), h, t),
        Err(e) => (Err(e), false, false),
    };
    Reply {
        pane: req.pane,
        seq: req.seq,
        want: req.want,
        limit,
        rows,
        focus,
        at_head,
        at_tail,
        histogram,
        took: start.elapsed(),
    }
}
