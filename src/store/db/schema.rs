//! Opening the store: pragmas, the `records` table and its block index file.
//! The schema version lives in `PRAGMA user_version`, so a later logtui can migrate or refuse.

use crate::store::error::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: i64 = 3;

/// The record columns in insert/select order (everything but `id`).
pub(crate) const COLUMNS: &str = "created, level, levelname, logger, message, source, origin, job, host, \
     process, process_name, thread, thread_name, task_name, pathname, filename, module, lineno, func, \
     exc_text, stack_info, extra";

/// How many columns [`COLUMNS`] names.
pub(crate) const NCOLUMNS: usize = 22;

pub(crate) const TABLE: &str = "CREATE TABLE IF NOT EXISTS records (
    id           INTEGER PRIMARY KEY,
    created      REAL NOT NULL,
    level        INTEGER NOT NULL,
    levelname    TEXT NOT NULL,
    logger       TEXT NOT NULL,
    message      TEXT NOT NULL,
    source       TEXT NOT NULL,
    origin       TEXT NOT NULL,
    job          TEXT,
    host         TEXT,
    process      INTEGER,
    process_name TEXT,
    thread       INTEGER,
    thread_name  TEXT,
    task_name    TEXT,
    pathname     TEXT,
    filename     TEXT,
    module       TEXT,
    lineno       INTEGER,
    func         TEXT,
    exc_text     TEXT,
    stack_info   TEXT,
    extra        TEXT
)";

/// The per-record B-tree indexes of schema 1, dropped on upgrade: the block index serves
/// those lookups, and the writer no longer pays about 3 µs per record to maintain them.
pub(crate) const OLD_INDEXES: &[&str] = &[
    "records_created",
    "records_level",
    "records_logger",
    "records_source",
    "records_job",
];

/// Identifies this store, so an index file can tell it indexes this one.
pub(crate) const META: &str =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID";

/// What sources keep with their records (schema 3): each key written in the transaction
/// that commits the records it covers, so a source restarting reads exactly where the stored
/// records end. `store_id` is this file's own random id (16 hex digits), made once.
pub(crate) const STATE: &str = "CREATE TABLE IF NOT EXISTS source_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID";

/// Writes one `source_state` pair.
pub(crate) const PUT_STATE: &str =
    "INSERT OR REPLACE INTO source_state(key, value) VALUES (?1, ?2)";

/// The `source_state` key of the store's own id.
pub(crate) const STORE_ID_KEY: &str = "store_id";

/// Creates `source_state` with a new store id, inside the caller's transaction.
fn state_sql(path: &Path) -> String {
    format!(
        "{STATE};\nINSERT OR IGNORE INTO source_state(key, value) VALUES ('{STORE_ID_KEY}', '{:016x}');\n",
        new_store_id(path) as u64
    )
}

/// Physical settings of a new store. The defaults are what `open` uses; the other
/// values exist so the benchmark can measure alternatives.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Page size of a new database, in bytes. 8 KiB measured ~15% faster than SQLite's
    /// 4 KiB for this append-only load (half the WAL frames and B-tree pages per record)
    /// and as fast as 16 KiB.
    pub page_size: u32,
    /// Page cache per connection, in KiB. 8 MiB measured as fast as 64 MiB for ingest
    /// (the writer appends; hot pages are few) and keeps peak RSS inside the 100 MB budget.
    pub cache_kib: u32,
    /// WAL pages before an automatic checkpoint.
    pub wal_autocheckpoint: u32,
    /// Let a thread of their own checkpoint the store's and the index's WALs; the writers
    /// then checkpoint only as a backstop, past `wal_autocheckpoint * 8` pages.
    pub checkpoint_in_background: bool,
    /// Rows per insert statement run (1 = one statement per record).
    pub rows_per_insert: usize,
    /// Whether to keep the block index (its own file, `<db>-index`).
    pub index: bool,
    /// Most records summarised by one block of the index.
    pub block_records: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            page_size: 8192,
            cache_kib: 8 * 1024,
            wal_autocheckpoint: 4096,
            checkpoint_in_background: true,
            rows_per_insert: 32,
            index: true,
            block_records: 256,
        }
    }
}

/// Opens (creating if missing) the store at `path` for writing: parent directories,
/// WAL mode, `synchronous=NORMAL` and the schema, with physical settings `t` (they apply
/// when the file is created).
pub(crate) fn open_writer(path: &Path, t: &Tuning) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let err = |op: &str| {
        let op = op.to_owned();
        move |e| StoreError::sqlite(path, op, e)
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err("open for writing"))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err("set busy timeout"))?;
    writer_pragmas(&conn, path, t)?;
    create_schema(&conn, path)?;
    Ok(conn)
}

