//! The channel picker (`c`): a fuzzy-searchable list of everything a pane can show (sources,
//! origins, jobs, logtui's own channel, the logger tree), each with its counts and a timeline.
//!
//! Two parts. [`Channels`] is the model: a [`ChannelTable`] that a scan thread fills from the
//! store (its own read-only connection, bounded pages, progress reported) while the live feed
//! keeps it current, so it works in `view` too and survives the picker closing. [`Picker`] is
//! the popup: the query, the cursor and the choices; it scores rows only when the query
//! changes (only the previous matches when the query grew) and builds only the visible lines,
//! so 10,000 distinct jobs cost a keystroke little. A family of more than [`GROUP_MIN`] jobs
//! (`job_<uuid>`) or Redis channels (`logs:job_<uuid>`) is one folded row whose choice is the
//! family's GLOB; Redis channels and lists read as `redis logs:global`, `redis list KEY`.
//!
//! A feed row and a scanned row must not both be counted. Each scan covers `(after, until]`,
//! `until` being the store's newest id when the scan starts; feed rows above the newest scan's
//! `until` are counted from the feed, the rest by the scan. Until a scan says its `until`, feed
//! rows wait in a bounded buffer. When the feed drops batches, a catch-up scan reads them.

use super::detail::glob_literal;
use super::pane::Scope;
use super::text;
use super::theme::Theme;
use crate::record::SourceKind;
use crate::store::read::channels::{
    ChannelKind, ChannelRow, ChannelStats, ChannelTable, SCAN_PAGE, channels_since, id_span,
    job_family, logger_nodes,
};
use crate::store::{self, CommittedBatch, Filter, MAX_CHOICES};
use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

/// Feed rows held while the newest scan has not said where it stops. It says so at once (one
/// `max(id)` lookup), so this is a few frames of feed; past it rows are counted as lost.
const MAX_EARLY: usize = 20_000;

/// Scans running at once: one over the store, plus catch-ups after the feed dropped batches.
/// Past this a drop is only noted (the counts may then be short).
const MAX_SCANS: usize = 4;

/// Scan pages merged per UI loop: each is up to [`SCAN_PAGE`] rows' worth of values, so the
/// keys stay responsive while a big store is counted.
const PAGES_PER_POLL: usize = 2;

/// How often the row list is rebuilt while new values keep arriving (counts shown are always
/// current; only the set of rows waits).
const REBUILD_EVERY: Duration = Duration::from_millis(500);

/// The longest query: a bound on what one keystroke scores against.
const MAX_QUERY: usize = 256;

/// A job family with more members than this is one folded row (`job_* (10,412 jobs)`):
/// Smarter's one-record `job_<uuid>` jobs would otherwise bury the few long-lived ones.
pub const GROUP_MIN: usize = 20;

/// A feed row kept until the newest scan's `until` is known.
struct EarlyRow {
    id: i64,
    created: f64,
    level: i32,
    source: SourceKind,
    origin: String,
    job: Option<String>,
    logger: String,
    process: Option<i64>,
    process_name: Option<String>,
}

impl EarlyRow {
    fn row(&self) -> ChannelRow<'_> {
        ChannelRow {
            id: self.id,
            created: self.created,
            level: self.level,
            source: self.source,
            origin: &self.origin,
            job: self.job.as_deref(),
            logger: &self.logger,
            process: self.process,
            process_name: self.process_name.as_deref(),
        }
    }
}

enum ScanMsg {
    /// The scan covers `(after, until]`, about `estimate` rows.
    Until {
        until: i64,
        estimate: u64,
    },
    Page {
        table: Box<ChannelTable>,
        rows: u64,
    },
    Done,
    Failed(String),
}

/// One scan thread, stopped when dropped.
struct ScanJob {
    rx: Receiver<ScanMsg>,
    stop: Arc<AtomicBool>,
    after: i64,
    until: Option<i64>,
    scanned: u64,
    estimate: u64,
    done: bool,
}

