//! The block index, in `<db>-index` beside the store: for every run of up to 256 consecutive
//! records, their time span, top level, sources, loggers, origins, jobs and distinct words.
//!
//! Queries use it to skip the blocks that cannot match (a block range index, in the manner of
//! BRIN), so the store needs no per-record B-tree index and the writer only appends. Its own
//! thread builds it after each commit, beside the writer; it is derived, and rebuilt if lost.

use super::db::raw::{Db, StmtId};
use super::error::StoreError;
use super::persister::{Observer, notify};
use super::schema::Tuning;
use super::words::{for_each_word, indexed};
use crate::record::{Record, SourceKind};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The index file for the store at `store`: the same name with `-index` appended.
pub fn index_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push("-index");
    PathBuf::from(s)
}

/// Attaches the index of the store `conn` has open as schema `idx` (read-only when `conn`
/// is), unless already attached. Returns false when there is no index file.
pub(crate) fn attach(conn: &Connection, store: &Path) -> Result<bool, StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(store, op, e);
    let attached: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_database_list WHERE name = 'idx'",
            [],
            |r| r.get(0),
        )
        .map_err(err("list attached databases"))?;
    if attached > 0 {
        return Ok(true);
    }
    let path = index_path(store);
    if !path.exists() {
        return Ok(false);
    }
    let Some(p) = path.to_str() else {
        return Ok(false);
    };
    conn.execute("ATTACH DATABASE ?1 AS idx", [p])
        .map_err(err("attach the block index"))?;
    Ok(true)
}

/// Work for the index thread, in commit order.
pub(crate) enum IndexMsg {
    /// Records just committed to the store, and the positions of alerts among them. The
    /// thread tells the observer, indexes them and frees them, all off the writer's core.
    Index(Vec<(i64, Record)>, Vec<usize>),
    /// Retention has deleted every record below this id: drop the blocks that held them.
    Forget(i64),
    /// Answer once everything before it is committed to the index.
    Ack(oneshot::Sender<()>),
}

/// Batches in flight to the index thread; beyond this the writer waits, so the index
/// never falls more than a few flushes behind the store.
const CHANNEL: usize = 4;
/// Store rows indexed per transaction while rebuilding.
const BACKFILL_CHUNK: i64 = 20_480;
/// Most distinct loggers (origins, jobs) a block lists; past this, or past
/// [`MAX_NAME_BYTES`], the block lists none and every such filter must look inside it.
const MAX_NAMES: usize = 32;
const MAX_NAME_BYTES: usize = 256;
/// Distinct-word bytes past which a block closes early, so a flood of unique words costs
/// at most this (plus one record's words) of memory and one FTS5 row of about this size.
const MAX_BLOCK_WORD_BYTES: usize = 1 << 20;

/// The writer's end of the index thread.
pub(crate) struct IndexHandle {
    tx: Option<SyncSender<IndexMsg>>,
    recycled: Receiver<Vec<(i64, Record)>>,
    thread: Option<std::thread::JoinHandle<()>>,
    gone: bool,
}

impl IndexHandle {
    /// Queues `msg`, waiting while the index is `CHANNEL` messages behind.
    pub fn send(&mut self, msg: IndexMsg) {
        let Some(tx) = &self.tx else { return };
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

/// What the index covers, kept in its own `index_state` row and committed with it.
/// Ids in `(backfill_next, live_from]` and above `indexed_max` are not covered yet:
/// queries scan those ranges of the store directly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct State {
    /// The `meta.store_id` of the store it indexes; a mismatch means another store.
    pub store_id: i64,
    pub backfill_next: i64,
    pub live_from: i64,
    /// Highest id indexed.
    pub indexed_max: i64,
}

impl State {
    /// The id ranges the index does not cover, ascending.
    pub fn uncovered(&self) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if self.backfill_next < self.live_from {
            out.push((self.backfill_next + 1, self.live_from));
        }
        out.push((self.indexed_max.max(self.live_from) + 1, i64::MAX));
        out
    }
}

