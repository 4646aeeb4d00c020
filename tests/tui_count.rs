//! The progressive match count: on its own low-priority thread, partial figures as it reads,
//! a new count cancelling the old, a final figure equal to `logtui query --count`, and a pane
//! title showing `≥N…` until it is final.

#[path = "store_util.rs"]
mod util;

use logtui::record::{Record, SourceKind};
use logtui::store::{self, Filter};
use logtui::tui::Ctx;
use logtui::tui::counter::{CountUpdate, Counter, NICE};
use logtui::tui::pane::{Pane, Scope};
use logtui::tui::reader::Reader;
use std::time::{Duration, Instant};
use util::{Harness, config};

const WAIT: Duration = Duration::from_secs(20);

fn record(i: usize) -> Record {
    let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:1");
    r.message = if i.is_multiple_of(3) {
        format!("disk full on sda{i}")
    } else {
        format!("request {i} served")
    };
    r.created = 1_700_000_000.0 + i as f64;
    r
}

/// A store of `n` records, one in three saying "disk full", written by the store writer;
/// left open so a test can add more.
fn store_of(n: usize) -> Harness {
    let h = Harness::start(config());
    let recs: Vec<Record> = (0..n).map(record).collect();
    for chunk in recs.chunks(1000) {
        h.send(chunk.to_vec());
    }
    h.flush();
    h
}

fn search(s: &str) -> Filter {
    Filter {
        search: Some(s.into()),
        hide_internal: true,
        ..Filter::default()
    }
}

/// Every update up to `seq`'s last, older counts' updates included.
fn until_done(c: &Counter, seq: u64) -> Vec<CountUpdate> {
    let start = Instant::now();
    let mut got = Vec::new();
    loop {
        let u = c.recv_timeout(WAIT).expect("an update");
        let done = u.seq == seq && u.done;
        got.push(u);
        if done {
            return got;
        }
        assert!(start.elapsed() < WAIT, "the count never finished");
    }
}

