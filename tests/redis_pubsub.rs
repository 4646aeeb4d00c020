//! The Redis pub/sub source end to end: the real binary, a redis-server of the test's own, and
//! real Python producers (redis-py), through server deaths, kills, AUTH, ACL users and bursts.

mod common;

use common::redis_server::{RedisServer, free_port};
use common::{Logtui, count, manifest_path, query, wait_for};
use serde_json::Value as Json;
use std::process::Command;
use std::time::Duration;

/// Long enough for a debug build on two busy cores; every wait polls, none sleeps.
const WAIT: Duration = Duration::from_secs(60);

/// Runs tests/python/redis_publish.py; returns the JSON lines it printed (one per record).
fn publish(url: &str, mode: &str, count: usize, extra: &[&str]) -> Vec<Json> {
    let out = Command::new("python3")
        .arg(manifest_path("tests/python/redis_publish.py"))
        .args(["--url", url, "--mode", mode, "--count", &count.to_string()])
        .args(extra)
        .output()
        .expect("python3 is needed for the Redis tests (with redis-py: pip install redis)");
    assert!(
        out.status.success(),
        "redis_publish.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn wait_subscribed(lt: &Logtui) {
    wait_for("the Redis link to be subscribed", WAIT, || {
        lt.redis_link().is_some_and(|(s, _)| s == "subscribed")
    });
}

fn wait_count(lt: &Logtui, args: &[&str], n: u64) {
    wait_for(&format!("{n} records matching {args:?}"), WAIT, || {
        count(&lt.db, args) >= n
    });
    assert_eq!(count(&lt.db, args), n, "{args:?}");
}

#[test]
fn smarter_double_publish_is_stored_once_with_its_job_and_cpythons_microseconds() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    let sent = publish(&server.url(), "smarter", 40, &[]);
    assert_eq!(sent.len(), 40);
    wait_count(&lt, &["--source", "redis"], 40);
    let got = lt.rows(&["--source", "redis"]);
    for (s, g) in sent.iter().zip(&got) {
        assert_eq!(g["message"], s["message"]);
        assert_eq!(g["origin"], s["channel"]);
        let job = s["channel"]
            .as_str()
            .unwrap()
            .strip_prefix("logs:")
            .unwrap();
        assert_eq!(g["job"], job);
        assert_eq!(g["time"], s["time"], "microseconds as CPython prints them");
        assert_eq!(g["levelname"], "WARNING");
        assert_eq!(g["logger"], "smarter.apps.prompt.views");
    }
    // Both job kinds came: a random job_<uuid> and a user's channel.
    assert!(got.iter().any(|g| g["job"] == "User.admin"));
    assert!(
        got.iter()
            .any(|g| g["job"].as_str().unwrap().starts_with("job_"))
    );
    let (code, err, ..) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.contains("redis    subscribed, 80 messages")),
        "both copies counted as messages: {err:?}"
    );
}

#[test]
fn generic_json_and_text_lines_on_a_plain_channel() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &["--channel", "app:events"]);
    wait_subscribed(&lt);
    publish(&server.url(), "generic", 3, &["--tag", "json"]);
    publish(&server.url(), "text", 2, &["--tag", "text"]);
    wait_count(&lt, &["--source", "redis"], 5);
    let got = lt.rows(&["--source", "redis"]);
    for g in &got[..3] {
        assert_eq!(g["levelname"], "ERROR");
        assert_eq!(g["origin"], "app:events");
        assert_eq!(g["job"], Json::Null, "app:events names no job");
        assert_eq!(g["time"], "2026-11-25T00:03:38.500000Z");
        assert_eq!(g["extra"]["service"], "billing");
    }
    assert_eq!(got[3]["levelname"], "WARNING");
    assert_eq!(got[3]["message"], "[WARNING] text 0 disk almost full");
    assert_eq!(lt.stop().0, 0);
}

/// Publishes `n` Smarter records tagged `tag` and waits until they are stored.
fn batch(server: &RedisServer, lt: &Logtui, tag: &str, n: u64) {
    publish(
        &server.url(),
        "smarter",
        n as usize,
        &["--tag", &format!("{tag}-")],
    );
    wait_count(lt, &["--source", "redis", "--search", tag], n);
}

