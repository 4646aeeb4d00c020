//! `logtui record`: the listeners and the store, no UI. Stops on SIGINT/SIGTERM after draining
//! open connections, then prints a per-source summary to stderr and exits 0.
//!
//! The listeners and the store are a [`Recorder`], which the UI starts in-process too; `run`
//! is the headless loop around one: signals, the "listening on" line, stats, `--echo`.

use crate::cmd::db_path;
use crate::config::Config;
use crate::intake::Intake;
use crate::sink::{Routes, Sinks};
use crate::source::conns::ConnLimits;
use crate::source::{Phase, Shared, ShutdownController, http, redis, tcp, udp};
use crate::stats::Stats;
use crate::store::alerts::{ALERT_LOGGER, is_alert};
use crate::store::persister::{self, PersisterHandle};
use crate::store::{self, Feed, FeedItem, FeedLimits, Filter, Subscription};
use crate::term::{escape_controls, escape_json_line};
use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How a [`Recorder`] is run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// Someone is watching (the UI): the flush interval is capped at [`INTERACTIVE_FLUSH`]
    /// seconds so a record shows within 300 ms, and nothing is printed to stdout or stderr
    /// (the UI shows what `record` would print).
    pub interactive: bool,
}

/// The longest flush interval an interactive session uses, in seconds: a record a Python
/// handler sends must show in a following pane within 300 ms, and a flush of a few records
/// every tenth of a second costs the store little.
pub const INTERACTIVE_FLUSH: f64 = 0.1;

/// The addresses the listeners actually bound (`None` for one that is off or on a unix socket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenAddrs {
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

/// How [`Recorder::stop`] ended.
#[must_use = "after LeftBehind the process must exit rather than return: its runtime cannot shut down"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection ended and the store's writer committed everything and stopped.
    Clean,
    /// A connection did not end even after Stop (work that never awaits). Everything queued
    /// was committed, but that task still holds the queue, so the writer was not joined and
    /// the async runtime cannot shut down around it: print the summary and
    /// `std::process::exit(0)`, as `logtui record` does.
    LeftBehind,
}

/// The listeners and the store's writer, running: what `logtui record` and the UI share.
pub struct Recorder {
    pub stats: Arc<Stats>,
    /// Every committed batch is published here.
    pub feed: Feed,
    pub db: PathBuf,
    listening: Vec<String>,
    addrs: ListenAddrs,
    shared: Shared,
    intake: Intake,
    persister: PersisterHandle,
    ctl: ShutdownController,
    interactive: bool,
    /// The `[[route]]` forwarders; drained after the store's writer stops.
    sinks: Option<Sinks>,
    routes: Routes,
    /// How long the forwarders may keep sending what they hold at shutdown.
    sink_drain: Duration,
}

impl Recorder {
    /// Binds the listeners, opens the store and starts them, with a new [`Feed`]. Ports are
    /// bound before the store opens, so a taken port leaves no new store behind, and a store
    /// that cannot open leaves no new files.
    pub async fn start(cfg: &Config, opts: RecordOptions) -> Result<Recorder> {
        Recorder::start_with_feed(cfg, opts, Feed::new()).await
    }

