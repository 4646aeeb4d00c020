//! Who sent what: counts per channel (source, origin, job, logger subtree, job/origin family)
//! with warnings and errors apart, last seen and a recent timeline, for the channel picker.
//!
//! One aggregation, [`ChannelTable::add_row`], serves both the store scan and the live feed,
//! so the picker's numbers are the same whichever path a record took. A full `GROUP BY` over
//! millions of rows would stall; [`channels_since`] reads bounded pages of the rowid instead,
//! so a caller builds the table progressively and then keeps it current from the feed.
//! Memory is bounded: at most [`MAX_VALUES_PER_KIND`] values per kind, each at most
//! [`MAX_VALUE_BYTES`] and [`MAX_VALUE_BYTES_TOTAL`] in all (the records of values left out
//! are counted), at most [`BUCKETS`] timeline buckets per value, and at most
//! [`MAX_TREE_DEPTH`] levels of the logger tree.

use crate::record::{ERROR, Record, SourceKind, WARNING};
use crate::store::error::{StoreError, on};
use rusqlite::Connection;
use std::collections::HashMap;

/// What a channel is a value of: one of the filter fields a pane can be pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// The listener kind (`tcp`, `http`, … and logtui's own `internal`).
    Source,
    /// The peer address, socket path or channel.
    Origin,
    Job,
    /// A logger and everything below it: counts roll up, so `app` counts `app.db.pool`.
    Logger,
    /// A job family, [`job_family`]: `job_` counts every `job_<uuid>`, so a picker can show
    /// 10,000 one-record jobs as one row with the family's figures.
    JobFamily,
    /// An origin family, [`job_family`] of the origin: `logs:job_` counts every
    /// `logs:job_<uuid>` Redis channel.
    OriginFamily,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Source,
        ChannelKind::Origin,
        ChannelKind::Job,
        ChannelKind::Logger,
        ChannelKind::JobFamily,
        ChannelKind::OriginFamily,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Source => "source",
            ChannelKind::Origin => "origin",
            ChannelKind::Job => "job",
            ChannelKind::Logger => "logger",
            ChannelKind::JobFamily => "job family",
            ChannelKind::OriginFamily => "origin family",
        }
    }
}

/// Distinct values kept per kind. Smarter makes a fresh job id per record when a process has
/// no context, so jobs grow with the store; 100,000 rows of about 150 bytes each is 15 MB, a
/// bounded share of the UI's 100 MB, and far more than a person scrolls through.
pub const MAX_VALUES_PER_KIND: usize = 100_000;

/// The longest value kept, in bytes: a row names a channel a person picks, and a stranger's
/// megabyte-long job id must not be held 100,000 times. Longer values are left out (counted).
pub const MAX_VALUE_BYTES: usize = 1024;

/// The bytes of values one table keeps, all kinds together: with [`MAX_VALUES_PER_KIND`]
/// this bounds the table (and the picker's rows, which copy the values) whatever is sent.
pub const MAX_VALUE_BYTES_TOTAL: usize = 8 << 20;

/// Logger tree levels kept: a name with more dots counts towards its ancestor at this depth
/// (whose subtree holds it), so a stranger's 10,000-dot name costs 12 updates, not 10,000.
pub const MAX_TREE_DEPTH: usize = 12;

/// Seconds per timeline bucket, and buckets kept: ten minutes of history in 10 s steps.
pub const BUCKET_SECS: f64 = 10.0;
pub const BUCKETS: usize = 60;

/// Rows one [`channels_since`] call reads: about 50 ms of work, so progress is reported
/// often and a scan can be stopped between pages.
pub const SCAN_PAGE: usize = 50_000;

/// The timeline bucket of an epoch time; None for a time that is not finite.
pub fn bucket_of(created: f64) -> Option<i64> {
    let b = (created / BUCKET_SECS).floor();
    // `as` saturates; a time outside ±1e17 s is no time a timeline shows anyway.
    b.is_finite().then_some(b as i64)
}

