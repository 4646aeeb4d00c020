//! The newcomer's path through the README, run for real: start, send, query (piped and on a
//! pseudo-terminal), follow, a typo in the config, an invalid value, a bad regex, a taken port.

mod common;

use common::{Logtui, bin, query};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn run_env(args: &[&str], home: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run logtui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(args: &[&str], home: &Path) -> (i32, String, String) {
    run_env(args, home, &[])
}

/// An error as a person should read it: starts with `logtui: `, no literal `\n`, no line
/// said twice, and no cause repeated (no sentence fragment of 12+ characters occurs twice).
fn assert_reads_cleanly(err: &str) {
    assert!(err.starts_with("logtui: "), "{err}");
    assert!(!err.contains("\\n"), "literal \\n in: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.trim().len() > 3).collect();
    for l in &lines {
        assert_eq!(
            lines.iter().filter(|m| m == &l).count(),
            1,
            "line repeated: {l}\n{err}"
        );
    }
    for part in err.split(": ").filter(|p| p.len() >= 12) {
        assert_eq!(err.matches(part).count(), 1, "repeated {part:?} in: {err}");
    }
}

/// Runs logtui on a pseudo-terminal `cols` columns wide (util-linux `script`) and returns
/// what it wrote, with the terminal's `\r\n` turned back into `\n`.
fn on_terminal(args: &[&str], cols: u16, env: &[(&str, &str)]) -> String {
    let quoted: Vec<String> = std::iter::once(bin())
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let script = format!("stty cols {cols} rows 40; exec {}", quoted.join(" "));
    let out = Command::new("script")
        .args(["-qec", &script, "/dev/null"])
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs a command on a pseudo-terminal");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .replace("\r\n", "\n")
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn emit(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin())
        .arg("emit")
        .args(args)
        .output()
        .expect("run emit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn emit_stdin(args: &[&str], input: &str) {
    let mut child = Command::new(bin())
        .arg("emit")
        .arg("--stdin")
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emit");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Polls `f` until it is true or `limit` passes.
/// `record --db DB --tcp TCP` with the other listeners off.
fn record_tcp_only<'a>(db: &'a str, tcp: &'a str) -> [&'a str; 11] {
    [
        "record", "--db", db, "--tcp", tcp, "--udp", "off", "--http", "off", "--redis", "off",
    ]
}

fn store_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".db"))
        .collect();
    v.sort();
    v
}

