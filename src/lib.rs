//! logtui: receives Python logging records from stock handlers, stores every one in SQLite, and shows them.
//! The data path reads in order: `source` → `decode` → `intake` → `store` (and, later, the views).
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cli;
pub mod cmd;
pub mod config;
pub mod decode;
pub mod encode;
pub mod intake;
pub mod limits;
pub mod python;
pub mod record;
pub mod sink;
pub mod source;
pub mod stats;
pub mod store;
pub mod term;
pub mod timefmt;
pub mod tui;
pub mod value;