impl Drop for ScanJob {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_scan(path: &Path, after: i64) -> Result<ScanJob, String> {
    // Two pages in flight at most, so a fast scan cannot pile up tables the UI has not merged.
    let (tx, rx) = sync_channel(2);
    let stop = Arc::new(AtomicBool::new(false));
    let (p, s) = (path.to_owned(), stop.clone());
    std::thread::Builder::new()
        .name("logtui-channels".into())
        .spawn(move || scan(&p, after, &tx, &s))
        .map_err(|e| format!("cannot start the channel scan: {e}"))?;
    Ok(ScanJob {
        rx,
        stop,
        after,
        until: None,
        scanned: 0,
        estimate: 0,
        done: false,
    })
}

/// The scan thread: says where it stops, then sends one partial table per page.
fn scan(path: &Path, after: i64, tx: &SyncSender<ScanMsg>, stop: &AtomicBool) {
    let fail = |e: store::StoreError| {
        let _ = tx.send(ScanMsg::Failed(crate::term::error_text(&e)));
    };
    let conn = match store::open_read_only(path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // A scan reads each page once: a big cache would only hold the whole store in memory.
    super::reader::bounded_cache(&conn);
    let (until, estimate) = match id_span(&conn) {
        Ok(Some((lo, hi))) => (
            hi.max(after),
            u64::try_from(hi - (lo - 1).max(after)).unwrap_or(0),
        ),
        Ok(None) => (after, 0),
        Err(e) => return fail(e),
    };
    if tx.send(ScanMsg::Until { until, estimate }).is_err() {
        return;
    }
    let mut at = after;
    while !stop.load(Ordering::Relaxed) {
        let mut table = ChannelTable::default();
        match channels_since(&conn, at, until, SCAN_PAGE, &mut table) {
            Ok(step) => {
                at = step.last_id;
                if tx
                    .send(ScanMsg::Page {
                        table: Box::new(table),
                        rows: step.rows,
                    })
                    .is_err()
                {
                    return;
                }
                if step.done {
                    let _ = tx.send(ScanMsg::Done);
                    return;
                }
            }
            Err(e) => return fail(e),
        }
    }
}

/// The picker's model: every channel's figures, from the store and the live feed together.
pub struct Channels {
    table: ChannelTable,
    path: PathBuf,
    /// The newest last.
    scans: Vec<ScanJob>,
    /// Feed rows above this id are counted from the feed; None while the newest scan has not
    /// said where it stops (rows wait in `early`).
    gate: Option<i64>,
    early: Vec<EarlyRow>,
    /// The highest `until` a scan has announced: rows up to it are the scans' to count.
    covered: i64,
    /// The highest id counted from the feed.
    feed_high: i64,
    /// Rows that may be missing from the counts (the early buffer overflowed, too many
    /// catch-ups at once).
    pub lost: u64,
    pub error: Option<String>,
}

impl Channels {
    /// Starts counting the store at `path` on a new thread; returns at once.
    pub fn start(path: &Path) -> Channels {
        let mut c = Channels {
            table: ChannelTable::default(),
            path: path.to_owned(),
            scans: Vec::new(),
            gate: None,
            early: Vec::new(),
            covered: 0,
            feed_high: 0,
            lost: 0,
            error: None,
        };
        c.spawn(0);
        c
    }

    fn spawn(&mut self, after: i64) {
        match spawn_scan(&self.path, after) {
            Ok(j) => {
                self.scans.push(j);
                self.gate = None;
            }
            Err(e) => {
                self.error = Some(e);
                // Without a scan the feed alone counts, from here on.
                self.gate = Some(self.covered.max(self.feed_high));
            }
        }
    }

    pub fn table(&self) -> &ChannelTable {
        &self.table
    }

    /// Counts what the store committed (each row once: see the module comment).
    pub fn on_batch(&mut self, b: &CommittedBatch) {
        for (id, rec) in &b.rows {
            match self.gate {
                Some(u) if *id > u => {
                    self.table.add(rec, *id);
                    self.feed_high = self.feed_high.max(*id);
                }
                Some(_) => {}
                None if self.early.len() < MAX_EARLY => self.early.push(EarlyRow {
                    id: *id,
                    created: rec.created,
                    level: rec.level,
                    source: rec.source,
                    origin: rec.origin.clone(),
                    job: rec.job.clone(),
                    logger: rec.logger.clone(),
                    process: rec.process,
                    process_name: rec.process_name.clone(),
                }),
                None => self.lost += 1,
            }
        }
    }

    /// The feed dropped batches: a catch-up scan reads what they held from the store.
    pub fn on_missed(&mut self) {
        match self.gate {
            None => {
                // The newest scan has counted nothing yet: start it again, it will see more.
                if let Some(j) = self.scans.pop() {
                    let after = j.after;
                    drop(j);
                    self.spawn(after);
                }
            }
            Some(u) if self.scans.iter().filter(|j| !j.done).count() < MAX_SCANS => {
                self.spawn(u.max(self.feed_high));
            }
            Some(_) => self.lost += 1,
        }
    }

    /// Merges what the scans have read since. Returns whether anything changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        let newest = self.scans.len().saturating_sub(1);
        let mut gate = None;
        for (i, j) in self.scans.iter_mut().enumerate() {
            for _ in 0..PAGES_PER_POLL {
                let msg = match j.rx.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        j.done = true;
                        break;
                    }
                };
                changed = true;
                match msg {
                    ScanMsg::Until { until, estimate } => {
                        j.until = Some(until);
                        j.estimate = estimate;
                        if i == newest {
                            gate = Some(until);
                        }
                    }
                    ScanMsg::Page { table, rows } => {
                        self.table.merge(&table);
                        j.scanned += rows;
                    }
                    ScanMsg::Done => j.done = true,
                    ScanMsg::Failed(e) => {
                        self.error = Some(e);
                        j.done = true;
                    }
                }
            }
        }
        if let Some(u) = gate {
            self.gate = Some(u);
            self.covered = self.covered.max(u);
            for r in std::mem::take(&mut self.early) {
                if r.id > u {
                    self.table.add_row(&r.row());
                    self.feed_high = self.feed_high.max(r.id);
                }
            }
        }
        // A scan whose `until` never came (it failed at once) leaves the gate open.
        if self.gate.is_none() && self.scans.last().is_some_and(|j| j.done) {
            let from = self.covered.max(self.feed_high);
            self.gate = Some(from);
            for r in std::mem::take(&mut self.early) {
                if r.id > from {
                    self.table.add_row(&r.row());
                    self.feed_high = self.feed_high.max(r.id);
                }
            }
        }
        self.scans.retain(|j| !j.done);
        changed
    }

    /// Rows read and rows to read by the running scans; None when none runs.
    pub fn progress(&self) -> Option<(u64, u64)> {
        if self.scans.is_empty() {
            return None;
        }
        Some(self.scans.iter().fold((0, 0), |(a, b), j| {
            (a + j.scanned, b + j.estimate.max(j.scanned))
        }))
    }

    /// Whether every scan has finished (the counts cover the store).
    pub fn settled(&self) -> bool {
        self.scans.is_empty()
    }
}

/// One thing a pane can be pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Everything: the pane's scope cleared.
    All,
    Source(SourceKind),
    Origin(String),
    Job(String),
    /// Every job of a family ([`job_family`]: `job_`, `User.`), as one `job_*` GLOB.
    JobFamily(String),
    /// Every Redis channel of a family (`logs:job_`), as one `logs:job_*` GLOB.
    OriginFamily(String),
    /// A logger and everything below it.
    Logger(String),
}

/// Longest value a label shows, in characters.
const LABEL_CHARS: usize = 40;

fn short(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(LABEL_CHARS - 1).collect();
        t.push('…');
        t
    }
}

impl Choice {
    fn kind(&self) -> Option<ChannelKind> {
        match self {
            Choice::All => None,
            Choice::Source(_) => Some(ChannelKind::Source),
            Choice::Origin(_) | Choice::OriginFamily(_) => Some(ChannelKind::Origin),
            // A family is one more job condition in the store's filter: both share its cap.
            Choice::Job(_) | Choice::JobFamily(_) => Some(ChannelKind::Job),
            Choice::Logger(_) => Some(ChannelKind::Logger),
        }
    }

    /// How the pane's title names it.
    pub fn label(&self) -> String {
        match self {
            Choice::All => "all".into(),
            Choice::Source(SourceKind::Internal) => "internal".into(),
            Choice::Source(k) => format!("source {k}"),
            Choice::Origin(o) => format!("origin {}", short(o)),
            Choice::Job(j) => format!("job:{}", short(j)),
            Choice::JobFamily(f) => format!("job:{}*", short(f)),
            Choice::OriginFamily(f) => format!("origin {}*", short(f)),
            Choice::Logger(l) => format!("logger {}", short(l)),
        }
    }

