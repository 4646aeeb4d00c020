//! The read side: filtered, streamed records, counts and read-only SQL over the store.
//! Stands on `db` and the block index; never on the write side.

pub mod channels;
pub mod extra;
pub(crate) mod filter;
pub(crate) mod functions;
pub mod histogram;
pub mod query;
pub mod state;
