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
    let lt = common::Logtui::record_redis(&seed, &[]);
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

/// Names `logs:{prefix}{i}`, one whose slot each node owns, in node order.
fn channel_per_node(c: &RedisCluster, prefix: &str) -> Vec<String> {
    c.one_per_node(|i| format!("logs:{prefix}{i}"), str::to_owned)
}

/// Smarter's double publish over sharded pub/sub: each record SPUBLISHed on its job channel
/// (on that channel's owner) and on logs:global (on its owner), as a cluster client would.
const SPUBLISH: &str = r#"
import json, sys, time, redis
job_port, job, global_port, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
jr = redis.Redis(host="127.0.0.1", port=job_port)
gr = redis.Redis(host="127.0.0.1", port=global_port)
for i in range(n):
    data = json.dumps({"message": "%s step %d" % (job, i), "level": "INFO",
                       "timestamp": time.time(), "logger": "app.shard", "pod": "pod-1"},
                      indent=2, ensure_ascii=True)
    assert jr.spublish("logs:" + job, data) == 1
    assert gr.spublish("logs:global", data) == 1
"#;

/// SPUBLISHes `n` records on job channel `channel` and logs:global, each on its owner.
fn spublish(c: &RedisCluster, channel: &str, n: usize) {
    let job = channel.strip_prefix("logs:").expect("a job channel");
    let st = std::process::Command::new("python3")
        .args([
            "-c",
            SPUBLISH,
            &c.owner_of(channel).port.to_string(),
            job,
            &c.owner_of("logs:global").port.to_string(),
            &n.to_string(),
        ])
        .status()
        .expect("python3 with redis-py");
    assert!(st.success());
}

/// `logtui record` on the cluster `c`, subscribed (and confirmed) to `shards` on their owners.
fn record_shards(c: &RedisCluster, shards: &[String]) -> common::Logtui {
    let seed = format!("redis+cluster://127.0.0.1:{}", c.nodes[0].port);
    let mut args = Vec::new();
    for s in shards {
        args.extend(["--shard-channel", s.as_str()]);
    }
    let lt = common::Logtui::record_redis(&seed, &args);
    wait_shard_subscribed(c, &lt, shards);
    lt
}

/// Waits until the link says subscribed and each of `shards` has one subscriber on its owner.
fn wait_shard_subscribed(c: &RedisCluster, lt: &common::Logtui, shards: &[String]) {
    common::wait_for("subscribed", std::time::Duration::from_secs(30), || {
        lt.redis_link().is_some_and(|(s, _)| s == "subscribed")
            && shards.iter().all(|name| {
                let n = c.owner_of(name).cli(&["PUBSUB", "SHARDNUMSUB", name]);
                n.lines().nth(1).is_some_and(|l| l.trim() == "1")
            })
    });
}

#[test]
fn sharded_channels_are_read_from_their_owners_and_stored_once_with_their_job() {
    let c = RedisCluster::start();
    // One job channel on each node, so two of them live away from the seed.
    let jobs = channel_per_node(&c, "shard_job");
    let shards: Vec<String> = jobs.iter().cloned().chain(["logs:global".into()]).collect();
    let lt = record_shards(&c, &shards);
    for j in &jobs {
        spublish(&c, j, 20);
    }
    common::wait_for("60 records", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &["--source", "redis"]) >= 60
    });
    for j in &jobs {
        let job = j.strip_prefix("logs:").expect("a job channel");
        assert_eq!(common::count(&lt.db, &["--job", job]), 20, "{job}");
    }
    // Each logs:global copy paired with its job copy: none stored on its own.
    assert_eq!(common::count(&lt.db, &["--source", "redis"]), 60);
    let (code, err, ..) = lt.stop();
    assert_eq!(code, 0, "{}", err.join("\n"));
    // Shutdown unsubscribed the sharded channels on their owners.
    for name in &shards {
        let n = c.owner_of(name).cli(&["PUBSUB", "SHARDNUMSUB", name]);
        assert!(
            n.lines().nth(1).is_some_and(|l| l.trim() == "0"),
            "{name}: {n}"
        );
    }
}

