//! Closing pub/sub gaps from Smarter's streams: after a reconnect or a visible drop, the entries
//! XADDed while delivery was uncertain are read back from `stream:logs:*`, and only the records
//! pub/sub did not deliver are stored.
//!
//! **When delivery is certain.** Smarter runs `PUBLISH logs:x P` and `XADD stream:logs:x * data P`
//! in one `MULTI`/`EXEC`, so an entry's id (the server's clock in ms) is the moment its message
//! was published. Every 250 ms the source reads `TIME` and publishes it on a private channel it
//! subscribes to (a *mark*); Redis writes a subscriber's messages in order, so when the mark
//! `T` arrives, every message published before `T` has arrived. After a mark at `T`, the
//! uncertain window starts at `T` (inclusive: a message of the same millisecond may come either
//! side of the mark). When the connection is lost (or the source must drop), the window stays
//! open until a quiet mark on the confirmed subscription (`S`): entries with `T ≤ id < S` are the
//! ones to check (an entry of `S`'s own millisecond may follow the mark); later ones arrive by
//! pub/sub.
//!
//! **What is the same record** ([`Heard`], [`reconcile`]). Pub/sub messages heard since the
//! window opened are remembered as 128-bit fingerprints of their bytes, counted apart for job
//! channels and `logs:global`. Each Smarter record is one job-stream entry and one global-stream
//! entry with the same bytes, so within the window a payload `P` stands for
//! `max(job entries, global entries)` records, of which `max(job heard, global heard)` were
//! delivered; the difference is stored, from the job stream first (so the record keeps its job).
//! A record logged twice with identical bytes (to the microsecond of its timestamp) is two
//! records by this count; two different payloads never match.
//!
//! **Without marks** (a span nobody listened to: logtui was stopped; or a gap on a Redis
//! Cluster, where messages published on other nodes cross the cluster bus in no order relative
//! to a mark) the window is [`Window::unheard`]: each record's entries count once, and the
//! source compares them with the store (`redis_history::not_stored`: created, logger and
//! message, one to one) once what pub/sub delivered before is committed. A cluster's streams
//! live on their slots' owners: they are listed on each primary ([`list_streams`]) and read
//! through the cluster connection ([`read_streams`]).
//!
//! **What cannot be recovered** is said: a stream that has lost entries to trimming (`MAXLEN`:
//! `XINFO STREAM` counts more `entries-added` than its `length`) and keeps none from before the
//! window may have lost some of the window's: that is reported as a gap up to its first kept
//! entry, with at most how many; a key that expired is simply not found. Every read is bounded ([`BackfillLimits`]).

use crate::decode::redis::{GLOBAL_CHANNEL, job_of_channel};
use crate::source::redis_dedupe::Message;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Where a channel's stream lives, as Smarter names it: `stream:logs:{id}` beside `logs:{id}`.
pub const STREAM_PREFIX: &str = "stream:";

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    pub ms: u64,
    pub seq: u64,
}

impl EntryId {
    pub fn parse(s: &str) -> Option<EntryId> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        Some(EntryId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The channel a stream carries (`stream:logs:x` → `logs:x`).
pub fn channel_of_stream(key: &str) -> &str {
    key.strip_prefix(STREAM_PREFIX).unwrap_or(key)
}

/// The stream (or the `SCAN` pattern of streams) beside a subscribed channel or pattern.
pub fn stream_of_channel(channel: &str) -> String {
    format!("{STREAM_PREFIX}{channel}")
}

/// Copies heard on job channels and on `logs:global` (other channels count as job-less).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    job: u32,
    global: u32,
}

/// The fingerprints of the messages heard since the uncertain window opened, and the window's
/// state. Marks come in the order of the messages (the source publishes each one on a channel
/// of its own after reading `TIME`), so a mark is exact about what came before it.
pub struct Heard {
    hasher: Hashers,
    /// Heard before the latest mark (needed for its millisecond) and after it, in arrival
    /// order: fingerprints with their lowest bit set for `logs:global` ([`Heard::tagged`]).
    /// Appended, not counted in a map: this runs for every message, and a map is built only
    /// for the rare window that closes.
    prev: Vec<u128>,
    cur: Vec<u128>,
    /// The latest mark: where the window opens if delivery fails now.
    mark: Option<u64>,
    /// Delivery failed (a drop, a lost connection); `from` is where the window opened
    /// (`None` when no mark had been taken yet: nothing can be reconciled then).
    open: Option<Option<u64>>,
    /// Lost since the latest mark: the window stays open at least one more mark.
    lost_since_mark: bool,
    /// The connection was lost: the window stays open until every subscription is back.
    awaiting_resume: bool,
    limit: usize,
    /// More was heard in an open window than the limit holds: it cannot be reconciled.
    overflowed: bool,
}

impl Heard {
    /// Remembers at most `limit` messages (16 bytes each).
    pub fn new(limit: usize) -> Heard {
        Heard {
            hasher: Default::default(),
            prev: Vec::new(),
            cur: Vec::new(),
            mark: None,
            open: None,
            lost_since_mark: false,
            awaiting_resume: false,
            limit,
            overflowed: false,
        }
    }