    /// Adds this channel to `f`'s list of its kind: choices of one kind OR together.
    pub fn apply(&self, f: &mut Filter) {
        match self {
            Choice::All => {}
            Choice::Source(k) => f.sources.push(*k),
            Choice::Origin(o) => f.origins.push(glob_literal(o)),
            Choice::Job(j) => f.jobs.push(j.clone()),
            Choice::JobFamily(fam) => f.job_globs.push(format!("{}*", glob_literal(fam))),
            Choice::OriginFamily(fam) => f.origins.push(format!("{}*", glob_literal(fam))),
            Choice::Logger(l) => f.logger_trees.push(l.clone()),
        }
    }
}

/// The scope several choices make together: choices of one kind OR together (two jobs show
/// both), choices of different kinds narrow together (a job *and* a logger subtree). The
/// picker keeps at most [`MAX_CHOICES`] of each kind, what the store's filter takes.
pub fn scope_for(choices: &[Choice]) -> Scope {
    let mut filter = Filter::default();
    let mut labels = Vec::new();
    for c in choices.iter().filter(|c| **c != Choice::All) {
        c.apply(&mut filter);
        labels.push(c.label());
    }
    Scope {
        filter,
        label: (!labels.is_empty()).then(|| labels.join(" · ")),
    }
}

/// One row of the list.
struct Entry {
    choice: Choice,
    /// What the query is matched against and what a flat (searched) list shows.
    text: String,
    /// In the tree: how deep, and the last part of the name, which the tree shows.
    depth: u16,
    leaf: String,
    /// For a member of a grouped family (jobs, Redis channels): the entry of its group
    /// row, whose folding hides it.
    group: Option<u32>,
}

/// A row before grouping: a value, its newest id, its family and its text.
struct Item<'a> {
    name: &'a str,
    last_id: i64,
    family: Option<&'a str>,
    text: String,
}

/// Appends `items` in their order, except that a family with more than [`GROUP_MIN`]
/// members becomes one group row (where its first member would be) with its members, newest
/// first, under it: what the tree folds.
fn push_grouped(
    es: &mut Vec<Entry>,
    mut items: Vec<Item<'_>>,
    member: fn(String) -> Choice,
    group: fn(String) -> Choice,
    group_text: impl Fn(&str, usize) -> String,
) {
    let mut members: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if let Some(fam) = it.family {
            members.entry(fam).or_default().push(i);
        }
    }
    members.retain(|_, m| m.len() > GROUP_MIN);
    for m in members.values_mut() {
        m.sort_unstable_by(|&a, &b| items[b].last_id.cmp(&items[a].last_id));
    }
    let push = |es: &mut Vec<Entry>, choice: Choice, text: String, depth, group| {
        es.push(Entry {
            choice,
            leaf: text.clone(),
            text,
            depth,
            group,
        });
    };
    for i in 0..items.len() {
        let Some(fam) = items[i].family.filter(|f| members.contains_key(f)) else {
            let text = std::mem::take(&mut items[i].text);
            push(es, member(items[i].name.to_owned()), text, 0, None);
            continue;
        };
        // The family's first row brings it and all its members; the others are listed.
        let ms = members.get_mut(fam).map(std::mem::take).unwrap_or_default();
        if ms.is_empty() {
            continue;
        }
        let at = u32::try_from(es.len()).unwrap_or(u32::MAX);
        push(
            es,
            group(fam.to_owned()),
            group_text(fam, ms.len()),
            0,
            None,
        );
        for j in ms {
            let text = std::mem::take(&mut items[j].text);
            push(es, member(items[j].name.to_owned()), text, 1, Some(at));
        }
    }
}

/// What the picker has done, for tests that hold it to bounded work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Rows scored against a query.
    pub scored: u64,
    /// Lines built for drawing.
    pub lines_built: u64,
    /// Times the row list was rebuilt from the table.
    pub rebuilds: u64,
}

/// What a key did.
#[derive(Debug, Clone, PartialEq)]
pub enum PickerOutcome {
    Open,
    Closed,
    /// Point the focused pane at this.
    Apply(Box<Scope>),
}

pub struct Picker {
    input: tui_input::Input,
    entries: Vec<Entry>,
    built_gen: Option<u64>,
    built_at: Instant,
    /// Indices into `entries` in display order: all of them, or the matches best first.
    shown: Vec<u32>,
    /// The query `shown` answers.
    shown_for: String,
    cursor: usize,
    top: usize,
    chosen: Vec<Choice>,
    /// Logger nodes whose children the tree hides (Left folds, Right unfolds).
    folded: HashSet<String>,
    /// Family rows (job or origin) whose members the list shows (they start folded).
    unfolded: HashSet<Choice>,
    matcher: Matcher,
    buf: Vec<char>,
    pub work: Work,
    /// List rows drawn last frame.
    height: usize,
}

impl Picker {
    pub fn new(ch: &Channels) -> Picker {
        let mut p = Picker {
            input: tui_input::Input::default(),
            entries: Vec::new(),
            built_gen: None,
            built_at: Instant::now(),
            shown: Vec::new(),
            shown_for: String::new(),
            cursor: 0,
            top: 0,
            chosen: Vec::new(),
            folded: Default::default(),
            unfolded: Default::default(),
            matcher: Matcher::new(Config::DEFAULT),
            buf: Vec::new(),
            work: Work::default(),
            height: 10,
        };
        p.sync(ch, true);
        p
    }

    /// The rows in display order, as the list would show them (for tests and the snapshot).
    pub fn shown_labels(&self) -> Vec<String> {
        self.shown
            .iter()
            .filter_map(|&i| self.entries.get(i as usize))
            .map(|e| e.text.clone())
            .collect()
    }

    pub fn chosen(&self) -> &[Choice] {
        &self.chosen
    }

    pub fn query(&self) -> &str {
        self.input.value()
    }

