//! `logtui`, `logtui demo` and `logtui view`: the UI over the store, fed by this process's
//! own recorder (the first two) or by following a store another process writes (`view`).
//!
//! Everything that can fail at start (the ports, the store, the themes and keys) is done
//! before the terminal switches to the UI, so its error prints as a plain sentence.

use crate::cmd::demo;
use crate::cmd::record::{RecordOptions, Recorder, Stopped, print_routes, print_summary};
use crate::config::Config;
use crate::store::{self, Feed, FeedLimits};
use crate::tui::keymap::KeyMap;
use crate::tui::reader::Reader;
use crate::tui::status::{Feeding, StatusBar};
use crate::tui::theme::{Themes, user_theme_dir};
use crate::tui::{self, App, TimeMode};
use anyhow::{Context, Result, anyhow};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Which UI `run` opens.
pub enum Mode {
    /// `logtui`: record as `logtui record` does, and show it.
    Record,
    /// `logtui demo`: record records a built-in generator sends through the real listeners.
    Demo { rate: f64 },
}

/// Batches the queue in front of the writer holds under the UI (see `run`).
const UI_QUEUE_BATCHES: usize = 8;

/// Records the demo's store keeps: a few minutes of a busy demo, a few megabytes on disk.
const DEMO_KEEP: u64 = 200_000;

/// The listeners' runtime: two workers, one per core of the machine this was measured on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the listeners' runtime")
}

/// What the UI keeps of a subscription: at 100,000 records a second (about 56 MB/s of
/// records) a frame's worth is 2 MB, so 4 MiB is two frames of slack; past it the UI is told
/// what it missed and reads the tail back from the store, so a stalled screen holds little
/// (measured: this and the shorter store queue keep a flooded UI near 100 MB, README).
fn ui_feed_limits() -> FeedLimits {
    FeedLimits {
        max_batches: 32,
        max_bytes: 4 << 20,
    }
}

/// Builds the app's parts that need no terminal: keys, themes, time mode, from `[ui]`.
fn app_parts(cfg: &Config) -> Result<(KeyMap, Themes, bool, TimeMode)> {
    if !tui::terminal::is_terminal() {
        anyhow::bail!(tui::terminal::NOT_A_TERMINAL);
    }
    let keys = KeyMap::from_config(&cfg.ui.keys).map_err(|e| anyhow!("invalid [ui.keys]: {e}"))?;
    let colour = crate::term::use_colour(true);
    let (mut themes, errors) = Themes::load(user_theme_dir().as_deref(), !colour);
    for e in errors {
        tracing::warn!("{e}");
    }
    themes
        .select(&cfg.ui.theme)
        .map_err(|e| anyhow!("invalid [ui] theme: {e}"))?;
    Ok((keys, themes, colour, cfg.ui.time))
}

/// `logtui` and `logtui demo`.
pub fn run(mut cfg: Config, mode: Mode) -> Result<()> {
    let rt = runtime()?;
    if let Mode::Demo { .. } = mode {
        // Free loopback ports and a store of its own: a demo never collides with a real
        // recorder, nor mixes made-up records into a real store.
        for l in [
            &mut cfg.listen.tcp,
            &mut cfg.listen.udp,
            &mut cfg.listen.http,
        ] {
            *l = "127.0.0.1:0".into();
        }
        let dir = cfg.db.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        cfg.db = dir.join("demo.db");
        // Kept between runs, so `logtui query --db …/demo.db` works after it, but bounded.
        cfg.store.retention_max_rows = DEMO_KEEP;
        // The demo's records are made up, and its store its own: never mix a real Redis in.
        cfg.redis.url = "off".into();
    }
    let (keys, themes, colour, time) = app_parts(&cfg)?;
    // The UI shares the two cores with the store: under a flood the queue in front of the
    // writer fills, and at 32 batches of 1 MiB it alone would take the UI past its 100 MB.
    // TCP senders wait when it is full (nothing is lost), so the UI keeps a shorter one.
    cfg.store.queue_batches = cfg.store.queue_batches.min(UI_QUEUE_BATCHES);
    // Subscribed before the listeners start, so the first record cannot be missed.
    let feed = Feed::new();
    let sub = feed.subscribe("ui", ui_feed_limits());
    let recorder = rt.block_on(Recorder::start_with_feed(
        &cfg,
        RecordOptions { interactive: true },
        feed,
    ))?;
    let generator = match mode {
        Mode::Demo { rate } => {
            let a = recorder.addrs();
            Some(
                demo::spawn_generator(
                    demo::DemoTargets {
                        tcp: a.tcp,
                        udp: a.udp,
                        http: a.http,
                    },
                    rate,
                )
                .context("cannot start the demo generator")?,
            )
        }
        Mode::Record => None,
    };
    let reader = Reader::open(&cfg.db).map_err(|e| anyhow!(e))?;
    let mut status = StatusBar::new(
        Feeding::Live {
            stats: recorder.stats.clone(),
            listening: recorder.listening().to_vec(),
        },
        cfg.db.display().to_string(),
    );
    status.routes = recorder.route_status();
    let stop = tui::terminal::watch_signals().context("cannot watch signals")?;
    // logtui's own log goes into the store while the UI runs, not onto the screen.
    let log_done = Arc::new(AtomicBool::new(false));
    let log_thread = tui::log::to_store(recorder.intake(), log_done.clone())
        .context("cannot start the log thread")?;
    let mut app = App::new(keys, themes, colour, time, status, reader);
    app.theme_watch = theme_watcher();
    app.job_history = job_history(&cfg, &rt, recorder.intake());
    let shown = tui::run(app, &sub, &stop);
    drop(sub);
    if let Some(g) = generator {
        g.stop();
    }
    log_done.store(true, Ordering::SeqCst);
    let _ = log_thread.join();
    let drain = Duration::try_from_secs_f64(cfg.record.drain_timeout).unwrap_or(Duration::ZERO);
    let stats = recorder.stats.clone();
    let routes = recorder.route_status();
    let stopped = rt.block_on(recorder.stop(drain));
    for line in tui::log::Ring::drain() {
        say(&format!("logtui: {line}"));
    }
    let crate::stats::Counts {
        received, stored, ..
    } = stats.senders();
    say(&format!(
        "logtui: {received} records received, {stored} stored while the UI ran; the store is {}",
        cfg.db.display()
    ));
    let stopped = stopped?;
    if received != stored || matches!(stopped, Stopped::LeftBehind) {
        print_summary(&stats);
    }
    if routes.dropped() > 0 {
        print_routes(&routes);
    }
    shown.map_err(|e| anyhow!(e))?;
    if let Stopped::LeftBehind = stopped {
        // A connection is stuck in work it cannot leave: waiting for the runtime would wait
        // for it. Everything queued is committed; leave as `logtui record` does.
        std::process::exit(0);
    }
    Ok(())
}