    /// A payload's fingerprint with its lowest bit saying whether it came on `logs:global`
    /// (127 bits are left to tell payloads apart).
    fn tagged(&self, channel: &str, payload: &[u8]) -> u128 {
        (fingerprint(&self.hasher, payload) & !1) | u128::from(channel == GLOBAL_CHANNEL)
    }

    /// A message read from `channel` and kept. Costs nothing until a mark has been taken.
    /// Returns whether it was remembered (what [`Heard::unnote_last`] may take back).
    pub fn note(&mut self, channel: &str, payload: &[u8]) -> bool {
        if self.mark.is_none() {
            return false;
        }
        if self.prev.len() + self.cur.len() >= self.limit {
            if self.open.is_some() {
                self.overflowed = true;
            }
            return false;
        }
        let fp = self.tagged(channel, payload);
        self.cur.push(fp);
        true
    }

    /// Takes back the last [`Heard::note`] that remembered a message: it could not be kept
    /// after all.
    pub fn unnote_last(&mut self) {
        self.cur.pop();
    }

    /// Delivery failed: a message was dropped, or (`connection`) the link was lost, in which
    /// case the window stays open until [`Heard::resumed`].
    pub fn lost(&mut self, connection: bool) {
        if self.open.is_none() {
            self.open = Some(self.mark);
        }
        self.lost_since_mark = true;
        self.awaiting_resume |= connection;
    }

    /// Every subscription is confirmed again after a lost connection.
    pub fn resumed(&mut self) {
        self.awaiting_resume = false;
    }

    /// Whether a window is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// A mark at `server_ms`: everything published before it has been read. Closes an open
    /// window once delivery has been whole for a full mark period (and, after a lost
    /// connection, the subscriptions are back): returns it, with what was heard in it, or
    /// `Err(())` when it opened before any mark (there is nothing to compare with).
    pub fn mark(&mut self, server_ms: u64) -> Option<Result<Window, ()>> {
        let Some(from) = self.open else {
            // Swapped and cleared, not replaced: the lists keep their room, so four marks a
            // second do not reallocate them at 190,000 messages a second.
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.cur.clear();
            self.mark = Some(server_ms);
            return None;
        };
        let lost = std::mem::take(&mut self.lost_since_mark);
        if self.awaiting_resume || lost {
            return None;
        }
        self.open = None;
        let mut heard: HashMap<u128, Seen> = HashMap::new();
        for tagged in self.prev.drain(..).chain(self.cur.drain(..)) {
            let e = heard.entry(tagged & !1).or_default();
            match tagged & 1 == 1 {
                true => e.global = e.global.saturating_add(1),
                false => e.job = e.job.saturating_add(1),
            }
        }
        let overflowed = std::mem::take(&mut self.overflowed);
        self.mark = Some(server_ms);
        let from = from.ok_or(());
        Some(from.map(|from| Window {
            from,
            to: server_ms,
            heard,
            hasher: self.hasher.clone(),
            overflowed,
        }))
    }
}

type Hashers = (
    foldhash::quality::RandomState,
    foldhash::quality::RandomState,
);

/// 128 bits of a payload: two independent 64-bit hashes, so a false match is as unlikely
/// as the hardware getting it wrong.
fn fingerprint(h: &Hashers, payload: &[u8]) -> u128 {
    ((h.0.hash_one(payload) as u128) << 64) | h.1.hash_one(payload) as u128
}

/// One closed window: its bounds in server ms (inclusive) and what pub/sub delivered in it.
pub struct Window {
    pub from: u64,
    pub to: u64,
    heard: HashMap<u128, Seen>,
    hasher: (
        foldhash::quality::RandomState,
        foldhash::quality::RandomState,
    ),
    /// The fingerprints did not all fit: reconciling could store records twice, so it is not done.
    pub overflowed: bool,
}

impl Window {
    /// A window with nothing heard in it: a span this run did not listen to (logtui was
    /// stopped), to be compared with the store instead.
    pub fn unheard(from: u64, to: u64) -> Window {
        Window {
            from,
            to,
            heard: HashMap::new(),
            hasher: Default::default(),
            overflowed: false,
        }
    }
}

/// One stream entry read in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: String,
    pub id: EntryId,
    pub payload: Vec<u8>,
}