    /// Rebuilds the row list when the table has new values (at most every
    /// [`REBUILD_EVERY`] unless `now`), rescoring the query over it.
    pub fn sync(&mut self, ch: &Channels, now: bool) {
        let g = ch.table().keys_gen();
        if self.built_gen == Some(g)
            || (!now && self.built_gen.is_some() && self.built_at.elapsed() < REBUILD_EVERY)
        {
            return;
        }
        let keep = self.current().map(|e| e.choice.clone());
        self.rebuild(ch.table());
        self.built_gen = Some(g);
        self.built_at = Instant::now();
        self.refilter(true);
        if let Some(k) = keep
            && let Some(pos) = self
                .shown
                .iter()
                .position(|&i| self.entries.get(i as usize).is_some_and(|e| e.choice == k))
        {
            self.cursor = pos;
        }
    }

    fn rebuild(&mut self, t: &ChannelTable) {
        self.work.rebuilds += 1;
        let mut es =
            Vec::with_capacity(6 + ChannelKind::ALL.iter().map(|&k| t.len(k)).sum::<usize>());
        es.push(Entry {
            choice: Choice::All,
            text: "all channels".into(),
            depth: 0,
            leaf: "all channels".into(),
            group: None,
        });
        for k in SourceKind::ALL {
            let text = if k == SourceKind::Internal {
                "internal (logtui's own records)".to_owned()
            } else {
                format!("source {k}")
            };
            es.push(Entry {
                choice: Choice::Source(k),
                leaf: text.clone(),
                text,
                depth: 0,
                group: None,
            });
        }
        let mut origins: Vec<(&str, &ChannelStats)> = t
            .iter(ChannelKind::Origin)
            // An origin whose GLOB-escaped form the store refuses cannot be a filter.
            .filter(|(o, _)| o.len() * 3 <= store::query::MAX_GLOB_BYTES)
            .collect();
        // Socket peers first, then the Redis channels and lists together.
        let redis = |st: &ChannelStats| st.source == Some(SourceKind::Redis);
        origins.sort_unstable_by(|a, b| (redis(a.1), a.0).cmp(&(redis(b.1), b.0)));
        let origins: Vec<Item<'_>> = origins
            .into_iter()
            .map(|(o, st)| {
                let mut text = match o.strip_prefix("list:") {
                    Some(key) if redis(st) => format!("redis list {key}"),
                    _ if redis(st) => format!("redis {o}"),
                    _ => format!("origin {o}"),
                };
                if let Some(n) = &st.process_name {
                    text.push(' ');
                    text.push_str(n);
                }
                if let Some(pid) = st.pid {
                    text.push_str(&format!(" pid {pid}"));
                }
                Item {
                    name: o,
                    last_id: st.last_id,
                    // Only Redis channels come by the thousand (`logs:job_<uuid>`); peers'
                    // addresses (`10.0.0.1:5000`) are not families.
                    family: job_family(o).filter(|_| redis(st)),
                    text,
                }
            })
            .collect();
        push_grouped(
            &mut es,
            origins,
            Choice::Origin,
            Choice::OriginFamily,
            |fam, n| format!("redis {fam}* ({} channels)", with_commas(n as u64)),
        );
        // Newest jobs first: with a fresh id per record, the recent ones are the ones sought.
        let mut jobs: Vec<(&str, i64)> = t
            .iter(ChannelKind::Job)
            .map(|(j, s)| (j, s.last_id))
            .collect();
        jobs.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let jobs = jobs
            .into_iter()
            .map(|(j, last_id)| Item {
                name: j,
                last_id,
                family: job_family(j),
                text: format!("job {j}"),
            })
            .collect();
        push_grouped(&mut es, jobs, Choice::Job, Choice::JobFamily, |fam, n| {
            format!("job {fam}* ({} jobs)", with_commas(n as u64))
        });
        // The tree: parents before children, siblings by name, compared part by part so
        // `app-x` does not land between `app` and `app.db`.
        let mut loggers: Vec<&str> = t.iter(ChannelKind::Logger).map(|(l, _)| l).collect();
        loggers.sort_unstable_by(|a, b| a.split('.').cmp(b.split('.')));
        for l in loggers {
            let depth = l.matches('.').count().min(usize::from(u16::MAX)) as u16;
            let leaf = match l.rsplit_once('.') {
                Some((_, last)) if depth > 0 => last,
                _ if l.is_empty() => "(empty name)",
                _ => l,
            };
            es.push(Entry {
                choice: Choice::Logger(l.to_owned()),
                text: format!("logger {l}"),
                depth,
                leaf: leaf.to_owned(),
                group: None,
            });
        }
        self.entries = es;
    }

    /// Recomputes `shown` for the query. When the query only grew, only the previous matches
    /// can match, so only they are scored.
    fn refilter(&mut self, full: bool) {
        let q = self.input.value().to_owned();
        if q.trim().is_empty() {
            let hidden = |e: &Entry| match &e.choice {
                // Bounded: at most MAX_TREE_DEPTH ancestors each.
                Choice::Logger(l) if !self.folded.is_empty() => {
                    logger_nodes(l).any(|a| a.len() < l.len() && self.folded.contains(a))
                }
                Choice::Job(_) | Choice::Origin(_) => e.group.is_some_and(|g| {
                    self.entries
                        .get(g as usize)
                        .is_none_or(|g| !self.unfolded.contains(&g.choice))
                }),
                _ => false,
            };
            self.shown = (0..self.entries.len() as u32)
                .filter(|&i| self.entries.get(i as usize).is_some_and(|e| !hidden(e)))
                .collect();
        } else {
            let pattern = Pattern::parse(&q, CaseMatching::Smart, Normalization::Smart);
            let narrowing =
                !full && !self.shown_for.trim().is_empty() && q.starts_with(&self.shown_for);
            let candidates: Vec<u32> = if narrowing {
                std::mem::take(&mut self.shown)
            } else {
                (0..self.entries.len() as u32).collect()
            };
            self.work.scored += candidates.len() as u64;
            let mut scored: Vec<(u32, u32)> = candidates
                .into_iter()
                .filter_map(|i| {
                    let e = self.entries.get(i as usize)?;
                    let s =
                        pattern.score(Utf32Str::new(&e.text, &mut self.buf), &mut self.matcher)?;
                    Some((s, i))
                })
                .collect();
            scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            self.shown = scored.into_iter().map(|(_, i)| i).collect();
        }
        if q != self.shown_for {
            self.cursor = 0;
            self.top = 0;
        }
        self.shown_for = q;
        self.cursor = self.cursor.min(self.shown.len().saturating_sub(1));
    }

