//! A pane: one filtered view of the store, with its own position, following the tail or
//! scrolled back; it owns its state, its drawing and its keys.
//!
//! A pane holds a window of at most a few screens of rows (`capacity`), never the store:
//! scrolling past the window's edge asks the reader for the next page (keyset paging on the
//! row id with the pane's filter), and live rows from the feed are tested with the same filter,
//! compiled, so live and historical rows are the same rows. Only the visible rows are built
//! into lines when drawing.

use super::counter::CountUpdate;
use super::histogram::{LevelHistogram, Shown};
use super::keymap::Action;
use super::reader::{MAX_PAGE, PaneId, Reader, Reply, Request, Row, Want};
use super::text::{self, TextStyle};
use super::theme::Theme;
use super::{Ctx, Handled, TimeMode};
use crate::record;
use crate::store::query::CompiledFilter;
use crate::store::{CommittedBatch, Filter};
use crate::tui::filter_expr::{self, FilterExpr};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use std::collections::{BTreeSet, VecDeque};

/// Set in a pane's id for its histogram requests, so the reader keeps them apart from the
/// pane's page requests (a newer request replaces an older one of the same id).
pub const HIST_BIT: PaneId = 1 << 30;

/// Which columns a pane shows besides the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub time: bool,
    pub level: bool,
    pub origin: bool,
    pub logger: bool,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            time: true,
            level: true,
            origin: true,
            logger: true,
        }
    }
}

/// What a pane is narrowed to besides its typed filter: the picker's choice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub filter: Filter,
    /// How the title names it ("job:42", "logger app.db").
    pub label: Option<String>,
}

/// The search a pane highlights and `n`/`N` step through.
#[derive(Debug, Clone)]
struct Search {
    text: String,
    /// Lower-cased terms, for highlighting on screen.
    terms: Vec<String>,
}

pub struct Pane {
    pub id: PaneId,
    scope: Scope,
    typed: Option<FilterExpr>,
    typed_text: String,
    min_level: Option<i32>,
    filter: Filter,
    compiled: CompiledFilter,
    rows: VecDeque<Row>,
    at_head: bool,
    at_tail: bool,
    /// Index of the selected row in `rows`, and of the first one drawn.
    sel: usize,
    top: usize,
    follow: bool,
    paused: bool,
    /// Matching records that arrived while the pane did not follow.
    arrived: u64,
    seq: u64,
    pending: Option<Want>,
    /// Live rows that came while a page that replaces or extends the tail was being read: they
    /// may be newer than what the reader saw, so they are added after its answer.
    held: Vec<Row>,
    held_overflow: bool,
    /// Rows shown in the last frame.
    height: usize,
    marks: BTreeSet<i64>,
    search: Option<Search>,
    pub columns: Columns,
    /// One line of news for the title (no match, a read error).
    note: Option<String>,
    /// The level histogram strip above the rows.
    hist: LevelHistogram,
    /// The width of the rows drawn last.
    width: usize,
    /// How many records match, while the filter is a text search (see [`MatchCount`]).
    count: Option<MatchCount>,
    count_seq: u64,
}

/// Feed matches remembered while a count has not said where it stops; past this the count is
/// started again (it says so in its first update, within a piece's time).
const MAX_EARLY_MATCHES: usize = 4096;

/// A pane's match count: the counter's figure for the records stored when it started (ids up
/// to `until`) plus the feed's matches since, so it stays exact while the store grows.
#[derive(Debug, Clone, Default)]
struct MatchCount {
    seq: u64,
    /// None until the counter's first update.
    until: Option<i64>,
    counted: u64,
    /// Feed matches above `until`.
    live: u64,
    done: bool,
    /// Ids of feed matches before `until` is known.
    early: Vec<i64>,
    early_overflow: bool,
    error: Option<String>,
}

impl MatchCount {
    /// Counts a feed match: the counter does not count records stored after `until`.
    fn on_live(&mut self, id: i64) {
        match self.until {
            Some(u) if id > u => self.live += 1,
            Some(_) => {}
            None if self.early.len() < MAX_EARLY_MATCHES => self.early.push(id),
            None => self.early_overflow = true,
        }
    }

    /// How the title shows it: `≥N…` while counting, then `N matches`.
    fn text(&self) -> String {
        let n = self.counted + self.live;
        match (&self.error, self.done) {
            (Some(e), _) => format!("count failed: {e}"),
            (None, true) => format!("{n} matches"),
            (None, false) => format!("≥{n}…"),
        }
    }
}

