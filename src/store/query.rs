//! Reading the store: filtered, streamed records, counts, and read-only SQL.
//! The block index narrows each query to the id ranges that may match; every user value is bound as a parameter.

use super::error::{StoreError, on};
use super::extra::parse_extra;
use super::index;
use super::schema::{self, COLUMNS};
use super::words::TextQuery;
use crate::record::{Record, SourceKind};
use crate::value::Value;
use regex::Regex;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

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
    /// See [`super::words::TextQuery`].
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

/// Registers the SQL functions queries use: `regexp(pattern, text)` (so `text REGEXP
/// pattern` works) and `logtui_search(search, message, exc_text)`, each parsing its first
/// argument once per statement.
pub fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    conn.create_scalar_function(
        "logtui_search",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let q = ctx.get_or_create_aux(
                0,
                |v| -> Result<TextQuery, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(TextQuery::parse(v.as_str()?))
                },
            )?;
            let text = |i: usize| match ctx.get_raw(i) {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok(),
                _ => None,
            };
            Ok(q.matches(text(1).unwrap_or(""), text(2)))
        },
    )
    .map_err(on(conn, "register logtui_search function"))?;
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re = ctx.get_or_create_aux(
                0,
                |v| -> Result<Regex, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(Regex::new(v.as_str()?)?)
                },
            )?;
            Ok(match ctx.get_raw(1) {
                rusqlite::types::ValueRef::Text(t) => {
                    std::str::from_utf8(t).ok().map(|s| re.is_match(s))
                }
                _ => None,
            })
        },
    )
    .map_err(on(conn, "register regexp function"))
}

/// A WHERE clause under construction: each condition names its one parameter as `$`.
#[derive(Default)]
struct Where {
    sql: String,
    params: Vec<SqlValue>,
}