/// The entries of a window that pub/sub did not deliver, as messages on their channels, in id
/// order (see the module comment for the count).
pub fn reconcile(window: &Window, mut entries: Vec<Entry>) -> Vec<Message> {
    entries.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.stream.cmp(&b.stream)));
    // Per payload: its entries (job ones and global ones) in id order.
    let mut by_fp: HashMap<u128, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let fp = fingerprint(&window.hasher, &e.payload) & !1;
        let slot = by_fp.entry(fp).or_default();
        if channel_of_stream(&e.stream) == GLOBAL_CHANNEL {
            slot.1.push(i);
        } else {
            slot.0.push(i);
        }
    }
    let mut keep: Vec<usize> = Vec::new();
    for (fp, (jobs, globals)) in by_fp {
        let heard = window.heard.get(&fp).copied().unwrap_or_default();
        let records = jobs.len().max(globals.len());
        let delivered = (heard.job as usize).max(heard.global as usize);
        let missing = records.saturating_sub(delivered);
        // The newest are the likeliest missed (the window opened before them); job copies first.
        let from_jobs = missing.min(jobs.len());
        keep.extend(&jobs[jobs.len() - from_jobs..]);
        let from_globals = (missing - from_jobs).min(globals.len());
        keep.extend(&globals[globals.len() - from_globals..]);
    }
    keep.sort_unstable();
    let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| entries[i].take())
        .map(|e| Message {
            channel: channel_of_stream(&e.stream).to_owned(),
            full_len: e.payload.len(),
            payload: e.payload,
        })
        .collect()
}

/// Whether a job stream's entry can stand for a job: the channel must name one.
pub fn carries_job(stream: &str) -> bool {
    job_of_channel(channel_of_stream(stream)).is_some()
}

/// The bounds of one backfill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillLimits {
    /// Most streams examined (Smarter makes a stream per context-less record, each with a 1 h TTL).
    pub max_streams: usize,
    /// Most entries read in all.
    pub max_entries: usize,
    /// Most payload bytes read in all.
    pub max_bytes: usize,
    /// Entries per `XRANGE` page.
    pub page: usize,
}

impl Default for BackfillLimits {
    fn default() -> Self {
        BackfillLimits {
            max_streams: 10_000,
            max_entries: 200_000,
            max_bytes: 64 << 20,
            page: 1000,
        }
    }
}

/// What one stream may not have given back: entries from the window's start up to (not
/// including) `first_kept` may have been trimmed (`MAXLEN`) before they could be read; at most
/// `at_most` of them (all the stream ever lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub stream: String,
    pub from: u64,
    pub first_kept: Option<EntryId>,
    pub at_most: u64,
}

/// What a backfill read: the entries of the window, and what it could not read.
#[derive(Debug, Default)]
pub struct Read {
    pub entries: Vec<Entry>,
    pub streams: usize,
    pub trimmed: Vec<Trimmed>,
    /// Sentences on limits reached (streams or entries left unread).
    pub cut_short: Vec<String>,
}

