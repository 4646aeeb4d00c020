//! logtui's own log while the UI owns the terminal: kept in a small ring instead of written
//! to stderr (where it would land on the screen), shown in the status bar, printed at exit.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Lines kept: enough to explain a problem, bounded whatever logs.
const KEEP: usize = 64;
/// Longest line kept, bytes.
const LINE_MAX: usize = 1024;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

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
