//! The bottom layer: SQLite connections, the store's schema, and raw prepared statements.
//! Everything above (the index, the write side, the read side) stands on this.

pub(crate) mod raw;
pub(crate) mod schema;

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, ffi};

    #[test]
    fn sqlite_keeps_no_allocation_statistics() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(100000));")
            .unwrap();
        let (mut used, mut peak) = (0i64, 0i64);
        // SAFETY: two valid out-parameters; sqlite3_status64 is threadsafe.
        let rc = unsafe {
            ffi::sqlite3_status64(ffi::SQLITE_STATUS_MEMORY_USED, &mut used, &mut peak, 0)
        };
        assert_eq!(rc, ffi::SQLITE_OK);
        assert_eq!(
            (used, peak),
            (0, 0),
            "SQLite counts its allocations: build with LIBSQLITE3_FLAGS from .cargo/config.toml"
        );
    }
}
