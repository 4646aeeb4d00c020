//! What a query asks for ([`Filter`]), the WHERE clauses it becomes (one on each record, one
//! on each block of the index), and its in-memory twin for live rows ([`CompiledFilter`]).
//!
//! Every user value is bound as a parameter. The in-memory test must agree exactly with the
//! SQL, because a pane shows live rows from memory and older ones from the store under one
//! filter: it calls the same Rust the SQL functions call (`TextQuery`, `regex`), and
//! [`Glob`] reproduces SQLite's GLOB, quirks included.

use crate::record::{Record, SourceKind};
use crate::store::error::StoreError;
use crate::store::index::words::TextQuery;
use regex::Regex;
use rusqlite::types::Value as SqlValue;

/// Which records to read. Every field narrows; `Default` reads everything, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Records at or above this level.
    pub min_level: Option<i32>,
    /// Logger name, as a case-sensitive GLOB (`app.*`).
    pub logger: Option<String>,
    /// Loggers with everything below each, as cutelog's tree shows them: `app` is `app`,
    /// `app.db` and `app.db.pool`, but not `apps`. Compared byte for byte, no wildcards.
    /// A record matches if it is under any of them (empty: no condition).
    pub logger_trees: Vec<String>,
    /// Source kinds; a record matches if it came from any of them (empty: no condition).
    pub sources: Vec<SourceKind>,
    /// Leave out logtui's own records (alerts, drop notices): `query` does unless asked.
    pub hide_internal: bool,
    /// Only records stored after this row id (how `query --follow` asks for what is new).
    pub after_id: Option<i64>,
    /// Only records stored before this row id: keyset paging backwards, as a pane asks for
    /// the page above its oldest row (with `descending` and a `limit`).
    pub before_id: Option<i64>,
    /// Origins (peer address, socket path, channel), each a GLOB; a record matches if its
    /// origin matches any of them (empty: no condition).
    pub origins: Vec<String>,
    /// Exact job names; a record matches if its job is any of them or matches any of
    /// `job_globs` (both empty: no condition).
    pub jobs: Vec<String>,
    /// Job GLOBs, OR'ed with `jobs`: how the picker names a family of 10,000 `job_<uuid>`
    /// jobs in one condition (`job_*`) rather than 10,000 exact names.
    pub job_globs: Vec<String>,
    /// Search over message and traceback: every whitespace-separated term must occur (as
    /// a phrase of its words, case-insensitively); a trailing `*` makes a term a prefix.
    /// See [`crate::store::index::words::TextQuery`].
    pub search: Option<String>,
    /// Searches whose matches are left out: a record matching any of them is excluded.
    /// Each has the syntax and meaning of `search`. The index cannot narrow on these.
    pub exclude: Vec<String>,
    /// A regular expression (Rust `regex` syntax) matched against message or traceback.
    pub regex: Option<String>,
    /// Created at or after, epoch seconds.
    pub since: Option<f64>,
    /// Created before, epoch seconds (exclusive).
    pub until: Option<f64>,
    /// At most this many records (for `count`, a cap on the count).
    pub limit: Option<u64>,
    /// Newest first. Order is arrival order (row id), which is also how the store and its
    /// index are laid out; `created` is the sender's clock and may disagree across senders.
    pub descending: bool,
}

/// A WHERE clause under construction: each condition names its one parameter as `$`.
#[derive(Default)]
pub(super) struct Where {
    pub(super) sql: String,
    pub(super) params: Vec<SqlValue>,
}

impl Where {
    pub(super) fn add(&mut self, cond: &str, v: SqlValue) {
        self.params.push(v);
        let n = format!("?{}", self.params.len());
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(&cond.replace('$', &n));
    }

    /// Adds `cond` as written, its `$` already numbered (by [`Where::or`]).
    fn push(&mut self, cond: &str) {
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(cond);
    }

    /// `(c1 OR c2 …)`: `cond` once per value, each value its own parameter; None for no
    /// values (no condition).
    fn or(&mut self, cond: &str, vals: impl IntoIterator<Item = SqlValue>) -> Option<String> {
        let mut ors = Vec::new();
        for v in vals {
            self.params.push(v);
            ors.push(cond.replace('$', &format!("?{}", self.params.len())));
        }
        (!ors.is_empty()).then(|| format!("({})", ors.join(" OR ")))
    }

