//! The SQLite store: one buffered persister writes, queries read.
//! Records live in `<db>`, appended in arrival order; the block index in `<db>-index`, kept by its own thread.

pub mod alerts;
mod checkpoint;
pub mod error;
pub mod extra;
pub mod index;
pub mod persister;
pub mod query;
mod rawstmt;
mod rules;
pub mod schema;
pub mod words;
mod writer;

pub use error::StoreError;
pub use persister::{Observer, PersisterHandle, StoreEvent, spawn};
pub use query::{Filter, count, for_each, run_sql};
pub use schema::{open, open_read_only};

/// Checks the `[store]` settings as the persister will read them, so a bad value is refused
/// when the config is loaded rather than when the store opens.
pub fn check_config(c: &crate::config::StoreConfig) -> Result<(), StoreError> {
    rules::Settings::from_config(c).map(|_| ())
}
