//! `logtui query`: filters over the store, printed as a table, JSON lines or CSV.
//! Opens the store read-only, so it is safe to run while `logtui record` writes.

use crate::cli::{Format, Order, QueryArgs};
use crate::record::{self, Record, SourceKind};
use crate::store::query::{self, Filter};
use crate::store::schema;
use crate::term::{escape_controls, escape_controls_keep_lines};
use crate::timefmt;
use anyhow::{Context, Result, anyhow};
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn run(db: &Path, args: &QueryArgs) -> Result<()> {
    let conn = schema::open_read_only(db)
        .with_context(|| format!("cannot open the store at {}", db.display()))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(sql) = &args.sql {
        return run_sql(&conn, sql, args.format, &mut out);
    }
    let filter = filter_from(args, record::now_epoch())?;
    if args.count {
        writeln!(out, "{}", query::count(&conn, &filter)?)?;
        return Ok(out.flush()?);
    }
    if args.format == Format::Csv {
        writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    }
    let mut io_err = None;
    query::for_each(&conn, &filter, |id, r| {
        if io_err.is_some() {
            return;
        }
        let res = match args.format {
            Format::Jsonl => writeln!(out, "{}", r.to_json_line(id)),
            Format::Table => writeln!(out, "{}", table_row(&r)),
            Format::Csv => writeln!(out, "{}", csv_row(id, &r)),
        };
        if let Err(e) = res {
            io_err = Some(e);
        }
    })?;
    match io_err {
        // A closed pipe (`| head`) is the reader saying it has enough.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Some(e) => Err(e.into()),
        None => match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => Ok(r?),
        },
    }
}

/// Turns the flags into a store filter, reading levels and times the way users type them.
pub fn filter_from(a: &QueryArgs, now: f64) -> Result<Filter> {
    let level =
        match &a.level {
            Some(l) => Some(record::parse_level_arg(l).ok_or_else(|| {
                anyhow!("unknown level '{l}': use a name like WARNING or a number")
            })?),
            None => None,
        };
    let source = match &a.source {
        Some(s) => Some(SourceKind::parse(s).ok_or_else(|| {
            anyhow!("unknown source '{s}': use tcp, udp, http, redis or internal")
        })?),
        None => None,
    };
    let time = |t: &Option<String>| -> Result<Option<f64>> {
        t.as_deref()
            .map(|s| timefmt::parse_time_arg(s, now).map_err(|e| anyhow!(e)))
            .transpose()
    };
    if let Some(re) = &a.regex {
        regex::Regex::new(re).map_err(|e| anyhow!("invalid --regex: {e}"))?;
    }
    Ok(Filter {
        min_level: level,
        logger: a.logger.clone(),
        source,
        origin: a.origin.clone(),
        job: a.job.clone(),
        search: a.search.clone(),
        regex: a.regex.clone(),
        since: time(&a.since)?,
        until: time(&a.until)?,
        limit: a.limit,
        descending: a.order == Order::Desc,
        ..Filter::default()
    })
}

/// `TIME LEVEL LOGGER [SOURCE ORIGIN] MESSAGE`, one line per record, control characters escaped.
fn table_row(r: &Record) -> String {
    let mut msg = escape_controls(&r.message).into_owned();
    if let Some(exc) = &r.exc_text {
        msg.push_str("\\n");
        msg.push_str(&escape_controls(exc));
    }
    format!(
        "{} {:<8} {:<20} {:<5} {} {}",
        timefmt::rfc3339_micros(r.created),
        escape_controls(&r.levelname),
        escape_controls(&r.logger),
        r.source.as_str(),
        escape_controls(&r.origin),
        msg
    )
}

const CSV_COLUMNS: [&str; 14] = [
    "id",
    "time",
    "created",
    "level",
    "levelname",
    "logger",
    "message",
    "source",
    "origin",
    "job",
    "host",
    "process",
    "thread",
    "exc_text",
];

fn csv_row(id: i64, r: &Record) -> String {
    let opt = |s: &Option<String>| s.as_deref().map(csv_field).unwrap_or_default();
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    [
        id.to_string(),
        timefmt::rfc3339_micros(r.created),
        format!("{:?}", r.created),
        r.level.to_string(),
        csv_field(&r.levelname),
        csv_field(&r.logger),
        csv_field(&r.message),
        r.source.as_str().to_owned(),
        csv_field(&r.origin),
        opt(&r.job),
        opt(&r.host),
        num(r.process),
        num(r.thread),
        opt(&r.exc_text),
    ]
    .join(",")
}

/// RFC 4180 quoting; terminal escapes are made visible even here.
fn csv_field(s: &str) -> String {
    let s = escape_controls_keep_lines(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn run_sql(
    conn: &rusqlite::Connection,
    sql: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<()> {
    use rusqlite::types::Value as V;
    let render = |v: &V| match v {
        V::Null => String::new(),
        V::Integer(i) => i.to_string(),
        V::Real(f) => format!("{f:?}"),
        V::Text(t) => t.clone(),
        V::Blob(b) => format!("<{} bytes>", b.len()),
    };
    let mut header_done = false;
    let mut res = Ok(());
    query::run_sql(conn, sql, |names, row| {
        if res.is_err() {
            return;
        }
        res = (|| -> std::io::Result<()> {
            match format {
                Format::Jsonl => {
                    let mut line = String::from("{");
                    for (i, (n, v)) in names.iter().zip(&row).enumerate() {
                        if i > 0 {
                            line.push(',');
                        }
                        crate::value::write_json_str(n, &mut line);
                        line.push(':');
                        match v {
                            V::Null => line.push_str("null"),
                            V::Integer(x) => line.push_str(&x.to_string()),
                            V::Real(f) => crate::value::write_float(*f, &mut line),
                            other => crate::value::write_json_str(&render(other), &mut line),
                        }
                    }
                    line.push('}');
                    writeln!(out, "{line}")
                }
                Format::Csv | Format::Table => {
                    if !header_done {
                        header_done = true;
                        let sep = if format == Format::Csv { "," } else { "\t" };
                        writeln!(out, "{}", names.join(sep))?;
                    }
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| {
                            if format == Format::Csv {
                                csv_field(&render(v))
                            } else {
                                escape_controls(&render(v)).into_owned()
                            }
                        })
                        .collect();
                    writeln!(
                        out,
                        "{}",
                        cells.join(if format == Format::Csv { "," } else { "\t" })
                    )
                }
            }
        })();
    })?;
    res?;
    Ok(out.flush()?)
}