#[test]
fn a_killed_and_restarted_server_is_resubscribed_with_a_gap_record() {
    let mut server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    batch(&server, &lt, "before", 20);
    server.restart();
    wait_for("the gap record", WAIT, || lt.redis_gaps().len() == 1);
    wait_subscribed(&lt);
    batch(&server, &lt, "after", 20);
    let g = &lt.redis_gaps()[0];
    assert_eq!(g["levelname"], "WARNING");
    assert_eq!(g["extra"]["channels"], "logs:*");
    let (start, end) = (
        g["extra"]["gap_start"].as_f64().unwrap(),
        g["extra"]["gap_end"].as_f64().unwrap(),
    );
    assert!(start <= end, "{g}");
    assert!(g["extra"]["cause"].as_str().is_some_and(|c| !c.is_empty()));
    let (state, n) = lt.redis_link().unwrap();
    assert_eq!((state.as_str(), n[1], n[2], n[3]), ("subscribed", 1, 1, 0));
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn client_kill_of_the_subscriber_is_resubscribed_with_a_gap_record() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    batch(&server, &lt, "before", 10);
    let killed = server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed.trim(), "1", "logtui's one subscriber connection");
    wait_for("the gap record", WAIT, || lt.redis_gaps().len() == 1);
    wait_subscribed(&lt);
    batch(&server, &lt, "after", 10);
    assert!(
        lt.redis_gaps()[0]["message"]
            .as_str()
            .unwrap()
            .contains("Redis pub/sub gap")
    );
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn requirepass_an_acl_user_and_a_database_number() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret"]);
    server.cli(&[
        "-a",
        "s3cret",
        "--no-auth-warning",
        "ACL",
        "SETUSER",
        "logtui",
        "on",
        ">pw-of-logtui",
        "&*",
        "+@all",
        "~*",
    ]);
    for url in [
        format!("redis://:s3cret@127.0.0.1:{}/2", server.port),
        format!("redis://logtui:pw-of-logtui@127.0.0.1:{}/5", server.port),
    ] {
        let lt = Logtui::record_redis(&url, &[]);
        wait_subscribed(&lt);
        let first = lt.stderr().join("\n");
        assert!(
            first.contains("listening on redis redis://") && first.contains(":***@127.0.0.1"),
            "the password is redacted: {first}"
        );
        assert!(!first.contains("s3cret") && !first.contains("pw-of-logtui"));
        publish(&url, "smarter", 6, &[]);
        wait_count(&lt, &["--source", "redis"], 6);
        assert_eq!(lt.stop().0, 0);
    }
    // A wrong password is retried (the link stays "reconnecting"), never a crash.
    let lt = Logtui::record_redis(&format!("redis://:wrong@127.0.0.1:{}", server.port), &[]);
    wait_for("a reconnecting link", WAIT, || {
        lt.redis_link().is_some_and(|(s, _)| s == "reconnecting")
    });
    let (code, err, ..) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter().any(|l| l.contains("cannot subscribe")),
        "{err:?}"
    );
}

#[test]
fn a_burst_of_50000_double_published_records_loses_none() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    publish(&server.url(), "burst", 50_000, &["--tag", "burst"]);
    wait_for("50,000 burst records", Duration::from_secs(300), || {
        count(&lt.db, &["--source", "redis"]) >= 50_000
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(count(&db, &["--source", "redis"]), 50_000, "{err:?}");
    assert_eq!(count(&db, &["--source", "redis", "--job", "job_3"]), 7143);
    assert!(
        err.iter().any(|l| l.contains(
            "redis    subscribed, 100000 messages, 0 reconnects, 0 gaps, 0 dropped, 0 recovered"
        )),
        "{err:?}"
    );
}

#[test]
fn redis_down_at_start_is_retried_until_it_comes() {
    let mut server = RedisServer::start();
    server.kill();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_for("a reconnecting link", WAIT, || {
        lt.redis_link().is_some_and(|(s, _)| s == "reconnecting")
    });
    server.restart();
    wait_subscribed(&lt);
    publish(&server.url(), "smarter", 5, &[]);
    wait_count(&lt, &["--source", "redis"], 5);
    // Never connected before: nothing was missed, so no gap is claimed.
    assert!(lt.redis_gaps().is_empty());
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn rediss_to_a_plain_text_server_is_a_clear_error_not_a_hang() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&format!("rediss://127.0.0.1:{}", server.port), &[]);
    wait_for("the TLS failure in the log", WAIT, || {
        lt.stderr()
            .iter()
            .any(|l| l.contains("cannot subscribe") && l.contains("TLS"))
    });
    wait_for("a reconnecting link", WAIT, || {
        lt.redis_link().is_some_and(|(s, _)| s == "reconnecting")
    });
    let (code, err, ..) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(!err.iter().any(|l| l.contains("panicked")), "{err:?}");
}

