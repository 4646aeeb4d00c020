//! The store follower (`logtui view`): a read-only connection of its own publishes what a
//! separate writer (a real persister here) commits, in id order, without gaps or repeats.

#[path = "store_util.rs"]
mod util;

use logtui::store::{self, Feed, FeedItem, FeedLimits, FollowMode, Subscription};
use std::time::Duration;
use util::{Harness, config, info};

const ROOMY: FeedLimits = FeedLimits {
    max_batches: usize::MAX,
    max_bytes: usize::MAX,
};
const DEADLINE: Duration = Duration::from_secs(10);

/// Collects what a subscriber receives.
struct Got {
    sub: Subscription,
    ids: Vec<i64>,
    messages: Vec<String>,
    batches: usize,
    largest: usize,
}

impl Got {
    fn new(feed: &Feed) -> Got {
        Got {
            sub: feed.subscribe("test", ROOMY),
            ids: Vec::new(),
            messages: Vec::new(),
            batches: 0,
            largest: 0,
        }
    }

    fn drain(&mut self) -> usize {
        while let Some(item) = self.sub.try_recv() {
            match item {
                FeedItem::Batch(b) => {
                    self.batches += 1;
                    self.largest = self.largest.max(b.rows.len());
                    for (id, r) in &b.rows {
                        self.ids.push(*id);
                        self.messages.push(r.message.clone());
                    }
                }
                FeedItem::Missed { .. } => panic!("a roomy subscriber missed records"),
            }
        }
        self.ids.len()
    }
}

#[test]
fn a_follower_sees_what_another_connection_commits() {
    let h = Harness::start(config());
    h.send(vec![info("before 1"), info("before 2")]);
    h.flush();
    let feed = Feed::new();
    let mut got = Got::new(&feed);
    let f = store::follow(&h.path, feed.clone(), 0).unwrap();
    // Linux, macOS and Windows all have a watcher for a local temporary directory.
    assert_eq!(f.how(), FollowMode::Notify);
    assert!(h.wait_for(DEADLINE, || got.drain() == 2), "{:?}", got.ids);
    assert_eq!(got.messages, ["before 1", "before 2"]);

    h.send(vec![info("after")]);
    h.flush();
    assert!(h.wait_for(DEADLINE, || got.drain() == 3), "{:?}", got.ids);
    assert_eq!(got.messages[2], "after");
    assert_eq!(got.ids, [1, 2, 3]);
    assert_eq!(f.last_id(), 3);
    assert!(f.writer_seen().is_some());
    f.stop();
}

#[test]
fn rows_arrive_in_id_order_without_gaps_or_repeats_across_many_commits() {
    let h = Harness::start(config());
    let feed = Feed::new();
    let mut got = Got::new(&feed);
    let f = store::follow(&h.path, feed, 0).unwrap();
    let mut sent = 0usize;
    for i in 0..60 {
        // Mostly small commits, and a few bigger than one page of the follower's reads.
        let n = if i % 20 == 7 { 2500 } else { 1 + i % 13 };
        h.send(
            (0..n)
                .map(|j| info(&format!("c{i} r{j}")))
                .collect::<Vec<_>>(),
        );
        h.flush();
        sent += n;
        if i % 10 == 0 {
            // Sometimes let it catch up in the middle, sometimes read a backlog.
            assert!(h.wait_for(DEADLINE, || got.drain() == sent));
        }
    }
    assert!(
        h.wait_for(DEADLINE, || got.drain() == sent),
        "{} of {sent}",
        got.ids.len()
    );
    let expected: Vec<i64> = (1..=sent as i64).collect();
    assert_eq!(got.ids, expected);
    assert!(got.largest <= 1000, "a batch of {} rows", got.largest);
    assert_eq!(f.last_id(), sent as i64);
    f.stop();
}

#[test]
fn a_follower_survives_a_store_nobody_writes() {
    let mut h = Harness::start(config());
    h.send((0..5).map(|i| info(&format!("old {i}"))).collect());
    h.close().unwrap();
    let feed = Feed::new();
    let mut got = Got::new(&feed);
    // Only what is after the rows the caller already has.
    let f = store::follow(&h.path, feed, 3).unwrap();
    assert!(h.wait_for(DEADLINE, || got.drain() == 2), "{:?}", got.ids);
    assert_eq!(got.ids, [4, 5]);
    // Part of the scenario: several polls find nothing, and an absence cannot be polled.
    std::thread::sleep(store::follow::POLL * 4);
    assert_eq!(got.drain(), 2);
    assert_eq!(f.writer_seen(), None);
    assert_eq!(f.last_id(), 5);
    f.stop();
}

#[test]
fn with_nobody_subscribed_it_moves_past_new_rows_without_publishing_them() {
    let h = Harness::start(config());
    let feed = Feed::new();
    let f = store::follow(&h.path, feed.clone(), 0).unwrap();
    h.send((0..3).map(|i| info(&format!("unwatched {i}"))).collect());
    h.flush();
    assert!(h.wait_for(DEADLINE, || f.last_id() == 3));
    // A subscriber from now on gets what comes next, not the rows it was not there for.
    let mut got = Got::new(&feed);
    h.send(vec![info("watched")]);
    h.flush();
    assert!(h.wait_for(DEADLINE, || got.drain() == 1));
    assert_eq!(got.ids, [4]);
    f.stop();
}

#[test]
fn a_missing_store_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = store::follow(&dir.path().join("none.db"), Feed::new(), 0)
        .err()
        .expect("no store, no follower");
    assert!(e.to_string().contains("none.db"), "{e}");
}
