//! `logtui channels`: what Redis and the store know of each log channel, stream and list —
//! messages seen live in a short sample, subscribers, stream length, records stored, last seen.
//!
//! The Redis side is read with plain commands on one connection (`PSUBSCRIBE` for the
//! sample, `PUBSUB CHANNELS`/`NUMSUB`, `SCAN` for `stream:` keys with `XLEN` and the newest
//! entry, `LLEN`), every listing capped at [`MAX_NAMES`] so a server with millions of keys
//! costs bounded work; the store side is one `GROUP BY` over the Redis records. On a Redis
//! Cluster the per-node parts (subscribers, sharded subscribers by `PUBSUB SHARDCHANNELS`/
//! `SHARDNUMSUB`, streams) are asked of every primary `CLUSTER NODES` names, and added up; the
//! sample listens on one node, which hears every `PUBLISH` of the cluster (not `SPUBLISH`).
//! The rows are merged by channel name in pure code ([`Table`]), so the printing is testable
//! without sockets.

use crate::cli::ChannelsArgs;
use crate::cmd::db_path;
use crate::config::Config;
use crate::record;
use crate::store::schema;
use crate::term::{self, escape_controls};
use crate::timefmt;
use crate::value::{Value, write_json_map};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

/// The most names taken from any one listing (channels, streams, processing lists, sampled
/// channels): beyond it the listing says how many it left out.
pub const MAX_NAMES: usize = 100_000;

/// How long connecting and each command may take before Redis counts as unreachable.
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

use crate::source::redis_backfill::{EntryId, STREAM_PREFIX};
use crate::source::redis_topology::primary_urls;

/// The origin of records taken from a list, before the list's key.
const LIST_ORIGIN_PREFIX: &str = "list:";

/// Commands sent per pipeline round trip when asking about many keys at once.
const PIPELINE: usize = 500;

/// What one channel, stream or list is known for. `None` means "not asked" or "not there".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// `channel` (pub/sub, with its stream if any) or `list`.
    pub kind: &'static str,
    pub name: String,
    /// The job a `logs:{id}` channel carries.
    pub job: Option<String>,
    /// Messages received on it during the live sample.
    pub live_messages: Option<u64>,
    /// Their rate over the sample, per second.
    pub live_rate: Option<f64>,
    /// Subscribers, as `PUBSUB NUMSUB` counts them (pattern subscribers not included; on a
    /// cluster, added up over the primaries).
    pub subscribers: Option<u64>,
    /// Sharded subscribers (`SSUBSCRIBE`), as `PUBSUB SHARDNUMSUB` counts them on the
    /// channel's owner: a cluster only.
    pub shard_subscribers: Option<u64>,
    pub stream: Option<String>,
    pub stream_length: Option<u64>,
    /// A list's length, and the values logtui consumers have taken but not yet stored.
    pub length: Option<u64>,
    pub pending: Option<u64>,
    /// Records the store holds from it, with warnings and errors apart.
    pub stored: Option<u64>,
    pub warnings: Option<u64>,
    pub errors: Option<u64>,
    /// Stored records per second over the last minute (by the senders' clocks).
    pub stored_rate: Option<f64>,
    /// The newest time anything was seen: a stored record, the newest stream entry, or now
    /// for a channel heard in the sample. Seconds since the epoch.
    pub last_seen: Option<f64>,
}

impl Row {
    /// One JSON object, keys in the order of the fields above, `null` for what is unknown.
    pub fn to_json(&self) -> String {
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Str);
        let n = |v: Option<u64>| v.map_or(Value::Null, Value::count);
        let f = |v: Option<f64>| v.map_or(Value::Null, Value::Float);
        let pairs: Vec<(String, Value)> = [
            ("kind", Value::Str(self.kind.into())),
            ("name", Value::Str(self.name.clone())),
            ("job", s(&self.job)),
            ("live_messages", n(self.live_messages)),
            ("live_rate", f(self.live_rate)),
            ("subscribers", n(self.subscribers)),
            ("shard_subscribers", n(self.shard_subscribers)),
            ("stream", s(&self.stream)),
            ("stream_length", n(self.stream_length)),
            ("length", n(self.length)),
            ("pending", n(self.pending)),
            ("stored", n(self.stored)),
            ("warnings", n(self.warnings)),
            ("errors", n(self.errors)),
            ("stored_rate", f(self.stored_rate)),
            ("last_seen", s(&self.last_seen.map(timefmt::rfc3339_micros))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut out = String::new();
        write_json_map(&pairs, &mut out);
        out
    }
}

/// The rows, one per channel name (and one per list), merged from every listing.
#[derive(Debug, Default)]
pub struct Table {
    rows: BTreeMap<(&'static str, String), Row>,
    /// Sentences about listings that were cut short or could not be read.
    pub notes: Vec<String>,
}

impl Table {
    /// The row of `name` of `kind`, made on first use.
    pub fn row(&mut self, kind: &'static str, name: &str) -> &mut Row {
        self.rows
            .entry((kind, name.to_owned()))
            .or_insert_with(|| Row {
                kind,
                name: name.to_owned(),
                job: (kind == "channel")
                    .then(|| crate::decode::redis::job_of_channel(name))
                    .flatten()
                    .map(str::to_owned),
                ..Row::default()
            })
    }

