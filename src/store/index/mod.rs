//! The block index: its file format and the thread that builds it after each commit.
//! Stands on `db`; the write side feeds it and the read side consults it.

pub(crate) mod build;
pub(crate) mod format;
mod gate;
pub mod words;

pub use format::index_path;
