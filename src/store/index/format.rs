//! The block index format, in `<db>-index` beside the store: for every run of up to 256
//! consecutive records, their time span, top level, sources, loggers, origins, jobs and words.
//!
//! Queries use it to skip the blocks that cannot match (a block range index, in the manner of
//! BRIN), so the store needs no per-record B-tree index and the writer only appends. It is
//! derived, and rebuilt if lost; [`super::build`] keeps it.

use super::words::{for_each_word, indexed};
use crate::record::{Record, SourceKind};
use crate::store::db::raw::{Db, StmtId};
use crate::store::db::schema::{Tuning, writer_pragmas};
use crate::store::error::StoreError;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

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

/// Most distinct loggers (origins, jobs) a block lists; past this, or past
/// [`MAX_NAME_BYTES`], the block lists none and every such filter must look inside it.
const MAX_NAMES: usize = 32;
const MAX_NAME_BYTES: usize = 256;
/// Distinct-word bytes past which a block closes early, so a flood of unique words costs
/// at most this (plus one record's words) of memory and one FTS5 row of about this size.
const MAX_BLOCK_WORD_BYTES: usize = 1 << 20;

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
    writer_pragmas(&conn, path, t)?;
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'blocks'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err("inspect block index"))?
        > 0;
    let has_levels = exists
        && conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('blocks') WHERE name = 'lv_debug'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err("inspect block index"))?
            > 0;
    if exists && !has_levels {
        // An index from before blocks counted their levels: it is derived, so it is dropped
        // and rebuilt from the records (in the background, as a lost index is).
        tracing::info!(path = %path.display(), "block index predates level counts; rebuilding it");
        conn.execute_batch(
            "DROP TABLE IF EXISTS blocks; DROP TABLE IF EXISTS words; DROP TABLE IF EXISTS index_state;",
        )
        .map_err(err("drop old block index"))?;
    }
    if !exists || !has_levels {
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
               jobs        TEXT,
               lv_debug    INTEGER NOT NULL,
               lv_info     INTEGER NOT NULL,
               lv_warning  INTEGER NOT NULL,
               lv_error    INTEGER NOT NULL,
               lv_critical INTEGER NOT NULL);
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

/// Empties the index; the caller's transaction commits it with the new state.
pub(super) fn reset(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM words; DELETE FROM blocks;")
}

pub(super) fn write_state(conn: &Connection, s: &State) -> rusqlite::Result<()> {
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
pub(super) struct Block {
    pub(super) capacity: usize,
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) len: usize,
    min_created: f64,
    max_created: f64,
    max_level: i32,
    /// Records per level band (below INFO, INFO, WARNING, ERROR, CRITICAL and up), for
    /// histograms drawn from the index rather than from every row.
    levels: [i64; 5],
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
    pub(super) fn new(capacity: usize) -> Block {
        Block {
            capacity: capacity.max(1),
            first: 0,
            last: 0,
            len: 0,
            min_created: f64::INFINITY,
            max_created: f64::NEG_INFINITY,
            max_level: i32::MIN,
            levels: [0; 5],
            sources: 0,
            loggers: NameSet(Some(Vec::new())),
            origins: NameSet(Some(Vec::new())),
            jobs: NameSet(Some(Vec::new())),
            words: foldhash::HashSet::default(),
            word_bytes: 0,
            scratch: String::new(),
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len >= self.capacity || self.word_bytes >= MAX_BLOCK_WORD_BYTES
    }

    /// Whether the block must be written before the record `id` is added: it is full, or
    /// `id` does not follow its last one, and a block must never claim ids it does not hold.
    pub(super) fn must_close_before(&self, id: i64) -> bool {
        self.len > 0 && (self.is_full() || id != self.last + 1)
    }

    /// Adds the record with id `id`, which must follow the last one added directly.
    pub(super) fn add(
        &mut self,
        id: i64,
        created: f64,
        level: i32,
        source: SourceKind,
        r: Fields<'_>,
    ) {
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
        self.levels[level_band(level)] += 1;
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
    pub(super) fn write(&mut self, db: &mut Db, st: BlockStmts) -> rusqlite::Result<()> {
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
                b.bind_opt_str(9, jobs)?;
                for (i, n) in self.levels.iter().enumerate() {
                    b.bind_i64(10 + i as i32, *n)?;
                }
                Ok(())
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
        self.levels = [0; 5];
        self.sources = 0;
        self.loggers.clear();
        self.origins.clear();
        self.jobs.clear();
        r
    }
}

/// Which of the five level bands a level counts in: below INFO, INFO, WARNING, ERROR,
/// CRITICAL and above (custom levels fall in the band below them).
pub fn level_band(level: i32) -> usize {
    use crate::record::{CRITICAL, ERROR, INFO, WARNING};
    match level {
        l if l >= CRITICAL => 4,
        l if l >= ERROR => 3,
        l if l >= WARNING => 2,
        l if l >= INFO => 1,
        _ => 0,
    }
}

/// The text fields of a record that a block summarises.
pub(super) struct Fields<'a> {
    pub(super) logger: &'a str,
    pub(super) origin: &'a str,
    pub(super) job: Option<&'a str>,
    pub(super) message: &'a str,
    pub(super) exc_text: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub(super) fn of(r: &'a Record) -> Fields<'a> {
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
pub(super) struct BlockStmts {
    pub(super) block: StmtId,
    pub(super) words: StmtId,
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
