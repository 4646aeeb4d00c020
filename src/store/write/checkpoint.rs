//! Background WAL checkpoints for the store and its index file: a thread that copies committed
//! pages home every 200 ms, so the fsyncs that end each checkpoint never stall a busy thread.

use crate::store::error::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::mpsc::{RecvTimeoutError, SyncSender};
use std::time::Duration;

/// How often committed WAL pages are copied into the database files.
const EVERY: Duration = Duration::from_millis(200);

/// The running checkpoint thread; dropping it runs one last round and stops it.
pub(crate) struct Checkpointer {
    stop: Option<SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts checkpointing the databases at `paths`, which must exist.
pub(crate) fn spawn(paths: &[PathBuf]) -> Result<Checkpointer, StoreError> {
    let mut conns = Vec::new();
    for p in paths {
        let c = Connection::open_with_flags(
            p,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::sqlite(p, "open for checkpoints", e))?;
        c.busy_timeout(Duration::from_secs(5))
            .map_err(|e| StoreError::sqlite(p, "set busy timeout", e))?;
        conns.push((p.clone(), c));
    }
    let (stop, rx) = std::sync::mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("logtui-ckpt".into())
        .spawn(move || {
            let mut warned = false;
            loop {
                let last = !matches!(rx.recv_timeout(EVERY), Err(RecvTimeoutError::Timeout));
                for (p, c) in &conns {
                    if let Err(e) = checkpoint(c)
                        && !std::mem::replace(&mut warned, true) {
                            tracing::warn!(path = %p.display(), error = %e,
                                "background checkpoint failed; the writers' own checkpoints take over");
                        }
                }
                if last {
                    break;
                }
            }
        })
        .map_err(StoreError::Thread)?;
    Ok(Checkpointer {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// A passive checkpoint never waits for a writer; it copies what is committed.
fn checkpoint(c: &Connection) -> rusqlite::Result<()> {
    c.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}