    fn current(&self) -> Option<&Entry> {
        self.shown
            .get(self.cursor)
            .and_then(|&i| self.entries.get(i as usize))
    }

    /// Folds (or unfolds) the logger node or job family under the cursor, in the tree (an
    /// empty query). Left on a member of a family folds the family and lands on its row.
    fn fold(&mut self, fold: bool) {
        let Some(&at) = self.shown.get(self.cursor) else {
            return;
        };
        let Some(e) = self.entries.get(at as usize) else {
            return;
        };
        let (changed, land) = match (&e.choice, e.group) {
            (Choice::Logger(l), _) => {
                let l = l.clone();
                let changed = if fold {
                    self.folded.insert(l)
                } else {
                    self.folded.remove(&l)
                };
                (changed, at)
            }
            (c @ (Choice::JobFamily(_) | Choice::OriginFamily(_)), _) => {
                let changed = if fold {
                    self.unfolded.remove(c)
                } else {
                    self.unfolded.insert(c.clone())
                };
                (changed, at)
            }
            (_, Some(g)) if fold => {
                let Some(c) = self.entries.get(g as usize).map(|g| &g.choice) else {
                    return;
                };
                (self.unfolded.remove(c), g)
            }
            _ => return,
        };
        if changed {
            self.refilter(true);
            if let Some(pos) = self.shown.iter().position(|&i| i == land) {
                self.cursor = pos;
            }
        }
    }

    fn move_by(&mut self, d: isize) {
        let n = self.shown.len();
        if n == 0 {
            return;
        }
        self.cursor = self.cursor.saturating_add_signed(d).min(n - 1);
    }

    /// Space: chooses the row under the cursor (shown `[x]`), or drops it when chosen. Rows
    /// of one kind OR together; "all channels" clears the choice. Past [`MAX_CHOICES`] of a
    /// kind, the oldest choice of that kind gives way, so Enter never builds a filter the
    /// store refuses.
    fn toggle(&mut self) {
        let Some(c) = self.current().map(|e| e.choice.clone()) else {
            return;
        };
        if let Some(i) = self.chosen.iter().position(|x| *x == c) {
            self.chosen.remove(i);
        } else if c == Choice::All {
            self.chosen.clear();
        } else {
            if self.chosen.iter().filter(|x| x.kind() == c.kind()).count() >= MAX_CHOICES
                && let Some(i) = self.chosen.iter().position(|x| x.kind() == c.kind())
            {
                self.chosen.remove(i);
            }
            self.chosen.push(c);
        }
    }

