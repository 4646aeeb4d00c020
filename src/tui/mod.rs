//! The interactive terminal UI: panes over the store, fed live by the post-commit feed.
//! The app only routes events and lays out space; each pane, popup and bar owns its state, drawing and keys.

mod app;
pub mod counter;
pub mod detail;
pub mod filter_expr;
pub mod help;
pub mod histogram;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod log;
pub mod pane;
pub mod picker;
pub mod prompt;
pub mod reader;
pub mod sgr;
pub mod status;
pub mod terminal;
pub mod text;
pub mod theme;

pub use app::App;

use crate::store::Subscription;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// What can stop the UI from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, std::io::Error),
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Whether an action was a component's to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Yes,
    No,
}

pub use crate::config::TimeMode;

/// What a pane's keys may use: the reader to ask for pages, and app-wide settings.
/// Fetches a job's recent history into the store (Redis streams, in `logtui`): called with the
/// job when the picker points a pane at it; must not block.
pub type JobHistory = Box<dyn Fn(&str) + Send>;

/// Jobs whose history one session asks for at most: each is a bounded read, and a person
/// opens a few.
pub const MAX_HISTORIES: usize = 1000;

pub struct Ctx<'a> {
    pub reader: &'a reader::Reader,
    pub time_step: f64,
}

/// Frames are drawn at most this often: bursts of records coalesce into one frame.
const FRAME: Duration = Duration::from_millis(33);

/// How often the loop looks for the reader's answer while one is awaited.
const POLL_PAGES: Duration = Duration::from_millis(2);

/// A frame that answers a key (or a page the key asked for) is drawn at once, but no sooner
/// than this after the last, so a held key cannot draw faster than a screen shows.
const ANSWER: Duration = Duration::from_millis(8);

/// Runs the UI until `q` or a signal: reads events, feeds the panes, draws at most 30 frames a
/// second. The terminal is restored when this returns, however it returns.
pub fn run(mut app: App, sub: &Subscription, stop: &Arc<AtomicBool>) -> Result<(), TuiError> {
    let mut session = terminal::Session::enter()?;
    let inputs = input::spawn().map_err(|e| TuiError::Thread("terminal input", e))?;
    let mut dirty = true;
    // Set by a key or a reader's answer: the person is waiting for this frame.
    let mut urgent = false;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_tick = Instant::now();
    while !app.quit && !stop.load(Ordering::SeqCst) {
        dirty |= app.on_feed(sub);
        if app.on_replies() {
            dirty = true;
            urgent = true;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            app.status.tick();
            app.on_theme_files();
            last_tick = Instant::now();
            dirty = true;
        }
        let due = if urgent { ANSWER } else { FRAME };
        if dirty && last_draw.elapsed() >= due {
            session.terminal.draw(|f| app.draw(f))?;
            last_draw = Instant::now();
            dirty = false;
            urgent = false;
        }
        let wait = if dirty {
            due.saturating_sub(last_draw.elapsed())
        } else if app.awaiting_pages() {
            // A page someone asked for is being read: look for it often, so its frame is
            // not held back by the wait for input.
            POLL_PAGES
        } else {
            Duration::from_millis(50)
        };
        let first = match inputs.rx.recv_timeout(wait) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => continue,
            // The input thread ended without saying why: treat it as the terminal gone.
            Err(RecvTimeoutError::Disconnected) => input::Input::Hangup,
        };
        // Everything already queued, so a held key or a paste costs one frame.
        let mut next = Some(first);
        while let Some(i) = next.take() {
            match i {
                input::Input::Event(ev) => {
                    app.on_event(ev);
                    dirty = true;
                    urgent = true;
                }
                // Nobody sees the screen now: stop as `q` would, so the records are kept.
                input::Input::Hangup => app.quit = true,
                input::Input::Failed(e) => return Err(TuiError::Terminal(e)),
            }
            if app.quit {
                break;
            }
            next = inputs.rx.try_recv().ok();
        }
    }
    drop(inputs);
    drop(session);
    Ok(())
}
