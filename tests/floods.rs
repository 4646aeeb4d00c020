//! Connection floods and big frames against the real binary, with CPython's own handlers behind
//! them: idle and trickling connections give way, one host keeps to its share, big decodes leave
//! the async workers free, and SIGTERM still ends everything within the drain time.

mod common;

use common::{Logtui, count, manifest_path, vm_hwm_mb, wait_for};
use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Most a record may take to be stored once its connection gives way: the idle rule (1 s in
/// these tests) plus room for a loaded two-core machine.
const PROMPT: Duration = Duration::from_secs(6);

/// The drain time the floods are stopped with, and how much longer exit may take.
const DRAIN: &str = "2";
const MARGIN: Duration = Duration::from_secs(3);

/// Peak memory any attack may cost.
const MAX_RSS_MB: f64 = 256.0;

/// Connections held open by tests/python/flood.py until it is dropped.
struct Flood(Child);

impl Flood {
    fn start(kind: &str, addr: &str, n: usize, sources: &str, trickle: bool) -> Flood {
        let port = addr.rsplit_once(':').expect("host:port").1;
        let mut cmd = Command::new("python3");
        cmd.arg(manifest_path("tests/python/flood.py"))
            .args([kind, port, &n.to_string(), sources]);
        if trickle {
            cmd.arg("--trickle");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed for the flood tests");
        let mut line = String::new();
        let out = child.stdout.as_mut().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "flood.py did not start");
        Flood(child)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Logs one record through CPython's SocketHandler from 127.0.0.1 and closes it.
fn socket_handler(addr: &str, msg: &str) -> Child {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler(sys.argv[1], int(sys.argv[2]))
lg = logging.getLogger("flood.real")
lg.propagate = False
lg.addHandler(h)
lg.warning(sys.argv[3])
h.close()
"#;
    Command::new("python3")
        .args(["-c", script, host, port, msg])
        .spawn()
        .expect("python3")
}

/// Logs one record through CPython's HTTPHandler (one request, waits for the answer).
fn http_handler(addr: &str, msg: &str) -> Child {
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.HTTPHandler(sys.argv[1], "/log", method="POST")
lg = logging.getLogger("flood.real")
lg.propagate = False
lg.addHandler(h)
lg.warning(sys.argv[2])
"#;
    Command::new("python3")
        .args(["-c", script, addr, msg])
        .spawn()
        .expect("python3")
}

/// Stops with SIGTERM and checks the exit: 0, within the drain time plus a margin, summary printed.
fn stop_in_time(lt: Logtui) -> (Vec<String>, tempfile::TempDir, std::path::PathBuf) {
    let pid = lt.child.id();
    let peak = vm_hwm_mb(pid);
    assert!(peak < MAX_RSS_MB, "peak RSS {peak:.0} MB");
    let started = Instant::now();
    let (code, err, dir, db) = lt.stop();
    let took = started.elapsed();
    let drain = Duration::from_secs(DRAIN.parse().unwrap());
    assert!(took < drain + MARGIN, "exit took {took:?}: {err:?}");
    assert_eq!(code, 0, "{err:?}");
    assert!(err.iter().any(|l| l == "logtui: summary"), "{err:?}");
    (err, dir, db)
}

/// The `received` counter of `source` from the latest stats line.
fn summary_counter(err: &[String], word: &str) -> u64 {
    let line = err
        .iter()
        .find(|l| l.trim_start().starts_with("connections "))
        .unwrap_or_else(|| panic!("no connections summary line: {err:?}"));
    line.split(&[',', ';'][..])
        .find(|part| part.contains(word))
        .and_then(|part| part.split_whitespace().rev().nth(word.split(' ').count()))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `logtui record` with `config` as its config file and only the `listener` ("tcp" or
/// "http") on, printing stats every 0.1 s and flushing every 0.05 s, with the tests' drain.
fn flood_recorder(config: &str, listener: &str) -> Logtui {
    let mut args = vec![
        "--stats-interval",
        "0.1",
        "--flush-interval",
        "0.05",
        "--drain-timeout",
        DRAIN,
    ];
    for other in ["--tcp", "--udp", "--http"] {
        if other[2..] != *listener {
            args.extend([other, "off"]);
        }
    }
    Logtui::start_with_config(config, &args)
}

#[test]
fn an_idle_flood_gives_way_to_a_real_socket_handler() {
    let lt = flood_recorder("[listen]\nidle_after = 1.0\n", "tcp");
    let addr = lt.tcp.clone().unwrap();
    // 300 silent connections from three hosts (100 each, under the per-peer cap) and one that
    // trickles a frame it never finishes: more than the 256 the listener serves.
    let flood = Flood::start("tcp", &addr, 300, "127.0.0.2,127.0.0.3,127.0.0.4", true);
    wait_for("the listener to fill", Duration::from_secs(20), || {
        lt.conn_stats("tcp").is_some_and(|c| c[0] == 256)
    });
    let started = Instant::now();
    let mut sender = socket_handler(&addr, "through the idle flood");
    wait_for("the real record", PROMPT, || {
        count(
            &lt.db,
            &[
                "--logger",
                "flood.real",
                "--search",
                "through the idle flood",
            ],
        ) == 1
    });
    eprintln!("stored after {:?}", started.elapsed());
    assert!(sender.wait().unwrap().success());
    let shed = lt.conn_stats("tcp").unwrap()[1];
    assert!(shed > 0, "nothing was shed");
    // SIGTERM with the flood still connected.
    let (err, _dir, db) = stop_in_time(lt);
    drop(flood);
    assert_eq!(count(&db, &["--logger", "flood.real"]), 1);
    assert!(summary_counter(&err, "shed") > 0, "{err:?}");
}

/// A SocketHandler that logs, goes quiet, and is shed to make room: what it had sent is stored,
/// and after the shed it loses only the one record it sent into the closed connection (the
/// reset we close with makes that send fail, so it reconnects for the next).
#[test]
fn a_shed_socket_handler_reconnects_and_loses_only_the_record_sent_into_the_shed() {
    let lt = flood_recorder(
        "[listen]\ntcp_max_connections = 2\nidle_after = 1.0\n",
        "tcp",
    );
    let addr = lt.tcp.clone().unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler(sys.argv[1], int(sys.argv[2]))
lg = logging.getLogger("flood.shed")
lg.propagate = False
lg.addHandler(h)
lg.warning("r0")
sys.stdout.write("sent\n"); sys.stdout.flush()
sys.stdin.readline()
for i in range(1, 6):
    lg.warning("r%d" % i)
h.close()
"#;
    let mut sender = Command::new("python3")
        .args(["-c", script, host, port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = sender.stdout.as_mut().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
    assert_eq!(line.trim(), "sent");
    let db = lt.db.clone();
    wait_for("r0", PROMPT, || {
        count(&db, &["--logger", "flood.shed"]) == 1
    });
    // Two more connections: the second needs the SocketHandler's slot once it is idle.
    let others = [
        TcpStream::connect(&addr).unwrap(),
        TcpStream::connect(&addr).unwrap(),
    ];
    wait_for("the quiet sender to be shed", PROMPT, || {
        lt.conn_stats("tcp").is_some_and(|c| c[1] >= 1)
    });
    sender.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    assert!(sender.wait().unwrap().success());
    wait_for("the records after the reconnect", PROMPT, || {
        count(&db, &["--logger", "flood.shed"]) >= 5
    });
    let (_err, _dir, db) = stop_in_time(lt);
    drop(others);
    let got = common::query(&db, &["--format", "jsonl", "--logger", "flood.shed"]);
    let messages: Vec<String> = got
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].to_string())
        .collect();
    for r in ["r0", "r2", "r3", "r4", "r5"] {
        assert!(
            messages.contains(&format!("\"{r}\"")),
            "{r} lost: {messages:?}"
        );
    }
}

#[test]
fn one_host_keeps_to_its_share_of_connections() {
    let lt = flood_recorder(
        "[listen]\ntcp_max_connections = 64\ntcp_max_per_peer = 16\nidle_after = 60.0\n",
        "tcp",
    );
    let addr = lt.tcp.clone().unwrap();
    // One host opens more connections than the whole listener serves; none of them is idle
    // long enough (60 s) to give way. It may fill the listener, but not keep others out: its
    // own extra connections are refused (served as already shed, so what they sent is kept),
    // or, once its own have gone a second without a frame, take their places.
    let flood = Flood::start("tcp", &addr, 80, "127.0.0.2", false);
    wait_for(
        "the host to fill the listener",
        Duration::from_secs(20),
        || {
            lt.conn_stats("tcp")
                .is_some_and(|c| c[0] == 64 && c[1] + c[2] == 16)
        },
    );
    let mut sender = socket_handler(&addr, "another host gets in");
    wait_for("the real record", PROMPT, || {
        count(
            &lt.db,
            &["--logger", "flood.real", "--search", "another host gets in"],
        ) == 1
    });
    assert!(sender.wait().unwrap().success());
    let (err, _dir, _db) = stop_in_time(lt);
    drop(flood);
    // The 16 it had too many, and one of its own for the other host.
    assert_eq!(
        summary_counter(&err, "refused") + summary_counter(&err, "shed"),
        17,
        "{err:?}"
    );
}

/// HTTP alone, 64 connections at most, idle after 1 s.
fn http_listener_of_64() -> Logtui {
    flood_recorder(
        "[listen]\nhttp_max_connections = 64\nidle_after = 1.0\n",
        "http",
    )
}

#[test]
fn a_keep_alive_flood_gives_way_to_a_real_http_handler() {
    let lt = http_listener_of_64();
    let addr = lt.http.clone().unwrap();
    // 80 keep-alive connections from two hosts, each sends one record and stays open.
    let flood = Flood::start("http", &addr, 80, "127.0.0.2,127.0.0.3", false);
    wait_for("the listener to fill", Duration::from_secs(20), || {
        lt.conn_stats("http").is_some_and(|c| c[0] == 64)
    });
    let mut sender = http_handler(&addr, "through the keep-alive flood");
    wait_for("the real record", PROMPT, || {
        count(
            &lt.db,
            &[
                "--logger",
                "flood.real",
                "--search",
                "through the keep-alive flood",
            ],
        ) == 1
    });
    let exited = wait_for("HTTPHandler's answer", PROMPT, || {
        sender.try_wait().unwrap().is_some()
    });
    assert!(exited < PROMPT);
    assert!(sender.wait().unwrap().success());
    // Every request the flood sent was read and answered in turn, shed or not (stored, or
    // dropped with a 503 when 80 requests at once overflow the store's queue).
    wait_for("every flood request", PROMPT, || {
        lt.source_counts("http").map(|c| c[0]) == Some(81)
    });
    let (err, _dir, _db) = stop_in_time(lt);
    drop(flood);
    assert!(summary_counter(&err, "shed") > 0, "{err:?}");
}

#[test]
fn half_sent_request_heads_give_way_to_a_real_http_handler() {
    let lt = http_listener_of_64();
    let addr = lt.http.clone().unwrap();
    // Slowloris: 80 connections each holding an unfinished head, well inside the head timeout.
    let flood = Flood::start("http-partial", &addr, 80, "127.0.0.2,127.0.0.3", false);
    wait_for("the listener to fill", Duration::from_secs(20), || {
        lt.conn_stats("http").is_some_and(|c| c[0] == 64)
    });
    let mut sender = http_handler(&addr, "past the slow heads");
    wait_for("the real record", PROMPT, || {
        count(
            &lt.db,
            &["--logger", "flood.real", "--search", "past the slow heads"],
        ) == 1
    });
    assert!(sender.wait().unwrap().success());
    let (err, _dir, db) = stop_in_time(lt);
    drop(flood);
    assert!(summary_counter(&err, "shed") > 0, "{err:?}");
    assert_eq!(
        count(&db, &["--logger", "flood"]),
        0,
        "no half head is a record"
    );
}

#[test]
fn half_sent_bodies_end_soon_after_giving_way() {
    let lt = http_listener_of_64();
    let addr = lt.http.clone().unwrap();
    // 80 connections each stuck in the middle of a body: the 16 past the limit are refused
    // (served as already shed) and the listener is full of the rest.
    let flood = Flood::start("http-body", &addr, 80, "127.0.0.2,127.0.0.3", false);
    // A connection that gave way has a second to finish its body, not the 30 s a body may
    // otherwise take between reads: the refused ones end, rejected, well inside PROMPT.
    wait_for("the refused slow bodies to end", PROMPT, || {
        lt.source_counts("http").is_some_and(|c| c[2] >= 16)
    });
    let mut sender = http_handler(&addr, "past the slow bodies");
    wait_for("the real record", PROMPT, || {
        count(
            &lt.db,
            &["--logger", "flood.real", "--search", "past the slow bodies"],
        ) == 1
    });
    assert!(sender.wait().unwrap().success());
    let (err, _dir, db) = stop_in_time(lt);
    drop(flood);
    assert!(summary_counter(&err, "shed") > 0, "{err:?}");
    assert_eq!(
        count(&db, &["--logger", "flood"]),
        0,
        "no half body is a record"
    );
}

fn small_frame(i: u64) -> Vec<u8> {
    // A minimal protocol-1 pickle of {"name": "flood.small", "msg": "small N"}.
    let msg = format!("small {i}");
    let mut p = b"}(".to_vec();
    for (k, v) in [("name", "flood.small"), ("msg", msg.as_str())] {
        for s in [k, v] {
            p.push(b'X');
            p.extend_from_slice(&(s.len() as u32).to_le_bytes());
            p.extend_from_slice(s.as_bytes());
        }
    }
    p.extend_from_slice(b"u.");
    let mut f = (p.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&p);
    f
}

#[test]
fn small_records_keep_flowing_while_big_frames_decode() {
    let lt = Logtui::start(&[
        "--udp",
        "off",
        "--http",
        "off",
        "--flush-interval",
        "0.02",
        "--drain-timeout",
        DRAIN,
    ]);
    let addr = lt.tcp.clone().unwrap();
    let big = common::slow_big_frame("flood.big", "the big one");
    // Small records on their own connection, one every 10 ms, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let small = std::thread::spawn({
        let (addr, stop) = (addr.clone(), stop.clone());
        move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                s.write_all(&small_frame(i)).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            i
        }
    });
    let db = lt.db.clone();
    wait_for("small records", PROMPT, || {
        count(&db, &["--logger", "flood.small"]) > 0
    });
    // Four big frames, more than there are cores (and async workers), all but their last byte
    // sent, then all finished at once, so their decodes start together.
    let conns = common::send_together(&addr, &big, 4);
    // Until the big ones are stored, the small count must never stand still for long.
    let mut last = (count(&db, &["--logger", "flood.small"]), Instant::now());
    let mut worst = Duration::ZERO;
    wait_for("the big frames", Duration::from_secs(120), || {
        let n = count(&db, &["--logger", "flood.small"]);
        if n > last.0 {
            worst = worst.max(last.1.elapsed());
            last = (n, Instant::now());
        }
        count(&db, &["--logger", "flood.big"]) == 4
    });
    worst = worst.max(last.1.elapsed());
    eprintln!("longest stall of the small records: {worst:?}");
    assert!(
        worst < Duration::from_secs(1),
        "small records stood still for {worst:?} while big frames decoded"
    );
    // SIGTERM while another big frame is decoding: exit in time; the big one is stored or
    // counted as abandoned, and every small record sent before is stored.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&big).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent_small = small.join().unwrap();
    let (err, _dir, db) = stop_in_time(lt);
    drop((s, conns));
    assert_eq!(count(&db, &["--logger", "flood.small"]), sent_small);
    let big_stored = count(&db, &["--logger", "flood.big"]);
    let abandoned = if big_stored == 5 {
        0
    } else {
        summary_counter(&err, "decodes abandoned")
    };
    assert_eq!(big_stored + abandoned, 5, "{err:?}");
}