    pub fn on_event(&mut self, ev: &Event, ch: &Channels) -> PickerOutcome {
        self.sync(ch, false);
        let page = self.height.max(1) as isize;
        match ev {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                match k.code {
                    KeyCode::Esc => return PickerOutcome::Closed,
                    KeyCode::Enter => {
                        let scope = if self.chosen.is_empty() {
                            match self.current() {
                                Some(e) => scope_for(std::slice::from_ref(&e.choice)),
                                None => return PickerOutcome::Open,
                            }
                        } else {
                            scope_for(&self.chosen)
                        };
                        return PickerOutcome::Apply(Box::new(scope));
                    }
                    KeyCode::Up => self.move_by(-1),
                    KeyCode::Down => self.move_by(1),
                    KeyCode::Char('p') if ctrl => self.move_by(-1),
                    KeyCode::Char('n') if ctrl => self.move_by(1),
                    KeyCode::PageUp => self.move_by(-page),
                    KeyCode::PageDown => self.move_by(page),
                    KeyCode::Char(' ') => self.toggle(),
                    KeyCode::Left | KeyCode::Right if self.input.value().trim().is_empty() => {
                        self.fold(k.code == KeyCode::Left);
                    }
                    _ => self.edit(ev),
                }
            }
            Event::Paste(s) => {
                for c in s.chars().filter(|c| !c.is_control()) {
                    if self.input.value().len() >= MAX_QUERY {
                        break;
                    }
                    self.input.handle(tui_input::InputRequest::InsertChar(c));
                }
                self.refilter(false);
            }
            _ => {}
        }
        PickerOutcome::Open
    }

    fn edit(&mut self, ev: &Event) {
        let Some(req) = tui_input::backend::crossterm::to_input_request(ev) else {
            return;
        };
        let grows = matches!(req, tui_input::InputRequest::InsertChar(_));
        if grows && self.input.value().len() >= MAX_QUERY {
            return;
        }
        let before = self.input.value().len();
        self.input.handle(req);
        if self.input.value().len() != before || self.input.value() != self.shown_for {
            self.refilter(false);
        }
    }

    /// Draws the popup over `area`. Only the visible rows are built into lines.
    pub fn draw(&mut self, f: &mut Frame, area: Rect, theme: &Theme, ch: &Channels, now: f64) {
        self.sync(ch, false);
        let w = area.width.min(120);
        let h = area.height;
        if w < 10 || h < 4 {
            return;
        }
        let r = Rect::new(area.x + (area.width - w) / 2, area.y, w, h);
        let t = ch.table();
        let mut title = format!(
            " channels: {} records, {} shown",
            fmt_count(t.rows()),
            fmt_count(self.shown.len() as u64)
        );
        if let Some((done, of)) = ch.progress() {
            title.push_str(&format!(
                " · counting… {} of {}",
                fmt_count(done),
                fmt_count(of)
            ));
        }
        if ch.lost > 0 {
            title.push_str(&format!(" · {} not counted", fmt_count(ch.lost)));
        }
        let left_out: u64 = ChannelKind::ALL.iter().map(|&k| t.left_out(k)).sum();
        if left_out > 0 {
            title.push_str(&format!(" · {} past the value cap", fmt_count(left_out)));
        }
        if let Some(e) = &ch.error {
            title.push_str(&format!(" · {e}"));
        }
        title.push(' ');
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Line::from(text::field_spans(
                &title,
                w.saturating_sub(4) as usize,
                theme.title,
            )))
            .title_bottom(
                " type to search · ↑↓ move · ←→ fold · Space choose · Enter show · Esc close ",
            );
        let inner = block.inner(r);
        f.render_widget(Clear, r);
        f.render_widget(block, r);
        let width = inner.width as usize;
        // The query line.
        let label = "› ";
        let avail = width.saturating_sub(label.len() + 1);
        let scroll = self.input.visual_scroll(avail);
        let typed: String = self.input.value().chars().skip(scroll).collect();
        let mut spans = vec![Span::styled(label, theme.prompt)];
        spans.extend(text::field_spans(&typed, avail, theme.prompt));
        let mut lines = vec![Line::from(spans)];
        let cols = Cols::for_width(width);
        lines.push(Line::from(Span::styled(
            cols.header(width),
            theme.help_group,
        )));
        let list_h = (inner.height as usize).saturating_sub(2);
        self.height = list_h;
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if list_h > 0 && self.cursor >= self.top + list_h {
            self.top = self.cursor + 1 - list_h;
        }
        let tree = self.input.value().trim().is_empty();
        let pattern = (!tree).then(|| {
            Pattern::parse(
                self.input.value(),
                CaseMatching::Smart,
                Normalization::Smart,
            )
        });
        let end = (self.top + list_h).min(self.shown.len());
        for pos in self.top..end {
            let Some(e) = self
                .shown
                .get(pos)
                .and_then(|&i| self.entries.get(i as usize))
            else {
                continue;
            };
            self.work.lines_built += 1;
            let stats = match &e.choice {
                Choice::All => None,
                Choice::Source(k) => t.get(ChannelKind::Source, k.as_str()),
                Choice::Origin(o) => t.get(ChannelKind::Origin, o),
                Choice::Job(j) => t.get(ChannelKind::Job, j),
                Choice::JobFamily(f) => t.get(ChannelKind::JobFamily, f),
                Choice::OriginFamily(f) => t.get(ChannelKind::OriginFamily, f),
                Choice::Logger(l) => t.get(ChannelKind::Logger, l),
            };
            let all_stats;
            let stats = match (&e.choice, stats) {
                (Choice::All, _) => {
                    all_stats = total_stats(t);
                    Some(&all_stats)
                }
                (_, s) => s,
            };
            let mark = if self.chosen.contains(&e.choice) {
                "[x] "
            } else {
                "[ ] "
            };
            let base = if pos == self.cursor {
                theme.selected
            } else {
                theme.normal
            };
            let name_w = width.saturating_sub(mark.len() + cols.right_width());
            let mut spans = vec![Span::styled(mark, base)];
            let name_spans = match &pattern {
                None => {
                    let indent = "  ".repeat(usize::from(e.depth).min(name_w / 4));
                    let shown = match e.choice {
                        Choice::Logger(ref l) if self.folded.contains(l) => {
                            format!("{indent}{} ▸", e.leaf)
                        }
                        Choice::Logger(_) => format!("{indent}{}", e.leaf),
                        Choice::JobFamily(_) | Choice::OriginFamily(_) => {
                            let open = self.unfolded.contains(&e.choice);
                            format!("{} {}", e.leaf, if open { '▾' } else { '▸' })
                        }
                        _ => format!("{indent}{}", e.text),
                    };
                    text::field_spans(&shown, name_w, base)
                }
                Some(p) => {
                    let mut idx = Vec::new();
                    let _ = p.indices(
                        Utf32Str::new(&e.text, &mut self.buf),
                        &mut self.matcher,
                        &mut idx,
                    );
                    highlighted(&e.text, &idx, name_w, base, base.patch(theme.picker_match))
                }
            };
            let used: usize = name_spans.iter().map(Span::width).sum();
            spans.extend(name_spans);
            spans.push(Span::styled(" ".repeat(name_w.saturating_sub(used)), base));
            cols.push_figures(&mut spans, stats, now, base, theme);
            lines.push(Line::from(spans));
        }
        f.render_widget(Paragraph::new(lines), inner);
        let x = inner.x
            + (label.chars().count() + self.input.visual_cursor().saturating_sub(scroll)) as u16;
        f.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y,
        ));
    }
}

/// Every record's figures, for the "all channels" row: the sources' sum.
fn total_stats(t: &ChannelTable) -> ChannelStats {
    let mut it = t.iter(ChannelKind::Source).map(|(_, s)| s);
    let Some(first) = it.next() else {
        return ChannelStats {
            total: 0,
            warnings: 0,
            errors: 0,
            first_id: 0,
            last_id: 0,
            last_seen: f64::NEG_INFINITY,
            process_name: None,
            pid: None,
            source: None,
            timeline: Default::default(),
        };
    };
    let mut all = first.clone();
    for s in it {
        all.total += s.total;
        all.warnings += s.warnings;
        all.errors += s.errors;
        all.last_seen = all.last_seen.max(s.last_seen);
        for (b, n) in s.timeline.entries() {
            all.timeline.add(b, n);
        }
    }
    all
}

/// `text` cut to `width` cells with the characters at `idx` (nucleo's match positions) in `hl`.
fn highlighted(
    text: &str,
    idx: &[u32],
    width: usize,
    base: Style,
    hl: Style,
) -> Vec<Span<'static>> {
    let mut idx = idx.to_vec();
    idx.sort_unstable();
    idx.dedup();
    let mut out = Vec::new();
    let mut left = width;
    let mut seg = String::new();
    let mut seg_hl = false;
    let flush = |seg: &mut String, on: bool, left: &mut usize, out: &mut Vec<Span<'static>>| {
        if seg.is_empty() || *left == 0 {
            seg.clear();
            return;
        }
        let spans = text::field_spans(seg, *left, if on { hl } else { base });
        *left = left.saturating_sub(spans.iter().map(Span::width).sum());
        out.extend(spans);
        seg.clear();
    };
    for (i, c) in text.chars().enumerate() {
        let on = idx.binary_search(&(i as u32)).is_ok();
        if on != seg_hl {
            flush(&mut seg, seg_hl, &mut left, &mut out);
            seg_hl = on;
        }
        seg.push(c);
        // No need to read past what fits.
        if seg.len() > width * 4 + 16 {
            break;
        }
    }
    flush(&mut seg, seg_hl, &mut left, &mut out);
    out
}

/// Which figure columns fit.
struct Cols {
    counts: bool,
    rate: bool,
    strip: usize,
}

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

