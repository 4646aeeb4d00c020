//! The full-text index: a contentless FTS5 table in its own file beside the store, written by
//! its own thread so tokenizing runs beside the record inserts; it is derived, and rebuilt if lost.

use super::error::StoreError;
use super::persister::{Observer, notify};
use super::rawstmt::RawStmt;
use super::schema::Tuning;
use crate::record::Record;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The index file for the store at `store`: the same name with `-fts` appended.
pub fn fts_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push("-fts");
    PathBuf::from(s)
}

/// Attaches the index of the store `conn` has open as schema `fts` (read-only when `conn`
/// is), unless already attached. Returns false when there is no index file.
pub(crate) fn attach(conn: &Connection, store: &Path) -> Result<bool, StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(store, op, e);
    let attached: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_database_list WHERE name = 'fts'",
            [],
            |r| r.get(0),
        )
        .map_err(err("list attached databases"))?;
    if attached > 0 {
        return Ok(true);
    }
    let path = fts_path(store);
    if !path.exists() {
        return Ok(false);
    }
    let Some(p) = path.to_str() else {
        return Ok(false);
    };
    conn.execute("ATTACH DATABASE ?1 AS fts", [p])
        .map_err(err("attach the full-text index"))?;
    Ok(true)
}

/// Work for the index thread, in commit order.
pub(crate) enum FtsMsg {
    /// Records just committed to the store, and the positions of alerts among them. The
    /// thread tells the observer, indexes them and frees them, all off the writer's core.
    Index(Vec<(i64, Record)>, Vec<usize>),
    /// Records retention deleted from the store, with the text that was indexed.
    Delete(Vec<Deleted>),
    /// Answer once everything before it is committed to the index.
    Ack(oneshot::Sender<()>),
}

/// A deleted record's id and indexed text: a contentless index needs the old values to
/// remove an entry.
#[derive(Debug)]
pub(crate) struct Deleted {
    pub id: i64,
    pub message: String,
    pub exc_text: Option<String>,
}

/// Batches in flight to the index thread; beyond this the writer waits, so the index
/// never falls more than a few flushes behind the store.
const CHANNEL: usize = 4;
/// Store rows indexed per transaction while rebuilding.
const BACKFILL_CHUNK: i64 = 20_000;

/// The writer's end of the index thread.
pub(crate) struct FtsHandle {
    tx: Option<SyncSender<FtsMsg>>,
    recycled: Receiver<Vec<(i64, Record)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    gone: bool,
}

impl FtsHandle {
    /// Queues `msg`, waiting while the index is `CHANNEL` messages behind.
    pub fn send(&mut self, msg: FtsMsg) {
        let Some(tx) = &self.tx else { return };
        if tx.send(msg).is_err() && !self.gone {
            self.gone = true;
            tracing::error!("the full-text index thread has stopped; search will miss new records");
        }
    }

    /// An emptied buffer handed back by the index thread, to reuse without allocating.
    pub fn recycled(&self) -> Option<Vec<(i64, Record)>> {
        self.recycled.try_recv().ok()
    }

    /// Closes the queue and waits for the thread to commit what it has.
    pub fn finish(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the full-text index thread panicked");
        }
    }
}

impl Drop for FtsHandle {
    fn drop(&mut self) {
        self.finish();
    }
}

/// What the index holds, kept in its own `fts_state` row and committed with it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    /// The `meta.store_id` of the store it indexes; a mismatch means another store.
    store_id: i64,
    /// Ids in `(backfill_next, live_from]` are still to be indexed from the store.
    backfill_next: i64,
    live_from: i64,
    /// Highest id indexed.
    indexed_max: i64,
}

/// Opens the index file (creating it) and its schema.
pub(crate) fn open_fts(path: &Path, t: &Tuning) -> Result<Connection, StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err("open full-text index"))?;
    super::schema::writer_pragmas(&conn, path, t)?;
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'records_fts'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err("inspect full-text index"))?
        > 0;
    if !exists {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE VIRTUAL TABLE records_fts USING fts5(
               message, exc_text, content='', columnsize=0,
               detail={}, tokenize='{}');
             INSERT INTO records_fts(records_fts, rank) VALUES ('automerge', {});
             INSERT INTO records_fts(records_fts, rank) VALUES ('crisismerge', {});
             INSERT INTO records_fts(records_fts, rank) VALUES ('pgsz', {});
             INSERT INTO records_fts(records_fts, rank) VALUES ('hashsize', {});
             CREATE TABLE IF NOT EXISTS fts_state(
               store_id INTEGER, backfill_next INTEGER, live_from INTEGER, indexed_max INTEGER);
             COMMIT;",
            t.fts_detail,
            t.fts_tokenizer,
            t.fts_automerge,
            t.fts_crisismerge,
            t.fts_pgsz,
            t.fts_hashsize
        ))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::sqlite(path, "create full-text index", e)
        })?;
    }
    Ok(conn)
}

