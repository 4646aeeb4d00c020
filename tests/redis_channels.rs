//! `logtui channels` against a real redis-server and a store filled by the real Redis source:
//! live rates, subscribers, streams, list lengths and stored counts in one listing.

mod common;

use common::redis_server::RedisServer;
use common::{Logtui, bin, count, wait_for};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A Smarter-shaped payload, as its `RedisLogHandler` formats one (pretty JSON, ASCII escapes).
const PUBLISH: &str = r#"
import json, sys, time, redis
url, job, n, level = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = redis.Redis.from_url(url)
for i in range(n):
    payload = json.dumps({"message": "INFO %s step %d" % (job, i), "level": level,
                          "timestamp": time.time(), "logger": "app.jobs", "pod": "pod-1"},
                         indent=4, ensure_ascii=True)
    p = r.pipeline()
    p.publish("logs:" + job, payload)
    p.publish("logs:global", payload)
    p.xadd("stream:logs:" + job, {"data": payload}, maxlen=1000, approximate=True)
    p.execute()
"#;

fn publish(url: &str, job: &str, n: usize, level: &str) {
    let st = Command::new("python3")
        .args(["-c", PUBLISH, url, job, &n.to_string(), level])
        .status()
        .expect("run python3 (with redis-py) to publish");
    assert!(st.success(), "the Python publisher failed");
}

fn channels(db: &std::path::Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(bin())
        .arg("channels")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run logtui channels");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
        out.status.success(),
    )
}

fn row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:#?}"))
}

#[test]
fn channels_join_what_redis_and_the_store_know() {
    let redis = RedisServer::start();
    let url = redis.url();
    let lt = Logtui::start(&[
        "--redis", &url, "--tcp", "off", "--udp", "off", "--http", "off",
    ]);
    publish(&url, "job_a1", 30, "ERROR");
    publish(&url, "User.admin", 20, "INFO");
    // Stored once each despite the double publish.
    wait_for("the 50 records stored", Duration::from_secs(15), || {
        count(&lt.db, &["--source", "redis"]) >= 50
    });
    redis.cli(&["RPUSH", "redis", "a", "b", "c"]);
    // A plain subscriber, which PUBSUB CHANNELS and NUMSUB report (logtui's own is a pattern).
    let mut listener = Command::new("redis-cli")
        .args(["-p", &redis.port.to_string(), "SUBSCRIBE", "logs:global"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-cli subscribe");
    wait_for("the subscriber", Duration::from_secs(5), || {
        redis
            .cli(&["PUBSUB", "NUMSUB", "logs:global"])
            .contains('1')
    });
    // Something live while the sample listens.
    let noisy = {
        let url = url.clone();
        std::thread::spawn(move || publish(&url, "job_live", 40, "INFO"))
    };
    let (out, err, ok) = channels(
        &lt.db,
        &[
            "--redis",
            &url,
            "--list-key",
            "redis",
            "--sample",
            "2",
            "--format",
            "jsonl",
        ],
    );
    noisy.join().expect("publisher thread");
    assert!(ok, "logtui channels failed: {err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let a = row(&rows, "logs:job_a1");
    assert_eq!(a["job"], "job_a1");
    assert_eq!(a["stored"], 30);
    assert_eq!(a["errors"], 30);
    assert_eq!(a["stream"], "stream:logs:job_a1");
    assert_eq!(a["stream_length"], 30);
    assert_eq!(a["live_messages"], 0);
    let admin = row(&rows, "logs:User.admin");
    assert_eq!(
        (admin["job"].as_str(), admin["stored"].as_u64()),
        (Some("User.admin"), Some(20))
    );
    assert_eq!(admin["errors"], 0);
    let global = row(&rows, "logs:global");
    assert_eq!(global["subscribers"], 1);
    assert!(global["live_messages"].as_u64().unwrap() > 0, "{global}");
    let live = row(&rows, "logs:job_live");
    assert!(live["live_messages"].as_u64().unwrap() > 0, "{live}");
    let list = row(&rows, "redis");
    assert_eq!(
        (list["kind"].as_str(), list["length"].as_u64()),
        (Some("list"), Some(3))
    );
    // The table says the same to a person.
    let (table, _, ok) = channels(&lt.db, &["--redis", &url, "--sample", "0"]);
    assert!(ok);
    let line = table
        .lines()
        .find(|l| l.starts_with("logs:job_a1 "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cells[..2], ["logs:job_a1", "job_a1"], "{table}");
    assert!(cells.contains(&"30"), "{table}");
    let _ = listener.kill();
    let _ = listener.wait();
    // With Redis gone, the store still answers, and the reason is said once.
    drop(redis);
    let (table, err, ok) = channels(&lt.db, &["--redis", &url, "--sample", "0"]);
    assert!(ok, "{err}");
    assert!(table.contains("logs:User.admin"), "{table}");
    assert!(
        err.contains("could not be read") && err.contains("the store only"),
        "{err}"
    );
    lt.stop();
}
