//! logtui's own log while the UI owns the terminal: kept in a small ring instead of written
//! to stderr (where it would land on the screen), shown in the status bar, printed at exit.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Lines kept: enough to explain a problem, bounded whatever logs.
const KEEP: usize = 64;
/// Longest line kept, bytes.
const LINE_MAX: usize = 1024;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Moves what the ring holds into the store as logtui's own records (source `internal`,
/// logger `logtui.log`), every half second until `stop` is set, so the UI's own warnings are
/// kept and can be shown (`f source:internal`) rather than lost. Returns the thread.
pub fn to_store(
    intake: crate::intake::Intake,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("logtui-log".into())
        .spawn(move || {
            use std::sync::atomic::Ordering;
            loop {
                let done = stop.load(Ordering::SeqCst);
                let lines = Ring::drain();
                if !lines.is_empty() {
                    let records = lines
                        .into_iter()
                        .map(|l| crate::record::Record::internal(level_of(&l), "logtui.log", l));
                    // A full queue drops these and counts them, as it does any record.
                    intake.try_submit(records.collect());
                }
                if done {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        })
}

/// The level of a line as `tracing_subscriber`'s formatter writes it (`… WARN message`).
fn level_of(line: &str) -> i32 {
    use crate::record::{DEBUG, ERROR, INFO, WARNING};
    let head = line.get(..line.len().min(48)).unwrap_or(line);
    if head.contains("ERROR") {
        ERROR
    } else if head.contains("WARN") {
        WARNING
    } else if head.contains("INFO") {
        INFO
    } else {
        DEBUG
    }
}

/// A `tracing_subscriber` writer: each write is one formatted event.
pub struct Ring;

impl Ring {
    pub fn writer() -> Ring {
        Ring
    }

    /// Takes every line kept so far, oldest first.
    pub fn drain() -> Vec<String> {
        RING.lock()
            .map(|mut r| r.drain(..).collect())
            .unwrap_or_default()
    }

    /// The newest line, if any.
    pub fn last() -> Option<String> {
        RING.lock().ok().and_then(|r| r.back().cloned())
    }
}

impl std::io::Write for Ring {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut end = buf.len().min(LINE_MAX);
        while end > 0 && std::str::from_utf8(&buf[..end]).is_err() {
            end -= 1;
        }
        let line = String::from_utf8_lossy(&buf[..end]).trim_end().to_owned();
        if let Ok(mut r) = RING.lock() {
            if r.len() >= KEEP {
                r.pop_front();
            }
            r.push_back(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
