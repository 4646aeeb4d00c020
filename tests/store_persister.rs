//! The persister: each flush trigger on its own, thresholds, ignore rules, drop notices, shutdown.

#[path = "store_util.rs"]
mod util;

use logtui::config::StoreConfig;
use logtui::record::{CRITICAL, ERROR, INFO, SourceKind, WARNING};
use logtui::store::{self, Filter, StoreError};
use std::time::{Duration, Instant};
use util::{Harness, config, info, rec};

const SOON: Duration = Duration::from_millis(300);

#[test]
fn size_trigger_flushes_at_buffer_size_and_not_before() {
    let h = Harness::start(StoreConfig {
        buffer_size: 3,
        ..config()
    });
    h.send(vec![info("one")]);
    h.send(vec![info("two")]);
    // Part of the scenario: nothing may be flushed for a while, and an absence cannot be polled.
    std::thread::sleep(SOON);
    assert_eq!(h.rows(), 0, "flushed before the buffer was full");
    h.send(vec![info("three")]);
    assert!(h.wait_for(Duration::from_secs(2), || h.rows() == 3));
    // The feed has the commit (from the index thread) by the next flush's ack.
    h.flush();
    assert_eq!(h.seen().commits, 1);
}

#[test]
fn level_trigger_flushes_an_error_at_once() {
    let h = Harness::start(StoreConfig {
        flush_level: "ERROR".into(),
        ..config()
    });
    h.send(vec![info("quiet")]);
    // Part of the scenario: nothing may be flushed for a while, and an absence cannot be polled.
    std::thread::sleep(SOON);
    assert_eq!(h.rows(), 0);
    h.send(vec![rec("app", ERROR, "boom")]);
    assert!(h.wait_for(Duration::from_secs(2), || h.rows() == 2));
}

#[test]
fn level_trigger_makes_one_flush_for_a_burst() {
    let mut h = Harness::start(StoreConfig {
        flush_level: "WARNING".into(),
        buffer_size: 100_000,
        ..config()
    });
    // Queue many urgent batches before the persister can take them: they end up in
    // few commits, not one per record.
    let batches: Vec<_> = (0..20)
        .map(|i| {
            (0..50)
                .map(|j| rec("app", WARNING, &format!("w{i}-{j}")))
                .collect::<Vec<_>>()
        })
        .collect();
    for b in batches {
        h.send(b);
    }
    h.close().unwrap();
    let seen = h.seen();
    assert_eq!(seen.stored.len(), 1000);
    assert!(
        seen.commits <= 20,
        "{} commits for 20 batches",
        seen.commits
    );
}

#[test]
fn interval_trigger_flushes_by_timer_without_more_records() {
    let h = Harness::start(StoreConfig {
        buffer_size: 1000,
        flush_interval: 0.2,
        ..config()
    });
    let sent = Instant::now();
    h.send(vec![info("lonely")]);
    assert!(
        h.wait_for(Duration::from_secs(1), || h.rows() == 1),
        "not flushed by the timer"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(150),
        "flushed too early"
    );
}

#[test]
fn explicit_flush_commits_then_acks() {
    let h = Harness::start(config());
    h.send(vec![info("a"), info("b")]);
    // Part of the scenario: nothing may be flushed for a while, and an absence cannot be polled.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(h.rows(), 0);
    h.flush();
    assert_eq!(h.rows(), 2);
    // An empty flush is acknowledged too.
    h.flush();
}

#[test]
fn shutdown_stores_everything_buffered() {
    let mut h = Harness::start(config());
    for i in 0..10 {
        h.send((0..100).map(|j| info(&format!("m{i}.{j}"))).collect());
    }
    h.close().unwrap();
    assert_eq!(h.rows(), 1000);
    let c = h.stats.snapshot(SourceKind::Tcp);
    assert_eq!(c.stored, 1000);
    assert_eq!(c.received, 1000);
    // Ids are published in insert order.
    let seen = h.seen();
    let ids: Vec<i64> = seen.stored.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.stored[0].1.message, "m0.0");
}

fn thresholds(pairs: &[(&str, u64)]) -> StoreConfig {
    StoreConfig {
        thresholds: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        threshold_window: 3600.0,
        ..config()
    }
}

fn alerts(h: &Harness) -> Vec<(i64, logtui::record::Record)> {
    h.all(&Filter {
        logger: Some("logtui.alerts".into()),
        ..Filter::default()
    })
}

