//! Opening the store, composed from the layers: the records file and its schema (`db`),
//! the block index file beside it (`index`), and the read side's SQL functions (`read`).

use super::db::schema::{self, Tuning};
use super::error::StoreError;
use super::index::format::{attach, index_path, open_index};
use super::read::functions::register_functions;
use rusqlite::Connection;
use std::path::Path;

/// Opens (creating if missing) the store at `path` for writing: parent directories,
/// WAL mode, `synchronous=NORMAL`, the schema, and the block index file beside it.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    open_tuned(path, &Tuning::default())
}

/// [`open`] with explicit physical settings (they apply when the file is created).
#[doc(hidden)]
pub fn open_tuned(path: &Path, t: &Tuning) -> Result<Connection, StoreError> {
    let conn = schema::open_writer(path, t)?;
    if t.index {
        // The index file beside it, empty until the persister fills it.
        open_index(&index_path(path), t)?;
    }
    Ok(conn)
}

/// Opens an existing store for reading only (`SQLITE_OPEN_READ_ONLY` and
/// `PRAGMA query_only`). The `regexp` SQL function is registered on it, and the
/// block index file, when present, is attached as schema `idx`.
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = schema::open_reader(path)?;
    register_functions(&conn)?;
    attach(&conn, path)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::schema::{META, OLD_INDEXES, SCHEMA_VERSION, TABLE, user_version};
    use rusqlite::Connection;

    #[test]
    fn creates_schema_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/store.db");
        let c = open(&path).unwrap();
        assert_eq!(user_version(&c, &path).unwrap(), SCHEMA_VERSION);
        drop(c);
        let c = open(&path).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'records_%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            n, 0,
            "lookups go through the block index, not per-record indexes"
        );
        assert!(index_path(&path).exists());
        let ro = open_read_only(&path).unwrap();
        assert!(ro.execute("DELETE FROM records", []).is_err());
    }

    #[test]
    fn schema_1_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let old_fts = dir.path().join("s.db-fts");
        std::fs::write(&old_fts, b"old index").unwrap();
        {
            let c = Connection::open(&path).unwrap();
            let mut sql = format!("{TABLE};\n{META};\n");
            for name in OLD_INDEXES {
                sql.push_str(&format!("CREATE INDEX {name} ON records(created);\n"));
            }
            sql.push_str(
                "INSERT INTO meta VALUES ('store_id', 7);
                 INSERT INTO records(created, level, levelname, logger, message, source, origin)
                 VALUES (1.5, 20, 'INFO', 'a', 'kept', 'tcp', 'x');
                 PRAGMA user_version = 1;",
            );
            c.execute_batch(&sql).unwrap();
        }
        let c = open(&path).unwrap();
        assert_eq!(user_version(&c, &path).unwrap(), SCHEMA_VERSION);
        let (indexes, msg): (i64, String) = c
            .query_row(
                "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'index'),
                        (SELECT message FROM records)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((indexes, msg.as_str()), (0, "kept"));
        assert!(!old_fts.exists());
    }

    #[test]
    fn read_only_missing_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_read_only(&dir.path().join("nope.db")).unwrap_err();
        assert!(matches!(e, StoreError::Missing { .. }), "{e}");
        assert!(e.to_string().contains("nope.db"));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(
            open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
        assert!(matches!(
            open_read_only(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        assert!(matches!(open(&path), Err(StoreError::NotAStore { .. })));
    }
}
