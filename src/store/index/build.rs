//! The index thread: after each commit it publishes the batch to the feed, then summarises
//! the new records into blocks; at start-up it backfills what the index lacks from the store.

use super::format::{self, Block, BlockStmts, Fields, State, index_path, open_index, read_state};
use super::gate::ByteGate;
use crate::record::{Record, SourceKind};
use crate::store::db::raw::Db;
use crate::store::db::schema::{self, Tuning, backstop};
use crate::store::error::StoreError;
use crate::store::feed::{CommittedBatch, Feed};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Work for the index thread, in commit order.
pub(crate) enum IndexMsg {
    /// Records just committed to the store, the positions of alerts among them, and their
    /// size (as [`Record::approx_size`] counts it). The thread publishes them to the feed,
    /// indexes them and frees them (unless a subscriber still holds them), all off the
    /// writer's core.
    Index(Vec<(i64, Record)>, Vec<usize>, usize),
    /// Retention has deleted every record below this id: drop the blocks that held them.
    Forget(i64),
    /// Answer once everything before it is committed to the index.
    Ack(oneshot::Sender<()>),
}

/// Batches in flight to the index thread; beyond this, or beyond the queue's byte limit
/// (see [`spawn`]), the writer waits, so the index never falls more than a few flushes
/// behind the store and what waits for it stays bounded in memory.
const CHANNEL: usize = 4;
/// Store rows indexed per transaction while rebuilding.
const BACKFILL_CHUNK: i64 = 20_480;

/// The writer's end of the index thread.
pub(crate) struct IndexHandle {
    tx: Option<SyncSender<IndexMsg>>,
    recycled: Receiver<Vec<(i64, Record)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    gone: bool,
    /// Bytes of records queued for the index thread and not yet freed by it.
    bytes: Arc<ByteGate>,
}

impl IndexHandle {
    /// Queues `msg`, waiting while the index is `CHANNEL` messages or its byte limit behind.
    pub fn send(&mut self, msg: IndexMsg) {
        let Some(tx) = &self.tx else { return };
        if let IndexMsg::Index(_, _, n) = &msg {
            self.bytes.reserve(*n);
        }
        if let Err(std::sync::mpsc::SendError(msg)) = tx.send(msg) {
            // The records are committed either way: a flush still gets its answer.
            if let IndexMsg::Ack(a) = msg {
                let _ = a.send(());
            }
            if !self.gone {
                self.gone = true;
                tracing::error!(
                    "the index thread has stopped; queries will scan new records instead of looking them up"
                );
            }
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
            tracing::error!("the index thread panicked");
        }
    }
}