impl Where {
    fn add(&mut self, cond: &str, v: SqlValue) {
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
fn record_clause(f: &Filter) -> Result<Where, StoreError> {
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
fn block_clause(f: &Filter) -> Where {
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

/// The id ranges that may hold records matching `f`, ascending and disjoint: the blocks
/// the index cannot rule out, plus every range it does not cover yet. Everything when the
/// store has no index file.
fn candidate_ranges(conn: &Connection, f: &Filter) -> Result<Vec<(i64, i64)>, StoreError> {
    let store = super::error::conn_path(conn);
    let everything = vec![(i64::MIN, i64::MAX)];
    if !index::attach(conn, &store)? {
        return Ok(everything);
    }
    // One read transaction, so the state and the blocks come from one snapshot of the
    // index: a rebuild that empties the blocks commits together with its new state.
    conn.execute_batch("SAVEPOINT candidate_ranges")
        .map_err(on(conn, "begin reading the index"))?;
    let found = index_ranges(conn, &store, f);
    let _ = conn.execute_batch("RELEASE candidate_ranges");
    let mut ranges = match found {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(everything),
        Err(e) => {
            // A half-made or foreign index file must not stop a query, only slow it.
            tracing::debug!(error = %e, "block index unusable; reading every record");
            return Ok(everything);
        }
    };
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

/// The blocks the index cannot rule out plus the ranges it does not cover; None when the
/// index cannot be trusted for this store.
fn index_ranges(
    conn: &Connection,
    store: &std::path::Path,
    f: &Filter,
) -> Result<Option<Vec<(i64, i64)>>, StoreError> {
    let Some(state) = index::read_state(conn, "idx").map_err(on(conn, "read the index state"))?
    else {
        return Ok(None);
    };
    // An index of another store, or one ahead of this store (restored from a backup while
    // the index was not), would hide records: the recorder rebuilds such an index when it
    // starts, and until then queries read everything.
    let next = schema::next_id(conn).map_err(on(conn, "read the next record id"))?;
    if schema::store_id(conn, store)? != state.store_id || state.indexed_max >= next {
        return Ok(None);
    }
    let w = block_clause(f);
    let sql = format!(
        "SELECT first_id, last_id FROM idx.blocks{} ORDER BY first_id",
        w.sql
    );
    let mut ranges: Vec<(i64, i64)> = conn
        .prepare(&sql)
        .and_then(|mut st| {
            st.query_map(params_from_iter(w.params), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(on(conn, "look up blocks"))?;
    ranges.extend(state.uncovered());
    Ok(Some(ranges))
}

/// Runs a statement over each candidate range of `f`, in the filter's order, until `each`
/// has counted `f.limit` records. `sql` wraps the `FROM records WHERE … LIMIT …` part.
fn over_ranges(
    conn: &Connection,
    f: &Filter,
    sql: impl Fn(&str) -> String,
    mut each: impl FnMut(&Row<'_>) -> rusqlite::Result<u64>,
) -> Result<(), StoreError> {
    register_functions(conn)?;
    let mut w = record_clause(f)?;
    let mut ranges = candidate_ranges(conn, f)?;
    if f.descending {
        ranges.reverse();
    }
    w.add("id >= $", SqlValue::Null);
    w.add("id <= $", SqlValue::Null);
    let dir = if f.descending { "DESC" } else { "ASC" };
    let n = w.params.len();
    let sql = sql(&format!(
        "FROM records{} ORDER BY id {dir} LIMIT ?{}",
        w.sql,
        n + 1
    ));
    let mut st = conn
        .prepare(&sql)
        .map_err(on(conn, "prepare record query"))?;
    let mut left = f
        .limit
        .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    w.params.push(SqlValue::Null);
    for (lo, hi) in ranges {
        if left <= 0 {
            break;
        }
        w.params[n - 2] = SqlValue::Integer(lo);
        w.params[n - 1] = SqlValue::Integer(hi);
        w.params[n] = SqlValue::Integer(left);
        let mut rows = st
            .query(params_from_iter(w.params.iter()))
            .map_err(on(conn, "run record query"))?;
        while let Some(row) = rows.next().map_err(on(conn, "read records"))? {
            let got = each(row).map_err(on(conn, "decode a record row"))?;
            left = left.saturating_sub(i64::try_from(got).unwrap_or(i64::MAX));
        }
    }
    Ok(())
}

/// How many records match `f` (capped at `f.limit` when set).
pub fn count(conn: &Connection, f: &Filter) -> Result<u64, StoreError> {
    let mut total = 0u64;
    over_ranges(
        conn,
        f,
        |from| format!("SELECT count(*) FROM (SELECT 1 {from})"),
        |row| {
            let n = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            total += n;
            Ok(n)
        },
    )?;
    Ok(total)
}

/// Streams the records matching `f` to `f`, with their row ids, in the filter's order.
pub fn for_each(
    conn: &Connection,
    f: &Filter,
    mut each: impl FnMut(i64, Record),
) -> Result<(), StoreError> {
    over_ranges(
        conn,
        f,
        |from| format!("SELECT id, {COLUMNS} {from}"),
        |row| {
            let (id, rec) = record_from_row(row)?;
            each(id, rec);
            Ok(1)
        },
    )
}

/// Reads one `SELECT id, COLUMNS` row.
pub(crate) fn record_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Record)> {
    let source: String = row.get(6)?;
    let extra: Option<String> = row.get(22)?;
    let extra = match extra {
        None => Vec::new(),
        Some(t) if t.is_empty() => Vec::new(),
        Some(t) => match parse_extra(&t) {
            Some(pairs) => pairs,
            // Not ours (edited by hand?): keep the text rather than lose it or fail the listing.
            None => vec![("extra".to_owned(), Value::Str(t))],
        },
    };
    let rec = Record {
        created: row.get(1)?,
        level: row.get(2)?,
        levelname: row.get(3)?,
        logger: row.get(4)?,
        message: row.get(5)?,
        // Only logtui writes this column; an unknown value was made by hand.
        source: SourceKind::parse(&source).unwrap_or(SourceKind::Internal),
        origin: row.get(7)?,
        job: row.get(8)?,
        host: row.get(9)?,
        process: row.get(10)?,
        process_name: row.get(11)?,
        thread: row.get(12)?,
        thread_name: row.get(13)?,
        task_name: row.get(14)?,
        pathname: row.get(15)?,
        filename: row.get(16)?,
        module: row.get(17)?,
        lineno: row.get(18)?,
        func: row.get(19)?,
        exc_text: row.get(20)?,
        stack_info: row.get(21)?,
        extra,
    };
    Ok((row.get(0)?, rec))
}

/// Runs one read-only statement, handing `f` the column names and each row's values.
/// Statements that could write (per `sqlite3_stmt_readonly`) are refused; run this on a
/// connection from [`super::schema::open_read_only`], which cannot write either way.
pub fn run_sql(
    conn: &Connection,
    sql: &str,
    mut f: impl FnMut(&[String], Vec<SqlValue>),
) -> Result<(), StoreError> {
    register_functions(conn)?;
    let mut stmt = conn.prepare(sql).map_err(on(conn, "prepare SQL"))?;
    if !stmt.readonly() {
        return Err(StoreError::NotReadOnly {
            sql: sql.to_owned(),
        });
    }
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let n = names.len();
    let mut rows = stmt.query([]).map_err(on(conn, "run SQL"))?;
    while let Some(row) = rows.next().map_err(on(conn, "read SQL results"))? {
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            vals.push(SqlValue::from(
                row.get_ref(i).map_err(on(conn, "read SQL results"))?,
            ));
        }
        f(&names, vals);
    }
    Ok(())
}