/// Prepares the index for the store (`main` is a connection to it) and starts its thread.
/// Must run before the writer's first commit, so ids above the store's current maximum
/// are exactly the ones that will arrive as [`FtsMsg::Index`].
pub(crate) fn spawn(
    store: &Path,
    main: &Connection,
    t: &Tuning,
    observer: Observer,
) -> Result<FtsHandle, StoreError> {
    let path = fts_path(store);
    let conn = open_fts(&path, t)?;
    let err = |op: &'static str| {
        let p = path.clone();
        move |e| StoreError::sqlite(p, op, e)
    };
    let store_id = super::schema::store_id(main, store)?;
    let (min_id, max_id): (i64, i64) = main
        .query_row(
            // The highest id ever given out, even if retention has since deleted it.
            "SELECT coalesce(min(id), 1),
                    max(coalesce(max(id), 0),
                        coalesce((SELECT value FROM meta WHERE key = 'next_id'), 1) - 1)
             FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| StoreError::sqlite(store, "read record id range", e))?;
    let found: Option<State> = conn
        .query_row(
            "SELECT store_id, backfill_next, live_from, indexed_max FROM fts_state",
            [],
            |r| {
                Ok(State {
                    store_id: r.get(0)?,
                    backfill_next: r.get(1)?,
                    live_from: r.get(2)?,
                    indexed_max: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(err("read full-text index state"))?;
    let fresh = State {
        store_id,
        backfill_next: min_id - 1,
        live_from: max_id,
        indexed_max: max_id,
    };
    let state = match found {
        Some(s) if s.store_id == store_id && s.indexed_max <= max_id => {
            let backfilling = s.backfill_next < s.live_from;
            if s.indexed_max == max_id {
                s
            } else if !backfilling {
                // The tail the index missed (a crash, or an index that gave up) becomes the backfill.
                State {
                    backfill_next: s.indexed_max,
                    live_from: max_id,
                    indexed_max: max_id,
                    ..s
                }
            } else {
                // Two gaps: rebuild everything rather than track both.
                tracing::warn!(path = %path.display(), "full-text index has two gaps; rebuilding it");
                reset(&conn, &path)?;
                fresh
            }
        }
        Some(_) => {
            tracing::warn!(path = %path.display(), "full-text index belongs to another store or is ahead of it; rebuilding it");
            reset(&conn, &path)?;
            fresh
        }
        None => fresh,
    };
    write_state(&conn, &state).map_err(err("write full-text index state"))?;
    if state.backfill_next < state.live_from {
        tracing::info!(
            from = state.backfill_next + 1,
            to = state.live_from,
            "indexing stored records for full-text search in the background"
        );
    }
    // Read-write only so it may checkpoint the store's WAL; it never writes rows.
    let reader = Connection::open_with_flags(
        store,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::sqlite(store, "open store for indexing", e))?;
    reader
        .busy_timeout(Duration::from_secs(5))
        .map_err(|e| StoreError::sqlite(store, "set busy timeout", e))?;
    // The writer leaves routine checkpoints of the store to this thread.
    reader
        .execute_batch("PRAGMA wal_autocheckpoint = 0")
        .map_err(|e| StoreError::sqlite(store, "set pragmas", e))?;
    let ins = RawStmt::prepare(
        &conn,
        "INSERT INTO records_fts(rowid, message, exc_text) VALUES (?1, ?2, ?3)",
    )
    .map_err(err("prepare full-text insert"))?;
    let del = RawStmt::prepare(
        &conn,
        "INSERT INTO records_fts(records_fts, rowid, message, exc_text) VALUES ('delete', ?1, ?2, ?3)",
    )
        .map_err(err("prepare full-text delete"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL);
    let (recycle_tx, recycled) = std::sync::mpsc::sync_channel(CHANNEL + 2);
    let ix = Indexer {
        ins,
        del,
        conn,
        reader,
        path,
        state,
        pending: state,
        tx_since: None,
        acks: Vec::new(),
        recycle: recycle_tx,
        broken: false,
        observer,
        checkpoint_store: t.checkpoint_in_background,
        last_checkpoint: Instant::now(),
        store_dirty: false,
    };
    let thread = std::thread::Builder::new()
        .name("logtui-fts".into())
        .spawn(move || ix.run(rx))
        .map_err(StoreError::Thread)?;
    Ok(FtsHandle {
        tx: Some(tx),
        recycled,
        thread: Some(thread),
        gone: false,
    })
}

fn reset(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO records_fts(records_fts) VALUES ('delete-all');
         DELETE FROM fts_state;
         COMMIT;",
    )
    .map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        StoreError::sqlite(path, "clear full-text index", e)
    })
}

fn write_state(conn: &Connection, s: &State) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "UPDATE fts_state SET store_id = ?1, backfill_next = ?2, live_from = ?3, indexed_max = ?4",
    )?;
    if st.execute((s.store_id, s.backfill_next, s.live_from, s.indexed_max))? == 0 {
        conn.prepare_cached(
            "INSERT INTO fts_state(store_id, backfill_next, live_from, indexed_max) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute((s.store_id, s.backfill_next, s.live_from, s.indexed_max))?;
    }
    Ok(())
}