/// Counts per 10 s bucket for the newest [`BUCKETS`] buckets a channel has, sparse: a job
/// seen once holds one entry, not sixty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Ascending by bucket, at most [`BUCKETS`] entries.
    buckets: Vec<(i64, u32)>,
}

impl Timeline {
    pub fn add(&mut self, bucket: i64, n: u32) {
        match self.buckets.binary_search_by_key(&bucket, |&(b, _)| b) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(n),
            Err(i) => {
                if i == 0 && self.buckets.len() >= BUCKETS {
                    return; // Older than everything kept.
                }
                self.buckets.insert(i, (bucket, n));
                if self.buckets.len() > BUCKETS {
                    self.buckets.remove(0);
                }
            }
        }
    }

    /// The buckets kept and their counts, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.buckets.iter().copied()
    }

    fn merge(&mut self, other: &Timeline) {
        for &(b, n) in &other.buckets {
            self.add(b, n);
        }
    }

    /// Records in buckets `from..=to`.
    pub fn count_between(&self, from: i64, to: i64) -> u64 {
        self.buckets
            .iter()
            .filter(|(b, _)| (from..=to).contains(b))
            .map(|&(_, n)| u64::from(n))
            .sum()
    }

    /// Records per second over the last minute before `now`.
    pub fn rate(&self, now: f64) -> f64 {
        let Some(nb) = bucket_of(now) else { return 0.0 };
        let per_minute = (60.0 / BUCKET_SECS) as i64;
        self.count_between(nb - per_minute + 1, nb) as f64 / 60.0
    }

    /// The counts of the [`BUCKETS`] buckets up to `now`, folded into `cells` cells, oldest
    /// first: what a sparkline strip draws.
    pub fn strip(&self, now: f64, cells: usize) -> Vec<u64> {
        let mut out = vec![0u64; cells];
        let Some(nb) = bucket_of(now) else { return out };
        if cells == 0 {
            return out;
        }
        let first = nb - BUCKETS as i64 + 1;
        for &(b, n) in &self.buckets {
            if (first..=nb).contains(&b) {
                let i = ((b - first) as usize * cells) / BUCKETS;
                out[i.min(cells - 1)] += u64::from(n);
            }
        }
        out
    }
}

/// What is known of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    pub total: u64,
    /// Records at 30 ≤ level < 40.
    pub warnings: u64,
    /// Records at level ≥ 40.
    pub errors: u64,
    pub first_id: i64,
    pub last_id: i64,
    /// The newest `created` (the sender's clock); `-inf` when no record had a finite time.
    pub last_seen: f64,
    /// For origins: the process name and pid of the newest record that gave them.
    pub process_name: Option<String>,
    pub pid: Option<i64>,
    /// For origins: the source kind of the newest record, so a picker can tell a Redis
    /// channel (`logs:global`) from a socket peer.
    pub source: Option<SourceKind>,
    pub timeline: Timeline,
}

impl ChannelStats {
    fn new(id: i64) -> ChannelStats {
        ChannelStats {
            total: 0,
            warnings: 0,
            errors: 0,
            first_id: id,
            last_id: id,
            last_seen: f64::NEG_INFINITY,
            process_name: None,
            pid: None,
            source: None,
            timeline: Timeline::default(),
        }
    }

    fn add(&mut self, r: &ChannelRow<'_>, bucket: Option<i64>) {
        self.total += 1;
        if r.level >= ERROR {
            self.errors += 1;
        } else if r.level >= WARNING {
            self.warnings += 1;
        }
        self.first_id = self.first_id.min(r.id);
        self.last_id = self.last_id.max(r.id);
        self.last_seen = self.last_seen.max(r.created);
        if let Some(b) = bucket {
            self.timeline.add(b, 1);
        }
    }

