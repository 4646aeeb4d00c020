//! The post-commit notification: what the store tells its observer after each commit.
//! A leaf both the index thread (which calls the observer) and the write side can see.

use crate::record::Record;

/// What the persister tells its observer after a commit. Events come in commit order
/// from one thread (the index thread, so a slow observer such as `--echo`
/// does not hold up the writer); a flush is acknowledged only after its events.
#[derive(Debug)]
pub enum StoreEvent<'a> {
    /// Records just committed, with their row ids, in insert order.
    Stored(&'a [(i64, Record)]),
    /// A threshold alert that has just been committed.
    Alert(&'a Record),
}

/// The observer's type.
pub type Observer = Box<dyn FnMut(StoreEvent<'_>) + Send>;

/// Tells `obs` about committed `rows`, then about the alerts among them (by position).
pub(crate) fn notify(obs: &mut Observer, rows: &[(i64, Record)], alerts: &[usize]) {
    obs(StoreEvent::Stored(rows));
    for &i in alerts {
        if let Some((_, a)) = rows.get(i) {
            obs(StoreEvent::Alert(a));
        }
    }
}
