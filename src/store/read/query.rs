//! Reading the store: filtered, streamed records, counts, and read-only SQL.
//! The block index narrows each query to the id ranges that may match; every user value is bound as a parameter.

use super::extra::parse_extra;
pub use super::filter::{CompiledFilter, Filter, Glob, MAX_CHOICES, MAX_GLOB_BYTES};
use super::filter::{block_clause, record_clause};
use super::functions::register_functions;
use crate::record::{Record, SourceKind};
use crate::store::db::schema::{self, COLUMNS};
use crate::store::error::{self, StoreError, on};
use crate::store::index::format as index;
use crate::value::Value;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

/// The id ranges that may hold records matching `f`, ascending and disjoint: the blocks
/// the index cannot rule out, plus every range it does not cover yet. Everything when the
/// store has no index file.
fn candidate_ranges(conn: &Connection, f: &Filter) -> Result<Vec<(i64, i64)>, StoreError> {
    let store = error::conn_path(conn);
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

/// How [`over_ranges`] reads: the whole of each candidate range at once, or pieces of at
/// most `ids` row ids with `between` asked after each whether to go on.
struct Pieces<'a> {
    ids: i64,
    between: &'a mut dyn FnMut() -> bool,
}

/// Runs a statement over each candidate range of `f`, in the filter's order, until `each`
/// has counted `f.limit` records. `sql` wraps the `FROM records WHERE … LIMIT …` part.
/// With `pieces`, each range is read in pieces and `between` may stop the work (Ok(false)).
fn over_ranges(
    conn: &Connection,
    f: &Filter,
    pieces: Option<Pieces<'_>>,
    sql: impl Fn(&str) -> String,
    mut each: impl FnMut(&Row<'_>) -> rusqlite::Result<u64>,
) -> Result<bool, StoreError> {
    register_functions(conn)?;
    let mut w = record_clause(f)?;
    // The id bounds clamp the ranges rather than add conditions (see `record_clause`).
    let mut lo_bound = f.after_id.map_or(i64::MIN, |a| a.saturating_add(1));
    let mut hi_bound = f.before_id.map_or(i64::MAX, |b| b.saturating_sub(1));
    if pieces.is_some() {
        // Pieces of ids need real ends: without an index the one range is all of i64.
        let Some((lo, hi)) = super::channels::id_span(conn)? else {
            return Ok(true);
        };
        (lo_bound, hi_bound) = (lo_bound.max(lo), hi_bound.min(hi));
    }
    let mut ranges: Vec<(i64, i64)> = candidate_ranges(conn, f)?
        .into_iter()
        .map(|(lo, hi)| (lo.max(lo_bound), hi.min(hi_bound)))
        .filter(|(lo, hi)| lo <= hi)
        .collect();
    let mut pieces = pieces;
    if let Some(p) = &pieces {
        // The first pieces are small and each is twice the last up to `ids`, so the first
        // figure comes after a sixteenth of a piece's work and the rest cost few queries.
        let most = p.ids.max(1);
        let mut size = (most / 16).max(1);
        let mut split = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            let mut a = lo;
            loop {
                let b = a.saturating_add(size - 1).min(hi);
                split.push((a, b));
                size = size.saturating_mul(2).min(most);
                match b.checked_add(1) {
                    Some(next) if next <= hi => a = next,
                    _ => break,
                }
            }
        }
        ranges = split;
    }
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
        if let Some(p) = &mut pieces
            && !(p.between)()
        {
            return Ok(false);
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
    Ok(true)
}

/// How many records match `f` (capped at `f.limit` when set).
pub fn count(conn: &Connection, f: &Filter) -> Result<u64, StoreError> {
    let mut total = 0u64;
    over_ranges(
        conn,
        f,
        None,
        |from| format!("SELECT count(*) FROM (SELECT 1 {from})"),
        |row| {
            let n = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            total += n;
            Ok(n)
        },
    )?;
    Ok(total)
}

/// [`count`] in pieces of at most `ids` row ids (of those the index has not ruled out; the
/// first ones smaller, for a quick first figure), so
/// a count over millions of records reports as it goes: before each piece `progress` gets
/// the count so far, and returning false stops it (None). Some(total) when it finished,
/// the same total [`count`] gives for `f`.
pub fn count_in_pieces(
    conn: &Connection,
    f: &Filter,
    ids: i64,
    mut progress: impl FnMut(u64) -> bool,
) -> Result<Option<u64>, StoreError> {
    let total = std::cell::Cell::new(0u64);
    let mut between = || progress(total.get());
    let finished = over_ranges(
        conn,
        f,
        Some(Pieces {
            ids,
            between: &mut between,
        }),
        |from| format!("SELECT count(*) FROM (SELECT 1 {from})"),
        |row| {
            let n = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
            total.set(total.get() + n);
            Ok(n)
        },
    )?;
    Ok(finished.then(|| total.get()))
}

/// Rows per page when a feed consumer reads back what it missed.
pub const READ_BACK_PAGE: u64 = 1000;

/// The records `base` matches with `first <= id <= last`, in id order, handed over a page of at
/// most [`READ_BACK_PAGE`] at a time: what a consumer of the post-commit feed missed, read back
/// without holding it all at once.
pub fn for_each_page_between(
    conn: &Connection,
    base: &Filter,
    first: i64,
    last: i64,
    mut each_page: impl FnMut(Vec<(i64, Record)>),
) -> Result<(), StoreError> {
    let mut after = first - 1;
    while after < last {
        let f = Filter {
            after_id: Some(after),
            limit: Some(READ_BACK_PAGE),
            ..base.clone()
        };
        let mut page = Vec::new();
        let mut read = 0u64;
        for_each(conn, &f, |id, r| {
            read += 1;
            after = id;
            if id <= last {
                page.push((id, r));
            }
        })?;
        each_page(page);
        if read < READ_BACK_PAGE {
            break;
        }
    }
    Ok(())
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
        None,
        |from| format!("SELECT id, {COLUMNS} {from}"),
        |row| {
            let (id, rec) = record_from_row(row)?;
            each(id, rec);
            Ok(1)
        },
    )
    .map(|_| ())
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
/// connection from `store::open_read_only`, which cannot write either way.
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