    /// [`start`](Recorder::start) publishing to `feed`, so a subscriber made before it sees
    /// every record of the session, the first included.
    pub async fn start_with_feed(
        cfg: &Config,
        opts: RecordOptions,
        feed: Feed,
    ) -> Result<Recorder> {
        // Settings first (the config was validated as it loaded): nothing is taken yet.
        let auth = parse_auth(&cfg.listen.http_auth)?;
        let (tcp_addr, udp_addr, http_addr) = (
            enabled(&cfg.listen.tcp),
            enabled(&cfg.listen.udp),
            enabled(&cfg.listen.http),
        );
        let redis_url = cfg.redis.enabled();
        if tcp_addr.is_none() && udp_addr.is_none() && http_addr.is_none() && redis_url.is_none() {
            bail!("every listener is off: enable at least one of --tcp, --udp, --http, --redis");
        }
        let idle_after = seconds("idle_after", cfg.listen.idle_after)?;
        let sink_drain = seconds("drain_timeout", cfg.record.drain_timeout)?;
        let drop_rules = crate::sink::dispatch::drop_rules(cfg)?;
        if opts.interactive
            && let Some(i) = cfg
                .route
                .iter()
                .position(|r| r.jsonl.as_deref() == Some("-"))
        {
            bail!(
                "route[{i}] writes JSON lines to stdout (jsonl = \"-\"), where the UI draws; give it a file, or run logtui record"
            );
        }
        db_path::check_writable(&cfg.db)?;

        // The ports next, before the store: a taken port must not leave a new store behind.
        let mut listening = Vec::new();
        let mut addrs = ListenAddrs::default();
        let tcp_l = match tcp_addr {
            Some(addr) => {
                let l = tcp::StreamListener::bind(addr)
                    .await
                    .map_err(|e| bind_error("SocketHandler (tcp)", "--tcp", addr, e))?;
                listening.push(format!("tcp {}", l.local_addr()));
                if let tcp::StreamListener::Tcp(t) = &l {
                    addrs.tcp = t.local_addr().ok();
                }
                Some(l)
            }
            None => None,
        };
        let udp_s = match udp_addr {
            Some(addr) => {
                let s = tokio::net::UdpSocket::bind(addr)
                    .await
                    .map_err(|e| bind_error("DatagramHandler (udp)", "--udp", addr, e))?;
                let a = s.local_addr()?;
                listening.push(format!("udp {a}"));
                addrs.udp = Some(a);
                Some(s)
            }
            None => None,
        };
        let http_l = match http_addr {
            Some(addr) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| bind_error("HTTPHandler (http)", "--http", addr, e))?;
                let a = l.local_addr()?;
                listening.push(format!("http {a}"));
                addrs.http = Some(a);
                Some(l)
            }
            None => None,
        };
        // Redis is not bound but connected to, and only after the store is open: a Redis that
        // is down must not keep logtui from starting (the source retries by itself).
        if let Some(url) = redis_url {
            listening.push(format!("redis {}", redis::redact(url)));
        }

        let tcp_conns = ConnLimits {
            max: cfg.listen.tcp_max_connections,
            per_peer: cfg.listen.tcp_max_per_peer,
            idle_after,
        };
        let http_conns = ConnLimits {
            max: cfg.listen.http_max_connections,
            per_peer: cfg.listen.http_max_per_peer,
            idle_after,
        };
        let mut store_cfg = cfg.store.clone();
        if opts.interactive {
            store_cfg.flush_interval = store_cfg.flush_interval.min(INTERACTIVE_FLUSH);
        }
        store_cfg.drop_rules = drop_rules.clone();
        let stats = Arc::new(Stats::default());
        let (intake, outlet) = Intake::new(store_cfg.queue_batches, stats.clone());
        let created = db_path::Created::before(&cfg.db);
        let persister =
            match persister::spawn(&cfg.db, &store_cfg, outlet, stats.clone(), feed.clone()) {
                Ok(p) => p,
                Err(e) => {
                    // A failed start leaves nothing new behind.
                    created.undo();
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot open the store at {}", cfg.db.display())));
                }
            };

        // Subscribed before any listener runs, so the first record is forwarded too.
        let sinks = Sinks::start(cfg, &feed, cfg.db.clone(), &drop_rules)?;
        let routes = sinks.routes().clone();
        let ctl = ShutdownController::new();
        // Before the listeners start, so a failure here leaves only this queue's handle to drop.
        if let Err(e) = start_lists(cfg, &intake, &ctl, &mut listening) {
            drop(intake);
            let _ = tokio::task::spawn_blocking(move || persister.join()).await;
            created.undo();
            return Err(e);
        }
        let limits = cfg.limits.decode();
        // One budget for the big frames and bodies of every listener together, and one pool of
        // decoder threads for the big ones.
        let shared = Shared::new(cfg.limits.max_buffered);
        if let Some(l) = tcp_l {
            tokio::spawn(tcp::serve(
                l,
                limits,
                shared.clone(),
                tcp_conns,
                intake.clone(),
                ctl.handle(),
            ));
        }
        if let Some(s) = udp_s {
            tokio::spawn(udp::serve(
                s,
                limits,
                shared.pool.clone(),
                intake.clone(),
                ctl.handle(),
            ));
        }
        if let Some(l) = http_l {
            tokio::spawn(http::serve_with(
                l,
                auth,
                limits,
                shared.clone(),
                http_conns,
                intake.clone(),
                ctl.handle(),
            ));
        }
        if let Some(url) = redis_url {
            redis::spawn(
                redis::Settings {
                    url: url.to_owned(),
                    names: match cfg.redis.channels.is_empty() {
                        true => vec![crate::config::DEFAULT_REDIS_CHANNELS.to_owned()],
                        false => cfg.redis.channels.clone(),
                    },
                    shards: cfg.redis.shard_channels.clone(),
                    skip: crate::sink::forwarded_channels(cfg),
                    db: cfg.db.clone(),
                },
                limits,
                intake.clone(),
                ctl.handle(),
                ctl.handle(),
            );
        }
        Ok(Recorder {
            stats,
            feed,
            db: cfg.db.clone(),
            listening,
            addrs,
            shared,
            intake,
            persister,
            ctl,
            interactive: opts.interactive,
            sinks: Some(sinks),
            routes,
            sink_drain,
        })
    }

    /// A handle on the queue to the store, for records logtui makes itself (its own log under
    /// the UI). Drop it before [`Recorder::stop`]: the writer ends when the last handle goes.
    pub fn intake(&self) -> Intake {
        self.intake.clone()
    }

    /// What listens, as the "listening on" line names it: `tcp 127.0.0.1:9020`, `udp …`.
    pub fn listening(&self) -> &[String] {
        &self.listening
    }

    pub fn addrs(&self) -> ListenAddrs {
        self.addrs
    }

    /// Bytes of big frames and bodies held against the byte budget (`limits.max_buffered`).
    pub fn buffered_bytes(&self) -> usize {
        self.shared.budget.held()
    }

    /// One status line per `[[route]]`: its target, state and counters (for the stats lines
    /// and the exit summary).
    pub fn routes(&self) -> Vec<String> {
        self.routes.lines()
    }

    /// The routes' live counters, which outlive the recorder (the status bar, the summary).
    pub fn route_status(&self) -> Routes {
        self.routes.clone()
    }

    /// Stops: no new connections, open ones drained for up to `drain`, then told to stop;
    /// the store's writer commits what it holds and ends. The summary is the caller's to
    /// print ([`print_summary`]), also when this fails.
    pub async fn stop(mut self, drain: Duration) -> Result<Stopped> {
        match self.drain(drain).await {
            Some(left) => left,
            None => self.finish().await,
        }
    }

    /// Drains the connections. `Some` when a task would not end even after Stop: then
    /// everything queued has been committed (or the error says it was not) and the writer
    /// cannot be joined.
    async fn drain(&mut self, drain: Duration) -> Option<Result<Stopped>> {
        if !self.interactive {
            eprintln!(
                "logtui: stopping: no new connections; draining open ones for up to {}s",
                drain.as_secs_f64()
            );
        }
        self.ctl.set(Phase::Draining);
        if tokio::time::timeout(drain, self.ctl.wait()).await.is_ok() {
            return None;
        }
        self.ctl.set(Phase::Stop);
        if tokio::time::timeout(STOP_GRACE, self.ctl.wait())
            .await
            .is_ok()
        {
            return None;
        }
        // A task that ignores Stop is stuck in work it cannot leave (a decode on an async
        // worker). Commit everything already queued, report, and leave without it: it holds a
        // handle on the queue, so waiting for the store's writer would wait for it.
        let committed = tokio::time::timeout(STOP_GRACE, self.intake.flush()).await;
        tracing::warn!("a connection did not end at the drain deadline; exiting without it");
        // What was committed goes on to the routes' targets too, for a moment; the rest is
        // counted as unsent in their lines.
        if let Some(s) = self.sinks.take() {
            let _ = tokio::task::spawn_blocking(move || s.finish(STOP_GRACE)).await;
        }
        Some(match committed {
            Ok(true) => Ok(Stopped::LeftBehind),
            _ => Err(anyhow!(
                "the store did not confirm its last records before exit"
            )),
        })
    }

    /// Closes the queue and waits for the writer's final flush.
    async fn finish(self) -> Result<Stopped> {
        let Recorder {
            intake,
            persister,
            sinks,
            sink_drain,
            ..
        } = self;
        // The last Intake goes: the persister flushes what it holds and ends.
        drop(intake);
        let joined = tokio::task::spawn_blocking(move || persister.join())
            .await
            .context("the store's writer thread failed");
        // Everything committed was published: the forwarders send what they hold, in time.
        if let Some(s) = sinks {
            let _ = tokio::task::spawn_blocking(move || s.finish(sink_drain)).await;
        }
        joined?.context("the store's final flush failed")?;
        Ok(Stopped::Clean)
    }
}

