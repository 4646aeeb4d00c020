//! The terminal's input, read on its own thread and handed to the event loop over a channel,
//! with the terminal hanging up (its window closed, its SSH session gone) reported as such.
//!
//! Why a thread and our own `poll`: crossterm 0.29 reads the terminal until it would block,
//! and a hung-up terminal never blocks: each read returns 0 bytes, so a read made after the
//! hang-up spins forever at full CPU inside crossterm (seen with tmux's kill-session). So this
//! waits for input itself, sees POLLHUP before crossterm reads, and keeps whatever crossterm
//! might still do off the thread that must shut the recorder down.

use crossterm::event::Event;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

/// What the input thread hands over.
pub enum Input {
    Event(Event),
    /// The terminal is gone: nothing more will be read and nothing drawn will be seen.
    Hangup,
    Failed(std::io::Error),
}

/// Events queued at most: a paste or a held key is a few hundred; past that the UI is not
/// keeping up and older keys would only replay a stale intention.
const QUEUE: usize = 1024;

/// How often the thread looks up from waiting, to notice that the UI has gone.
const LOOK_UP: Duration = Duration::from_millis(200);

/// The input thread's receiving end; dropping it ends the thread at its next look up.
pub struct Inputs {
    pub rx: Receiver<Input>,
    done: Arc<AtomicBool>,
}

impl Drop for Inputs {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Starts the input thread. It ends when the [`Inputs`] is dropped or the terminal hangs up.
pub fn spawn() -> std::io::Result<Inputs> {
    let (tx, rx) = sync_channel(QUEUE);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::Builder::new()
        .name("logtui-input".into())
        .spawn(move || read_loop(&tx, &d))?;
    Ok(Inputs { rx, done })
}

fn read_loop(tx: &SyncSender<Input>, done: &AtomicBool) {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdin = std::io::stdin();
    let timeout = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: LOOK_UP.as_nanos() as i64,
    };
    while !done.load(Ordering::SeqCst) {
        let fd = stdin.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                let _ = tx.send(Input::Failed(e.into()));
                return;
            }
        }
        let got = fds[0].revents();
        if got.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
            let _ = tx.send(Input::Hangup);
            return;
        }
        if !got.contains(PollFlags::IN) {
            continue;
        }
        loop {
            match crossterm::event::poll(Duration::ZERO) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let _ = tx.send(Input::Failed(e));
                    return;
                }
            }
            let ev = match crossterm::event::read() {
                Ok(ev) => ev,
                Err(e) => {
                    let _ = tx.send(Input::Failed(e));
                    return;
                }
            };
            if tx.send(Input::Event(ev)).is_err() {
                return;
            }
        }
    }
}