/// Reads the entries with `from ≤ id.ms < to` of the streams beside `subscriptions` (plain
/// channels and patterns, as subscribed), skipping `exclude` (logtui's own forwarding targets).
/// The closing mark's own millisecond is left out: an entry of it may have been published
/// after the mark's `TIME`, and then it arrives after the mark, by pub/sub, as any later one.
/// One server: a cluster's streams are listed on each primary ([`list_streams`]) and read with
/// [`read_streams`].
pub async fn read_window<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    subscriptions: &[String],
    exclude: &[String],
    from: u64,
    to: u64,
    limits: BackfillLimits,
) -> redis::RedisResult<Read> {
    let keys = list_streams(con, subscriptions, limits).await?;
    read_streams(con, keys, exclude, from, to, limits).await
}

/// The streams beside `subscriptions` that the server on `con` holds: a plain channel's
/// stream by name, a pattern's by `SCAN` (of this server's keys only; a little more than
/// `limits.max_streams`, so [`read_streams`] can say some were left out).
pub async fn list_streams<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    subscriptions: &[String],
    limits: BackfillLimits,
) -> redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    for s in subscriptions {
        let stream = stream_of_channel(s);
        if crate::source::redis_dedupe::is_pattern(s) {
            let mut cursor = 0u64;
            loop {
                let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&stream)
                    .arg("COUNT")
                    .arg(1000)
                    .arg("TYPE")
                    .arg("stream")
                    .query_async(con)
                    .await?;
                keys.extend(found);
                cursor = next;
                if cursor == 0 || keys.len() > limits.max_streams {
                    break;
                }
            }
        } else {
            keys.push(stream);
        }
    }
    Ok(keys)
}

/// Reads the entries with `from ≤ id.ms < to` of `keys` (duplicates removed, `exclude`'s
/// streams left out) on `con`, within `limits` (see [`read_window`]).
pub async fn read_streams<C: redis::aio::ConnectionLike + Send>(
    con: &mut C,
    mut keys: Vec<String>,
    exclude: &[String],
    from: u64,
    to: u64,
    limits: BackfillLimits,
) -> redis::RedisResult<Read> {
    let mut read = Read::default();
    keys.sort();
    keys.dedup();
    keys.retain(|k| !exclude.iter().any(|c| channel_of_stream(k) == c));
    if keys.len() > limits.max_streams {
        read.cut_short.push(format!(
            "more than {} streams: {} were not read",
            limits.max_streams,
            keys.len() - limits.max_streams
        ));
        keys.truncate(limits.max_streams);
    }
    let mut bytes = 0usize;
    for key in keys {
        // Which streams were written in the window, and which lost entries to trimming.
        let info: redis::Value = match redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&key)
            .query_async(con)
            .await
        {
            Ok(v) => v,
            // The key expired (or never was) between the listing and now.
            Err(e)
                if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let info = StreamInfo::of(&info);
        if info.last.is_some_and(|l| l.ms < from) {
            continue;
        }
        read.streams += 1;
        // Entries were removed, and none kept is older than the window: some removed ones
        // may be the window's. (One kept from before the window means all removed are older.)
        let lost = info.added.saturating_sub(info.length);
        if lost > 0 && info.first.is_none_or(|f| f.ms >= from) {
            read.trimmed.push(Trimmed {
                stream: key.clone(),
                from,
                first_kept: info.first,
                at_most: lost,
            });
        }
        let mut start = format!("{from}-0");
        loop {
            if read.entries.len() >= limits.max_entries || bytes >= limits.max_bytes {
                read.cut_short.push(format!(
                    "the backfill stopped at {} entries ({} bytes); later entries of {key} and the streams after it were not read",
                    read.entries.len(),
                    bytes
                ));
                return Ok(read);
            }
            let page: Vec<RawEntry> = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg(format!("{}-{}", to.saturating_sub(1), u64::MAX))
                .arg("COUNT")
                .arg(limits.page)
                .query_async(con)
                .await?;
            let n = page.len();
            let mut last = None;
            for (id, fields) in page {
                let Some(id) = EntryId::parse(&id) else {
                    continue;
                };
                last = Some(id);
                // Smarter's one field is `data`; an entry without it is not a log record.
                if let Some((_, payload)) = fields.into_iter().find(|(f, _)| f == "data") {
                    bytes += payload.len();
                    read.entries.push(Entry {
                        stream: key.clone(),
                        id,
                        payload,
                    });
                }
            }
            match last {
                Some(l) if n >= limits.page => start = format!("({l}"),
                _ => break,
            }
        }
    }
    Ok(read)
}