    /// Keeps the process of the newest record that named one; allocates only on a change.
    fn note_process(&mut self, r: &ChannelRow<'_>) {
        if r.id >= self.last_id || self.source.is_none() {
            self.source = Some(r.source);
        }
        if (r.process.is_some() || r.process_name.is_some()) && r.id >= self.last_id {
            self.pid = r.process;
            if self.process_name.as_deref() != r.process_name {
                self.process_name = r.process_name.map(str::to_owned);
            }
        }
    }

    fn merge(&mut self, o: &ChannelStats) {
        let newer = o.last_id > self.last_id;
        if newer || self.source.is_none() {
            self.source = o.source.or(self.source);
        }
        self.total += o.total;
        self.warnings += o.warnings;
        self.errors += o.errors;
        self.first_id = self.first_id.min(o.first_id);
        self.last_id = self.last_id.max(o.last_id);
        self.last_seen = self.last_seen.max(o.last_seen);
        if newer && (o.pid.is_some() || o.process_name.is_some()) {
            self.pid = o.pid;
            self.process_name.clone_from(&o.process_name);
        }
        self.timeline.merge(&o.timeline);
    }
}

/// The fields of one record the table reads, borrowed: the scan builds these straight from
/// SQLite's buffers, the feed from a [`Record`].
#[derive(Debug, Clone, Copy)]
pub struct ChannelRow<'a> {
    pub id: i64,
    pub created: f64,
    pub level: i32,
    pub source: SourceKind,
    pub origin: &'a str,
    pub job: Option<&'a str>,
    pub logger: &'a str,
    pub process: Option<i64>,
    pub process_name: Option<&'a str>,
}

impl<'a> ChannelRow<'a> {
    pub fn of(id: i64, r: &'a Record) -> ChannelRow<'a> {
        ChannelRow {
            id,
            created: r.created,
            level: r.level,
            source: r.source,
            origin: &r.origin,
            job: r.job.as_deref(),
            logger: &r.logger,
            process: r.process,
            process_name: r.process_name.as_deref(),
        }
    }
}

/// The family of a job: its name up to and including the first `_` or `.` (`job_` for
/// `job_<uuid>`, `User.` for `User.admin`); None when it has neither. Exactly the jobs that
/// start with a family have it, so the family's GLOB (`job_*`) selects what it counts.
pub fn job_family(job: &str) -> Option<&str> {
    job.find(['_', '.']).map(|i| &job[..=i])
}

/// The nodes of the logger tree a name counts towards: each prefix ending before a dot, then
/// the name itself, at most [`MAX_TREE_DEPTH`] of them. Each node's subtree, as
/// `Filter.logger_tree` reads it (the name, or names starting with it and a dot), holds the
/// name, so a node's count is exactly what pointing a pane at it shows.
pub fn logger_nodes(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.')
        .map(move |(i, _)| &name[..i])
        .chain(std::iter::once(name))
        .take(MAX_TREE_DEPTH)
}

/// Per-kind counts of channels, built from rows in any order and from partial tables merged
/// together (every figure is a sum, min or max, so order does not matter).
///
/// logtui's own records count only under the `internal` source: a pane shows them only when
/// pointed at that source, so an origin or logger row for them would show nothing.
#[derive(Debug, Clone)]
pub struct ChannelTable {
    maps: [HashMap<String, ChannelStats>; 6],
    /// Records not counted under a value of each kind because the kind was full.
    left_out: [u64; 6],
    cap: usize,
    /// Bytes of the values kept, against [`MAX_VALUE_BYTES_TOTAL`].
    key_bytes: usize,
    /// Bumped whenever a value is added, so a view knows when its row list is stale.
    keys_gen: u64,
    rows: u64,
    max_id: Option<i64>,
}

impl Default for ChannelTable {
    fn default() -> Self {
        ChannelTable::new(MAX_VALUES_PER_KIND)
    }
}

impl ChannelTable {
    /// An empty table keeping at most `cap` values per kind.
    pub fn new(cap: usize) -> ChannelTable {
        ChannelTable {
            maps: Default::default(),
            left_out: [0; 6],
            cap,
            key_bytes: 0,
            keys_gen: 0,
            rows: 0,
            max_id: None,
        }
    }

