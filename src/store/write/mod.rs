//! The write side: the persister thread and what it does on each flush (inserts, alerts,
//! ignore rules, retention, checkpoints). Stands on `db` and the index; never on the read side.

pub mod alerts;
mod checkpoint;
pub mod persister;
pub(super) mod rules;
mod writer;
