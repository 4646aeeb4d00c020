//! What a query asks for ([`Filter`]), and the WHERE clauses it becomes: one on each
//! record, one on each block of the index. Every user value is bound as a parameter.

use crate::record::SourceKind;
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
    pub source: Option<SourceKind>,
    /// Leave out logtui's own records (alerts, drop notices): `query` does unless asked.
    pub hide_internal: bool,
    /// Only records stored after this row id (how `query --follow` asks for what is new).
    pub after_id: Option<i64>,
    /// Origin (peer address, socket path, channel), as a GLOB.
    pub origin: Option<String>,
    /// Exact job name.
    pub job: Option<String>,
    /// Search over message and traceback: every whitespace-separated term must occur (as
    /// a phrase of its words, case-insensitively); a trailing `*` makes a term a prefix.
    /// See [`crate::store::index::words::TextQuery`].
    pub search: Option<String>,
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
}

/// The conditions on each record for `f`, and their parameters.
pub(super) fn record_clause(f: &Filter) -> Result<Where, StoreError> {
    let mut w = Where::default();
    let text = |s: &String| SqlValue::Text(s.clone());
    if let Some(l) = f.min_level {
        w.add("level >= $", SqlValue::Integer(l.into()));
    }
    if let Some(g) = &f.logger {
        w.add("logger GLOB $", text(g));
    }
    if let Some(s) = f.source {
        w.add("source = $", SqlValue::Text(s.as_str().to_owned()));
    }
    if f.hide_internal {
        w.add(
            "source != $",
            SqlValue::Text(SourceKind::Internal.as_str().to_owned()),
        );
    }
    if let Some(id) = f.after_id {
        w.add("id > $", SqlValue::Integer(id));
    }
    if let Some(g) = &f.origin {
        w.add("origin GLOB $", text(g));
    }
    if let Some(j) = &f.job {
        w.add("job = $", text(j));
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
    if let Some(re) = &f.regex {
        Regex::new(re).map_err(|e| StoreError::BadRegex {
            pattern: re.clone(),
            source: Box::new(e),
        })?;
        w.add("(message REGEXP $ OR exc_text REGEXP $)", text(re));
    }
    Ok(w)
}

/// The conditions on each block of the index for `f`: a block that fails them holds no
/// match. A block lists no loggers (origins, jobs) when it has too many to list.
pub(super) fn block_clause(f: &Filter) -> Where {
    let mut w = Where::default();
    let text = |s: &String| SqlValue::Text(s.clone());
    let listed = |col: &str, cond: &str| {
        format!("({col} IS NULL OR EXISTS (SELECT 1 FROM json_each({col}) WHERE value {cond}))")
    };
    if let Some(l) = f.min_level {
        w.add("max_level >= $", SqlValue::Integer(l.into()));
    }
    if let Some(g) = &f.logger {
        w.add(&listed("loggers", "GLOB $"), text(g));
    }
    if let Some(s) = f.source {
        w.add("(sources & $) != 0", SqlValue::Integer(1 << s as u32));
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
    if let Some(g) = &f.origin {
        w.add(&listed("origins", "GLOB $"), text(g));
    }
    if let Some(j) = &f.job {
        w.add(&listed("jobs", "= $"), text(j));
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
