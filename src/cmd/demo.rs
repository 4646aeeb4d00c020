//! The record generator behind `logtui demo`: a made-up web shop's logs, sent through the real
//! listeners byte for byte as CPython's SocketHandler, DatagramHandler and HTTPHandler send them.

// The encoders are `logtui emit`'s, so the demo exercises the same bytes a Python service sends.

use crate::cmd::emit::{HttpTarget, socket_frame};
use crate::python::{percent_format, py_repr};
use crate::record::{self, Record, SourceKind};
use crate::value::Value;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the generator sends: the listeners of the `logtui` it feeds. Records are dealt out
/// in turn over the targets that are set.
#[derive(Debug, Clone, Default)]
pub struct DemoTargets {
    pub tcp: Option<SocketAddr>,
    pub udp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

/// A running generator. [`stop`](Self::stop) ends it and joins its thread; dropping the handle
/// ends it too, without waiting.
pub struct DemoHandle {
    sent: Arc<AtomicU64>,
    /// Dropping it wakes the generator from its sleep and ends it: the one stop signal.
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl DemoHandle {
    /// Records delivered so far: written to the TCP stream or a datagram socket, or answered
    /// 200 by the HTTP listener. Records lost to a refused or dropped connection do not count.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops the generator, waits for its thread, and returns the records it sent.
    pub fn stop(self) -> u64 {
        drop(self.stop);
        // The thread only ends by returning; a panic in it would be a bug in this file, and
        // the count it reached is still the right answer.
        let _ = self.thread.join();
        self.sent.load(Ordering::Relaxed)
    }
}

/// Starts the generator on its own thread, sending about `rate` records per second spread
/// over the targets, until stopped. Fails when no target is set, `rate` is not a positive
/// number, or the TCP listener refuses the first connection (later drops are reconnected).
pub fn spawn_generator(t: DemoTargets, rate: f64) -> std::io::Result<DemoHandle> {
    use std::io::{Error, ErrorKind};
    let period = (rate <= MAX_RATE)
        .then(|| Duration::try_from_secs_f64(1.0 / rate).ok())
        .flatten()
        .filter(|p| !p.is_zero())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the demo rate must be a number of records per second above 0 and up to {MAX_RATE}, not {rate}"
                ),
            )
        })?;
    let links = Links::open(&t)?;
    if links.count() == 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the demo needs at least one listener to send to (tcp, udp or http)",
        ));
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
    let sent = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = mpsc::channel();
    let counter = sent.clone();
    let thread = std::thread::Builder::new()
        .name("logtui-demo".into())
        .spawn(move || run(links, Story::new(seed), period, &counter, &stopped))?;
    Ok(DemoHandle { sent, stop, thread })
}

/// The fastest schedule the generator keeps: one record a microsecond, far past what one
/// thread sending HTTP requests can do, and a bound that keeps the period a real duration.
const MAX_RATE: f64 = 1_000_000.0;

/// How far the schedule may fall behind (a listener that stalled) before the missed sends are
/// given up instead of sent in a burst to catch up.
const MAX_LAG: Duration = Duration::from_secs(1);

/// The fixed schedule: record `n` is due at `start + n × period`; the thread sleeps until then
/// on the stop channel, so stopping wakes it at once.
fn run(
    mut links: Links,
    mut story: Story,
    period: Duration,
    sent: &AtomicU64,
    stopped: &mpsc::Receiver<()>,
) {
    let start = Instant::now();
    let mut due = start;
    for n in 0u64.. {
        let now = Instant::now();
        if let Some(wait) = due.checked_duration_since(now).filter(|w| !w.is_zero()) {
            match stopped.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        } else {
            if !matches!(stopped.try_recv(), Err(TryRecvError::Empty)) {
                return;
            }
            if now.duration_since(due) > MAX_LAG {
                due = now;
            }
        }
        let line = story.next(Instant::now());
        let rel_ms = start.elapsed().as_secs_f64() * 1000.0;
        if links.send(n, &line, rel_ms) {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        due += period;
    }
}

/// How long a connection or a send may take before it is given up: SocketHandler's own
/// connect timeout is 1 s; a little more leaves room for a listener under load.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long after a refused TCP connection the next attempt waits (SocketHandler's first retry).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The open senders, one per target.
struct Links {
    tcp: Option<TcpLink>,
    udp: Option<UdpSocket>,
    http: Option<HttpTarget>,
}

impl Links {
    fn open(t: &DemoTargets) -> std::io::Result<Links> {
        let tcp = match t.tcp {
            Some(addr) => Some(TcpLink {
                addr,
                stream: Some(TcpLink::connect(addr)?),
                retry_at: Instant::now(),
            }),
            None => None,
        };
        let udp = match t.udp {
            Some(addr) => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let s = UdpSocket::bind(local)?;
                s.connect(addr)?;
                Some(s)
            }
            None => None,
        };
        let http = t.http.map(|a| HttpTarget::post_to(a, IO_TIMEOUT));
        Ok(Links { tcp, udp, http })
    }

    fn count(&self) -> u64 {
        u64::from(self.tcp.is_some())
            + u64::from(self.udp.is_some())
            + u64::from(self.http.is_some())
    }

    /// Sends record `n` of the run to the next target in turn; whether it was delivered.
    fn send(&mut self, n: u64, line: &Line, rel_ms: f64) -> bool {
        let r = line.record();
        let on = [self.tcp.is_some(), self.udp.is_some(), self.http.is_some()];
        let turn = (n % self.count()) as usize;
        let which = (0..3).filter(|&i| on[i]).nth(turn);
        match (which, &mut self.tcp, &self.udp, &self.http) {
            (Some(0), Some(tcp), _, _) => tcp.send(&socket_frame(&r, rel_ms)),
            // A refused datagram (nothing listens) is the answer to an earlier one; either
            // way this one is not known to have arrived.
            (Some(1), _, Some(udp), _) => udp.send(&socket_frame(&r, rel_ms)).is_ok(),
            (Some(2), _, _, Some(h)) => {
                let template = (line.template.clone(), tuple_repr(&line.args));
                h.send(&r, Some(template), rel_ms).is_ok()
            }
            _ => false,
        }
    }
}

