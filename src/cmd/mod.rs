//! One module per subcommand; each takes the effective config and returns at the binary's edge.
//! Errors are `anyhow` here: one clear sentence for the user, details in the log.

pub mod channels;
pub mod config;
pub mod db_path;
pub mod demo;
pub mod docs;
pub mod emit;
pub mod query;
pub mod record;
pub mod ui;