impl Drop for IndexHandle {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Prepares the index for the store (`main` is a connection to it) and starts its thread.
/// Must run before the writer's first commit, so ids above the store's current maximum
/// are exactly the ones that will arrive as [`IndexMsg::Index`].
pub(crate) fn spawn(
    store: &Path,
    main: &Connection,
    t: &Tuning,
    feed: Feed,
    queue_bytes: usize,
) -> Result<IndexHandle, StoreError> {
    let path = index_path(store);
    let conn = open_index(&path, t)?;
    let err = |op: &'static str| {
        let p = path.clone();
        move |e| StoreError::sqlite(p, op, e)
    };
    let store_id = schema::store_id(main, store)?;
    let (min_id, max_id): (Option<i64>, i64) = main
        .query_row("SELECT min(id) FROM records", [], |r| r.get(0))
        // The highest id ever given out, even if retention has since deleted it.
        .and_then(|min| Ok((min, schema::next_id(main)? - 1)))
        .map_err(|e| StoreError::sqlite(store, "read record id range", e))?;
    // An empty store has nothing to backfill, however high its ids have gone.
    let min_id = min_id.unwrap_or(max_id + 1);
    let found = read_state(&conn, "main").map_err(err("read block index state"))?;
    let fresh = State {
        store_id,
        backfill_next: min_id - 1,
        live_from: max_id,
        indexed_max: max_id,
    };
    let mut rebuild = false;
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
                tracing::warn!(path = %path.display(), "block index has two gaps; rebuilding it");
                rebuild = true;
                fresh
            }
        }
        Some(_) => {
            tracing::warn!(path = %path.display(), "block index belongs to another store or is ahead of it; rebuilding it");
            rebuild = true;
            fresh
        }
        None => fresh,
    };
    // Emptied and re-described in one transaction: a reader sees the old index or the new.
    conn.execute_batch("BEGIN IMMEDIATE")
        .and_then(|()| {
            if rebuild {
                format::reset(&conn)
            } else {
                Ok(())
            }
        })
        .and_then(|()| format::write_state(&conn, &state))
        .and_then(|()| conn.execute_batch("COMMIT"))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::sqlite(&path, "write block index state", e)
        })?;
    if state.backfill_next < state.live_from {
        tracing::info!(
            from = state.backfill_next + 1,
            to = state.live_from,
            "indexing stored records in the background"
        );
    }
    let reader = Connection::open_with_flags(
        store,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::sqlite(store, "open store for indexing", e))?;
    reader
        .busy_timeout(Duration::from_secs(5))
        .map_err(|e| StoreError::sqlite(store, "set busy timeout", e))?;
    if t.checkpoint_in_background {
        backstop(&conn, &path, t.wal_autocheckpoint)?;
    }
    let mut db = Db::new(conn);
    let ins_block = db
        .prepare(
            "INSERT INTO blocks(first_id, last_id, min_created, max_created, max_level, sources,
                                loggers, origins, jobs,
                                lv_debug, lv_info, lv_warning, lv_error, lv_critical)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(err("prepare block insert"))?;
    let ins_words = db
        .prepare("INSERT INTO words(rowid, w) VALUES (?1, ?2)")
        .map_err(err("prepare word insert"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL);
    let (recycle_tx, recycled) = std::sync::mpsc::sync_channel(CHANNEL + 2);
    let bytes = Arc::new(ByteGate::new(queue_bytes));
    let ix = Indexer {
        db,
        stmts: BlockStmts {
            block: ins_block,
            words: ins_words,
        },
        reader,
        path,
        state,
        pending: state,
        live: Block::new(t.block_records),
        tx_since: None,
        acks: Vec::new(),
        recycle: recycle_tx,
        broken: false,
        feed,
        bytes: bytes.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("logtui-index".into())
        .spawn(move || ix.run(rx))
        .map_err(StoreError::Thread)?;
    Ok(IndexHandle {
        tx: Some(tx),
        recycled,
        thread: Some(thread),
        gone: false,
        bytes,
    })
}

/// The index thread's state.
struct Indexer {
    /// The index file's connection and its inserts.
    db: Db,
    stmts: BlockStmts,
    /// Read-only connection to the store, for backfilling.
    reader: Connection,
    path: PathBuf,
    /// What is committed to the index (`pending` holds the open transaction's view).
    state: State,
    pending: State,
    /// The block the live records are filling.
    live: Block,
    /// When the open transaction began, if one is open.
    tx_since: Option<Instant>,
    acks: Vec<oneshot::Sender<()>>,
    recycle: SyncSender<Vec<(i64, Record)>>,
    /// Set when the index could not be written: nothing more is written until the next
    /// start, which re-indexes everything after `state.indexed_max` from the store.
    broken: bool,
    /// Told about every committed batch, before it is indexed. Publishing never waits for
    /// a subscriber, so the feed cannot hold up indexing, the writer or the sources.
    feed: Feed,
    /// Released as each batch is freed; closed when this thread ends, however it ends.
    bytes: Arc<ByteGate>,
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.bytes.close();
    }
}

/// How long the index keeps one transaction open under a steady stream.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// How old the open transaction must be before the index commits because it has caught up
/// with the store. Until then queries scan the records it has not committed, so this bounds
/// that scan while an idle store is looked up at once.
const COMMIT_WHEN_IDLE: Duration = Duration::from_millis(100);