#[test]
fn start_send_and_query_read_well() {
    let lt = Logtui::start(&["--http", "off"]);
    let tcp = lt.tcp.clone().unwrap();
    let udp = lt.udp.clone().unwrap();
    let long = "a.very.long.logger.name.that.used.to.misalign";
    let (code, err) = emit(&[
        "--tcp", &tcp, "--count", "3", "--level", "WARNING", "--logger", long,
    ]);
    assert_eq!(code, 0, "{err}");
    // One closing line: count, bytes, where, rate.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("logtui: sent 3 records (") && err.contains(&format!("to tcp {tcp} in ")),
        "{err}"
    );
    assert!(err.contains(" records/s)"), "{err}");
    let (code, err) = emit(&["--udp", &udp, "--count", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot know"), "{err}");
    emit_stdin(
        &["--tcp", &tcp, "--logger", "multi"],
        "run with --dry-run please\n",
    );
    let (code, _, _dir, db) = lt.stop();
    assert_eq!(code, 0);
    let home = tempfile::tempdir().unwrap();

    // Alerts stay out of ordinary answers unless asked for.
    let plain = query(&db, &[]);
    assert_eq!(plain.lines().count(), 6, "{plain}");
    assert!(!plain.contains("logtui.alerts"), "{plain}");
    let all = query(&db, &["--all"]);
    assert!(all.contains("logtui.alerts"), "{all}");
    // Piped: no colour, nothing cut, and every message starts in the same column.
    assert!(!plain.contains('\u{1b}'), "{plain}");
    assert!(
        plain.contains("synthetic record 1 of 3 from logtui emit"),
        "{plain}"
    );
    let col = |l: &str| l.find("synthetic").or_else(|| l.find("run with"));
    let cols: Vec<_> = plain
        .lines()
        .map(|l| col(l).map(|i| unicode_width(&l[..i])))
        .collect();
    assert!(cols.iter().all(|c| c.is_some() && *c == cols[0]), "{plain}");
    // --utc shows UTC; the default is local time without a zone letter.
    let utc = query(&db, &["--utc", "--limit", "1"]);
    assert!(utc.split(' ').next().unwrap().ends_with('Z'), "{utc}");
    let local = run_env(
        &["query", "--db", db.to_str().unwrap(), "--limit", "1"],
        home.path(),
        &[("TZ", "Asia/Kolkata")],
    )
    .1;
    assert!(!local.split(' ').next().unwrap().ends_with('Z'), "{local}");
    assert_ne!(
        local[11..16],
        utc[11..16],
        "TZ=Asia/Kolkata is 5:30 from UTC"
    );

    // A term that starts with `--`, both ways clap reads it.
    assert_eq!(query(&db, &["--count", "--search=--dry-run"]).trim(), "1");
    assert_eq!(
        query(&db, &["--count", "--search", "--dry-run"]).trim(),
        "1"
    );
    assert_eq!(query(&db, &["--count", "--search", "--"]).trim(), "1");

    // On a terminal: each line fits, levels are coloured, NO_COLOR turns colour off.
    for cols in [60u16, 80, 132] {
        let text = on_terminal(&["query", "--db", db.to_str().unwrap()], cols, &[]);
        assert!(text.contains("\u{1b}[33mWARNING"), "{text}");
        let plain = strip_ansi(&text);
        assert_eq!(plain.lines().count(), 6, "{plain}");
        for l in plain.lines() {
            assert!(unicode_width(l) <= cols as usize, "{cols}: {l}");
        }
        assert!(plain.contains('…'), "{plain}");
        let starts: Vec<_> = plain
            .lines()
            .map(|l| unicode_width(&l[..col(l).unwrap_or(0)]))
            .collect();
        assert!(starts.iter().all(|s| *s == starts[0]), "{cols}:\n{plain}");
    }
    let text = on_terminal(
        &["query", "--db", db.to_str().unwrap()],
        80,
        &[("NO_COLOR", "1")],
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}

fn unicode_width(s: &str) -> usize {
    s.chars().count()
}

#[test]
fn multi_line_messages_fold_and_terminal_output_escapes_bidi_in_every_format() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let tcp = lt.tcp.clone().unwrap();
    let py = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler(sys.argv[1], int(sys.argv[2]))
log = logging.getLogger("tb")
log.addHandler(h)
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke \u202eevil")
h.close()
"#;
    let (host, port) = tcp.rsplit_once(':').unwrap();
    let py3 = common::pythons()
        .into_iter()
        .find(|p| common::python_version(p).0 >= 3)
        .expect("a Python 3");
    let st = Command::new(py3)
        .args(["-c", py, host, port])
        .status()
        .expect("python");
    assert!(st.success());
    let (code, _, _dir, db) = lt.stop();
    assert_eq!(code, 0);
    let d = db.to_str().unwrap();
    let table = query(&db, &["--logger", "tb"]);
    assert_eq!(table.lines().count(), 1, "{table}");
    assert!(table.contains("it broke \\u{202e}evil [+"), "{table}");
    let full = query(&db, &["--logger", "tb", "--full"]);
    assert!(full.lines().count() > 3, "{full}");
    assert!(full.contains("\n    ZeroDivisionError"), "{full}");
    for format in ["jsonl", "csv", "table"] {
        let text = on_terminal(
            &["query", "--db", d, "--logger", "tb", "--format", format],
            200,
            &[],
        );
        assert!(!text.contains('\u{202e}'), "{format}: {text}");
    }
    let text = on_terminal(
        &["query", "--db", d, "--logger", "tb", "--format", "jsonl"],
        200,
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("still JSON");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("broke \u{202e}evil"),
        "{v}"
    );
    assert!(text.contains("\\u202e"), "{text}");
}

#[test]
fn follow_prints_new_records_until_ctrl_c() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off", "--flush-level", "DEBUG"]);
    let tcp = lt.tcp.clone().unwrap();
    assert_eq!(
        emit(&["--tcp", &tcp, "--count", "2", "--logger", "old"]).0,
        0
    );
    common::wait_for("the two old records", Duration::from_secs(10), || {
        query(&lt.db, &["--count", "--logger", "old"]).trim() == "2"
    });
    let mut f = Command::new(bin())
        .args([
            "query",
            "-f",
            "--logger",
            "new*",
            "--db",
            lt.db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = f.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    assert_eq!(
        emit(&["--tcp", &tcp, "--count", "3", "--logger", "new.one"]).0,
        0
    );
    for i in 1..=3 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("followed record");
        assert!(
            line.contains("new.one") && line.contains(&format!("record {i} of 3")),
            "{line}"
        );
    }
    // Ctrl-C ends it cleanly.
    Command::new("kill")
        .args(["-INT", &f.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = f.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "query -f did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(rx.try_recv().is_err(), "nothing else matched");
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn config_typos_and_bad_values_are_refused_where_they_are_written() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "[store]\nbufer_size = 1\n").unwrap();
    let (code, _, err) = run(&["config", "--config", cfg.to_str().unwrap()], home.path());
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert_eq!(
        err.matches("unknown field `bufer_size`").count(),
        1,
        "{err}"
    );
    // The caret diagram on its own lines.
    assert!(err.contains("\n2 | bufer_size = 1\n"), "{err}");
    assert!(
        err.lines().any(|l| l.trim_start().starts_with("| ^^^")),
        "{err}"
    );

    // An invalid value: `config` refuses it as `record` would, naming file and key…
    std::fs::write(&cfg, "[store]\nflush_interval = -1.0\n").unwrap();
    let (code, _, err) = run(&["config", "--config", cfg.to_str().unwrap()], home.path());
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("c.toml") && err.contains("store.flush_interval"),
        "{err}"
    );
    let db = home.path().join("s.db");
    let (code, _, err2) = run(
        &[
            "record",
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--tcp",
            "127.0.0.1:0",
        ],
        home.path(),
    );
    assert_ne!(code, 0);
    assert_eq!(err2, err, "record refuses it the same way");
    assert!(
        !err.contains("store at"),
        "the store is not to blame: {err}"
    );
    assert!(store_files(home.path()).is_empty());
    // …and from a flag, naming the flag.
    for (flag, value, key) in [
        ("--flush-interval", "-1", "--flush-interval"),
        ("--udp", "9021", "--udp"),
        ("--flush-level", "LOUD", "--flush-level"),
        ("--http-auth", "nocolon", "--http-auth"),
    ] {
        let (code, _, err) = run(
            &["config", "--config", "/dev/null", flag, value],
            home.path(),
        );
        assert_ne!(code, 0, "{flag} {value}");
        assert_reads_cleanly(&err);
        assert!(
            err.starts_with(&format!("logtui: invalid {key}: ")),
            "{err}"
        );
    }
}

#[test]
fn a_bad_regex_shows_its_caret() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let (_, _, _dir, db) = lt.stop();
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        &["query", "--db", db.to_str().unwrap(), "--regex", "a(b"],
        home.path(),
    );
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(err.starts_with("logtui: invalid --regex"), "{err}");
    assert!(err.contains("\n    a(b\n     ^\n"), "{err}");
    assert_eq!(err.matches("unclosed group").count(), 1, "{err}");
}