/// Whether Redis lists are to be consumed (`--list-key` with Redis on).
fn lists_on(cfg: &Config) -> bool {
    cfg.redis.enabled().is_some() && !cfg.redis.list_keys.is_empty()
}

/// Starts one consumer per `--list-key`, once the store is open (they read their positions
/// from it), and names them on the "listening on" line.
fn start_lists(
    cfg: &Config,
    intake: &Intake,
    ctl: &ShutdownController,
    listening: &mut Vec<String>,
) -> Result<()> {
    let Some(url) = cfg.redis.enabled().filter(|_| lists_on(cfg)) else {
        return Ok(());
    };
    let lists = crate::source::redis_list::start_all(
        url,
        &cfg.redis.list_keys,
        &cfg.db,
        intake,
        cfg.limits.decode(),
        || ctl.handle(),
    )
    .context("cannot consume the Redis lists")?;
    listening.extend(lists);
    Ok(())
}

/// Queue limits for `--echo` and the ALERT lines: generous, since stdout may be a slow pipe
/// for a while, and bounded, since what does not fit is read back from the store.
const ECHO_LIMITS: FeedLimits = FeedLimits {
    max_batches: 256,
    max_bytes: 64 << 20,
};
/// How long the echo thread waits for a batch before looking whether it should end.
const ECHO_WAIT: Duration = Duration::from_millis(50);