    /// One condition that holds when `cond` holds for any of `vals`; none for no values.
    pub(super) fn any(&mut self, cond: &str, vals: impl IntoIterator<Item = SqlValue>) {
        if let Some(c) = self.or(cond, vals) {
            self.push(&c);
        }
    }

    /// For an index column listing a block's values (NULL when too many to list): the block
    /// may hold a match when it lists none or lists a value `cond` accepts for any of `vals`.
    fn listed_any(&mut self, col: &str, cond: &str, vals: impl IntoIterator<Item = SqlValue>) {
        if let Some(c) = self.or(cond, vals) {
            self.push(&format!(
                "({col} IS NULL OR EXISTS (SELECT 1 FROM json_each({col}) WHERE {c}))"
            ));
        }
    }
}

/// Longest GLOB pattern SQLite accepts, in bytes: its default
/// `SQLITE_LIMIT_LIKE_PATTERN_LENGTH`. A longer one fails the SQL, so both paths refuse it
/// up front rather than let the in-memory test match what the store cannot.
pub const MAX_GLOB_BYTES: usize = 50_000;

/// Most values one list field of a [`Filter`] takes: each is one more OR'ed condition on
/// every record (and on every index block), so the work per record stays bounded.
pub const MAX_CHOICES: usize = 64;

fn check_glob<'a>(
    field: &'static str,
    globs: impl IntoIterator<Item = &'a String>,
) -> Result<(), StoreError> {
    match globs.into_iter().find(|g| g.len() > MAX_GLOB_BYTES) {
        Some(g) => Err(StoreError::GlobTooLong {
            field,
            len: g.len(),
            max: MAX_GLOB_BYTES,
        }),
        None => Ok(()),
    }
}

fn check_choices(field: &'static str, n: usize) -> Result<(), StoreError> {
    if n > MAX_CHOICES {
        return Err(StoreError::TooManyChoices {
            field,
            n,
            max: MAX_CHOICES,
        });
    }
    Ok(())
}

/// What both the SQL and the in-memory test refuse up front, so they fail alike.
fn check(f: &Filter) -> Result<(), StoreError> {
    check_glob("logger", &f.logger)?;
    check_glob("origin", &f.origins)?;
    check_glob("job", &f.job_globs)?;
    check_choices("job", f.jobs.len() + f.job_globs.len())?;
    check_choices("origin", f.origins.len())?;
    check_choices("logger", f.logger_trees.len())?;
    check_choices("source", f.sources.len())
}

fn compile_regex(re: &str) -> Result<Regex, StoreError> {
    Regex::new(re).map_err(|e| StoreError::BadRegex {
        pattern: re.to_owned(),
        source: Box::new(e),
    })
}

/// The search terms of `s`, or None when it asks for nothing (and so is no condition).
fn text_query(s: &str) -> Option<TextQuery> {
    Some(TextQuery::parse(s)).filter(|q| !q.is_empty())
}

/// `logger = $ OR logger GLOB $.*` without GLOB, so a name holding `*`, `?` or `[` means
/// itself: the names below `app` are exactly those from `app.` up to, not including, `app/`
/// (`/` is the byte after `.`), in SQLite's byte-wise BINARY order.
fn tree_cond(col: &str) -> String {
    format!("({col} = $ OR ({col} >= $ || '.' AND {col} < $ || '/'))")
}

/// `(col = $ OR … OR col GLOB $ …)` for `f`'s exact jobs and job GLOBs together (they OR),
/// its parameters added to `w`; None when it names no job.
fn job_cond(w: &mut Where, col: &str, f: &Filter) -> Option<String> {
    let text = |s: &String| SqlValue::Text(s.clone());
    let exact = w.or(&format!("{col} = $"), f.jobs.iter().map(text));
    let globs = w.or(&format!("{col} GLOB $"), f.job_globs.iter().map(text));
    match (exact, globs) {
        (Some(a), Some(b)) => Some(format!("({a} OR {b})")),
        (a, b) => a.or(b),
    }
}

