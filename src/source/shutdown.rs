//! Shutdown as one small named thing passed to every listener task (after mini-redis).
//! Two phases: `Draining` stops accepting new connections; `Stop` ends open ones too.

use tokio::sync::{mpsc, watch};

/// Where the process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// Stop accepting; open connections may keep sending until EOF.
    Draining,
    /// Drain time is over: close everything now.
    Stop,
}

/// The controller's side: moves the phase forward and waits for tasks to finish.
pub struct ShutdownController {
    phase: watch::Sender<Phase>,
    alive_tx: Option<mpsc::Sender<()>>,
    alive_rx: mpsc::Receiver<()>,
}

/// A task's side: watch the phase, and hold the guard while running.
#[derive(Clone)]
pub struct Shutdown {
    phase: watch::Receiver<Phase>,
    /// Dropped when the task ends; the controller waits for every clone to go.
    _alive: mpsc::Sender<()>,
}

impl ShutdownController {
    pub fn new() -> ShutdownController {
        let (phase, _) = watch::channel(Phase::Running);
        let (alive_tx, alive_rx) = mpsc::channel(1);
        ShutdownController {
            phase,
            alive_tx: Some(alive_tx),
            alive_rx,
        }
    }

    /// A handle for one more task.
    pub fn handle(&self) -> Shutdown {
        Shutdown {
            phase: self.phase.subscribe(),
            _alive: self
                .alive_tx
                .clone()
                .expect("handles are only made before wait()"),
        }
    }

    pub fn set(&self, p: Phase) {
        self.phase.send_if_modified(|cur| {
            let advance = p > *cur;
            if advance {
                *cur = p;
            }
            advance
        });
    }

    /// Waits until every task holding a handle has finished.
    pub async fn wait(&mut self) {
        self.alive_tx = None;
        let _ = self.alive_rx.recv().await;
    }
}

impl Default for ShutdownController {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Resolves once the phase is at least `p`.
    pub async fn reached(&mut self, p: Phase) {
        let _ = self.phase.wait_for(|cur| *cur >= p).await;
    }
}