    /// A channel's row, by the name of its stream (`stream:logs:x` → `logs:x`).
    pub fn stream_row(&mut self, key: &str) -> &mut Row {
        let channel = key.strip_prefix(STREAM_PREFIX).unwrap_or(key);
        let row = self.row("channel", channel);
        row.stream = Some(key.to_owned());
        row
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Newest first, then by name, so what is active reads at the top.
    pub fn sorted(&self) -> Vec<&Row> {
        let mut v: Vec<&Row> = self.rows.values().collect();
        v.sort_by(|a, b| {
            let t = |r: &Row| r.last_seen.unwrap_or(f64::NEG_INFINITY);
            t(b).total_cmp(&t(a))
                .then_with(|| a.kind.cmp(b.kind))
                .then_with(|| a.name.cmp(&b.name))
        });
        v
    }
}

/// Raises `slot` to `t` (a newer sighting wins).
fn seen(slot: &mut Option<f64>, t: f64) {
    if t.is_finite() && slot.is_none_or(|s| s < t) {
        *slot = Some(t);
    }
}

pub fn run(cfg: &Config, args: &ChannelsArgs) -> Result<()> {
    let now = record::now_epoch();
    let mut table = Table::default();
    read_store(&cfg.db, now, &mut table)?;
    match cfg.redis.enabled() {
        Some(url) => {
            if let Err(e) = read_redis(cfg, url, args.sample, now, &mut table) {
                table.notes.push(format!(
                    "Redis at {} could not be read ({}); the rows show the store only",
                    crate::source::redis::redact(url),
                    term::error_text(&e)
                ));
            }
        }
        None => table
            .notes
            .push("the Redis source is off (--redis off): the rows show the store only".into()),
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let printed = match args.format {
        crate::cli::ChannelsFormat::Jsonl => print_jsonl(&table, &mut out),
        crate::cli::ChannelsFormat::Table => print_table(&table, now, &mut out),
    };
    let flushed = printed.and_then(|()| out.flush());
    // A reader that stopped early (`| head`) is not an error.
    match flushed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    for n in &table.notes {
        eprintln!("logtui: {n}");
    }
    Ok(())
}

/// Counts the store's Redis records per channel (their origin). One pass over the records
/// with `source = 'redis'`; a store without Redis records answers at once.
fn read_store(db: &std::path::Path, now: f64, table: &mut Table) -> Result<()> {
    if !db.exists() {
        table
            .notes
            .push(format!("no store at {} yet", db.display()));
        return Ok(());
    }
    db_path::check_readable(db)?;
    let conn = schema::open_read_only(db)
        .with_context(|| format!("cannot open the store at {}", db.display()))?;
    let mut st = conn
        .prepare(
            "SELECT origin, count(*), \
                    sum(level >= 30 AND level < 40), sum(level >= 40), \
                    sum(created >= ?1), max(created) \
             FROM records WHERE source = 'redis' GROUP BY origin",
        )
        .context("cannot read the store's channels")?;
    let mut rows = st
        .query([now - 60.0])
        .context("cannot read the store's channels")?;
    while let Some(r) = rows.next().context("cannot read the store's channels")? {
        let origin: String = r.get(0).unwrap_or_default();
        let n = |i: usize| {
            r.get::<_, Option<i64>>(i)
                .ok()
                .flatten()
                .unwrap_or(0)
                .max(0) as u64
        };
        let (total, warnings, errors, recent) = (n(1), n(2), n(3), n(4));
        let last: Option<f64> = r.get(5).ok().flatten();
        // A list's records carry the list key as their origin, as `list:KEY`.
        let row = match origin.strip_prefix(LIST_ORIGIN_PREFIX) {
            Some(key) => table.row("list", key),
            None => table.row("channel", &origin),
        };
        row.stored = Some(total);
        row.warnings = Some(warnings);
        row.errors = Some(errors);
        row.stored_rate = Some(recent as f64 / 60.0);
        if let Some(t) = last {
            seen(&mut row.last_seen, t);
        }
    }
    Ok(())
}

/// Asks Redis about every configured channel, their streams and the list keys: the one
/// server, or each primary of a cluster.
fn read_redis(
    cfg: &Config,
    url: &str,
    sample: f64,
    now: f64,
    table: &mut Table,
) -> redis::RedisResult<()> {
    let seed = crate::source::redis::cluster_seed(url);
    let nodes = match &seed {
        Some(seed) => primaries(seed)?,
        None => vec![url.to_owned()],
    };
    let patterns = &cfg.redis.channels;
    for (i, node) in nodes.iter().enumerate() {
        let mut con = open(node)?;
        // Any node of a cluster hears every PUBLISH (the bus broadcasts them): one sample.
        if i == 0 && sample > 0.0 {
            sample_live(
                &mut con,
                patterns,
                Duration::from_secs_f64(sample),
                now,
                table,
            )?;
            con.set_read_timeout(Some(REDIS_TIMEOUT))?;
        }
        read_node(&mut con, cfg, seed.is_some(), table)?;
        // The configuration refuses lists on a cluster.
        if seed.is_none() {
            read_lists(&mut con, cfg, table)?;
        }
    }
    if sample > 0.0 {
        // Channels that stayed silent get their zero, so "quiet" reads as measured (not the
        // sharded ones: the sample does not listen to SPUBLISH).
        for row in table.rows.values_mut() {
            if row.kind == "channel"
                && row.live_messages.is_none()
                && row.shard_subscribers.is_none()
            {
                row.live_messages = Some(0);
                row.live_rate = Some(0.0);
            }
        }
    }
    Ok(())
}

/// Lists consumed, with what this store's consumers (and any other) have in hand.
fn read_lists(
    con: &mut redis::Connection,
    cfg: &Config,
    table: &mut Table,
) -> redis::RedisResult<()> {
    for spec in &cfg.redis.list_keys {
        let key = list_key(spec);
        let len: u64 = redis::cmd("LLEN").arg(key).query(con)?;
        let processing = scan(
            con,
            &[format!("logtui:processing:{}:*", glob_escape(key))],
            Some("list"),
            "processing lists",
            &mut table.notes,
        )?;
        let mut pending = 0u64;
        for p in &processing {
            let n: u64 = redis::cmd("LLEN").arg(p).query(con)?;
            pending = pending.saturating_add(n);
        }
        let row = table.row("list", key);
        row.length = Some(len);
        row.pending = Some(pending);
    }
    Ok(())
}

/// A connection to one server, each command bounded by [`REDIS_TIMEOUT`].
fn open(url: &str) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(url)?;
    let con = client.get_connection_with_timeout(REDIS_TIMEOUT)?;
    con.set_read_timeout(Some(REDIS_TIMEOUT))?;
    con.set_write_timeout(Some(REDIS_TIMEOUT))?;
    Ok(con)
}

/// What one server (or one primary of a cluster) knows: channels with subscribers here, the
/// sharded channels it owns (`cluster`), and the streams it holds.
fn read_node(
    con: &mut redis::Connection,
    cfg: &Config,
    cluster: bool,
    table: &mut Table,
) -> redis::RedisResult<()> {
    let patterns = &cfg.redis.channels;
    // Channels with a subscriber right now (on a cluster, subscribed on this node).
    for (name, n) in numsub(con, patterns, "CHANNELS", "NUMSUB", table)? {
        let row = table.row("channel", &name);
        row.subscribers = Some(row.subscribers.unwrap_or(0).saturating_add(n));
    }
    if cluster {
        // The sharded channels of this node's slots, by the same patterns and by the
        // sharded channels logtui is told to read, each as itself.
        let mut shard_patterns = patterns.clone();
        shard_patterns.extend(cfg.redis.shard_channels.iter().map(|c| glob_escape(c)));
        for (name, n) in numsub(con, &shard_patterns, "SHARDCHANNELS", "SHARDNUMSUB", table)? {
            let row = table.row("channel", &name);
            row.shard_subscribers = Some(row.shard_subscribers.unwrap_or(0).saturating_add(n));
        }
    }
    // Streams beside the channels, as Smarter keeps them.
    let streams: Vec<String> = patterns
        .iter()
        .chain(&cfg.redis.shard_channels)
        .map(|p| format!("{STREAM_PREFIX}{p}"))
        .collect();
    let keys = scan(con, &streams, Some("stream"), "streams", &mut table.notes)?;
    for chunk in keys.chunks(PIPELINE) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("XLEN").arg(k);
            pipe.cmd("XREVRANGE")
                .arg(k)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let answers: Vec<redis::Value> = pipe.query(con)?;
        for (k, pair) in chunk.iter().zip(answers.chunks(2)) {
            let row = table.stream_row(k);
            row.stream_length = redis::from_redis_value_ref::<u64>(&pair[0]).ok();
            if let Some(t) = pair.get(1).and_then(newest_entry_time) {
                seen(&mut row.last_seen, t);
            }
        }
    }
    Ok(())
}

/// The channels `PUBSUB <list> pattern` names for any of `patterns`, with their `PUBSUB
/// <count>` subscribers; one channel per count command (a cluster refuses one naming the
/// sharded channels of two slots), pipelined.
fn numsub(
    con: &mut redis::Connection,
    patterns: &[String],
    list: &str,
    count: &str,
    table: &mut Table,
) -> redis::RedisResult<Vec<(String, u64)>> {
    let mut names = Vec::new();
    for p in patterns {
        let found: Vec<Vec<u8>> = redis::cmd("PUBSUB").arg(list).arg(p).query(con)?;
        names.extend(found.into_iter().map(lossy));
    }
    names.sort();
    names.dedup();
    let what = match list {
        "CHANNELS" => "channels with subscribers",
        _ => "sharded channels with subscribers",
    };
    cap(&mut names, what, &mut table.notes);
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(PIPELINE) {
        let mut pipe = redis::pipe();
        for name in chunk {
            pipe.cmd("PUBSUB").arg(count).arg(name);
        }
        let answers: Vec<Vec<(Vec<u8>, u64)>> = pipe.query(con)?;
        out.extend(answers.into_iter().flatten().map(|(n, c)| (lossy(n), c)));
    }
    Ok(out)
}

/// The URLs of a cluster's primaries, as `CLUSTER NODES` on the seed names them
/// ([`primary_urls`]).
fn primaries(seed: &str) -> redis::RedisResult<Vec<String>> {
    let mut con = open(seed)?;
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con)?;
    primary_urls(seed, &nodes)
}

/// Listens to the configured channels for `span` and counts what arrives on each.
fn sample_live(
    con: &mut redis::Connection,
    patterns: &[String],
    span: Duration,
    now: f64,
    table: &mut Table,
) -> redis::RedisResult<()> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut left_out = 0u64;
    {
        let mut ps = con.as_pubsub();
        for p in patterns {
            if crate::source::redis_dedupe::is_pattern(p) {
                ps.psubscribe(p)?;
            } else {
                ps.subscribe(p)?;
            }
        }
        let end = Instant::now() + span;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            ps.set_read_timeout(Some(left))?;
            match ps.get_message() {
                Ok(m) => {
                    let name = lossy(m.get_channel::<Vec<u8>>().unwrap_or_default());
                    let full = counts.len() >= MAX_NAMES;
                    match counts.get_mut(&name) {
                        Some(n) => *n += 1,
                        None if !full => {
                            counts.insert(name, 1);
                        }
                        None => left_out += 1,
                    }
                }
                Err(e) if e.is_timeout() => break,
                Err(e) => return Err(e),
            }
        }
    }
    if left_out > 0 {
        table.notes.push(format!(
            "the live sample heard more than {MAX_NAMES} channels; {left_out} messages on others are not shown"
        ));
    }
    let secs = span.as_secs_f64();
    for (name, n) in counts {
        let row = table.row("channel", &name);
        row.live_messages = Some(n);
        row.live_rate = Some(n as f64 / secs);
        seen(&mut row.last_seen, now);
    }
    Ok(())
}

