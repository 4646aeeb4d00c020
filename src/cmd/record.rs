//! `logtui record`: the listeners and the store, no UI. Stops on SIGINT/SIGTERM after draining
//! open connections, then prints a per-source summary to stderr and exits 0.

use crate::config::Config;
use crate::intake::Intake;
use crate::source::conns::ConnLimits;
use crate::source::{Phase, Shared, ShutdownController, http, tcp, udp};
use crate::stats::Stats;
use crate::store::persister::{self, StoreEvent};
use crate::term::escape_controls;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(cfg: Config) -> Result<()> {
    // Settings first: a bad one is a startup error before any port is taken.
    let every = seconds("stats_interval", cfg.record.stats_interval)?;
    let drain = seconds("drain_timeout", cfg.record.drain_timeout)?;
    let idle_after = seconds("idle_after", cfg.listen.idle_after)?;
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
    let stats = Arc::new(Stats::default());
    let (intake, outlet) = Intake::new(cfg.store.queue_batches, stats.clone());

    // The store first: an unwritable store is a startup error, before any port is taken.
    let echo = cfg.record.echo;
    let observer = Box::new(move |ev: StoreEvent<'_>| match ev {
        StoreEvent::Stored(rows) if echo => {
            let mut out = std::io::stdout().lock();
            for (id, r) in rows {
                let _ = writeln!(out, "{}", r.to_json_line(*id));
            }
            let _ = out.flush();
        }
        StoreEvent::Stored(_) => {}
        StoreEvent::Alert(r) => {
            eprintln!("logtui: ALERT {}", escape_controls(&r.message));
        }
    });
    let persister = persister::spawn(&cfg.db, &cfg.store, outlet, stats.clone(), observer)
        .with_context(|| format!("cannot open the store at {}", cfg.db.display()))?;

    let mut ctl = ShutdownController::new();
    let limits = cfg.limits.decode();
    // One budget for the big frames and bodies of every listener together, and one pool of
    // decoder threads for the big ones.
    let shared = Shared::new(cfg.limits.max_buffered);
    let mut listening = Vec::new();
    if let Some(addr) = enabled(&cfg.listen.tcp) {
        let l = tcp::StreamListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for SocketHandler (tcp) on {addr}"))?;
        listening.push(format!("tcp {}", l.local_addr()));
        tokio::spawn(tcp::serve(
            l,
            limits,
            shared.clone(),
            tcp_conns,
            intake.clone(),
            ctl.handle(),
        ));
    }
    if let Some(addr) = enabled(&cfg.listen.udp) {
        let s = tokio::net::UdpSocket::bind(addr)
            .await
            .with_context(|| format!("cannot listen for DatagramHandler (udp) on {addr}"))?;
        listening.push(format!("udp {}", s.local_addr()?));
        tokio::spawn(udp::serve(
            s,
            limits,
            shared.pool.clone(),
            intake.clone(),
            ctl.handle(),
        ));
    }
    if let Some(addr) = enabled(&cfg.listen.http) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen for HTTPHandler (http) on {addr}"))?;
        listening.push(format!("http {}", l.local_addr()?));
        let auth = parse_auth(&cfg.listen.http_auth)?;
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
    if listening.is_empty() {
        bail!("every listener is off: enable at least one of --tcp, --udp, --http");
    }
    // Watch the signals before saying we listen: a SIGTERM sent the moment the line appears
    // must start a drain, not kill the process with the default action.
    let mut signals = Signals::watch()?;
    // Tests and scripts wait for this line; it names the ports actually bound.
    eprintln!(
        "logtui: recording to {}; listening on {}",
        cfg.db.display(),
        listening.join(", ")
    );

    let ticker = (!every.is_zero()).then(|| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            t.tick().await;
            loop {
                t.tick().await;
                eprintln!("logtui: stats: {}", stats.compact_line());
            }
        })
    });

    signals.next().await;
    // A second Ctrl-C means "now": leave without draining, but say so.
    tokio::spawn(async move {
        signals.next().await;
        eprintln!("logtui: second signal: exiting without draining; buffered records are lost");
        std::process::exit(130);
    });
    eprintln!(
        "logtui: stopping: no new connections; draining open ones for up to {}s",
        cfg.record.drain_timeout
    );
    ctl.set(Phase::Draining);
    if tokio::time::timeout(drain, ctl.wait()).await.is_err() {
        ctl.set(Phase::Stop);
        if tokio::time::timeout(STOP_GRACE, ctl.wait()).await.is_err() {
            // A task that ignores Stop is stuck in work it cannot leave (a decode on an async
            // worker). Commit everything already queued, report, and leave without it: it
            // holds a handle on the queue, so waiting for the store's writer would wait for it.
            let committed = tokio::time::timeout(STOP_GRACE, intake.flush()).await;
            tracing::warn!("a connection did not end at the drain deadline; exiting without it");
            print_summary(&stats);
            if !matches!(committed, Ok(true)) {
                bail!("the store did not confirm its last records before exit");
            }
            std::process::exit(0);
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    // The last Intake goes: the persister flushes what it holds and ends.
    drop(intake);
    let joined = tokio::task::spawn_blocking(move || persister.join()).await;
    // The summary matters most when something went wrong: print it first.
    print_summary(&stats);
    joined
        .context("the store's writer thread failed")?
        .context("the store's final flush failed")?;
    Ok(())
}

/// How long tasks get to end after the drain deadline. Every listener task answers Stop at its
/// next await, so this is only reached by work that never awaits.
const STOP_GRACE: Duration = Duration::from_secs(1);

fn print_summary(stats: &Stats) {
    eprintln!("logtui: summary");
    for line in stats.summary_lines() {
        eprintln!("  {line}");
    }
}

/// The longest span any seconds setting may have (a day): keeps `Duration` conversions
/// finite whatever a config file says.
const MAX_SECONDS: f64 = 86_400.0;

/// Reads a seconds setting, refusing what is not a finite, non-negative number.
fn seconds(key: &str, v: f64) -> Result<Duration> {
    if !(0.0..=MAX_SECONDS).contains(&v) {
        bail!("{key} must be between 0 and {MAX_SECONDS} seconds, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
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