impl Pane {
    pub fn new(id: PaneId, scope: Scope) -> Pane {
        let mut p = Pane {
            id,
            scope,
            typed: None,
            typed_text: String::new(),
            min_level: None,
            filter: Filter::default(),
            compiled: CompiledFilter::everything(),
            rows: VecDeque::new(),
            at_head: false,
            at_tail: false,
            sel: 0,
            top: 0,
            follow: true,
            paused: false,
            arrived: 0,
            seq: 0,
            pending: None,
            held: Vec::new(),
            held_overflow: false,
            height: 20,
            marks: BTreeSet::new(),
            search: None,
            columns: Columns::default(),
            note: None,
            hist: LevelHistogram::default(),
            width: 80,
            count: None,
            count_seq: 0,
        };
        p.recompose();
        p
    }

    /// A new pane showing what this one shows (a split), following the tail.
    pub fn split_off(&self, id: PaneId) -> Pane {
        let mut p = Pane::new(id, self.scope.clone());
        p.typed = self.typed.clone();
        p.typed_text = self.typed_text.clone();
        p.min_level = self.min_level;
        p.columns = self.columns;
        p.recompose();
        p
    }

    /// The filter this pane reads with.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    pub fn typed_filter(&self) -> &str {
        &self.typed_text
    }

    pub fn search_text(&self) -> Option<&str> {
        self.search.as_ref().map(|s| s.text.as_str())
    }

    pub fn selected(&self) -> Option<&Row> {
        self.rows.get(self.sel)
    }

    /// Whether the pane waits for a page from the reader.
    pub fn awaiting(&self) -> bool {
        self.pending.is_some()
    }

    /// How many rows the pane holds now (its memory, in rows).
    pub fn held_rows(&self) -> usize {
        self.rows.len() + self.held.len()
    }

    fn capacity(&self) -> usize {
        (self.height * 3).clamp(150, MAX_PAGE)
    }

    fn page(&self) -> usize {
        (self.height * 2).clamp(100, MAX_PAGE / 2)
    }

    /// Rebuilds the pane's filter from its parts: the scope, the typed filter, the level keys.
    fn recompose(&mut self) {
        let mut f = self.scope.filter.clone();
        if let Some(t) = &self.typed {
            t.apply(&mut f);
        }
        if let Some(l) = self.min_level {
            f.min_level = Some(f.min_level.map_or(l, |m| m.max(l)));
        }
        // logtui's own records are shown only when asked for, as `query` does.
        if f.sources.is_empty() {
            f.hide_internal = true;
        }
        self.compiled = f.compile().unwrap_or_else(|_| CompiledFilter::everything());
        self.filter = f;
    }

    /// Starts over from the store with the current filter, at the tail.
    pub fn reload(&mut self, ctx: &mut Ctx) {
        self.follow = !self.paused;
        self.arrived = 0;
        self.hist.clear();
        self.request(ctx.reader, Want::Tail, self.capacity());
        if let Shown::Store(_) = self.hist.shown {
            self.request_histogram(ctx);
        }
        self.start_count(ctx.reader);
    }

    /// Counts the filter's matches on the counter's thread when the filter searches text (a
    /// count the index cannot answer and that may take seconds); otherwise cancels a count.
    fn start_count(&mut self, reader: &Reader) {
        let f = &self.filter;
        let text = f.search.as_deref().is_some_and(|s| !s.trim().is_empty())
            || f.regex.is_some()
            || !f.exclude.is_empty();
        if !text {
            if self.count.take().is_some() {
                reader.counter().cancel(self.id);
            }
            return;
        }
        // Its own numbering: a count is no page, and must not make the awaited page stale.
        self.count_seq += 1;
        reader.counter().start(self.id, self.count_seq, f.clone());
        self.count = Some(MatchCount {
            seq: self.count_seq,
            ..MatchCount::default()
        });
    }

    /// A figure of the pane's count.
    pub fn on_count(&mut self, u: CountUpdate, reader: &Reader) {
        let Some(c) = &mut self.count else { return };
        if c.seq != u.seq {
            return;
        }
        if c.until.is_none() {
            if c.early_overflow {
                // Too many feed matches to place against `until`: count again.
                self.start_count(reader);
                return;
            }
            c.until = Some(u.until);
            c.live = c.early.drain(..).filter(|&id| id > u.until).count() as u64;
        }
        c.counted = u.counted;
        c.done = u.done;
        c.error = u.error;
    }

    /// The count as the title shows it (`≥N…` while counting, `N matches`), if one runs.
    pub fn count_text(&self) -> Option<String> {
        self.count.as_ref().map(MatchCount::text)
    }

    /// Stops the pane's count (the pane is closing).
    pub fn cancel_count(&mut self, reader: &Reader) {
        if self.count.take().is_some() {
            reader.counter().cancel(self.id);
        }
    }

    /// Asks for the store-wide histogram of the pane's filter. It goes as a request of its own
    /// pane id's sibling (`id | HIST_BIT`), so it does not replace a page being read.
    fn request_histogram(&mut self, ctx: &mut Ctx) {
        self.seq += 1;
        ctx.reader.send(Request {
            pane: self.id | HIST_BIT,
            seq: self.seq,
            filter: self.filter.clone(),
            around: None,
            want: Want::Histogram,
            limit: self.width.max(1),
        });
    }

    /// The store-wide histogram the reader answered.
    pub fn on_histogram(&mut self, r: Reply) {
        if let Shown::Store(_) = self.hist.shown {
            self.hist.shown = Shown::Store(r.histogram);
        }
    }

    /// Asks for a page of the pane's own filter; it becomes the answer the pane waits for.
    fn request(&mut self, reader: &Reader, want: Want, limit: usize) {
        self.ask(reader, want, self.filter.clone(), None, limit);
    }

    /// Asks the reader for `want` under `filter` (for a `Find`, the rows around the match are
    /// read with `around`). Every page request goes through here, so a newer one always
    /// supersedes the one the pane waits for.
    fn ask(
        &mut self,
        reader: &Reader,
        want: Want,
        filter: Filter,
        around: Option<Filter>,
        limit: usize,
    ) {
        self.seq += 1;
        self.pending = Some(want);
        if matches!(want, Want::Tail) {
            self.held.clear();
            self.held_overflow = false;
        }
        reader.send(Request {
            pane: self.id,
            seq: self.seq,
            filter,
            around,
            want,
            limit,
        });
    }

    /// Asks for the first record after/before the selection that also passes `seek`.
    fn find(&mut self, ctx: &mut Ctx, seek: Filter, forward: bool) {
        let from = self.selected().map(|r| r.id);
        self.find_from(ctx, seek, forward, from);
    }

    /// Asks for the first record after/before id `from` (the ends when None) passing `seek`.
    fn find_from(&mut self, ctx: &mut Ctx, seek: Filter, forward: bool, from: Option<i64>) {
        let from = match from {
            Some(id) => id,
            None if forward => 0,
            None => i64::MAX,
        };
        let (around, limit) = (Some(self.filter.clone()), self.capacity());
        self.ask(
            ctx.reader,
            Want::Find { from, forward },
            seek,
            around,
            limit,
        );
    }

    /// Sets the typed filter (`f`); an error leaves the old one in place.
    pub fn set_filter_text(&mut self, ctx: &mut Ctx, s: &str) -> Result<(), String> {
        let s = s.trim();
        if s.is_empty() {
            self.typed = None;
        } else {
            let e = filter_expr::parse(s).map_err(|e| e.to_string())?;
            // A regex the store would refuse is refused here, before it replaces the filter.
            let mut probe = self.scope.filter.clone();
            e.apply(&mut probe);
            probe.compile().map_err(|e| crate::term::error_text(&e))?;
            self.typed = Some(e);
        }
        self.typed_text = s.to_owned();
        self.recompose();
        self.reload(ctx);
        Ok(())
    }

    /// Points the pane at a new scope (the picker's choice).
    pub fn set_scope(&mut self, ctx: &mut Ctx, scope: Scope) {
        self.scope = scope;
        self.recompose();
        self.reload(ctx);
    }

    /// Sets the search (`/`) and goes to its next match.
    pub fn set_search(&mut self, ctx: &mut Ctx, s: &str) {
        let s = s.trim();
        if s.is_empty() {
            self.search = None;
            return;
        }
        let terms = s
            .split_whitespace()
            .map(|t| t.trim_end_matches('*').to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        self.search = Some(Search {
            text: s.to_owned(),
            terms,
        });
        // From the tail there is nothing after: look back for the newest match instead.
        let at_end = self.follow || (self.at_tail && self.sel + 1 >= self.rows.len());
        self.seek_match(ctx, !at_end, true);
    }

    /// Esc with no prompt open: clears the search, then the typed filter.
    pub fn clear_one(&mut self, ctx: &mut Ctx) -> bool {
        if self.search.take().is_some() {
            return true;
        }
        if self.typed.is_some() || self.min_level.is_some() {
            self.typed = None;
            self.typed_text.clear();
            self.min_level = None;
            self.recompose();
            self.reload(ctx);
            return true;
        }
        false
    }

    fn next_match(&mut self, ctx: &mut Ctx, forward: bool) {
        self.seek_match(ctx, forward, false);
    }

    /// The next match after (`forward`) or before the selection, or at it too when
    /// `include_current`: on screen first, else from the store.
    fn seek_match(&mut self, ctx: &mut Ctx, forward: bool, include_current: bool) {
        let Some(s) = &self.search else {
            self.note = Some("no search: press / first".into());
            return;
        };
        let seek = Filter {
            search: Some(match &self.filter.search {
                Some(mine) => format!("{mine} {}", s.text),
                None => s.text.clone(),
            }),
            ..self.filter.clone()
        };
        // On screen first: the reader is asked only when the match is not in the window.
        let compiled = seek.compile().ok();
        if let Some(c) = compiled {
            let me = usize::from(include_current);
            let hit = if forward {
                (self.sel + 1 - me..self.rows.len())
                    .find(|&i| c.matches(self.rows[i].id, &self.rows[i].rec))
            } else {
                (0..(self.sel + me).min(self.rows.len()))
                    .rev()
                    .find(|&i| c.matches(self.rows[i].id, &self.rows[i].rec))
            };
            if let Some(i) = hit {
                self.select(i);
                return;
            }
        }
        let from = self.selected().map(|r| match (include_current, forward) {
            (true, true) => r.id - 1,
            (true, false) => r.id + 1,
            _ => r.id,
        });
        self.find_from(ctx, seek, forward, from);
    }

    fn next_level(&mut self, ctx: &mut Ctx, level: i32, forward: bool) {
        let seek = Filter {
            min_level: Some(self.filter.min_level.map_or(level, |m| m.max(level))),
            ..self.filter.clone()
        };
        let hit = if forward {
            (self.sel + 1..self.rows.len()).find(|&i| self.rows[i].rec.level >= level)
        } else {
            (0..self.sel)
                .rev()
                .find(|&i| self.rows[i].rec.level >= level)
        };
        match hit {
            Some(i) => self.select(i),
            None => self.find(ctx, seek, forward),
        }
    }

    fn jump_time(&mut self, ctx: &mut Ctx, step: f64) {
        let Some(t) = self.selected().map(|r| r.rec.created) else {
            return;
        };
        let seek = if step > 0.0 {
            Filter {
                since: Some(t + step),
                ..self.filter.clone()
            }
        } else {
            Filter {
                until: Some(t + step),
                ..self.filter.clone()
            }
        };
        self.find(ctx, seek, step > 0.0);
    }

    fn jump_mark(&mut self, ctx: &mut Ctx) {
        let cur = self.selected().map_or(i64::MIN, |r| r.id);
        let next = self
            .marks
            .range(cur.saturating_add(1)..)
            .next()
            .or_else(|| self.marks.iter().next())
            .copied();
        let Some(id) = next else {
            self.note = Some("no marks: press m on a row".into());
            return;
        };
        if let Some(i) = self.rows.iter().position(|r| r.id == id) {
            self.select(i);
        } else {
            self.request(ctx.reader, Want::Around(id), self.capacity());
        }
    }

    /// A click on the `i`th visible row.
    pub fn click_row(&mut self, i: usize) {
        if self.top + i < self.rows.len() {
            self.select(self.top + i);
        }
    }

    fn select(&mut self, i: usize) {
        self.sel = i.min(self.rows.len().saturating_sub(1));
        self.follow = false;
        self.after_move();
    }

    /// After the selection moved: fetch the next page when near an edge, and follow again
    /// when the newest row is selected (unless paused).
    fn after_move(&mut self) {
        let n = self.rows.len();
        if self.at_tail && n > 0 && self.sel + 1 == n && !self.paused {
            self.follow = true;
            self.arrived = 0;
        }
    }

    fn edge_fetch(&mut self, ctx: &mut Ctx) {
        if self.pending.is_some() {
            return;
        }
        let n = self.rows.len();
        let margin = self.height.max(10);
        let (first, last) = match (self.rows.front(), self.rows.back()) {
            (Some(f), Some(l)) => (f.id, l.id),
            _ => return,
        };
        if self.sel < margin && !self.at_head {
            self.request(ctx.reader, Want::Before(first), self.page());
        } else if self.sel + margin >= n && !self.at_tail {
            self.request(ctx.reader, Want::After(last), self.page());
        }
    }

    fn move_by(&mut self, ctx: &mut Ctx, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let n = self.rows.len() as isize;
        let to = (self.sel as isize + delta).clamp(0, n - 1) as usize;
        if delta < 0 {
            self.follow = false;
        }
        self.sel = to;
        self.after_move();
        self.edge_fetch(ctx);
    }

    /// Handles one action if it is a pane's.
    pub fn on_action(&mut self, a: Action, ctx: &mut Ctx) -> Handled {
        self.note = None;
        let h = self.height.max(1) as isize;
        match a {
            Action::Up => self.move_by(ctx, -1),
            Action::Down => self.move_by(ctx, 1),
            Action::PageUp => self.move_by(ctx, -h),
            Action::PageDown => self.move_by(ctx, h),
            Action::Oldest => {
                self.follow = false;
                self.request(ctx.reader, Want::Head, self.capacity());
            }
            Action::Newest => {
                self.paused = false;
                self.reload(ctx);
            }
            Action::Pause => {
                self.paused = !self.paused;
                if self.paused {
                    self.follow = false;
                } else {
                    self.reload(ctx);
                }
            }
            Action::LevelDebug => self.set_level(ctx, record::DEBUG),
            Action::LevelInfo => self.set_level(ctx, record::INFO),
            Action::LevelWarning => self.set_level(ctx, record::WARNING),
            Action::LevelError => self.set_level(ctx, record::ERROR),
            Action::LevelCritical => self.set_level(ctx, record::CRITICAL),
            Action::NextError => self.next_level(ctx, record::ERROR, true),
            Action::PrevError => self.next_level(ctx, record::ERROR, false),
            Action::NextWarning => self.next_level(ctx, record::WARNING, true),
            Action::PrevWarning => self.next_level(ctx, record::WARNING, false),
            Action::SearchNext => self.next_match(ctx, true),
            Action::SearchPrev => self.next_match(ctx, false),
            Action::Mark => {
                if let Some(id) = self.selected().map(|r| r.id)
                    && !self.marks.remove(&id)
                {
                    self.marks.insert(id);
                }
            }
            Action::JumpMark => self.jump_mark(ctx),
            Action::TimeBack => self.jump_time(ctx, -ctx.time_step),
            Action::TimeForward => self.jump_time(ctx, ctx.time_step),
            Action::ToggleOrigin => self.columns.origin = !self.columns.origin,
            Action::ToggleLogger => self.columns.logger = !self.columns.logger,
            Action::Histogram => match self.hist.shown {
                Shown::Live => {
                    self.hist.shown = Shown::Store(None);
                    self.request_histogram(ctx);
                }
                Shown::Store(_) => self.hist.shown = Shown::Live,
            },
            Action::ToggleColumns => {
                // Level and message only, or every column again.
                let all = Columns::default();
                let only = Columns {
                    time: false,
                    level: true,
                    origin: false,
                    logger: false,
                };
                self.columns = if self.columns == all { only } else { all };
            }
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn set_level(&mut self, ctx: &mut Ctx, level: i32) {
        // DEBUG is the lowest a pane can ask for: it means "every level" again.
        self.min_level = (level > record::DEBUG).then_some(level);
        self.recompose();
        self.reload(ctx);
    }

    /// A page the reader answered.
    pub fn on_reply(&mut self, r: Reply) {
        if r.seq != self.seq {
            return;
        }
        self.pending = None;
        let rows = match r.rows {
            Ok(rows) => rows,
            Err(e) => {
                self.note = Some(e);
                return;
            }
        };
        let cap = self.capacity();
        match r.want {
            Want::Tail => {
                let now = record::now_epoch();
                for r in &rows {
                    self.hist.add(r.rec.created, r.rec.level, now);
                }
                self.rows = rows.into();
                self.at_head = r.at_head;
                self.at_tail = true;
                self.sel = self.rows.len().saturating_sub(1);
                self.add_held();
            }
            Want::Head => {
                self.rows = rows.into();
                self.at_head = true;
                self.at_tail = r.at_tail;
                self.sel = 0;
                self.top = 0;
                self.follow = false;
            }
            Want::Before(_) => {
                let n = rows.len();
                for row in rows.into_iter().rev() {
                    self.rows.push_front(row);
                }
                self.sel += n;
                self.top += n;
                self.at_head = r.at_head;
                while self.rows.len() > cap && self.sel + 1 < self.rows.len() {
                    self.rows.pop_back();
                    self.at_tail = false;
                    self.follow = false;
                }
            }
            Want::After(_) => {
                self.rows.extend(rows);
                self.at_tail = r.at_tail;
                self.trim_front(cap);
                if self.at_tail {
                    self.add_held();
                }
            }
            Want::Find { .. } | Want::Around(_) => match r.focus {
                Some(id) if !rows.is_empty() => {
                    self.rows = rows.into();
                    self.at_head = r.at_head;
                    self.at_tail = r.at_tail;
                    self.sel = self.rows.iter().position(|x| x.id >= id).unwrap_or(0);
                    self.follow = false;
                    self.after_move();
                    if self.at_tail {
                        self.add_held();
                    }
                }
                _ => self.note = Some("no match".into()),
            },
            Want::Histogram => {}
        }
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
    }

    fn trim_front(&mut self, cap: usize) {
        while self.rows.len() > cap && self.sel > 0 {
            self.rows.pop_front();
            self.sel -= 1;
            self.top = self.top.saturating_sub(1);
            self.at_head = false;
        }
    }

    /// Adds the live rows held while a tail page was read, those newer than it.
    fn add_held(&mut self) {
        if self.held_overflow {
            // More arrived than a pane holds: the store has them all; read the tail again.
            self.held_overflow = false;
            self.held.clear();
            self.at_tail = false;
            return;
        }
        let last = self.rows.back().map_or(i64::MIN, |r| r.id);
        let held = std::mem::take(&mut self.held);
        for row in held.into_iter().filter(|r| r.id > last) {
            self.push_live(row);
        }
    }

    /// Committed records from the feed: those passing the pane's filter join the window
    /// when it reaches the tail, and are counted when the pane does not follow.
    pub fn on_batch(&mut self, b: &CommittedBatch) {
        let tail_pending = matches!(self.pending, Some(Want::Tail));
        let now = record::now_epoch();
        if self.follow && self.at_tail && self.pending.is_none() {
            // Following: only the newest `capacity` matches can stay in the window, so only
            // those are copied (at 100,000 records a second, the rest would be copied to be
            // dropped at once). Every match is still counted in the histogram.
            let cap = self.capacity();
            let last = self.rows.back().map_or(i64::MIN, |r| r.id);
            let mut keep = Vec::new();
            for (id, rec) in b.rows.iter().rev() {
                if !self.compiled.matches(*id, rec) {
                    continue;
                }
                if let Some(c) = &mut self.count {
                    c.on_live(*id);
                }
                if *id <= last {
                    continue;
                }
                self.hist.add(rec.created, rec.level, now);
                if keep.len() < cap {
                    keep.push((*id, rec));
                }
            }
            for (id, rec) in keep.into_iter().rev() {
                self.push_live(Row {
                    id,
                    rec: rec.clone(),
                });
            }
            return;
        }
        for (id, rec) in &b.rows {
            if !self.compiled.matches(*id, rec) {
                continue;
            }
            if let Some(c) = &mut self.count {
                c.on_live(*id);
            }
            if !tail_pending {
                self.hist.add(rec.created, rec.level, now);
            }
            if tail_pending || (matches!(self.pending, Some(Want::After(_))) && self.at_tail) {
                if self.held.len() < self.capacity() {
                    self.held.push(Row {
                        id: *id,
                        rec: rec.clone(),
                    });
                } else {
                    self.held_overflow = true;
                }
                continue;
            }
            if self.rows.back().is_some_and(|r| r.id >= *id) {
                continue;
            }
            if self.at_tail {
                self.push_live(Row {
                    id: *id,
                    rec: rec.clone(),
                });
            } else {
                self.arrived += 1;
            }
        }
    }

    fn push_live(&mut self, row: Row) {
        let cap = self.capacity();
        if self.follow {
            self.rows.push_back(row);
            self.sel = self.rows.len() - 1;
            while self.rows.len() > cap {
                self.rows.pop_front();
                self.sel -= 1;
                self.at_head = false;
            }
        } else {
            self.arrived += 1;
            if self.rows.len() < cap {
                self.rows.push_back(row);
            } else {
                self.at_tail = false;
            }
        }
    }

    /// The feed lost records for this UI (it lagged): what the window may miss is in the store.
    pub fn on_missed(&mut self, ctx: &mut Ctx) {
        if self.follow {
            self.reload(ctx);
        } else {
            self.at_tail = false;
            // The count lacks the matches the feed lost: count again.
            if self.count.is_some() {
                self.start_count(ctx.reader);
            }
        }
    }

    /// The pane's title: what it shows and whether it follows.
    fn title(&self) -> String {
        let mut parts = Vec::new();
        match &self.scope.label {
            Some(l) => parts.push(l.clone()),
            None => parts.push("all".to_owned()),
        }
        if let Some(l) = self.min_level {
            parts.push(format!("level≥{}", record::level_name(l)));
        }
        if let Some(t) = &self.typed {
            parts.push(t.describe());
        }
        if let Some(s) = &self.search {
            parts.push(format!("/{}", s.text));
        }
        if let Some(c) = &self.count {
            parts.push(c.text());
        }
        if self.paused {
            parts.push(format!("PAUSED, {} new", self.arrived));
        } else if !self.follow {
            parts.push(format!("scrolled back, {} new", self.arrived));
        }
        if self.pending.is_some() {
            parts.push("reading…".to_owned());
        }
        if let Some(n) = &self.note {
            parts.push(n.clone());
        }
        format!(" {} ", parts.join(" · "))
    }

    /// Draws the pane into `area`: a bordered block and one line per visible row.
    pub fn draw(&mut self, f: &mut Frame, area: Rect, focused: bool, ctx: &DrawCtx) {
        let th = ctx.theme;
        let border = if focused {
            th.border_focused
        } else {
            th.border
        };
        let title_style = if self.paused || !self.follow {
            th.title_paused
        } else {
            th.title
        };
        let title = text::field_spans(
            &self.title(),
            area.width.saturating_sub(4) as usize,
            title_style,
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(Line::from(title));
        let mut inner = block.inner(area);
        f.render_widget(block, area);
        // The histogram strip takes the first line when the pane has room for it.
        if inner.height >= 6 {
            let strip = Rect { height: 1, ..inner };
            self.hist.draw(f, strip, th, ctx.now);
            inner.y += 1;
            inner.height -= 1;
        }
        self.width = inner.width as usize;
        let h = inner.height as usize;
        let first_draw = self.height != h;
        self.height = h.max(1);
        if first_draw
            && self.rows.len() < self.capacity()
            && !self.at_head
            && self.pending.is_none()
        {
            // The pane grew: more rows are needed than the window holds.
            if let Some(id) = self.rows.front().map(|r| r.id) {
                self.request(ctx.reader, Want::Before(id), self.page());
            }
        }
        // Keep the selection on screen; following shows the newest rows at the bottom.
        let n = self.rows.len();
        if self.follow {
            self.sel = n.saturating_sub(1);
        }
        if self.sel < self.top {
            self.top = self.sel;
        }
        if self.sel >= self.top + h {
            self.top = self.sel + 1 - h;
        }
        if self.top + h > n {
            self.top = n.saturating_sub(h);
        }
        let width = inner.width as usize;
        let visible = self.top..(self.top + h).min(n);
        // One width for the time column on screen: with dates when any row shown is not from today.
        let dated = ctx.time == TimeMode::Local
            && self
                .rows
                .range(visible.clone())
                .any(|r| !ctx.is_today(r.rec.created));
        let plan = self.plan(width, dated, ctx);
        let mut lines = Vec::with_capacity(h);
        for i in visible {
            let row = &self.rows[i];
            let over = if i == self.sel && focused {
                Some(th.selected)
            } else if i == self.sel {
                // Where the selection is in a pane without the focus: a quieter mark.
                Some(Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED))
            } else if self.marks.contains(&row.id) {
                Some(th.marked)
            } else {
                None
            };
            // Over every span (a span's own style would win over the line's), under the
            // search highlight, which is patched last.
            lines.push(self.row_line(row, &plan, ctx, over.unwrap_or_default()));
        }
        if n == 0 {
            let msg = if self.pending.is_some() {
                "reading the store…"
            } else {
                "no records match yet"
            };
            lines.push(Line::from(Span::styled(msg, th.fold_marker)));
        }
        f.render_widget(Paragraph::new(lines), inner);
    }

    /// Which columns fit `width` and how wide each is, decided once per frame: the message
    /// keeps at least a third of the width (20 cells or more), and the columns give way in
    /// the order origin, logger, time, level.
    fn plan(&self, width: usize, dated: bool, ctx: &DrawCtx) -> Plan {
        let time_w = match ctx.time {
            TimeMode::Relative => 8,
            _ => crate::term::width(&ctx.time_text(ctx.now, dated)),
        };
        let min_msg = (width / 3).max(20);
        let mut plan = Plan::default();
        let mut used = 0;
        let mut fits = |w: usize| {
            let ok = used + w + 1 + min_msg <= width;
            if ok {
                used += w + 1;
            }
            ok
        };
        plan.level = (self.columns.level && fits(8)).then_some(8);
        plan.time = (self.columns.time && fits(time_w)).then_some(time_w);
        plan.logger = (self.columns.logger && fits(18)).then_some(18);
        plan.origin = (self.columns.origin && fits(21)).then_some(21);
        plan.message = width.saturating_sub(used);
        plan.dated = dated;
        plan
    }

    /// One visible row: the planned columns, then the message in the rest of the width.
    fn row_line(&self, row: &Row, plan: &Plan, ctx: &DrawCtx, over: Style) -> Line<'static> {
        let th = ctx.theme;
        let r = &row.rec;
        let mut spans: Vec<Span<'static>> = Vec::with_capacity(12);
        let col = |spans: &mut Vec<Span<'static>>, text: &str, w: usize, style: Style| {
            spans.extend(text::field_cell(text, w, style.patch(over), over));
        };
        if let Some(w) = plan.time {
            col(
                &mut spans,
                &ctx.time_text(r.created, plan.dated),
                w,
                th.time,
            );
        }
        if let Some(w) = plan.level {
            col(&mut spans, &r.levelname, w, th.level(r.level));
        }
        if let Some(w) = plan.origin {
            col(&mut spans, &r.origin, w, th.origin);
        }
        if let Some(w) = plan.logger {
            col(&mut spans, &r.logger, w, th.logger);
        }
        // The first line of the message, then one marker counting the lines folded away: the
        // message's own and the traceback's (counted, not copied).
        let first = match r.message.find('\n') {
            Some(i) => r.message[..i].strip_suffix('\r').unwrap_or(&r.message[..i]),
            None => &r.message,
        };
        let more = text::count_lines(&r.message).saturating_sub(1)
            + r.exc_text.as_deref().map_or(0, text::count_lines);
        let marker = (more > 0).then(|| format!(" ⏎ +{more}"));
        let marker_w = marker.as_deref().map_or(0, crate::term::width);
        let rest = plan.message.saturating_sub(marker_w);
        let st = TextStyle {
            base: th
                .message
                .patch(if r.level >= record::ERROR {
                    th.level(r.level)
                } else {
                    Style::default()
                })
                .patch(over),
            marker: th.fold_marker.patch(over),
            colour: ctx.colour,
        };
        let line = match &self.search {
            Some(s) => {
                let ranges = match_ranges(first, &s.terms);
                text::row_line_highlighted(first, rest, &st, &ranges, th.search_match)
            }
            None => text::row_line(first, rest, &st),
        };
        spans.extend(line.spans);
        if let Some(m) = marker
            && plan.message >= marker_w
        {
            spans.push(Span::styled(m, th.fold_marker.patch(over)));
        }
        // The rest of the row in the row's style, so a selection bar is even.
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let width = plan.width();
        if used < width && over != Style::default() {
            spans.push(Span::styled(" ".repeat(width - used), over));
        }
        Line::from(spans)
    }
}