/// Reads the index state through `conn`, where the index is attached as `schema`.
pub(crate) fn read_state(conn: &Connection, schema: &str) -> rusqlite::Result<Option<State>> {
    conn.query_row(
        &format!(
            "SELECT store_id, backfill_next, live_from, indexed_max FROM {schema}.index_state"
        ),
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
}

/// Opens the index file (creating it) and its schema.
pub(crate) fn open_index(path: &Path, t: &Tuning) -> Result<Connection, StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err("open block index"))?;
    super::schema::writer_pragmas(&conn, path, t)?;
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'blocks'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err("inspect block index"))?
        > 0;
    if !exists {
        // The word index gets one row per block: its distinct words, lowercased, joined by
        // spaces. `ascii` splits them exactly there, since a word holds no ASCII separator.
        // Contentless, with deletes by rowid; detail=none, since matching is by word presence.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE blocks(
               first_id    INTEGER PRIMARY KEY,
               last_id     INTEGER NOT NULL,
               min_created REAL NOT NULL,
               max_created REAL NOT NULL,
               max_level   INTEGER NOT NULL,
               sources     INTEGER NOT NULL,
               loggers     TEXT,
               origins     TEXT,
               jobs        TEXT);
             CREATE VIRTUAL TABLE words USING fts5(
               w, content='', contentless_delete=1, detail=none, tokenize='ascii');
             CREATE TABLE index_state(
               store_id INTEGER, backfill_next INTEGER, live_from INTEGER, indexed_max INTEGER);
             COMMIT;",
        )
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::sqlite(path, "create block index", e)
        })?;
    }
    Ok(conn)
}

/// Prepares the index for the store (`main` is a connection to it) and starts its thread.
/// Must run before the writer's first commit, so ids above the store's current maximum
/// are exactly the ones that will arrive as [`IndexMsg::Index`].
pub(crate) fn spawn(
    store: &Path,
    main: &Connection,
    t: &Tuning,
    observer: Observer,
) -> Result<IndexHandle, StoreError> {
    let path = index_path(store);
    let conn = open_index(&path, t)?;
    let err = |op: &'static str| {
        let p = path.clone();
        move |e| StoreError::sqlite(p, op, e)
    };
    let store_id = super::schema::store_id(main, store)?;
    let (min_id, max_id): (Option<i64>, i64) = main
        .query_row("SELECT min(id) FROM records", [], |r| r.get(0))
        // The highest id ever given out, even if retention has since deleted it.
        .and_then(|min| Ok((min, super::schema::next_id(main)? - 1)))
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
        .and_then(|()| if rebuild { reset(&conn) } else { Ok(()) })
        .and_then(|()| write_state(&conn, &state))
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
        super::checkpoint::backstop(&conn, &path, t.wal_autocheckpoint)?;
    }
    let mut db = Db::new(conn);
    let ins_block = db
        .prepare(
            "INSERT INTO blocks(first_id, last_id, min_created, max_created, max_level, sources,
                                loggers, origins, jobs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(err("prepare block insert"))?;
    let ins_words = db
        .prepare("INSERT INTO words(rowid, w) VALUES (?1, ?2)")
        .map_err(err("prepare word insert"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL);
    let (recycle_tx, recycled) = std::sync::mpsc::sync_channel(CHANNEL + 2);
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
        observer,
        observing: true,
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
    })
}

/// Empties the index; the caller's transaction commits it with the new state.
fn reset(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM words; DELETE FROM blocks;")
}

fn write_state(conn: &Connection, s: &State) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "UPDATE index_state SET store_id = ?1, backfill_next = ?2, live_from = ?3, indexed_max = ?4",
    )?;
    if st.execute((s.store_id, s.backfill_next, s.live_from, s.indexed_max))? == 0 {
        conn.prepare_cached(
            "INSERT INTO index_state(store_id, backfill_next, live_from, indexed_max) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute((s.store_id, s.backfill_next, s.live_from, s.indexed_max))?;
    }
    Ok(())
}

/// The distinct values of one field within a block, or `None` once there are too many
/// (or one too long) to be worth listing.
struct NameSet(Option<Vec<String>>);

