//! Smarter's double publish, undone: each record goes to `logs:{id}` and to `logs:global` with
//! identical bytes; this pairs the two copies one to one so the record is stored once, with its job.
//!
//! The rule, exactly: a message on a job channel ([`job_of_channel`] is `Some`) and a message on
//! [`GLOBAL_CHANNEL`] are copies of one record when their payloads are the same bytes and they
//! arrive within the window ([`PairLimits`]). Pairing is one to one and oldest first:
//! * a job-channel message that finds no held global twin is stored at once and remembered; a
//!   later global message with the same bytes consumes that memory and is dropped as a duplicate;
//! * a global message that finds no remembered job twin is held (at most [`PairLimits::hold_for`]);
//!   a job twin arriving meanwhile consumes it, and the record is stored once, from the job
//!   channel; a hold that expires (or is pushed out by the bounds) is stored without a job.
//!
//! Because each copy pairs with at most one other, a record Smarter really logged twice (two
//! identical payloads) arrives as two job copies and two global copies and is stored twice.
//! Two different records are never merged: copies pair only on equal bytes, compared in full
//! after a 64-bit foldhash match (the hash only finds candidates). Pure: no sockets, no clock
//! of its own; the source passes `now`.

use crate::decode::redis::{GLOBAL_CHANNEL, job_of_channel};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// The bounds of the pairing window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairLimits {
    /// Most job-channel copies remembered for their global twin. Smarter publishes the twin
    /// right after (the same worker thread, the next MULTI/EXEC), so a few thousand cover a
    /// burst of 100,000 records a second with room to spare.
    pub max_remembered: usize,
    /// How long a job-channel copy is remembered: Smarter's two publishes are microseconds
    /// apart; 2 s allows for a stalled publisher without making a real repeat look like a twin
    /// for long.
    pub remember_for: Duration,
    /// Most global copies held waiting for a job twin.
    pub max_held: usize,
    /// How long a global copy waits for its job twin before it is stored without a job. Only
    /// a publisher that sends the global copy first needs it; it is what a record without a
    /// job twin waits before it is stored.
    pub hold_for: Duration,
    /// Most payload bytes each of the two windows holds, so big payloads cannot make the
    /// window a memory sink (the count alone would allow 4096 × 16 MiB).
    pub max_bytes: usize,
    /// Payloads longer than this are never paired (stored as they come): Smarter's records are
    /// a few hundred bytes, and pairing a huge one would hold its bytes for the whole window.
    pub max_paired_payload: usize,
}

impl Default for PairLimits {
    fn default() -> Self {
        PairLimits {
            max_remembered: 4096,
            remember_for: Duration::from_secs(2),
            max_held: 4096,
            hold_for: Duration::from_millis(100),
            max_bytes: 16 << 20,
            max_paired_payload: 1 << 20,
        }
    }
}

/// One pub/sub message: the channel it came on and its payload (`full_len` is the message's
/// length; `payload` may be only a part of an oversized one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: String,
    pub payload: Vec<u8>,
    pub full_len: usize,
}

/// What the pairing has done, as running totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PairCounts {
    /// Copies dropped because their twin was (or will be) stored.
    pub deduplicated: u64,
    /// Global copies stored without a job because no job twin came within the hold.
    pub held_expired: u64,
    /// Job-channel copies forgotten before their window ended, pushed out by the bounds.
    pub evicted: u64,
}

/// The pairing state: the job copies remembered and the global copies held.
pub struct Pairer {
    limits: PairLimits,
    /// Whether global copies wait for a job twin at all: not when no job channel can arrive
    /// (only `logs:global` is subscribed), which would delay every record for nothing.
    hold: bool,
    hasher: foldhash::fast::RandomState,
    remembered: Window,
    held: Window,
    pub counts: PairCounts,
}

impl Pairer {
    /// `hold`: whether a job channel can arrive at all (see [`can_carry_jobs`]).
    pub fn new(limits: PairLimits, hold: bool) -> Pairer {
        Pairer {
            limits,
            hold,
            hasher: foldhash::fast::RandomState::default(),
            remembered: Window::default(),
            held: Window::default(),
            counts: PairCounts::default(),
        }
    }