/// The index thread's state. Statements come before the connection so they drop first.
struct Indexer {
    ins: RawStmt,
    del: RawStmt,
    conn: Connection,
    /// Read-only connection to the store, for backfilling.
    reader: Connection,
    path: PathBuf,
    /// What is committed to the index (`pending` holds the open transaction's view).
    state: State,
    pending: State,
    /// When the open transaction began, if one is open.
    tx_since: Option<Instant>,
    acks: Vec<oneshot::Sender<()>>,
    recycle: SyncSender<Vec<(i64, Record)>>,
    /// Set when the index could not be written: nothing more is written until the next
    /// start, which re-indexes everything after `state.indexed_max` from the store.
    broken: bool,
    /// Told about every committed batch, before it is indexed.
    observer: Observer,
    /// Whether this thread copies the store's WAL into the store (passive checkpoints),
    /// taking that work off the writer's core; and when it last did, and whether the
    /// store has been written since.
    checkpoint_store: bool,
    last_checkpoint: Instant,
    store_dirty: bool,
}

/// How often, at most, the store's WAL is checkpointed from the index thread.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// How long the index keeps one transaction open. Long transactions make few, large
/// segments (little merging); records are freed as soon as they are tokenized, so only
/// the index's own pending data waits, and searches lag the store by at most this.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// How old the open transaction must be before the index commits because it has caught up
/// with the store. Under a steady stream it is caught up after nearly every batch; waiting
/// this long keeps segments large while search lags an idle store by at most this.
const COMMIT_WHEN_IDLE: Duration = Duration::from_millis(100);

impl Indexer {
    fn run(mut self, rx: Receiver<FtsMsg>) {
        loop {
            let msg = if let Some(since) = self.tx_since {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        // Caught up: commit soon, so search is fresh, but not at once, so a
                        // steady stream still makes few, large segments.
                        let age = since.elapsed();
                        let min = COMMIT_WHEN_IDLE;
                        if age >= min {
                            self.commit();
                            continue;
                        }
                        match rx.recv_timeout(min - age) {
                            Ok(m) => Some(m),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                }
            } else if self.backfilling() {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => {
                        self.backfill_chunk();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                }
            };
            if let Some(m) = msg {
                self.handle(m);
            }
            self.maybe_checkpoint_store();
            if self.tx_since.is_some_and(|t| t.elapsed() >= COMMIT_EVERY) || !self.acks.is_empty() {
                self.commit();
            }
        }
        self.commit();
    }

