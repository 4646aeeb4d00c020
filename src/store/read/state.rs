//! Reading what sources keep with their records (`source_state`, schema 3), and the store's id.
//! The persister writes these pairs in the transaction that commits the records they cover.

use crate::store::db::schema::STORE_ID_KEY;
use crate::store::error::StoreError;
use rusqlite::{Connection, OptionalExtension};

fn fail(conn: &Connection, op: &str, e: rusqlite::Error) -> StoreError {
    StoreError::sqlite(conn.path().unwrap_or_default(), op, e)
}

/// The value kept for `key`, if any.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT value FROM source_state WHERE key = ?1")
        .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
        .map_err(|e| fail(conn, "read the source state", e))
}

/// Every pair whose key starts with `prefix`, in key order.
pub fn with_prefix(conn: &Connection, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
    // substr, not LIKE: a key may hold `%` or `_`.
    conn.prepare_cached(
        "SELECT key, value FROM source_state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
    )
    .and_then(|mut st| {
        st.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    })
    .map_err(|e| fail(conn, "read the source state", e))
}

/// The store's random id (16 hex digits), made once when the file got `source_state`: two
/// stores fed from the same place tell their positions apart by it.
pub fn store_id(conn: &Connection) -> Result<String, StoreError> {
    get(conn, STORE_ID_KEY)?.ok_or_else(|| {
        fail(
            conn,
            "read the store id",
            rusqlite::Error::QueryReturnedNoRows,
        )
    })
}