/// The columns a frame shows and their widths (None: hidden or no room).
#[derive(Debug, Default)]
struct Plan {
    time: Option<usize>,
    level: Option<usize>,
    origin: Option<usize>,
    logger: Option<usize>,
    message: usize,
    dated: bool,
}

impl Plan {
    /// The whole row's width: every planned column with its gap, and the message.
    fn width(&self) -> usize {
        [self.time, self.level, self.origin, self.logger]
            .iter()
            .flatten()
            .map(|w| w + 1)
            .sum::<usize>()
            + self.message
    }
}

/// Byte ranges of `terms` (already lower-cased) in the first line of `text`, case-insensitively,
/// for highlighting. Bounded: only the first line and at most 64 ranges.
fn match_ranges(text: &str, terms: &[String]) -> Vec<std::ops::Range<usize>> {
    let first = text.split('\n').next().unwrap_or("");
    // Highlighting is for the screen: a few KiB of the line is more than any screen shows.
    let end = first.len().min(16 * 1024);
    let end = (0..=end)
        .rev()
        .find(|&i| first.is_char_boundary(i))
        .unwrap_or(0);
    let hay = first[..end].to_ascii_lowercase();
    let mut out = Vec::new();
    for t in terms {
        if t.is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(p) = hay[from..].find(t.as_str()) {
            let s = from + p;
            out.push(s..s + t.len());
            from = s + t.len();
            if out.len() >= 64 {
                return out;
            }
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// What drawing needs from the app: the theme, colour and time settings, the reader.
pub struct DrawCtx<'a> {
    pub theme: &'a Theme,
    pub colour: bool,
    pub time: TimeMode,
    pub tz: &'a jiff::tz::TimeZone,
    pub now: f64,
    /// Today's local date, `YYYY-MM-DD`.
    pub today: String,
    pub reader: &'a super::reader::Reader,
}

impl DrawCtx<'_> {
    /// Whether `created` falls on today's local date.
    pub fn is_today(&self, created: f64) -> bool {
        crate::timefmt::local_millis(created, self.tz).get(..10) == Some(self.today.as_str())
    }

    /// A record's time as the time column shows it: local `HH:MM:SS.mmm`, with the date
    /// in front when `dated`; UTC likewise with a `Z`; or how long ago.
    pub fn time_text(&self, created: f64, dated: bool) -> String {
        match self.time {
            TimeMode::Local => {
                let full = crate::timefmt::local_millis(created, self.tz);
                match full.get(11..) {
                    Some(t) if !dated => t.to_owned(),
                    _ => full,
                }
            }
            TimeMode::Utc => {
                let s = crate::timefmt::rfc3339_millis_utc(created);
                s.get(11..23).map_or(s.clone(), |t| format!("{t}Z"))
            }
            TimeMode::Relative => relative(self.now - created),
        }
    }
}

/// "-4.2s", "-3m12s", "-5h02m", "-12d": how long ago, at a glance.
fn relative(ago: f64) -> String {
    if !ago.is_finite() {
        return "?".into();
    }
    let sign = if ago < 0.0 { "+" } else { "-" };
    let a = ago.abs();
    if a < 60.0 {
        format!("{sign}{a:.1}s")
    } else if a < 3600.0 {
        format!("{sign}{}m{:02}s", (a / 60.0) as u64, (a % 60.0) as u64)
    } else if a < 86400.0 {
        format!(
            "{sign}{}h{:02}m",
            (a / 3600.0) as u64,
            ((a % 3600.0) / 60.0) as u64
        )
    } else {
        format!("{sign}{}d", (a / 86400.0) as u64)
    }
}