pub async fn run(cfg: Config) -> Result<()> {
    let every = seconds("stats_interval", cfg.record.stats_interval)?;
    let drain = seconds("drain_timeout", cfg.record.drain_timeout)?;
    let feed = Feed::new();
    // Subscribed before the listeners start, so the first record is echoed too. Alerts come
    // only from thresholds: without them and without --echo, nobody subscribes and the
    // store publishes to no one.
    let printer = match cfg.record.echo || !cfg.store.thresholds.is_empty() {
        true => Some(Printer::spawn(
            feed.subscribe("echo", ECHO_LIMITS),
            cfg.db.clone(),
            cfg.record.echo,
        )?),
        false => None,
    };
    let mut rec = match Recorder::start_with_feed(&cfg, RecordOptions::default(), feed).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(p) = printer {
                p.finish();
            }
            return Err(e);
        }
    };
    // Watch the signals before saying we listen: a SIGTERM sent the moment the line appears
    // must start a drain, not kill the process with the default action.
    let mut signals = Signals::watch()?;
    // Tests and scripts wait for this line; it names the ports actually bound.
    eprintln!(
        "logtui: recording to {}; listening on {}",
        cfg.db.display(),
        rec.listening().join(", ")
    );

    let routes = rec.route_status();
    let ticker = (!every.is_zero()).then(|| {
        let stats = rec.stats.clone();
        let routes = routes.clone();
        let shared = rec.shared.clone();
        let max_buffered = cfg.limits.max_buffered;
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            t.tick().await;
            loop {
                t.tick().await;
                // The byte budget's use is shown too: it is the one bound a stalled big
                // sender holds that no record count reveals.
                let held = shared.budget.held();
                eprintln!(
                    "logtui: stats: {}  buffered {held} of {max_buffered} bytes",
                    stats.compact_line()
                );
                for line in routes.lines() {
                    eprintln!("logtui: route {line}");
                }
            }
        })
    });

    signals.next().await;
    // A second Ctrl-C means "now": leave without draining, but say so.
    let pending = rec.stats.clone();
    tokio::spawn(async move {
        signals.next().await;
        eprintln!(
            "logtui: second signal: exiting without draining; {} received records not yet stored are abandoned",
            pending.in_flight()
        );
        std::process::exit(130);
    });
    let stats = rec.stats.clone();
    let stopped = match rec.drain(drain).await {
        Some(left) => left,
        None => {
            if let Some(t) = ticker {
                t.abort();
            }
            rec.finish().await
        }
    };
    // Everything committed was published before the writer answered: print the rest.
    if let Some(p) = printer {
        p.finish();
    }
    // The summary matters most when something went wrong: print it first.
    print_summary(&stats);
    print_routes(&routes);
    match stopped? {
        Stopped::Clean => Ok(()),
        Stopped::LeftBehind => std::process::exit(0),
    }
}

/// `--echo` and the ALERT lines: a feed subscriber on its own thread, so a slow stdout
/// holds up only itself. What it misses it reads back from the store by id, so the echo
/// still shows every record, in order.
struct Printer {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Printer {
    fn spawn(sub: Subscription, db: PathBuf, echo: bool) -> Result<Printer> {
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let thread = std::thread::Builder::new()
            .name("logtui-echo".into())
            .spawn(move || {
                let mut store = None;
                loop {
                    let item = match d2.load(Ordering::SeqCst) {
                        true => sub.try_recv(),
                        false => sub.recv_timeout(ECHO_WAIT),
                    };
                    match item {
                        Some(FeedItem::Batch(b)) => {
                            print_rows(b.rows.iter().map(|(id, r)| (*id, r)), echo);
                            for (_, a) in b.alert_rows() {
                                print_alert(a);
                            }
                        }
                        Some(FeedItem::Missed {
                            first_id, last_id, ..
                        }) => {
                            if let Err(e) = catch_up(&mut store, &db, first_id, last_id, echo) {
                                eprintln!(
                                    "logtui: {}: records {first_id} to {last_id} could not be read back from the store: {}",
                                    if echo { "--echo" } else { "alerts" },
                                    crate::term::error_text(e.as_ref())
                                );
                            }
                        }
                        None if d2.load(Ordering::SeqCst) => return,
                        None => {}
                    }
                }
            })
            .context("cannot start the --echo thread")?;
        Ok(Printer { done, thread })
    }

