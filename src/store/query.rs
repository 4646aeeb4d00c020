//! Reading the store: filtered, streamed records, counts, and read-only SQL.
//! Every user value is bound as a parameter; full-text input is quoted so punctuation is never FTS syntax.

use super::error::{StoreError, on};
use super::extra::parse_extra;
use super::schema::COLUMNS;
use crate::record::{Record, Source};
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
    pub source: Option<Source>,
    /// Origin (peer address, socket path, channel), as a GLOB.
    pub origin: Option<String>,
    /// Exact job name.
    pub job: Option<String>,
    /// Full-text search over message and traceback: every whitespace-separated term must
    /// occur (as a phrase of its words); a trailing `*` makes a term a prefix.
    pub search: Option<String>,
    /// A regular expression (Rust `regex` syntax) matched against message or traceback.
    pub regex: Option<String>,
    /// Created at or after, epoch seconds.
    pub since: Option<f64>,
    /// Created before, epoch seconds (exclusive).
    pub until: Option<f64>,
    /// At most this many records (for `count`, a cap on the count).
    pub limit: Option<u64>,
    /// Newest first. Order is by `created`, then by row id.
    pub descending: bool,
}

/// Registers the `regexp(pattern, text)` SQL function (so `text REGEXP pattern` works),
/// compiling each pattern once per statement.
pub fn register_functions(conn: &Connection) -> Result<(), StoreError> {
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

/// The pieces of a full-text search: an FTS5 query, and terms with no word characters
/// (which the tokenizer would drop) to match as plain substrings instead.
#[derive(Debug, Default, PartialEq)]
pub struct SearchPlan {
    pub fts: Option<String>,
    pub substrings: Vec<String>,
}

/// Turns what a user typed into a safe FTS5 query: each term double-quoted (quotes
/// doubled), all ANDed. A trailing `*` on a term keeps its prefix meaning.
pub fn search_plan(text: &str) -> SearchPlan {
    let mut plan = SearchPlan::default();
    let mut q = String::new();
    for term in text.split_whitespace() {
        let (word, prefix) = match term.strip_suffix('*') {
            Some(w) if w.chars().any(char::is_alphanumeric) => (w, true),
            _ => (term, false),
        };
        if !word.chars().any(char::is_alphanumeric) {
            plan.substrings.push(term.to_owned());
            continue;
        }
        if !q.is_empty() {
            q.push_str(" AND ");
        }
        q.push('"');
        q.push_str(&word.replace('"', "\"\""));
        q.push('"');
        if prefix {
            q.push('*');
        }
    }
    plan.fts = (!q.is_empty()).then_some(q);
    plan
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

/// The WHERE clause and its parameters for `f`.
fn where_clause(f: &Filter) -> Result<(String, Vec<SqlValue>), StoreError> {
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
    if let Some(search) = &f.search {
        let plan = search_plan(search);
        if let Some(q) = plan.fts {
            w.add(
                "id IN (SELECT rowid FROM fts.records_fts WHERE records_fts MATCH $)",
                SqlValue::Text(q),
            );
        }
        for s in plan.substrings {
            w.add(
                "(instr(message, $) > 0 OR instr(exc_text, $) > 0)",
                SqlValue::Text(s),
            );
        }
    }
    if let Some(re) = &f.regex {
        Regex::new(re).map_err(|e| StoreError::BadRegex {
            pattern: re.clone(),
            source: Box::new(e),
        })?;
        w.add("(message REGEXP $ OR exc_text REGEXP $)", text(re));
    }
    Ok((w.sql, w.params))
}

/// Makes sure `conn` has what `f` needs: the `regexp` function, the full-text index.
fn prepare_conn(conn: &Connection, f: &Filter) -> Result<(), StoreError> {
    if f.regex.is_some() {
        register_functions(conn)?;
    }
    if f.search
        .as_deref()
        .is_some_and(|s| search_plan(s).fts.is_some())
    {
        let store = super::error::conn_path(conn);
        if !super::fts::attach(conn, &store)? {
            return Err(StoreError::NoFullText {
                path: super::fts::fts_path(&store),
            });
        }
    }
    Ok(())
}

/// How many records match `f` (capped at `f.limit` when set).
pub fn count(conn: &Connection, f: &Filter) -> Result<u64, StoreError> {
    prepare_conn(conn, f)?;
    let (w, mut p) = where_clause(f)?;
    let sql = match f.limit {
        Some(l) => {
            p.push(SqlValue::Integer(i64::try_from(l).unwrap_or(i64::MAX)));
            format!(
                "SELECT count(*) FROM (SELECT 1 FROM records{w} LIMIT ?{})",
                p.len()
            )
        }
        None => format!("SELECT count(*) FROM records{w}"),
    };
    let n: i64 = conn
        .query_row(&sql, params_from_iter(p), |r| r.get(0))
        .map_err(on(conn, "count records"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn select_sql(f: &Filter) -> Result<(String, Vec<SqlValue>), StoreError> {
    let (w, mut p) = where_clause(f)?;
    let dir = if f.descending { "DESC" } else { "ASC" };
    let mut sql = format!("SELECT id, {COLUMNS} FROM records{w} ORDER BY created {dir}, id {dir}");
    if let Some(l) = f.limit {
        p.push(SqlValue::Integer(i64::try_from(l).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ?{}", p.len()));
    }
    Ok((sql, p))
}

/// Streams the records matching `f` to `f`, with their row ids, in the filter's order.
pub fn for_each(
    conn: &Connection,
    f: &Filter,
    mut each: impl FnMut(i64, Record),
) -> Result<(), StoreError> {
    prepare_conn(conn, f)?;
    let (sql, p) = select_sql(f)?;
    let mut stmt = conn
        .prepare(&sql)
        .map_err(on(conn, "prepare record query"))?;
    let mut rows = stmt
        .query(params_from_iter(p))
        .map_err(on(conn, "run record query"))?;
    while let Some(row) = rows.next().map_err(on(conn, "read records"))? {
        let (id, rec) = record_from_row(row).map_err(on(conn, "decode a record row"))?;
        each(id, rec);
    }
    Ok(())
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
        source: Source::parse(&source).unwrap_or(Source::Internal),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_are_quoted_and_anded() {
        let p = search_plan(r#"  10.0.0.7 user"s  auth* "x AND y" -- ( "#);
        assert_eq!(
            p.fts.as_deref(),
            Some(r#""10.0.0.7" AND "user""s" AND "auth"* AND """x" AND "AND" AND "y""""#)
        );
        assert_eq!(p.substrings, vec!["--".to_owned(), "(".to_owned()]);
        assert_eq!(search_plan("   "), SearchPlan::default());
    }
}