/// Page size (of a new file), WAL, `synchronous=NORMAL` and the cache, for a connection
/// that writes.
pub(crate) fn writer_pragmas(conn: &Connection, path: &Path, t: &Tuning) -> Result<(), StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(err("read page count"))?;
    if pages == 0 {
        // Only a new, empty file can still change its page size.
        conn.execute_batch(&format!("PRAGMA page_size = {}", t.page_size))
            .map_err(err("set page size"))?;
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(err("enable WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::sqlite(
            path,
            "enable WAL",
            rusqlite::Error::InvalidParameterName(format!("journal_mode stayed {mode}")),
        ));
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err("set busy timeout"))?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{};
         PRAGMA wal_autocheckpoint = {};
         PRAGMA journal_size_limit = {};",
        t.cache_kib,
        t.wal_autocheckpoint,
        64 * 1024 * 1024
    ))
    .map_err(err("set pragmas"))
}

/// This store's random identity (made when the schema was created).
pub(crate) fn store_id(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
        r.get(0)
    })
    .map_err(|e| StoreError::sqlite(path, "read store id", e))
}

/// The id after the highest ever given out: past the table's maximum and `meta.next_id`,
/// which keeps the high-water mark when retention has emptied the table.
pub(crate) fn next_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT max(coalesce((SELECT max(id) FROM records), 0) + 1,
                    coalesce((SELECT value FROM meta WHERE key = 'next_id'), 1))",
        [],
        |r| r.get(0),
    )
}

fn new_store_id(path: &Path) -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(path.as_os_str().as_encoded_bytes());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() >> 1) as i64
}

fn create_schema(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
    let version = user_version(conn, path)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version == 1 {
        upgrade_from_1(conn, path)?;
        return upgrade_from_2(conn, path);
    }
    if version == 2 {
        return upgrade_from_2(conn, path);
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('records', 'meta', 'source_state')",
            [],
            |r| r.get(0),
        )
        .map_err(err("inspect schema"))?;
    if tables > 0 {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
        });
    }
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    sql.push_str(TABLE);
    sql.push_str(";\n");
    sql.push_str(META);
    sql.push_str(&format!(
        ";\nINSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', {});\n",
        new_store_id(path)
    ));
    sql.push_str(&state_sql(path));
    sql.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"));
    if let Err(e) = conn.execute_batch(&sql) {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(StoreError::sqlite(path, "create schema", e));
    }
    Ok(())
}

/// Schema 1 kept five B-tree indexes and an FTS5 file (`<db>-fts`); schema 2 keeps neither.
fn upgrade_from_1(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    for name in OLD_INDEXES {
        sql.push_str(&format!("DROP INDEX IF EXISTS {name};\n"));
    }
    sql.push_str("PRAGMA user_version = 2;\nCOMMIT;");
    if let Err(e) = conn.execute_batch(&sql) {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(StoreError::sqlite(path, "upgrade schema 1 to 2", e));
    }
    let mut old = path.as_os_str().to_owned();
    old.push("-fts");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = old.clone();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    tracing::info!(path = %path.display(), "upgraded the store to schema 2 (block index)");
    Ok(())
}

/// Schema 3 adds `source_state` (and the store id in it); the records are untouched.
fn upgrade_from_2(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let sql = format!(
        "BEGIN IMMEDIATE;\n{}PRAGMA user_version = 3;\nCOMMIT;",
        state_sql(path)
    );
    if let Err(e) = conn.execute_batch(&sql) {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(StoreError::sqlite(path, "upgrade schema 2 to 3", e));
    }
    tracing::info!(path = %path.display(), "upgraded the store to schema 3 (source state)");
    Ok(())
}

pub(crate) fn user_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::sqlite(path, "read schema version", e))
}

/// Opens an existing store for reading only (`SQLITE_OPEN_READ_ONLY` and
/// `PRAGMA query_only`), refusing files that are not a store this build can read.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let err = |op: &'static str| move |e| StoreError::sqlite(path, op, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err("open read-only"))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err("set busy timeout"))?;
    conn.execute_batch("PRAGMA query_only = 1; PRAGMA cache_size = -65536;")
        .map_err(err("set pragmas"))?;
    match user_version(&conn, path)? {
        0 => Err(StoreError::NotAStore {
            path: path.to_path_buf(),
        }),
        v if v > SCHEMA_VERSION => Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        _ => Ok(conn),
    }
}

/// Raises `conn`'s automatic checkpoint to a backstop far above the usual WAL size, for a
/// connection whose database the checkpoint thread looks after.
pub(crate) fn backstop(conn: &Connection, path: &Path, pages: u32) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint = {}",
        pages.saturating_mul(8)
    ))
    .map_err(|e| StoreError::sqlite(path, "set pragmas", e))
}
