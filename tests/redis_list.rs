//! Redis lists end to end: the real `logbook` package's RedisHandler pushes to a redis-server of
//! the test's own, the real binary consumes; fields exact, leftovers first, SIGKILL-proof.

mod common;

use common::redis_server::RedisServer;
use common::{Logtui, wait_for};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `code` with python3 (the real `logbook` and `redis` packages), `PORT` set to the server's.
fn python(r: &RedisServer, code: &str) -> std::process::Child {
    Command::new("python3")
        .arg("-c")
        .arg(code)
        .env("PORT", r.port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with logbook and redis (pip install logbook redis)")
}

fn python_ok(r: &RedisServer, code: &str) -> String {
    let out = python(r, code).wait_with_output().expect("python3");
    assert!(out.status.success(), "python3 failed");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Logbook's RedisHandler pushing `n` records `seq START+i` to `key` with `method`.
fn logbook_push(key: &str, method: &str, start: usize, n: usize) -> String {
    logbook_push_paced(key, method, start, n, 0.0)
}

/// As [`logbook_push`], pausing `pause` seconds after every 1,000 records (a producer that keeps
/// records flowing for a while, however fast logtui takes them).
fn logbook_push_paced(key: &str, method: &str, start: usize, n: usize, pause: f64) -> String {
    format!(
        r#"
import os, time, logbook
from logbook.queues import RedisHandler
h = RedisHandler('127.0.0.1', int(os.environ['PORT']), key={key:?}, push_method={method:?},
                 extra_fields={{'service': 'billing', 'region': 'eu-1'}}, flush_threshold=500)
log = logbook.Logger('app')
levels = [log.info, log.warning, log.error, log.notice, log.debug, log.critical]
with h.applicationbound():
    for i in range({start}, {start} + {n}):
        levels[i % len(levels)]('seq ' + str(i), attempt=i % 7)
        if {pause} and i % 1000 == 999:
            time.sleep({pause})
h.close()
"#
    )
}

/// The store's records from Redis: (message, levelname, level, host, created, extra, origin).
type Row = (
    String,
    String,
    i64,
    Option<String>,
    f64,
    Option<String>,
    String,
);

fn rows(db: &Path) -> Vec<Row> {
    let c = logtui::store::open_read_only(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT message, levelname, level, host, created, extra, origin FROM records
             WHERE source = 'redis' ORDER BY id",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn redis_count(db: &Path) -> u64 {
    match logtui::store::open_read_only(db) {
        Ok(c) => c
            .query_row(
                "SELECT count(*) FROM records WHERE source = 'redis'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_or(0, |n| n as u64),
        Err(_) => 0,
    }
}

fn store_id(db: &Path) -> String {
    logtui::store::state::store_id(&logtui::store::open_read_only(db).unwrap()).unwrap()
}

/// `record` reading only the lists `keys` from `r` (the pub/sub channel named is one nobody uses).
fn list_args<'a>(url: &'a str, keys: &[&'a str]) -> Vec<&'a str> {
    let mut a = common::redis_only_args(url);
    a.extend(["--channel", "logtui-test-unused", "--flush-interval", "0.1"]);
    for k in keys {
        a.extend(["--list-key", k]);
    }
    a
}

fn llen(r: &RedisServer, key: &str) -> u64 {
    r.cli(&["LLEN", key]).trim().parse().expect("LLEN")
}

#[test]
fn logbook_rpush_and_lpush_lists_are_stored_field_exact_in_push_order() {
    let r = RedisServer::start();
    python_ok(&r, &logbook_push("rq", "rpush", 0, 60));
    python_ok(&r, &logbook_push("lq", "lpush", 100, 60));
    // What Logbook pushed, oldest first, with the time Python itself reads from each value.
    let truth = python_ok(
        &r,
        r#"
import os, json, redis, datetime
r = redis.Redis(port=int(os.environ['PORT']))
for key, vals in (('rq', r.lrange('rq', 0, -1)), ('lq', r.lrange('lq', 0, -1)[::-1])):
    for v in vals:
        d = json.loads(v)
        t = datetime.datetime.fromisoformat(d['time']).replace(tzinfo=datetime.timezone.utc).timestamp()
        print(json.dumps({'key': key, 'value': d, 'created': t}))
"#,
    );
    let expected: Vec<serde_json::Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), 120);

    let url = r.url();
    let lt = Logtui::start(&list_args(&url, &["rq", "lq:lpush"]));
    let db = lt.db.clone();
    wait_for("120 records stored", Duration::from_secs(20), || {
        redis_count(&db) == 120
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    assert!(
        err.iter().any(|l| l.contains("listening on redis redis://")
            && l.contains(", redis list rq (rpush), redis list lq (lpush)")),
        "{err:?}"
    );
    assert!(
        err.iter()
            .any(|l| l.contains("list rq consumed 60 pending 0")),
        "the summary names each list: {err:?}"
    );
    let got = rows(&db);
    let level_of: HashMap<&str, i64> = [
        ("DEBUG", 10),
        ("INFO", 20),
        ("NOTICE", 25),
        ("WARNING", 30),
        ("ERROR", 40),
        ("CRITICAL", 50),
    ]
    .into();
    for key in ["rq", "lq"] {
        let want: Vec<&serde_json::Value> = expected.iter().filter(|e| e["key"] == key).collect();
        let have: Vec<&Row> = got
            .iter()
            .filter(|g| g.6 == format!("list:{key}"))
            .collect();
        assert_eq!(have.len(), want.len(), "{key}");
        for (w, h) in want.iter().zip(have) {
            let v = &w["value"];
            let (msg, levelname, level, host, created, extra, _) = h;
            assert_eq!(msg, v["message"].as_str().unwrap(), "{key}: in push order");
            assert_eq!(levelname, v["level"].as_str().unwrap());
            assert_eq!(*level, level_of[levelname.as_str()]);
            assert_eq!(host.as_deref(), v["host"].as_str());
            let t = w["created"].as_f64().unwrap();
            assert!((created - t).abs() < 1e-6, "{created} vs {t}");
            let extra: serde_json::Value = serde_json::from_str(extra.as_deref().unwrap()).unwrap();
            let mut rest = v.as_object().unwrap().clone();
            for k in ["message", "level", "host", "time"] {
                rest.remove(k);
            }
            assert_eq!(
                extra,
                serde_json::Value::Object(rest),
                "extra_fields and kwargs"
            );
            assert_eq!(extra["service"], "billing");
        }
    }
    for key in ["rq", "lq"] {
        assert_eq!(llen(&r, key), 0);
        assert_eq!(
            llen(
                &r,
                &format!("logtui:processing:{{{key}}}:{}", store_id(&db))
            ),
            0,
            "a clean stop leaves nothing in the processing list"
        );
    }
}

#[test]
fn a_processing_list_left_by_an_earlier_run_is_stored_first_and_once() {
    let r = RedisServer::start();
    let url = r.url();
    // A first run makes the store (and its id) and consumes a few.
    python_ok(&r, &logbook_push("redis", "rpush", 0, 10));
    let lt = Logtui::start(&list_args(&url, &["redis"]));
    let db = lt.db.clone();
    wait_for("10 records", Duration::from_secs(20), || {
        redis_count(&db) == 10
    });
    let (code, _, dir, db) = lt.stop();
    assert_eq!(code, 0);
    let id = store_id(&db);
    let processing = format!("logtui:processing:{{redis}}:{id}");
    let trimmed = format!("logtui:trimmed:{{redis}}:{id}");
    assert_eq!(r.cli(&["GET", &trimmed]).trim(), "10");

    // As a run killed after a commit and before its trim leaves it: ten values in the
    // processing list, of which the store has committed the first four.
    for i in 0..10 {
        r.cli(&["RPUSH", &processing, &format!("left over {i}")]);
    }
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE source_state SET value = '14' WHERE key = 'redis_list:redis'",
            [],
        )
        .unwrap();
    }
    python_ok(&r, &logbook_push("redis", "rpush", 100, 20));
    let lt = Logtui::start_with_db(dir, db, &list_args(&url, &["redis"]));
    let db = lt.db.clone();
    wait_for("26 more records", Duration::from_secs(20), || {
        redis_count(&db) == 36
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    let msgs: Vec<String> = rows(&db).into_iter().map(|r| r.0).skip(10).collect();
    let mut want: Vec<String> = (4..10).map(|i| format!("left over {i}")).collect();
    want.extend((100..120).map(|i| format!("seq {i}")));
    assert_eq!(
        msgs, want,
        "the uncommitted leftovers first, once; then the list"
    );
    assert_eq!(llen(&r, &processing), 0);
    // 10 trimmed by the first run, 10 left over, 20 new.
    assert_eq!(r.cli(&["GET", &trimmed]).trim(), "40");
}

/// A random-enough number below `n`, different on every call.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() % n
}

#[test]
fn sigkill_at_random_points_neither_loses_nor_duplicates_a_record() {
    const N: usize = 60_000;
    let r = RedisServer::start();
    let url = r.url();
    // Logbook pushes while logtui is killed and restarted under it, for about 6 s (paced: an
    // unpaced producer and logtui both finish within the first rounds on a quick machine).
    let mut producer = python(&r, &logbook_push_paced("redis", "rpush", 0, N, 0.1));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut dir = Some(dir);
    let mut progress = vec![0];
    for round in 0..10 {
        let lt = Logtui::start_with_db(
            dir.take().unwrap(),
            db.clone(),
            &list_args(&url, &["redis"]),
        );
        // Part of the scenario: the kill lands at a random point (recovery, moves, commits, trims).
        let at = if round % 3 == 0 {
            random_below(30)
        } else {
            random_below(900)
        };
        std::thread::sleep(Duration::from_millis(at));
        let (_, _, d, _) = lt.stop_with("-KILL");
        dir = Some(d);
        progress.push(redis_count(&db));
    }
    eprintln!("stored after each kill: {progress:?}");
    assert!(
        progress.windows(2).filter(|w| w[1] > w[0]).count() >= 3,
        "most kills must land while records flow: {progress:?}"
    );
    assert!(
        producer.wait().unwrap().success(),
        "the Logbook producer failed"
    );
    let lt = Logtui::start_with_db(
        dir.take().unwrap(),
        db.clone(),
        &list_args(&url, &["redis"]),
    );
    wait_for("every record stored", Duration::from_secs(120), || {
        redis_count(&db) >= N as u64 && llen(&r, "redis") == 0
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    let mut seen = vec![0u32; N];
    for (msg, ..) in rows(&db) {
        let i: usize = msg.strip_prefix("seq ").unwrap().parse().unwrap();
        seen[i] += 1;
    }
    let lost: Vec<usize> = (0..N).filter(|i| seen[*i] == 0).collect();
    let twice: Vec<usize> = (0..N).filter(|i| seen[*i] > 1).collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "lost {} (first {:?}), stored twice {} (first {:?})",
        lost.len(),
        lost.first(),
        twice.len(),
        twice.first()
    );
    let processing = format!("logtui:processing:{{redis}}:{}", store_id(&db));
    assert_eq!(llen(&r, &processing), 0);
}

#[test]
fn a_redis_that_goes_away_is_reconnected_and_nothing_is_lost() {
    let mut r = RedisServer::start();
    let url = r.url();
    python_ok(&r, &logbook_push("redis", "rpush", 0, 50));
    let lt = Logtui::start(&list_args(&url, &["redis"]));
    let db = lt.db.clone();
    wait_for("50 records", Duration::from_secs(20), || {
        redis_count(&db) == 50
    });
    r.kill();
    wait_for("the consumer to notice", Duration::from_secs(20), || {
        lt.stderr().iter().any(|l| l.contains("reconnecting"))
    });
    // Redis comes back empty (no persistence): the positions start again from the store's.
    r.restart();
    python_ok(&r, &logbook_push("redis", "rpush", 50, 50));
    wait_for("100 records", Duration::from_secs(30), || {
        redis_count(&db) == 100
    });
    let (code, err, _dir, db) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
    let msgs: Vec<String> = rows(&db).into_iter().map(|r| r.0).collect();
    let want: Vec<String> = (0..100).map(|i| format!("seq {i}")).collect();
    assert_eq!(msgs, want);
}

#[test]
fn a_position_that_is_not_a_count_is_refused_at_start_in_one_sentence() {
    let r = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    logtui::store::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO source_state VALUES ('redis_list:redis', 'many')",
            [],
        )
        .unwrap();
    let url = r.url();
    let out = Command::new(common::bin())
        .arg("record")
        .arg("--db")
        .arg(&db)
        .args(list_args(&url, &["redis"]))
        .env("XDG_CONFIG_HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("the store's position for Redis list \"redis\" is \"many\", not a count"),
        "{err}"
    );
}