#[test]
fn threshold_one_alerts_once_per_logger() {
    let mut h = Harness::start(thresholds(&[("ERROR", 1)]));
    h.send(vec![
        rec("app.db", ERROR, "first"),
        rec("app.db", ERROR, "second"),
    ]);
    h.send(vec![rec("app.web", ERROR, "other logger")]);
    h.close().unwrap();
    let stored = alerts(&h);
    assert_eq!(stored.len(), 2, "{stored:?}");
    let a = &stored[0].1;
    assert_eq!(a.source, SourceKind::Internal);
    assert_eq!(a.level, WARNING);
    let get = |k: &str| a.extra.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("logger_name"),
        Some(logtui::value::Value::Str("app.db".into()))
    );
    assert_eq!(
        get("threshold_level"),
        Some(logtui::value::Value::Str("ERROR".into()))
    );
    assert_eq!(get("matching_count"), Some(logtui::value::Value::Int(1)));
    assert_eq!(
        get("message"),
        Some(logtui::value::Value::Str("first".into()))
    );
    assert!(get("window_start").is_some() && get("window_end").is_some());
    // Stored after the record that triggered it.
    let trigger = h
        .all(&Filter::default())
        .into_iter()
        .find(|(_, r)| r.message == "first")
        .unwrap();
    assert!(stored[0].0 > trigger.0);
    let seen = h.seen();
    assert_eq!(seen.alerts.len(), 2);
    assert_eq!(seen.alerts[0].logger, "logtui.alerts");
    assert_eq!(h.stats.snapshot(SourceKind::Internal).stored, 2);
}

#[test]
fn threshold_three_fires_on_the_third() {
    let mut h = Harness::start(thresholds(&[("WARNING", 3)]));
    h.send(vec![rec("svc", WARNING, "1"), rec("svc", WARNING, "2")]);
    h.flush();
    assert_eq!(alerts(&h).len(), 0);
    h.send(vec![rec("svc", WARNING, "3"), rec("svc", WARNING, "4")]);
    h.close().unwrap();
    let a = alerts(&h);
    assert_eq!(a.len(), 1);
    assert!(
        a[0].1
            .extra
            .contains(&("message".into(), logtui::value::Value::Str("3".into())))
    );
}

#[test]
fn disabled_and_other_levels_do_not_alert() {
    let mut h = Harness::start(thresholds(&[("ERROR", 0), ("WARNING", 1)]));
    h.send(vec![
        rec("svc", ERROR, "disabled"),
        rec("svc", CRITICAL, "no threshold"),
        rec("svc", INFO, "info"),
    ]);
    h.close().unwrap();
    assert!(alerts(&h).is_empty());
    assert!(h.seen().alerts.is_empty());
}

#[test]
fn internal_records_do_not_alert() {
    let mut h = Harness::start(thresholds(&[("WARNING", 1)]));
    let mut r = rec("logtui.drops", WARNING, "internal");
    r.source = SourceKind::Internal;
    h.send(vec![r]);
    h.close().unwrap();
    assert!(alerts(&h).is_empty());
}

#[test]
fn ignore_rules_skip_and_count() {
    let mut h = Harness::start(StoreConfig {
        ignored_logger_prefixes: vec!["pymongo".into()],
        ignored_logger_names: vec!["noisy".into()],
        ignored_message_substrings: vec!["healthcheck".into()],
        ..config()
    });
    let mut internal = rec("noisy", INFO, "healthcheck by logtui");
    internal.source = SourceKind::Internal;
    h.send(vec![
        rec("pymongo", INFO, "a"),
        rec("pymongo.pool", INFO, "b"),
        rec("pymongoose", INFO, "kept: not a child"),
        rec("noisy", INFO, "c"),
        rec("noisy.child", INFO, "kept: names are exact"),
        rec("app", INFO, "GET /healthcheck"),
        internal,
    ]);
    h.close().unwrap();
    let mut kept: Vec<String> = h
        .all(&Filter::default())
        .into_iter()
        .map(|(_, r)| r.message)
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "healthcheck by logtui",
            "kept: names are exact",
            "kept: not a child"
        ]
    );
    assert_eq!(h.stats.snapshot(SourceKind::Tcp).ignored, 4);
    assert_eq!(h.stats.snapshot(SourceKind::Tcp).stored, 2);
}

#[test]
fn drops_are_reported_in_the_store() {
    let mut h = Harness::start(config());
    h.stats.add_dropped(SourceKind::Udp, 7);
    h.stats.add_dropped(SourceKind::Http, 2);
    h.send(vec![info("after the drops")]);
    h.flush();
    h.stats.add_dropped(SourceKind::Udp, 1);
    h.close().unwrap();
    let notes = h.all(&Filter {
        logger: Some("logtui.drops".into()),
        ..Filter::default()
    });
    assert_eq!(notes.len(), 2, "{notes:?}");
    let first = &notes[0].1;
    assert_eq!(first.source, SourceKind::Internal);
    assert_eq!(first.level, WARNING);
    assert!(
        first.message.contains("9 records were dropped"),
        "{}",
        first.message
    );
    assert!(first.message.contains("7 from udp") && first.message.contains("2 from http"));
    assert!(first.message.contains("queue to the store was full"));
    assert!(notes[1].1.message.contains("1 records were dropped"));
}