#[test]
fn a_killed_sharded_subscription_is_resubscribed_on_its_owner_with_a_gap_record() {
    let c = RedisCluster::start();
    let jobs = channel_per_node(&c, "kill_job");
    let shards: Vec<String> = jobs.iter().cloned().chain(["logs:global".into()]).collect();
    let lt = record_shards(&c, &shards);
    spublish(&c, &jobs[1], 5);
    common::wait_for("5 records", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &["--source", "redis"]) >= 5
    });
    // The subscriber's connection to a node other than the seed goes away.
    let killed = c.nodes[1].cli(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(
        killed.trim().parse::<u32>().is_ok_and(|n| n >= 1),
        "{killed}"
    );
    let gaps = ["--source", "internal", "--logger", "logtui.redis"];
    common::wait_for("the gap record", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &gaps) >= 1
    });
    wait_shard_subscribed(&c, &lt, &shards);
    for j in &jobs {
        spublish(&c, j, 10);
    }
    common::wait_for("35 records", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &["--source", "redis"]) >= 35
    });
    assert_eq!(common::count(&lt.db, &["--source", "redis"]), 35);
    assert_eq!(common::count(&lt.db, &["--job", &jobs[1][5..]]), 15);
    // One gap, closed as soon as a fresh connection confirmed every subscription (the lost
    // node's share alone is not waited out). (The backfill's own record, which follows, is
    // not a gap.)
    let gaps = lt.redis_gaps();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let gap = gaps[0].to_string();
    assert!(
        gap.contains("Redis pub/sub gap") && gap.contains(&jobs[1]),
        "{gap}"
    );
    assert!(
        gap.contains("the connection to a cluster node was lost"),
        "{gap}"
    );
    let (state, n) = lt.redis_link().expect("a stats line");
    assert_eq!((state.as_str(), n[1], n[2]), ("subscribed", 1, 1));
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn a_sharded_channel_whose_slot_moves_is_followed_to_its_new_owner() {
    let c = RedisCluster::start();
    let jobs = channel_per_node(&c, "moved_job");
    let shards: Vec<String> = jobs.iter().cloned().chain(["logs:global".into()]).collect();
    let lt = record_shards(&c, &shards);
    // jobs[1]'s slot moves from the second node to the third (no keys live in it).
    let slot = c.nodes[1].cli(&["CLUSTER", "KEYSLOT", &jobs[1]]);
    let slot = slot.trim();
    let (from, to) = (&c.nodes[1], &c.nodes[2]);
    let (from_id, to_id) = (
        from.cli(&["CLUSTER", "MYID"]).trim().to_owned(),
        to.cli(&["CLUSTER", "MYID"]).trim().to_owned(),
    );
    for (node, args) in [
        (to, ["CLUSTER", "SETSLOT", slot, "IMPORTING", &from_id]),
        (from, ["CLUSTER", "SETSLOT", slot, "MIGRATING", &to_id]),
        (to, ["CLUSTER", "SETSLOT", slot, "NODE", &to_id]),
        (from, ["CLUSTER", "SETSLOT", slot, "NODE", &to_id]),
    ] {
        assert_eq!(node.cli(&args).trim(), "OK", "{args:?}");
    }
    // Every node agrees on the new owner: it answers, the others redirect to it.
    let redirect = format!("127.0.0.1:{}", to.port);
    common::wait_for(
        "the slot's new owner",
        std::time::Duration::from_secs(30),
        || {
            c.nodes.iter().all(|n| {
                let a = n.cli(&["EXISTS", &jobs[1]]);
                n.port == to.port && !a.contains("MOVED") || a.contains(&redirect)
            })
        },
    );
    // The old owner dropped the subscription; logtui subscribes again on the new one.
    wait_shard_subscribed(&c, &lt, &shards);
    assert_eq!(c.owner_of(&jobs[1]).port, to.port);
    for j in &jobs {
        spublish(&c, j, 10);
    }
    common::wait_for("30 records", std::time::Duration::from_secs(30), || {
        common::count(&lt.db, &["--source", "redis"]) >= 30
    });
    assert_eq!(common::count(&lt.db, &["--job", &jobs[1][5..]]), 10);
    let gap = format!("{:?}", lt.redis_gaps());
    assert!(gap.contains("its slot moved to another node"), "{gap}");
    assert_eq!(lt.stop().0, 0);
}

