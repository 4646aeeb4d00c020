//! `[[route]]` end to end with the real binary: CPython's SocketHandler sends, logtui stores and
//! forwards to a redis-server of the test's own, to a second logtui, to a file, or drops; a target
//! that is down holds nothing up, and forwarding resumes when it comes back.

mod common;

use common::redis_server::{RedisServer, free_port};
use common::{Logtui, count, query, wait_for};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// Runs `body` in CPython with `log` (logger `app`, every level) sending through a
/// `logging.handlers.SocketHandler` to `addr`, then closes the handler.
fn python_send(addr: &str, body: &str) {
    let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
    let script = format!(
        "import logging, logging.handlers\n\
         h = logging.handlers.SocketHandler({host:?}, {port})\n\
         log = logging.getLogger('app')\n\
         log.setLevel(1)\n\
         log.propagate = False\n\
         log.addHandler(h)\n\
         {body}\n\
         h.close()\n"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 is needed for these tests");
    assert!(
        out.status.success(),
        "the Python sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A config file: the routes, with the Redis source off and stats every 0.1 s.
fn config(routes: &str) -> String {
    format!("[record]\nstats_interval = 0.1\n\n{routes}")
}

/// `logtui record` with `routes`; never the shared Redis.
fn start(routes: &str) -> Logtui {
    Logtui::start_with_config(&config(routes), &["--redis", "off"])
}

/// The newest stats line of route `name`.
fn route_line(t: &Logtui, name: &str) -> Option<String> {
    let prefix = format!("logtui: route {name}: ");
    t.stderr()
        .into_iter()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

/// The number after `word ` in a route line (`sent 3` → 3).
fn counter(line: &str, word: &str) -> u64 {
    line.split(&format!("{word} "))
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {word} in {line:?}"))
}

fn records(db: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["--format", "jsonl"];
    a.extend_from_slice(args);
    query(db, &a)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A sync subscriber on `channel` of `server`.
fn subscriber(server: &RedisServer) -> redis::Connection {
    let client = redis::Client::open(server.url()).expect("client");
    client
        .get_connection()
        .expect("connect to the test's redis-server")
}

#[test]
fn error_and_above_go_to_logs_alerts_in_smarters_shape_and_stream() {
    let server = RedisServer::start();
    let mut conn = subscriber(&server);
    let mut ps = conn.as_pubsub();
    ps.subscribe("logs:alerts").expect("subscribe");
    ps.set_read_timeout(Some(LIMIT)).expect("timeout");
    // The shipped example, pointed at the test's own server.
    let example = std::fs::read_to_string(common::manifest_path("assets/routes.example.toml"))
        .expect("the shipped example");
    assert!(example.contains("redis://127.0.0.1:6379"));
    let t = start(&example.replace("redis://127.0.0.1:6379", &server.url()));
    python_send(
        t.tcp.as_deref().unwrap(),
        "log.info('fine')\nlog.warning('hmm')\nlog.error('card declined for Zo\\u00eb')\n\
         try:\n    1/0\nexcept ZeroDivisionError:\n    log.critical('crashed', exc_info=True)\n",
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = ps.get_message().expect("a forwarded message");
        assert_eq!(msg.get_channel_name(), "logs:alerts");
        got.push(msg.get_payload::<String>().expect("text payload"));
    }
    for p in &got {
        assert!(p.is_ascii(), "ASCII escapes as Smarter writes: {p}");
        assert!(p.starts_with("{\n  \"message\": "), "indent 2: {p}");
        let v: serde_json::Value = serde_json::from_str(p).expect("JSON");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = ["message", "level", "timestamp", "logger", "pod"];
        want.sort();
        assert_eq!(keys, want, "{p}");
        assert_eq!(v["logger"], "app");
        assert!(v["timestamp"].is_f64());
        // logtui's own Redis decoder reads it back as the same record.
        let d = logtui::decode::redis::decode_message(
            "logs:alerts",
            p.as_bytes(),
            p.len(),
            &logtui::limits::Limits::default().decode(),
        );
        assert!(!d.undecodable);
        assert_eq!(d.record.logger, "app");
    }
    let v0: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v0["level"], "ERROR");
    assert_eq!(v0["message"], "card declined for Zo\u{eb}");
    assert!(got[0].contains("Zo\\u00eb"), "{}", got[0]);
    let v1: serde_json::Value = serde_json::from_str(&got[1]).unwrap();
    assert_eq!(v1["level"], "CRITICAL");
    assert!(
        v1["message"]
            .as_str()
            .unwrap()
            .contains("ZeroDivisionError"),
        "the traceback follows the message: {v1}"
    );
    let xrange = server.cli(&["XRANGE", "stream:logs:alerts", "-", "+"]);
    assert_eq!(xrange.matches("data").count(), 2, "{xrange}");
    assert!(xrange.contains("card declined"), "{xrange}");
    // Everything is stored locally, forwarded or not.
    wait_for("4 records stored", LIMIT, || {
        count(&t.db, &["--source", "tcp"]) == 4
    });
    wait_for("the route's counters", LIMIT, || {
        route_line(&t, "alerts").is_some_and(|l| counter(&l, "sent") == 2)
    });
    let (code, err, _dir, _db) = t.stop();
    assert_eq!(code, 0, "{err:?}");
    let summary = err
        .iter()
        .find(|l| l.trim_start().starts_with("route alerts:"))
        .unwrap_or_else(|| panic!("a route line in the summary: {err:?}"));
    assert!(summary.contains("matched 2, sent 2"), "{summary}");
}

#[test]
fn one_logtui_forwards_to_another_field_exact() {
    let central = Logtui::start(&["--redis", "off"]);
    let edge = start(&format!(
        "[[route]]\nname = \"central\"\ntcp = \"{}\"\n",
        central.tcp.as_deref().unwrap()
    ));
    python_send(
        edge.tcp.as_deref().unwrap(),
        "log.debug('d %s', 1)\n\
         log.info('order %d paid', 42, extra={'job': 'job_7', 'user': 'ana', 'n': 3, 'f': 2.5, 'ok': True, 'tags': ['a', 'b'], 'm': {'k': None}})\n\
         log.warning('caf\\u00e9 \\U0001f600 \\x1b[31mred')\n\
         try:\n    {}['missing']\nexcept KeyError:\n    log.exception('lookup failed')\n\
         log.error('with stack', stack_info=True)\n",
    );
    wait_for("5 records at the central logtui", LIMIT, || {
        count(&central.db, &["--source", "tcp"]) == 5
    });
    let strip = |mut v: serde_json::Value| {
        let o = v.as_object_mut().unwrap();
        // Where it came from and the row id are the receiving store's own.
        o.remove("id");
        o.remove("origin");
        v
    };
    let here: Vec<_> = records(&edge.db, &["--source", "tcp"])
        .into_iter()
        .map(strip)
        .collect();
    let there: Vec<_> = records(&central.db, &["--source", "tcp"])
        .into_iter()
        .map(strip)
        .collect();
    assert_eq!(here.len(), 5);
    assert_eq!(there, here);
    assert_eq!(there[1]["job"], "job_7");
    assert!(there[3]["exc_text"].as_str().unwrap().contains("KeyError"));
    let (code, err, ..) = edge.stop();
    assert_eq!(code, 0, "{err:?}");
    let _ = central.stop();
}

#[test]
fn a_jsonl_route_writes_the_matching_records_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let t = start(&format!(
        "[[route]]\nname = \"audit\"\nmatch = {{ logger = \"app.audit*\", text = \"login\" }}\njsonl = {:?}\n",
        path.display().to_string()
    ));
    python_send(
        t.tcp.as_deref().unwrap(),
        "a = logging.getLogger('app.audit')\na.setLevel(1)\na.propagate = True\n\
         a.info('login ana')\na.info('logout ana')\nlog.info('login elsewhere')\na.warning('login failed for bob')\n",
    );
    wait_for("4 records stored", LIMIT, || {
        count(&t.db, &["--source", "tcp"]) == 4
    });
    wait_for("2 lines in the file", LIMIT, || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.lines().count() == 2)
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["message"], "login ana");
    assert_eq!(lines[1]["message"], "login failed for bob");
    assert_eq!(lines[1]["levelname"], "WARNING");
    // The same line `logtui query --format jsonl` prints for that record.
    let stored = records(&t.db, &["--search", "bob"]);
    assert_eq!(lines[1], stored[0]);
    let (code, err, ..) = t.stop();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn a_drop_route_keeps_records_out_of_the_store_and_counts_them() {
    let t = start(
        "[[route]]\nname = \"quiet\"\nmatch = { logger = \"noisy*\", level = \"INFO\" }\ndrop = true\n",
    );
    python_send(
        t.tcp.as_deref().unwrap(),
        "n = logging.getLogger('noisy.poller')\nn.setLevel(1)\nn.addHandler(h)\n\
         for i in range(3):\n    n.info('poll %d', i)\n\
         n.debug('kept: below the level')\nlog.info('kept too')\n",
    );
    wait_for("5 received, 2 stored, 3 ignored", LIMIT, || {
        t.source_counts("tcp")
            .is_some_and(|c| c[0] == 5 && c[1] == 2 && c[4] == 3)
    });
    assert_eq!(count(&t.db, &["--logger", "noisy*", "--search", "poll"]), 0);
    assert_eq!(count(&t.db, &["--source", "tcp"]), 2);
    wait_for("the rule's count", LIMIT, || {
        route_line(&t, "quiet").is_some_and(|l| l.contains("dropped 3 by rule"))
    });
    let (code, err, ..) = t.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.contains("route quiet: drop before storing; dropped 3 by rule")),
        "{err:?}"
    );
}

#[test]
fn a_tcp_peer_that_is_down_blocks_nothing_and_forwarding_resumes() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let t = start(&format!(
        "[[route]]\nname = \"central\"\ntcp = \"{addr}\"\nqueue = 5\n"
    ));
    python_send(
        t.tcp.as_deref().unwrap(),
        "for i in range(600):\n    log.error('while down %d', i)\n",
    );
    // Every record is stored locally, at once, whatever the peer does.
    wait_for("600 stored", LIMIT, || {
        count(&t.db, &["--source", "tcp"]) == 600
    });
    wait_for("drops counted while the peer is down", LIMIT, || {
        route_line(&t, "central").is_some_and(|l| {
            l.contains("reconnecting")
                && counter(&l, "dropped") > 0
                && counter(&l, "matched") == 600
        })
    });
    let line = route_line(&t, "central").unwrap();
    assert!(
        line.contains("Connection refused") || line.contains("refused"),
        "{line}"
    );
    // The peer comes up: what was held is delivered, then what comes next.
    let central = Logtui::start(&["--redis", "off", "--tcp", &addr]);
    // Its queue (5) is full of what was held: a record sent before the route reconnects and
    // drains it would be dropped, so the next one goes once the queue is empty again.
    wait_for("the route reconnected and drained", LIMIT, || {
        route_line(&t, "central")
            .is_some_and(|l| l.contains(" connected;") && counter(&l, "queued") == 0)
    });
    python_send(
        t.tcp.as_deref().unwrap(),
        "log.error('after the peer came back')\n",
    );
    wait_for("the new record at the peer", LIMIT, || {
        count(&central.db, &["--search", "after the peer came back"]) == 1
    });
    wait_for("the route connected, the new record sent", LIMIT, || {
        route_line(&t, "central").is_some_and(|l| {
            l.contains(" connected;")
                && counter(&l, "matched") == 601
                && counter(&l, "sent") + counter(&l, "dropped") == 601
        })
    });
    let line = route_line(&t, "central").unwrap();
    let (sent, dropped) = (counter(&line, "sent"), counter(&line, "dropped"));
    assert_eq!(sent + dropped, 601, "{line}");
    wait_for("everything sent stored at the peer", LIMIT, || {
        count(&central.db, &["--source", "tcp"]) == sent
    });
    let (code, err, ..) = t.stop();
    assert_eq!(code, 0, "{err:?}");
    let _ = central.stop();
}