    /// A passive checkpoint never waits for the writer; it copies what is committed.
    fn maybe_checkpoint_store(&mut self) {
        if !self.checkpoint_store
            || !self.store_dirty
            || self.last_checkpoint.elapsed() < CHECKPOINT_EVERY
        {
            return;
        }
        self.last_checkpoint = Instant::now();
        self.store_dirty = false;
        if let Err(e) = self
            .reader
            .query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "checkpoint of the store failed; the writer will do it");
        }
    }

    fn backfilling(&self) -> bool {
        !self.broken && self.state.backfill_next < self.state.live_from
    }

    fn handle(&mut self, m: FtsMsg) {
        match m {
            FtsMsg::Ack(a) => self.acks.push(a),
            FtsMsg::Index(mut v, alerts) => {
                notify(&mut self.observer, &v, &alerts);
                self.store_dirty = true;
                if !self.broken {
                    let r = self.begin().and_then(|()| self.index(&v));
                    self.check(r);
                }
                v.clear();
                let _ = self.recycle.try_send(v);
            }
            FtsMsg::Delete(rows) => {
                if !self.broken {
                    let r = self.begin().and_then(|()| self.delete(&rows));
                    self.check(r);
                }
            }
        }
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.tx_since.is_none() {
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| StoreError::sqlite(&self.path, "begin full-text transaction", e))?;
            self.tx_since = Some(Instant::now());
            self.pending = self.state;
        }
        Ok(())
    }

    fn index(&mut self, v: &[(i64, Record)]) -> Result<(), StoreError> {
        for (id, r) in v {
            // SAFETY: `r` outlives the step below; every parameter is rebound per row.
            unsafe {
                self.ins.bind_i64(1, *id).and_then(|()| {
                    self.ins.bind_str(2, &r.message)?;
                    self.ins.bind_opt_str(3, r.exc_text.as_deref())
                })
            }
            .and_then(|()| self.ins.step())
            .map_err(|e| StoreError::sqlite(&self.path, "index a record", e))?;
            self.pending.indexed_max = self.pending.indexed_max.max(*id);
        }
        self.ins.clear_bindings();
        Ok(())
    }

    fn delete(&mut self, rows: &[Deleted]) -> Result<(), StoreError> {
        for d in rows {
            // Not indexed yet (and now never will be): nothing to remove.
            if (d.id > self.pending.backfill_next && d.id <= self.pending.live_from)
                || d.id > self.pending.indexed_max
            {
                continue;
            }
            // SAFETY: `d` outlives the step; every parameter is rebound per row.
            unsafe {
                self.del.bind_i64(1, d.id).and_then(|()| {
                    self.del.bind_str(2, &d.message)?;
                    self.del.bind_opt_str(3, d.exc_text.as_deref())
                })
            }
            .and_then(|()| self.del.step())
            .map_err(|e| StoreError::sqlite(&self.path, "remove a deleted record", e))?;
        }
        self.del.clear_bindings();
        Ok(())
    }

    /// Commits the open transaction, if any, then answers waiting flushes.
    fn commit(&mut self) {
        if self.tx_since.is_some() && !self.broken {
            let r = write_state(&self.conn, &self.pending)
                .and_then(|()| self.conn.execute_batch("COMMIT"))
                .map_err(|e| StoreError::sqlite(&self.path, "commit the full-text index", e));
            if r.is_ok() {
                self.state = self.pending;
            }
            self.tx_since = None;
            self.check(r);
        }
        self.tx_since = None;
        for a in self.acks.drain(..) {
            let _ = a.send(());
        }
    }

    /// On error: roll back and stop indexing until the next start (which catches up from
    /// the store, so nothing is lost for good).
    fn check(&mut self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            self.tx_since = None;
            self.broken = true;
            tracing::error!(error = %e, indexed_max = self.state.indexed_max,
                "full-text index cannot be written; search misses newer records until logtui restarts and re-indexes them");
        }
    }

    /// Indexes the next chunk of stored records the index lacks, in its own transaction.
    fn backfill_chunk(&mut self) {
        let from = self.state.backfill_next;
        let to = self
            .state
            .live_from
            .min(from.saturating_add(BACKFILL_CHUNK));
        let rows = (|| {
            let mut st = self.reader.prepare_cached(
                "SELECT id, message, exc_text FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id",
            )?;
            let mut out = Vec::new();
            let mut rows = st.query((from, to))?;
            while let Some(r) = rows.next()? {
                let mut rec = Record::new(crate::record::Source::Internal, "");
                rec.message = r.get(1)?;
                rec.exc_text = r.get(2)?;
                out.push((r.get::<_, i64>(0)?, rec));
            }
            Ok::<_, rusqlite::Error>(out)
        })()
        .map_err(|e| StoreError::sqlite(&self.path, "read stored records to index", e));
        let r = rows.and_then(|rows| {
            self.begin()?;
            self.index(&rows)?;
            self.pending.backfill_next = to;
            Ok(())
        });
        self.check(r);
        if !self.broken {
            self.commit();
        }
    }
}
