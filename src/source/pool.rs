//! A few decoder threads, shared by every listener, for frames, datagrams and bodies too big to
//! decode on the two async workers: a 16 MiB frame then costs its own connection, not everyone's.

use crate::source::{Phase, Shutdown};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{Semaphore, oneshot};

/// Payloads larger than this are decoded on the pool. Below it a decode takes tens of
/// microseconds (the pickle fast path runs at hundreds of MB/s, and the work budgets bound the
/// slow paths per record), less than the hop to another thread and back is worth; typical log
/// records are well under 1 KiB, so the fast path never leaves the async worker. 16 KiB also sits
/// below the largest UDP datagram, so one big datagram cannot stall the UDP listener's worker either.
pub const OFFLOAD_BYTES: usize = 16 * 1024;

type Job = Box<dyn FnOnce() + Send>;

/// Dedicated threads rather than tokio's blocking pool: an abandoned decode keeps running on
/// its thread, and plain threads do not hold up the runtime (or the process) when it shuts down.
#[derive(Clone)]
pub struct DecodePool {
    /// One permit per thread: a job is only queued when a thread is free to start it, so
    /// what waits for the pool is the connection (backpressure), never a growing queue.
    slots: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
}

/// Why a pooled decode gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// The drain time ended first; the decode, if started, finishes unobserved.
    Stopped,
    /// The decoder panicked (a bug): the payload costs only itself.
    Failed,
}

impl DecodePool {
    /// A pool of `threads` decoder threads (at least one).
    pub fn new(threads: usize) -> DecodePool {
        let threads = threads.max(1);
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("logtui-decode-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, never while running one.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job drops its reply sender; the waiter sees `Failed`.
                            Ok(job) => drop(std::panic::catch_unwind(AssertUnwindSafe(job))),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot start decoder thread {i}: {e}");
            }
        }
        DecodePool {
            slots: Arc::new(Semaphore::new(threads)),
            jobs,
        }
    }

    /// One thread per core the process may use.
    pub fn per_core() -> DecodePool {
        DecodePool::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Runs `f` on a pool thread and waits for its result, but not past [`Phase::Stop`].
    pub async fn run<T: Send + 'static>(
        &self,
        shutdown: &mut Shutdown,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Abandoned> {
        let permit = tokio::select! {
            biased;
            p = self.slots.clone().acquire_owned() => p.map_err(|_| Abandoned::Failed)?,
            _ = shutdown.reached(Phase::Stop) => return Err(Abandoned::Stopped),
        };
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let out = f();
            // The thread is free again before the waiter hears back.
            drop(permit);
            let _ = tx.send(out);
        });
        self.jobs.send(job).map_err(|_| Abandoned::Failed)?;
        tokio::select! {
            biased;
            r = rx => r.map_err(|_| Abandoned::Failed),
            _ = shutdown.reached(Phase::Stop) => Err(Abandoned::Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ShutdownController;

    #[tokio::test]
    async fn runs_jobs_survives_panics_and_abandons_on_stop() {
        let pool = DecodePool::new(1);
        let ctl = ShutdownController::new();
        let mut sd = ctl.handle();
        assert_eq!(pool.run(&mut sd, || 2 + 2).await, Ok(4));
        let failed: Result<(), _> = pool.run(&mut sd, || panic!("decoder bug")).await;
        assert_eq!(failed, Err(Abandoned::Failed));
        assert_eq!(pool.run(&mut sd, || 5).await, Ok(5), "the thread lives on");
        // A job that never finishes by itself is abandoned at Stop, not waited for.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let stuck = {
            let pool = pool.clone();
            let mut sd = ctl.handle();
            tokio::spawn(async move { pool.run(&mut sd, move || wait.recv().ok()).await })
        };
        tokio::task::yield_now().await;
        ctl.set(Phase::Stop);
        assert_eq!(stuck.await.unwrap(), Err(Abandoned::Stopped));
        drop(release);
    }
}