/// The conditions on each record for `f`, and their parameters.
pub(super) fn record_clause(f: &Filter) -> Result<Where, StoreError> {
    check(f)?;
    let mut w = Where::default();
    let text = |s: &String| SqlValue::Text(s.clone());
    if let Some(l) = f.min_level {
        w.add("level >= $", SqlValue::Integer(l.into()));
    }
    if let Some(g) = &f.logger {
        w.add("logger GLOB $", text(g));
    }
    w.any(&tree_cond("logger"), f.logger_trees.iter().map(text));
    w.any(
        "source = $",
        f.sources
            .iter()
            .map(|s| SqlValue::Text(s.as_str().to_owned())),
    );
    if f.hide_internal {
        w.add(
            "source != $",
            SqlValue::Text(SourceKind::Internal.as_str().to_owned()),
        );
    }
    // `after_id` and `before_id` are not conditions here: the query clamps each id range it
    // reads to them (see `over_ranges`). As a second bound on `id` beside the range's own,
    // SQLite's planner may pick `id < before` over the range's `id <= hi` and walk from
    // `before` down to the range, evaluating every row on the way (5 s on 10M records).
    w.any("origin GLOB $", f.origins.iter().map(text));
    if let Some(c) = job_cond(&mut w, "job", f) {
        w.push(&c);
    }
    if let Some(t) = f.since {
        w.add("created >= $", SqlValue::Real(t));
    }
    if let Some(t) = f.until {
        w.add("created < $", SqlValue::Real(t));
    }
    if let Some(search) = f
        .search
        .as_ref()
        .filter(|s| !TextQuery::parse(s).is_empty())
    {
        w.add("logtui_search($, message, exc_text)", text(search));
    }
    for ex in f.exclude.iter().filter(|s| text_query(s).is_some()) {
        w.add("NOT logtui_search($, message, exc_text)", text(ex));
    }
    if let Some(re) = &f.regex {
        compile_regex(re)?;
        w.add("(message REGEXP $ OR exc_text REGEXP $)", text(re));
    }
    Ok(w)
}

/// The conditions on each block of the index for `f`: a block that fails them holds no
/// match. A block lists no loggers (origins, jobs) when it has too many to list.
pub(super) fn block_clause(f: &Filter) -> Where {
    let mut w = Where::default();
    let text = |s: &String| SqlValue::Text(s.clone());
    if let Some(l) = f.min_level {
        w.add("max_level >= $", SqlValue::Integer(l.into()));
    }
    w.listed_any("loggers", "value GLOB $", f.logger.iter().map(text));
    w.listed_any(
        "loggers",
        &tree_cond("value"),
        f.logger_trees.iter().map(text),
    );
    if !f.sources.is_empty() {
        let mask = f.sources.iter().fold(0i64, |m, k| m | 1 << *k as u32);
        w.add("(sources & $) != 0", SqlValue::Integer(mask));
    }
    if f.hide_internal {
        let others = SourceKind::ALL
            .iter()
            .filter(|k| **k != SourceKind::Internal)
            .fold(0i64, |m, k| m | 1 << *k as u32);
        w.add("(sources & $) != 0", SqlValue::Integer(others));
    }
    if let Some(id) = f.after_id {
        w.add("last_id > $", SqlValue::Integer(id));
    }
    if let Some(id) = f.before_id {
        w.add("first_id < $", SqlValue::Integer(id));
    }
    w.listed_any("origins", "value GLOB $", f.origins.iter().map(text));
    if let Some(c) = job_cond(&mut w, "value", f) {
        w.push(&format!(
            "(jobs IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs) WHERE {c}))"
        ));
    }
    if let Some(t) = f.since {
        w.add("max_created >= $", SqlValue::Real(t));
    }
    if let Some(t) = f.until {
        w.add("min_created < $", SqlValue::Real(t));
    }
    if let Some(q) = f
        .search
        .as_deref()
        .and_then(|s| TextQuery::parse(s).index_query())
    {
        w.add(
            "first_id IN (SELECT rowid FROM idx.words WHERE words MATCH $)",
            SqlValue::Text(q),
        );
    }
    w
}

impl Filter {
    /// The in-memory form of this filter's conditions on one record: the regex compiled and
    /// the searches parsed once, for testing each live row as the store would. Fails as the
    /// store's query would (a bad regex, a GLOB longer than [`MAX_GLOB_BYTES`]).
    pub fn compile(&self) -> Result<CompiledFilter, StoreError> {
        check(self)?;
        Ok(CompiledFilter {
            min_level: self.min_level,
            logger: self.logger.as_deref().map(Glob::new),
            logger_trees: self
                .logger_trees
                .iter()
                .map(|t| (t.clone(), format!("{t}.")))
                .collect(),
            sources: self.sources.clone(),
            hide_internal: self.hide_internal,
            after_id: self.after_id,
            before_id: self.before_id,
            origins: self.origins.iter().map(|g| Glob::new(g)).collect(),
            jobs: self.jobs.clone(),
            job_globs: self.job_globs.iter().map(|g| Glob::new(g)).collect(),
            since: self.since,
            until: self.until,
            search: self.search.as_deref().and_then(text_query),
            exclude: self.exclude.iter().filter_map(|s| text_query(s)).collect(),
            regex: self.regex.as_deref().map(compile_regex).transpose()?,
        })
    }
}

