//! The terminal while the UI owns it: raw mode, the alternate screen, mouse capture and
//! bracketed paste, switched on by [`Session::enter`] and off on every way out.
//!
//! The way out is always [`Session`]'s `Drop` (normal quit, an error returned through `?`,
//! SIGTERM/SIGINT/SIGHUP, which only set a flag the event loop reads) or the panic hook
//! installed here, which restores before the panic message prints. ratatui's own `restore()`
//! leaves mouse capture and bracketed paste on, so this does each step itself.

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{IsTerminal, Stdout, stdout};
use std::mem::ManuallyDrop;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the terminal is in the UI's modes now, so restoring twice (the panic hook, then
/// `Drop` while unwinding) writes the sequences once.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The terminal in the UI's modes; dropping it puts the terminal back.
pub struct Session {
    /// Never dropped: ratatui's `Drop` only shows the cursor again, which [`restore`] does,
    /// and on a terminal that hung up it prints "Failed to show the cursor" onto stderr.
    pub terminal: ManuallyDrop<Terminal<CrosstermBackend<Stdout>>>,
}

impl Session {
    /// Switches the terminal into the UI's modes. Anything that can fail before the UI is
    /// usable (the store, the ports) must have been done already: errors printed after this
    /// would land on the alternate screen and vanish.
    pub fn enter() -> std::io::Result<Session> {
        if !is_terminal() {
            return Err(std::io::Error::other(NOT_A_TERMINAL));
        }
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = stdout();
        if let Err(e) = execute!(
            out,
            EnterAlternateScreen,
            EnableMouseCapture,
            EnableBracketedPaste,
            cursor::Hide
        ) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(Session {
                terminal: ManuallyDrop::new(terminal),
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// Why the UI cannot start without a terminal, and what to run instead.
pub const NOT_A_TERMINAL: &str = "the UI needs a terminal on standard input and output; for headless recording use `logtui record`";

/// Whether standard input and output are both a terminal, as the UI needs.
pub fn is_terminal() -> bool {
    std::io::stdin().is_terminal() && stdout().is_terminal()
}

/// Puts the terminal back: each step is tried even when an earlier one fails.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = stdout();
    let _ = execute!(out, DisableBracketedPaste);
    let _ = execute!(out, DisableMouseCapture);
    let _ = execute!(out, LeaveAlternateScreen);
    let _ = execute!(out, cursor::Show);
    let _ = disable_raw_mode();
}

/// SIGTERM, SIGINT and SIGHUP, turned into a flag the event loop polls; the loop then ends
/// normally and `Session`'s `Drop` restores the terminal.
pub fn watch_signals() -> std::io::Result<std::sync::Arc<AtomicBool>> {
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let set = flag.clone();
    // Built here so a failure to watch is an error before the UI starts.
    let (term, int, hup) = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    std::thread::Builder::new()
        .name("logtui-signals".into())
        .spawn(move || {
            let (mut term, mut int, mut hup) = (term, int, hup);
            rt.block_on(async {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hup.recv() => {}
                }
            });
            set.store(true, Ordering::SeqCst);
        })?;
    Ok(flag)
}