/// Where the picker's jobs get their history: the Redis streams beside their channels, when
/// this UI records from Redis (not in the demo, which never reads Redis). On a cluster, the
/// connection reads each stream from the node that owns its slot.
fn job_history(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    intake: crate::intake::Intake,
) -> Option<tui::JobHistory> {
    let url = cfg.redis.enabled()?.to_owned();
    let (db, limits, handle) = (cfg.db.clone(), cfg.limits.decode(), rt.handle().clone());
    Some(Box::new(move |job: &str| {
        let (url, job, db, intake) = (url.clone(), job.to_owned(), db.clone(), intake.clone());
        handle.spawn(async move {
            let done = async {
                let mut con = crate::source::redis::command_connection(&url).await?;
                crate::source::redis_history::backfill_job(&mut con, &job, &db, &intake, &limits)
                    .await
            };
            match done.await {
                Ok(n) => tracing::info!("job {job}: {n} records of its stream's history stored"),
                Err(e) => tracing::warn!("job {job}: its stream's history could not be read: {e}"),
            }
        });
    }))
}

/// `logtui view`: the UI over a store another process writes, read-only.
pub fn view(cfg: Config) -> Result<()> {
    let (keys, themes, colour, time) = app_parts(&cfg)?;
    let reader = Reader::open(&cfg.db)
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("cannot view the store at {}", cfg.db.display()))?;
    let last = newest_id(&cfg.db)?;
    let feed = Feed::new();
    let sub = feed.subscribe("ui", ui_feed_limits());
    let follower = store::follow::follow(&cfg.db, feed, last)?;
    let status = StatusBar::new(
        Feeding::View {
            how: match follower.how() {
                store::FollowMode::Notify => "watching",
                store::FollowMode::Polling => "polling",
            },
            last_change: None,
        },
        cfg.db.display().to_string(),
    );
    let stop = tui::terminal::watch_signals().context("cannot watch signals")?;
    let mut app = App::new(keys, themes, colour, time, status, reader);
    app.theme_watch = theme_watcher();
    let shown = tui::run(app, &sub, &stop);
    follower.stop();
    for line in tui::log::Ring::drain() {
        say(&format!("logtui: {line}"));
    }
    say(&format!("logtui: viewed {}", cfg.db.display()));
    shown.map_err(|e| anyhow!(e))
}

/// One line on stderr, if it is still there: after the terminal hung up it may not be, and
/// `eprintln!` would panic before the recorder's last flush.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A watcher on the user's theme folder, when there is one; a watcher that cannot start
/// only costs live reloading, so it is logged, not fatal.
fn theme_watcher() -> Option<crate::tui::theme::ThemeWatcher> {
    let dir = user_theme_dir()?;
    match crate::tui::theme::ThemeWatcher::new(&dir) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("themes will not reload live: {e}");
            None
        }
    }
}

/// The id of the newest record in the store (0 when empty): where following starts.
fn newest_id(db: &std::path::Path) -> Result<i64> {
    let conn = store::open_read_only(db)?;
    let mut last = 0;
    let newest = store::Filter {
        descending: true,
        limit: Some(1),
        ..store::Filter::default()
    };
    store::for_each(&conn, &newest, |id, _| last = id)?;
    Ok(last)
}
