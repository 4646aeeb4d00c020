//! The cost of one UI frame at 200×60: the app as `logtui view` assembles it, over a store,
//! drawn into ratatui's `TestBackend` (layout, rows, styles and the cell diff; no terminal I/O).
//!
//! The budget is 5 ms a frame. The store's size does not enter: a pane draws the
//! screenful it holds, so a small store built here stands for any. `benches/ui.py` times the
//! same screen end to end in a real pseudo-terminal.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use logtui::config::{StoreConfig, TimeMode};
use logtui::intake::{Batcher, Intake};
use logtui::record::{ERROR, INFO, Record, SourceKind, WARNING};
use logtui::stats::Stats;
use logtui::store::Feed;
use logtui::tui::App;
use logtui::tui::keymap::KeyMap;
use logtui::tui::reader::Reader;
use logtui::tui::status::{Feeding, StatusBar};
use logtui::tui::theme::Themes;
use logtui::value::Value;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// The allocator the binary uses, so the figures match it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COLS: u16 = 200;
const ROWS: u16 = 60;
/// Enough for several screens in every direction; more would only slow the set-up.
const RECORDS: usize = 20_000;

/// make_frames.py's mix: HTTP lines, logins, batches, a WARNING with extras every 10th
/// record and an ERROR with a traceback every 50th.
fn record(i: usize, base: f64) -> Record {
    let mut r = Record::new(SourceKind::Tcp, format!("127.0.0.1:{}", 40000 + i % 4));
    r.created = base + i as f64 * 1e-3;
    r.process = Some(4000);
    r.process_name = Some("MainProcess".into());
    r.thread_name = Some("MainThread".into());
    r.set_level(INFO);
    if i % 50 == 49 {
        r.logger = "app.payments".into();
        r.set_level(ERROR);
        r.message = format!("checkout failed for order {}", i * 7919 % 1_000_000);
        r.exc_text = Some(
            "Traceback (most recent call last):\n  File \"/srv/app/pay.py\", line 71, in checkout\n    \
             charge_card(order)\n  File \"/srv/app/pay.py\", line 66, in charge_card\n    \
             return order[\"card\"][\"token\"]\nKeyError: 'token'"
                .into(),
        );
    } else if i % 10 == 9 {
        r.logger = "app.db".into();
        r.set_level(WARNING);
        r.message = format!("slow query on orders took {}.{:02}s", i % 5, i % 100);
        r.extra = vec![
            ("user_id".into(), Value::Int((i * 31 % 100_000) as i64)),
            ("latency_ms".into(), Value::Float((i % 5000) as f64 + 0.5)),
        ];
    } else if i.is_multiple_of(3) {
        r.logger = "app.auth".into();
        r.message = format!("user alice logged in from 10.0.{}.{}", i % 256, i * 7 % 256);
    } else {
        r.logger = "app.http".into();
        r.message = format!(
            "GET /api/v1/orders/{} 200 {}.{}ms",
            i % 99_999,
            i % 250,
            i % 10
        );
    }
    r
}

fn fill(path: &std::path::Path) {
    let cfg = StoreConfig::default();
    let stats = Arc::new(Stats::default());
    let (intake, outlet) = Intake::new(cfg.queue_batches, stats.clone());
    let handle = logtui::store::persister::spawn(path, &cfg, outlet, stats, Feed::new())
        .expect("spawn persister");
    let base = logtui::record::now_epoch() - 3600.0;
    let mut b = Batcher::default();
    let mut batches = Vec::new();
    for i in 0..RECORDS {
        if let Some(full) = b.push(record(i, base)) {
            batches.push(full);
        }
    }
    if !b.is_empty() {
        batches.push(b.take());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for b in batches {
            assert!(intake.submit(b).await, "persister went away");
        }
    });
    handle.join().expect("persister");
}

/// Draws and hands the reader's pages to the app until the screen shows the newest record.
fn settle(app: &mut App, terminal: &mut Terminal<TestBackend>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        app.on_replies();
        terminal.draw(|f| app.draw(f)).expect("draw");
        let screen = format!("{:?}", terminal.backend().buffer());
        if screen.contains(want) && !screen.contains("reading") {
            return;
        }
        assert!(Instant::now() < deadline, "the pane never showed {want:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn key(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn bench_render(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("render.db");
    fill(&db);
    let (themes, errors) = Themes::load(None, false);
    assert!(errors.is_empty(), "built-in themes: {errors:?}");
    let status = StatusBar::new(
        Feeding::View {
            how: "watching",
            last_change: None,
        },
        db.display().to_string(),
    );
    let reader = Reader::open(&db).expect("reader");
    let mut app = App::new(
        KeyMap::defaults(),
        themes,
        true,
        TimeMode::Local,
        status,
        reader,
    );
    let mut terminal = Terminal::new(TestBackend::new(COLS, ROWS)).expect("terminal");
    let newest = record(RECORDS - 1, 0.0).message;
    settle(&mut app, &mut terminal, &newest);

    let mut g = c.benchmark_group("ui_render");
    // Each iteration is a full redraw: a frame after scrolling a screen changes every cell,
    // and clearing makes ratatui's diff compare against an empty buffer, as then.
    g.bench_function("frame 200x60, full redraw", |b| {
        b.iter(|| {
            terminal.clear().expect("clear");
            terminal.draw(|f| app.draw(f)).expect("draw");
            black_box(terminal.backend().buffer().area);
        })
    });
    // The same screen with a search highlighting a word in a third of its rows.
    for ch in "/api".chars() {
        app.on_event(key(KeyCode::Char(ch)));
    }
    app.on_event(key(KeyCode::Enter));
    settle(&mut app, &mut terminal, "/api");
    g.bench_function("frame 200x60, full redraw, search highlighted", |b| {
        b.iter(|| {
            terminal.clear().expect("clear");
            terminal.draw(|f| app.draw(f)).expect("draw");
            black_box(terminal.backend().buffer().area);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_render);
criterion_main!(benches);