    /// Takes one message at `now`; `store` is called with each message to store, in the order
    /// to store them (this one, or held ones this one pushed out).
    pub fn push(&mut self, msg: Message, now: Instant, store: &mut impl FnMut(&Message)) {
        self.expire(now, store);
        let pairable = msg.full_len == msg.payload.len()
            && msg.payload.len() <= self.limits.max_paired_payload;
        let global = msg.channel == GLOBAL_CHANNEL;
        let job = !global && job_of_channel(&msg.channel).is_some();
        if !pairable || !(global || job) {
            store(&msg);
            return;
        }
        let hash = self.hasher.hash_one(&msg.payload[..]);
        if job {
            if self.held.take(hash, &msg.payload).is_some() {
                // Its global copy came first and was waiting: store once, from the job channel.
                self.counts.deduplicated += 1;
                store(&msg);
                return;
            }
            store(&msg);
            let evicted = self.remembered.put(
                hash,
                msg,
                now,
                self.limits.max_remembered,
                self.limits.max_bytes,
            );
            self.counts.evicted += evicted.len() as u64;
            return;
        }
        if self.remembered.take(hash, &msg.payload).is_some() {
            self.counts.deduplicated += 1;
            return;
        }
        if !self.hold {
            store(&msg);
            return;
        }
        let pushed_out = self
            .held
            .put(hash, msg, now, self.limits.max_held, self.limits.max_bytes);
        for m in pushed_out {
            self.counts.held_expired += 1;
            store(&m);
        }
    }

    /// Stores the held copies whose time is up and forgets expired memories.
    pub fn expire(&mut self, now: Instant, store: &mut impl FnMut(&Message)) {
        for m in self.held.expire(now, self.limits.hold_for) {
            self.counts.held_expired += 1;
            store(&m);
        }
        self.remembered.expire(now, self.limits.remember_for);
    }

    /// When the oldest held copy is due, if any is held: the caller wakes then to call
    /// [`expire`](Self::expire).
    pub fn next_due(&self) -> Option<Instant> {
        self.held.oldest().map(|t| t + self.limits.hold_for)
    }

    /// How long a global copy waits for its job twin.
    pub fn hold_for(&self) -> Duration {
        self.limits.hold_for
    }

    /// Stores every held copy now (shutdown: nothing more will come).
    pub fn release_all(&mut self, store: &mut impl FnMut(&Message)) {
        for m in self.held.drain() {
            self.counts.held_expired += 1;
            store(&m);
        }
    }

    /// Copies held or remembered now.
    pub fn len(&self) -> (usize, usize) {
        (self.held.live, self.remembered.live)
    }
}

/// Whether a subscription to `names` (channels and patterns) can bring messages on a job
/// channel: any pattern can (a pattern can match `logs:…`), a plain channel only when it is one.
pub fn can_carry_jobs(names: &[String]) -> bool {
    names
        .iter()
        .any(|n| is_pattern(n) || job_of_channel(n).is_some())
}

