//! No record is lost when logtui is stopped while a sender is mid-stream: SIGTERM stops
//! accepting, open connections are read to EOF, and everything received is stored.

mod common;

use common::{Logtui, query};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SENDER: &str = r#"
import logging, logging.handlers, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
h = logging.handlers.SocketHandler(host, port)
failed = []
h.handleError = lambda record: failed.append(record)
log = logging.getLogger("drain.test")
log.propagate = False
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(n):
    log.info("record %d of %d", i, n)
    if i == 2000:
        sys.stdout.write("started\n"); sys.stdout.flush()
h.close()
sys.stdout.write("done %d failed %d\n" % (n, len(failed)))
"#;

#[test]
fn sigterm_mid_stream_loses_nothing() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off", "--drain-timeout", "30"]);
    let addr = lt.tcp.clone().unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let n = 60_000;
    let mut sender = Command::new("python3")
        .args(["-c", SENDER, host, port, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut out = std::io::BufReader::new(sender.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "started");
    // Stop logtui while the sender is still writing.
    let pid = lt.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let start = Instant::now();
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(sender.wait().unwrap().success());
    assert_eq!(
        line.trim(),
        format!("done {n} failed 0"),
        "the sender saw errors"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    let (code, err, _dir, db) = lt.stop_with("-0");
    assert_eq!(code, 0, "{err:?}");
    assert!(err.iter().any(|l| l.contains("stopping")), "{err:?}");
    let stored: u64 = query(&db, &["--count", "--logger", "drain.test"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(stored, n, "stored {stored} of {n}: {err:?}");
    let summary = err
        .iter()
        .find(|l| l.trim_start().starts_with("tcp "))
        .expect("summary");
    assert!(summary.contains(&format!("stored {n:>9}")), "{summary}");
}