    pub fn add(&mut self, rec: &Record, id: i64) {
        self.add_row(&ChannelRow::of(id, rec));
    }

    /// Counts one record under each channel it belongs to.
    pub fn add_row(&mut self, r: &ChannelRow<'_>) {
        self.rows += 1;
        self.max_id = Some(self.max_id.map_or(r.id, |m| m.max(r.id)));
        let bucket = bucket_of(r.created);
        self.bump(ChannelKind::Source, r.source.as_str(), r, bucket);
        if r.source == SourceKind::Internal {
            return;
        }
        self.bump(ChannelKind::Origin, r.origin, r, bucket);
        // Every origin's family counts (the family's GLOB selects peers and channels
        // alike), though a picker groups only Redis channels.
        if let Some(fam) = job_family(r.origin) {
            self.bump(ChannelKind::OriginFamily, fam, r, bucket);
        }
        if let Some(j) = r.job {
            self.bump(ChannelKind::Job, j, r, bucket);
            if let Some(fam) = job_family(j) {
                self.bump(ChannelKind::JobFamily, fam, r, bucket);
            }
        }
        for node in logger_nodes(r.logger) {
            self.bump(ChannelKind::Logger, node, r, bucket);
        }
    }

    fn bump(&mut self, kind: ChannelKind, value: &str, r: &ChannelRow<'_>, bucket: Option<i64>) {
        let k = kind as usize;
        if let Some(st) = self.maps[k].get_mut(value) {
            Self::count(kind, st, r, bucket);
            return;
        }
        if !self.room_for(k, value) {
            self.left_out[k] += 1;
            return;
        }
        self.key_bytes += value.len();
        self.keys_gen += 1;
        let st = self.maps[k]
            .entry(value.to_owned())
            .or_insert_with(|| ChannelStats::new(r.id));
        Self::count(kind, st, r, bucket);
    }

    fn count(kind: ChannelKind, st: &mut ChannelStats, r: &ChannelRow<'_>, bucket: Option<i64>) {
        if kind == ChannelKind::Origin {
            st.note_process(r);
        }
        st.add(r, bucket);
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &ChannelTable) {
        self.rows += other.rows;
        self.max_id = match (self.max_id, other.max_id) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for k in 0..ChannelKind::ALL.len() {
            self.left_out[k] += other.left_out[k];
            for (v, st) in &other.maps[k] {
                if let Some(mine) = self.maps[k].get_mut(v) {
                    mine.merge(st);
                } else if !self.room_for(k, v) {
                    self.left_out[k] += st.total;
                } else {
                    self.key_bytes += v.len();
                    self.keys_gen += 1;
                    self.maps[k].insert(v.clone(), st.clone());
                }
            }
        }
    }

    /// Whether a new value may be kept under kind `k`.
    fn room_for(&self, k: usize, value: &str) -> bool {
        self.maps[k].len() < self.cap
            && value.len() <= MAX_VALUE_BYTES
            && self.key_bytes + value.len() <= MAX_VALUE_BYTES_TOTAL
    }

    pub fn get(&self, kind: ChannelKind, value: &str) -> Option<&ChannelStats> {
        self.maps[kind as usize].get(value)
    }

