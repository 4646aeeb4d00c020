//! The SQLite store: one buffered persister writes, queries read.