#[test]
fn sharded_channels_need_a_cluster_and_exact_names() {
    let refused = |args: &[&str]| {
        let out = std::process::Command::new(common::bin())
            .arg("config")
            .args(args)
            .output()
            .expect("run logtui config");
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&[
        "--redis",
        "redis://127.0.0.1:7000",
        "--shard-channel",
        "logs:a",
    ]);
    assert!(
        err.contains("--shard-channel") && err.contains("Redis Cluster only"),
        "{err}"
    );
    let err = refused(&[
        "--redis",
        "redis+cluster://127.0.0.1:7000",
        "--shard-channel",
        "logs:*",
    ]);
    assert!(err.contains("sharded channels have no patterns"), "{err}");
    let err = refused(&[
        "--redis",
        "redis+cluster://127.0.0.1:7000",
        "--channel",
        "logs:a",
        "--shard-channel",
        "logs:a",
    ]);
    assert!(
        err.contains("both as a channel and as a sharded channel"),
        "{err}"
    );
    let ok = std::process::Command::new(common::bin())
        .args([
            "config",
            "--redis",
            "redis+cluster://127.0.0.1:7000",
            "--shard-channel",
            "logs:a",
        ])
        .output()
        .expect("run logtui config");
    assert!(ok.status.success());
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("shard_channels = [\"logs:a\"]"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_jobs_history_is_read_from_the_node_owning_its_stream() {
    use logtui::intake::{Envelope, Intake};
    let c = RedisCluster::start();
    let seed_port = c.nodes[0].port;
    // A job whose stream lives away from the seed.
    let job = (0..1000)
        .map(|i| format!("hist_job{i}"))
        .find(|j| c.owner_of(&format!("stream:logs:{j}")).port != seed_port)
        .expect("some stream lives on another node");
    let stream = format!("stream:logs:{job}");
    let owner = c.owner_of(&stream);
    for i in 0..30 {
        let data = format!(
            r#"{{"message": "history {i}", "level": "INFO", "timestamp": {}, "logger": "app.hist"}}"#,
            1_796_000_000 + i
        );
        let out = owner.cli(&["XADD", &stream, "*", "data", &data]);
        assert!(out.contains('-'), "XADD: {out}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("logtui.db");
    drop(logtui::store::open(&db).expect("a new store"));
    let limits = logtui::limits::DecodeLimits::default();
    let (intake, mut outlet) = Intake::new(64, std::sync::Arc::new(Default::default()));

    // The seed alone answers MOVED: the stream is not its to serve.
    let single = format!("redis://127.0.0.1:{seed_port}");
    let mut con = logtui::source::redis::command_connection(&single)
        .await
        .expect("a connection to the seed");
    let err = logtui::source::redis_history::backfill_job(&mut con, &job, &db, &intake, &limits)
        .await
        .expect_err("the seed does not own the stream");
    assert!(err.to_lowercase().contains("moved"), "{err}");

    let cluster = format!("redis+cluster://127.0.0.1:{seed_port}");
    let mut con = logtui::source::redis::command_connection(&cluster)
        .await
        .expect("a cluster connection");
    let n = logtui::source::redis_history::backfill_job(&mut con, &job, &db, &intake, &limits)
        .await
        .expect("the history read from the stream's owner");
    assert_eq!(n, 30);
    drop(intake);
    let mut got = Vec::new();
    while let Some(e) = outlet.recv().await {
        if let Envelope::Records(b) = e {
            got.extend(b.records);
        }
    }
    let messages: Vec<&str> = got.iter().map(|r| r.message.as_str()).collect();
    let want: Vec<String> = (0..30).map(|i| format!("history {i}")).collect();
    assert_eq!(messages, want);
    assert!(got.iter().all(|r| r.job.as_deref() == Some(job.as_str())));
}

#[test]
fn channels_lists_the_streams_and_subscribers_of_every_node() {
    let c = RedisCluster::start();
    let jobs = channel_per_node(&c, "listed_job");
    for j in &jobs {
        let stream = format!("stream:{j}");
        for i in 0..3 {
            let out = c.owner_of(&stream).cli(&[
                "XADD",
                &stream,
                "*",
                "data",
                &format!(r#"{{"message": "entry {i}"}}"#),
            ]);
            assert!(out.contains('-'), "XADD: {out}");
        }
    }
    // A subscriber: logs:global plainly, one sharded channel away from the seed.
    let lt = {
        let seed = format!("redis+cluster://127.0.0.1:{}", c.nodes[0].port);
        let lt = common::Logtui::record_redis(
            &seed,
            &["--channel", "logs:global", "--shard-channel", &jobs[2]],
        );
        wait_shard_subscribed(&c, &lt, &jobs[2..]);
        lt
    };
    let seed = format!("redis+cluster://127.0.0.1:{}", c.nodes[1].port);
    let out = std::process::Command::new(common::bin())
        .args(["channels", "--db"])
        .arg(&lt.db)
        .args(["--redis", &seed, "--sample", "0.2", "--format", "jsonl"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run logtui channels");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("could not be read"), "{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row {name} in {stdout}"))
    };
    // Each node's stream is listed, with its length and job.
    for j in &jobs {
        let r = row(j);
        assert_eq!(r["stream"], format!("stream:{j}"), "{r}");
        assert_eq!(r["stream_length"], 3, "{r}");
        assert_eq!(r["job"], j.strip_prefix("logs:").unwrap(), "{r}");
    }
    assert_eq!(row("logs:global")["subscribers"], 1, "{stdout}");
    let sharded = row(&jobs[2]);
    assert_eq!(sharded["shard_subscribers"], 1, "{sharded}");
    // The sample hears PUBLISH only: a sharded channel's rate is not claimed to be zero.
    assert!(sharded["live_messages"].is_null(), "{sharded}");
    assert_eq!(row(&jobs[0])["live_messages"], 0);
    assert_eq!(lt.stop().0, 0);
}

/// Job names `{prefix}{i}` whose streams (`stream:logs:{job}`) live one on each node, in node
/// order.
fn job_stream_per_node(c: &RedisCluster, prefix: &str) -> Vec<String> {
    c.one_per_node(
        |i| format!("{prefix}{i}"),
        |job| format!("stream:logs:{job}"),
    )
}

/// A paced Smarter producer on a cluster: `n` records at about `rate` a second, record `i` on
/// the `i % jobs`th job channel and on logs:global, each copy PUBLISH + XADD + EXPIRE in one
/// MULTI/EXEC on the node owning its stream (given as a JSON map channel → port), messages
/// `gap-<i>`.
const CLUSTER_PACED: &str = r#"
import json, sys, time, redis
n, rate, ports = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
jobs = sorted(ch for ch in ports if ch != "logs:global")
conns = {p: redis.Redis(host="127.0.0.1", port=p) for p in set(ports.values())}
t0 = time.time()
for i in range(n):
    data = json.dumps({"message": "gap-%d" % i, "level": "INFO", "timestamp": time.time(),
                       "logger": "app.cgap", "pod": "pod-1"}, indent=2, ensure_ascii=True)
    for ch in (jobs[i % len(jobs)], "logs:global"):
        p = conns[ports[ch]].pipeline(transaction=True)
        p.publish(ch, data)
        p.xadd("stream:" + ch, {"data": data}, maxlen=100000, approximate=True)
        p.expire("stream:" + ch, 3600)
        p.execute()
    delay = t0 + (i + 1) / rate - time.time()
    if delay > 0:
        time.sleep(delay)
"#;

#[test]
fn a_gap_on_a_cluster_is_closed_from_the_streams_with_each_record_stored_once() {
    let wait = std::time::Duration::from_secs(60);
    let c = RedisCluster::start();
    for n in &c.nodes {
        n.cli(&["ACL", "SETUSER", "lt", "on", ">pw", "~*", "&*", "+@all"]);
    }
    // The crate subscribes each name on the owner of its slot: the node owning `logs:*`
    // carries every message logtui reads. The seed is another node.
    let carrier = c.owner_of("logs:*");
    let seed = c.other_than(carrier);
    let url = format!("redis+cluster://lt:pw@127.0.0.1:{}", seed.port);
    let lt = common::Logtui::record_redis(&url, &[]);
    let subscribed = |lt: &common::Logtui| {
        lt.redis_link().is_some_and(|(s, _)| s == "subscribed")
            && carrier
                .cli(&["CLIENT", "LIST", "TYPE", "pubsub"])
                .contains("user=lt")
    };
    common::wait_for("subscribed on the carrier", wait, || subscribed(&lt));
    // Three job streams, one on each node, and logs:global's wherever it hashes.
    let mut jobs = job_stream_per_node(&c, "cgap");
    // The producer takes them in name order.
    jobs.sort();
    let mut ports = serde_json::Map::new();
    for ch in jobs
        .iter()
        .map(|j| format!("logs:{j}"))
        .chain(["logs:global".to_owned()])
    {
        let port = c.owner_of(&format!("stream:{ch}")).port;
        ports.insert(ch, port.into());
    }
    let n = 2000u64;
    let mut producer = std::process::Command::new("python3")
        .args([
            "-c",
            CLUSTER_PACED,
            &n.to_string(),
            "200",
            &serde_json::Value::Object(ports).to_string(),
        ])
        .spawn()
        .expect("python3 with redis-py");
    common::wait_for("200 records", wait, || {
        common::count(&lt.db, &["--source", "redis"]) >= 200
    });
    // logtui is locked out of every node and its subscription cut on the carrier (not the
    // seed): it cannot come back until let in again, and what is published meanwhile is
    // missed by pub/sub, for certain.
    for node in &c.nodes {
        node.cli(&["ACL", "SETUSER", "lt", "off"]);
    }
    let killed = carrier.cli(&["CLIENT", "KILL", "USER", "lt", "TYPE", "pubsub"]);
    assert!(
        killed.trim().parse::<u32>().is_ok_and(|k| k >= 1),
        "{killed}"
    );
    common::wait_for("the link down", wait, || {
        lt.redis_link().is_some_and(|(s, _)| s != "subscribed")
    });
    let published = || -> u64 {
        c.cli(&["XLEN", "stream:logs:global"])
            .trim()
            .parse()
            .expect("XLEN answers a number")
    };
    let at_lockout = published();
    common::wait_for("200 records published while locked out", wait, || {
        published() >= at_lockout + 200
    });
    for node in &c.nodes {
        node.cli(&["ACL", "SETUSER", "lt", "on"]);
    }
    common::wait_for("subscribed again", wait, || subscribed(&lt));
    assert!(producer.wait().expect("the producer").success());
    let closed =
        |lt: &common::Logtui| lt.rows(&["--source", "internal", "--search", "closed from streams"]);
    common::wait_for("the gap closed from the streams", wait, || {
        !closed(&lt).is_empty()
    });
    common::wait_for(&format!("{n} records"), wait, || {
        common::count(&lt.db, &["--source", "redis"]) >= n
    });
    // Every record once, whichever way it came: with its job, except where only its global
    // copy came by pub/sub (the job copy published in the gap, the global one after it).
    let got = lt.rows(&["--source", "redis"]);
    let jobless = common::each_record_once_with_its_job(&got, n, |i| jobs[i % jobs.len()].clone());
    assert!(jobless < 5, "{jobless} records without their job");
    let notes = closed(&lt);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let note = &notes[0];
    let recovered = note["extra"]["recovered"].as_u64().expect("a count");
    // At least what was published while logtui was locked out came from the streams; the
    // streams were read on every node.
    assert!(recovered >= 200, "{note}");
    assert!(note["extra"]["streams_read"].as_u64() == Some(4), "{note}");
    let message = note["message"].as_str().expect("a message");
    assert!(
        message.contains(&format!("{recovered} records pub/sub had not delivered")),
        "{message}"
    );
    let gaps = lt.redis_gaps();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let (code, stderr, ..) = lt.stop();
    assert_eq!(code, 0);
    let summary = stderr.join("\n");
    assert!(
        summary.contains(&format!("{recovered} recovered")),
        "{summary}"
    );
}
