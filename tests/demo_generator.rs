//! End to end: the `logtui demo` generator feeding a real `logtui record` over TCP, UDP and HTTP.
//! Everything it says it sent is stored, decoded as real handlers' records are, with nothing refused.

mod common;

use common::{Logtui, count, query, wait_for};
use logtui::cmd::demo::{DemoTargets, spawn_generator};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

fn addr(a: &Option<String>) -> Option<SocketAddr> {
    a.as_deref().map(|s| s.parse().expect("a socket address"))
}

/// `logtui query --sql SQL` as one JSON object per row.
fn sql(db: &std::path::Path, q: &str) -> Vec<serde_json::Value> {
    query(db, &["--sql", q, "--format", "jsonl"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect()
}

fn sql_count(db: &std::path::Path, q: &str) -> u64 {
    sql(db, q)[0]["n"].as_u64().expect("a count named n")
}

/// The summary's `received stored rejected dropped ignored unformatted` for `source`.
fn summary(err: &[String], source: &str) -> Vec<u64> {
    let line = err
        .iter()
        .find(|l| l.split_whitespace().next() == Some(source))
        .unwrap_or_else(|| panic!("no summary line for {source}: {err:?}"));
    line.split_whitespace()
        .skip(2)
        .step_by(2)
        .map(|n| n.parse().expect("a number"))
        .collect()
}

#[test]
fn the_demo_feeds_every_listener_and_everything_it_sends_is_stored() {
    let lt = Logtui::start(&["--stats-interval", "0.1", "--flush-interval", "0.05"]);
    let targets = DemoTargets {
        tcp: addr(&lt.tcp),
        udp: addr(&lt.udp),
        http: addr(&lt.http),
    };
    let demo = spawn_generator(targets, 500.0).expect("the generator starts");
    wait_for(
        "300 records stored from each of tcp, udp and http",
        Duration::from_secs(60),
        || {
            ["tcp", "udp", "http"]
                .iter()
                .all(|s| lt.source_counts(s).is_some_and(|c| c[1] >= 300))
        },
    );
    let sent = demo.stop();
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");

    // Nothing refused, dropped or left unformatted: every record is one the decoders accept.
    let mut stored = 0;
    for source in ["tcp", "udp", "http"] {
        let c = summary(&err, source);
        assert_eq!(c[0], c[1], "{source}: received ≠ stored: {err:?}");
        assert_eq!(&c[2..], &[0, 0, 0, 0], "{source}: {err:?}");
        stored += c[1];
    }
    assert_eq!(stored, sent, "{err:?}");
    assert_eq!(count(&db, &[]), sent);

    let levels: Vec<String> = sql(&db, "SELECT DISTINCT levelname AS l FROM records")
        .iter()
        .map(|r| r["l"].as_str().unwrap().to_owned())
        .collect();
    for l in ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] {
        assert!(levels.iter().any(|x| x == l), "no {l} in {levels:?}");
    }
    let loggers: Vec<String> = sql(&db, "SELECT DISTINCT logger AS l FROM records")
        .iter()
        .map(|r| r["l"].as_str().unwrap().to_owned())
        .collect();
    for l in [
        "app",
        "app.http",
        "app.db",
        "app.db.pool",
        "app.payments",
        "worker.jobs",
        "celery.task",
    ] {
        assert!(loggers.iter().any(|x| x == l), "no {l} in {loggers:?}");
    }

    // The same kinds of content arrive whichever handler carried them.
    for source in ["tcp", "udp", "http"] {
        let has = |cond: &str| {
            sql_count(
                &db,
                &format!("SELECT count(*) AS n FROM records WHERE source = '{source}' AND {cond}"),
            )
        };
        assert!(has("job IS NOT NULL") > 0, "{source}: no job ids");
        assert!(
            has("message GLOB 'GET /api/* 200 *.*ms'") > 0,
            "{source}: no formatted request lines"
        );
        assert!(
            has("extra LIKE '%\"request_id\"%'") > 0,
            "{source}: no extras"
        );
    }
    let job = sql(&db, "SELECT job FROM records WHERE job IS NOT NULL LIMIT 1")[0]["job"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(count(&db, &["--job", &job]) >= 1);
    assert!(
        sql_count(
            &db,
            "SELECT count(*) AS n FROM records WHERE exc_text LIKE 'Traceback (most recent call last):%' AND level >= 40"
        ) >= 1
    );
    assert!(
        sql_count(
            &db,
            "SELECT count(*) AS n FROM records WHERE instr(message, char(27) || '[') > 0"
        ) >= 1,
        "no colour codes"
    );
    assert!(
        sql_count(
            &db,
            "SELECT count(*) AS n FROM records WHERE instr(message, char(10)) > 0"
        ) >= 1,
        "no multi-line message"
    );
    // Every template was formatted, by the sender (pickles) or by logtui (HTTP's msg and args).
    assert_eq!(
        sql_count(
            &db,
            "SELECT count(*) AS n FROM records WHERE message GLOB '*%[dsfr]*' OR message GLOB '*%.[0-9]f*'"
        ),
        0
    );
}

/// Reads one SocketHandler frame (length, then pickle) from `c`.
fn read_frame(c: &mut std::net::TcpStream) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut len = [0u8; 4];
    c.read_exact(&mut len).expect("a frame's length");
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    c.read_exact(&mut body).expect("a frame's pickle");
    body
}

#[test]
fn a_dropped_tcp_connection_is_made_again() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let targets = DemoTargets {
        tcp: Some(l.local_addr().unwrap()),
        ..DemoTargets::default()
    };
    let demo = spawn_generator(targets, 200.0).unwrap();
    let (mut first, _) = l.accept().unwrap();
    let body = read_frame(&mut first);
    assert_eq!(body.first(), Some(&b'}'), "a pickled dict");
    assert_eq!(body.last(), Some(&b'.'), "a whole pickle");
    drop(first);
    l.set_nonblocking(true).unwrap();
    let mut second = None;
    wait_for(
        "the generator to connect again",
        Duration::from_secs(20),
        || {
            second = l.accept().ok().map(|(c, _)| c);
            second.is_some()
        },
    );
    let mut second = second.unwrap();
    second.set_nonblocking(false).unwrap();
    assert_eq!(read_frame(&mut second).first(), Some(&b'}'));
    let sent = demo.stop();
    assert!(sent >= 2, "{sent}");
}