#[test]
fn a_taken_port_or_a_directory_leaves_no_store_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("new").join("s.db");
    let (code, _, err) = run(&record_tcp_only(db.to_str().unwrap(), &addr), home.path());
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "SocketHandler (tcp) on {addr}: the address is already in use"
        )),
        "{err}"
    );
    assert!(err.contains("--tcp"), "{err}");
    assert!(
        !home.path().join("new").exists(),
        "a failed start created the store"
    );

    // A store already in use: the second start removes nothing of the first's.
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let before = store_files(lt.dir.path());
    let (code, _, err) = run(
        &record_tcp_only(lt.db.to_str().unwrap(), "127.0.0.1:0"),
        home.path(),
    );
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert_eq!(store_files(lt.dir.path()), before);
    assert_eq!(lt.stop().0, 0);

    // A file that is not a store: named once, SQLite's code not restated, nothing left behind.
    let bogus = home.path().join("notes.db");
    std::fs::write(&bogus, "hello, not SQLite\n").unwrap();
    for args in [
        vec![
            "record",
            "--db",
            bogus.to_str().unwrap(),
            "--tcp",
            "127.0.0.1:0",
        ],
        vec!["query", "--db", bogus.to_str().unwrap()],
    ] {
        let (code, _, err) = run(&args, home.path());
        assert_ne!(code, 0);
        assert_reads_cleanly(&err);
        assert!(err.ends_with(": file is not a database\n"), "{err}");
    }
    assert_eq!(store_files(home.path()), ["notes.db"]);
    // A file where a directory should be.
    let under = bogus.join("s.db");
    let (code, _, err) = run(
        &[
            "record",
            "--db",
            under.to_str().unwrap(),
            "--tcp",
            "127.0.0.1:0",
        ],
        home.path(),
    );
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(err.contains("notes.db is a file, not a directory"), "{err}");

    // A directory given as --db says so, for record and query alike.
    for cmd in ["record", "query"] {
        let (code, _, err) = run(
            &[
                cmd,
                "--db",
                home.path().to_str().unwrap(),
                "--tcp",
                "127.0.0.1:0",
            ][..if cmd == "record" { 5 } else { 3 }],
            home.path(),
        );
        assert_ne!(code, 0);
        assert_reads_cleanly(&err);
        assert!(
            err.contains("it is a directory, not a file"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn emit_says_when_nothing_listens() {
    // A UDP port nobody listens on: the kernel's "port unreachable" is the only answer.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (code, err) = emit(&["--udp", &port, "--count", "3"]);
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(
        err.contains(&format!("nothing listens on udp {port}")),
        "{err}"
    );
    let (code, err) = emit(&["--tcp", &port, "--count", "1"]);
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(err.contains(&format!("cannot connect to {port}")), "{err}");
}

#[test]
fn a_second_ctrl_c_says_how_many_records_it_abandons() {
    // Nothing flushes by itself: records wait in the buffer.
    let lt = Logtui::start(&[
        "--udp",
        "off",
        "--http",
        "off",
        "--flush-level",
        "CRITICAL",
        "--flush-interval",
        "600",
        "--buffer-size",
        "100000",
        "--stats-interval",
        "0.05",
    ]);
    let tcp = lt.tcp.clone().unwrap();
    assert_eq!(emit(&["--tcp", &tcp, "--count", "5"]).0, 0);
    common::wait_for(
        "a stats line with 5 received",
        Duration::from_secs(10),
        || lt.stderr().iter().any(|l| l.contains("tcp 5/0/0/0/0")),
    );
    // An open connection keeps the drain going while the second signal arrives.
    let _open = std::net::TcpStream::connect(&tcp).unwrap();
    Command::new("kill")
        .args(["-INT", &lt.child.id().to_string()])
        .status()
        .unwrap();
    common::wait_for("the drain to start", Duration::from_secs(10), || {
        lt.stderr().iter().any(|l| l.contains("stopping"))
    });
    let (code, err, _, _) = lt.stop_with("-INT");
    assert_eq!(code, 130, "{err:?}");
    assert!(
        err.iter().any(|l| l.contains("second signal")
            && l.contains(" 5 received records not yet stored are abandoned")),
        "{err:?}"
    );
}

#[test]
fn help_completions_and_man_page() {
    let home = tempfile::tempdir().unwrap();
    for sub in ["record", "query", "emit", "config"] {
        let (code, out, _) = run(&[sub, "--help"], home.path());
        assert_eq!(code, 0);
        let options = out.split("Options:\n").nth(1).expect("options");
        let first = options.lines().next().unwrap();
        assert!(
            !first.contains("--config") && !first.contains("--db"),
            "{sub}: global option first: {first}"
        );
        assert!(out.contains("Global options:"), "{out}");
        assert!(out.contains("Examples:\n  logtui "), "{sub}: {out}");
    }
    let (code, out, _) = run(&["completions", "bash"], home.path());
    assert_eq!(code, 0);
    assert!(
        out.contains("_logtui()") && out.contains("--follow"),
        "{out}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, out, _) = run(&["completions", shell], home.path());
        assert_eq!(code, 0);
        assert!(out.contains("logtui"));
    }
    let (code, out, _) = run(&["man"], home.path());
    assert_eq!(code, 0);
    assert!(out.contains(".TH logtui 1"), "{out}");
    for section in [
        "LOGTUI RECORD",
        "LOGTUI QUERY",
        "LOGTUI EMIT",
        "LOGTUI CONFIG",
    ] {
        assert!(out.contains(&format!(".SH \"{section}\"")), "{section}");
    }
    assert!(out.contains("\\-\\-follow"), "the query options are in it");
    let shipped = std::fs::read_to_string(common::manifest_path("assets/logtui.1")).unwrap();
    assert!(
        shipped == out,
        "assets/logtui.1 is stale: regenerate it with `cargo run -- man > assets/logtui.1`"
    );
}

#[test]
fn the_readme_config_block_is_the_defaults() {
    let readme = std::fs::read_to_string(common::manifest_path("README.md")).unwrap();
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a toml block");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("readme.toml");
    std::fs::write(&file, block).unwrap();
    let (code, from_readme, err) =
        run(&["config", "--config", file.to_str().unwrap()], home.path());
    assert_eq!(code, 0, "{err}");
    let (_, defaults, _) = run(&["config", "--config", "/dev/null"], home.path());
    let strip_db = |s: &str| -> toml::Table {
        let mut t: toml::Table = toml::from_str(s).unwrap();
        t.remove("db");
        t
    };
    assert_eq!(strip_db(&from_readme), strip_db(&defaults));
    let example =
        std::fs::read_to_string(common::manifest_path("assets/config.example.toml")).unwrap();
    assert_eq!(
        strip_db(&example),
        strip_db(block),
        "README and assets/config.example.toml agree"
    );
}

/// Runs logtui as a user who does not own the files: `nobody` via setpriv when the tests run
/// as root (root may write anywhere), else the current user.
fn as_other_user(args: &[&str], home: &Path) -> (i32, String, String) {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut cmd = match root {
        true => {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                bin(),
            ]);
            c
        }
        false => Command::new(bin()),
    };
    let out = cmd
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("run logtui as another user");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_permission_problem_names_the_file_or_directory() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = home.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    // Readable, not writable, by anyone but its owner (and for the owner too unless root).
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let db = locked.join("s.db");
    let (code, _, err) = as_other_user(
        &record_tcp_only(db.to_str().unwrap(), "127.0.0.1:0"),
        home.path(),
    );
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(
        err.contains(&format!(
            "permission denied to write in {}",
            locked.display()
        )),
        "{err}"
    );
    // An existing store that only its owner may read or write.
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let (_, _, dir, owned) = lt.stop();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&owned, std::fs::Permissions::from_mode(0o000)).unwrap();
    let (code, _, err) = as_other_user(&["query", "--db", owned.to_str().unwrap()], home.path());
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(
        err.contains("cannot read the store") && err.contains("permission denied"),
        "{err}"
    );
    let (code, _, err) = as_other_user(
        &record_tcp_only(owned.to_str().unwrap(), "127.0.0.1:0"),
        home.path(),
    );
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(
        err.contains("cannot write the store") && err.contains("permission denied"),
        "{err}"
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn replay_sends_a_frames_file_from_make_frames() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let tcp = lt.tcp.clone().unwrap();
    let frames = lt.dir.path().join("frames.bin");
    let py3 = common::pythons()
        .into_iter()
        .find(|p| common::python_version(p).0 >= 3)
        .expect("a Python 3");
    let st = Command::new(py3)
        .arg(common::manifest_path("benches/make_frames.py"))
        .arg(&frames)
        .arg("50")
        .status()
        .unwrap();
    assert!(st.success());
    let (code, err) = emit(&[
        "--tcp",
        &tcp,
        "--replay",
        frames.to_str().unwrap(),
        "--count",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with("logtui: sent 100 records ("), "{err}");
    let db = lt.db.clone();
    common::wait_for("the 100 replayed records", Duration::from_secs(10), || {
        query(&db, &["--count", "--source", "tcp"]).trim() == "100"
    });
    // Not a frames file: said plainly, with where one comes from.
    let readme = common::manifest_path("README.md");
    let (code, err) = emit(&["--tcp", &tcp, "--replay", readme.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert_reads_cleanly(&err);
    assert!(
        err.contains(
            "is not a file of SocketHandler frames (python3 benches/make_frames.py writes one)"
        ),
        "{err}"
    );
    assert_eq!(lt.stop().0, 0);
}