impl Indexer {
    fn run(mut self, rx: Receiver<IndexMsg>) {
        loop {
            let msg = if let Some(since) = self.tx_since {
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        let age = since.elapsed();
                        if age >= COMMIT_WHEN_IDLE {
                            self.commit();
                            continue;
                        }
                        match rx.recv_timeout(COMMIT_WHEN_IDLE - age) {
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
            if self.tx_since.is_some_and(|t| t.elapsed() >= COMMIT_EVERY) || !self.acks.is_empty() {
                self.commit();
            }
        }
        self.commit();
    }

    fn backfilling(&self) -> bool {
        !self.broken && self.state.backfill_next < self.state.live_from
    }

    fn handle(&mut self, m: IndexMsg) {
        match m {
            IndexMsg::Ack(a) => self.acks.push(a),
            IndexMsg::Index(rows, alerts, bytes) => {
                // Published before it is indexed, so a live view sees it a little sooner.
                let emptied = if self.feed.has_subscribers() {
                    let shared = Arc::new(CommittedBatch { rows, alerts });
                    self.feed.publish_shared(&shared, bytes);
                    self.index_batch(&shared.rows);
                    // Reused when every subscriber has already let go of it.
                    Arc::try_unwrap(shared).ok().map(|b| b.rows)
                } else {
                    self.index_batch(&rows);
                    Some(rows)
                };
                self.bytes.release(bytes);
                if let Some(mut v) = emptied {
                    v.clear();
                    let _ = self.recycle.try_send(v);
                }
            }
            IndexMsg::Forget(below) => {
                if !self.broken {
                    let r = self.begin().and_then(|()| self.forget(below));
                    self.check(r);
                }
            }
        }
    }

    fn index_batch(&mut self, v: &[(i64, Record)]) {
        if !self.broken {
            let r = self.begin().and_then(|()| self.index(v));
            self.check(r);
        }
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.tx_since.is_none() {
            self.db
                .conn()
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| StoreError::sqlite(&self.path, "begin index transaction", e))?;
            self.tx_since = Some(Instant::now());
            self.pending = self.state;
        }
        Ok(())
    }

    fn index(&mut self, v: &[(i64, Record)]) -> Result<(), StoreError> {
        for (id, r) in v {
            if self.live.must_close_before(*id) {
                self.write_live()?;
            }
            self.live
                .add(*id, r.created, r.level, r.source, Fields::of(r));
        }
        Ok(())
    }

    fn write_live(&mut self) -> Result<(), StoreError> {
        let last = self.live.last;
        self.live
            .write(&mut self.db, self.stmts)
            .map_err(|e| StoreError::sqlite(&self.path, "write a block", e))?;
        self.pending.indexed_max = self.pending.indexed_max.max(last);
        Ok(())
    }

    /// Drops the blocks whose every record retention has deleted. Blocks it only thinned
    /// stay: a query looking inside finds nothing there, which is correct.
    fn forget(&mut self, below: i64) -> Result<(), StoreError> {
        let r = (|| {
            self.db.conn()
                .prepare_cached(
                    "DELETE FROM words WHERE rowid IN (SELECT first_id FROM blocks WHERE last_id < ?1)",
                )?
                .execute([below])?;
            self.db
                .conn()
                .prepare_cached("DELETE FROM blocks WHERE last_id < ?1")?
                .execute([below])
        })();
        r.map(|_| ())
            .map_err(|e| StoreError::sqlite(&self.path, "drop blocks of deleted records", e))
    }

    /// Writes the partial live block, commits the open transaction, if any, then answers
    /// waiting flushes.
    fn commit(&mut self) {
        if self.tx_since.is_some() && !self.broken {
            let r = self.write_live().and_then(|()| {
                format::write_state(self.db.conn(), &self.pending)
                    .and_then(|()| self.db.conn().execute_batch("COMMIT"))
                    .map_err(|e| StoreError::sqlite(&self.path, "commit the block index", e))
            });
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
    /// the store, so nothing is lost for good; queries scan what the index lacks).
    fn check(&mut self, r: Result<(), StoreError>) {
        if let Err(e) = r {
            if !self.db.conn().is_autocommit() {
                let _ = self.db.conn().execute_batch("ROLLBACK");
            }
            self.tx_since = None;
            self.broken = true;
            tracing::error!(error = %e, indexed_max = self.state.indexed_max,
                "block index cannot be written; queries scan newer records until logtui restarts and re-indexes them");
        }
    }

    /// Indexes the next chunk of stored records the index lacks, in its own transaction.
    fn backfill_chunk(&mut self) {
        let from = self.state.backfill_next;
        let live_from = self.state.live_from;
        let mut block = Block::new(self.live.capacity);
        let r = self.begin().and_then(|()| {
            let mut st = self
                .reader
                .prepare_cached(
                    "SELECT id, created, level, source, logger, origin, job, message, exc_text
                     FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
                )
                .map_err(|e| StoreError::sqlite(&self.path, "read stored records to index", e))?;
            let mut rows = st
                .query((from, live_from, BACKFILL_CHUNK))
                .map_err(|e| StoreError::sqlite(&self.path, "read stored records to index", e))?;
            let (mut read, mut last) = (0, from);
            let mut put = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
                let id: i64 = row.get(0)?;
                if block.must_close_before(id) {
                    block.write(&mut self.db, self.stmts)?;
                }
                // Only logtui writes these columns, but a row edited by hand must not stop
                // the index for good: an unreadable time or level matches every filter.
                let created = match row.get_ref(1)? {
                    ValueRef::Real(f) => f,
                    ValueRef::Integer(i) => i as f64,
                    _ => f64::NAN,
                };
                let level = match row.get_ref(2)? {
                    ValueRef::Integer(i) => i32::try_from(i).unwrap_or(i32::MAX),
                    _ => i32::MAX,
                };
                let source = row
                    .get_ref(3)?
                    .as_str()
                    .ok()
                    .and_then(SourceKind::parse)
                    .unwrap_or(SourceKind::Internal);
                let text = |i: usize| row.get_ref(i).ok().and_then(|v| v.as_str().ok());
                block.add(
                    id,
                    created,
                    level,
                    source,
                    Fields {
                        logger: text(4).unwrap_or(""),
                        origin: text(5).unwrap_or(""),
                        job: text(6),
                        message: text(7).unwrap_or(""),
                        exc_text: text(8),
                    },
                );
                read += 1;
                last = id;
                Ok(())
            };
            let mut r = Ok(());
            loop {
                match rows.next() {
                    Ok(Some(row)) => {
                        r = put(row);
                        if r.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        r = Err(e);
                        break;
                    }
                }
            }
            r.and_then(|()| block.write(&mut self.db, self.stmts))
                .map_err(|e| StoreError::sqlite(&self.path, "index stored records", e))?;
            // A short read means nothing is left below `live_from`: ids may be sparse
            // (retention), so progress follows the rows, not the id arithmetic.
            self.pending.backfill_next = if read < BACKFILL_CHUNK {
                live_from
            } else {
                last
            };
            Ok(())
        });
        self.check(r);
        if !self.broken {
            self.commit();
        }
    }
}