#[test]
fn a_redis_that_is_down_blocks_nothing_and_forwarding_resumes() {
    let mut server = RedisServer::start();
    server.kill();
    let t = start(&format!(
        "[[route]]\nname = \"alerts\"\nmatch = {{ level = \"ERROR\" }}\n\
         redis = {{ url = \"{}\", channel = \"logs:alerts\", stream = \"stream:logs:alerts\" }}\nqueue = 10\n",
        server.url()
    ));
    python_send(
        t.tcp.as_deref().unwrap(),
        "for i in range(300):\n    log.error('redis down %d', i)\n",
    );
    wait_for("300 stored", LIMIT, || {
        count(&t.db, &["--source", "tcp"]) == 300
    });
    wait_for("drops counted while Redis is down", LIMIT, || {
        route_line(&t, "alerts")
            .is_some_and(|l| l.contains("reconnecting") && counter(&l, "dropped") > 0)
    });
    server.restart();
    wait_for("the route reconnected and drained", LIMIT, || {
        route_line(&t, "alerts")
            .is_some_and(|l| l.contains(" connected;") && counter(&l, "queued") == 0)
    });
    python_send(t.tcp.as_deref().unwrap(), "log.error('redis is back')\n");
    wait_for("the new record in the stream", LIMIT, || {
        server
            .cli(&["XRANGE", "stream:logs:alerts", "-", "+"])
            .contains("redis is back")
    });
    let line = route_line(&t, "alerts").unwrap();
    assert!(counter(&line, "dropped") > 0, "{line}");
    let (code, err, ..) = t.stop();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn at_shutdown_what_is_queued_is_forwarded_and_a_dead_target_waits_only_the_drain_timeout() {
    let central = Logtui::start(&["--redis", "off"]);
    let edge = start(&format!(
        "[[route]]\nname = \"central\"\ntcp = \"{}\"\n",
        central.tcp.as_deref().unwrap()
    ));
    python_send(
        edge.tcp.as_deref().unwrap(),
        "for i in range(2000):\n    log.info('burst %d', i)\n",
    );
    // Stopped at once: the drain stores the burst, and the forwarder sends all of it before exit.
    let (code, err, ..) = edge.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.contains("route central:") && l.contains("sent 2000, queued 0, dropped 0")),
        "{err:?}"
    );
    // The peer stores them at its own pace (its flush interval).
    wait_for("2000 at the peer", LIMIT, || {
        count(&central.db, &["--source", "tcp"]) == 2000
    });
    let _ = central.stop();

    let dead = format!("127.0.0.1:{}", free_port());
    let mut cfg = config(&format!("[[route]]\nname = \"dead\"\ntcp = \"{dead}\"\n"));
    cfg = cfg.replace("[record]\n", "[record]\ndrain_timeout = 1.0\n");
    let t = Logtui::start_with_config(&cfg, &["--redis", "off"]);
    python_send(
        t.tcp.as_deref().unwrap(),
        "for i in range(50):\n    log.error('lost %d', i)\n",
    );
    wait_for("50 stored", LIMIT, || {
        count(&t.db, &["--source", "tcp"]) == 50
    });
    let began = std::time::Instant::now();
    let (code, err, ..) = t.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    let line = err
        .iter()
        .find(|l| l.trim_start().starts_with("route dead:"))
        .unwrap_or_else(|| panic!("{err:?}"));
    assert!(
        line.contains("sent 0") && line.contains("unsent at exit 50"),
        "{line}"
    );
}