/// Keys matching any of `patterns` (of `kind`, when given), by `SCAN`, at most [`MAX_NAMES`].
fn scan(
    con: &mut redis::Connection,
    patterns: &[String],
    kind: Option<&str>,
    what: &str,
    notes: &mut Vec<String>,
) -> redis::RedisResult<Vec<String>> {
    let mut keys = Vec::new();
    for p in patterns {
        let mut cursor = 0u64;
        loop {
            let mut c = redis::cmd("SCAN");
            c.arg(cursor).arg("MATCH").arg(p).arg("COUNT").arg(1000);
            if let Some(k) = kind {
                c.arg("TYPE").arg(k);
            }
            let (next, found): (u64, Vec<Vec<u8>>) = c.query(con)?;
            keys.extend(found.into_iter().map(lossy));
            cursor = next;
            if cursor == 0 || keys.len() > MAX_NAMES {
                break;
            }
        }
    }
    keys.sort();
    keys.dedup();
    cap(&mut keys, what, notes);
    Ok(keys)
}

/// Keeps the first [`MAX_NAMES`] of a listing and says how many it left out.
fn cap(names: &mut Vec<String>, what: &str, notes: &mut Vec<String>) {
    if names.len() > MAX_NAMES {
        notes.push(format!(
            "more than {MAX_NAMES} {what}: only the first {MAX_NAMES} are shown"
        ));
        names.truncate(MAX_NAMES);
    }
}

