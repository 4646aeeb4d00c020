//! The binary's edges: startup errors are one clear sentence and a non-zero exit; `config`
//! prints a valid file reflecting flags and file; `query` refuses bad arguments clearly.

mod common;

use common::{Logtui, bin, query};
use std::process::Command;

fn run(args: &[&str], config_home: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .output()
        .expect("run logtui");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_taken_port_is_one_clear_sentence() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (code, _, err) = run(
        &[
            "record",
            "--db",
            db.to_str().unwrap(),
            "--tcp",
            &addr,
            "--udp",
            "off",
            "--http",
            "off",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen for SocketHandler (tcp) on {addr}")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("address"), "{err}");
}

#[test]
fn an_unwritable_store_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database file should be cannot be opened as one.
    let db = dir.path().join("is-a-dir");
    std::fs::create_dir(&db).unwrap();
    let (code, _, err) = run(
        &[
            "record",
            "--db",
            db.to_str().unwrap(),
            "--tcp",
            "127.0.0.1:0",
            "--udp",
            "off",
            "--http",
            "off",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("logtui: cannot open the store at"), "{err}");
}

#[test]
fn a_store_already_being_recorded_is_one_clear_sentence() {
    let first = Logtui::start(&["--udp", "off", "--http", "off"]);
    let db = first.db.to_str().unwrap().to_owned();
    let (code, _, err) = run(
        &[
            "record",
            "--db",
            &db,
            "--tcp",
            "127.0.0.1:0",
            "--udp",
            "off",
            "--http",
            "off",
        ],
        first.dir.path(),
    );
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("another logtui is already recording into"),
        "{err}"
    );
    // The first recorder is unharmed, and once it has gone the store is free again.
    let (code, _, dir, db) = first.stop();
    assert_eq!(code, 0);
    let db = db.to_str().unwrap().to_owned();
    let second = Logtui::start_with_db(dir, db.into(), &["--udp", "off", "--http", "off"]);
    assert_eq!(second.stop().0, 0);
}

#[test]
fn config_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[store]\nbuffer_size = 77\nignored_logger_prefixes = [\"noisy\"]\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "config",
            "--config",
            cfg.to_str().unwrap(),
            "--udp",
            "off",
            "--flush-interval",
            "0.5",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: toml::Value = toml::from_str(&out).expect("valid TOML");
    assert_eq!(v["store"]["buffer_size"].as_integer(), Some(77));
    assert_eq!(v["store"]["flush_interval"].as_float(), Some(0.5));
    assert_eq!(v["listen"]["udp"].as_str(), Some("off"));
    assert_eq!(v["listen"]["tcp"].as_str(), Some("127.0.0.1:9020"));
    assert_eq!(
        v["store"]["ignored_logger_prefixes"][0].as_str(),
        Some("noisy")
    );
    // The default config file is read from the XDG config dir.
    std::fs::create_dir_all(dir.path().join("logtui")).unwrap();
    std::fs::write(
        dir.path().join("logtui/config.toml"),
        "[listen]\nhttp = \"off\"\n",
    )
    .unwrap();
    let (_, out, _) = run(&["config"], dir.path());
    assert!(out.contains("http = \"off\""), "{out}");
    // The shipped example is a valid file that says exactly the defaults.
    let example = common::manifest_path("assets/config.example.toml");
    let (code, from_example, err) = run(
        &["config", "--config", example.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (_, defaults, _) = run(&["config", "--config", "/dev/null"], dir.path());
    assert_eq!(from_example, defaults);
    // A misspelt key is an error naming the file.
    std::fs::write(&cfg, "[store]\nbufer_size = 1\n").unwrap();
    let (code, _, err) = run(&["config", "--config", cfg.to_str().unwrap()], dir.path());
    assert_ne!(code, 0);
    assert!(
        err.contains("c.toml") && err.contains("bufer_size"),
        "{err}"
    );
}

#[test]
fn query_refuses_bad_arguments_clearly_and_filters() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let addr = lt.tcp.clone().unwrap();
    for (logger, level) in [
        ("app.db", "INFO"),
        ("app.web", "WARNING"),
        ("other", "ERROR"),
    ] {
        let st = Command::new(bin())
            .args([
                "emit", "--tcp", &addr, "--count", "3", "--logger", logger, "--level", level,
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    // Record mode prints each alert as it is stored.
    assert_eq!(
        err.iter()
            .filter(|l| l.starts_with("logtui: ALERT"))
            .count(),
        2,
        "{err:?}"
    );
    let count = |args: &[&str]| -> u64 {
        let mut a = vec!["--count"];
        a.extend_from_slice(args);
        query(&db, &a).trim().parse().unwrap()
    };
    // By default alerts (internal records) stay out of answers; --all counts both.
    assert_eq!(count(&[]), 9);
    assert_eq!(count(&["--all"]), 9 + count(&["--source", "internal"]));
    assert_eq!(count(&["--search", "synthetic record"]), 9);
    assert_eq!(count(&["--search", "synthetic record", "--all"]), 11);
    assert_eq!(count(&["--source", "tcp"]), 9);
    assert_eq!(count(&["--logger", "app.*"]), 6);
    assert_eq!(count(&["--level", "warning", "--source", "tcp"]), 6);
    assert_eq!(count(&["--level", "35", "--source", "tcp"]), 3);
    assert_eq!(
        count(&["--search", "synthetic record", "--logger", "other"]),
        3
    );
    assert_eq!(count(&["--regex", "record [12] of", "--source", "tcp"]), 6);
    assert_eq!(count(&["--since", "1h", "--source", "tcp"]), 9);
    assert_eq!(count(&["--until", "1h", "--source", "tcp"]), 0);
    assert_eq!(count(&["--origin", "127.0.0.1:*", "--source", "tcp"]), 9);
    // Thresholds: the first WARNING and the first ERROR per logger raised alerts.
    assert_eq!(
        count(&["--source", "internal", "--logger", "logtui.alerts"]),
        2
    );
    let newest = query(
        &db,
        &[
            "--format", "jsonl", "--source", "tcp", "--order", "desc", "--limit", "1",
        ],
    );
    assert!(newest.contains("\"logger\":\"other\""), "{newest}");
    let csv = query(&db, &["--format", "csv", "--logger", "app.db"]);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("id,time,created,level"), "{csv}");
    let sql = query(
        &db,
        &[
            "--sql",
            "SELECT logger, count(*) AS n FROM records WHERE source = 'tcp' GROUP BY logger ORDER BY logger",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(
        sql.lines().next(),
        Some(r#"{"logger":"app.db","n":3}"#),
        "{sql}"
    );
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--level", "LOUD"], "unknown level"),
        (vec!["--since", "yesterday"], "cannot read 'yesterday'"),
        (vec!["--source", "smtp"], "unknown source"),
        (vec!["--regex", "("], "invalid --regex"),
        (
            vec!["--sql", "DELETE FROM records"],
            "can write to the store",
        ),
    ] {
        let mut a = vec!["query", "--db", db.to_str().unwrap()];
        a.extend(args.iter().copied());
        let (code, _, err) = run(&a, dir.path());
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(count(&["--source", "tcp"]), 9, "DELETE must not have run");
    let missing = dir.path().join("nope.db");
    let (code, _, err) = run(&["query", "--db", missing.to_str().unwrap()], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("cannot open the store"), "{err}");
}

#[test]
fn record_echoes_stored_records_and_prints_stats() {
    let mut lt = Logtui::start(&[
        "--udp",
        "off",
        "--http",
        "off",
        "--echo",
        "--stats-interval",
        "0.2",
    ]);
    let addr = lt.tcp.clone().unwrap();
    let st = Command::new(bin())
        .args(["emit", "--tcp", &addr, "--count", "3", "--logger", "echoed"])
        .status()
        .unwrap();
    assert!(st.success());
    common::wait_for(
        "a stats line with 3 stored",
        std::time::Duration::from_secs(20),
        || {
            lt.stderr()
                .iter()
                .any(|l| l.starts_with("logtui: stats: tcp 3/3/0/0/0"))
        },
    );
    let stdout = lt.child.stdout.take().unwrap();
    let (code, err, _dir, _db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut { stdout }, &mut text).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(
        lines.iter().filter(|v| v["logger"] == "echoed").count(),
        3,
        "{text}"
    );
    assert!(lines.iter().all(|v| v["id"].as_i64().is_some()), "{text}");
    assert!(
        err.iter()
            .any(|l| l.starts_with("logtui: stats: tcp 3/3/0/0/0")),
        "{err:?}"
    );
}
