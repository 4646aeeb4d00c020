//! Retention by age and by row count, in bounded chunks, and the full-text index staying
//! consistent with the store: deletes, rebuilds and catching up after a lost tail.

#[path = "store_util.rs"]
mod util;

use logtui::config::StoreConfig;
use logtui::record::{INFO, now_epoch};
use logtui::store::{self, Filter};
use std::time::Duration;
use util::{Harness, config, rec};

const WAIT: Duration = Duration::from_secs(10);

fn search(h: &Harness, s: &str) -> u64 {
    h.count(&Filter {
        search: Some(s.into()),
        ..Filter::default()
    })
}

/// Runs FTS5's own consistency check on the index file.
fn fts_integrity_ok(h: &Harness) {
    let c = rusqlite::Connection::open(store::fts::fts_path(&h.path)).unwrap();
    c.execute(
        "INSERT INTO records_fts(records_fts) VALUES ('integrity-check')",
        [],
    )
    .unwrap();
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
    fts_integrity_ok(&h);
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
    fts_integrity_ok(&h);
}

#[test]
fn lost_index_is_rebuilt_from_the_store() {
    let mut h = Harness::start(config());
    h.send(
        (0..50)
            .map(|i| rec("app", INFO, &format!("kept{i} giraffe")))
            .collect(),
    );
    h.close().unwrap();
    let fts = store::fts::fts_path(&h.path);
    std::fs::remove_file(&fts).unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", fts.display()));
    let _ = std::fs::remove_file(format!("{}-shm", fts.display()));
    // Without the index file, search says so clearly.
    let c = store::open_read_only(&h.path).unwrap();
    let e = store::count(
        &c,
        &Filter {
            search: Some("giraffe".into()),
            ..Filter::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("-fts"), "{e}");
    drop(c);
    let Harness { dir, path, .. } = h;
    let h = Harness::start_at(dir, path, config());
    h.send(vec![rec("app", INFO, "new giraffe")]);
    h.flush();
    assert!(h.wait_for(WAIT, || search(&h, "giraffe") == 51));
    assert_eq!(search(&h, "kept7"), 1);
    fts_integrity_ok(&h);
}

#[test]
fn index_catches_up_on_a_lost_tail() {
    let mut h = Harness::start(config());
    h.send(
        (0..20)
            .map(|i| rec("app", INFO, &format!("tail{i} okapi")))
            .collect(),
    );
    h.close().unwrap();
    // Pretend the index never committed the last 15 records (a crash between the two commits).
    {
        let c = rusqlite::Connection::open(store::fts::fts_path(&h.path)).unwrap();
        let max: i64 = rusqlite::Connection::open(&h.path)
            .unwrap()
            .query_row("SELECT max(id) FROM records", [], |r| r.get(0))
            .unwrap();
        c.execute_batch("INSERT INTO records_fts(records_fts) VALUES ('delete-all')")
            .unwrap();
        let reader = rusqlite::Connection::open(&h.path).unwrap();
        let mut st = reader
            .prepare("SELECT id, message, exc_text FROM records WHERE id <= ?1 - 15")
            .unwrap();
        let rows: Vec<(i64, String, Option<String>)> = st
            .query_map([max], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (id, m, e) in rows {
            c.execute(
                "INSERT INTO records_fts(rowid, message, exc_text) VALUES (?1, ?2, ?3)",
                rusqlite::params![id, m, e],
            )
            .unwrap();
        }
        c.execute("UPDATE fts_state SET indexed_max = ?1", [max - 15])
            .unwrap();
    }
    assert_eq!(search(&h, "okapi"), 5);
    let Harness { dir, path, .. } = h;
    let h = Harness::start_at(dir, path, config());
    assert!(h.wait_for(WAIT, || search(&h, "okapi") == 20));
    fts_integrity_ok(&h);
}

#[test]
fn another_stores_index_is_not_trusted() {
    let mut a = Harness::start(config());
    a.send(vec![rec("a", INFO, "only in store alpha")]);
    a.close().unwrap();
    let mut b = Harness::start(config());
    b.send(vec![rec("b", INFO, "only in store beta")]);
    b.close().unwrap();
    std::fs::copy(store::fts::fts_path(&a.path), store::fts::fts_path(&b.path)).unwrap();
    let Harness { dir, path, .. } = b;
    let b = Harness::start_at(dir, path, config());
    assert!(b.wait_for(WAIT, || search(&b, "beta") == 1));
    assert_eq!(search(&b, "alpha"), 0);
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
    let old_max = first
        .seen
        .lock()
        .unwrap()
        .stored
        .iter()
        .map(|(id, _)| *id)
        .max()
        .unwrap();
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