#[test]
fn an_idle_persister_still_reports_drops() {
    let h = Harness::start(StoreConfig {
        flush_interval: 0.1,
        ..config()
    });
    h.stats.add_dropped(SourceKind::Udp, 3);
    assert!(h.wait_for(Duration::from_secs(3), || {
        h.count(&Filter {
            logger: Some("logtui.drops".into()),
            ..Filter::default()
        }) == 1
    }));
}

#[test]
fn unwritable_store_is_reported_by_spawn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let stats = std::sync::Arc::new(logtui::stats::Stats::default());
    let (_intake, outlet) = logtui::intake::Intake::new(4, stats.clone());
    // A path under a regular file cannot be created.
    let e = store::spawn(
        &file.join("store.db"),
        &config(),
        outlet,
        stats,
        store::Feed::new(),
    )
    .err()
    .expect("spawn must fail");
    assert!(matches!(e, StoreError::CreateDir { .. }), "{e}");
    assert!(e.to_string().contains("plain-file"));
}

#[test]
fn bad_settings_are_reported_by_spawn() {
    let dir = tempfile::tempdir().unwrap();
    let stats = std::sync::Arc::new(logtui::stats::Stats::default());
    let (_intake, outlet) = logtui::intake::Intake::new(4, stats.clone());
    let cfg = StoreConfig {
        flush_level: "LOUDEST".into(),
        ..config()
    };
    let e = store::spawn(
        &dir.path().join("s.db"),
        &cfg,
        outlet,
        stats,
        store::Feed::new(),
    )
    .err()
    .expect("spawn must fail");
    assert!(e.to_string().contains("flush_level"), "{e}");
}

