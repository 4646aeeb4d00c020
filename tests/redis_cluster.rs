//! Redis Cluster: a real three-node cluster of the test's own; logtui subscribes through it.

mod common;

use common::redis_cluster::RedisCluster;

#[test]
fn own_cluster_starts_with_every_slot_served() {
    let c = RedisCluster::start();
    let info = c.nodes[0].cli(&["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    c.cli(&["SET", "a", "1"]);
    c.cli(&["SET", "b", "2"]);
    assert_eq!(c.cli(&["GET", "a"]).trim(), "1");
    // Keys live on different nodes, and each node redirects for keys it does not own.
    let owners: std::collections::BTreeSet<u16> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|k| c.owner_of(k).port)
        .collect();
    assert!(owners.len() > 1, "{owners:?}");
}

/// Smarter-shaped payloads published through the node `port` (PUBLISH is broadcast to every
/// node of a cluster), each record on its job channel and on logs:global.
const PUBLISH: &str = r#"
import json, sys, time, redis
port, job, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = redis.Redis(host="127.0.0.1", port=port)
for i in range(n):
    data = json.dumps({"message": "%s step %d" % (job, i), "level": "INFO",
                       "timestamp": time.time(), "logger": "app.cluster", "pod": "pod-1"},
                      indent=2, ensure_ascii=True)
    r.publish("logs:" + job, data)
    r.publish("logs:global", data)
"#;

#[test]
fn logtui_subscribes_through_a_cluster_seed_and_stores_each_record_once() {
    let c = RedisCluster::start();
    let seed = format!("redis+cluster://127.0.0.1:{}", c.nodes[0].port);
    let lt = common::Logtui::start(&[
        "--tcp",
        "off",
        "--udp",
        "off",
        "--http",
        "off",
        "--redis",
        &seed,
        "--stats-interval",
        "0.2",
    ]);
    common::wait_for("subscribed", std::time::Duration::from_secs(30), || {
        lt.redis_link().is_some_and(|(s, _)| s == "subscribed")
    });
    let first = lt.stderr().join("\n");
    assert!(
        first.contains("listening on redis redis+cluster://127.0.0.1:"),
        "{first}"
    );
    // Published through each node in turn: the subscription hears them all.
    for (i, node) in c.nodes.iter().enumerate() {
        let st = std::process::Command::new("python3")
            .args([
                "-c",
                PUBLISH,
                &node.port.to_string(),
                &format!("job_n{i}"),
                "20",
            ])
            .status()
            .expect("python3 with redis-py");
        assert!(st.success());
    }
    common::wait_for("60 records", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &["--source", "redis"]) >= 60
    });
    for i in 0..3 {
        assert_eq!(common::count(&lt.db, &["--job", &format!("job_n{i}")]), 20);
    }
    assert_eq!(common::count(&lt.db, &["--source", "redis"]), 60);
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn lists_on_a_cluster_are_refused_in_one_sentence() {
    let out = std::process::Command::new(common::bin())
        .args([
            "config",
            "--redis",
            "redis+cluster://127.0.0.1:7000",
            "--list-key",
            "q",
        ])
        .output()
        .expect("run logtui config");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--list-key") && err.contains("Redis Cluster"),
        "{err}"
    );
}
