//! Per-source counters shared by the listeners, the persister and the summaries.
//! Every record is counted once as received and then once as stored, rejected, dropped or ignored.

use crate::record::SourceKind;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

/// Counters for one source kind.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Records (or frames/bodies that failed before becoming records) that arrived.
    pub received: AtomicU64,
    /// Records committed to the store.
    pub stored: AtomicU64,
    /// Frames, datagrams or bodies that failed to decode.
    pub rejected: AtomicU64,
    /// Records lost because the queue to the store was full.
    pub dropped: AtomicU64,
    /// Records skipped by the ignore rules.
    pub ignored: AtomicU64,
    /// Records stored with their template unformatted because formatting would have cost more
    /// than their work budget (marked `format_refused` in their extras); also counted as received.
    pub format_refused: AtomicU64,
}

/// A point-in-time copy of one source's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub stored: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub ignored: u64,
    pub format_refused: u64,
}

/// Connection counters for one listener (TCP or HTTP).
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections being served now.
    pub open: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub shed: AtomicU64,
    /// New connections refused because their peer was at its share and none of its own was idle
    /// long enough to give way: served as already shed, so they only finish what they sent.
    pub refused: AtomicU64,
    /// Big decodes still running when the drain time ended; their records are counted as dropped.
    pub abandoned: AtomicU64,
}

/// Where the Redis source's link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisState {
    /// No Redis configured (`--redis off`), or the demo.
    Off = 0,
    /// First connection attempt under way.
    Connecting = 1,
    /// Connected, and the server confirmed every subscription.
    Subscribed = 2,
    /// The link was lost (or never came up): retrying with back-off.
    Reconnecting = 3,
}

impl RedisState {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisState::Off => "off",
            RedisState::Connecting => "connecting",
            RedisState::Subscribed => "subscribed",
            RedisState::Reconnecting => "reconnecting",
        }
    }
}

/// The Redis source's link state and counters, besides the per-source record counts.
#[derive(Debug, Default)]
pub struct RedisStats {
    state: AtomicU8,
    /// Pub/sub messages that arrived (both copies of a double publish count).
    pub messages: AtomicU64,
    /// Links lost and rebuilt.
    pub reconnects: AtomicU64,
    /// Gap records stored: each is a span when messages could not arrive.
    pub gaps: AtomicU64,
    /// Messages dropped because logtui's queue of unread messages was full.
    pub dropped: AtomicU64,
    /// Records recovered from streams after a gap (pub/sub had not delivered them).
    pub recovered: AtomicU64,
}

impl RedisStats {
    pub fn state(&self) -> RedisState {
        match self.state.load(Relaxed) {
            1 => RedisState::Connecting,
            2 => RedisState::Subscribed,
            3 => RedisState::Reconnecting,
            _ => RedisState::Off,
        }
    }

    pub fn set_state(&self, s: RedisState) {
        self.state.store(s as u8, Relaxed);
    }

    /// `subscribed, 1200 messages, 1 reconnects, 1 gaps, 0 dropped, 3 recovered`.
    pub fn line(&self) -> String {
        format!(
            "{}, {} messages, {} reconnects, {} gaps, {} dropped, {} recovered",
            self.state().as_str(),
            self.messages.load(Relaxed),
            self.reconnects.load(Relaxed),
            self.gaps.load(Relaxed),
            self.dropped.load(Relaxed),
            self.recovered.load(Relaxed)
        )
    }
}

/// One Redis list consumer's counters. Positions count the values ever moved into its
/// processing list; those below `committed` are stored.
#[derive(Debug, Default)]
pub struct ListStats {
    /// The list key, as `--list-key` named it.
    pub key: String,
    /// Values stored by this run.
    pub consumed: AtomicU64,
    /// Position after the last value taken from the list (or read back from the processing list).
    pub moved: AtomicU64,
    /// Position after the last value committed to the store.
    pub committed: AtomicU64,
    /// What the consumer is doing: `connecting`, `consuming`, `reconnecting in 2s: …`.
    pub state: std::sync::Mutex<String>,
}