/// The time of a stream's newest entry, from its id (`<ms>-<seq>`), in seconds.
fn newest_entry_time(v: &redis::Value) -> Option<f64> {
    let entries: Vec<(String, redis::Value)> = redis::from_redis_value_ref(v).ok()?;
    let (id, _) = entries.first()?;
    EntryId::parse(id).map(|e| e.ms as f64 / 1000.0)
}

/// The key of a `--list-key` spec (`KEY`, `KEY:lpush`, `KEY:rpush`).
pub fn list_key(spec: &str) -> &str {
    match spec.rsplit_once(':') {
        Some((k, side))
            if side.eq_ignore_ascii_case("lpush") || side.eq_ignore_ascii_case("rpush") =>
        {
            k
        }
        _ => spec,
    }
}

/// `s` with the glob characters escaped, so a key is matched as itself inside a pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn print_jsonl(table: &Table, out: &mut impl Write) -> std::io::Result<()> {
    for r in table.sorted() {
        writeln!(out, "{}", r.to_json())?;
    }
    Ok(())
}

const HEADER: [&str; 9] = [
    "CHANNEL",
    "JOB",
    "LIVE/S",
    "SUBS",
    "STREAM",
    "STORED",
    "WARN",
    "ERR",
    "LAST SEEN",
];

