//! Runs the routes: one dispatcher thread reads the feed and pushes each matching record into
//! each sink's queue; one thread per sink sends its queue to its target, reconnecting with backoff.
//!
//! The dispatcher only matches and copies, so it keeps up with the store; what the feed could
//! not queue for it ([`FeedItem::Missed`]) it reads back from the store by id, so no record is
//! skipped for being committed in a burst. Drops happen in one place: a sink's full queue.

use super::queue::{IDLE_WAIT, Item, SinkQueue};
use super::{Backoff, SinkStatus, State, Target};
use crate::config::Config;
use crate::config::route::Action;
use crate::record::Record;
use crate::store::config::DropRule;
use crate::store::query::CompiledFilter;
use crate::store::{self, Feed, FeedItem, FeedLimits, Filter, Subscription};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The dispatcher's feed queue: roomy, since it only matches; bounded, since what does not fit
/// is read back from the store.
const FEED_LIMITS: FeedLimits = FeedLimits {
    max_batches: 256,
    max_bytes: 64 << 20,
};
/// How long the dispatcher waits for a batch before looking whether it should end.
const FEED_WAIT: Duration = Duration::from_millis(50);
/// Most records one send carries (one pipeline, one write).
const SEND_BATCH: usize = 256;
/// Most bytes of records one sink's queue holds, whatever its `queue` count says.
const QUEUE_BYTES: usize = 64 << 20;

/// Every route's counters and state, cheap to clone: what the status bar, the stats lines and
/// the exit summary read.
#[derive(Clone, Default)]
pub struct Routes {
    sinks: Vec<(Arc<SinkStatus>, Arc<SinkQueue>)>,
    drops: Vec<(String, Arc<AtomicU64>)>,
}

impl Routes {
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty() && self.drops.is_empty()
    }

    /// One line per route: `alerts: redis logs:alerts connected; matched 3, sent 3, queued 0, dropped 0`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (s, q) in &self.sinks {
            let mut line = format!(
                "{}: {} {}; matched {}, sent {}, queued {}, dropped {}",
                s.name,
                s.target,
                s.state().as_str(),
                s.matched.load(Relaxed),
                s.sent.load(Relaxed),
                q.len(),
                q.dropped.load(Relaxed)
            );
            let unsent = s.unsent.load(Relaxed);
            if unsent > 0 {
                line.push_str(&format!(", unsent at exit {unsent}"));
            }
            if s.state() == State::Reconnecting
                && let Some(e) = s.last_error()
            {
                line.push_str(&format!("; {e}"));
            }
            out.push(line);
        }
        for (name, hits) in &self.drops {
            out.push(format!(
                "{name}: drop before storing; dropped {} by rule",
                hits.load(Relaxed)
            ));
        }
        out
    }

    /// The forwarders in a few words for the status bar: `→ alerts ok, central retrying (12 dropped)`;
    /// `None` without forwarders.
    pub fn compact(&self) -> Option<String> {
        if self.sinks.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .sinks
            .iter()
            .map(|(s, q)| {
                let state = match s.state() {
                    State::Connected => "ok",
                    State::Reconnecting => "retrying",
                    State::Starting => "idle",
                    State::Stopped => "stopped",
                };
                match q.dropped.load(Relaxed) {
                    0 => format!("{} {state}", s.name),
                    n => format!("{} {state} ({n} dropped)", s.name),
                }
            })
            .collect();
        Some(format!("→ {}", parts.join(", ")))
    }

    /// Whether every forwarder is connected (or has had nothing to send) and none dropped.
    pub fn healthy(&self) -> bool {
        self.sinks.iter().all(|(s, q)| {
            matches!(s.state(), State::Connected | State::Starting) && q.dropped.load(Relaxed) == 0
        })
    }

    /// Records the forwarders dropped (full queues) and left unsent at exit, all together.
    pub fn dropped(&self) -> u64 {
        self.sinks
            .iter()
            .map(|(s, q)| q.dropped.load(Relaxed) + s.unsent.load(Relaxed))
            .sum()
    }
}

