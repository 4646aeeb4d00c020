//! No record is lost when logtui is stopped while a sender is mid-stream: SIGTERM stops
//! accepting, open connections are read to EOF, and everything received is stored.

mod common;

use common::{Logtui, bin, count, query, vm_hwm_mb, wait_for};
use std::io::Write;
use std::net::TcpStream;
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

/// A sender that connected, sent and closed before SIGTERM but was still waiting in the kernel's
/// accept queue (here because the listener's one slot is taken) loses nothing.
#[test]
fn records_waiting_in_the_accept_queue_at_sigterm_are_stored() {
    let lt = Logtui::start_with_config(
        "[listen]\ntcp_max_connections = 1\nidle_after = 600.0\n",
        &[
            "--udp",
            "off",
            "--http",
            "off",
            "--stats-interval",
            "0.1",
            "--drain-timeout",
            "1",
        ],
    );
    let addr = lt.tcp.clone().unwrap();
    let _holder = TcpStream::connect(&addr).unwrap();
    wait_for(
        "the holder to take the slot",
        Duration::from_secs(10),
        || lt.conn_stats("tcp").is_some_and(|c| c[0] == 1),
    );
    let st = Command::new(bin())
        .args(["emit", "--tcp", &addr, "--count", "3", "--logger", "queued"])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(count(&db, &["--logger", "queued"]), 3, "{err:?}");
}

/// A form body whose template repeats `%(k).0s` against a 500 KB argument: minutes of work for
/// a formatter that renders the argument before cutting it to nothing.
fn work_bomb_request() -> Vec<u8> {
    let msg = "%25%28k%29.0s".repeat(20_000);
    let args = format!("%7B%27k%27%3A+%27{}%27%7D", "x".repeat(500_000));
    let body = format!("name=stop.bomb&levelname=INFO&levelno=20&msg={msg}&args={args}");
    let mut req = format!(
        "POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// Whatever the senders are doing when SIGTERM comes (idle, trickling, stalled mid-frame, a big
/// frame mid-decode, a work bomb, an idle keep-alive, half a body), `record` exits 0 within the
/// drain time plus a small margin, prints its summary, and has stored what was fully sent.
#[test]
fn sigterm_ends_record_in_time_whatever_senders_do() {
    let drain = Duration::from_millis(500);
    let lt = Logtui::start(&[
        "--udp",
        "off",
        "--drain-timeout",
        "0.5",
        "--flush-interval",
        "0.05",
    ]);
    let tcp = lt.tcp.clone().unwrap();
    let http = lt.http.clone().unwrap();
    let mut held = Vec::new();
    // Idle.
    held.push(TcpStream::connect(&tcp).unwrap());
    // Stalled halfway through a 16 MiB frame.
    let big = common::slow_big_frame("stop.big", "big");
    let mut s = TcpStream::connect(&tcp).unwrap();
    s.write_all(&big[..big.len() / 2]).unwrap();
    held.push(s);
    // Trickling a frame it never finishes, a byte every 20 ms, until the connection dies.
    let mut trickle = TcpStream::connect(&tcp).unwrap();
    let trickler = std::thread::spawn(move || {
        let _ = trickle.write_all(&[0, 1, 0, 0]);
        while trickle.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    // An idle keep-alive HTTP connection, and one halfway through a body.
    let mut ka = TcpStream::connect(&http).unwrap();
    ka.write_all(b"GET /log?name=stop.http&msg=kept+alive HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    held.push(ka);
    let mut half = TcpStream::connect(&http).unwrap();
    half.write_all(b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nname=x")
        .unwrap();
    held.push(half);
    // A form body built to make a formatter work hard.
    let mut bomb = TcpStream::connect(&http).unwrap();
    bomb.write_all(&work_bomb_request()).unwrap();
    held.push(bomb);
    // A small record fully sent on a connection that stays open.
    let mut small = TcpStream::connect(&tcp).unwrap();
    small
        .write_all(&common::socket_handler_frame(
            "stop.small",
            "sent before the signal",
        ))
        .unwrap();
    let db = lt.db.clone();
    wait_for("the small record", Duration::from_secs(10), || {
        count(&db, &["--logger", "stop.small"]) == 1 && count(&db, &["--logger", "stop.http"]) == 1
    });
    // Four whole 16 MiB frames (more than there are cores) that start decoding together just
    // before the signal: all but their last byte first, then the last bytes at once.
    held.extend(common::send_together(&tcp, &big, 4));
    held.push(small);
    let peak = vm_hwm_mb(lt.child.id());
    assert!(peak < 256.0, "peak RSS {peak:.0} MB");
    let started = Instant::now();
    let (code, err, _dir, db) = lt.stop();
    let took = started.elapsed();
    drop(held);
    trickler.join().unwrap();
    // The margin: a second for tasks to answer Stop, and the store's last commit.
    assert!(
        took < drain + Duration::from_millis(1500),
        "exit took {took:?}: {err:?}"
    );
    assert_eq!(code, 0, "{err:?}");
    assert!(err.iter().any(|l| l == "logtui: summary"), "{err:?}");
    assert_eq!(count(&db, &["--logger", "stop.small"]), 1);
    assert_eq!(count(&db, &["--logger", "stop.http"]), 1);
}
