//! `logtui record`: the listeners and the store, no UI. Stops on SIGINT/SIGTERM after draining
//! open connections, then prints a per-source summary to stderr and exits 0.

use crate::cmd::db_path;
use crate::config::Config;
use crate::intake::Intake;
use crate::source::conns::ConnLimits;
use crate::source::{Phase, Shared, ShutdownController, http, tcp, udp};
use crate::stats::Stats;
use crate::store::persister::{self, StoreEvent};
use crate::term::{escape_controls, escape_json_line};
use anyhow::{Context, Result, anyhow, bail};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(cfg: Config) -> Result<()> {
    // Settings first (the config was validated as it loaded): nothing is taken yet.
    let every = seconds("stats_interval", cfg.record.stats_interval)?;
    let drain = seconds("drain_timeout", cfg.record.drain_timeout)?;
    let auth = parse_auth(&cfg.listen.http_auth)?;
    let (tcp_addr, udp_addr, http_addr) = (
        enabled(&cfg.listen.tcp),
        enabled(&cfg.listen.udp),
        enabled(&cfg.listen.http),
    );
    if tcp_addr.is_none() && udp_addr.is_none() && http_addr.is_none() {
        bail!("every listener is off: enable at least one of --tcp, --udp, --http");
    }
    db_path::check_writable(&cfg.db)?;

    // The ports next, before the store: a taken port must not leave a new store behind.
    let mut listening = Vec::new();
    let tcp_l = match tcp_addr {
        Some(addr) => {
            let l = tcp::StreamListener::bind(addr)
                .await
                .map_err(|e| bind_error("SocketHandler (tcp)", "--tcp", addr, e))?;
            listening.push(format!("tcp {}", l.local_addr()));
            Some(l)
        }
        None => None,
    };
    let udp_s = match udp_addr {
        Some(addr) => {
            let s = tokio::net::UdpSocket::bind(addr)
                .await
                .map_err(|e| bind_error("DatagramHandler (udp)", "--udp", addr, e))?;
            listening.push(format!("udp {}", s.local_addr()?));
            Some(s)
        }
        None => None,
    };
    let http_l = match http_addr {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| bind_error("HTTPHandler (http)", "--http", addr, e))?;
            listening.push(format!("http {}", l.local_addr()?));
            Some(l)
        }
        None => None,
    };

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
    let echo = cfg.record.echo;
    let observer = Box::new(move |ev: StoreEvent<'_>| match ev {
        StoreEvent::Stored(rows) if echo => {
            let mut out = std::io::stdout().lock();
            for (id, r) in rows {
                let _ = writeln!(out, "{}", escape_json_line(&r.to_json_line(*id)));
            }
            let _ = out.flush();
        }
        StoreEvent::Stored(_) => {}
        StoreEvent::Alert(r) => {
            eprintln!("logtui: ALERT {}", escape_controls(&r.message));
        }
    });
    let created = db_path::Created::before(&cfg.db);
    let persister = match persister::spawn(&cfg.db, &cfg.store, outlet, stats.clone(), observer) {
        Ok(p) => p,
        Err(e) => {
            // A failed start leaves nothing new behind.
            created.undo();
            return Err(anyhow::Error::new(e)
                .context(format!("cannot open the store at {}", cfg.db.display())));
        }
    };

    let mut ctl = ShutdownController::new();
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
        let shared = shared.clone();
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
            }
        })
    });

    signals.next().await;
    // A second Ctrl-C means "now": leave without draining, but say so.
    let pending = stats.clone();
    tokio::spawn(async move {
        signals.next().await;
        eprintln!(
            "logtui: second signal: exiting without draining; {} received records not yet stored are abandoned",
            pending.in_flight()
        );
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

fn print_summary(stats: &Stats) {
    eprintln!("logtui: summary");
    for line in stats.summary_lines() {
        eprintln!("  {line}");
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