impl NameSet {
    fn add(&mut self, name: Option<&str>) {
        let (Some(list), Some(name)) = (&mut self.0, name) else {
            return;
        };
        // Records of one block mostly repeat the last name seen.
        if list.last().is_some_and(|l| l == name) || list.iter().any(|l| l == name) {
            return;
        }
        if list.len() >= MAX_NAMES || name.len() > MAX_NAME_BYTES {
            self.0 = None;
        } else {
            list.push(name.to_owned());
        }
    }

    /// A JSON array of the names, or NULL for "too many to list".
    fn json(&self, out: &mut String) -> bool {
        out.clear();
        let Some(list) = &self.0 else { return false };
        out.push('[');
        for (i, n) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::value::write_json_str(n, out);
        }
        out.push(']');
        true
    }

    fn clear(&mut self) {
        match &mut self.0 {
            Some(l) => l.clear(),
            None => self.0 = Some(Vec::new()),
        }
    }
}

/// One block under construction: the summary of consecutive records fed so far.
struct Block {
    capacity: usize,
    first: i64,
    last: i64,
    len: usize,
    min_created: f64,
    max_created: f64,
    max_level: i32,
    sources: i64,
    loggers: NameSet,
    origins: NameSet,
    jobs: NameSet,
    /// Seeded per process, so words chosen by a sender cannot be made to collide.
    words: foldhash::HashSet<String>,
    word_bytes: usize,
    scratch: String,
}

impl Block {
    fn new(capacity: usize) -> Block {
        Block {
            capacity: capacity.max(1),
            first: 0,
            last: 0,
            len: 0,
            min_created: f64::INFINITY,
            max_created: f64::NEG_INFINITY,
            max_level: i32::MIN,
            sources: 0,
            loggers: NameSet(Some(Vec::new())),
            origins: NameSet(Some(Vec::new())),
            jobs: NameSet(Some(Vec::new())),
            words: foldhash::HashSet::default(),
            word_bytes: 0,
            scratch: String::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.len >= self.capacity || self.word_bytes >= MAX_BLOCK_WORD_BYTES
    }

    /// Whether the block must be written before the record `id` is added: it is full, or
    /// `id` does not follow its last one, and a block must never claim ids it does not hold.
    fn must_close_before(&self, id: i64) -> bool {
        self.len > 0 && (self.is_full() || id != self.last + 1)
    }

    /// Adds the record with id `id`, which must follow the last one added directly.
    fn add(&mut self, id: i64, created: f64, level: i32, source: SourceKind, r: Fields<'_>) {
        if self.len == 0 {
            self.first = id;
        }
        self.last = id;
        self.len += 1;
        if created.is_nan() {
            self.min_created = f64::NEG_INFINITY;
            self.max_created = f64::INFINITY;
        } else {
            self.min_created = self.min_created.min(created);
            self.max_created = self.max_created.max(created);
        }
        self.max_level = self.max_level.max(level);
        self.sources |= 1 << source as u32;
        self.loggers.add(Some(r.logger));
        self.origins.add(Some(r.origin));
        self.jobs.add(r.job);
        let (words, bytes) = (&mut self.words, &mut self.word_bytes);
        for text in [Some(r.message), r.exc_text].into_iter().flatten() {
            for_each_word(text, &mut self.scratch, |w| {
                let w = indexed(w);
                if !words.contains(w) {
                    *bytes += w.len() + 1;
                    words.insert(w.to_owned());
                }
            });
        }
    }

    /// Writes the block (if it holds anything) and empties it.
    fn write(&mut self, db: &mut Db, st: BlockStmts) -> rusqlite::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let (mut l, mut o, mut j) = (String::new(), String::new(), String::new());
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        for w in self.words.drain() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&w);
        }
        let (loggers, origins, jobs) = (
            self.loggers.json(&mut l).then_some(l.as_str()),
            self.origins.json(&mut o).then_some(o.as_str()),
            self.jobs.json(&mut j).then_some(j.as_str()),
        );
        let r = db
            .stmt(st.block)
            .run(|b| {
                b.bind_i64(1, self.first)?;
                b.bind_i64(2, self.last)?;
                b.bind_f64(3, self.min_created)?;
                b.bind_f64(4, self.max_created)?;
                b.bind_i64(5, i64::from(self.max_level))?;
                b.bind_i64(6, self.sources)?;
                b.bind_opt_str(7, loggers)?;
                b.bind_opt_str(8, origins)?;
                b.bind_opt_str(9, jobs)
            })
            .and_then(|()| {
                db.stmt(st.words).run(|b| {
                    b.bind_i64(1, self.first)?;
                    b.bind_str(2, &text)
                })
            });
        // After a flood of unique words, give the memory back rather than keep it forever.
        if self.words.capacity() > 1 << 14 {
            self.words.shrink_to(1 << 10);
        }
        text.clear();
        text.shrink_to(1 << 16);
        self.scratch = text;
        self.word_bytes = 0;
        self.len = 0;
        self.min_created = f64::INFINITY;
        self.max_created = f64::NEG_INFINITY;
        self.max_level = i32::MIN;
        self.sources = 0;
        self.loggers.clear();
        self.origins.clear();
        self.jobs.clear();
        r
    }
}

