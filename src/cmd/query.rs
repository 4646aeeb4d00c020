//! `logtui query`: filters over the store, printed as a table, JSON lines or CSV.
//! Opens the store read-only, so it is safe to run while `logtui record` writes.

use crate::cli::{Format, Order, QueryArgs};
use crate::cmd::db_path;
use crate::record::{self, Record, SourceKind};
use crate::store::query::{self, Filter};
use crate::store::schema;
use crate::term::{self, escape_controls, escape_controls_keep_lines, escape_json_line};
use crate::timefmt;
use anyhow::{Context, Result, anyhow};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

pub fn run(db: &Path, args: &QueryArgs) -> Result<()> {
    db_path::check_readable(db)?;
    let conn = schema::open_read_only(db)
        .with_context(|| format!("cannot open the store at {}", db.display()))?;
    let stdout = std::io::stdout();
    let look = Look::for_stdout(stdout.is_terminal(), args);
    let mut out = BufWriter::new(stdout.lock());
    if let Some(sql) = &args.sql {
        return quiet_pipe(run_sql(&conn, sql, args.format, &mut out));
    }
    let mut filter = filter_from(args, record::now_epoch())?;
    if args.count {
        writeln!(out, "{}", query::count(&conn, &filter)?)?;
        return quiet_pipe(out.flush().map_err(Into::into));
    }
    // Ctrl-C is watched before anything is printed: a signal that came between the first
    // listing and the polling loop would otherwise kill the process instead of ending it cleanly.
    let interrupts = match args.follow {
        true => Some(Interrupts::watch()?),
        false => None,
    };
    // What is stored from here on is what --follow prints next.
    let mut last = match args.follow {
        true => newest_id(&conn)?,
        false => 0,
    };
    if args.format == Format::Csv {
        writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    }
    let printed = print_matching(&conn, &filter, args.format, &look, &mut out)?;
    let Some(interrupts) = interrupts else {
        return quiet_pipe(printed.map(drop).and_then(|()| Ok(out.flush()?)));
    };
    last = last.max(printed?);
    out.flush()?;
    filter.after_id = Some(last);
    filter.limit = None;
    filter.descending = false;
    quiet_pipe(follow(
        &conn,
        filter,
        args.format,
        &look,
        &mut out,
        interrupts,
    ))
}

/// Prints every record `filter` matches; returns the highest id printed (0 for none), or
/// the write error that stopped it.
fn print_matching(
    conn: &rusqlite::Connection,
    filter: &Filter,
    format: Format,
    look: &Look,
    out: &mut impl Write,
) -> Result<Result<i64>> {
    let mut io_err = None;
    let mut last = 0;
    query::for_each(conn, filter, |id, r| {
        if io_err.is_some() {
            return;
        }
        last = last.max(id);
        let res = match format {
            Format::Jsonl => writeln!(out, "{}", escape_json_line(&r.to_json_line(id))),
            Format::Table => writeln!(out, "{}", look.row(&r)),
            Format::Csv => writeln!(out, "{}", csv_row(id, &r)),
        };
        if let Err(e) = res {
            io_err = Some(e);
        }
    })?;
    Ok(match io_err {
        Some(e) => Err(e.into()),
        None => Ok(last),
    })
}

/// How often `--follow` asks the store for new records: fast enough to feel live, and a
/// query on the newest block of the index costs well under a millisecond.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// SIGINT and SIGTERM, watched for `--follow` from before its first listing, with the
/// small runtime its timer runs on.
struct Interrupts {
    rt: tokio::runtime::Runtime,
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn watch() -> Result<Interrupts> {
        use tokio::signal::unix::{SignalKind, signal};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the --follow timer")?;
        let _entered = rt.enter();
        let int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        let term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        drop(_entered);
        Ok(Interrupts { rt, int, term })
    }
}