impl Cols {
    fn for_width(w: usize) -> Cols {
        Cols {
            counts: w >= 40,
            rate: w >= 64,
            strip: if w >= 80 { 12 } else { 0 },
        }
    }

    fn right_width(&self) -> usize {
        let mut n = 8; // total
        if self.counts {
            n += 14;
        }
        if self.rate {
            n += 16;
        }
        if self.strip > 0 {
            n += self.strip + 1;
        }
        n
    }

    fn header(&self, width: usize) -> String {
        let mut right = format!("{:>8}", "records");
        if self.counts {
            right.push_str(&format!("{:>7}{:>7}", "errors", "warns"));
        }
        if self.rate {
            right.push_str(&format!("{:>8}{:>8}", "rate", "seen"));
        }
        if self.strip > 0 {
            right.push_str(&format!(" {:<w$}", "10 min", w = self.strip));
        }
        let name = "    channel";
        let pad = width.saturating_sub(name.len() + right.chars().count());
        format!("{name}{}{right}", " ".repeat(pad))
    }

    fn push_figures(
        &self,
        spans: &mut Vec<Span<'static>>,
        s: Option<&ChannelStats>,
        now: f64,
        base: Style,
        theme: &Theme,
    ) {
        let (total, errors, warns) = s.map_or((0, 0, 0), |s| (s.total, s.errors, s.warnings));
        spans.push(Span::styled(format!("{:>8}", fmt_count(total)), base));
        if self.counts {
            let e_style = if errors > 0 {
                base.patch(theme.error)
            } else {
                base.add_modifier(Modifier::DIM)
            };
            let w_style = if warns > 0 {
                base.patch(theme.warning)
            } else {
                base.add_modifier(Modifier::DIM)
            };
            spans.push(Span::styled(format!("{:>7}", fmt_count(errors)), e_style));
            spans.push(Span::styled(format!("{:>7}", fmt_count(warns)), w_style));
        }
        if self.rate {
            let rate = s.map_or(0.0, |s| s.timeline.rate(now));
            let seen = s.map_or(f64::NEG_INFINITY, |s| s.last_seen);
            spans.push(Span::styled(format!("{:>8}", fmt_rate(rate)), base));
            spans.push(Span::styled(format!("{:>8}", fmt_ago(now, seen)), base));
        }
        if self.strip > 0 {
            let cells = s.map_or_else(
                || vec![0; self.strip],
                |s| s.timeline.strip(now, self.strip),
            );
            let style = if errors > 0 {
                base.patch(theme.histogram_error)
            } else {
                base.patch(theme.histogram_info)
            };
            spans.push(Span::styled(format!(" {}", sparkline(&cells)), style));
        }
    }
}

/// Block characters for `cells`, scaled to the largest; an empty cell is a space.
pub fn sparkline(cells: &[u64]) -> String {
    let max = cells.iter().copied().max().unwrap_or(0);
    cells
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                ' '
            } else {
                let level = (n.saturating_mul(8).div_ceil(max)).clamp(1, 8);
                SPARK[(level - 1) as usize]
            }
        })
        .collect()
}