#[test]
fn every_source_off_is_still_refused_and_redis_alone_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["record", "--db"])
        .arg(dir.path().join("s.db"))
        .args([
            "--tcp", "off", "--udp", "off", "--http", "off", "--redis", "off",
        ])
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("every listener is off") && err.contains("--redis"),
        "{err}"
    );
    // Nothing answers on this port: logtui starts all the same and says where it reads.
    let lt = Logtui::record_redis(&format!("redis://127.0.0.1:{}", free_port()), &[]);
    assert!(
        lt.stderr()
            .iter()
            .any(|l| l.contains("listening on redis redis://127.0.0.1:"))
    );
    assert_eq!(lt.stop().0, 0);
}

/// A `redis-server` speaking only TLS, with a self-signed certificate made by `openssl`.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    /// The certificate, key and working directory; removed when the server is dropped.
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// A TLS redis-server whose certificate (for 127.0.0.1) is signed by a CA of the test's
    /// own, `ca.pem` in [`TlsServer::ca`].
    fn start() -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let made = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl is needed to make the TLS test's certificates");
            assert!(made.status.success(), "openssl {args:?}: {made:?}");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=logtui test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "k.pem",
            "-out",
            "s.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "s.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "c.pem",
        ]);
        let (key, cert) = (p("k.pem"), p("c.pem"));
        let port = free_port();
        let child = Command::new(common::redis_server::server_binary())
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-auth-clients", "no", "--tls-cert-file"])
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let me = TlsServer {
            child,
            port,
            _dir: dir,
        };
        wait_for("the TLS redis-server to answer", WAIT, || {
            me.cli(&["PING"]).contains("PONG")
        });
        me
    }

    fn ca(&self) -> std::path::PathBuf {
        self._dir.path().join("ca.pem")
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["--tls", "--insecure", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rediss_trusts_a_private_ca_through_ssl_cert_file_and_insecure_skips_the_check() {
    let server = TlsServer::start();
    let url = format!("rediss://127.0.0.1:{}", server.port);
    // The system's roots do not know the test's CA: the certificate is refused.
    let strict = Logtui::record_redis(&url, &[]);
    wait_for("the certificate refusal in the log", WAIT, || {
        strict
            .stderr()
            .iter()
            .any(|l| l.contains("cannot subscribe") && l.contains("certificate"))
    });
    assert_eq!(strict.stop().0, 0);
    // SSL_CERT_FILE names the CA, as for OpenSSL: verified, no `#insecure`.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut args = common::redis_only_args(&url);
    args.extend(["--stats-interval", "0.2"]);
    let ca = server.ca();
    let trusted = Logtui::start_with_env(dir, db, &args, &[("SSL_CERT_FILE", ca.as_os_str())]);
    wait_subscribed(&trusted);
    for i in 0..3 {
        server.cli(&["PUBLISH", "logs:global", &format!("over TLS {i}")]);
    }
    wait_count(&trusted, &["--source", "redis", "--search", "over TLS"], 3);
    assert_eq!(trusted.stop().0, 0);
    // `#insecure` reads it without checking the certificate at all.
    let lt = Logtui::record_redis(&format!("{url}/#insecure"), &[]);
    wait_subscribed(&lt);
    server.cli(&["PUBLISH", "logs:global", "insecure over TLS"]);
    wait_count(
        &lt,
        &["--source", "redis", "--search", "insecure over TLS"],
        1,
    );
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn what_was_published_before_the_stop_signal_is_stored() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    // No wait for the store: the stop follows the last PUBLISH's reply at once.
    publish(&server.url(), "burst", 3000, &["--tag", "drain"]);
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(count(&db, &["--source", "redis"]), 3000, "{err:?}");
}

#[test]
fn a_half_open_link_is_found_by_ping_and_rebuilt() {
    let server = RedisServer::start();
    let info = server.cli(&["INFO", "server"]);
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .expect("process_id in INFO")
        .trim()
        .to_owned();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    batch(&server, &lt, "before", 5);
    // A stopped server keeps its sockets open and answers nothing: a half-open link.
    let signal = |sig: &str| {
        let st = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(st.success());
    };
    signal("-STOP");
    // Polled by hand, so the server is let go again even when the link never notices.
    let deadline = std::time::Instant::now() + WAIT;
    let mut found = false;
    while !found && std::time::Instant::now() < deadline {
        found = lt.redis_link().is_some_and(|(s, _)| s == "reconnecting");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal("-CONT");
    let err = lt.stderr();
    let tail = &err[err.len().saturating_sub(4)..];
    assert!(found, "the PING deadline never noticed: {tail:?}");
    wait_for("the gap record", WAIT, || lt.redis_gaps().len() == 1);
    assert!(
        lt.redis_gaps()[0]["extra"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("PING")),
        "{:?}",
        lt.redis_gaps()
    );
    wait_subscribed(&lt);
    batch(&server, &lt, "after", 5);
    assert_eq!(lt.stop().0, 0);
}

/// A paced Smarter producer: `n` records, each PUBLISH + XADD in one MULTI/EXEC per copy (its
/// job channel, then logs:global), about `rate` a second, messages `gap-<i>`.
const PACED: &str = r#"
import json, sys, time, redis
url, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
r = redis.Redis.from_url(url)
t0 = time.time()
for i in range(n):
    job = "job_%d" % (i % 7)
    data = json.dumps({"message": "gap-%d" % i, "level": "INFO", "timestamp": time.time(),
                       "logger": "app.gap", "pod": "pod-1"}, indent=2, ensure_ascii=True)
    for ch in ("logs:" + job, "logs:global"):
        p = r.pipeline(transaction=True)
        p.publish(ch, data)
        p.xadd("stream:" + ch, {"data": data}, maxlen=1000, approximate=True)
        p.expire("stream:" + ch, 3600)
        p.execute()
    delay = t0 + (i + 1) / rate - time.time()
    if delay > 0:
        time.sleep(delay)
"#;

/// Runs [`PACED`] against `server`: `n` records at `rate` a second, to the end.
fn run_paced(server: &RedisServer, n: usize, rate: u32) {
    let st = Command::new("python3")
        .args([
            "-c",
            PACED,
            &server.url(),
            &n.to_string(),
            &rate.to_string(),
        ])
        .status()
        .expect("python3 with redis-py");
    assert!(st.success(), "the paced producer failed");
}

#[test]
fn a_gap_left_by_client_kill_is_closed_from_the_streams_with_nothing_stored_twice() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    // Let a few marks pass, so the window has a start.
    wait_for("a mark", WAIT, || {
        server
            .cli(&["PUBSUB", "CHANNELS", "logtui:mark:*"])
            .contains("logtui:mark:")
    });
    let n = 3000u64;
    let mut producer = Command::new("python3")
        .args(["-c", PACED, &server.url(), &n.to_string(), "1000"])
        .spawn()
        .expect("python3 with redis-py");
    for at in [600, 1800] {
        wait_for(&format!("{at} records"), WAIT, || {
            count(&lt.db, &["--source", "redis"]) >= at
        });
        let killed = server.cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        assert_eq!(killed.trim(), "1", "logtui's one subscriber connection");
        wait_subscribed(&lt);
    }
    assert!(producer.wait().expect("the producer").success());
    let closed =
        |lt: &Logtui| lt.rows(&["--source", "internal", "--search", "closed from streams"]);
    wait_for("both windows closed", WAIT, || closed(&lt).len() == 2);
    wait_count(&lt, &["--source", "redis"], n);
    // Every record once, whichever way it came; with its job, except where the job copy was
    // lost in the gap and the global copy arrived (stored from it, as logs:global alone).
    let got = lt.rows(&["--source", "redis"]);
    let jobless = common::each_record_once_with_its_job(&got, n, |i| format!("job_{}", i % 7));
    assert!(jobless < 20, "{jobless} records without their job");
    let recovered: u64 = closed(&lt)
        .iter()
        .map(|r| r["extra"]["recovered"].as_u64().unwrap())
        .sum();
    // The manager reconnects within milliseconds, so a kill may lose nothing at all; what it
    // lost came back (every record is stored, once), and the count says how many.
    assert_eq!(lt.redis_gaps().len(), 2);
    let (code, stderr, ..) = lt.stop();
    assert_eq!(code, 0);
    let summary = stderr.join("\n");
    assert!(
        summary.contains(&format!("{recovered} recovered")),
        "{summary}"
    );
}

#[test]
fn a_gap_while_logtui_was_stopped_is_closed_from_the_streams_at_the_next_start() {
    let server = RedisServer::start();
    let lt = Logtui::record_redis(&server.url(), &[]);
    wait_subscribed(&lt);
    let paced = |n: usize| run_paced(&server, n, 2000);
    paced(50);
    wait_count(&lt, &["--source", "redis"], 50);
    // A mark kept in the store with the records it covers.
    let kept = |db: &std::path::Path| {
        query(
            db,
            &[
                "--sql",
                "SELECT count(*) FROM source_state WHERE key LIKE 'redis:mark:%'",
            ],
        )
        .contains('1')
    };
    wait_for("a kept mark", WAIT, || kept(&lt.db));
    let (code, _, dir, db) = lt.stop();
    assert_eq!(code, 0);
    // Published while nobody listened: 30 new records (PACED numbers from 0 again, so they
    // are gap-0 … gap-29 by name, with times of their own).
    paced(30);
    let mut args = vec!["--tcp", "off", "--udp", "off", "--http", "off"];
    let url = server.url();
    args.extend(["--redis", url.as_str(), "--stats-interval", "0.2"]);
    let lt = Logtui::start_with_db(dir, db, &args);
    wait_for("the stopped span closed", WAIT, || {
        lt.rows(&["--source", "internal", "--search", "stopped"])
            .iter()
            .any(|r| {
                r["message"]
                    .as_str()
                    .unwrap()
                    .contains("while logtui was stopped")
            })
    });
    wait_count(&lt, &["--source", "redis"], 80);
    let note = lt.rows(&["--source", "internal", "--search", "stopped"]);
    assert_eq!(note[0]["extra"]["recovered"], 30, "{note:?}");
    // Nothing from before the stop came back twice.
    assert_eq!(
        count(&lt.db, &["--source", "redis", "--search", "gap-40"]),
        1
    );
    assert_eq!(
        count(&lt.db, &["--source", "redis", "--search", "gap-10"]),
        2
    );
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn what_was_published_while_logtui_could_not_reconnect_comes_back_from_the_streams() {
    let server = RedisServer::start();
    server.cli(&["ACL", "SETUSER", "lt", "on", ">pw", "~*", "&*", "+@all"]);
    let url = format!("redis://lt:pw@127.0.0.1:{}", server.port);
    let lt = Logtui::record_redis(&url, &[]);
    wait_subscribed(&lt);
    wait_for("a mark", WAIT, || {
        server
            .cli(&["PUBSUB", "CHANNELS", "logtui:mark:*"])
            .contains("logtui:mark:")
    });
    let paced = |n: usize| run_paced(&server, n, 2000);
    paced(20);
    wait_count(&lt, &["--source", "redis"], 20);
    // logtui's user is locked out and its connections cut: it cannot come back until it is
    // let in again, and everything published meanwhile is missed by pub/sub.
    server.cli(&["ACL", "SETUSER", "lt", "off"]);
    server.cli(&["CLIENT", "KILL", "USER", "lt"]);
    wait_for("the link down", WAIT, || {
        lt.redis_link().is_some_and(|(s, _)| s != "subscribed")
    });
    paced(100);
    server.cli(&["ACL", "SETUSER", "lt", "on"]);
    wait_subscribed(&lt);
    wait_for("the window closed", WAIT, || {
        !lt.rows(&["--source", "internal", "--search", "closed from streams"])
            .is_empty()
    });
    wait_count(&lt, &["--source", "redis"], 120);
    let closed = lt.rows(&["--source", "internal", "--search", "closed from streams"]);
    let recovered: u64 = closed
        .iter()
        .map(|r| r["extra"]["recovered"].as_u64().unwrap())
        .sum();
    assert_eq!(recovered, 100, "{closed:#?}");
    // The 100 (gap-0 … gap-99 of the second run) are stored once each, with their jobs.
    for i in [0, 19, 20, 99] {
        let want = if i < 20 { 2 } else { 1 };
        assert_eq!(
            count(
                &lt.db,
                &["--source", "redis", "--search", &format!("gap-{i}")]
            ),
            want,
            "gap-{i}"
        );
    }
    assert_eq!(
        count(&lt.db, &["--source", "redis", "--job", "job_1"]),
        3 + 15
    );
    assert_eq!(lt.stop().0, 0);
}