/// A [`Filter`] ready to test records in memory, agreeing with the store's SQL on every
/// record: what [`for_each`](crate::store::for_each) would return is exactly what
/// [`matches`](CompiledFilter::matches) accepts, apart from `limit` and order, which are
/// not properties of one record.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    min_level: Option<i32>,
    logger: Option<Glob>,
    /// Each name and the name with its dot, so a test allocates nothing.
    logger_trees: Vec<(String, String)>,
    sources: Vec<SourceKind>,
    hide_internal: bool,
    after_id: Option<i64>,
    before_id: Option<i64>,
    origins: Vec<Glob>,
    jobs: Vec<String>,
    job_globs: Vec<Glob>,
    since: Option<f64>,
    until: Option<f64>,
    search: Option<TextQuery>,
    exclude: Vec<TextQuery>,
    regex: Option<Regex>,
}

impl CompiledFilter {
    /// The filter that passes every record (what `Filter::default()` compiles to).
    pub fn everything() -> CompiledFilter {
        CompiledFilter {
            min_level: None,
            logger: None,
            logger_trees: Vec::new(),
            sources: Vec::new(),
            hide_internal: false,
            after_id: None,
            before_id: None,
            origins: Vec::new(),
            jobs: Vec::new(),
            job_globs: Vec::new(),
            since: None,
            until: None,
            search: None,
            exclude: Vec::new(),
            regex: None,
        }
    }

    /// Whether the record stored as `id` passes every condition. Cheap tests first; the
    /// text tests last, as in the SQL.
    pub fn matches(&self, id: i64, r: &Record) -> bool {
        // `created` compares as SQLite compares two REALs: IEEE, and a NaN bound (bound as
        // NULL) matches nothing, which `>=`/`<` on f64 also give.
        self.min_level.is_none_or(|l| r.level >= l)
            && (self.sources.is_empty() || self.sources.contains(&r.source))
            && !(self.hide_internal && r.source == SourceKind::Internal)
            && self.after_id.is_none_or(|a| id > a)
            && self.before_id.is_none_or(|b| id < b)
            && self.since.is_none_or(|t| r.created >= t)
            && self.until.is_none_or(|t| r.created < t)
            && ((self.jobs.is_empty() && self.job_globs.is_empty())
                || r.job.as_deref().is_some_and(|j| {
                    self.jobs.iter().any(|x| x == j) || self.job_globs.iter().any(|g| g.matches(j))
                }))
            && self.logger.as_ref().is_none_or(|g| g.matches(&r.logger))
            && (self.logger_trees.is_empty()
                || self.logger_trees.iter().any(|(name, dotted)| {
                    r.logger == *name || r.logger.as_bytes().starts_with(dotted.as_bytes())
                }))
            && (self.origins.is_empty() || self.origins.iter().any(|g| g.matches(&r.origin)))
            && self
                .search
                .as_ref()
                .is_none_or(|q| q.matches(&r.message, r.exc_text.as_deref()))
            && !self
                .exclude
                .iter()
                .any(|q| q.matches(&r.message, r.exc_text.as_deref()))
            && self.regex.as_ref().is_none_or(|re| {
                re.is_match(&r.message) || r.exc_text.as_deref().is_some_and(|t| re.is_match(t))
            })
    }
}

/// One element of a compiled GLOB pattern. Characters are code points as SQLite reads them
/// (see [`sqlite_char`]).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Char(u32),
    /// `?`: any one character.
    One,
    /// `*` (a run of them is one): any run of characters.
    Any,
    /// `[...]`: one character in (or with `^`, not in) these inclusive ranges.
    Set {
        ranges: Vec<(u32, u32)>,
        invert: bool,
    },
}

impl Tok {
    fn accepts(&self, c: u32) -> bool {
        match self {
            Tok::Char(p) => *p == c,
            Tok::One => true,
            Tok::Any => false,
            Tok::Set { ranges, invert } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *invert
            }
        }
    }
}