    /// Every value of `kind` with its figures, in no particular order.
    pub fn iter(&self, kind: ChannelKind) -> impl Iterator<Item = (&str, &ChannelStats)> {
        self.maps[kind as usize]
            .iter()
            .map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self, kind: ChannelKind) -> usize {
        self.maps[kind as usize].len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Records not counted under any value of `kind` because it held `cap` values already.
    pub fn left_out(&self, kind: ChannelKind) -> u64 {
        self.left_out[kind as usize]
    }

    /// Changes whenever a value is added.
    pub fn keys_gen(&self) -> u64 {
        self.keys_gen
    }

    /// Records counted.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The largest row id counted.
    pub fn max_id(&self) -> Option<i64> {
        self.max_id
    }
}

/// What one [`channels_since`] call read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanStep {
    pub rows: u64,
    /// The last id read (`after_id` when none was).
    pub last_id: i64,
    /// Nothing is left up to `until_id`.
    pub done: bool,
}

/// What [`id_span`] asks. Two subqueries, not `SELECT min(id), max(id)`: SQLite answers a
/// lone `min` or `max` from the rowid's ends, but with both in one SELECT it scans every
/// record, which each picker scan (and each catch-up) paid: seconds on 10M records.
pub const ID_SPAN_SQL: &str = "SELECT (SELECT min(id) FROM records), (SELECT max(id) FROM records)";

/// The smallest and largest row id in the store, None when it is empty: the span a scan
/// covers, and (their difference) an estimate of its size for progress.
pub fn id_span(conn: &Connection) -> Result<Option<(i64, i64)>, StoreError> {
    conn.query_row(ID_SPAN_SQL, [], |r| {
        Ok(
            match (r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            },
        )
    })
    .map_err(on(conn, "read the id span"))
}

/// Counts into `table` up to `limit_rows` records with `after_id < id <= until_id`, in id
/// order: a rowid range scan, so each call is bounded work whatever the store's size.
pub fn channels_since(
    conn: &Connection,
    after_id: i64,
    until_id: i64,
    limit_rows: usize,
    table: &mut ChannelTable,
) -> Result<ScanStep, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, created, level, source, origin, job, logger, process, process_name \
             FROM records WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
        )
        .map_err(on(conn, "prepare the channel scan"))?;
    let limit = i64::try_from(limit_rows).unwrap_or(i64::MAX);
    let mut rows = st
        .query(rusqlite::params![after_id, until_id, limit])
        .map_err(on(conn, "run the channel scan"))?;
    let mut step = ScanStep {
        rows: 0,
        last_id: after_id,
        done: false,
    };
    while let Some(row) = rows.next().map_err(on(conn, "read the channel scan"))? {
        let mut read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            let text = |i: usize| -> rusqlite::Result<&str> {
                // Only logtui writes these; a non-text value (made by hand) reads as empty.
                Ok(row
                    .get_ref(i)?
                    .as_str_or_null()
                    .ok()
                    .flatten()
                    .unwrap_or(""))
            };
            let opt = |i: usize| -> rusqlite::Result<Option<&str>> {
                Ok(row.get_ref(i)?.as_str_or_null().ok().flatten())
            };
            let r = ChannelRow {
                id: row.get(0)?,
                created: row.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
                level: row.get::<_, Option<i32>>(2)?.unwrap_or(0),
                source: SourceKind::parse(text(3)?).unwrap_or(SourceKind::Internal),
                origin: text(4)?,
                job: opt(5)?,
                logger: text(6)?,
                process: row.get::<_, Option<i64>>(7).ok().flatten(),
                process_name: opt(8)?,
            };
            step.last_id = r.id;
            table.add_row(&r);
            Ok(())
        };
        read(row).map_err(on(conn, "decode a channel scan row"))?;
        step.rows += 1;
    }
    step.done = (step.rows as usize) < limit_rows || step.last_id >= until_id;
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CRITICAL, DEBUG, INFO};

    fn rec(logger: &str, level: i32, job: Option<&str>) -> Record {
        let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:1");
        r.logger = logger.into();
        r.set_level(level);
        r.job = job.map(str::to_owned);
        r.created = 1000.0;
        r
    }

    #[test]
    fn counts_warnings_and_errors_apart() {
        let mut t = ChannelTable::default();
        for (i, l) in [DEBUG, INFO, WARNING, 35, ERROR, CRITICAL]
            .into_iter()
            .enumerate()
        {
            t.add(&rec("app", l, None), i as i64 + 1);
        }
        let s = t.get(ChannelKind::Logger, "app").unwrap();
        assert_eq!((s.total, s.warnings, s.errors), (6, 2, 2));
        assert_eq!((s.first_id, s.last_id), (1, 6));
        assert_eq!(t.get(ChannelKind::Source, "tcp").unwrap().total, 6);
        assert_eq!(t.get(ChannelKind::Origin, "127.0.0.1:1").unwrap().total, 6);
        assert!(t.get(ChannelKind::Job, "x").is_none());
    }

    #[test]
    fn logger_counts_roll_up_the_tree() {
        let mut t = ChannelTable::default();
        t.add(&rec("app", INFO, None), 1);
        t.add(&rec("app.db", ERROR, None), 2);
        t.add(&rec("app.db.pool", WARNING, None), 3);
        t.add(&rec("apps", INFO, None), 4);
        let get = |n| t.get(ChannelKind::Logger, n).map(|s| (s.total, s.errors));
        assert_eq!(get("app"), Some((3, 1)));
        assert_eq!(get("app.db"), Some((2, 1)));
        assert_eq!(get("app.db.pool"), Some((1, 0)));
        assert_eq!(get("apps"), Some((1, 0)));
        assert_eq!(t.len(ChannelKind::Logger), 4);
    }

    #[test]
    fn deep_names_stop_at_the_depth_cap() {
        let name = vec!["a"; 10_000].join(".");
        assert_eq!(logger_nodes(&name).count(), MAX_TREE_DEPTH);
        let last = logger_nodes(&name).last().unwrap();
        // The deepest node kept is an ancestor of the name, so its subtree shows it.
        assert!(name.starts_with(&format!("{last}.")));
        assert_eq!(logger_nodes("").collect::<Vec<_>>(), vec![""]);
        assert_eq!(
            logger_nodes("a..b").collect::<Vec<_>>(),
            vec!["a", "a.", "a..b"]
        );
    }

    #[test]
    fn caps_values_and_counts_what_was_left_out() {
        let mut t = ChannelTable::new(3);
        for i in 0..10 {
            t.add(&rec("app", INFO, Some(&format!("job{i}"))), i + 1);
        }
        assert_eq!(t.len(ChannelKind::Job), 3);
        assert_eq!(t.left_out(ChannelKind::Job), 7);
        // Values already kept still count.
        t.add(&rec("app", INFO, Some("job0")), 11);
        assert_eq!(t.get(ChannelKind::Job, "job0").unwrap().total, 2);
        let mut u = ChannelTable::new(3);
        u.merge(&t);
        let mut extra = ChannelTable::new(10);
        extra.add(&rec("app", INFO, Some("other")), 12);
        u.merge(&extra);
        assert_eq!(u.len(ChannelKind::Job), 3);
        assert_eq!(u.left_out(ChannelKind::Job), 8);
        // A value too long to keep is left out too; its shorter ancestors still count.
        let mut t = ChannelTable::default();
        let long = format!("a.{}", "x".repeat(MAX_VALUE_BYTES));
        t.add(&rec(&long, INFO, Some(&"j".repeat(MAX_VALUE_BYTES + 1))), 1);
        assert_eq!(t.len(ChannelKind::Job), 0);
        assert_eq!(t.left_out(ChannelKind::Job), 1);
        assert_eq!(t.get(ChannelKind::Logger, "a").unwrap().total, 1);
        assert_eq!(t.left_out(ChannelKind::Logger), 1);
    }

    #[test]
    fn value_bytes_are_bounded_in_total() {
        let mut t = ChannelTable::default();
        let n = MAX_VALUE_BYTES_TOTAL / MAX_VALUE_BYTES + 10;
        for i in 0..n {
            let job = format!("{i:0>width$}", width = MAX_VALUE_BYTES);
            t.add(&rec("app", INFO, Some(&job)), i as i64);
        }
        assert!(t.len(ChannelKind::Job) < n);
        assert!(t.left_out(ChannelKind::Job) >= 10);
    }

    #[test]
    fn merged_halves_equal_the_whole() {
        let recs: Vec<Record> = (0..200)
            .map(|i| {
                let mut r = rec(
                    ["a", "a.b", "c"][i % 3],
                    [INFO, WARNING, ERROR][i % 4 % 3],
                    None,
                );
                r.job = (i % 5 == 0).then(|| format!("j{}", i % 7));
                r.created = 1000.0 + i as f64;
                r.process = Some(i as i64);
                r
            })
            .collect();
        let mut whole = ChannelTable::default();
        let (mut a, mut b) = (ChannelTable::default(), ChannelTable::default());
        for (i, r) in recs.iter().enumerate() {
            whole.add(r, i as i64);
            if i % 2 == 0 { &mut a } else { &mut b }.add(r, i as i64);
        }
        b.merge(&a);
        for k in ChannelKind::ALL {
            assert_eq!(whole.len(k), b.len(k));
            for (v, s) in whole.iter(k) {
                assert_eq!(Some(s), b.get(k, v), "{k:?} {v}");
            }
        }
        assert_eq!(
            whole.get(ChannelKind::Origin, "127.0.0.1:1").unwrap().pid,
            Some(199)
        );
    }

    #[test]
    fn job_families_count_their_members_and_origins_keep_their_source() {
        assert_eq!(job_family("job_1f2e"), Some("job_"));
        assert_eq!(job_family("User.admin"), Some("User."));
        assert_eq!(job_family("a.b_c"), Some("a."));
        assert_eq!(job_family("3f2c-9a"), None);
        let mut t = ChannelTable::default();
        for (i, j) in ["job_a", "job_b", "User.x", "plain"]
            .into_iter()
            .enumerate()
        {
            t.add(&rec("app", ERROR, Some(j)), i as i64 + 1);
        }
        let fam = t.get(ChannelKind::JobFamily, "job_").unwrap();
        assert_eq!((fam.total, fam.errors, fam.last_id), (2, 2, 2));
        assert_eq!(t.len(ChannelKind::JobFamily), 2);
        let mut r = Record::new(SourceKind::Redis, "logs:global");
        r.logger = "app".into();
        t.add(&r, 9);
        let o = |t: &ChannelTable, v| t.get(ChannelKind::Origin, v).unwrap().source;
        assert_eq!(o(&t, "logs:global"), Some(SourceKind::Redis));
        assert_eq!(o(&t, "127.0.0.1:1"), Some(SourceKind::Tcp));
    }

    #[test]
    fn internal_records_count_only_under_their_source() {
        let mut t = ChannelTable::default();
        t.add(&Record::internal(WARNING, "logtui.alerts", "x".into()), 1);
        assert_eq!(t.get(ChannelKind::Source, "internal").unwrap().warnings, 1);
        assert_eq!(t.len(ChannelKind::Logger), 0);
        assert_eq!(t.len(ChannelKind::Origin), 0);
    }

    #[test]
    fn timeline_keeps_the_newest_buckets_and_gives_a_rate() {
        let mut tl = Timeline::default();
        for b in 0..100 {
            tl.add(b, 1);
        }
        tl.add(-5, 1); // too old to keep
        assert_eq!(tl.buckets.len(), BUCKETS);
        assert_eq!(tl.buckets[0].0, 40);
        let now = 99.0 * BUCKET_SECS + 1.0;
        // The last minute is six buckets of one record each.
        assert!((tl.rate(now) - 6.0 / 60.0).abs() < 1e-9);
        let strip = tl.strip(now, 6);
        assert_eq!(strip, vec![10; 6]);
        assert_eq!(tl.strip(now + 1e6, 4), vec![0; 4]);
        assert_eq!(bucket_of(f64::NAN), None);
    }
}
