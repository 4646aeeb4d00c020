//! Retention by age and by row count, in bounded chunks, and the block index staying
//! consistent with the store: retention, rebuilds, a lost tail, another store's index; and
//! queries narrowed by it, yet exact while it lags.

#[path = "store_util.rs"]
mod util;

use logtui::config::StoreConfig;
use logtui::record::{INFO, WARNING, now_epoch};
use logtui::store::{self, Filter};
use rusqlite::Connection;
use std::time::Duration;
use util::{Harness, config, rec};

const WAIT: Duration = Duration::from_secs(10);

fn search(h: &Harness, s: &str) -> u64 {
    h.count(&Filter {
        search: Some(s.into()),
        ..Filter::default()
    })
}

fn index_db(h: &Harness) -> Connection {
    Connection::open(store::index::index_path(&h.path)).unwrap()
}

/// (backfill_next, live_from, indexed_max) of the index.
fn index_state(h: &Harness) -> (i64, i64, i64) {
    index_db(h)
        .query_row(
            "SELECT backfill_next, live_from, indexed_max FROM index_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

/// Checks the index against the store: FTS5's own integrity check passes; blocks do not
/// overlap; every stored record lies in a block whose summary holds for it; no block is
/// left entirely below the lowest stored id.
fn index_consistent(h: &Harness) {
    let idx = index_db(h);
    idx.execute("INSERT INTO words(words) VALUES ('integrity-check')", [])
        .unwrap();
    let blocks: Vec<(i64, i64, f64, f64, i32, Option<String>)> = idx
        .prepare("SELECT first_id, last_id, min_created, max_created, max_level, loggers FROM blocks ORDER BY first_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for w in blocks.windows(2) {
        assert!(w[0].1 < w[1].0, "blocks overlap: {:?} {:?}", w[0], w[1]);
    }
    let store = Connection::open(&h.path).unwrap();
    let rows: Vec<(i64, f64, i32, String)> = store
        .prepare("SELECT id, created, level, logger FROM records ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, created, level, logger) in &rows {
        let b = blocks
            .iter()
            .find(|b| b.0 <= *id && *id <= b.1)
            .unwrap_or_else(|| panic!("record {id} is in no block"));
        assert!(
            b.2 <= *created && *created <= b.3,
            "record {id}: time outside {b:?}"
        );
        assert!(*level <= b.4, "record {id}: level above {b:?}");
        if let Some(list) = &b.5 {
            let names: Vec<String> = serde_json::from_str(list).unwrap();
            assert!(
                names.contains(logger),
                "record {id}: {logger} not in {list}"
            );
        }
    }
    if let Some((min, _, _, _)) = rows.first() {
        assert!(
            blocks.iter().all(|b| b.1 >= *min),
            "a block of deleted records remains"
        );
    }
}

/// Deletes the index file and its WAL companions; returns its path.
fn remove_index(h: &Harness) -> std::path::PathBuf {
    let idx = store::index::index_path(&h.path);
    std::fs::remove_file(&idx).unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", idx.display()));
    let _ = std::fs::remove_file(format!("{}-shm", idx.display()));
    idx
}

/// Stores `records` with no retention, then restarts the persister on the same file
/// with `cfg`.
fn restart_with(records: Vec<logtui::record::Record>, cfg: StoreConfig) -> Harness {
    let mut h = Harness::start(config());
    for chunk in records.chunks(1000) {
        h.send(chunk.to_vec());
    }
    h.close().unwrap();
    let Harness { dir, path, .. } = h;
    Harness::start_at(dir, path, cfg)
}

#[test]
fn age_retention_deletes_old_records_at_startup() {
    let now = now_epoch();
    let mut recs = Vec::new();
    for i in 0..10 {
        let mut r = rec("app", INFO, &format!("ancient zebra {i}"));
        r.created = now - 10.0 * 86_400.0 + f64::from(i);
        recs.push(r);
    }
    for i in 0..3 {
        recs.push(rec("app", INFO, &format!("fresh zebra {i}")));
    }
    let h = restart_with(
        recs,
        StoreConfig {
            retention_days: 1.0,
            ..config()
        },
    );
    assert!(h.wait_for(WAIT, || h.rows() == 3), "rows: {}", h.rows());
    h.flush();
    assert_eq!(search(&h, "zebra"), 3);
    assert_eq!(search(&h, "ancient"), 0);
    assert_eq!(search(&h, "fresh"), 3);
    index_consistent(&h);
}

#[test]
fn row_cap_keeps_the_newest_in_chunks() {
    // More than one retention chunk (5000 rows) has to go.
    let recs: Vec<_> = (0..12_000)
        .map(|i| rec("app", INFO, &format!("row{i} common")))
        .collect();
    let h = restart_with(
        recs,
        StoreConfig {
            retention_max_rows: 1000,
            ..config()
        },
    );
    assert!(h.wait_for(WAIT, || h.rows() == 1000), "rows: {}", h.rows());
    h.flush();
    let kept = h.all(&Filter {
        limit: Some(1),
        ..Filter::default()
    });
    assert_eq!(kept[0].1.message, "row11000 common");
    assert_eq!(search(&h, "row10999"), 0);
    assert_eq!(search(&h, "row11000"), 1);
    assert_eq!(search(&h, "common"), 1000);
    // The blocks that held only deleted records are gone (12,000 records are 47 blocks).
    assert!(h.wait_for(WAIT, || {
        let n: i64 = index_db(&h)
            .query_row("SELECT count(*) FROM blocks", [], |r| r.get(0))
            .unwrap();
        n <= 5
    }));
    index_consistent(&h);
}

#[test]
fn lost_index_is_rebuilt_from_the_store() {
    let mut h = Harness::start(config());
    h.send(
        (0..600)
            .map(|i| rec("app", INFO, &format!("kept{i} giraffe")))
            .collect(),
    );
    h.close().unwrap();
    let idx = remove_index(&h);
    // Without the index file, queries still answer, by reading every record.
    let f = Filter {
        search: Some("giraffe".into()),
        ..Filter::default()
    };
    let c = store::open_read_only(&h.path).unwrap();
    assert_eq!(store::count(&c, &f).unwrap(), 600);
    drop(c);
    // Likewise with an empty file in its place (an index whose first write failed).
    std::fs::write(&idx, b"").unwrap();
    let c = store::open_read_only(&h.path).unwrap();
    assert_eq!(store::count(&c, &f).unwrap(), 600);
    drop(c);
    let Harness { dir, path, .. } = h;
    let h = Harness::start_at(dir, path, config());
    h.send(vec![rec("app", INFO, "new giraffe")]);
    h.flush();
    assert!(h.wait_for(WAIT, || index_state(&h).0 >= 600));
    assert_eq!(search(&h, "giraffe"), 601);
    assert_eq!(search(&h, "kept7"), 1);
    index_consistent(&h);
}

#[test]
fn a_lagging_index_misses_nothing_and_catches_up() {
    let mut h = Harness::start(config());
    h.send(
        (0..20)
            .map(|i| rec("app", INFO, &format!("tail{i} okapi")))
            .collect(),
    );
    h.close().unwrap();
    // Pretend the index never committed the last 15 records (a crash between the two commits).
    let max: i64 = Connection::open(&h.path)
        .unwrap()
        .query_row("SELECT max(id) FROM records", [], |r| r.get(0))
        .unwrap();
    {
        let c = index_db(&h);
        c.execute_batch("DELETE FROM words; DELETE FROM blocks;")
            .unwrap();
        c.execute("UPDATE index_state SET indexed_max = ?1", [max - 15])
            .unwrap();
    }
    // The 5 records the index claims are in no block now, so the index rules them out:
    // proof that it is consulted. The 15 it does not cover are read directly.
    assert_eq!(search(&h, "okapi"), 15);
    let Harness { dir, path, .. } = h;
    let h = Harness::start_at(dir, path, config());
    // The missed tail becomes a backfill, which ends with the index covering it again.
    assert!(h.wait_for(WAIT, || {
        let (next, live, top) = index_state(&h);
        next >= live && top == max
    }));
    let blocks: i64 = index_db(&h)
        .query_row(
            "SELECT count(*) FROM blocks WHERE last_id = ?1",
            [max],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(blocks, 1, "the tail was not indexed again");
    assert_eq!(search(&h, "tail19"), 1);
    assert_eq!(
        search(&h, "tail0"),
        0,
        "ruled out by the tampered index, as before"
    );
}

#[test]
fn queries_skip_blocks_the_index_rules_out() {
    let mut h = Harness::start(config());
    let mut recs: Vec<_> = (0..600)
        .map(|i| rec("app.web", INFO, &format!("request {i} served")))
        .collect();
    recs[400] = rec("app.db", WARNING, "slow query on orders");
    h.send(recs);
    h.close().unwrap();
    index_consistent(&h);
    // Edit a record by hand inside the first block, behind the index's back. Queries that
    // the index answers never look inside that block; a regex, which it cannot answer, does.
    Connection::open(&h.path)
        .unwrap()
        .execute(
            "UPDATE records SET message = 'needle', logger = 'hidden', level = 50 WHERE id = 10",
            [],
        )
        .unwrap();
    let n = |f: Filter| h.count(&f);
    assert_eq!(
        n(Filter {
            search: Some("needle".into()),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        n(Filter {
            logger: Some("hid*".into()),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        n(Filter {
            min_level: Some(50),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        n(Filter {
            regex: Some("^needle$".into()),
            ..Filter::default()
        }),
        1
    );
    // What the index does hold is found, in the block it lives in.
    assert_eq!(
        n(Filter {
            logger: Some("app.d?".into()),
            search: Some("orders".into()),
            min_level: Some(WARNING),
            ..Filter::default()
        }),
        1
    );
}

#[test]
fn another_stores_index_is_not_trusted() {
    let mut a = Harness::start(config());
    a.send(vec![rec("a", INFO, "only in store alpha")]);
    a.close().unwrap();
    let mut b = Harness::start(config());
    b.send(vec![rec("b", INFO, "only in store beta")]);
    b.close().unwrap();
    std::fs::copy(
        store::index::index_path(&a.path),
        store::index::index_path(&b.path),
    )
    .unwrap();
    // Before any recorder looks at it, queries already refuse to trust it.
    let c = store::open_read_only(&b.path).unwrap();
    let beta = Filter {
        search: Some("beta".into()),
        ..Filter::default()
    };
    assert_eq!(store::count(&c, &beta).unwrap(), 1);
    drop(c);
    let Harness { dir, path, .. } = b;
    let b = Harness::start_at(dir, path, config());
    assert!(b.wait_for(WAIT, || search(&b, "beta") == 1));
    assert_eq!(search(&b, "alpha"), 0);
    // Search is exact before the rebuild ends; the index itself catches up after.
    assert!(b.wait_for(WAIT, || {
        let (next, live, _) = index_state(&b);
        next >= live
    }));
    index_consistent(&b);
}

#[test]
fn ids_are_not_reused_after_retention_empties_the_store() {
    let now = now_epoch();
    let old: Vec<_> = (0..3)
        .map(|i| {
            let mut r = rec("app", INFO, &format!("old{i}"));
            r.created = now - 30.0 * 86_400.0;
            r
        })
        .collect();
    let mut first = Harness::start(config());
    first.send(old);
    first.close().unwrap();
    let old_max = first.seen().stored.iter().map(|(id, _)| *id).max().unwrap();
    let Harness { dir, path, .. } = first;
    let mut h = Harness::start_at(
        dir,
        path,
        StoreConfig {
            retention_days: 1.0,
            ..config()
        },
    );
    assert!(h.wait_for(WAIT, || h.rows() == 0));
    h.send(vec![rec("app", INFO, "after the purge")]);
    h.close().unwrap();
    let got = h.all(&Filter::default());
    assert_eq!(got.len(), 1);
    assert!(
        got[0].0 > old_max,
        "id {} reused (old max {old_max})",
        got[0].0
    );
    assert_eq!(search(&h, "purge"), 1);
    assert_eq!(search(&h, "old1"), 0);
}

#[test]
fn a_record_from_the_future_does_not_hold_back_age_retention() {
    let now = now_epoch();
    let mut recs = Vec::new();
    let mut future = rec("app", INFO, "from a clock ten years ahead");
    future.created = now + 3650.0 * 86_400.0;
    recs.push(future);
    // More than one retention window (100,000 ids) of young records, then old ones.
    recs.extend((0..120_000).map(|i| rec("app", INFO, &format!("young {i}"))));
    for i in 0..10 {
        let mut r = rec("app", INFO, &format!("ancient wombat {i}"));
        r.created = now - 10.0 * 86_400.0;
        recs.push(r);
    }
    let h = restart_with(
        recs,
        StoreConfig {
            retention_days: 1.0,
            ..config()
        },
    );
    assert!(
        h.wait_for(WAIT, || search(&h, "wombat") == 0),
        "old records behind the future one were never aged out"
    );
    assert_eq!(h.rows(), 120_001);
    assert_eq!(search(&h, "ahead"), 1);
}

#[test]
fn a_row_edited_by_hand_does_not_stop_the_rebuild() {
    let mut h = Harness::start(config());
    h.send(
        (0..300)
            .map(|i| rec("app", INFO, &format!("row{i} pangolin")))
            .collect(),
    );
    h.close().unwrap();
    remove_index(&h);
    Connection::open(&h.path)
        .unwrap()
        .execute(
            "UPDATE records SET created = 'yesterday', level = 'loud' WHERE id = 5",
            [],
        )
        .unwrap();
    let Harness { dir, path, .. } = h;
    let h = Harness::start_at(dir, path, config());
    assert!(h.wait_for(WAIT, || {
        let (next, live, _) = index_state(&h);
        next >= live
    }));
    assert_eq!(search(&h, "pangolin"), 300);
    // The edited row's block matches any time and level, so filters still reach the row.
    assert_eq!(
        h.count(&Filter {
            search: Some("row4".into()),
            since: Some(1e12),
            ..Filter::default()
        }),
        1,
        "text compares above any number in SQLite, so the row matches --since"
    );
}