#[test]
fn a_count_reports_partial_figures_then_what_query_count_says() {
    let mut h = store_of(30_000);
    h.close().unwrap();
    let c = Counter::with_pieces(&h.path, 500).unwrap();
    c.start(1, 1, search("disk"));
    let got = until_done(&c, 1);
    let last = got.last().unwrap();
    assert_eq!(last.error, None);
    assert_eq!(last.until, 30_000);
    // The final figure is what `logtui query --count` prints for the same search.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logtui"))
        .args(["query", "--db", h.path.to_str().unwrap()])
        .args(["--search", "disk", "--count"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cli: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(last.counted, cli);
    assert_eq!(cli, 10_000);
    // Partial figures as it went, never falling, some between nothing and the total.
    let partial: Vec<u64> = got.iter().filter(|u| !u.done).map(|u| u.counted).collect();
    assert!(partial.len() >= 30, "{} partial figures", partial.len());
    assert!(partial.windows(2).all(|w| w[0] <= w[1]), "{partial:?}");
    assert!(partial.iter().any(|&n| n > 0 && n < cli), "{partial:?}");
    // A regex and an exclusion count as the store does too.
    for f in [
        Filter {
            regex: Some(r"sda\d*7$".into()),
            ..search("")
        },
        Filter {
            exclude: vec!["disk".into()],
            ..search("")
        },
    ] {
        c.start(1, 2, f.clone());
        let last = until_done(&c, 2).pop().unwrap();
        assert_eq!(last.counted, h.count(&f), "{f:?}");
    }
}

#[test]
fn a_new_count_for_the_pane_cancels_the_old_one() {
    let mut h = store_of(3000);
    h.close().unwrap();
    let c = Counter::with_pieces(&h.path, 50).unwrap();
    c.start(1, 1, search("disk"));
    let first = c.recv_timeout(WAIT).expect("a first figure");
    assert_eq!((first.seq, first.done), (1, false));
    // The counter's channel holds one update, so the old count cannot have run ahead: it
    // stops at its next piece, with no final figure.
    c.start(1, 2, search("served"));
    let got = until_done(&c, 2);
    assert!(got.iter().all(|u| u.seq == 2 || !u.done), "{got:?}");
    assert_eq!(got.last().unwrap().counted, 2000);
    // Another pane's count goes on when this pane starts a new one.
    c.start(2, 1, search("disk"));
    c.start(1, 3, search("request"));
    let mut finals = Vec::new();
    let start = Instant::now();
    while finals.len() < 2 {
        let u = c.recv_timeout(WAIT).expect("an update");
        if u.done {
            finals.push((u.pane, u.seq, u.counted));
        }
        assert!(start.elapsed() < WAIT);
    }
    finals.sort();
    assert_eq!(finals, [(1, 3, 2000), (2, 1, 1000)]);
    // Cancelled outright: no final figure comes.
    c.start(1, 4, search("disk"));
    c.cancel(1);
    let mut rest = Vec::new();
    while let Some(u) = c.recv_timeout(Duration::from_millis(300)) {
        rest.push(u);
    }
    assert!(rest.iter().all(|u| !u.done), "{rest:?}");
}

#[test]
fn the_counter_runs_on_its_own_thread_at_a_lower_priority() {
    let mut h = store_of(10);
    h.close().unwrap();
    let me = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
    let before = me();
    let c = Counter::open(&h.path).unwrap();
    c.start(1, 1, search("disk"));
    assert_eq!(until_done(&c, 1).last().unwrap().counted, 4);
    let mut nice = None;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "logtui-counter" {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
            // Fields after `(comm) `: the state is field 3, the nice value field 19.
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            nice = Some(after.split(' ').nth(16).unwrap().parse::<i32>().unwrap());
        }
    }
    assert!(nice.is_some_and(|n| n >= NICE), "{nice:?}");
    // Only that thread: the test's own keeps its priority.
    assert_eq!(me(), before);
}

/// Feeds the pane the reader's answers and counts until `done` holds for its title.
fn title_until(pane: &mut Pane, reader: &Reader, done: impl Fn(&str) -> bool) -> Vec<String> {
    let start = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        while let Some(r) = reader.try_recv() {
            pane.on_reply(r);
        }
        while let Some(u) = reader.counter().try_recv() {
            pane.on_count(u, reader);
        }
        let t = pane.count_text().unwrap_or_default();
        if seen.last() != Some(&t) {
            seen.push(t.clone());
        }
        if done(&t) {
            return seen;
        }
        assert!(start.elapsed() < WAIT, "{seen:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_searching_pane_shows_its_count_filling_in_and_keeps_it_current() {
    let h = store_of(20_000);
    let reader = Reader::open(&h.path).unwrap();
    let mut ctx = Ctx {
        reader: &reader,
        time_step: 60.0,
    };
    let mut pane = Pane::new(0, Scope::default());
    assert_eq!(pane.count_text(), None, "no count without a text search");
    pane.set_filter_text(&mut ctx, "disk").unwrap();
    let seen = title_until(&mut pane, &reader, |t| t.ends_with("matches"));
    assert_eq!(seen.last().map(String::as_str), Some("6667 matches"));
    assert!(
        seen.iter()
            .all(|t| t.is_empty() || t.starts_with('≥') || t == "6667 matches"),
        "{seen:?}"
    );
    // Records stored since are counted from the feed, so it stays what query says.
    h.send((20_000..20_300).map(record).collect());
    h.flush();
    for item in std::iter::from_fn(|| h.sub.try_recv()) {
        if let store::FeedItem::Batch(b) = item {
            pane.on_batch(&b);
        }
    }
    let want = h.count(&search("disk"));
    assert_eq!(want, 6767);
    assert_eq!(pane.count_text().as_deref(), Some("6767 matches"));
    // A new filter counts again; one that searches no text has no count.
    pane.set_filter_text(&mut ctx, "served").unwrap();
    assert!(pane.count_text().unwrap().starts_with('≥'));
    title_until(&mut pane, &reader, |t| t == "13533 matches");
    pane.set_filter_text(&mut ctx, "level>=error").unwrap();
    assert_eq!(pane.count_text(), None);
}
