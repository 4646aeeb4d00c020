//! Hostile input on every listener, against the real binary: the process stays up, memory stays
//! bounded, other connections keep flowing, bad input is counted, and the next valid record is stored.

mod common;

use common::{Logtui, query, vm_hwm_mb};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// A valid SocketHandler frame made by CPython's own makePickle.
fn python_frame(msg: &str) -> Vec<u8> {
    python_padded_frame(msg, 0)
}

/// [`python_frame`] whose message is `msg`, a space and `pad` x's (too long for argv).
fn python_padded_frame(msg: &str, pad: usize) -> Vec<u8> {
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler('127.0.0.1', 9)
msg = sys.argv[1] + (' ' + 'x' * int(sys.argv[2]) if int(sys.argv[2]) else '')
r = logging.getLogger('hostile.good').makeRecord('hostile.good', logging.INFO, 'f.py', 1, msg, (), None)
sys.stdout.buffer.write(h.makePickle(r))
"#;
    let out = Command::new("python3")
        .args(["-c", script, msg, &pad.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// Pickles that must never decode into a record, let alone run anything.
fn hostile_payloads(marker: &std::path::Path) -> Vec<(&'static str, Vec<u8>)> {
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        deep.extend_from_slice(b"(]");
    }
    deep.push(b'.');
    let mut deep_lists = vec![b']'; 100_001];
    deep_lists.extend(std::iter::repeat_n(b'a', 100_000));
    deep_lists.push(b'.');
    // Memo bomb: each level is a list holding the previous level ten times.
    let mut bomb = b"]q\x00".to_vec();
    for i in 1..=40u8 {
        bomb.extend_from_slice(b"(");
        for _ in 0..10 {
            bomb.extend_from_slice(&[b'h', i - 1]);
        }
        bomb.extend_from_slice(&[b'l', b'q', i]);
    }
    bomb.push(b'.');
    let evil = format!("cos\nsystem\n(S'touch {}'\ntR.", marker.display()).into_bytes();
    let mut evil2 = b"\x80\x02cposix\nsystem\nq\x00X".to_vec();
    let cmd = format!("touch {}", marker.display());
    evil2.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    evil2.extend_from_slice(cmd.as_bytes());
    evil2.extend_from_slice(b"\x85R.");
    vec![
        ("garbage", b"\xde\xad\xbe\xef not a pickle at all".to_vec()),
        ("truncated", b"}q\x00(X\x04\x00\x00\x00name".to_vec()),
        ("deep marks", deep),
        ("deep lists", deep_lists),
        ("memo bomb", bomb),
        ("self reference", b"]q\x00h\x00a.".to_vec()),
        ("os.system", evil),
        ("posix.system proto 2", evil2),
        ("not a dict", b"K\x05.".to_vec()),
    ]
}

#[test]
fn tcp_survives_hostile_frames_and_keeps_other_connections_flowing() {
    let lt = Logtui::start(&["--udp", "off", "--http", "off"]);
    let addr = lt.tcp.clone().unwrap();
    let marker = lt.dir.path().join("pwned");
    // A well-behaved sender holds its connection open across the whole attack.
    let mut good = TcpStream::connect(&addr).unwrap();
    good.write_all(&python_frame("before the attack")).unwrap();
    let payloads = hostile_payloads(&marker);
    for (name, p) in &payloads {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&framed(p)).unwrap();
        // The same connection goes on: a delimited bad frame costs only itself.
        s.write_all(&python_frame(&format!("after {name}")))
            .unwrap();
        drop(s);
    }
    // A 4 GiB length prefix costs its connection, without buffering anything.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 0xff, b'}']).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "the connection is closed");
    // EOF in the middle of a frame.
    let mut s = TcpStream::connect(&addr).unwrap();
    let f = python_frame("never complete");
    s.write_all(&f[..f.len() / 2]).unwrap();
    drop(s);
    // Invalid UTF-8 in a BINUNICODE string (how CPython writes lone surrogates) is not an
    // attack: the record is kept, with U+FFFD for the bad bytes.
    let bad_text = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x0c\x00\x00\x00hostile.goodq\x02X\x03\x00\x00\x00msgq\x03X\x0c\x00\x00\x00\xff\xfe bad utf-8q\x04u.";
    good.write_all(&framed(bad_text)).unwrap();
    good.write_all(&python_frame("after the attack")).unwrap();
    drop(good);
    let count = |args: &[&str]| query(&lt.db, &[&["--count"][..], args].concat());
    let want = (payloads.len() + 3).to_string(); // before, after each payload, bad utf-8, after
    common::wait_for("every good record stored", Duration::from_secs(20), || {
        count(&["--logger", "hostile.good"]).trim() == want
    });
    let pid = lt.child.id();
    let peak = vm_hwm_mb(pid);
    assert!(peak < 200.0, "peak RSS {peak} MB after the attack");
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(!marker.exists(), "a pickle ran code");
    let got = query(&db, &["--format", "jsonl", "--logger", "hostile.good"]);
    let messages: Vec<String> = got
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["message"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(messages.contains(&"before the attack".to_owned()));
    assert!(messages.contains(&"after the attack".to_owned()));
    for (name, _) in &payloads {
        assert!(
            messages.contains(&format!("after {name}")),
            "lost the record after {name}: {messages:?}"
        );
    }
    assert!(!messages.contains(&"never complete".to_owned()));
    assert!(
        messages.contains(&"\u{fffd}\u{fffd} bad utf-8".to_owned()),
        "{messages:?}"
    );
    let summary = err
        .iter()
        .find(|l| l.trim_start().starts_with("tcp "))
        .expect("tcp summary line");
    let rejected: u64 = summary
        .split("rejected")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Every hostile payload, the 4 GiB prefix and the truncated frame.
    assert_eq!(rejected, payloads.len() as u64 + 2, "{summary}");
    assert!(
        err.iter()
            .any(|l| l.contains("rejected a frame") && l.contains("127.0.0.1")),
        "no log line names the peer: {err:?}"
    );
}

#[test]
fn udp_counts_bad_datagrams_and_stores_the_next_good_one() {
    let lt = Logtui::start(&["--tcp", "off", "--http", "off"]);
    let addr = lt.udp.clone().unwrap();
    let marker = lt.dir.path().join("pwned");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payloads = hostile_payloads(&marker);
    let mut sent_bad = 0;
    for (_, p) in &payloads {
        if p.len() + 4 > 65_000 {
            continue; // cannot be one datagram
        }
        sock.send_to(&framed(p), &addr).unwrap();
        sent_bad += 1;
    }
    sock.send_to(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3], &addr)
        .unwrap();
    sock.send_to(b"x", &addr).unwrap();
    sent_bad += 2;
    sock.send_to(&python_frame("udp survives"), &addr).unwrap();
    common::wait_for("the good datagram stored", Duration::from_secs(20), || {
        query(&lt.db, &["--count", "--search", "survives"]).trim() == "1"
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(!marker.exists(), "a pickle ran code");
    let got = query(&db, &["--format", "jsonl", "--search", "survives"]);
    assert_eq!(got.lines().count(), 1, "{got}");
    let summary = err
        .iter()
        .find(|l| l.trim_start().starts_with("udp "))
        .expect("udp summary line");
    assert!(
        summary.contains(&format!("rejected {sent_bad:>6}")),
        "{summary} (sent {sent_bad} bad)"
    );
}

/// Datagrams past the inline threshold decode on the shared pool; small ones beside them and
/// the big ones themselves are all stored, and shutdown after them is clean.
#[test]
fn udp_big_datagrams_decode_on_the_pool_and_are_stored() {
    let lt = Logtui::start(&["--tcp", "off", "--http", "off", "--flush-interval", "0.05"]);
    let addr = lt.udp.clone().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    // CPython's frame, its payload prefixed by 20,000 pointless push-and-pops (60 KB).
    let good = python_frame("big datagram");
    let mut payload = b"K\x010".repeat(20_000);
    payload.extend_from_slice(&good[4..]);
    let big = framed(&payload);
    assert!(big.len() > 32 * 1024 && big.len() < 65_000);
    for i in 0..3 {
        sock.send_to(&big, &addr).unwrap();
        sock.send_to(&python_frame(&format!("small datagram {i}")), &addr)
            .unwrap();
    }
    let db = lt.db.clone();
    common::wait_for("every datagram", Duration::from_secs(20), || {
        common::count(&db, &["--search", "datagram", "--source", "udp"]) == 6
    });
    let peak = vm_hwm_mb(lt.child.id());
    assert!(peak < 256.0, "peak RSS {peak:.0} MB");
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(common::count(&db, &["--search", "big datagram"]), 3);
}

fn http_request(addr: &str, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(req);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn http_rejects_bad_requests_with_clear_statuses_and_keeps_serving() {
    let lt = Logtui::start(&["--tcp", "off", "--udp", "off", "--max-frame", "1048576"]);
    let addr = lt.http.clone().unwrap();
    let status = |r: &str| r.lines().next().unwrap_or("").to_owned();
    let huge = http_request(
        &addr,
        b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{",
    );
    assert!(status(&huge).contains("413"), "{huge}");
    // A GET carries its record in the request line: allowed up to max_frame, refused past it.
    let long_get = format!(
        "GET /log?name=web&msg={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "y".repeat(1_200_000)
    );
    let r = http_request(&addr, long_get.as_bytes());
    assert!(status(&r).contains("431"), "{}", &r[..r.len().min(200)]);
    let big_get = format!(
        "GET /log?name=web&msg=big{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "z".repeat(900_000)
    );
    let r = http_request(&addr, big_get.as_bytes());
    assert!(status(&r).contains("200"), "{r}");
    let start = std::time::Instant::now();
    let blanks = http_request(&addr, "\r\n".repeat(500_000).as_bytes());
    assert!(status(&blanks).contains("400"), "{blanks}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a CR/LF flood is refused fast"
    );
    let garbage = http_request(&addr, b"\x16\x03\x01\x00garbage\r\n\r\n");
    assert!(status(&garbage).contains("400"), "{garbage}");
    let deep = format!(
        "POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n{}",
        "[".repeat(200_000)
    );
    let r = http_request(&addr, deep.as_bytes());
    assert!(status(&r).contains("400"), "{r}");
    let bad_utf8 = b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 31\r\nConnection: close\r\n\r\nname=web&msg=bad+%FF%FE+bytes&x=";
    let r = http_request(&addr, bad_utf8);
    assert!(status(&r).contains("200"), "{r}");
    let url_only = b"POST /log?name=web&msg=posted+in+the+url HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let r = http_request(&addr, url_only);
    assert!(status(&r).contains("200"), "{r}");
    let ok = b"GET /log?name=web&msg=still+serving&levelname=INFO&levelno=20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let r = http_request(&addr, ok);
    assert!(status(&r).contains("200"), "{r}");
    common::wait_for(
        "the last good request stored",
        Duration::from_secs(20),
        || query(&lt.db, &["--count", "--search", "serving"]).trim() == "1",
    );
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    let got = query(&db, &["--format", "jsonl", "--logger", "web"]);
    assert!(got.contains("still serving"), "{got}");
    assert!(got.contains("posted in the url"), "{got}");
    assert!(
        got.contains(&format!("big{}", "z".repeat(900_000))),
        "the 900 KB GET record is stored"
    );
    // Invalid UTF-8 is kept losslessly, not dropped.
    assert!(got.contains("bad "), "{got}");
}

/// Connections that hold big unfinished frames share one byte budget: once it is spent,
/// another big frame waits its turn (and is stored when room comes back), while small
/// frames, which fit in every connection's read chunk, keep flowing.
#[test]
fn big_frames_share_one_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logtui")).unwrap();
    // Room for two 1 MiB frames at a time.
    std::fs::write(
        dir.path().join("logtui/config.toml"),
        "[limits]\nmax_frame = 1048576\nmax_buffered = 2097152\n",
    )
    .unwrap();
    let db = dir.path().join("store.db");
    let lt = Logtui::start_with_db(
        dir,
        db,
        &["--udp", "off", "--http", "off", "--stats-interval", "0.05"],
    );
    let addr = lt.tcp.clone().unwrap();
    let big = |msg: &str| python_padded_frame(msg, 900_000);
    // Two senders stall halfway through 900 KB frames: together they hold the budget.
    let mut stalled = Vec::new();
    for i in 0..2 {
        let f = big(&format!("stalled{i}"));
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&f[..f.len() / 2]).unwrap();
        stalled.push((s, f));
    }
    // The stats line shows the budget the stalled halves hold: wait until both hold theirs.
    common::wait_for(
        "both stalled frames to hold their budget",
        Duration::from_secs(20),
        || lt.buffered().is_some_and(|b| b >= 2 * 900_000),
    );
    // A third big frame arrives whole, but must wait for room.
    let waiting = std::thread::spawn({
        let addr = addr.clone();
        let f = big("waited");
        move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(&f).unwrap();
            s
        }
    });
    // Small frames on their own connection are not held up.
    let mut small = TcpStream::connect(&addr).unwrap();
    small.write_all(&python_frame("small one")).unwrap();
    let db = lt.db.clone();
    let found = |args: &[&str]| query(&db, &[&["--count"][..], args].concat());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while found(&["--search", "small"]).trim() != "1" {
        assert!(std::time::Instant::now() < deadline, "small frame held up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Part of the scenario: the waiting frame must stay out for a while, and an absence cannot be polled.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        found(&["--search", "waited"]).trim(),
        "0",
        "budget not enforced"
    );
    // One stalled sender finishes: its share frees, and the waiting frame gets in.
    let (mut s, f) = stalled.remove(0);
    s.write_all(&f[f.len() / 2..]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while found(&["--search", "waited"]).trim() != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "waiting frame never stored"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(found(&["--search", "stalled0"]).trim(), "1");
    drop(waiting.join().unwrap());
    drop(s);
    drop(small);
    drop(stalled);
    let (code, err, _dir, _db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
}