/// `10412` as `10,412`: a family's member count, read at a glance.
fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_count(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn fmt_rate(r: f64) -> String {
    if r <= 0.0 {
        "-".into()
    } else if r < 10.0 {
        format!("{r:.1}/s")
    } else {
        format!("{}/s", fmt_count(r.round() as u64))
    }
}

fn fmt_ago(now: f64, seen: f64) -> String {
    if !seen.is_finite() {
        return "never".into();
    }
    let ago = (now - seen).max(0.0);
    match ago {
        a if a < 60.0 => format!("{a:.0}s"),
        a if a < 3600.0 => format!("{:.0}m", a / 60.0),
        a if a < 86400.0 => format!("{:.0}h", a / 3600.0),
        a => format!("{:.0}d", (a / 86400.0).min(99_999.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ERROR, INFO, Record};
    use crossterm::event::KeyEvent;

    fn key(c: KeyCode) -> Event {
        Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    /// A model over a table built by hand, with no scan.
    fn model(recs: &[(&str, Option<&str>, i32)]) -> Channels {
        let mut table = ChannelTable::default();
        for (i, (logger, job, level)) in recs.iter().enumerate() {
            let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:9");
            r.logger = (*logger).into();
            r.job = job.map(str::to_owned);
            r.set_level(*level);
            table.add(&r, i as i64 + 1);
        }
        Channels {
            table,
            path: PathBuf::new(),
            scans: Vec::new(),
            gate: Some(0),
            early: Vec::new(),
            covered: 0,
            feed_high: 0,
            lost: 0,
            error: None,
        }
    }

    fn typed(p: &mut Picker, ch: &Channels, s: &str) {
        for c in s.chars() {
            p.on_event(&key(KeyCode::Char(c)), ch);
        }
    }

    #[test]
    fn the_tree_lists_parents_before_children() {
        let ch = model(&[
            ("app.db.pool", None, INFO),
            ("app-x", None, INFO),
            ("app", None, ERROR),
        ]);
        let p = Picker::new(&ch);
        let loggers: Vec<String> = p
            .shown_labels()
            .into_iter()
            .filter(|l| l.starts_with("logger "))
            .collect();
        assert_eq!(
            loggers,
            [
                "logger app",
                "logger app.db",
                "logger app.db.pool",
                "logger app-x"
            ]
        );
        // `app` rolls up itself and `app.db.pool`, not `app-x`.
        assert_eq!(ch.table().get(ChannelKind::Logger, "app").unwrap().total, 2);
    }

    #[test]
    fn fuzzy_query_puts_the_best_match_first() {
        let ch = model(&[
            ("app.db.pool", Some("build-42"), INFO),
            ("payments", Some("deploy-7"), INFO),
            ("app.dbx", None, INFO),
        ]);
        let mut p = Picker::new(&ch);
        typed(&mut p, &ch, "pool");
        assert_eq!(p.shown_labels()[0], "logger app.db.pool");
        assert!(p.shown_labels().iter().all(|l| l.contains('p')));
        // Backspace widens again.
        for _ in 0..4 {
            p.on_event(&key(KeyCode::Backspace), &ch);
        }
        assert_eq!(p.query(), "");
        typed(&mut p, &ch, "deploy");
        assert_eq!(p.shown_labels()[0], "job deploy-7");
    }

    #[test]
    fn enter_applies_the_chosen_set_and_space_chooses_several() {
        let ch = model(&[("app.db", Some("a"), INFO), ("web", Some("b"), INFO)]);
        let mut p = Picker::new(&ch);
        typed(&mut p, &ch, "job");
        // Choose job a and job b (they OR together), then a logger joins.
        p.on_event(&key(KeyCode::Char(' ')), &ch);
        p.on_event(&key(KeyCode::Down), &ch);
        p.on_event(&key(KeyCode::Char(' ')), &ch);
        assert_eq!(p.chosen().len(), 2);
        assert!(p.chosen().iter().all(|c| matches!(c, Choice::Job(_))));
        // Space on a chosen row drops it; again chooses it.
        p.on_event(&key(KeyCode::Char(' ')), &ch);
        assert_eq!(p.chosen().len(), 1);
        p.on_event(&key(KeyCode::Char(' ')), &ch);
        for _ in 0..3 {
            p.on_event(&key(KeyCode::Backspace), &ch);
        }
        typed(&mut p, &ch, "app.db");
        assert_eq!(p.shown_labels()[0], "logger app.db");
        p.on_event(&key(KeyCode::Char(' ')), &ch);
        let PickerOutcome::Apply(scope) = p.on_event(&key(KeyCode::Enter), &ch) else {
            panic!("enter applies");
        };
        assert_eq!(scope.filter.logger_trees, ["app.db"]);
        let mut jobs = scope.filter.jobs.clone();
        jobs.sort();
        assert_eq!(jobs, ["a", "b"]);
        assert!(scope.label.unwrap().contains("logger app.db"));
        assert_eq!(p.on_event(&key(KeyCode::Esc), &ch), PickerOutcome::Closed);
    }

    #[test]
    fn left_folds_a_subtree_and_right_unfolds_it() {
        let ch = model(&[("app.db.pool", None, INFO), ("apps", None, INFO)]);
        let mut p = Picker::new(&ch);
        let loggers = |p: &Picker| {
            p.shown_labels()
                .into_iter()
                .filter(|l| l.starts_with("logger "))
                .count()
        };
        assert_eq!(loggers(&p), 4);
        let at = p
            .shown_labels()
            .iter()
            .position(|l| l == "logger app")
            .unwrap();
        p.move_by(at as isize);
        p.on_event(&key(KeyCode::Left), &ch);
        assert_eq!(loggers(&p), 2, "{:?}", p.shown_labels());
        // The folded node is still the one under the cursor, and still a choice.
        assert_eq!(p.current().unwrap().choice, Choice::Logger("app".into()));
        p.on_event(&key(KeyCode::Right), &ch);
        assert_eq!(loggers(&p), 4);
    }

    #[test]
    fn a_big_job_family_is_one_folded_row_that_unfolds_newest_first() {
        let mut recs: Vec<(String, Option<String>)> = (0..30)
            .map(|i| ("app".to_owned(), Some(format!("job_{i:02}"))))
            .collect();
        recs.push(("app".into(), Some("User.admin".into())));
        recs.push(("app".into(), Some("3f2c-celery".into())));
        let recs: Vec<(&str, Option<&str>, i32)> = recs
            .iter()
            .map(|(l, j)| (l.as_str(), j.as_deref(), INFO))
            .collect();
        let ch = model(&recs);
        let mut p = Picker::new(&ch);
        let jobs = |p: &Picker| -> Vec<String> {
            p.shown_labels()
                .into_iter()
                .filter(|l| l.starts_with("job "))
                .collect()
        };
        // Folded by default; small families (`User.`) stay plain rows.
        assert_eq!(
            jobs(&p),
            ["job 3f2c-celery", "job User.admin", "job job_* (30 jobs)"]
        );
        let fam = ch.table().get(ChannelKind::JobFamily, "job_").unwrap();
        assert_eq!(fam.total, 30);
        let at = p
            .shown_labels()
            .iter()
            .position(|l| l == "job job_* (30 jobs)")
            .unwrap();
        p.move_by(at as isize);
        p.on_event(&key(KeyCode::Right), &ch);
        let shown = jobs(&p);
        assert_eq!(shown.len(), 33);
        assert_eq!(shown[3..5], ["job job_29", "job job_28"]);
        // Left on a member folds the family and lands on its row.
        p.move_by(3);
        p.on_event(&key(KeyCode::Left), &ch);
        assert_eq!(jobs(&p).len(), 3);
        assert_eq!(
            p.current().unwrap().choice,
            Choice::JobFamily("job_".into())
        );
        // A search finds members inside the folded group.
        typed(&mut p, &ch, "job_17");
        assert_eq!(p.shown_labels()[0], "job job_17");
        // Enter on the group names the family as one GLOB.
        let s = scope_for(&[Choice::JobFamily("job_".into())]);
        assert_eq!(s.filter.job_globs, ["job_*"]);
        assert_eq!(s.label.as_deref(), Some("job:job_*"));
        assert_eq!(with_commas(10_412), "10,412");
        assert_eq!(with_commas(999), "999");
    }

    #[test]
    fn choices_become_filters() {
        let s = scope_for(&[Choice::Origin("10.0.0.1:[5]*".into())]);
        assert_eq!(s.filter.origins, ["10.0.0.1:[[]5][*]"]);
        let s = scope_for(&[Choice::OriginFamily("logs:job_".into())]);
        assert_eq!(s.filter.origins, ["logs:job_*"]);
        let s = scope_for(&[Choice::JobFamily("a*[".into()), Choice::Job("x".into())]);
        assert_eq!(s.filter.job_globs, ["a[*][[]*"]);
        assert_eq!(s.filter.jobs, ["x"]);
        let s = scope_for(&[Choice::Source(SourceKind::Internal)]);
        assert_eq!(s.filter.sources, [SourceKind::Internal]);
        assert_eq!(s.label.as_deref(), Some("internal"));
        assert_eq!(scope_for(&[Choice::All]), Scope::default());
        let long = "j".repeat(500);
        assert!(Choice::Job(long).label().chars().count() <= LABEL_CHARS + 4);
    }

    #[test]
    fn sparkline_scales_to_the_largest_cell() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(fmt_count(12_345), "12.3k");
        assert_eq!(fmt_ago(100.0, 40.0), "60s".replace("60s", "1m"));
    }
}