/// An `XRANGE` entry as Redis sends it: its id and its field/value pairs.
type RawEntry = (String, Vec<(String, Vec<u8>)>);

/// The fields of `XINFO STREAM` a backfill needs.
#[derive(Debug, Default, PartialEq)]
struct StreamInfo {
    first: Option<EntryId>,
    last: Option<EntryId>,
    length: u64,
    /// Entries ever added (Redis 7.0 on); 0 when the server does not say.
    added: u64,
}

impl StreamInfo {
    /// Reads the reply as RESP2 (a flat list) or RESP3 (a map); unknown shapes give nothing.
    fn of(v: &redis::Value) -> StreamInfo {
        use redis::Value as V;
        let pairs: Vec<(&V, &V)> = match v {
            V::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
            V::Array(a) => a.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
            _ => Vec::new(),
        };
        let text = |v: &V| match v {
            V::BulkString(b) => std::str::from_utf8(b).ok().map(str::to_owned),
            V::SimpleString(s) => Some(s.clone()),
            _ => None,
        };
        let entry_id = |v: &V| match v {
            V::Array(a) => a.first().and_then(text).and_then(|s| EntryId::parse(&s)),
            _ => None,
        };
        let int = |v: &V| match v {
            V::Int(i) => u64::try_from(*i).unwrap_or(0),
            _ => 0,
        };
        let mut info = StreamInfo::default();
        for (k, v) in pairs {
            match text(k).as_deref() {
                Some("first-entry") => info.first = entry_id(v),
                Some("last-entry") => info.last = entry_id(v),
                Some("last-generated-id") if info.last.is_none() => {
                    info.last = text(v).and_then(|s| EntryId::parse(&s));
                }
                Some("length") => info.length = int(v),
                Some("entries-added") => info.added = int(v),
                _ => {}
            }
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: &str, ms: u64, payload: &str) -> Entry {
        Entry {
            stream: stream.into(),
            id: EntryId { ms, seq: 0 },
            payload: payload.as_bytes().to_vec(),
        }
    }

    fn window(heard: &[(&str, &str)]) -> Window {
        let mut h = Heard::new(1000);
        assert!(h.mark(100).is_none());
        h.lost(false);
        for (ch, p) in heard {
            h.note(ch, p.as_bytes());
        }
        // The mark right after a loss keeps the window open; the next one closes it.
        assert!(h.mark(150).is_none());
        h.mark(200).expect("closed").expect("a window")
    }

    #[test]
    fn entry_ids_parse_and_order() {
        let a = EntryId::parse("1733140800123-7").unwrap();
        assert_eq!((a.ms, a.seq), (1_733_140_800_123, 7));
        assert_eq!(EntryId::parse("5"), Some(EntryId { ms: 5, seq: 0 }));
        assert!(EntryId::parse("x-1").is_none());
        assert!(EntryId::parse("5-0").unwrap() < EntryId::parse("5-1").unwrap());
        assert_eq!(a.to_string(), "1733140800123-7");
        assert_eq!(channel_of_stream("stream:logs:job_1"), "logs:job_1");
        assert_eq!(stream_of_channel("logs:*"), "stream:logs:*");
    }

    #[test]
    fn only_what_pub_sub_did_not_deliver_is_stored_once_with_its_job() {
        // a: delivered on both channels. b: its job copy delivered, the global one lost.
        // c: lost entirely (stored from its job stream). d: only on logs:global, lost.
        let w = window(&[
            ("logs:job_1", "a"),
            ("logs:global", "a"),
            ("logs:job_1", "b"),
        ]);
        let got = reconcile(
            &w,
            vec![
                entry("stream:logs:job_1", 101, "a"),
                entry("stream:logs:global", 101, "a"),
                entry("stream:logs:job_1", 102, "b"),
                entry("stream:logs:global", 102, "b"),
                entry("stream:logs:global", 103, "c"),
                entry("stream:logs:job_2", 103, "c"),
                entry("stream:logs:global", 104, "d"),
            ],
        );
        let got: Vec<(&str, &[u8])> = got
            .iter()
            .map(|m| (m.channel.as_str(), &m.payload[..]))
            .collect();
        assert_eq!(got, [("logs:job_2", &b"c"[..]), ("logs:global", b"d")]);
    }

    #[test]
    fn a_record_logged_twice_stays_twice() {
        // Two identical records; pub/sub delivered one of them (both copies).
        let w = window(&[("logs:job_1", "same"), ("logs:global", "same")]);
        let got = reconcile(
            &w,
            vec![
                entry("stream:logs:job_1", 101, "same"),
                entry("stream:logs:global", 101, "same"),
                entry("stream:logs:job_1", 150, "same"),
                entry("stream:logs:global", 150, "same"),
            ],
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].channel, "logs:job_1");
    }

