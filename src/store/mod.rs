//! The SQLite store: one buffered persister writes, queries read.
//! Records live in `<db>`; the full-text index in `<db>-fts`, kept by its own thread.

pub mod alerts;
pub mod error;
pub mod extra;
pub mod fts;
pub mod persister;
pub mod query;
mod rawstmt;
mod rules;
pub mod schema;
mod writer;

pub use error::StoreError;
pub use persister::{Observer, PersisterHandle, StoreEvent, spawn};
pub use query::{Filter, count, for_each, run_sql};
pub use schema::{open, open_read_only};