/// Takes the `records` table away behind the persister's back, so its inserts fail.
fn hide_table(h: &Harness, hide: bool) {
    let c = rusqlite::Connection::open(&h.path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    let sql = if hide {
        "ALTER TABLE records RENAME TO records_hidden"
    } else {
        "ALTER TABLE records_hidden RENAME TO records"
    };
    c.execute_batch(sql).unwrap();
}

#[test]
fn a_failed_flush_keeps_the_records_and_retries() {
    let mut h = Harness::start(StoreConfig {
        flush_interval: 0.05,
        ..config()
    });
    h.send(vec![info("before")]);
    h.flush();
    hide_table(&h, true);
    h.send(vec![info("during 1"), info("during 2")]);
    // The flush cannot commit: the requester is told so instead of waiting forever.
    let acked = h.rt.block_on(h.intake.as_ref().unwrap().flush());
    assert!(!acked, "a failed flush must not be acknowledged");
    // Part of the scenario: timer retries fail against the hidden table for a while.
    std::thread::sleep(Duration::from_millis(300));
    hide_table(&h, false);
    // The retry (by timer, with back-off) stores what was kept.
    assert!(h.wait_for(Duration::from_secs(10), || h.rows() == 3));
    h.close().unwrap();
    assert_eq!(h.stats.snapshot(SourceKind::Tcp).stored, 3);
    let msgs: Vec<String> = h
        .all(&Filter::default())
        .into_iter()
        .map(|(_, r)| r.message)
        .collect();
    assert_eq!(msgs, ["before", "during 1", "during 2"]);
}

#[test]
fn records_that_cannot_be_stored_at_shutdown_are_an_error() {
    let mut h = Harness::start(config());
    h.send(vec![info("stored")]);
    h.flush();
    hide_table(&h, true);
    h.send(vec![info("lost 1"), info("lost 2")]);
    let e = h.close().unwrap_err();
    match &e {
        StoreError::Lost { lost, .. } => assert_eq!(*lost, 2),
        other => panic!("unexpected error: {other}"),
    }
    assert!(e.to_string().contains("store.db"), "{e}");
}

#[test]
fn the_feed_has_commits_and_alerts_before_the_flush_is_acked() {
    let h = Harness::start(thresholds(&[("ERROR", 1)]));
    h.send(vec![info("a"), rec("svc", ERROR, "bad")]);
    h.flush();
    let seen = h.seen();
    // The record, the error, and the alert stored right after it.
    assert_eq!(seen.stored.len(), 3);
    assert_eq!(seen.stored[2].1.logger, "logtui.alerts");
    assert_eq!(seen.alerts.len(), 1);
    assert_eq!(seen.alerts[0], seen.stored[2].1);
}

#[test]
fn shutdown_does_not_hang_when_flushes_fail_with_a_full_buffer() {
    let mut cfg = config();
    cfg.buffer_size = 10;
    let mut h = Harness::start(cfg);
    h.send(vec![info("stored")]);
    h.flush();
    hide_table(&h, true);
    // Past the failing persister's buffer bound (10,000), so the rest stays in the queue.
    for _ in 0..11 {
        h.send((0..1000).map(|_| info("lost")).collect());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = h.close();
        let _ = tx.send(());
        r
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the persister ended within 60 s of its queue closing");
    match handle.join().unwrap() {
        Err(StoreError::Lost { lost, .. }) => assert_eq!(lost, 11_000),
        other => panic!("expected Lost, got {other:?}"),
    }
}

/// A subscriber that never reads holds up nothing: past its small queue every batch is
/// counted as missed for it alone, every record is still stored and indexed, flushes are
/// answered, and a subscriber with room sees everything.
#[test]
fn a_subscriber_that_never_reads_costs_only_itself() {
    use logtui::intake::Intake;
    use logtui::stats::Stats;
    use logtui::store::{Feed, FeedItem, FeedLimits};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let stats = Arc::new(Stats::default());
    let (intake, outlet) = Intake::new(8, stats.clone());
    let feed = Feed::new();
    let stuck = feed.subscribe(
        "stuck",
        FeedLimits {
            max_batches: 2,
            max_bytes: usize::MAX,
        },
    );
    let roomy = feed.subscribe(
        "roomy",
        FeedLimits {
            max_batches: 1000,
            max_bytes: usize::MAX,
        },
    );
    let handle = store::spawn(&path, &config(), outlet, stats, feed.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..10 {
            let batch: Vec<_> = (0..100)
                .map(|j| info(&format!("aardvark {i} {j}")))
                .collect();
            assert!(intake.submit(batch).await);
            assert!(intake.flush().await, "the flush was not answered");
        }
    });
    drop(intake);
    handle.join().unwrap();
    assert_eq!(stuck.missed(), 800, "eight of ten commits did not fit");
    assert_eq!(roomy.missed(), 0);
    assert_eq!(feed.missed_total(), 800);
    let mut got = Vec::new();
    while let Some(item) = roomy.try_recv() {
        match item {
            FeedItem::Batch(b) => got.extend(b.rows.iter().map(|(id, _)| *id)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, (1..=1000).collect::<Vec<i64>>());
    // The stuck one finds its two batches, then the range to read from the store.
    let mut items = std::iter::from_fn(|| stuck.try_recv());
    assert!(matches!(items.next(), Some(FeedItem::Batch(_))));
    assert!(matches!(items.next(), Some(FeedItem::Batch(_))));
    assert!(matches!(
        items.next(),
        Some(FeedItem::Missed {
            first_id: 201,
            last_id: 1000,
            records: 800
        })
    ));
    assert!(items.next().is_none());
    let c = store::open_read_only(&path).unwrap();
    let f = Filter {
        search: Some("aardvark".into()),
        after_id: Some(200),
        ..Filter::default()
    };
    assert_eq!(
        store::count(&c, &f).unwrap(),
        800,
        "the missed range is in the store"
    );
    let covered: i64 = rusqlite::Connection::open(store::index::index_path(&path))
        .unwrap()
        .query_row("SELECT indexed_max FROM index_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(covered, 1000, "the index kept going");
}

#[test]
fn big_records_flush_by_bytes_before_the_record_count_is_reached() {
    // 300 KiB messages against a 1 MiB byte threshold: every fourth record fills the
    // buffer, long before 1000 records would, and no timer (an hour) or level fires.
    let h = Harness::start(StoreConfig {
        buffer_size: 1000,
        buffer_bytes: 1 << 20,
        ..config()
    });
    let big = "x".repeat(300 << 10);
    for _ in 0..8 {
        h.send(vec![info(&big)]);
    }
    assert!(
        h.wait_for(Duration::from_secs(10), || h.rows() == 8),
        "the byte threshold never flushed: {} rows stored",
        h.rows()
    );
    h.send(vec![info("small")]);
    h.flush();
    let seen = h.seen();
    // Two flushes by bytes (4 records each), then the explicit one for the small record.
    assert_eq!(seen.commits, 3, "one commit per 1 MiB of records");
    assert_eq!(seen.stored.len(), 9);
}

#[test]
fn a_zero_byte_threshold_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let stats = std::sync::Arc::new(logtui::stats::Stats::default());
    let (_intake, outlet) = logtui::intake::Intake::new(4, stats.clone());
    let cfg = StoreConfig {
        buffer_bytes: 0,
        ..config()
    };
    let e = store::spawn(
        &dir.path().join("s.db"),
        &cfg,
        outlet,
        stats,
        store::Feed::new(),
    )
    .err()
    .expect("spawn must fail");
    assert!(e.to_string().contains("buffer_bytes"), "{e}");
}