/// SocketHandler's one connection: reconnected on the next record after it drops, and after
/// [`RECONNECT_AFTER`] when a connection is refused; records meanwhile are lost, as theirs are.
struct TcpLink {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    retry_at: Instant,
}

impl TcpLink {
    fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(s)
    }

    fn send(&mut self, frame: &[u8]) -> bool {
        if self.stream.is_none() {
            if Instant::now() < self.retry_at {
                return false;
            }
            match Self::connect(self.addr) {
                Ok(s) => self.stream = Some(s),
                Err(_) => {
                    self.retry_at = Instant::now() + RECONNECT_AFTER;
                    return false;
                }
            }
        }
        let Some(s) = &mut self.stream else {
            return false;
        };
        if s.write_all(frame).is_ok() {
            return true;
        }
        self.stream = None;
        false
    }
}

/// `repr()` of a tuple of args, as HTTPHandler sends `args`: `()`, `(1,)`, `(1, 'a')`.
fn tuple_repr(args: &[Value]) -> String {
    let items: Vec<String> = args.iter().map(py_repr).collect();
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

/// One record before it is encoded: a logging call as the application made it.
#[derive(Debug, Clone)]
struct Line {
    logger: &'static str,
    level: i32,
    /// The `%`-style template; `args` fill it (Python leaves it as it is when there are none).
    template: String,
    args: Vec<Value>,
    exc_text: Option<String>,
    /// `extra=` keys; `job_id` is the one logtui reads as the record's job.
    extra: Vec<(String, Value)>,
    lineno: i64,
    who: Who,
    created: f64,
}

/// Which process and thread made a record.
#[derive(Debug, Clone)]
struct Who {
    pid: i64,
    process_name: String,
    thread: i64,
    thread_name: String,
}

impl Line {
    /// The message Python's `getMessage()` gives: `msg % args`, or `msg` when there are no args.
    fn message(&self) -> String {
        if self.args.is_empty() {
            return self.template.clone();
        }
        percent_format(&self.template, &Value::List(self.args.clone()))
            .unwrap_or_else(|| self.template.clone())
    }

    fn record(&self) -> Record {
        let mut r = Record::new(SourceKind::Tcp, "");
        r.created = self.created;
        r.logger = self.logger.to_owned();
        r.set_level(self.level);
        r.message = self.message();
        let (pathname, func) = site(self.logger);
        r.filename = pathname.rsplit('/').next().map(str::to_owned);
        r.module = r
            .filename
            .as_deref()
            .map(|f| f.trim_end_matches(".py").to_owned());
        r.pathname = Some(pathname.to_owned());
        r.func = Some(func.to_owned());
        r.lineno = Some(self.lineno);
        r.process = Some(self.who.pid);
        r.process_name = Some(self.who.process_name.clone());
        r.thread = Some(self.who.thread);
        r.thread_name = Some(self.who.thread_name.clone());
        r.exc_text = self.exc_text.clone();
        r.extra = self.extra.clone();
        r
    }
}

/// The source file and function a logger's records come from.
fn site(logger: &str) -> (&'static str, &'static str) {
    match logger {
        "app" => ("/srv/shop/app/__init__.py", "create_app"),
        "app.config" => ("/srv/shop/app/config.py", "reload"),
        "app.health" => ("/srv/shop/app/health.py", "run_checks"),
        "app.http" => ("/srv/shop/app/http/middleware.py", "log_request"),
        "app.db" => ("/srv/shop/app/db/session.py", "execute"),
        "app.db.pool" => ("/srv/shop/app/db/pool.py", "checkout"),
        "app.payments" => ("/srv/shop/app/payments/service.py", "charge"),
        "worker.jobs" => ("/srv/shop/app/worker/jobs.py", "run"),
        "celery.task" => (
            "/srv/shop/.venv/lib/python3.12/site-packages/celery/app/trace.py",
            "trace_task",
        ),
        _ => (
            "/srv/shop/.venv/lib/python3.12/site-packages/urllib3/connectionpool.py",
            "_make_request",
        ),
    }
}

/// A small xorshift64* generator: deterministic for a seed, and no crate for a demo's dice.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A latency in ms: mostly a few ms, with a long tail.
    fn millis(&mut self) -> f64 {
        let u = self.unit();
        2.0 + 40.0 * u * u + 900.0 * u.powi(12)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let v = self.next();
        format!("{v:016x}")[..digits.min(16)].to_owned()
    }

    /// A celery task id: a version-4 UUID.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// How many jobs run at once; each finishes after a while and a new one takes its place.
const JOBS: usize = 4;

/// What the shop's processes are doing: the opening lines, the job ids in flight, and when
/// the next database outage (the burst of errors) is due.
struct Story {
    rng: Rng,
    /// Lines written so far.
    n: u64,
    jobs: [String; JOBS],
    /// Items each job has processed, of its total.
    progress: [(i64, i64); JOBS],
    next_burst: Option<Instant>,
    /// Lines left in the current burst, and how many it had.
    burst: Option<(u32, u32)>,
    web_pid: i64,
    worker_pid: i64,
}

/// How often the database goes away (give or take five seconds).
const BURST_EVERY: Duration = Duration::from_secs(30);

/// The opening lines: every level, a traceback, a job, colour codes and a multi-line message
/// within the first dozen records, so a new viewer sees every kind at once.
const OPENING: usize = 12;

const JOB_KINDS: [&str; 5] = [
    "nightly-export",
    "search-reindex",
    "invoice-batch",
    "thumbnail-sweep",
    "stock-sync",
];

impl Story {
    fn new(seed: u64) -> Story {
        let mut rng = Rng::new(seed);
        let jobs = std::array::from_fn(|_| String::new());
        let web_pid = rng.int(1200, 9000);
        let mut s = Story {
            jobs,
            progress: [(0, 0); JOBS],
            next_burst: None,
            burst: None,
            n: 0,
            web_pid,
            worker_pid: web_pid + rng.int(3, 40),
            rng,
        };
        for i in 0..JOBS {
            s.new_job(i);
        }
        s
    }

    fn new_job(&mut self, slot: usize) {
        let kind = *self.rng.pick(&JOB_KINDS);
        self.jobs[slot] = format!("{kind}-{}", self.rng.hex(6));
        self.progress[slot] = (0, self.rng.int(200, 5000));
    }

    fn web(&mut self) -> Who {
        let k = self.rng.int(0, 3);
        Who {
            pid: self.web_pid,
            process_name: "MainProcess".into(),
            thread: 139_872_001_226_304 + k * 8_392_704,
            thread_name: format!("ThreadPoolExecutor-0_{k}"),
        }
    }

    fn worker(&mut self, slot: usize) -> Who {
        Who {
            pid: self.worker_pid + slot as i64,
            process_name: format!("ForkPoolWorker-{}", slot + 1),
            thread: 139_872_019_314_496,
            thread_name: "MainThread".into(),
        }
    }

    /// The next line, at `now`.
    fn next(&mut self, now: Instant) -> Line {
        let i = self.n;
        self.n += 1;
        let next_burst = *self.next_burst.get_or_insert(now + BURST_EVERY);
        let line = if i < OPENING as u64 {
            self.opening(i)
        } else if let Some((left, of)) = self.burst {
            self.burst = (left > 1).then_some((left - 1, of));
            self.outage(of - left, of)
        } else if now >= next_burst {
            let jitter = Duration::from_millis(self.rng.int(0, 10_000) as u64);
            self.next_burst = Some(now + BURST_EVERY - Duration::from_secs(5) + jitter);
            // About two seconds' worth of a moderate rate; bounded whatever the rate.
            let of = self.rng.int(24, 60) as u32;
            self.burst = Some((of - 1, of));
            self.outage(0, of)
        } else {
            self.ordinary()
        };
        Line {
            created: record::now_epoch(),
            ..line
        }
    }

    fn line(&mut self, logger: &'static str, level: i32, template: &str, args: Vec<Value>) -> Line {
        let who = self.web();
        Line {
            logger,
            level,
            template: template.to_owned(),
            args,
            exc_text: None,
            extra: Vec::new(),
            lineno: self.rng.int(30, 240),
            who,
            created: 0.0,
        }
    }

    /// A line from job `slot`'s worker, carrying its id.
    fn job_line(
        &mut self,
        slot: usize,
        logger: &'static str,
        level: i32,
        template: &str,
        args: Vec<Value>,
    ) -> Line {
        let mut l = self.line(logger, level, template, args);
        l.who = self.worker(slot);
        l.extra
            .push(("job_id".into(), Value::Str(self.jobs[slot].clone())));
        l
    }

    fn request_line(&mut self, level: i32, template: &str, args: Vec<Value>) -> Line {
        let mut l = self.line("app.http", level, template, args);
        let rid = format!("req-{}", self.rng.hex(12));
        l.extra.push(("request_id".into(), Value::Str(rid)));
        l.extra
            .push(("user_id".into(), Value::Int(self.rng.int(1000, 99_999))));
        l
    }

    fn opening(&mut self, i: u64) -> Line {
        use record::{CRITICAL, DEBUG, INFO, WARNING};
        match i {
            0 => self.line(
                "app",
                INFO,
                "Starting shop-api %s (Python %s) on %s:%d",
                vec![s("2.14.1"), s("3.12.3"), s("0.0.0.0"), Value::Int(8000)],
            ),
            1 => self.line(
                "app",
                DEBUG,
                "Loaded %d feature flags from %s",
                vec![Value::Int(23), s("/etc/shop/flags.toml")],
            ),
            2 => self.config_line(),
            3 => self.health_line(),
            4 => {
                let kind = self.jobs[0]
                    .rsplit_once('-')
                    .map_or("", |(k, _)| k)
                    .to_owned();
                let id = self.jobs[0].clone();
                self.job_line(
                    0,
                    "worker.jobs",
                    INFO,
                    "job %s started: %s",
                    vec![s(&id), s(&kind)],
                )
            }
            5 => self.ordinary_request(),
            6 => self.line(
                "app.db.pool",
                WARNING,
                "pool is at %d%% capacity (%d/%d connections in use)",
                vec![Value::Int(85), Value::Int(17), Value::Int(20)],
            ),
            7 => self.payment_failure(),
            8 => self.task_received(1),
            9 => self.line(
                "app.payments",
                CRITICAL,
                "webhook signing secret %s is not set: payment webhooks are being rejected",
                vec![s("STRIPE_WEBHOOK_SECRET")],
            ),
            10 => self.query_line(),
            11 => self.order_not_found(),
            _ => self.ordinary(),
        }
    }

    /// A WARNING for an order that is not there: in the opening and in the steady mix.
    fn order_not_found(&mut self) -> Line {
        let ms = self.rng.millis();
        let id = self.rng.int(100_000, 999_999);
        self.request_line(
            record::WARNING,
            "GET /api/orders/%d 404 %.1fms",
            vec![Value::Int(id), Value::Float(ms)],
        )
    }

    /// The steady mix: mostly INFO and DEBUG, some WARNING, an ERROR with a traceback now and then.
    fn ordinary(&mut self) -> Line {
        use record::{CRITICAL, DEBUG, INFO, WARNING};
        let roll = self.rng.int(0, 999);
        let slot = self.rng.int(0, JOBS as i64 - 1) as usize;
        match roll {
            0..250 => self.ordinary_request(),
            250..310 => {
                let ms = self.rng.millis() / 4.0;
                self.request_line(DEBUG, "GET /healthz 200 %.1fms", vec![Value::Float(ms)])
            }
            310..350 => {
                let ms = self.rng.millis() * 3.0;
                self.request_line(INFO, "POST /api/orders 201 %.1fms", vec![Value::Float(ms)])
            }
            350..370 => self.order_not_found(),
            370..380 => {
                let ms = 1000.0 + self.rng.millis() * 20.0;
                let path = *self
                    .rng
                    .pick(&["/api/search", "/api/reports/sales", "/api/cart"]);
                self.request_line(
                    WARNING,
                    "slow request: %s %s took %.0fms (threshold %dms)",
                    vec![s("GET"), s(path), Value::Float(ms), Value::Int(1000)],
                )
            }
            380..500 => self.query_line(),
            500..530 => {
                let t = *self.rng.pick(&["BEGIN (implicit)", "COMMIT", "ROLLBACK"]);
                self.line("app.db", INFO, t, Vec::new())
            }
            530..590 => {
                let conn = format!(
                    "<connection object at 0x7f{}; dsn: 'user=shop host=db dbname=shop', closed: 0>",
                    self.rng.hex(10)
                );
                let used = self.rng.int(2, 14);
                self.line(
                    "app.db.pool",
                    DEBUG,
                    "Connection %s checked out from pool (%d/%d in use)",
                    vec![s(&conn), Value::Int(used), Value::Int(20)],
                )
            }
            590..600 => {
                let used = self.rng.int(16, 19);
                self.line(
                    "app.db.pool",
                    WARNING,
                    "pool is at %d%% capacity (%d/%d connections in use)",
                    vec![Value::Int(used * 5), Value::Int(used), Value::Int(20)],
                )
            }
            600..640 => {
                let charge = format!("ch_3P{}", self.rng.hex(14));
                let order = self.rng.int(100_000, 999_999);
                let cents = self.rng.int(499, 49_999);
                let cur = *self.rng.pick(&["EUR", "USD", "GBP"]);
                let mut l = self.line(
                    "app.payments",
                    INFO,
                    "charge %s for order %d succeeded: %.2f %s",
                    vec![
                        s(&charge),
                        Value::Int(order),
                        Value::Float(cents as f64 / 100.0),
                        s(cur),
                    ],
                );
                l.extra.push(("order_id".into(), Value::Int(order)));
                l
            }
            640..650 => {
                let charge = format!("ch_3P{}", self.rng.hex(14));
                let attempt = self.rng.int(1, 2);
                self.line(
                    "app.payments",
                    WARNING,
                    "charge %s retried after %s (attempt %d of %d)",
                    vec![
                        s(&charge),
                        s("ReadTimeout"),
                        Value::Int(attempt),
                        Value::Int(3),
                    ],
                )
            }
            650..656 => self.payment_failure(),
            656..740 => self.job_progress(slot),
            740..750 => {
                let skipped = self.rng.int(1, 30);
                let id = self.jobs[slot].clone();
                self.job_line(
                    slot,
                    "worker.jobs",
                    WARNING,
                    "job %s: %d items skipped (unknown sku)",
                    vec![s(&id), Value::Int(skipped)],
                )
            }
            750..755 => self.job_failure(slot),
            755..800 => self.task_received(slot),
            800..850 => self.task_succeeded(slot),
            850..900 => {
                let status = *self.rng.pick(&[200, 200, 200, 201, 402]);
                let size = self.rng.int(80, 4000);
                self.line(
                    "urllib3.connectionpool",
                    DEBUG,
                    "%s://%s:%s \"%s %s %s\" %s %s",
                    vec![
                        s("https"),
                        s("api.stripe.com"),
                        Value::Int(443),
                        s("POST"),
                        s("/v1/charges"),
                        s("HTTP/1.1"),
                        Value::Int(status),
                        Value::Int(size),
                    ],
                )
            }
            900..940 => {
                let flag = *self.rng.pick(&["new-checkout", "fast-search", "dark-mode"]);
                let on = *self.rng.pick(&["on", "off"]);
                let user = self.rng.int(1000, 99_999);
                self.line(
                    "app",
                    DEBUG,
                    "feature flag %r is %s for user %d",
                    vec![s(flag), s(on), Value::Int(user)],
                )
            }
            940..960 => {
                let ratio = 80.0 + self.rng.unit() * 19.0;
                self.line(
                    "app",
                    INFO,
                    "cache hit ratio %.1f%% over the last %ds",
                    vec![Value::Float(ratio), Value::Int(60)],
                )
            }
            960..975 => self.health_line(),
            975..982 => {
                let (old, new) = *self.rng.pick(&[
                    ("CACHE_URL", "REDIS_URL"),
                    ("DB_POOL", "DATABASE_POOL_SIZE"),
                ]);
                self.line(
                    "app.config",
                    WARNING,
                    "\x1b[33m⚠ deprecated:\x1b[0m setting \x1b[1m%s\x1b[0m is deprecated, use %s",
                    vec![s(old), s(new)],
                )
            }
            982..990 => self.config_line(),
            990..998 => {
                let id = self.rng.int(100_000, 999_999);
                self.request_line(
                    WARNING,
                    "request body rejected for order %d:\n{\n  \"items\": [],\n  \"coupon\": \"SPRING-24\"\n}\nvalidation: items must not be empty",
                    vec![Value::Int(id)],
                )
            }
            _ => {
                let waiting = self.rng.int(3, 40);
                self.line(
                    "app.db.pool",
                    CRITICAL,
                    "no connection available after %.1fs: giving up on %d waiting requests",
                    vec![Value::Float(30.0), Value::Int(waiting)],
                )
            }
        }
    }

    fn ordinary_request(&mut self) -> Line {
        let ms = self.rng.millis();
        if self.rng.int(0, 2) == 0 {
            let page = self.rng.int(1, 40);
            return self.request_line(
                record::INFO,
                "GET /api/products?page=%d 200 %.1fms",
                vec![Value::Int(page), Value::Float(ms)],
            );
        }
        let id = self.rng.int(100_000, 999_999);
        self.request_line(
            record::INFO,
            "GET /api/orders/%d 200 %.1fms",
            vec![Value::Int(id), Value::Float(ms)],
        )
    }

    fn query_line(&mut self) -> Line {
        let q = *self.rng.pick(&[
            "orders_by_customer",
            "order_with_items",
            "product_page",
            "stock_levels",
            "cart_totals",
        ]);
        let ms = self.rng.millis() / 3.0;
        let rows = self.rng.int(0, 120);
        self.line(
            "app.db",
            record::DEBUG,
            "query %s took %.2fms (%d rows)",
            vec![s(q), Value::Float(ms), Value::Int(rows)],
        )
    }

    fn config_line(&mut self) -> Line {
        let workers = self.rng.int(2, 8);
        self.line(
            "app.config",
            record::INFO,
            "Configuration loaded:\n  database: %s\n  cache:    %s\n  workers:  %d\n  debug:    %s",
            vec![
                s("postgresql://shop@db:5432/shop"),
                s("redis://cache:6379/0"),
                Value::Int(workers),
                Value::Bool(false),
            ],
        )
    }

    fn health_line(&mut self) -> Line {
        let n = self.rng.int(5, 9);
        let ms = self.rng.millis();
        self.line(
            "app.health",
            record::INFO,
            "\x1b[1;32m✔\x1b[0m health check passed (%d/%d checks, \x1b[36m%.1fms\x1b[0m)",
            vec![Value::Int(n), Value::Int(n), Value::Float(ms)],
        )
    }

    fn payment_failure(&mut self) -> Line {
        let order = self.rng.int(100_000, 999_999);
        let mut l = self.line(
            "app.payments",
            record::ERROR,
            "payment provider timed out for order %d",
            vec![Value::Int(order)],
        );
        l.exc_text = Some(PAYMENT_TRACEBACK.to_owned());
        l.extra.push(("order_id".into(), Value::Int(order)));
        l
    }

    fn job_progress(&mut self, slot: usize) -> Line {
        let (done, total) = self.progress[slot];
        let done = (done + self.rng.int(total / 20, total / 5)).min(total);
        self.progress[slot].0 = done;
        let id = self.jobs[slot].clone();
        if done < total {
            return self.job_line(
                slot,
                "worker.jobs",
                record::DEBUG,
                "job %s: processed %d of %d items",
                vec![s(&id), Value::Int(done), Value::Int(total)],
            );
        }
        let secs = 5.0 + self.rng.unit() * 120.0;
        let l = self.job_line(
            slot,
            "worker.jobs",
            record::INFO,
            "job %s finished in %.1fs (%d items)",
            vec![s(&id), Value::Float(secs), Value::Int(total)],
        );
        self.new_job(slot);
        l
    }

    fn job_failure(&mut self, slot: usize) -> Line {
        let id = self.jobs[slot].clone();
        let product = self.rng.int(10_000, 99_999);
        let mut l = self.job_line(
            slot,
            "worker.jobs",
            record::ERROR,
            "job %s failed",
            vec![s(&id)],
        );
        l.exc_text = Some(format!("{JOB_TRACEBACK}{product}"));
        self.new_job(slot);
        l
    }

    fn task_received(&mut self, slot: usize) -> Line {
        let task = *self.rng.pick(&TASKS);
        let uuid = self.rng.uuid();
        self.job_line(
            slot,
            "celery.task",
            record::INFO,
            "Task %s[%s] received",
            vec![s(task), s(&uuid)],
        )
    }

    fn task_succeeded(&mut self, slot: usize) -> Line {
        let task = *self.rng.pick(&TASKS);
        let uuid = self.rng.uuid();
        let secs = self.rng.millis() / 100.0;
        let items = self.rng.int(1, 500);
        let result = Value::Map(vec![
            ("ok".into(), Value::Bool(true)),
            ("items".into(), Value::Int(items)),
        ]);
        self.job_line(
            slot,
            "celery.task",
            record::INFO,
            "Task %s[%s] succeeded in %.3fs: %r",
            vec![s(task), s(&uuid), Value::Float(secs), result],
        )
    }

    /// Line `k` of `of` in a database outage: the pool sees it first, requests and tasks fail
    /// with it, and the last line says it is over.
    fn outage(&mut self, k: u32, of: u32) -> Line {
        use record::{CRITICAL, ERROR, INFO, WARNING};
        if k == 0 {
            return self.line(
                "app.db.pool",
                CRITICAL,
                "database %s is unreachable: all %d connections lost",
                vec![s("db:5432"), Value::Int(20)],
            );
        }
        if k + 1 == of {
            let secs = f64::from(of) * 0.07 + self.rng.unit();
            return self.line(
                "app.db.pool",
                INFO,
                "database connection restored after %.1fs; pool refilled (%d connections)",
                vec![Value::Float(secs), Value::Int(20)],
            );
        }
        let slot = self.rng.int(0, JOBS as i64 - 1) as usize;
        match self.rng.int(0, 9) {
            0..=2 => {
                let mut l = self.line(
                    "app.db",
                    ERROR,
                    "(psycopg2.OperationalError) connection to server at \"db\" (10.0.3.7), port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?",
                    Vec::new(),
                );
                l.exc_text = Some(DB_TRACEBACK.to_owned());
                l
            }
            3..=6 => {
                let ms = 5000.0 + self.rng.millis();
                let id = self.rng.int(100_000, 999_999);
                self.request_line(
                    ERROR,
                    "GET /api/orders/%d 500 %.1fms",
                    vec![Value::Int(id), Value::Float(ms)],
                )
            }
            7 | 8 => {
                let task = *self.rng.pick(&TASKS);
                let uuid = self.rng.uuid();
                self.job_line(
                    slot,
                    "celery.task",
                    ERROR,
                    "Task %s[%s] raised unexpected: %s",
                    vec![
                        s(task),
                        s(&uuid),
                        s("OperationalError('connection to server at \"db\" (10.0.3.7), port 5432 failed: Connection refused')"),
                    ],
                )
            }
            _ => {
                let n = self.rng.int(5, 40);
                self.line(
                    "app.db.pool",
                    WARNING,
                    "retrying connection to %s in %.1fs (%d requests waiting)",
                    vec![
                        s("db:5432"),
                        Value::Float(0.5 * f64::from(k.min(8))),
                        Value::Int(n),
                    ],
                )
            }
        }
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

const TASKS: [&str; 4] = [
    "shop.tasks.send_receipt",
    "shop.tasks.sync_stock",
    "shop.tasks.render_invoice",
    "shop.tasks.reindex_product",
];

const PAYMENT_TRACEBACK: &str = r#"Traceback (most recent call last):
  File "/srv/shop/.venv/lib/python3.12/site-packages/httpx/_transports/default.py", line 69, in map_httpcore_exceptions
    yield
  File "/srv/shop/.venv/lib/python3.12/site-packages/httpx/_transports/default.py", line 233, in handle_request
    resp = self._pool.handle_request(req)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
httpcore.ReadTimeout: The read operation timed out

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/shop/app/payments/service.py", line 142, in charge
    response = self.client.post("/v1/charges", json=payload, timeout=5.0)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/shop/.venv/lib/python3.12/site-packages/httpx/_client.py", line 1145, in post
    return self.request(
           ^^^^^^^^^^^^^
  File "/srv/shop/.venv/lib/python3.12/site-packages/httpx/_transports/default.py", line 86, in map_httpcore_exceptions
    raise mapped_exc(message) from exc
httpx.ReadTimeout: The read operation timed out"#;

/// Ends with `KeyError: `; the failing product id follows.
const JOB_TRACEBACK: &str = r#"Traceback (most recent call last):
  File "/srv/shop/app/worker/jobs.py", line 57, in run
    result = handler(job, **job.params)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/shop/app/worker/export.py", line 113, in export_orders
    row["sku"] = catalogue[item.product_id].sku
                 ~~~~~~~~~^^^^^^^^^^^^^^^^^
KeyError: "#;

const DB_TRACEBACK: &str = "Traceback (most recent call last):
  File \"/srv/shop/.venv/lib/python3.12/site-packages/sqlalchemy/engine/base.py\", line 145, in __init__
    self._dbapi_connection = engine.raw_connection()
                             ^^^^^^^^^^^^^^^^^^^^^^^
  File \"/srv/shop/.venv/lib/python3.12/site-packages/sqlalchemy/pool/base.py\", line 674, in __connect
    self.dbapi_connection = connection = pool._invoke_creator(self)
                                         ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File \"/srv/shop/.venv/lib/python3.12/site-packages/psycopg2/__init__.py\", line 122, in connect
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
psycopg2.OperationalError: connection to server at \"db\" (10.0.3.7), port 5432 failed: Connection refused
\tIs the server running on that host and accepting TCP/IP connections?

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File \"/srv/shop/app/db/session.py\", line 41, in get_session
    with engine.connect() as conn:
         ^^^^^^^^^^^^^^^^
  File \"/srv/shop/.venv/lib/python3.12/site-packages/sqlalchemy/engine/base.py\", line 3278, in connect
    return self._connection_cls(self)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at \"db\" (10.0.3.7), port 5432 failed: Connection refused
\tIs the server running on that host and accepting TCP/IP connections?

(Background on this error at: https://sqlalche.me/e/20/e3q8)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::python::parse_literal;

    fn lines(seed: u64, n: usize) -> Vec<Line> {
        let mut story = Story::new(seed);
        let now = Instant::now();
        (0..n).map(|_| story.next(now)).collect()
    }

    #[test]
    fn the_opening_shows_every_level_a_traceback_a_job_colour_and_several_lines() {
        for seed in [1, 2, 0xdead_beef] {
            let first = lines(seed, OPENING);
            for level in [
                record::DEBUG,
                record::INFO,
                record::WARNING,
                record::ERROR,
                record::CRITICAL,
            ] {
                assert!(first.iter().any(|l| l.level == level), "no level {level}");
            }
            assert!(first.iter().any(|l| l.exc_text.is_some()));
            assert!(
                first
                    .iter()
                    .any(|l| l.extra.iter().any(|(k, _)| k == "job_id"))
            );
            assert!(first.iter().any(|l| l.message().contains("\x1b[")));
            assert!(first.iter().any(|l| l.message().contains('\n')));
        }
    }

    /// What the HTTP listener does with HTTPHandler's `msg` and `args` must give the message
    /// SocketHandler sends already formatted: the same record whatever the transport.
    #[test]
    fn every_line_formats_and_its_args_repr_reads_back_to_the_same_message() {
        let limits = Limits::default().decode();
        for l in lines(7, 5000) {
            if l.args.is_empty() {
                continue;
            }
            let msg = percent_format(&l.template, &Value::List(l.args.clone()))
                .unwrap_or_else(|| panic!("{:?} does not format", l.template));
            let repr = tuple_repr(&l.args);
            let back = parse_literal(&repr, &limits).unwrap_or_else(|| panic!("{repr}"));
            let Value::List(back) = back else {
                panic!("{repr} is not a tuple")
            };
            assert_eq!(percent_format(&l.template, &Value::List(back)), Some(msg));
        }
    }

    #[test]
    fn the_mix_is_mostly_info_and_debug_with_a_few_jobs_in_flight() {
        let all = lines(42, 10_000);
        let share = |lvl| all.iter().filter(|l| l.level == lvl).count() as f64 / all.len() as f64;
        assert!(share(record::INFO) + share(record::DEBUG) > 0.75);
        assert!(share(record::WARNING) > 0.03 && share(record::WARNING) < 0.15);
        assert!(share(record::ERROR) > 0.001 && share(record::ERROR) < 0.05);
        let jobs: std::collections::HashSet<_> = all
            .iter()
            .flat_map(|l| {
                l.extra
                    .iter()
                    .filter(|(k, _)| k == "job_id")
                    .filter_map(|(_, v)| v.as_str())
            })
            .collect();
        assert!(
            jobs.len() >= JOBS && jobs.len() < 1000,
            "{} jobs",
            jobs.len()
        );
    }

    #[test]
    fn a_burst_of_errors_comes_once_the_interval_has_passed_and_ends() {
        let mut story = Story::new(3);
        let t0 = Instant::now();
        let before: Vec<Line> = (0..200).map(|_| story.next(t0)).collect();
        let later = t0 + BURST_EVERY + Duration::from_secs(1);
        let burst: Vec<Line> = (0..70).map(|_| story.next(later)).collect();
        let errors = |ls: &[Line]| ls.iter().filter(|l| l.level >= record::ERROR).count();
        assert!(errors(&burst[..24]) >= 12, "{}", errors(&burst[..24]));
        assert!(errors(&before[OPENING..]) < 20);
        let end = burst
            .iter()
            .position(|l| l.template.starts_with("database connection restored"))
            .expect("the outage ends");
        assert!((23..60).contains(&end), "{end}");
        // The next one waits for its own interval.
        assert!(errors(&burst[end + 1..]) < 5);
    }

    #[test]
    fn tuples_read_as_python_writes_them() {
        assert_eq!(tuple_repr(&[]), "()");
        assert_eq!(tuple_repr(&[Value::Int(1)]), "(1,)");
        assert_eq!(tuple_repr(&[Value::Int(1), s("a'b")]), "(1, \"a'b\")");
    }
}