impl ListStats {
    /// Values taken from the list and not yet committed.
    pub fn pending(&self) -> u64 {
        self.moved
            .load(Relaxed)
            .saturating_sub(self.committed.load(Relaxed))
    }

    pub fn set_state(&self, s: impl Into<String>) {
        if let Ok(mut st) = self.state.lock() {
            *st = s.into();
        }
    }

    /// `KEY consumed N, pending N, STATE`.
    pub fn line(&self) -> String {
        let state = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        format!(
            "list {} consumed {} pending {} ({state})",
            self.key,
            self.consumed.load(Relaxed),
            self.pending()
        )
    }
}

/// All sources' counters. Shared behind an `Arc`.
#[derive(Debug, Default)]
pub struct Stats {
    sources: [SourceStats; 5],
    conns: [ConnStats; 5],
    /// The Redis source's link; stays `Off` unless a source sets it.
    pub redis: RedisStats,
    /// One per Redis list consumed, in `--list-key` order.
    lists: std::sync::Mutex<Vec<std::sync::Arc<ListStats>>>,
}

impl Stats {
    pub fn of(&self, s: SourceKind) -> &SourceStats {
        &self.sources[s as usize]
    }

    /// The connection counters of a listener.
    pub fn conns(&self, s: SourceKind) -> &ConnStats {
        &self.conns[s as usize]
    }

    pub fn add_received(&self, s: SourceKind, n: u64) {
        self.of(s).received.fetch_add(n, Relaxed);
    }
    pub fn add_stored(&self, s: SourceKind, n: u64) {
        self.of(s).stored.fetch_add(n, Relaxed);
    }
    pub fn add_rejected(&self, s: SourceKind, n: u64) {
        self.of(s).rejected.fetch_add(n, Relaxed);
    }
    pub fn add_dropped(&self, s: SourceKind, n: u64) {
        self.of(s).dropped.fetch_add(n, Relaxed);
    }
    pub fn add_ignored(&self, s: SourceKind, n: u64) {
        self.of(s).ignored.fetch_add(n, Relaxed);
    }
    pub fn add_format_refused(&self, s: SourceKind, n: u64) {
        self.of(s).format_refused.fetch_add(n, Relaxed);
    }

    /// Registers the counters of one more Redis list consumer.
    pub fn add_list(&self, key: &str) -> std::sync::Arc<ListStats> {
        let l = std::sync::Arc::new(ListStats {
            key: key.to_owned(),
            ..ListStats::default()
        });
        if let Ok(mut v) = self.lists.lock() {
            v.push(l.clone());
        }
        l
    }

