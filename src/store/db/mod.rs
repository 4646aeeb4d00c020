//! The bottom layer: SQLite connections, the store's schema, and raw prepared statements.
//! Everything above (the index, the write side, the read side) stands on this.

pub(crate) mod raw;
pub(crate) mod schema;
