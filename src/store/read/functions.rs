//! The SQL functions reads use: `regexp` (for `REGEXP`) and `logtui_search` (the word
//! search), registered on each read connection.

use crate::store::error::{StoreError, on};
use crate::store::index::words::TextQuery;
use regex::Regex;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

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
