//! Source state: written in the records' own transaction, acknowledged after the commit,
//! kept across a failed flush, migrated into a schema 2 store, and the store's stable id.

#[path = "store_util.rs"]
mod util;

use logtui::config::StoreConfig;
use logtui::intake::Batch;
use logtui::store::{self, Filter, state};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;
use util::{Harness, config, info};

/// A batch of `msgs` with `state`, counting its commit in `done`.
fn batch(msgs: &[&str], st: &[(&str, &str)], done: &Arc<AtomicUsize>) -> Batch {
    let d = done.clone();
    Batch {
        records: msgs.iter().map(|m| info(m)).collect(),
        state: st
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        committed: Some(Box::new(move || {
            d.fetch_add(1, SeqCst);
        })),
    }
}

fn read_state(h: &Harness, key: &str) -> Option<String> {
    let c = store::open_read_only(&h.path).unwrap();
    state::get(&c, key).unwrap()
}

#[test]
fn state_is_committed_with_its_records_and_acknowledged_after() {
    let mut h = Harness::start(config());
    let done = Arc::new(AtomicUsize::new(0));
    let intake = h.intake.clone().unwrap();
    assert!(h.rt.block_on(intake.submit(batch(&["a", "b"], &[("src:x", "2")], &done))));
    assert!(h.rt.block_on(intake.submit(batch(&["c"], &[("src:x", "3"), ("src:y", "1")], &done))));
    // Part of the scenario: with an hour's flush interval nothing commits until asked, and an
    // absence cannot be polled.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(done.load(SeqCst), 0, "acknowledged before any commit");
    assert_eq!((h.rows(), read_state(&h, "src:x")), (0, None));
    h.flush();
    assert_eq!(done.load(SeqCst), 2, "each batch's callback ran once");
    assert_eq!(h.rows(), 3);
    let c = store::open_read_only(&h.path).unwrap();
    assert_eq!(
        state::with_prefix(&c, "src:").unwrap(),
        [("src:x".into(), "3".into()), ("src:y".into(), "1".into())],
        "the later batch's value for a key wins"
    );
    // A batch of state alone is committed too (a source moving its position without records).
    assert!(h.rt.block_on(intake.submit(batch(&[], &[("src:y", "9")], &done))));
    h.flush();
    assert_eq!(
        (done.load(SeqCst), read_state(&h, "src:y").as_deref()),
        (3, Some("9"))
    );
    drop(intake);
    h.close().unwrap();
}

/// Takes the `records` table away behind the persister's back, so its flushes fail.
fn hide_table(h: &Harness, hide: bool) {
    let c = rusqlite::Connection::open(&h.path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.execute_batch(match hide {
        true => "ALTER TABLE records RENAME TO records_hidden",
        false => "ALTER TABLE records_hidden RENAME TO records",
    })
    .unwrap();
}

#[test]
fn a_failed_flush_commits_neither_records_nor_state_and_the_retry_commits_both() {
    let mut h = Harness::start(StoreConfig {
        flush_interval: 0.05,
        ..config()
    });
    h.send(vec![info("before")]);
    h.flush();
    hide_table(&h, true);
    let done = Arc::new(AtomicUsize::new(0));
    let intake = h.intake.clone().unwrap();
    assert!(h.rt.block_on(intake.submit(batch(&["during"], &[("src:x", "1")], &done))));
    assert!(!h.rt.block_on(intake.flush()), "the flush cannot commit");
    assert_eq!(
        done.load(SeqCst),
        0,
        "nothing committed, nothing acknowledged"
    );
    assert_eq!(read_state(&h, "src:x"), None);
    hide_table(&h, false);
    assert!(h.wait_for(Duration::from_secs(10), || done.load(SeqCst) == 1));
    assert_eq!(
        (h.rows(), read_state(&h, "src:x").as_deref()),
        (2, Some("1"))
    );
    drop(intake);
    h.close().unwrap();
}

#[test]
fn records_ignored_by_the_rules_still_move_the_state() {
    let mut cfg = config();
    cfg.ignored_message_substrings = vec!["skip".into()];
    let mut h = Harness::start(cfg);
    let done = Arc::new(AtomicUsize::new(0));
    let intake = h.intake.clone().unwrap();
    assert!(h.rt.block_on(intake.submit(batch(&["skip me"], &[("src:x", "1")], &done))));
    h.flush();
    assert_eq!(
        (
            h.rows(),
            done.load(SeqCst),
            read_state(&h, "src:x").as_deref()
        ),
        (0, 1, Some("1"))
    );
    drop(intake);
    h.close().unwrap();
}

#[test]
fn a_schema_2_store_is_migrated_keeping_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // Schema 2 is schema 3 without `source_state`.
        let c = store::open(&path).unwrap();
        c.execute_batch(
            "INSERT INTO records(created, level, levelname, logger, message, source, origin)
             VALUES (1.5, 20, 'INFO', 'a', 'kept', 'tcp', 'x');
             DROP TABLE source_state;
             PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let c = store::open(&path).unwrap();
    let (version, msg): (i64, String) = c
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT message FROM records)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (version, msg.as_str()),
        (store::schema::SCHEMA_VERSION, "kept")
    );
    assert_eq!(store::schema::SCHEMA_VERSION, 3);
    let id = state::store_id(&c).unwrap();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    drop(c);
    // The persister writes state into the migrated store.
    let mut h = Harness::start_at(dir, path, config());
    let done = Arc::new(AtomicUsize::new(0));
    let intake = h.intake.clone().unwrap();
    assert!(h.rt.block_on(intake.submit(batch(&["new"], &[("src:x", "1")], &done))));
    drop(intake);
    h.close().unwrap();
    assert_eq!(read_state(&h, "src:x").as_deref(), Some("1"));
    assert_eq!(h.count(&Filter::default()), 2);
    let ro = store::open_read_only(&h.path).unwrap();
    assert_eq!(
        state::store_id(&ro).unwrap(),
        id,
        "the migration made the id once"
    );
}

#[test]
fn the_store_id_is_made_once_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let id_a = state::store_id(&store::open(&a).unwrap()).unwrap();
    let id_b = state::store_id(&store::open(&b).unwrap()).unwrap();
    assert_ne!(id_a, id_b, "two stores have two ids");
    for _ in 0..2 {
        assert_eq!(state::store_id(&store::open(&a).unwrap()).unwrap(), id_a);
        assert_eq!(
            state::store_id(&store::open_read_only(&a).unwrap()).unwrap(),
            id_a
        );
    }
}
