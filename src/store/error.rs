//! Why a store operation failed, always with the file and the operation that failed.
//! One error type for opening, writing and querying, so callers print one kind of message.

use std::path::PathBuf;

/// A store failure with its context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create directory {path} for the store: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store {path} does not exist")]
    Missing { path: PathBuf },
    #[error("store {path}: {op}: {source}")]
    Sqlite {
        path: PathBuf,
        op: String,
        source: rusqlite::Error,
    },
    #[error(
        "store {path} has schema version {found}, but this logtui understands only up to {supported}"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path} is not a logtui store (no records table, schema version 0)")]
    NotAStore { path: PathBuf },
    #[error("invalid store setting {key}: {why}")]
    Config { key: &'static str, why: String },
    #[error("invalid regular expression {pattern:?}: {source}")]
    BadRegex {
        pattern: String,
        source: Box<regex::Error>,
    },
    #[error("the {field} pattern is {len} bytes; SQLite's GLOB takes at most {max}")]
    GlobTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the filter names {n} {field} values; it takes at most {max}")]
    TooManyChoices {
        field: &'static str,
        n: usize,
        max: usize,
    },
    #[error("another logtui is already recording into {path} (it holds {lock})")]
    InUse { path: PathBuf, lock: PathBuf },
    #[error("cannot lock {lock} for the store: {source}")]
    Lock {
        lock: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing to run a statement that can write to the store: {sql}")]
    NotReadOnly { sql: String },
    #[error("cannot start the store writer thread: {0}")]
    Thread(std::io::Error),
    #[error("the store writer thread panicked: {0}")]
    Panicked(String),
    #[error("store {path}: {lost} records could not be written before shutdown: {source}")]
    Lost {
        path: PathBuf,
        lost: usize,
        source: Box<StoreError>,
    },
}

impl StoreError {
    /// Wraps a SQLite error with the store path and what was being done.
    pub fn sqlite(
        path: impl Into<PathBuf>,
        op: impl Into<String>,
        source: rusqlite::Error,
    ) -> Self {
        StoreError::Sqlite {
            path: path.into(),
            op: op.into(),
            source,
        }
    }
}

/// The path a connection was opened on, for error context (empty for in-memory databases).
pub(crate) fn conn_path(conn: &rusqlite::Connection) -> PathBuf {
    PathBuf::from(conn.path().unwrap_or(""))
}

/// Maps a rusqlite error on `conn` to a [`StoreError`] naming `op` (builds nothing on success).
pub(crate) fn on<'a>(
    conn: &'a rusqlite::Connection,
    op: &'a str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::sqlite(conn_path(conn), op, e)
}