    #[test]
    fn marks_forget_what_is_certain_but_an_open_window_forgets_nothing() {
        let mut h = Heard::new(1000);
        // Before any mark nothing is remembered, and a loss then cannot be reconciled.
        h.note("logs:job_1", b"early");
        h.lost(false);
        assert!(h.mark(5).is_none());
        assert!(matches!(h.mark(6), Some(Err(()))));
        h.mark(10);
        h.note("logs:job_1", b"x");
        h.mark(20);
        h.note("logs:job_1", b"y");
        // "x" was heard before the mark at 20 and is kept for that millisecond; older ones go.
        h.mark(30);
        h.lost(true);
        assert!(h.is_open());
        // Marks while the connection is not back keep everything and close nothing.
        assert!(h.mark(40).is_none());
        h.note("logs:global", b"z");
        assert!(h.mark(45).is_none());
        h.resumed();
        let w = h.mark(50).expect("closed").expect("a window");
        assert_eq!((w.from, w.to), (30, 50));
        let got = reconcile(
            &w,
            vec![
                entry("stream:logs:job_1", 20, "x"),
                entry("stream:logs:job_1", 30, "y"),
                entry("stream:logs:global", 45, "z"),
                entry("stream:logs:global", 46, "new"),
            ],
        );
        let names: Vec<&[u8]> = got.iter().map(|m| &m.payload[..]).collect();
        // x is no longer known (heard two marks before the loss), so its entry, had it been in
        // the window, would be stored: the window starts at 30, and read_window never returns it.
        assert_eq!(names, [&b"x"[..], b"new"]);
        assert!(!h.is_open());
    }

    #[test]
    fn a_drop_keeps_the_window_open_until_a_quiet_mark() {
        let mut h = Heard::new(1000);
        h.mark(10);
        h.lost(false);
        assert!(h.mark(20).is_none());
        h.lost(false);
        assert!(h.mark(30).is_none());
        let w = h.mark(40).unwrap().unwrap();
        assert_eq!((w.from, w.to), (10, 40));
    }

    #[test]
    fn an_overflowing_window_says_so() {
        let mut h = Heard::new(2);
        h.mark(1);
        h.lost(false);
        for p in ["a", "b", "c"] {
            h.note("logs:job_1", p.as_bytes());
        }
        h.mark(2);
        assert!(h.mark(3).unwrap().unwrap().overflowed);
        assert!(!h.overflowed);
    }

    #[test]
    fn stream_info_reads_resp2_and_resp3_replies() {
        use redis::Value as V;
        let s = |x: &str| V::BulkString(x.as_bytes().to_vec());
        let entry = |id: &str| V::Array(vec![s(id), V::Array(vec![s("data"), s("{}")])]);
        let flat = V::Array(vec![
            s("length"),
            V::Int(2),
            s("entries-added"),
            V::Int(5),
            s("first-entry"),
            entry("8-0"),
            s("last-entry"),
            entry("9-1"),
        ]);
        let want = StreamInfo {
            first: Some(EntryId { ms: 8, seq: 0 }),
            last: Some(EntryId { ms: 9, seq: 1 }),
            length: 2,
            added: 5,
        };
        assert_eq!(StreamInfo::of(&flat), want);
        let V::Array(items) = flat else {
            unreachable!()
        };
        let map = V::Map(
            items
                .chunks_exact(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect(),
        );
        assert_eq!(StreamInfo::of(&map), want);
        assert_eq!(StreamInfo::of(&V::Nil), StreamInfo::default());
    }
}
