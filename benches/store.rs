//! Persister throughput: realistic records pushed from another thread through an `Intake`
//! into `store::persister`, timed until the final flush has committed. Prints medians.
//!
//! `cargo bench --bench store` runs the default variant; `-- all` runs every variant;
//! `-- NAME…` runs the named ones. `STORE_BENCH_RECORDS` / `STORE_BENCH_RUNS` resize it;
//! `STORE_BENCH_UNIQUE=1` adds a unique token (a request id) to every message.

use logtui::config::StoreConfig;
use logtui::intake::{Batcher, Intake};
use logtui::record::{ERROR, INFO, Record, SourceKind, WARNING};
use logtui::stats::Stats;
use logtui::store::persister::spawn_tuned;
use logtui::store::schema::Tuning;
use logtui::value::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// The allocator the binary uses, so the figures match it.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LOGGERS: &[(&str, &str, &str)] = &[
    ("app.auth", "auth", "login"),
    ("app.db", "db", "execute"),
    ("app.api.orders", "orders", "create_order"),
    ("app.api.users", "users", "get_user"),
    ("django.request", "base", "get_response"),
    ("django.db.backends", "utils", "execute"),
    ("celery.worker", "consumer", "on_task_received"),
    ("app.cache", "cache", "get"),
    ("app.payments", "payments", "charge"),
    ("urllib3.connectionpool", "connectionpool", "_make_request"),
];
const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];
const VERBS: &[&str] = &[
    "logged in",
    "logged out",
    "updated profile",
    "placed order",
    "reset password",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn traceback(rng: &mut Rng) -> String {
    let mut t = String::from("Traceback (most recent call last):\n");
    for (f, l, func) in [
        ("views.py", 88, "dispatch"),
        ("orders.py", 142, "create_order"),
        ("db.py", 57, "execute"),
    ] {
        t.push_str(&format!(
            "  File \"/home/app/service/{f}\", line {l}, in {func}\n    result = self.{func}(request, *args, **kwargs)\n"
        ));
    }
    t.push_str(&format!(
        "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint \"orders_pkey\"\nDETAIL:  Key (id)=({}) already exists.\n",
        rng.next() % 100_000
    ));
    while t.len() < 600 {
        t.push_str("  (frame elided)\n");
    }
    t
}

/// One realistic record: ~20 fields set, a ~60-character INFO message; every 10th a
/// WARNING with 3 extras, every 50th an ERROR with a 600-byte traceback.
fn make_record(i: usize, rng: &mut Rng, base: f64) -> Record {
    let (logger, module, func) = *rng.pick(LOGGERS);
    let mut r = Record::new(SourceKind::Tcp, format!("127.0.0.1:{}", 40000 + i % 8));
    r.created = base + i as f64 * 1e-5;
    r.logger = logger.to_owned();
    r.message = format!(
        "user {} {} from 10.0.{}.{} (attempt {}) in {} ms",
        rng.pick(USERS),
        rng.pick(VERBS),
        rng.next() % 4,
        rng.next() % 250,
        rng.next() % 5 + 1,
        rng.next() % 1000
    );
    if unique_tokens() {
        r.message
            .push_str(&format!(" req={:08x}", rng.next() as u32));
    }
    r.host = Some(format!("web-{}", i % 4));
    r.process = Some(4000 + (i % 8) as i64);
    r.process_name = Some("MainProcess".into());
    r.thread = Some(140_234_567_890_000 + (i % 4) as i64);
    r.thread_name = Some("MainThread".into());
    r.pathname = Some(format!("/home/app/service/{module}.py"));
    r.filename = Some(format!("{module}.py"));
    r.module = Some(module.to_owned());
    r.lineno = Some((rng.next() % 400) as i64 + 1);
    r.func = Some(func.to_owned());
    if i.is_multiple_of(3) {
        r.job = Some("web".into());
    }
    if i.is_multiple_of(4) {
        r.task_name = Some(format!("Task-{}", i % 100));
    }
    if i % 50 == 49 {
        r.set_level(ERROR);
        r.message = format!("Internal Server Error: /api/orders/{}", rng.next() % 10_000);
        r.exc_text = Some(traceback(rng));
    } else if i % 10 == 9 {
        r.set_level(WARNING);
        r.message = format!(
            "slow query took {} ms on table orders",
            rng.next() % 2000 + 500
        );
        r.extra = vec![
            (
                "request_id".into(),
                Value::Str(format!("{:016x}", rng.next())),
            ),
            (
                "duration_ms".into(),
                Value::Float((rng.next() % 20_000) as f64 / 10.0),
            ),
            ("user_id".into(), Value::Int((rng.next() % 100_000) as i64)),
        ];
    } else {
        r.set_level(INFO);
    }
    r
}

/// `STORE_BENCH_UNIQUE=1` appends a unique 8-hex-digit token to every INFO message
/// (request ids): the word index then gains a new word per record.
fn unique_tokens() -> bool {
    std::env::var("STORE_BENCH_UNIQUE").is_ok_and(|v| v == "1")
}

fn batches(n: usize) -> Vec<Vec<Record>> {
    let mut rng = Rng(42);
    let base = logtui::record::now_epoch() - 600.0;
    let mut b = Batcher::default();
    let mut out = Vec::new();
    for i in 0..n {
        if let Some(full) = b.push(make_record(i, &mut rng, base)) {
            out.push(full);
        }
    }
    if !b.is_empty() {
        out.push(b.take());
    }
    out
}

struct Variant {
    name: &'static str,
    what: &'static str,
    cfg: StoreConfig,
    tuning: Tuning,
}

/// Every variant measured: the shipped settings, then one change at a time.
fn variants() -> Vec<Variant> {
    let d = Tuning::default;
    let c = StoreConfig::default;
    let t = |f: &dyn Fn(&mut Tuning)| {
        let mut x = d();
        f(&mut x);
        x
    };
    let buf = |n: usize| StoreConfig {
        buffer_size: n,
        ..c()
    };
    let v = |name, what, cfg, tuning| Variant {
        name,
        what,
        cfg,
        tuning,
    };
    vec![
        v(
            "default",
            "shipped: block index thread, 32 rows/insert, background checkpoints",
            c(),
            d(),
        ),
        // Physical settings.
        v(
            "single-row",
            "1 row per insert statement",
            c(),
            t(&|x| x.rows_per_insert = 1),
        ),
        v(
            "multi64",
            "64 rows per insert statement",
            c(),
            t(&|x| x.rows_per_insert = 64),
        ),
        v(
            "writer-ckpt",
            "writer runs its own WAL checkpoints",
            c(),
            t(&|x| x.checkpoint_in_background = false),
        ),
        v(
            "ckpt1000",
            "wal_autocheckpoint 1000 (SQLite default)",
            c(),
            t(&|x| x.wal_autocheckpoint = 1000),
        ),
        v("page4k", "page_size 4096", c(), t(&|x| x.page_size = 4096)),
        v(
            "page16k",
            "page_size 16384",
            c(),
            t(&|x| x.page_size = 16384),
        ),
        v(
            "cache8m",
            "cache_size 8 MiB instead of 64 MiB",
            c(),
            t(&|x| x.cache_kib = 8 * 1024),
        ),
        // The block index.
        v(
            "block64",
            "64 records per index block",
            c(),
            t(&|x| x.block_records = 64),
        ),
        v(
            "block1024",
            "1024 records per index block",
            c(),
            t(&|x| x.block_records = 1024),
        ),
        v("no-index", "no block index", c(), t(&|x| x.index = false)),
        // Flush size.
        v("buffer500", "buffer_size 500", buf(500), d()),
        v("buffer10k", "buffer_size 10000", buf(10_000), d()),
    ]
}

/// Per-thread CPU seconds (user + system) by thread name, from `/proc/self/task`.
fn thread_cpu() -> HashMap<u32, (String, f64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let f: Vec<f64> = stat[close + 1..]
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // utime and stime are fields 14 and 15: 11 and 12 after the name; 100 ticks/s.
        let cpu = (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0;
        out.insert(tid, (name, cpu));
    }
    out
}

/// Samples every thread's CPU time until told to stop; returns CPU seconds used during
/// the sampling by thread name (threads that ended are counted up to their last sample).
fn sample_threads(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<HashMap<String, f64>> {
    std::thread::spawn(move || {
        let base = thread_cpu();
        let mut last = base.clone();
        while !stop.load(Ordering::Relaxed) {
            for (tid, v) in thread_cpu() {
                last.insert(tid, v);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for (tid, v) in thread_cpu() {
            last.insert(tid, v);
        }
        let mut by_name: HashMap<String, f64> = HashMap::new();
        for (tid, (name, cpu)) in last {
            let before = base.get(&tid).map_or(0.0, |(_, c)| *c);
            *by_name.entry(name).or_default() += cpu - before;
        }
        by_name
    })
}

/// What one run measured.
struct Run {
    rate: f64,
    /// CPU µs per record: writer thread, index thread, whole process.
    writer: f64,
    index: f64,
    total: f64,
}

/// One timed run, from the first submit until the persister's final flush returned.
fn run_once(v: &Variant, data: Vec<Vec<Record>>, n: usize) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let stats = Arc::new(Stats::default());
    let (intake, outlet) = Intake::new(v.cfg.queue_batches, stats.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_threads(stop.clone());
    std::thread::sleep(Duration::from_millis(20));
    let handle = spawn_tuned(
        &path,
        &v.cfg,
        &v.tuning,
        outlet,
        stats.clone(),
        logtui::store::Feed::new(),
    )
    .expect("spawn persister");
    let start = Instant::now();
    let feeder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("feeder runtime");
        rt.block_on(async move {
            for b in data {
                assert!(intake.submit(b).await, "persister went away");
            }
        });
    });
    feeder.join().expect("feeder");
    handle.join().expect("persister");
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let cpu = sampler.join().expect("sampler");
    let stored: u64 = SourceKind::ALL
        .iter()
        .map(|&s| stats.snapshot(s).stored)
        .sum();
    assert!(stored >= n as u64, "stored {stored} of {n}");
    let per = |name: &str| cpu.get(name).copied().unwrap_or(0.0) * 1e6 / n as f64;
    Run {
        rate: n as f64 / secs,
        writer: per("logtui-store"),
        index: per("logtui-index"),
        total: cpu.values().sum::<f64>() * 1e6 / n as f64,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = std::env::var("STORE_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let runs: usize = std::env::var("STORE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let data = batches(n);
    let bytes: usize = data.iter().flatten().map(Record::approx_size).sum();
    let info: Vec<&Record> = data.iter().flatten().filter(|r| r.level == INFO).collect();
    let msg = info.iter().map(|r| r.message.len()).sum::<usize>() / info.len().max(1);
    println!(
        "{n} records in {} batches (~{} B each by approx_size, INFO messages ~{msg} chars), {runs} runs per variant",
        data.len(),
        bytes / n.max(1),
    );
    println!(
        "timed from the first submit until join() returned: every record committed and indexed"
    );
    let all = variants();
    let chosen: Vec<&Variant> = if args.iter().any(|a| a == "all") {
        all.iter().collect()
    } else if args.is_empty() {
        all.iter().filter(|v| v.name == "default").collect()
    } else {
        all.iter()
            .filter(|v| args.iter().any(|a| a == v.name))
            .collect()
    };
    println!("load average before: {}", loadavg());
    // Variants take turns, so a burst of load elsewhere hits them all alike.
    let mut results: Vec<Vec<Run>> = chosen.iter().map(|_| Vec::new()).collect();
    for _ in 0..runs {
        for (i, v) in chosen.iter().enumerate() {
            results[i].push(run_once(v, data.clone(), n));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    println!(
        "{:<14} {:>10} {:>10} {:>10}  {:>6} {:>6} {:>6}  (CPU µs/record: writer, index, process)",
        "variant", "median/s", "min/s", "max/s", "writer", "index", "total"
    );
    for (v, rs) in chosen.iter().zip(results) {
        let rates: Vec<f64> = rs.iter().map(|r| r.rate).collect();
        println!(
            "{:<14} {:>10.0} {:>10.0} {:>10.0}  {:>6.2} {:>6.2} {:>6.2}  {}",
            v.name,
            median(rates.clone()),
            rates.iter().copied().fold(f64::INFINITY, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
            median(rs.iter().map(|r| r.writer).collect()),
            median(rs.iter().map(|r| r.index).collect()),
            median(rs.iter().map(|r| r.total).collect()),
            v.what
        );
    }
    println!("load average after: {}", loadavg());
}
