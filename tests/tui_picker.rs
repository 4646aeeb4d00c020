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

/// A uuid4-shaped id, fixed for `i`, as Smarter's `job_<uuid4>` carries.
fn uuid(i: usize) -> String {
    let x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let y = x.rotate_left(29).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (y >> 48) & 0x3fff | 0x8000,
        y & 0xffff_ffff_ffff
    )
}

/// What a busy Smarter store holds: socket records, `n` one-record `job_<uuid>` jobs (each
/// on its own `logs:job_<uuid>` channel), a few long-lived `User.x` jobs, `logs:global`
/// and a Logbook list.
fn smarter(n: usize) -> Vec<Record> {
    let mut out: Vec<Record> = (0..30).map(varied).collect();
    let redis = |origin: String, job: Option<String>, i: usize| {
        let mut r = Record::new(SourceKind::Redis, origin);
        r.logger = "smarter.tasks".into();
        r.set_level(if i.is_multiple_of(7) { WARNING } else { INFO });
        r.job = job;
        r.created = NOW - 100.0 + i as f64 * (90.0 / n as f64);
        r.message = format!("redis record {i}");
        r
    };
    for (k, user) in ["admin", "bob", "carol"].into_iter().enumerate() {
        for i in 0..4 {
            let job = format!("User.{user}");
            out.push(redis(format!("logs:{job}"), Some(job), k * 4 + i));
        }
    }
    for i in 0..n {
        let job = format!("job_{}", uuid(i));
        out.push(redis(format!("logs:{job}"), Some(job), i));
    }
    for i in 0..6 {
        out.push(redis("logs:global".into(), None, i));
        out.push(redis("list:logbook".into(), None, i));
    }
    out
}

#[test]
fn ten_thousand_redis_jobs_fold_into_one_row_and_cost_bounded_work() {
    let n = 10_000;
    let h = store_with(smarter(n));
    // The family's GLOB is one condition the store answers like the exact list would.
    let fam = Filter {
        job_globs: vec!["job_*".into()],
        ..Filter::default()
    };
    assert_eq!(h.count(&fam), n as u64);
    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    let t = ch.table();
    assert_eq!(t.len(ChannelKind::Job), n + 3 + 6);
    assert_eq!(
        t.get(ChannelKind::JobFamily, "job_").unwrap().total,
        n as u64
    );
    let origin_fam = t.get(ChannelKind::OriginFamily, "logs:job_").unwrap();
    assert_eq!(origin_fam.total, n as u64);
    assert_eq!(
        t.get(ChannelKind::Origin, "logs:global").unwrap().source,
        Some(SourceKind::Redis)
    );

    let mut picker = Picker::new(&ch);
    assert_eq!(picker.work.rebuilds, 1);
    let labels = picker.shown_labels();
    // Folded: 20,000 jobs and channels are two rows; the long-lived jobs stay rows.
    assert!(labels.len() < 60, "{labels:?}");
    for want in [
        "job job_* (10,000 jobs)",
        "redis logs:job_* (10,000 channels)",
        "redis logs:global",
        "redis list logbook",
        "redis logs:User.admin",
        "job User.admin",
        "origin 10.0.0.1:5000 worker1 pid 101",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want}: {labels:?}");
    }
    let pos = |p: &Picker, l: &str| p.shown_labels().iter().position(|x| x == l);
    // Redis channels come after the socket peers.
    assert!(
        pos(&picker, "origin 10.0.0.2:5000 worker2 pid 102") < pos(&picker, "redis list logbook")
    );

    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let theme = Theme::plain("plain");
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    assert!(picker.work.lines_built <= 36, "{:?}", picker.work);
    insta::assert_snapshot!("picker_redis_groups", screen(&term));

    // Unfolding scores nothing and rebuilds nothing; the members come newest first.
    let group = pos(&picker, "job job_* (10,000 jobs)").unwrap();
    for _ in 0..group {
        picker.on_event(&key(KeyCode::Down), &ch);
    }
    let before = picker.work;
    picker.on_event(&key(KeyCode::Right), &ch);
    assert_eq!(picker.work.scored, before.scored);
    assert_eq!(picker.work.rebuilds, before.rebuilds);
    let labels = picker.shown_labels();
    assert_eq!(labels.len(), before_len(&labels) + n);
    assert_eq!(labels[group + 1], format!("job job_{}", uuid(n - 1)));
    assert_eq!(labels[group + n], format!("job job_{}", uuid(0)));
    term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
        .unwrap();
    assert!(picker.work.lines_built - before.lines_built <= 36);
    // Left on the group folds it again.
    picker.on_event(&key(KeyCode::Left), &ch);
    assert!(picker.shown_labels().len() < 60);

    // A search finds one job inside the folded family; each key after the first scores
    // only the previous matches.
    let sought = uuid(4321);
    let mut last_shown = usize::MAX;
    for (k, c) in sought[..8].chars().enumerate() {
        let before = picker.work;
        typed(&mut picker, &ch, &c.to_string());
        let scored = (picker.work.scored - before.scored) as usize;
        if k == 0 {
            // Every row once: the jobs, the channels and the few others.
            assert!(scored <= 2 * n + 200, "{scored}");
        } else {
            assert!(scored <= last_shown, "key {k}: {scored} > {last_shown}");
        }
        last_shown = picker.shown_labels().len();
        term.draw(|f| picker.draw(f, f.area(), &theme, &ch, NOW))
            .unwrap();
        assert!(picker.work.lines_built - before.lines_built <= 36);
    }
    assert_eq!(picker.work.rebuilds, 1, "typing does not rebuild the list");
    let top = &picker.shown_labels()[..2];
    assert!(
        top.contains(&format!("job job_{sought}")),
        "{:?}",
        picker.shown_labels()
    );
}