    /// Every Redis list consumer's counters.
    pub fn lists(&self) -> Vec<std::sync::Arc<ListStats>> {
        self.lists.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn snapshot(&self, s: SourceKind) -> Counts {
        let c = self.of(s);
        Counts {
            received: c.received.load(Relaxed),
            stored: c.stored.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            ignored: c.ignored.load(Relaxed),
            format_refused: c.format_refused.load(Relaxed),
        }
    }

    /// Every source's counts together except logtui's own records (alerts, its log under the
    /// UI): what senders sent, as the UI's status bar and exit line report it.
    pub fn senders(&self) -> Counts {
        let mut t = Counts::default();
        for k in SourceKind::ALL
            .into_iter()
            .filter(|k| *k != SourceKind::Internal)
        {
            let c = self.snapshot(k);
            t.received += c.received;
            t.stored += c.stored;
            t.rejected += c.rejected;
            t.dropped += c.dropped;
            t.ignored += c.ignored;
            t.format_refused += c.format_refused;
        }
        t
    }

    /// Records received but not yet stored, rejected, dropped or ignored: those still in
    /// the queue or the persister's buffer (what an exit without draining abandons).
    pub fn in_flight(&self) -> u64 {
        SourceKind::ALL
            .into_iter()
            .map(|s| {
                let c = self.snapshot(s);
                c.received
                    .saturating_sub(c.stored + c.rejected + c.dropped + c.ignored)
            })
            .sum()
    }

    /// One line per source that saw anything, for summaries on stderr.
    pub fn summary_lines(&self) -> Vec<String> {
        SourceKind::ALL
            .into_iter()
            .map(|s| (s, self.snapshot(s)))
            .filter(|(_, c)| *c != Counts::default())
            .map(|(s, c)| {
                format!(
                    "{:<8} received {:>9}  stored {:>9}  rejected {:>6}  dropped {:>6}  ignored {:>6}  unformatted {:>6}",
                    s.as_str(),
                    c.received,
                    c.stored,
                    c.rejected,
                    c.dropped,
                    c.ignored,
                    c.format_refused
                )
            })
            .chain(self.conn_line())
            .chain(
                (self.redis.state() != RedisState::Off)
                    .then(|| format!("redis    {}", self.redis.line())),
            )
            .chain(self.lists().iter().map(|l| l.line()))
            .collect()
    }

    /// Sheds, refusals and abandoned decodes per listener, if any happened.
    fn conn_line(&self) -> Option<String> {
        let parts: Vec<String> = SourceKind::ALL
            .into_iter()
            .filter_map(|s| {
                let c = self.conns(s);
                let n = [&c.shed, &c.refused, &c.abandoned].map(|a| a.load(Relaxed));
                (n != [0; 3]).then(|| {
                    format!(
                        "{}: {} shed, {} refused, {} decodes abandoned",
                        s.as_str(),
                        n[0],
                        n[1],
                        n[2]
                    )
                })
            })
            .collect();
        (!parts.is_empty()).then(|| format!("connections {}", parts.join("; ")))
    }

    /// Every source on one line, for the periodic stats of `logtui record`.
    pub fn compact_line(&self) -> String {
        let parts: Vec<String> = SourceKind::ALL
            .into_iter()
            .map(|s| {
                let c = self.snapshot(s);
                let n = [
                    c.received,
                    c.stored,
                    c.rejected,
                    c.dropped,
                    c.ignored,
                    c.format_refused,
                ];
                let n: Vec<String> = n.iter().map(u64::to_string).collect();
                format!("{} {}", s.as_str(), n.join("/"))
            })
            .collect();
        let conns: Vec<String> = [SourceKind::Tcp, SourceKind::Http]
            .into_iter()
            .map(|s| {
                let c = self.conns(s);
                let n = [&c.open, &c.shed, &c.refused, &c.abandoned].map(|a| a.load(Relaxed));
                format!("{} {}/{}/{}/{}", s.as_str(), n[0], n[1], n[2], n[3])
            })
            .collect();
        let lists: String = self
            .lists()
            .iter()
            .map(|l| format!("  {}", l.line()))
            .collect();
        parts.join("  ")
            + "  (received/stored/rejected/dropped/ignored/unformatted)  connections "
            + &conns.join("  ")
            + " (open/shed/refused/abandoned)"
            + &self.redis_compact()
            + &lists
    }

    /// `  redis subscribed 10/0/0/0/0 (messages/reconnects/gaps/dropped/recovered)`, when
    /// Redis is on.
    fn redis_compact(&self) -> String {
        let r = &self.redis;
        if r.state() == RedisState::Off {
            return String::new();
        }
        let n = [
            &r.messages,
            &r.reconnects,
            &r.gaps,
            &r.dropped,
            &r.recovered,
        ]
        .map(|a| a.load(Relaxed));
        format!(
            "  redis {} {}/{}/{}/{}/{} (messages/reconnects/gaps/dropped/recovered)",
            r.state().as_str(),
            n[0],
            n[1],
            n[2],
            n[3],
            n[4]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redis_link_shows_only_when_redis_is_on() {
        let s = Stats::default();
        assert!(!s.compact_line().contains("messages/reconnects"));
        assert!(s.summary_lines().is_empty());
        s.redis.set_state(RedisState::Reconnecting);
        s.redis.messages.fetch_add(12, Relaxed);
        s.redis.gaps.fetch_add(1, Relaxed);
        assert!(
            s.compact_line().ends_with(
                "  redis reconnecting 12/0/1/0/0 (messages/reconnects/gaps/dropped/recovered)"
            ),
            "{}",
            s.compact_line()
        );
        assert_eq!(
            s.summary_lines(),
            ["redis    reconnecting, 12 messages, 0 reconnects, 1 gaps, 0 dropped, 0 recovered"]
        );
    }
}