/// Whether a subscription name is a glob pattern (PSUBSCRIBE) rather than a channel.
pub fn is_pattern(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

/// A window entry; `msg` is `None` once it has been paired (it stays until it reaches the
/// front, so an entry's place in the deque is its sequence number minus the front's).
struct Entry {
    seq: u64,
    hash: u64,
    at: Instant,
    msg: Option<Message>,
}

/// Messages in arrival order, with a hash index to find a twin by its bytes.
#[derive(Default)]
struct Window {
    entries: VecDeque<Entry>,
    /// Hash → sequence numbers of the unpaired entries with it, oldest first.
    index: HashMap<u64, VecDeque<u64>, foldhash::fast::RandomState>,
    next_seq: u64,
    live: usize,
    bytes: usize,
}

impl Window {
    /// Adds `msg`, then pushes out the oldest entries past the bounds and returns them.
    fn put(
        &mut self,
        hash: u64,
        msg: Message,
        now: Instant,
        max_count: usize,
        max_bytes: usize,
    ) -> Vec<Message> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += msg.payload.len();
        self.live += 1;
        self.index.entry(hash).or_default().push_back(seq);
        self.entries.push_back(Entry {
            seq,
            hash,
            at: now,
            msg: Some(msg),
        });
        let mut out = Vec::new();
        while self.live > max_count.max(1) || self.bytes > max_bytes {
            match self.pop_front() {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// The oldest unpaired entry whose payload is `payload`, taken out.
    fn take(&mut self, hash: u64, payload: &[u8]) -> Option<Message> {
        let first = self.entries.front()?.seq;
        let seqs = self.index.get_mut(&hash)?;
        let pos = seqs.iter().position(|&seq| {
            let e = &self.entries[(seq - first) as usize];
            e.msg.as_ref().is_some_and(|m| m.payload == payload)
        })?;
        let seq = seqs.remove(pos)?;
        if seqs.is_empty() {
            self.index.remove(&hash);
        }
        let msg = self.entries[(seq - first) as usize].msg.take()?;
        self.live -= 1;
        self.bytes -= msg.payload.len();
        self.drop_paired_front();
        Some(msg)
    }

    /// Removes the entries older than `ttl` and returns them.
    fn expire(&mut self, now: Instant, ttl: Duration) -> Vec<Message> {
        let mut out = Vec::new();
        while self
            .entries
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.at) >= ttl)
        {
            if let Some(m) = self.pop_front() {
                out.push(m);
            }
        }
        out
    }

    fn drain(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while !self.entries.is_empty() {
            if let Some(m) = self.pop_front() {
                out.push(m);
            }
        }
        out
    }

    fn oldest(&self) -> Option<Instant> {
        self.entries.front().map(|e| e.at)
    }

    /// Removes the front entry; its message if it was still unpaired.
    fn pop_front(&mut self) -> Option<Message> {
        let e = self.entries.pop_front()?;
        let msg = e.msg.inspect(|m| {
            if let Some(seqs) = self.index.get_mut(&e.hash) {
                // The oldest entry is the first of its hash's list.
                if seqs.front() == Some(&e.seq) {
                    seqs.pop_front();
                }
                if seqs.is_empty() {
                    self.index.remove(&e.hash);
                }
            }
            self.live -= 1;
            self.bytes -= m.payload.len();
        });
        self.drop_paired_front();
        msg
    }

    /// Paired entries leave once they reach the front.
    fn drop_paired_front(&mut self) {
        while self.entries.front().is_some_and(|e| e.msg.is_none()) {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const JOB: &str = "logs:User.admin";
    const JOB2: &str = "logs:job_45039018-3256-4094-b374-dc0b86a131c2";

    fn m(channel: &str, payload: &str) -> Message {
        Message {
            channel: channel.to_owned(),
            payload: payload.as_bytes().to_vec(),
            full_len: payload.len(),
        }
    }

    /// Runs `steps` (message, milliseconds after start) and then one expiry far later;
    /// returns what was stored as (channel, payload) and the counts.
    fn run(
        limits: PairLimits,
        steps: &[(&str, &str, u64)],
    ) -> (Vec<(String, String)>, PairCounts, Pairer) {
        let t0 = Instant::now();
        let mut p = Pairer::new(limits, true);
        let mut out = Vec::new();
        let mut store = |msg: &Message| {
            out.push((
                msg.channel.clone(),
                String::from_utf8(msg.payload.clone()).unwrap(),
            ))
        };
        for &(ch, payload, ms) in steps {
            p.push(m(ch, payload), t0 + Duration::from_millis(ms), &mut store);
        }
        p.expire(t0 + Duration::from_secs(60), &mut store);
        (out, p.counts, p)
    }

    fn stored(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn job_first_then_global_is_stored_once_at_once() {
        let (out, c, p) = run(
            PairLimits::default(),
            &[
                (JOB, "a", 0),
                (GLOBAL_CHANNEL, "a", 0),
                (JOB2, "b", 1),
                (GLOBAL_CHANNEL, "b", 1),
            ],
        );
        assert_eq!(out, stored(&[(JOB, "a"), (JOB2, "b")]));
        assert_eq!(c.deduplicated, 2);
        assert_eq!(p.len(), (0, 0));
    }

    #[test]
    fn global_first_waits_for_its_job_twin() {
        let t0 = Instant::now();
        let mut p = Pairer::new(PairLimits::default(), true);
        let out = RefCell::new(Vec::<String>::new());
        let mut store = |msg: &Message| out.borrow_mut().push(msg.channel.clone());
        p.push(m(GLOBAL_CHANNEL, "a"), t0, &mut store);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_millis(100)));
        p.push(m(JOB, "a"), t0 + Duration::from_millis(30), &mut store);
        assert_eq!(p.next_due(), None);
        assert_eq!(*out.borrow(), [JOB]);
        assert_eq!(p.counts.deduplicated, 1);
    }

    #[test]
    fn a_global_copy_without_twin_is_stored_without_job_after_the_hold() {
        let t0 = Instant::now();
        let mut p = Pairer::new(PairLimits::default(), true);
        let out = RefCell::new(Vec::<String>::new());
        let mut store = |msg: &Message| out.borrow_mut().push(msg.channel.clone());
        p.push(m(GLOBAL_CHANNEL, "lonely"), t0, &mut store);
        p.expire(t0 + Duration::from_millis(99), &mut store);
        assert!(out.borrow().is_empty());
        p.expire(t0 + Duration::from_millis(100), &mut store);
        assert_eq!(*out.borrow(), [GLOBAL_CHANNEL]);
        assert_eq!(p.counts.held_expired, 1);
        // A job twin after the hold is a record of its own now: stored too.
        p.push(
            m(JOB, "lonely"),
            t0 + Duration::from_millis(150),
            &mut store,
        );
        assert_eq!(*out.borrow(), [GLOBAL_CHANNEL, JOB]);
    }

    #[test]
    fn identical_records_sent_twice_are_stored_twice() {
        // Interleaved: both job copies, then both global copies.
        let (out, c, _) = run(
            PairLimits::default(),
            &[
                (JOB, "same", 0),
                (JOB, "same", 0),
                (GLOBAL_CHANNEL, "same", 0),
                (GLOBAL_CHANNEL, "same", 0),
            ],
        );
        assert_eq!(out, stored(&[(JOB, "same"), (JOB, "same")]));
        assert_eq!(c.deduplicated, 2);
        // In Smarter's order.
        let (out, _, _) = run(
            PairLimits::default(),
            &[
                (JOB, "same", 0),
                (GLOBAL_CHANNEL, "same", 0),
                (JOB, "same", 0),
                (GLOBAL_CHANNEL, "same", 0),
            ],
        );
        assert_eq!(out.len(), 2);
        // A third global copy has no twin left: stored without a job.
        let (out, c, _) = run(
            PairLimits::default(),
            &[
                (JOB, "x", 0),
                (GLOBAL_CHANNEL, "x", 0),
                (GLOBAL_CHANNEL, "x", 0),
            ],
        );
        assert_eq!(out, stored(&[(JOB, "x"), (GLOBAL_CHANNEL, "x")]));
        assert_eq!((c.deduplicated, c.held_expired), (1, 1));
    }

    #[test]
    fn different_bytes_never_pair() {
        let (out, c, _) = run(
            PairLimits::default(),
            &[
                (JOB, "a", 0),
                (GLOBAL_CHANNEL, "a ", 0),
                (GLOBAL_CHANNEL, "A", 0),
            ],
        );
        assert_eq!(out.len(), 3);
        assert_eq!(c.deduplicated, 0);
        // Two job channels with the same bytes are two records: only job↔global pairs.
        let (out, _, _) = run(PairLimits::default(), &[(JOB, "a", 0), (JOB2, "a", 0)]);
        assert_eq!(out.len(), 2);
        // Channels outside Smarter's naming pass straight through.
        let (out, c, _) = run(
            PairLimits::default(),
            &[("app", "a", 0), ("logs:", "a", 0), (GLOBAL_CHANNEL, "a", 0)],
        );
        assert_eq!(
            out,
            stored(&[("app", "a"), ("logs:", "a"), (GLOBAL_CHANNEL, "a")])
        );
        assert_eq!(c.held_expired, 1);
    }

    #[test]
    fn memories_end_with_the_window() {
        // The global twin 2 s after its job copy is stored as a record of its own.
        let (out, c, _) = run(
            PairLimits::default(),
            &[(JOB, "a", 0), (GLOBAL_CHANNEL, "a", 2000)],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(c.deduplicated, 0);
        let (out, c, _) = run(
            PairLimits::default(),
            &[(JOB, "a", 0), (GLOBAL_CHANNEL, "a", 1999)],
        );
        assert_eq!((out.len(), c.deduplicated), (1, 1));
    }

    #[test]
    fn bounds_push_out_the_oldest() {
        let limits = PairLimits {
            max_remembered: 2,
            max_held: 2,
            ..PairLimits::default()
        };
        let (out, c, _) = run(
            limits,
            &[
                (JOB, "1", 0),
                (JOB, "2", 0),
                (JOB, "3", 0),
                (GLOBAL_CHANNEL, "1", 0), // forgotten: stored again (after its hold)
                (GLOBAL_CHANNEL, "3", 0),
            ],
        );
        assert_eq!(
            out,
            stored(&[(JOB, "1"), (JOB, "2"), (JOB, "3"), (GLOBAL_CHANNEL, "1")])
        );
        assert_eq!((c.evicted, c.deduplicated), (1, 1));
        // Held copies pushed out by the count are stored at once, in order.
        let t0 = Instant::now();
        let mut p = Pairer::new(limits, true);
        let out = RefCell::new(Vec::<String>::new());
        let mut store = |msg: &Message| {
            out.borrow_mut()
                .push(String::from_utf8(msg.payload.clone()).unwrap())
        };
        for x in ["a", "b", "c"] {
            p.push(m(GLOBAL_CHANNEL, x), t0, &mut store);
        }
        assert_eq!(*out.borrow(), ["a"]);
        p.release_all(&mut store);
        assert_eq!(*out.borrow(), ["a", "b", "c"]);
        // The byte bound too.
        let limits = PairLimits {
            max_bytes: 5,
            ..PairLimits::default()
        };
        let (_, c, _) = run(
            limits,
            &[
                (JOB, "abc", 0),
                (JOB2, "def", 0),
                (GLOBAL_CHANNEL, "abc", 0),
            ],
        );
        assert_eq!((c.evicted, c.deduplicated), (1, 0));
    }

    #[test]
    fn big_or_cut_payloads_are_not_paired() {
        let limits = PairLimits {
            max_paired_payload: 4,
            ..PairLimits::default()
        };
        let (out, c, _) = run(limits, &[(JOB, "12345", 0), (GLOBAL_CHANNEL, "12345", 0)]);
        assert_eq!((out.len(), c.deduplicated), (2, 0));
        let t0 = Instant::now();
        let mut p = Pairer::new(PairLimits::default(), true);
        let mut n = 0;
        let cut = Message {
            full_len: 100,
            ..m(GLOBAL_CHANNEL, "part")
        };
        p.push(cut, t0, &mut |_| n += 1);
        assert_eq!((n, p.len()), (1, (0, 0)));
    }

    #[test]
    fn no_hold_when_no_job_channel_can_come() {
        assert!(!can_carry_jobs(&["logs:global".into()]));
        assert!(!can_carry_jobs(&["app".into(), "logs:global".into()]));
        assert!(can_carry_jobs(&["logs:*".into()]));
        assert!(can_carry_jobs(&[
            "logs:global".into(),
            "logs:User.admin".into()
        ]));
        let t0 = Instant::now();
        let mut p = Pairer::new(PairLimits::default(), false);
        let mut n = 0;
        p.push(m(GLOBAL_CHANNEL, "a"), t0, &mut |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn a_long_run_stays_within_its_bounds() {
        // 100,000 records in Smarter's order with a few lone copies: every record once.
        let t0 = Instant::now();
        let mut p = Pairer::new(PairLimits::default(), true);
        let mut n = 0u64;
        let mut store = |_: &Message| n += 1;
        for i in 0..100_000u64 {
            let now = t0 + Duration::from_micros(i * 10);
            let payload = format!("{{\"message\": \"record {i}\"}}");
            p.push(m(JOB, &payload), now, &mut store);
            if i % 1000 != 0 {
                p.push(m(GLOBAL_CHANNEL, &payload), now, &mut store);
            }
            let (held, remembered) = p.len();
            assert!(held <= 4096 && remembered <= 4096);
        }
        p.expire(t0 + Duration::from_secs(10), &mut store);
        assert_eq!(n, 100_000);
        assert_eq!(p.counts.deduplicated, 99_900);
        assert_eq!(p.len(), (0, 0));
        assert!(p.remembered.index.is_empty() && p.remembered.entries.is_empty());
    }
}