#[test]
fn stopping_wakes_the_generator_between_sends() {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let targets = DemoTargets {
        udp: Some(sink.local_addr().unwrap()),
        ..DemoTargets::default()
    };
    // One record every ten seconds: the first goes at once, the second is far off.
    let demo = spawn_generator(targets, 0.1).unwrap();
    let mut b = vec![0u8; 65536];
    sink.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = sink.recv(&mut b).expect("the first datagram");
    assert_eq!(
        u32::from_be_bytes(b[..4].try_into().unwrap()) as usize,
        n - 4,
        "a datagram is one whole frame, as DatagramHandler sends it"
    );
    wait_for(
        "the first send to be counted",
        Duration::from_secs(5),
        || demo.sent() == 1,
    );
    let t = Instant::now();
    assert_eq!(demo.stop(), 1);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn the_generator_refuses_what_it_cannot_do() {
    let kind = |r: std::io::Result<_>| r.map(|_| ()).unwrap_err().kind();
    assert_eq!(
        kind(spawn_generator(DemoTargets::default(), 10.0)),
        std::io::ErrorKind::InvalidInput
    );
    let udp = DemoTargets {
        udp: Some("127.0.0.1:9".parse().unwrap()),
        ..DemoTargets::default()
    };
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e12] {
        assert_eq!(
            kind(spawn_generator(udp.clone(), rate)),
            std::io::ErrorKind::InvalidInput
        );
    }
    // A TCP port nothing listens on: the first connection is refused and said so.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let tcp = DemoTargets {
        tcp: Some(free),
        ..DemoTargets::default()
    };
    assert_eq!(
        kind(spawn_generator(tcp, 10.0)),
        std::io::ErrorKind::ConnectionRefused
    );
}
