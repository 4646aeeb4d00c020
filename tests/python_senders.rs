//! Real senders: CPython's own SocketHandler (TCP and Unix socket), DatagramHandler and
//! HTTPHandler (GET, and POST with credentials) on every CPython here, checked through `logtui query`.

mod common;

use common::{Logtui, manifest_path, python_version, pythons, query};
use std::process::Command;

/// Sends the fixed record set with `py` through `kind`, then checks the store holds exactly it.
fn round_trip(py: &std::path::Path, auth: Option<&str>) {
    let (major, _) = python_version(py);
    let sock_dir = tempfile::tempdir().expect("temp dir");
    let unix_path = sock_dir.path().join("logtui.sock");
    let unix_addr = format!("unix:{}", unix_path.display());
    let mut args = vec!["--tcp", "127.0.0.1:0"];
    if let Some(a) = auth {
        args.extend(["--http-auth", a]);
    }
    let lt = Logtui::start(&args);
    // A second instance serves the Unix socket, so both TCP forms are exercised.
    let lt_unix = Logtui::start(&["--tcp", &unix_addr, "--udp", "off", "--http", "off"]);
    let kinds: Vec<(&str, String)> = vec![
        ("tcp", lt.tcp.clone().expect("tcp")),
        ("udp", lt.udp.clone().expect("udp")),
        ("http-get", lt.http.clone().expect("http")),
        ("http-post", lt.http.clone().expect("http")),
        ("unix", unix_path.display().to_string()),
    ];
    // `SocketHandler(path, None)` arrived in Python 3.4; Python 2.7 has no Unix-socket form.
    let kinds: Vec<_> = kinds
        .into_iter()
        .filter(|(k, _)| {
            let keep = *k != "unix" || major >= 3;
            if !keep {
                eprintln!(
                    "{}: no Unix-socket SocketHandler before Python 3.4",
                    py.display()
                );
            }
            keep
        })
        .collect();
    let work = tempfile::tempdir().expect("temp dir");
    let mut expected = Vec::new();
    for (kind, addr) in &kinds {
        let mut cmd = Command::new(py);
        cmd.arg(manifest_path("tests/python/send_records.py"))
            .arg(kind)
            .arg(addr);
        if kind.starts_with("http")
            && let Some(a) = auth
        {
            cmd.arg(a);
        }
        let out = cmd.output().expect("run sender");
        assert!(
            out.status.success(),
            "{} {kind} sender failed: {}",
            py.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let path = work.path().join(format!("{kind}.expected"));
        std::fs::write(&path, &out.stdout).unwrap();
        expected.push((kind.to_string(), path));
    }
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "logtui record exit: {err:?}");
    let (code, err_unix, _dir2, db_unix) = lt_unix.stop();
    assert_eq!(code, 0, "logtui record (unix) exit: {err_unix:?}");
    let summary = err.join("\n");
    assert!(summary.contains("summary"), "no summary: {summary}");

    assert_eq!(expected.len(), if major >= 3 { 5 } else { 4 });
    for (kind, exp) in expected {
        let (store, source) = match kind.as_str() {
            "unix" => (&db_unix, "tcp"),
            "tcp" => (&db, "tcp"),
            "udp" => (&db, "udp"),
            _ => (&db, "http"),
        };
        let logger = format!("svc.roundtrip.{}", kind.replace('-', "_"));
        let got = query(
            store,
            &["--format", "jsonl", "--source", source, "--logger", &logger],
        );
        let got_path = work.path().join(format!("{kind}.got"));
        std::fs::write(&got_path, got).unwrap();
        let out = Command::new("python3")
            .arg(manifest_path("tests/python/compare.py"))
            .arg(&kind)
            .arg(&exp)
            .arg(&got_path)
            .output()
            .expect("run compare.py");
        assert!(
            out.status.success(),
            "{} (Python {major}) {kind}: stored records differ from what was logged:\n{}{}",
            py.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "{} {}",
            py.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
}

#[test]
fn every_cpython_round_trips_through_every_listener() {
    let pys = pythons();
    // Empty only when LOGTUI_TEST_ALLOW_NO_PYTHON=1 opted out (pythons() said SKIPPED).
    if pys.is_empty() {
        return;
    }
    for py in &pys {
        let (major, minor) = python_version(py);
        eprintln!("== {} ({major}.{minor})", py.display());
        // Python 2's HTTPHandler has no `credentials`; Python 3 sends them.
        let auth = (major >= 3).then_some("user:pä:ss");
        round_trip(py, auth);
    }
}
