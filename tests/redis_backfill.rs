//! Reading a window back from real streams: bounds by entry time, trimmed entries reported, an
//! expired key skipped, logtui's own forwarding targets left out.

mod common;

use common::redis_server::RedisServer;
use logtui::source::redis_backfill::{BackfillLimits, EntryId, read_window};

fn xadd(r: &RedisServer, key: &str, id: &str, data: &str, maxlen: Option<usize>) {
    let mut args = vec!["XADD", key];
    let ml;
    if let Some(n) = maxlen {
        ml = n.to_string();
        args.extend(["MAXLEN", &ml]);
    }
    args.extend([id, "data", data]);
    let out = r.cli(&args);
    assert!(out.contains('-'), "XADD {key} {id}: {out}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_window_reads_its_entries_and_says_what_was_trimmed() {
    let r = RedisServer::start();
    for (id, d) in [
        ("1000-0", "old"),
        ("2000-0", "a"),
        ("2500-0", "b"),
        ("4000-0", "late"),
    ] {
        xadd(&r, "stream:logs:job_1", id, d, None);
    }
    xadd(&r, "stream:logs:global", "2000-0", "a", None);
    // A stream trimmed to its newest entry: what came after the window opened is partly gone.
    for (id, d) in [("2100-0", "t1"), ("2200-0", "t2"), ("2300-0", "t3")] {
        xadd(&r, "stream:logs:job_2", id, d, Some(1));
    }
    // Written only before the window: not read at all.
    xadd(&r, "stream:logs:job_3", "500-0", "ancient", None);
    // logtui's own forwarding target is never read back.
    xadd(&r, "stream:logs:alerts", "2000-0", "forwarded", None);
    // Something that is not a stream under the same pattern.
    r.cli(&["SET", "stream:logs:not_a_stream", "x"]);
    let client = redis::Client::open(r.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let read = read_window(
        &mut con,
        &["logs:*".to_string()],
        &["logs:alerts".to_string()],
        2000,
        3000,
        BackfillLimits::default(),
    )
    .await
    .unwrap();
    let mut got: Vec<(String, String)> = read
        .entries
        .iter()
        .map(|e| {
            (
                e.stream.clone(),
                String::from_utf8(e.payload.clone()).unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("stream:logs:global".to_string(), "a".to_string()),
            ("stream:logs:job_1".into(), "a".into()),
            ("stream:logs:job_1".into(), "b".into()),
            ("stream:logs:job_2".into(), "t3".into()),
        ]
    );
    assert_eq!(read.streams, 3);
    assert_eq!(read.trimmed.len(), 1, "{:?}", read.trimmed);
    assert_eq!(read.trimmed[0].stream, "stream:logs:job_2");
    assert_eq!(
        read.trimmed[0].first_kept,
        Some(EntryId { ms: 2300, seq: 0 })
    );
    assert!(read.cut_short.is_empty());

    // A plain channel whose stream does not exist (expired) is skipped, not an error.
    let read = read_window(
        &mut con,
        &["logs:gone".to_string()],
        &[],
        0,
        u64::MAX / 2,
        BackfillLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!((read.streams, read.entries.len()), (0, 0));

    // The bounds hold: a small entry budget stops the read and says so.
    let limits = BackfillLimits {
        max_entries: 2,
        page: 1,
        ..BackfillLimits::default()
    };
    let read = read_window(
        &mut con,
        &["logs:job_1".to_string()],
        &[],
        0,
        10_000,
        limits,
    )
    .await
    .unwrap();
    assert_eq!(read.entries.len(), 2);
    assert_eq!(read.cut_short.len(), 1, "{:?}", read.cut_short);
}
