//! The SQLite store: one buffered persister writes, queries read.
//! Records live in `<db>`, appended in arrival order; the block index in `<db>-index`, kept by its own thread.
//!
//! Layers, each importing only those below it: `config`, `error` and `feed` (leaves: `feed` is
//! the post-commit hub that views and sinks subscribe to); `db` (connections, schema, raw
//! statements); `index` (the block index format and its thread, which publishes to the feed);
//! then `write` and `read`, side by side and never importing each other; `open` and `follow`
//! (which feeds a store another process writes into a `Feed`) compose them.

pub mod config;
mod db;
pub mod error;
pub mod feed;
pub mod follow;
pub mod index;
mod open;
pub mod read;
pub mod write;

pub use config::StoreConfig;
pub use error::StoreError;
pub use feed::{CommittedBatch, Feed, FeedItem, FeedLimits, Subscription};
pub use follow::{FollowMode, Follower, follow};
pub use open::{open, open_read_only};
pub use read::query::{
    Filter, MAX_CHOICES, count, count_in_pieces, for_each, for_each_page_between, run_sql,
};
pub use write::persister::{PersisterHandle, spawn};

// The paths commands, tests and benches have always used.
pub use index::words;
pub use read::{extra, query, state};
pub use write::{alerts, persister};

/// Opening and physical settings, where callers have found them.
pub mod schema {
    pub use super::db::schema::{SCHEMA_VERSION, Tuning};
    pub use super::open::{open, open_read_only, open_tuned};
}

/// Checks the `[store]` settings as the persister will read them, so a bad value is refused
/// when the config is loaded rather than when the store opens.
pub fn check_config(c: &StoreConfig) -> Result<(), StoreError> {
    write::rules::Settings::from_config(c).map(|_| ())
}
