//! A bound in bytes on what is queued between two threads, beside the channel's bound in slots:
//! the sender reserves a message's bytes before sending and the receiver releases them once freed.

use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes in flight, at most `limit` (a single message larger than the limit is let through
/// alone, so nothing waits forever).
pub(crate) struct ByteGate {
    state: Mutex<Gate>,
    freed: Condvar,
    limit: usize,
}

struct Gate {
    held: usize,
    /// The receiver has gone: nothing will be released, so nobody waits.
    closed: bool,
}

impl ByteGate {
    pub fn new(limit: usize) -> ByteGate {
        ByteGate {
            state: Mutex::new(Gate {
                held: 0,
                closed: false,
            }),
            freed: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// Reserves `n` bytes, waiting while they would take what is held past the limit.
    pub fn reserve(&self, n: usize) {
        let g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut g = self
            .freed
            .wait_while(g, |g| !self.admits(g, n))
            .unwrap_or_else(PoisonError::into_inner);
        g.held += n;
    }

    /// Reserves `n` bytes if that needs no wait; returns whether it did.
    #[cfg(test)]
    pub fn try_reserve(&self, n: usize) -> bool {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ok = self.admits(&g, n);
        if ok {
            g.held += n;
        }
        ok
    }

    fn admits(&self, g: &Gate, n: usize) -> bool {
        g.closed || g.held == 0 || g.held.saturating_add(n) <= self.limit
    }

    /// Gives back `n` reserved bytes.
    pub fn release(&self, n: usize) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.held = g.held.saturating_sub(n);
        drop(g);
        self.freed.notify_all();
    }

    /// The receiver will release nothing more: stop holding anyone back.
    pub fn close(&self) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.closed = true;
        g.held = 0;
        drop(g);
        self.freed.notify_all();
    }

    /// Bytes reserved and not yet released.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn holds_back_what_would_pass_the_limit_until_released() {
        let g = ByteGate::new(100);
        assert!(g.try_reserve(80));
        assert!(!g.try_reserve(50), "80 + 50 is past the limit of 100");
        assert!(g.try_reserve(20));
        g.release(80);
        assert!(g.try_reserve(50));
        assert_eq!(g.held(), 70);
    }

    #[test]
    fn one_message_larger_than_the_limit_passes_alone() {
        let g = ByteGate::new(100);
        assert!(g.try_reserve(1000));
        assert!(!g.try_reserve(1));
        g.release(1000);
        assert!(g.try_reserve(1));
    }

    #[test]
    fn a_waiting_sender_goes_on_when_bytes_are_released_or_the_receiver_closes() {
        for close in [false, true] {
            let g = Arc::new(ByteGate::new(100));
            g.reserve(90);
            let g2 = g.clone();
            let sender = std::thread::spawn(move || g2.reserve(50));
            if close {
                g.close();
            } else {
                g.release(90);
            }
            sender.join().unwrap();
            assert!(close || g.held() == 50);
        }
    }
}