    /// Prints what is queued, then ends. Call once the store's writer has stopped (or
    /// confirmed its last flush), so everything it committed is queued.
    fn finish(self) {
        self.done.store(true, Ordering::SeqCst);
        if self.thread.join().is_err() {
            tracing::error!("the --echo thread panicked");
        }
    }
}

/// Prints `rows` as JSON lines on stdout, when echoing.
fn print_rows<'a>(rows: impl Iterator<Item = (i64, &'a crate::record::Record)>, echo: bool) {
    if !echo {
        return;
    }
    let mut out = std::io::stdout().lock();
    for (id, r) in rows {
        let _ = writeln!(out, "{}", escape_json_line(&r.to_json_line(id)));
    }
    let _ = out.flush();
}

fn print_alert(a: &crate::record::Record) {
    eprintln!("logtui: ALERT {}", escape_controls(&a.message));
}

/// Reads the ids `first..=last` the feed could not queue back from the store and prints
/// them as they would have been (only the alerts among them, unless echoing).
fn catch_up(
    store: &mut Option<rusqlite::Connection>,
    db: &Path,
    first: i64,
    last: i64,
    echo: bool,
) -> Result<()> {
    let conn = match store {
        Some(c) => c,
        None => store.insert(store::open_read_only(db)?),
    };
    // Alerts are logtui's own records; without --echo, read nothing else.
    let f = Filter {
        logger: (!echo).then(|| ALERT_LOGGER.to_owned()),
        ..Filter::default()
    };
    store::for_each_page_between(conn, &f, first, last, |page| {
        print_rows(page.iter().map(|(id, r)| (*id, r)), echo);
        for (_, r) in page.iter().filter(|(_, r)| is_alert(r)) {
            print_alert(r);
        }
    })?;
    Ok(())
}

/// One sentence for a listener that cannot bind, naming the listener, its flag and the port,
/// and saying what usually causes it.
fn bind_error(what: &str, flag: &str, addr: &str, e: std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind::*;
    let why = match e.kind() {
        AddrInUse => format!(
            "the address is already in use (another logtui or another program has it; choose another port with {flag} HOST:PORT, or {flag} off)"
        ),
        PermissionDenied => {
            "permission denied (ports below 1024 need privileges; unix sockets need a writable directory)".to_owned()
        }
        AddrNotAvailable => "no interface on this machine has that address".to_owned(),
        _ => e.to_string(),
    };
    anyhow!("cannot listen for {what} on {addr}: {why}")
}

/// How long tasks get to end after the drain deadline. Every listener task answers Stop at its
/// next await, so this is only reached by work that never awaits.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// The per-source summary `record` prints on stderr when it stops.
pub fn print_summary(stats: &Stats) {
    // Written, not `eprintln!`ed: after the UI's terminal hung up, stderr may be gone, and
    // a panic there would lose the recorder's last flush.
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "logtui: summary");
    for line in stats.summary_lines() {
        let _ = writeln!(err, "  {line}");
    }
}

/// The routes' lines under the summary, when there are routes.
pub fn print_routes(routes: &Routes) {
    let mut err = std::io::stderr().lock();
    for line in routes.lines() {
        let _ = writeln!(err, "  route {line}");
    }
}

/// A seconds setting as a `Duration`. Its range was checked when the config was validated
/// (`Config::validate`, the one home of that rule); this only refuses to panic on a value that
/// reached here unvalidated.
fn seconds(key: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| anyhow!("{key} is not a number of seconds ≥ 0: {v}"))
}

fn enabled(addr: &str) -> Option<&str> {
    let a = addr.trim();
    (!a.is_empty() && !a.eq_ignore_ascii_case("off")).then_some(a)
}

fn parse_auth(s: &str) -> Result<Option<(String, String)>> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.split_once(':') {
        Some((u, p)) => Ok(Some((u.to_owned(), p.to_owned()))),
        None => bail!("--http-auth must be user:password"),
    }
}

/// SIGTERM and SIGINT, watched from when this is made.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn watch() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
