//! Sinks: the `[[route]]` forwarders, consumers of the store's post-commit feed that send matching
//! records on to Redis, a SocketHandler peer or a JSON-lines file, each behind its own bounded queue.
//!
//! The data path ends here: source → intake → store → feed → dispatcher → one queue per sink →
//! that sink's thread → its target. A target that is down never holds ingest up: the dispatcher
//! only matches and pushes, a full queue drops (counted), and the sink's thread reconnects with
//! capped, jittered backoff. `drop = true` routes are not sinks: they act before the store
//! (see `StoreConfig::drop_rules`).
//!
//! Loop safety: a record forwarded to a Redis channel must never come back in through logtui's
//! own Redis source, or one record would circle for ever. The source skips every channel
//! [`forwarded_channels`] names.

pub mod dispatch;
pub mod jsonl;
pub mod queue;
pub mod redis;
pub mod tcp;

pub use dispatch::{Routes, Sinks};

use crate::config::Config;
use crate::config::route::Action;
use crate::record::Record;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::time::Duration;

/// The Redis channels that `[[route]]` rules publish to. logtui's Redis source must not consume
/// them (a pattern such as `logs:*` covers `logs:alerts`): whatever it read there would be
/// stored and forwarded again. Compared exactly, as channel names.
pub fn forwarded_channels(cfg: &Config) -> Vec<String> {
    let mut out: Vec<String> = cfg
        .route
        .iter()
        .filter_map(|r| match r.action() {
            Ok(Action::Redis(x)) => Some(x.channel.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Why a target could not take records; one sentence, shown as the sink's last error.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot connect to {target}: {why}")]
    Connect { target: String, why: String },
    #[error("sending to {target} failed: {why}")]
    Send { target: String, why: String },
}

/// Where a sink sends: connect, send a batch, and forget a broken connection.
pub trait Target: Send {
    /// What it is, for status lines: `redis logs:alerts`, `tcp 10.0.0.5:9020`, `jsonl -`.
    fn describe(&self) -> String;
    fn is_connected(&self) -> bool;
    /// Opens the connection (or file).
    fn connect(&mut self) -> Result<(), SinkError>;
    /// Sends a batch, in order. On an error the connection is dropped and the whole batch is
    /// sent again after reconnecting (at least once: a peer may see part of it twice).
    fn send(&mut self, batch: &[(i64, Record)]) -> Result<(), SinkError>;
    /// Closes the connection, after an error or at the end.
    fn disconnect(&mut self);
}

/// What a sink is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Not connected yet: nothing to send so far, or the first attempt is under way.
    Starting = 0,
    Connected = 1,
    /// The last attempt failed; the next one is after the backoff.
    Reconnecting = 2,
    /// Stopped: drained or out of time at shutdown.
    Stopped = 3,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Connected => "connected",
            State::Reconnecting => "reconnecting",
            State::Stopped => "stopped",
        }
    }

    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Connected,
            2 => State::Reconnecting,
            3 => State::Stopped,
            _ => State::Starting,
        }
    }
}

/// One sink's counters and state, shared with the status bar, the stats lines and the summary.
#[derive(Debug)]
pub struct SinkStatus {
    pub name: String,
    pub target: String,
    state: AtomicU8,
    /// Records the route matched (queued or dropped).
    pub matched: AtomicU64,
    /// Records the target took.
    pub sent: AtomicU64,
    /// Records still queued when the drain time at shutdown ran out.
    pub unsent: AtomicU64,
    /// Connection attempts that failed, and sends that broke a connection.
    pub failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl SinkStatus {
    pub fn new(name: String, target: String) -> SinkStatus {
        SinkStatus {
            name,
            target,
            state: AtomicU8::new(State::Starting as u8),
            matched: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            unsent: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Relaxed))
    }

    pub(crate) fn set_state(&self, s: State) {
        self.state.store(s as u8, Relaxed);
    }

    pub(crate) fn failed(&self, e: &SinkError) {
        self.failures.fetch_add(1, Relaxed);
        self.set_state(State::Reconnecting);
        let text = e.to_string();
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if last.as_deref() != Some(text.as_str()) {
            tracing::warn!(route = %self.name, "{text}; retrying with backoff");
        }
        *last = Some(text);
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Capped exponential backoff with ±25 % jitter, so many logtuis that lost one central peer
/// do not all come back in the same millisecond.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    seed: u64,
}

/// The first retry comes after this long.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// Retries are never further apart than this: a target that comes back is used within seconds.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

impl Default for Backoff {
    fn default() -> Self {
        // Seeded per sink from the std hasher's random keys: no crate needed for jitter.
        use std::hash::{BuildHasher, RandomState};
        Backoff {
            next: BACKOFF_START,
            seed: RandomState::new().hash_one(0u8) | 1,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt; each call doubles the base, up to [`BACKOFF_MAX`].
    pub fn next_wait(&mut self) -> Duration {
        // xorshift64: a cheap, well-spread sequence for jitter.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64; // 0..1
        let base = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        base.mul_f64(0.75 + unit / 2.0).min(BACKOFF_MAX)
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let mut b = Backoff::default();
        let waits: Vec<Duration> = (0..12).map(|_| b.next_wait()).collect();
        assert!(waits[0] >= BACKOFF_START.mul_f64(0.75) && waits[0] <= BACKOFF_START.mul_f64(1.25));
        assert!(waits.iter().all(|w| *w <= BACKOFF_MAX));
        assert!(waits[11] >= BACKOFF_MAX.mul_f64(0.75));
        b.reset();
        assert!(b.next_wait() <= BACKOFF_START.mul_f64(1.25));
    }

    #[test]
    fn forwarded_channels_are_the_redis_routes_channels() {
        let cfg: Config = toml::from_str(
            "[[route]]\nredis = { url = \"redis://h\", channel = \"logs:alerts\" }\n\
             [[route]]\ntcp = \"h:1\"\n\
             [[route]]\nredis = { url = \"redis://other\", channel = \"logs:alerts\" }\n\
             [[route]]\nredis = { url = \"redis://h\", channel = \"audit\" }\n",
        )
        .unwrap();
        assert_eq!(forwarded_channels(&cfg), ["audit", "logs:alerts"]);
        assert!(forwarded_channels(&Config::default()).is_empty());
    }
}