fn print_table(table: &Table, now: f64, out: &mut impl Write) -> std::io::Result<()> {
    let cells: Vec<[String; 9]> = table
        .sorted()
        .into_iter()
        .map(|r| {
            let n = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
            let name = match r.kind {
                "list" => format!("list {}", escape_controls(&r.name)),
                _ => escape_controls(&r.name).into_owned(),
            };
            // A list shows its length (and values in hand) where a channel shows its stream.
            let stream = match r.kind {
                "list" => format!("{} (+{})", n(r.length), n(r.pending)),
                _ => n(r.stream_length),
            };
            [
                term::truncate(&name, 48).into_owned(),
                term::truncate(&escape_controls(r.job.as_deref().unwrap_or("-")), 40).into_owned(),
                r.live_rate.map_or("-".into(), |v| format!("{v:.1}")),
                subs(r),
                stream,
                n(r.stored),
                n(r.warnings),
                n(r.errors),
                r.last_seen.map_or("-".into(), |t| ago(now - t)),
            ]
        })
        .collect();
    let mut widths = HEADER.map(term::width);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(term::width(c));
        }
    }
    let line = |row: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            // Names left-aligned, numbers right-aligned, as `ls -l` reads.
            let cell = match i {
                0 | 1 => term::pad(c, w),
                _ => format!("{}{c}", " ".repeat(w.saturating_sub(term::width(c)))),
            };
            s.push_str(&cell);
            s.push_str("  ");
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&HEADER.map(String::from)))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    if table.is_empty() {
        writeln!(out, "(no channels, streams or lists seen)")?;
    }
    Ok(())
}