/// The rows a folded list shows, from the unfolded one: all but the family's members.
fn before_len(labels: &[String]) -> usize {
    labels
        .iter()
        .filter(|l| !l.starts_with("job job_") || l.ends_with("jobs)"))
        .count()
}

#[test]
fn choosing_the_job_family_narrows_the_pane_to_exactly_its_records() {
    use logtui::tui::App;
    use logtui::tui::keymap::KeyMap;
    use logtui::tui::status::{Feeding, StatusBar};
    use logtui::tui::theme::Themes;
    let mut recs = smarter(40);
    // Names that look like the family but are not in it.
    for (i, job) in ["job-9", "jobs_1", "xjob_2", "Job_3"]
        .into_iter()
        .enumerate()
    {
        let mut r = varied(i);
        r.job = Some(job.into());
        recs.push(r);
    }
    let h = store_with(recs);
    let mut ch = Channels::start(&h.path);
    settle(&mut ch);
    let at = Picker::new(&ch)
        .shown_labels()
        .iter()
        .position(|l| l == "job job_* (40 jobs)")
        .expect("the family is one row");

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
    let mut term = Terminal::new(TestBackend::new(120, 80)).unwrap();
    app.on_event(key(KeyCode::Char('c')));
    let start = Instant::now();
    loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        let s = screen(&term);
        if s.contains("job job_* (40 jobs)")
            && s.contains(&format!("channels: {} records", h.rows()))
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{s}");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..at {
        app.on_event(key(KeyCode::Down));
    }
    app.on_event(key(KeyCode::Enter));
    let f = app.focused().unwrap().filter().clone();
    assert_eq!(f.job_globs, ["job_*"]);
    assert!(f.jobs.is_empty());
    let start = Instant::now();
    let shown = loop {
        app.on_replies();
        term.draw(|f| app.draw(f)).unwrap();
        let s = screen(&term);
        if s.contains("job:job_*") && !s.contains("reading…") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{s}");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Exactly the family's records: what a GROUP BY over the jobs starting `job_` counts,
    // and what the store and the in-memory filter agree on.
    let want: u64 = group_by(&h, "job")
        .iter()
        .filter(|(j, _)| j.starts_with("job_"))
        .map(|(_, c)| c.0)
        .sum();
    assert_eq!(want, 40);
    assert_eq!(h.count(&f), want);
    let compiled = f.compile().unwrap();
    let stored = h.seen().stored.clone();
    let matched: Vec<&Record> = stored
        .iter()
        .filter(|(id, r)| compiled.matches(*id, r))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(matched.len() as u64, want);
    assert!(
        matched
            .iter()
            .all(|r| r.job.as_deref().is_some_and(|j| j.starts_with("job_")))
    );
    assert_eq!(app.focused().unwrap().held_rows() as u64, want);
    assert_eq!(shown.matches("redis record").count(), 40, "{shown}");
}