/// `--follow`: prints what is stored after `filter.after_id`, again and again, until
/// Ctrl-C or SIGTERM (a clean exit, 0) or the reader closes the pipe.
fn follow(
    conn: &rusqlite::Connection,
    mut filter: Filter,
    format: Format,
    look: &Look,
    out: &mut impl Write,
    interrupts: Interrupts,
) -> Result<()> {
    let Interrupts {
        rt,
        mut int,
        mut term,
    } = interrupts;
    rt.block_on(async {
        loop {
            tokio::select! {
                _ = int.recv() => return Ok(()),
                _ = term.recv() => return Ok(()),
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            let last = print_matching(conn, &filter, format, look, out)??;
            if last > 0 {
                filter.after_id = Some(last);
                out.flush()?;
            }
        }
    })
}

/// The highest row id in the store (0 when empty).
fn newest_id(conn: &rusqlite::Connection) -> Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM records", [], |r| r.get(0))
        .context("cannot read the store's newest record id")
}

/// A closed pipe (`| head`) is the reader saying it has enough, not an error.
fn quiet_pipe(r: Result<()>) -> Result<()> {
    match r {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        r => r,
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
    // Alerts and drop notices answer `--source internal` or `--all`, not a search for their words.
    let hide_internal = !a.all && source.is_none();
    Ok(Filter {
        min_level: level,
        sources: source.into_iter().collect(),
        logger: a.logger.clone(),
        origins: a.origin.iter().cloned().collect(),
        jobs: a.job.iter().cloned().collect(),
        search: a.search.clone(),
        regex: a.regex.clone(),
        since: time(&a.since)?,
        until: time(&a.until)?,
        limit: a.limit,
        descending: a.order == Order::Desc,
        hide_internal,
        ..Filter::default()
    })
}

/// How the table looks on this stdout: cells cut to the terminal's width, colour, time zone.
struct Look {
    /// The terminal's width; `None` when stdout is a pipe or file (nothing is cut).
    columns: Option<usize>,
    colour: bool,
    /// The zone times are shown in: UTC with `--utc`, else the machine's, looked up once.
    zone: Option<jiff::tz::TimeZone>,
    full: bool,
}

/// Column widths, in terminal cells. Longer values are cut with `…`, so columns stay aligned.
const LEVEL_W: usize = 8;
const LOGGER_W: usize = 24;
const SOURCE_W: usize = 8;
const ORIGIN_W: usize = 21;
/// The least room the message keeps before narrower terminals drop the origin, then narrow
/// the logger, then drop the source column.
const MESSAGE_MIN: usize = 24;
const LOGGER_MIN: usize = 12;

impl Look {
    fn for_stdout(is_terminal: bool, a: &QueryArgs) -> Look {
        Look {
            columns: is_terminal.then(term::stdout_columns).flatten(),
            colour: term::use_colour(is_terminal),
            zone: (!a.utc).then(jiff::tz::TimeZone::system),
            full: a.full,
        }
    }

    /// `TIME LEVEL LOGGER SOURCE ORIGIN MESSAGE`: control characters escaped, a multi-line
    /// message folded to its first line with a `[+N lines]` marker unless `--full`.
    fn row(&self, r: &Record) -> String {
        let time = match &self.zone {
            None => timefmt::rfc3339_millis_utc(r.created),
            Some(tz) => timefmt::local_millis(r.created, tz),
        };
        let mut text = r.message.clone();
        if let Some(exc) = &r.exc_text {
            text.push('\n');
            text.push_str(exc);
        }
        let text = text.trim_end_matches(['\n', '\r']);
        let (first, rest) = match text.split_once('\n') {
            Some((first, rest)) => (first, Some(rest)),
            None => (text, None),
        };
        let message = escape_controls(first.trim_end_matches('\r'));
        // The fold marker survives any cut: it says there is more to see with --full.
        let marker = match (rest, self.full) {
            (Some(rest), false) => {
                let n = rest.lines().count();
                format!(" [+{n} line{}]", if n == 1 { "" } else { "s" })
            }
            _ => String::new(),
        };
        // Narrow terminals give up the least telling columns first.
        let (mut logger_w, mut show_source, mut show_origin) = (LOGGER_W, true, true);
        let mut message_w = None;
        if let (Some(cols), false) = (self.columns, self.full) {
            let fixed = |lw: usize, src: bool, org: bool| {
                time.len()
                    + 1
                    + LEVEL_W
                    + 1
                    + lw
                    + 1
                    + if src { SOURCE_W + 1 } else { 0 }
                    + if org { ORIGIN_W + 1 } else { 0 }
            };
            if cols < fixed(logger_w, true, true) + MESSAGE_MIN {
                show_origin = false;
            }
            let room = cols.saturating_sub(fixed(LOGGER_MIN, true, show_origin) + MESSAGE_MIN);
            logger_w = logger_w.min(LOGGER_MIN + room);
            if cols < fixed(logger_w, true, show_origin) + MESSAGE_MIN {
                show_source = false;
            }
            message_w = Some(
                cols.saturating_sub(fixed(logger_w, show_source, show_origin))
                    .max(8),
            );
        }
        let level = term::pad(
            &term::truncate(&escape_controls(&r.levelname), LEVEL_W),
            LEVEL_W,
        );
        let level = match (self.colour, term::level_colour(r.level)) {
            (true, Some(c)) => format!("{c}{level}{}", term::RESET),
            _ => level,
        };
        let mut line = format!(
            "{time} {level} {}",
            term::pad(&cut_left(&escape_controls(&r.logger), logger_w), logger_w)
        );
        if show_source {
            line.push(' ');
            line.push_str(&term::pad(r.source.as_str(), SOURCE_W));
        }
        if show_origin {
            line.push(' ');
            let origin = escape_controls(&r.origin);
            line.push_str(&term::pad(&term::truncate(&origin, ORIGIN_W), ORIGIN_W));
        }
        line.push(' ');
        match message_w {
            Some(w) => line.push_str(&term::truncate(
                &message,
                w.saturating_sub(term::width(&marker)).max(1),
            )),
            None => line.push_str(&message),
        }
        line.push_str(&marker);
        if let (Some(rest), true) = (rest, self.full) {
            // Whole, as the sender wrote it, each further line indented under the first.
            for l in rest.lines() {
                line.push_str("\n    ");
                line.push_str(&escape_controls(l.trim_end_matches('\r')));
            }
        }
        line
    }
}

/// A logger name cut from the left (`…orders.checkout`): the end of a dotted name is the
/// part that tells loggers apart.
fn cut_left(s: &str, cells: usize) -> std::borrow::Cow<'_, str> {
    if term::width(s) <= cells {
        return s.into();
    }
    let reversed: String = s.chars().rev().collect();
    let cut: String = term::truncate(&reversed, cells).chars().rev().collect();
    cut.into()
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
                    writeln!(out, "{}", escape_json_line(&line))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn look(columns: Option<usize>, full: bool) -> Look {
        Look {
            columns,
            colour: false,
            zone: None,
            full,
        }
    }

    fn rec(logger: &str, message: &str) -> Record {
        let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:40116");
        r.logger = logger.into();
        r.message = message.into();
        r.set_level(30);
        r
    }

    #[test]
    fn rows_fit_the_terminal_and_stay_aligned() {
        let long = rec("a.very.long.logger.name.that.misaligns", &"x".repeat(300));
        let short = rec("app", "short\nsecond line\nthird");
        for cols in [30, 40, 60] {
            let (a, b) = (
                look(Some(cols), false).row(&long),
                look(Some(cols), false).row(&short),
            );
            // Below ~56 columns the fixed columns alone do not fit; the terminal wraps.
            assert!(term::width(&a) <= cols.max(56), "{cols}: {a}");
            assert!(
                b.ends_with(" [+2 lines]"),
                "the fold marker survives the cut: {b}"
            );
        }
        for cols in [72, 80, 120, 200] {
            let (a, b) = (
                look(Some(cols), false).row(&long),
                look(Some(cols), false).row(&short),
            );
            assert!(term::width(&a) <= cols, "{cols}: {a}");
            assert!(a.ends_with('…'), "{a}");
            // The message column starts at the same cell in both rows.
            let at = |s: &str, needle: &str| term::width(&s[..s.find(needle).unwrap()]);
            assert_eq!(at(&a, "xxx"), at(&b, "short"), "{cols}:\n{a}\n{b}");
            assert!(b.contains("short [+2 lines]"), "{b}");
        }
        let piped = look(None, false).row(&long);
        assert!(piped.ends_with(&"x".repeat(300)) && piped.contains(" …ger.name.that.misaligns "));
        let full = look(Some(80), true).row(&short);
        assert!(
            full.ends_with("short\n    second line\n    third"),
            "{full}"
        );
    }
}