/// The SUBS cell: subscribers, and sharded ones marked `sh` (`2`, `1 sh`, `2+1 sh`).
fn subs(r: &Row) -> String {
    match (r.subscribers, r.shard_subscribers) {
        (None, None) => "-".into(),
        (Some(n), None) => n.to_string(),
        (None, Some(s)) => format!("{s} sh"),
        (Some(n), Some(s)) => format!("{n}+{s} sh"),
    }
}

/// `4s ago`, `12m ago`, `3h ago`, `2d ago`; `now` for under a second (and clock skew).
fn ago(secs: f64) -> String {
    match secs {
        s if s.is_nan() || s < 1.0 => "now".into(),
        s if s < 60.0 => format!("{}s ago", s as u64),
        s if s < 3600.0 => format!("{}m ago", (s / 60.0) as u64),
        s if s < 86_400.0 => format!("{}h ago", (s / 3600.0) as u64),
        s => format!("{}d ago", (s / 86_400.0) as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_join_their_channels_and_jobs_are_named() {
        let mut t = Table::default();
        t.row("channel", "logs:job_1").live_messages = Some(3);
        t.stream_row("stream:logs:job_1").stream_length = Some(7);
        t.row("channel", "logs:global").stored = Some(9);
        t.row("list", "redis").length = Some(2);
        assert_eq!(t.len(), 3);
        let job = t.row("channel", "logs:job_1").clone();
        assert_eq!(job.job.as_deref(), Some("job_1"));
        assert_eq!(
            (job.stream.as_deref(), job.stream_length, job.live_messages),
            (Some("stream:logs:job_1"), Some(7), Some(3))
        );
        assert_eq!(t.row("channel", "logs:global").job, None);
        assert_eq!(t.row("list", "redis").job, None);
    }

    #[test]
    fn newest_first_then_by_name() {
        let mut t = Table::default();
        seen(&mut t.row("channel", "b").last_seen, 10.0);
        seen(&mut t.row("channel", "a").last_seen, 10.0);
        seen(&mut t.row("channel", "c").last_seen, 20.0);
        t.row("channel", "d");
        seen(&mut t.row("channel", "c").last_seen, 5.0);
        let names: Vec<&str> = t.sorted().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b", "d"]);
    }

    #[test]
    fn entry_ids_give_times_and_list_specs_give_keys() {
        assert_eq!(list_key("redis"), "redis");
        assert_eq!(list_key("q:lpush"), "q");
        assert_eq!(list_key("a:b"), "a:b");
        assert_eq!(glob_escape("a*b[c]"), "a\\*b\\[c\\]");
    }

    #[test]
    fn the_table_escapes_names_and_aligns_numbers() {
        let mut t = Table::default();
        let r = t.row("channel", "logs:\u{1b}[2Jevil");
        r.stored = Some(12);
        r.last_seen = Some(95.0);
        t.row("list", "redis").length = Some(3);
        let mut out = Vec::new();
        print_table(&t, 100.0, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('\u{1b}'), "{s}");
        assert!(s.contains("logs:\\u{1b}[2Jevil"), "{s}");
        assert!(s.contains("5s ago"), "{s}");
        assert!(s.contains("list redis"), "{s}");
        assert!(s.contains("3 (+-)"), "{s}");
        let mut out = Vec::new();
        print_jsonl(&t, &mut out).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["stored"], 12);
        assert_eq!(first["last_seen"], "1970-01-01T00:01:35.000000Z");
    }

    #[test]
    fn subscribers_and_sharded_ones_share_a_cell() {
        let mut r = Row::default();
        assert_eq!(subs(&r), "-");
        r.shard_subscribers = Some(1);
        assert_eq!(subs(&r), "1 sh");
        r.subscribers = Some(2);
        assert_eq!(subs(&r), "2+1 sh");
    }

    #[test]
    fn ages_read_in_the_largest_unit() {
        assert_eq!(ago(0.4), "now");
        assert_eq!(ago(f64::NAN), "now");
        assert_eq!(ago(59.0), "59s ago");
        assert_eq!(ago(61.0), "1m ago");
        assert_eq!(ago(7200.0), "2h ago");
        assert_eq!(ago(200_000.0), "2d ago");
    }
}
