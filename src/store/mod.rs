//! The SQLite store: one buffered persister writes, queries read.
//! Records live in `<db>`, appended in arrival order; the block index in `<db>-index`, kept by its own thread.

pub mod alerts;
mod checkpoint;
mod db;
pub mod error;
pub mod extra;
pub mod index;
pub mod persister;
pub mod query;
mod rules;
pub mod schema;
pub mod words;
mod writer;

pub use error::StoreError;
pub use persister::{Observer, PersisterHandle, StoreEvent, spawn};
pub use query::{Filter, count, for_each, run_sql};
pub use schema::{open, open_read_only};
