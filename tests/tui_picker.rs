//! The channel picker over a real store: the incremental scan agrees with a GROUP BY, the
//! scan and the live feed together count each record once, a choice narrows a pane, and
//! 10,000 distinct jobs cost a keystroke bounded work.

#[path = "store_util.rs"]
mod util;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use logtui::record::{ERROR, INFO, Record, SourceKind, WARNING};
use logtui::store::read::channels::{
    ChannelKind, ChannelTable, ID_SPAN_SQL, channels_since, id_span,
};
use logtui::store::{self, CommittedBatch, Filter};
use logtui::tui::Ctx;
use logtui::tui::pane::{Pane, Scope};
use logtui::tui::picker::{Channels, Picker, PickerOutcome};
use logtui::tui::reader::Reader;
use logtui::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use util::{Harness, config};

/// A fixed clock for drawing: rates and "seen" columns do not move under the test.
const NOW: f64 = 1_700_000_600.0;

fn varied(i: usize) -> Record {
    let mut r = Record::new(
        if i.is_multiple_of(11) {
            SourceKind::Http
        } else {
            SourceKind::Tcp
        },
        format!("10.0.0.{}:5000", i % 3),
    );
    r.logger = ["app", "app.db", "app.db.pool", "apps", "web.req"][i % 5].into();
    r.set_level([INFO, WARNING, ERROR, 35, 10][i % 5 * 3 % 5]);
    r.job = (!i.is_multiple_of(4)).then(|| format!("job-{}", i % 6));
    r.created = NOW - 300.0 + i as f64;
    r.process = Some(100 + (i % 3) as i64);
    r.process_name = Some(format!("worker{}", i % 3));
    r
}

fn key(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn typed(p: &mut Picker, ch: &Channels, s: &str) {
    for c in s.chars() {
        assert_eq!(p.on_event(&key(KeyCode::Char(c)), ch), PickerOutcome::Open);
    }
}

/// A store holding `recs`, flushed and closed.
fn store_with(recs: Vec<Record>) -> Harness {
    let mut h = Harness::start(config());
    for chunk in recs.chunks(500) {
        h.send(chunk.to_vec());
    }
    h.flush();
    h.close().unwrap();
    h
}

fn settle(ch: &mut Channels) {
    let start = Instant::now();
    while !ch.settled() {
        ch.poll();
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "scan never finished"
        );
        std::thread::yield_now();
    }
    ch.poll();
}

/// `(total, warnings, errors)` per value of `col`, by one GROUP BY over non-internal rows.
fn group_by(h: &Harness, col: &str) -> HashMap<String, (u64, u64, u64)> {
    let conn = store::open_read_only(&h.path).unwrap();
    let mut out = HashMap::new();
    let sql = format!(
        "SELECT {col}, count(*), sum(level >= 30 AND level < 40), sum(level >= 40) \
         FROM records WHERE source != 'internal' AND {col} IS NOT NULL GROUP BY {col}"
    );
    store::run_sql(&conn, &sql, |_, v| {
        let int = |x: &rusqlite::types::Value| match x {
            rusqlite::types::Value::Integer(i) => *i as u64,
            _ => 0,
        };
        let rusqlite::types::Value::Text(k) = &v[0] else {
            panic!("{v:?}")
        };
        out.insert(k.clone(), (int(&v[1]), int(&v[2]), int(&v[3])));
    })
    .unwrap();
    out
}

fn figures(t: &ChannelTable, k: ChannelKind) -> HashMap<String, (u64, u64, u64)> {
    t.iter(k)
        .map(|(v, s)| (v.to_owned(), (s.total, s.warnings, s.errors)))
        .collect()
}