/// The text fields of a record that a block summarises.
struct Fields<'a> {
    logger: &'a str,
    origin: &'a str,
    job: Option<&'a str>,
    message: &'a str,
    exc_text: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(r: &'a Record) -> Fields<'a> {
        Fields {
            logger: &r.logger,
            origin: &r.origin,
            job: r.job.as_deref(),
            message: &r.message,
            exc_text: r.exc_text.as_deref(),
        }
    }
}

/// The index's two inserts, prepared on its [`Db`].
#[derive(Clone, Copy)]
struct BlockStmts {
    block: StmtId,
    words: StmtId,
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
    /// Told about every committed batch, before it is indexed, until it panics once.
    observer: Observer,
    observing: bool,
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
            IndexMsg::Index(mut v, alerts) => {
                if self.observing {
                    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        notify(&mut self.observer, &v, &alerts)
                    }));
                    if seen.is_err() {
                        // Storing and indexing matter more than the observer (`--echo`).
                        self.observing = false;
                        tracing::error!(
                            "the record observer failed; it is off from now on, and records are still stored and indexed"
                        );
                    }
                }
                if !self.broken {
                    let r = self.begin().and_then(|()| self.index(&v));
                    self.check(r);
                }
                v.clear();
                let _ = self.recycle.try_send(v);
            }
            IndexMsg::Forget(below) => {
                if !self.broken {
                    let r = self.begin().and_then(|()| self.forget(below));
                    self.check(r);
                }
            }
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
                write_state(self.db.conn(), &self.pending)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncovered_ranges_are_the_backfill_gap_and_the_tail() {
        let s = State {
            store_id: 1,
            backfill_next: 10,
            live_from: 20,
            indexed_max: 30,
        };
        assert_eq!(s.uncovered(), [(11, 20), (31, i64::MAX)]);
        let done = State {
            backfill_next: 20,
            ..s
        };
        assert_eq!(done.uncovered(), [(31, i64::MAX)]);
    }

    #[test]
    fn a_flood_of_unique_words_closes_the_block_early() {
        let mut b = Block::new(256);
        let r = Record::new(SourceKind::Tcp, "peer");
        let mut n = 0;
        while !b.is_full() {
            n += 1;
            let text: String = (0..20_000).map(|i| format!("r{n}w{i} ")).collect();
            let f = Fields {
                message: &text,
                ..Fields::of(&r)
            };
            b.add(n, 1.0, 20, SourceKind::Tcp, f);
            assert!(n < 256, "never closed");
        }
        assert!(b.word_bytes >= MAX_BLOCK_WORD_BYTES);
        assert!(b.len < 256);
    }

    #[test]
    fn name_sets_give_up_past_their_bounds() {
        let mut s = NameSet(Some(Vec::new()));
        let mut out = String::new();
        s.add(Some("a\"b"));
        s.add(Some("a\"b"));
        s.add(None);
        assert!(s.json(&mut out));
        assert_eq!(out, r#"["a\"b"]"#);
        for i in 0..MAX_NAMES {
            s.add(Some(&format!("n{i}")));
        }
        assert!(!s.json(&mut out));
        s.clear();
        assert!(s.json(&mut out));
        assert_eq!(out, "[]");
        s.add(Some(&"x".repeat(MAX_NAME_BYTES + 1)));
        assert!(!s.json(&mut out));
    }
}