#[test]
fn the_redis_source_never_reads_back_what_a_route_publishes() {
    let server = RedisServer::start();
    let routes = format!(
        "[[route]]\nname = \"alerts\"\nmatch = {{ level = \"ERROR\" }}\nredis = {{ url = \"{}\", channel = \"logs:alerts\" }}\n",
        server.url()
    );
    // The source subscribes to logs:*, which covers logs:alerts.
    let t = Logtui::start_with_config(&config(&routes), &["--redis", &server.url()]);
    wait_for("subscribed", LIMIT, || {
        server
            .cli(&["PUBSUB", "NUMPAT"])
            .trim()
            .parse::<u64>()
            .is_ok_and(|n| n >= 1)
    });
    python_send(t.tcp.as_deref().unwrap(), "log.error('disk on fire')\n");
    wait_for("the error forwarded", LIMIT, || {
        route_line(&t, "alerts").is_some_and(|l| counter(&l, "sent") >= 1)
    });
    // A marker published after the forward reaches the same subscription after it: once the
    // marker is stored, the forwarded copy would have been too.
    server.cli(&["PUBLISH", "logs:global", "marker after the forward"]);
    wait_for("the marker stored", LIMIT, || {
        count(&t.db, &["--search", "marker after the forward"]) == 1
    });
    assert_eq!(count(&t.db, &["--search", "disk on fire"]), 1);
    assert_eq!(count(&t.db, &["--source", "redis", "--search", "disk"]), 0);
    t.stop();
}
