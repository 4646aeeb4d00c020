//! Work and memory bombs on every listener, against the real binary: a small template that would
//! cost minutes to format, absurd widths and precisions, a 16 MB JSON body of tiny values.

mod common;

use common::{Logtui, query, vm_hwm_mb};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the next valid record may take to be stored while a bomb is being handled. The
/// store flushes on its own timer, so this is that plus generous slack for a loaded machine.
const PROMPT: Duration = Duration::from_secs(15);

/// The default `drain_timeout` (5 s) plus a margin for the final flush and summary.
const EXIT_WITHIN: Duration = Duration::from_secs(5 + 5);

/// Peak resident memory the recorder may reach under any of these bombs.
const MAX_HWM_MB: f64 = 256.0;

/// Runs `python3 -c script args…` to completion (killed past `limit`), returning stdout.
fn python(script: &str, args: &[&str], limit: Duration) -> Vec<u8> {
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for these tests");
    finish(child, limit)
}

/// Waits for `child` (killed past `limit`), reading its output as it comes so a full pipe
/// never stalls it; returns stdout, and fails on a non-zero exit or anything on stderr.
fn finish(mut child: Child, limit: Duration) -> Vec<u8> {
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("python3 did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = err.join().expect("stderr reader");
    assert!(
        status.success() && err.is_empty(),
        "python3: {status}: {err}"
    );
    out.join().expect("stdout reader")
}

/// A length-prefixed pickle of a LogRecord's `__dict__` carrying `msg` and `args` unformatted,
/// as `pickle.dumps` writes it (SocketHandler's makePickle would format it in the sender first).
/// `msg` and `args` are Python expressions (this file's own, too big for argv as values).
fn pickled_bomb(logger: &str, msg: &str, args: &str) -> Vec<u8> {
    let script = r#"
import logging, pickle, struct, sys
msg, args = eval(sys.argv[2]), eval(sys.argv[3])
r = logging.LogRecord(sys.argv[1], logging.WARNING, 'bomb.py', 1, msg, args, None)
d = dict(r.__dict__)
s = pickle.dumps(d, 1)
sys.stdout.buffer.write(struct.pack('>L', len(s)) + s)
"#;
    python(script, &[logger, msg, args], Duration::from_secs(30))
}

/// Starts CPython's own HTTPHandler sending one record whose template repeats a conversion
/// `reps` times against an args dict holding `size` bytes; returns the running sender.
fn http_handler_bomb(addr: &str, method: &str, logger: &str, size: usize, reps: usize) -> Child {
    let script = r#"
import logging, logging.handlers, sys
addr, method, logger, size, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
h = logging.handlers.HTTPHandler(addr, '/log', method=method)
def fail(record):
    raise
h.handleError = fail
r = logging.LogRecord(logger, logging.WARNING, 'bomb.py', 1, '%(k).0s' * reps, ({'k': 'x' * size},), None)
h.emit(r)
"#;
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([addr, method, logger, &size.to_string(), &reps.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for these tests")
}

/// Polls the store until `logger` has `n` records; panics past `limit`. Returns the time taken.
fn wait_stored(lt: &Logtui, logger: &str, n: usize, limit: Duration) -> Duration {
    common::wait_for(&format!("{n} records of {logger} stored"), limit, || {
        common::count(&lt.db, &["--logger", logger]) >= n as u64
    })
}

/// The bombed records of `logger` are stored, marked `format_refused`.
fn assert_refused(lt: &Logtui, logger: &str, n: usize) {
    let got = query(&lt.db, &["--format", "jsonl", "--logger", logger]);
    assert_eq!(got.lines().count(), n, "{logger}: {}", cut(&got));
    for line in got.lines() {
        assert!(
            line.contains("\"format_refused\":\"work budget\""),
            "{logger} not marked: {}",
            cut(line)
        );
    }
}

fn cut(s: &str) -> &str {
    let mut end = s.len().min(300);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Memory stayed bounded, SIGTERM ends it promptly with exit 0, and each source's summary line
/// counts the refused formats.
fn stop_bounded(lt: Logtui, refused: &[(&str, usize)]) {
    let hwm = vm_hwm_mb(lt.child.id());
    eprintln!("peak RSS {hwm:.0} MB");
    assert!(hwm < MAX_HWM_MB, "peak RSS {hwm:.0} MB");
    let started = Instant::now();
    let (code, err, _dir, _db) = lt.stop();
    assert!(
        started.elapsed() < EXIT_WITHIN,
        "exit took {:?}",
        started.elapsed()
    );
    assert_eq!(code, 0, "{err:?}");
    for (source, n) in refused {
        let line = err
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{source} ")))
            .unwrap_or_else(|| panic!("no {source} summary line: {err:?}"));
        assert!(line.contains(&format!("unformatted {n:>6}")), "{line}");
    }
}

/// POSTs `body` on a new connection until the listener takes it (a 503 means the store's
/// queue was full, and a client that reads statuses retries), within [`PROMPT`].
fn post_until_accepted(addr: &str, kind: &str, body: &str) {
    let started = Instant::now();
    loop {
        let req = format!(
            "POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(PROMPT)).expect("timeout");
        s.write_all(req.as_bytes()).expect("send");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        if reply.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(
            reply.starts_with("HTTP/1.1 503") && started.elapsed() < PROMPT,
            "{body}: {reply}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn http_post_and_get_work_bombs_are_refused_and_the_next_record_flows() {
    let lt = Logtui::start(&["--tcp", "off", "--udp", "off"]);
    let addr = lt.http.clone().expect("http listener");
    // 3 MiB argument, 20 000 repetitions: about 60 GB of copying if formatted naively.
    let post = http_handler_bomb(&addr, "POST", "bomb.post", 3 << 20, 20_000);
    // GET carries its record in the request line: a smaller argument, same idea.
    let get = http_handler_bomb(&addr, "GET", "bomb.get", 200_000, 20_000);
    // Absurd precision and width through a raw form POST.
    let form = "application/x-www-form-urlencoded";
    for msg in ["%25.16777216g", "%25999999999d"] {
        post_until_accepted(&addr, form, &format!("name=bomb.spec&msg={msg}&args=(1,)"));
    }
    // A valid record on another connection, while the bombs are in flight.
    post_until_accepted(&addr, form, "name=good.http&msg=after+the+bombs");
    let t = wait_stored(&lt, "good.http", 1, PROMPT);
    eprintln!("next valid record stored after {t:?}");
    finish(post, PROMPT);
    finish(get, PROMPT);
    wait_stored(&lt, "bomb.*", 4, PROMPT);
    assert_refused(&lt, "bomb.post", 1);
    assert_refused(&lt, "bomb.get", 1);
    assert_refused(&lt, "bomb.spec", 2);
    stop_bounded(lt, &[("http", 4)]);
}

#[test]
fn tcp_and_udp_pickled_work_bombs_are_refused_and_the_next_record_flows() {
    let lt = Logtui::start(&["--http", "off"]);
    let tcp = lt.tcp.clone().expect("tcp listener");
    let udp = lt.udp.clone().expect("udp listener");
    let tcp_bomb = pickled_bomb("bomb.tcp", "'%(k).0s' * 20000", "({'k': 'x' * (3 << 20)},)");
    let tcp_spec = [
        pickled_bomb("bomb.tcp", "'%.16777216g'", "(1.0,)"),
        pickled_bomb("bomb.tcp", "'%999999999d'", "(1,)"),
    ];
    // A datagram holds at most 64 KiB: a 30 KB argument and 3 000 repetitions.
    let udp_bomb = pickled_bomb("bomb.udp", "'%(k).0s' * 3000", "({'k': 'x' * 30000},)");
    assert!(udp_bomb.len() < 65_000, "{} bytes", udp_bomb.len());
    let mut s = TcpStream::connect(&tcp).expect("connect");
    s.write_all(&tcp_bomb).expect("send");
    for f in &tcp_spec {
        s.write_all(f).expect("send");
    }
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.send_to(&udp_bomb, &udp).expect("send datagram");
    // The next valid record, on another connection, is stored promptly.
    let mut good = TcpStream::connect(&tcp).expect("connect");
    good.write_all(&common::socket_handler_frame("good.tcp", "after the bombs"))
        .expect("send");
    let t = wait_stored(&lt, "good.tcp", 1, PROMPT);
    eprintln!("next valid record stored after {t:?}");
    wait_stored(&lt, "bomb.tcp", 3, PROMPT);
    wait_stored(&lt, "bomb.udp", 1, PROMPT);
    drop((s, good));
    assert_refused(&lt, "bomb.tcp", 3);
    assert_refused(&lt, "bomb.udp", 1);
    stop_bounded(lt, &[("tcp", 3), ("udp", 1)]);
}

#[test]
fn json_bodies_of_millions_of_tiny_values_answer_promptly_in_bounded_memory() {
    let lt = Logtui::start(&["--tcp", "off", "--udp", "off"]);
    let addr = lt.http.clone().expect("http listener");
    let bodies = [
        "1 ".repeat(8_000_000),
        format!("[{}1]", "1,".repeat(7_999_999)),
        "{\"msg\":\"a\",\"name\":\"tiny\"}\n".repeat(600_000),
    ];
    for body in &bodies {
        let started = Instant::now();
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let head = format!(
            "POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("send head");
        s.write_all(body.as_bytes()).expect("send body");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        let status = reply.lines().next().unwrap_or("").to_owned();
        assert!(
            status.starts_with("HTTP/1.1 "),
            "no reply to a {} MB body",
            body.len() >> 20
        );
        eprintln!(
            "{} MB body: {status} after {:?}",
            body.len() >> 20,
            started.elapsed()
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        let hwm = vm_hwm_mb(lt.child.id());
        assert!(
            hwm < MAX_HWM_MB,
            "peak RSS {hwm:.0} MB after a {status} body"
        );
    }
    let good = "{\"msg\": \"after the bodies\", \"name\": \"good.json\"}";
    post_until_accepted(&addr, "application/json", good);
    let t = wait_stored(&lt, "good.json", 1, PROMPT);
    eprintln!("next valid record stored after {t:?}");
    stop_bounded(lt, &[]);
}