/// The `drop = true` routes as the store's drop rules, each matching as `logtui query` would.
pub fn drop_rules(cfg: &Config) -> Result<Vec<DropRule>> {
    let mut out = Vec::new();
    for (i, r) in cfg.route.iter().enumerate() {
        if !matches!(r.action(), Ok(Action::Drop)) {
            continue;
        }
        let f = compile(r.when.filter(), i)?;
        out.push(DropRule {
            name: r.label(i),
            drops: Arc::new(move |rec: &Record| f.matches(0, rec)),
            hits: Arc::new(AtomicU64::new(0)),
        });
    }
    Ok(out)
}

fn compile(f: Result<Filter, (&'static str, String)>, i: usize) -> Result<CompiledFilter> {
    let f = f.map_err(|(field, why)| anyhow::anyhow!("route[{i}].match.{field}: {why}"))?;
    f.compile()
        .with_context(|| format!("route[{i}].match cannot be used"))
}

/// The running forwarders.
pub struct Sinks {
    routes: Routes,
    done: Arc<AtomicBool>,
    deadline: Arc<OnceLock<Instant>>,
    dispatcher: Option<JoinHandle<()>>,
    writers: Vec<JoinHandle<()>>,
}

impl Sinks {
    /// Subscribes to `feed` and starts a thread per forwarding route (none without one). `drops`
    /// are the store's drop rules ([`drop_rules`]), listed with the routes.
    pub fn start(cfg: &Config, feed: &Feed, db: PathBuf, drops: &[DropRule]) -> Result<Sinks> {
        let mut routes = Routes {
            sinks: Vec::new(),
            drops: drops
                .iter()
                .map(|d| (d.name.clone(), d.hits.clone()))
                .collect(),
        };
        let done = Arc::new(AtomicBool::new(false));
        let deadline = Arc::new(OnceLock::new());
        let mut matchers = Vec::new();
        let mut writers = Vec::new();
        for (i, r) in cfg.route.iter().enumerate() {
            let target: Box<dyn Target> = match r.action() {
                Ok(Action::Redis(x)) => Box::new(super::redis::RedisTarget::new(x)),
                Ok(Action::Tcp(t)) => Box::new(super::tcp::TcpTarget::new(t)),
                Ok(Action::Jsonl(p)) => Box::new(super::jsonl::JsonlTarget::new(p)),
                Ok(Action::Drop) => continue,
                Err(why) => anyhow::bail!("route[{i}]: {why}"),
            };
            let filter = compile(r.when.filter(), i)?;
            let status = Arc::new(SinkStatus::new(r.label(i), target.describe()));
            let queue = Arc::new(SinkQueue::new(r.queue, QUEUE_BYTES));
            let (s2, q2, d2) = (status.clone(), queue.clone(), deadline.clone());
            writers.push(
                std::thread::Builder::new()
                    .name(format!("logtui-route-{i}"))
                    .spawn(move || run_sink(target, &s2, &q2, &d2))
                    .with_context(|| format!("cannot start the thread of route {}", r.label(i)))?,
            );
            matchers.push((filter, status.clone(), queue.clone()));
            routes.sinks.push((status, queue));
        }
        let dispatcher = match matchers.is_empty() {
            true => None,
            false => {
                let sub = feed.subscribe("routes", FEED_LIMITS);
                let d2 = done.clone();
                Some(
                    std::thread::Builder::new()
                        .name("logtui-routes".into())
                        .spawn(move || dispatch(sub, &matchers, &db, &d2))
                        .context("cannot start the routes' dispatcher thread")?,
                )
            }
        };
        Ok(Sinks {
            routes,
            done,
            deadline,
            dispatcher,
            writers,
        })
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Hands on what the feed still holds, then lets each sink send its queue for up to
    /// `drain`; what is left is counted as unsent. Call after the store's writer stopped, so
    /// everything it committed was published.
    pub fn finish(mut self, drain: Duration) {
        let _ = self.deadline.set(Instant::now() + drain);
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.deadline.set(Instant::now());
        self.done.store(true, Relaxed);
        if let Some(d) = self.dispatcher.take()
            && d.join().is_err()
        {
            tracing::error!("the routes' dispatcher thread panicked");
        }
        // Without a dispatcher (it panicked, or there never was one) the queues still close.
        for (_, q) in &self.routes.sinks {
            q.close();
        }
        for w in self.writers.drain(..) {
            if w.join().is_err() {
                tracing::error!("a route's thread panicked");
            }
        }
    }
}

impl Drop for Sinks {
    /// A recorder that failed to start, or was dropped without `finish`, stops its threads at once.
    fn drop(&mut self) {
        if self.dispatcher.is_some() || !self.writers.is_empty() {
            self.stop();
        }
    }
}

type Matcher = (CompiledFilter, Arc<SinkStatus>, Arc<SinkQueue>);

/// The dispatcher: every committed record, matched against every forwarding route.
fn dispatch(sub: Subscription, matchers: &[Matcher], db: &std::path::Path, done: &AtomicBool) {
    let offer = |id: i64, r: &Record| {
        for (f, s, q) in matchers {
            if f.matches(id, r) {
                s.matched.fetch_add(1, Relaxed);
                q.push((id, r.clone()));
            }
        }
    };
    let mut store = None;
    loop {
        let item = match done.load(Relaxed) {
            true => sub.try_recv(),
            false => sub.recv_timeout(FEED_WAIT),
        };
        match item {
            Some(FeedItem::Batch(b)) => {
                for (id, r) in &b.rows {
                    offer(*id, r);
                }
            }
            Some(FeedItem::Missed {
                first_id, last_id, ..
            }) => {
                if let Err(e) = catch_up(&mut store, db, first_id, last_id, &offer) {
                    tracing::warn!(
                        "routes: records {first_id} to {last_id} could not be read back from the store, so they are not forwarded: {e:#}"
                    );
                }
            }
            None if done.load(Relaxed) => break,
            None => {}
        }
    }
    for (_, _, q) in matchers {
        q.close();
    }
}

/// Reads the ids `first..=last` back from the store and offers each.
fn catch_up(
    store: &mut Option<rusqlite::Connection>,
    db: &std::path::Path,
    first: i64,
    last: i64,
    offer: &dyn Fn(i64, &Record),
) -> Result<()> {
    let conn = match store {
        Some(c) => c,
        None => store.insert(store::open_read_only(db)?),
    };
    store::for_each_page_between(conn, &Filter::default(), first, last, |page| {
        for (id, r) in &page {
            offer(*id, r);
        }
    })?;
    Ok(())
}

/// One sink's thread: takes batches from its queue and sends them, reconnecting with backoff.
/// A batch that failed is sent again on the next connection; while the target is down the
/// queue fills and then drops. After shutdown it sends until the queue is empty or the drain
/// deadline passes.
fn run_sink(
    mut target: Box<dyn Target>,
    status: &SinkStatus,
    queue: &SinkQueue,
    deadline: &OnceLock<Instant>,
) {
    let mut backoff = Backoff::default();
    let mut pending: Vec<Item> = Vec::new();
    let mut retry_at = Instant::now();
    loop {
        let closing = queue.is_closed();
        if closing && deadline.get().is_some_and(|d| Instant::now() >= *d) {
            break;
        }
        if pending.is_empty() {
            pending = queue.pop_batch(SEND_BATCH, Instant::now() + IDLE_WAIT);
            if pending.is_empty() {
                if closing {
                    break;
                }
                continue;
            }
        }
        if !target.is_connected() {
            let now = Instant::now();
            if now < retry_at {
                match deadline.get() {
                    // Closed: waits on the queue end at once, so sleep to the retry (or the end).
                    Some(d) if closing => std::thread::sleep(retry_at.min(*d) - now),
                    _ => queue.sleep_until(retry_at),
                }
                continue;
            }
            if let Err(e) = target.connect() {
                status.failed(&e);
                retry_at = Instant::now() + backoff.next_wait();
                continue;
            }
            status.set_state(State::Connected);
        }
        match target.send(&pending) {
            Ok(()) => {
                status.sent.fetch_add(pending.len() as u64, Relaxed);
                pending.clear();
                // Reset only after a send worked: a server that accepts connections and fails
                // every command must not be retried at the fastest rate.
                backoff.reset();
            }
            Err(e) => {
                target.disconnect();
                status.failed(&e);
                retry_at = Instant::now() + backoff.next_wait();
            }
        }
    }
    let left = pending.len() + queue.take_all();
    status.unsent.fetch_add(left as u64, Relaxed);
    if left > 0 {
        tracing::warn!(route = %status.name, "{left} records were not forwarded before the drain deadline");
    }
    target.disconnect();
    status.set_state(State::Stopped);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SourceKind;

    fn cfg(t: &str) -> Config {
        let c: Config = toml::from_str(t).unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn drop_rules_match_as_the_store_filter_does() {
        let c = cfg(
            "[[route]]\nname = \"hc\"\nmatch = { logger = \"uvicorn.*\", text = \"healthz\" }\ndrop = true\n\
             [[route]]\njsonl = \"-\"\n",
        );
        let rules = drop_rules(&c).unwrap();
        assert_eq!(rules.len(), 1);
        let mut r = Record::new(SourceKind::Http, "x");
        r.logger = "uvicorn.access".into();
        r.message = "GET /healthz 200".into();
        assert!((rules[0].drops)(&r));
        r.message = "GET /orders 200".into();
        assert!(!(rules[0].drops)(&r));
    }

    /// A store of `n` INFO records from logger `a` (odd row ids) and `b` (even ones).
    fn store_of(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let stats = Arc::new(crate::stats::Stats::default());
        let (intake, outlet) = crate::intake::Intake::new(8, stats.clone());
        let h = store::spawn(&db, &Default::default(), outlet, stats, Feed::new()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for chunk in (1..=n).collect::<Vec<_>>().chunks(500) {
            let batch: Vec<Record> = chunk
                .iter()
                .map(|i| {
                    let mut r = Record::new(SourceKind::Tcp, "t");
                    r.logger = if i % 2 == 1 { "a" } else { "b" }.into();
                    r.message = format!("m{i}");
                    r
                })
                .collect();
            assert!(rt.block_on(intake.submit(batch)));
        }
        drop(intake);
        h.join().unwrap();
        (dir, db)
    }

    #[test]
    fn what_the_feed_could_not_queue_is_read_back_from_the_store_in_order() {
        let (_dir, db) = store_of(2500);
        let feed = Feed::new();
        let sub = feed.subscribe(
            "t",
            FeedLimits {
                max_batches: 1,
                max_bytes: usize::MAX,
            },
        );
        let conn = store::open_read_only(&db).unwrap();
        let mut rows = Vec::new();
        store::for_each(&conn, &Filter::default(), |id, r| rows.push((id, r))).unwrap();
        assert_eq!(rows.len(), 2500);
        // One batch queued, the rest missed: 2 to 2500 must come from the store.
        for chunk in rows.chunks(100) {
            feed.publish(crate::store::CommittedBatch {
                rows: chunk.to_vec(),
                alerts: Vec::new(),
            });
        }
        assert!(sub.missed() > 0);
        let status = Arc::new(SinkStatus::new("x".into(), "jsonl -".into()));
        let queue = Arc::new(SinkQueue::new(10_000, usize::MAX));
        let f = Filter {
            logger: Some("a".into()),
            ..Filter::default()
        };
        let matchers = vec![(f.compile().unwrap(), status.clone(), queue.clone())];
        dispatch(sub, &matchers, &db, &AtomicBool::new(true));
        let got = queue.pop_batch(usize::MAX, Instant::now());
        let want: Vec<i64> = rows
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| id % 2 == 1)
            .collect();
        assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
        assert_eq!(status.matched.load(Relaxed), 1250);
        assert!(queue.is_closed());
    }

    #[test]
    fn status_lines_and_the_compact_form() {
        let status = Arc::new(SinkStatus::new("central".into(), "tcp h:1".into()));
        let queue = Arc::new(SinkQueue::new(1, usize::MAX));
        let hits = Arc::new(AtomicU64::new(4));
        let routes = Routes {
            sinks: vec![(status.clone(), queue.clone())],
            drops: vec![("hc".into(), hits)],
        };
        assert!(routes.healthy());
        assert_eq!(routes.compact().as_deref(), Some("→ central idle"));
        status.matched.store(3, Relaxed);
        queue.push((1, Record::new(SourceKind::Tcp, "t")));
        queue.push((2, Record::new(SourceKind::Tcp, "t")));
        status.failed(&super::super::SinkError::Connect {
            target: "h:1".into(),
            why: "Connection refused".into(),
        });
        assert_eq!(
            routes.lines(),
            [
                "central: tcp h:1 reconnecting; matched 3, sent 0, queued 1, dropped 1; cannot connect to h:1: Connection refused",
                "hc: drop before storing; dropped 4 by rule",
            ]
        );
        assert!(!routes.healthy());
        assert_eq!(
            routes.compact().as_deref(),
            Some("→ central retrying (1 dropped)")
        );
        assert_eq!(routes.dropped(), 1);
        assert!(Routes::default().compact().is_none());
    }
}