/// A GLOB pattern, compiled once, matching exactly as SQLite's `GLOB` operator does:
/// case-sensitive; `*`, `?` and `[...]` sets with `a-z` ranges and `^` negation; no escape
/// character (`[*]` is a literal star). SQLite's quirks are kept: a `]` first in a set is
/// literal, `-` first or last in a set is literal and a range ends the run (`[a-c-e]` is a-c,
/// `-` and `e`), a set that is never closed matches nothing, both pattern and text end at a
/// NUL character, and U+FFFE and U+FFFF read as U+FFFD.
///
/// Matching is iterative with one backtracking point (the last `*`), the standard two-pointer
/// algorithm: at most pattern length × text length steps, whatever the pattern. SQLite's own
/// matcher gives up on earlier stars the same way (`SQLITE_NOWILDCARDMATCH`).
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    toks: Vec<Tok>,
    /// An unclosed `[`: SQLite's matcher fails whenever it reaches one, and it always must.
    never: bool,
}

/// A character as SQLite's `sqlite3Utf8Read` returns it: U+FFFE and U+FFFF become U+FFFD
/// (valid UTF-8 holds no surrogates or overlong forms, its other replacements).
fn sqlite_char(c: char) -> u32 {
    match c {
        '\u{FFFE}' | '\u{FFFF}' => 0xFFFD,
        c => u32::from(c),
    }
}

/// The text SQLite's C string functions see: up to the first NUL.
fn until_nul(s: &str) -> &str {
    s.find('\0').map_or(s, |i| &s[..i])
}

impl Glob {
    /// Compiles `pattern`; every pattern is valid (a malformed one just matches less).
    pub fn new(pattern: &str) -> Glob {
        let mut toks = Vec::new();
        let mut chars = until_nul(pattern).chars().map(sqlite_char).peekable();
        const STAR: u32 = '*' as u32;
        const ONE: u32 = '?' as u32;
        const OPEN: u32 = '[' as u32;
        const CLOSE: u32 = ']' as u32;
        const CARET: u32 = '^' as u32;
        const DASH: u32 = '-' as u32;
        while let Some(c) = chars.next() {
            match c {
                STAR => {
                    if toks.last() != Some(&Tok::Any) {
                        toks.push(Tok::Any);
                    }
                }
                ONE => toks.push(Tok::One),
                OPEN => {
                    // As SQLite's patternCompare reads a set, item by item.
                    let mut ranges = Vec::new();
                    let mut next = chars.next();
                    let invert = next == Some(CARET);
                    if invert {
                        next = chars.next();
                    }
                    if next == Some(CLOSE) {
                        ranges.push((CLOSE, CLOSE));
                        next = chars.next();
                    }
                    // The previous single character, which a `-` can extend; 0 after a range.
                    let mut prior = 0u32;
                    loop {
                        match next {
                            None => return Glob { toks, never: true },
                            Some(CLOSE) => break,
                            Some(DASH)
                                if prior > 0 && chars.peek().is_some_and(|&n| n != CLOSE) =>
                            {
                                if let Some(hi) = chars.next() {
                                    ranges.push((prior, hi));
                                }
                                prior = 0;
                            }
                            Some(x) => {
                                ranges.push((x, x));
                                prior = x;
                            }
                        }
                        next = chars.next();
                    }
                    toks.push(Tok::Set { ranges, invert });
                }
                c => toks.push(Tok::Char(c)),
            }
        }
        Glob { toks, never: false }
    }

    /// Whether `text` matches, as `text GLOB pattern` would in SQLite.
    pub fn matches(&self, text: &str) -> bool {
        if self.never {
            return false;
        }
        let text = until_nul(text);
        let at = |i: usize| text.get(i..).and_then(|t| t.chars().next());
        let (mut p, mut s) = (0usize, 0usize);
        // Where to resume after the last `*`: the token after it, and the text position it
        // has consumed up to. Each retry moves that position on by one character.
        let mut resume: Option<(usize, usize)> = None;
        loop {
            match self.toks.get(p) {
                Some(Tok::Any) => {
                    if p + 1 == self.toks.len() {
                        return true;
                    }
                    p += 1;
                    resume = Some((p, s));
                    continue;
                }
                Some(t) => {
                    if let Some(c) = at(s)
                        && t.accepts(sqlite_char(c))
                    {
                        p += 1;
                        s += c.len_utf8();
                        continue;
                    }
                }
                None if s == text.len() => return true,
                None => {}
            }
            let Some((rp, rs)) = resume else {
                return false;
            };
            let Some(c) = at(rs) else {
                return false;
            };
            let rs = rs + c.len_utf8();
            resume = Some((rp, rs));
            p = rp;
            s = rs;
        }
    }
}