#[test]
fn paged_scan_agrees_with_group_by() {
    let h = store_with((0..1000).map(varied).collect());
    let conn = store::open_read_only(&h.path).unwrap();
    let (_, hi) = id_span(&conn).unwrap().unwrap();
    let mut t = ChannelTable::default();
    let (mut at, mut calls) = (0, 0);
    loop {
        let step = channels_since(&conn, at, hi, 97, &mut t).unwrap();
        assert!(step.rows <= 97);
        calls += 1;
        at = step.last_id;
        if step.done {
            break;
        }
    }
    assert!(calls >= 1000 / 97, "{calls} pages");
    assert_eq!(t.rows(), 1000);
    assert_eq!(figures(&t, ChannelKind::Job), group_by(&h, "job"));
    assert_eq!(figures(&t, ChannelKind::Origin), group_by(&h, "origin"));
    let sources = group_by(&h, "source");
    assert_eq!(figures(&t, ChannelKind::Source), sources);
    // The tree: each node is its own rows plus every row below it.
    let exact = group_by(&h, "logger");
    let rolled = |node: &str| {
        exact
            .iter()
            .filter(|(l, _)| *l == node || l.starts_with(&format!("{node}.")))
            .fold((0, 0, 0), |a, (_, b)| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    };
    let tree = figures(&t, ChannelKind::Logger);
    for node in ["app", "app.db", "app.db.pool", "apps", "web", "web.req"] {
        assert_eq!(tree.get(node).copied(), Some(rolled(node)), "{node}");
    }
    assert_eq!(tree.len(), 6);
    // And each node's count is what a pane pointed at it reads.
    for node in ["app", "app.db", "apps"] {
        let f = Filter {
            logger_trees: vec![node.into()],
            hide_internal: true,
            ..Filter::default()
        };
        assert_eq!(tree[node].0, h.count(&f), "{node}");
    }
    let pool = t.get(ChannelKind::Origin, "10.0.0.1:5000").unwrap();
    assert_eq!(pool.process_name.as_deref(), Some("worker1"));
}

#[test]
fn scan_and_feed_count_each_record_once() {
    let mut h = Harness::start(config());
    h.send((0..600).map(varied).collect());
    h.flush();
    let first: Vec<(i64, Record)> = h.seen().stored.clone();
    let mut ch = Channels::start(&h.path);
    // The feed's copy of rows the scan also reads arrives before the scan says where it
    // stops: they wait, then are left to the scan.
    ch.on_batch(&CommittedBatch {
        rows: first[500..].to_vec(),
        alerts: vec![],
    });
    settle(&mut ch);
    assert_eq!(ch.table().rows(), 600);
    // New rows come from the feed alone.
    h.send((600..700).map(varied).collect());
    h.flush();
    let later: Vec<(i64, Record)> = h.seen().stored[600..].to_vec();
    ch.on_batch(&CommittedBatch {
        rows: later,
        alerts: vec![],
    });
    assert_eq!(ch.table().rows(), 700);
    // A dropped batch is read back from the store by a catch-up scan, once.
    h.send((700..750).map(varied).collect());
    h.flush();
    ch.on_missed();
    settle(&mut ch);
    assert_eq!(ch.table().rows(), 750);
    assert_eq!(ch.lost, 0);
    h.close().unwrap();
    assert_eq!(
        figures(ch.table(), ChannelKind::Job),
        group_by(&h, "job"),
        "per-job counts after scan, feed and catch-up"
    );
}

/// Feeds `pane` the reader's answers until one arrives.
fn answered(pane: &mut Pane, reader: &Reader) {
    let start = Instant::now();
    loop {
        if let Some(r) = reader.try_recv() {
            pane.on_reply(r);
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no reply");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn choosing_a_job_and_a_subtree_narrows_the_pane() {
    let h = store_with((0..120).map(varied).collect());
    let reader = Reader::open(&h.path).unwrap();
    let mut ctx = Ctx {
        reader: &reader,
        time_step: 60.0,
    };
    let mut pane = Pane::new(0, Scope::default());
    pane.reload(&mut ctx);
    answered(&mut pane, &reader);
    assert_eq!(pane.held_rows(), 120);

    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    let mut picker = Picker::new(&ch);
    typed(&mut picker, &ch, "job-3");
    let PickerOutcome::Apply(scope) = picker.on_event(&key(KeyCode::Enter), &ch) else {
        panic!("Enter applies the row");
    };
    assert_eq!(scope.label.as_deref(), Some("job:job-3"));
    pane.set_scope(&mut ctx, *scope);
    answered(&mut pane, &reader);
    let want = h.count(&Filter {
        jobs: vec!["job-3".into()],
        ..Filter::default()
    });
    assert!(want > 0);
    assert_eq!(pane.held_rows() as u64, want);
    assert_eq!(
        ch.table().get(ChannelKind::Job, "job-3").unwrap().total,
        want
    );

    // A subtree with Space, then a job with Space: both narrow.
    let mut picker = Picker::new(&ch);
    typed(&mut picker, &ch, "app.db");
    assert_eq!(picker.shown_labels()[0], "logger app.db");
    picker.on_event(&key(KeyCode::Char(' ')), &ch);
    for _ in 0..6 {
        picker.on_event(&key(KeyCode::Backspace), &ch);
    }
    typed(&mut picker, &ch, "job-1");
    picker.on_event(&key(KeyCode::Char(' ')), &ch);
    let PickerOutcome::Apply(scope) = picker.on_event(&key(KeyCode::Enter), &ch) else {
        panic!("Enter applies the choices");
    };
    let f = scope.filter.clone();
    assert_eq!(f.logger_trees, ["app.db"]);
    assert_eq!(f.jobs, ["job-1"]);
    pane.set_scope(&mut ctx, *scope);
    answered(&mut pane, &reader);
    let want = h.count(&Filter {
        hide_internal: true,
        ..f
    });
    assert!(want > 0);
    assert_eq!(pane.held_rows() as u64, want);
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    let w = b.area.width as usize;
    b.content()
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ten_thousand_jobs_cost_a_keystroke_bounded_work() {
    let recs: Vec<Record> = (0..10_000)
        .map(|i| {
            let mut r = varied(i);
            r.job = Some(format!("{i:05x}-{}", i * 7919 % 10_007));
            r
        })
        .collect();
    let h = store_with(recs);
    // Each scan starts with the id span: two rowid lookups, never a pass over the records.
    let conn = store::open_read_only(&h.path).unwrap();
    let mut plan = Vec::new();
    store::run_sql(
        &conn,
        &format!("EXPLAIN QUERY PLAN {ID_SPAN_SQL}"),
        |_, v| plan.push(format!("{:?}", v[3])),
    )
    .unwrap();
    assert!(plan.iter().all(|p| !p.contains("SCAN records")), "{plan:?}");
    assert_eq!(id_span(&conn).unwrap(), Some((1, 10_000)));
    let started = Instant::now();
    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    eprintln!(
        "10,000 jobs: the picker's scan settled in {:?}",
        started.elapsed()
    );
    assert_eq!(ch.table().len(ChannelKind::Job), 10_000);
    let mut picker = Picker::new(&ch);
    let rebuilt = picker.work.rebuilds;
    let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let theme = Theme::plain("plain");
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    // Only the rows on screen are built: 30 lines less border, query and header.
    assert!(picker.work.lines_built <= 26, "{:?}", picker.work);
    let mut last_shown = usize::MAX;
    for (n, c) in "00ff".chars().enumerate() {
        let before = picker.work;
        typed(&mut picker, &ch, &c.to_string());
        let scored = picker.work.scored - before.scored;
        // The first key scores every row once; each further key only the previous matches.
        if n > 0 {
            assert!(
                scored as usize <= last_shown,
                "key {n}: {scored} > {last_shown}"
            );
        }
        last_shown = picker.shown_labels().len();
        term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
            .unwrap();
        assert!(picker.work.lines_built - before.lines_built <= 26);
    }
    assert!(last_shown < 10_000);
    assert_eq!(
        picker.work.rebuilds, rebuilt,
        "typing does not rebuild the list"
    );
    assert!(picker.shown_labels()[0].contains("00ff"));
}

#[test]
fn the_picker_draws_a_tree_with_counts_and_timelines() {
    let h = store_with((0..60).map(varied).collect());
    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    let mut picker = Picker::new(&ch);
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let theme = Theme::plain("plain");
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    insta::assert_snapshot!("picker_tree", screen(&term));
    typed(&mut picker, &ch, "pool");
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    insta::assert_snapshot!("picker_query", screen(&term));
}

#[test]
fn c_in_the_app_opens_the_picker_and_enter_scopes_the_focused_pane() {
    use logtui::tui::App;
    use logtui::tui::keymap::KeyMap;
    use logtui::tui::status::{Feeding, StatusBar};
    use logtui::tui::theme::Themes;
    let h = store_with((0..120).map(varied).collect());
    let reader = Reader::open(&h.path).unwrap();
    let status = StatusBar::new(
        Feeding::View {
            how: "test",
            last_change: None,
        },
        h.path.display().to_string(),
    );
    let mut app = App::new(
        KeyMap::default(),
        Themes::load(None, true).0,
        false,
        logtui::config::TimeMode::Utc,
        status,
        reader,
    );
    let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    app.on_event(key(KeyCode::Char('c')));
    // The picker opens at once and fills in as its scan counts the store.
    let start = Instant::now();
    loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        if screen(&term).contains("job job-3") && screen(&term).contains("channels: 120 records") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            screen(&term)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for c in "job-3".chars() {
        app.on_event(key(KeyCode::Char(c)));
    }
    app.on_event(key(KeyCode::Enter));
    assert_eq!(app.focused().unwrap().filter().jobs, ["job-3"]);
    let start = Instant::now();
    loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        let s = screen(&term);
        if s.contains("job:job-3") && !s.contains("reading…") {
            assert!(!s.contains("channels:"), "the picker closed");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{s}");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Esc on a reopened picker leaves the scope alone.
    app.on_event(key(KeyCode::Char('c')));
    app.on_event(key(KeyCode::Esc));
    assert_eq!(app.focused().unwrap().filter().jobs, ["job-3"]);
}

/// Clears the picker's query with Backspace.
fn cleared(p: &mut Picker, ch: &Channels) {
    while !p.query().is_empty() {
        p.on_event(&key(KeyCode::Backspace), ch);
    }
}

#[test]
fn space_chooses_two_jobs_and_enter_shows_both_and_nothing_else() {
    use logtui::tui::App;
    use logtui::tui::keymap::KeyMap;
    use logtui::tui::status::{Feeding, StatusBar};
    use logtui::tui::theme::Themes;
    let recs: Vec<Record> = (0..60)
        .map(|i| {
            let mut r = varied(i);
            r.message = format!("record {i} of {}", r.job.as_deref().unwrap_or("nojob"));
            r
        })
        .collect();
    let h = store_with(recs);

    // The picker with two jobs chosen, as drawn.
    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    let mut picker = Picker::new(&ch);
    for job in ["job-1", "job-4"] {
        typed(&mut picker, &ch, job);
        assert_eq!(picker.shown_labels()[0], format!("job {job}"));
        picker.on_event(&key(KeyCode::Char(' ')), &ch);
        cleared(&mut picker, &ch);
    }
    assert_eq!(picker.chosen().len(), 2);
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let theme = Theme::plain("plain");
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    insta::assert_snapshot!("picker_two_chosen", screen(&term));
    let PickerOutcome::Apply(scope) = picker.on_event(&key(KeyCode::Enter), &ch) else {
        panic!("Enter applies the chosen set");
    };
    assert_eq!(scope.filter.jobs, ["job-1", "job-4"]);
    assert_eq!(scope.label.as_deref(), Some("job:job-1 · job:job-4"));

    // The same keys in the app: the focused pane shows both jobs' records and no other.
    let reader = Reader::open(&h.path).unwrap();
    let status = StatusBar::new(
        Feeding::View {
            how: "test",
            last_change: None,
        },
        h.path.display().to_string(),
    );
    let mut app = App::new(
        KeyMap::default(),
        Themes::load(None, true).0,
        false,
        logtui::config::TimeMode::Utc,
        status,
        reader,
    );
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.on_event(key(KeyCode::Char('c')));
    let start = Instant::now();
    loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        if screen(&term).contains("channels: 60 records") && screen(&term).contains("job job-4") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            screen(&term)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for job in ["job-1", "job-4"] {
        for c in job.chars() {
            app.on_event(key(KeyCode::Char(c)));
        }
        app.on_event(key(KeyCode::Char(' ')));
        for _ in job.chars() {
            app.on_event(key(KeyCode::Backspace));
        }
    }
    app.on_event(key(KeyCode::Enter));
    assert_eq!(app.focused().unwrap().filter().jobs, ["job-1", "job-4"]);
    let want = h.count(&Filter {
        jobs: vec!["job-1".into(), "job-4".into()],
        ..Filter::default()
    });
    // 10 of job-1 and 5 of job-4, all on one screen.
    assert_eq!(want, 15);
    let start = Instant::now();
    let shown = loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        let s = screen(&term);
        if s.contains("job:job-1 · job:job-4") && !s.contains("reading…") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{s}");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(shown.matches(" of job-1").count(), 10, "{shown}");
    assert_eq!(shown.matches(" of job-4").count(), 5, "{shown}");
    assert_eq!(shown.matches(" of job-").count(), 15, "{shown}");
    assert!(!shown.contains("of nojob"), "{shown}");
    assert_eq!(app.focused().unwrap().held_rows() as u64, want);
}
