//! Test support: runs the real `logtui` binary on free loopback ports with a store in a temp dir,
//! finds the machine's CPythons (failing loudly when one is missing), and polls for conditions.
#![allow(dead_code)]

pub mod redis_cluster;
pub mod redis_server;
pub mod tty;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Redis off unless a test turns it on: the machine's own Redis on 127.0.0.1:6379 (the
/// default URL) is shared and none of a test's business.
pub const REDIS_OFF: (&str, &str) = ("--redis", "off");

/// `logtui record` arguments that read Redis at `url` and nothing else (every socket
/// listener off).
pub fn redis_only_args(url: &str) -> Vec<&str> {
    vec![
        "--tcp", "off", "--udp", "off", "--http", "off", "--redis", url,
    ]
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logtui")
}

/// A running `logtui record`.
pub struct Logtui {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub tcp: Option<String>,
    pub udp: Option<String>,
    pub http: Option<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
    /// Reads stderr until the process closes it; joined on stop, so no line is missed.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Logtui {
    /// Starts `logtui record` with every listener on port 0 unless `args` says otherwise,
    /// and waits until it says where it listens.
    pub fn start(args: &[&str]) -> Logtui {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("store.db");
        Self::start_with_db(dir, db, args)
    }

    pub fn start_with_db(dir: tempfile::TempDir, db: PathBuf, args: &[&str]) -> Logtui {
        Self::start_with_env(dir, db, args, &[])
    }

    /// As [`Logtui::start_with_db`], with `env` set for the process.
    pub fn start_with_env(
        dir: tempfile::TempDir,
        db: PathBuf,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Logtui {
        let mut cmd = Command::new(bin());
        cmd.envs(env.iter().copied());
        cmd.arg("record").arg("--db").arg(&db);
        for (flag, default) in [
            ("--tcp", "127.0.0.1:0"),
            ("--udp", "127.0.0.1:0"),
            ("--http", "127.0.0.1:0"),
            REDIS_OFF,
        ] {
            if !args.contains(&flag) {
                cmd.args([flag, default]);
            }
        }
        cmd.args(args)
            .env("XDG_CONFIG_HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn logtui");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut me = Logtui {
            child,
            dir,
            db,
            tcp: None,
            udp: None,
            http: None,
            stderr,
            lines,
            reader: Some(reader),
        };
        loop {
            let line = me
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("logtui did not start: {:?}", me.stderr()));
            if let Some(rest) = line.split("listening on ").nth(1) {
                for part in rest.split(", ") {
                    let (kind, addr) = part.split_once(' ').expect("kind addr");
                    let addr = Some(addr.to_owned());
                    match kind {
                        "tcp" => me.tcp = addr,
                        "udp" => me.udp = addr,
                        "http" => me.http = addr,
                        _ => {}
                    }
                }
                return me;
            }
        }
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `sig` and waits for exit; returns the exit code and everything it wrote to stderr.
    pub fn stop_with(mut self, sig: &str) -> (i32, Vec<String>, tempfile::TempDir, PathBuf) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        let status = wait_timeout(&mut self.child, Duration::from_secs(30))
            .expect("logtui did not exit within 30 s");
        // The pipe closed with the process: the reader ends once it has taken the last lines.
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr reader");
        }
        let err = self.stderr();
        (status.code().unwrap_or(-1), err, self.dir, self.db)
    }

    pub fn stop(self) -> (i32, Vec<String>, tempfile::TempDir, PathBuf) {
        self.stop_with("-TERM")
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// Runs `logtui query --db DB ARGS…` and returns stdout; panics on failure.
pub fn query(db: &Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("query")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run logtui query");
    assert!(
        out.status.success(),
        "logtui query {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// [`wait_for`] for async tests: waits with the runtime's timer, so the server it polls keeps running.
#[track_caller]
pub fn poll_until_async<'a>(
    limit: Duration,
    what: &'a str,
    mut cond: impl FnMut() -> bool + 'a,
) -> impl std::future::Future<Output = ()> + 'a {
    let deadline = Instant::now() + limit;
    async move {
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The one way to run the suite on a machine without the interpreters it needs: set to `1`, a
/// test that needs a missing Python says SKIPPED and passes. CI never sets it.
pub const ALLOW_NO_PYTHON: &str = "LOGTUI_TEST_ALLOW_NO_PYTHON";

/// Whether [`ALLOW_NO_PYTHON`] is set to `1`.
pub fn no_python_allowed() -> bool {
    std::env::var(ALLOW_NO_PYTHON).is_ok_and(|v| v == "1")
}

/// `found`, or — when the interpreter a test needs is missing — a loud failure naming `what`,
/// unless [`ALLOW_NO_PYTHON`] opts out: then `None`, after saying SKIPPED, and the test returns.
#[track_caller]
pub fn python_or_skip<T>(found: Option<T>, what: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    assert!(
        no_python_allowed(),
        "this test needs {what}, which is not installed; install it, or set {ALLOW_NO_PYTHON}=1 \
         to skip the tests that need it"
    );
    eprintln!("SKIPPED: {what} not found and {ALLOW_NO_PYTHON}=1");
    None
}

/// Whether `exe` runs and exits 0 with `--version`.
pub fn runs(exe: &Path) -> bool {
    Command::new(exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every CPython on this machine: `LOGTUI_TEST_PYTHONS` (colon-separated) if set, else each
/// `~/.pyenv/versions/*/bin/python`, else `python3`. Empty only when none runs and
/// [`ALLOW_NO_PYTHON`] opts out; otherwise a machine with none fails loudly.
pub fn pythons() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("LOGTUI_TEST_PYTHONS") {
        return list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let mut found: Vec<PathBuf> = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".pyenv/versions"))
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/python"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    if found.is_empty() {
        let py3 = PathBuf::from("python3");
        found.extend(python_or_skip(
            runs(&py3).then_some(py3),
            "a CPython (python3)",
        ));
    }
    found
}

/// `(major, minor)` of an interpreter.
pub fn python_version(py: &Path) -> (u32, u32) {
    let out = Command::new(py)
        .args(["-c", "import sys; print('%d %d' % sys.version_info[:2])"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|x| x.parse().expect("version"));
    (it.next().expect("major"), it.next().expect("minor"))
}

pub fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Peak resident memory of a process so far (VmHWM), in MB.
pub fn vm_hwm_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kb / 1024.0
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` if it still does not after
/// `limit`; returns the time taken. Tests wait on something they can observe (the store's count,
/// a stats line, the budget), never a sleep.
#[track_caller]
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// `logtui query --count ARGS…` as a number.
pub fn count(db: &Path, args: &[&str]) -> u64 {
    let a: Vec<&str> = std::iter::once("--count")
        .chain(args.iter().copied())
        .collect();
    query(db, &a).trim().parse().expect("a count")
}

impl Logtui {
    /// `logtui record` reading Redis at `url` only, stats every 0.2 s, then `extra`.
    pub fn record_redis(url: &str, extra: &[&str]) -> Logtui {
        let mut args = redis_only_args(url);
        args.extend(["--stats-interval", "0.2"]);
        args.extend_from_slice(extra);
        Logtui::start(&args)
    }

    /// Every stored record matching `args`, as `logtui query --format jsonl` prints it.
    pub fn rows(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut a = vec!["--format", "jsonl"];
        a.extend_from_slice(args);
        query(&self.db, &a)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// The Redis gap records stored so far.
    pub fn redis_gaps(&self) -> Vec<serde_json::Value> {
        self.rows(&["--source", "internal", "--logger", "logtui.redis"])
            .into_iter()
            .filter(|r| r["extra"].get("gap_start").is_some())
            .collect()
    }

    /// Starts `logtui record` with `config` as its config file.
    pub fn start_with_config(config: &str, args: &[&str]) -> Logtui {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("logtui")).expect("config dir");
        std::fs::write(dir.path().join("logtui/config.toml"), config).expect("config file");
        let db = dir.path().join("store.db");
        Self::start_with_db(dir, db, args)
    }

    /// The newest `--stats-interval` line, if one was printed yet.
    fn stats_line(&self) -> Option<String> {
        let err = self.stderr();
        err.into_iter()
            .rev()
            .find(|l| l.starts_with("logtui: stats:"))
    }

    /// The Redis link's state and `messages/reconnects/gaps/dropped/recovered` from the newest
    /// stats line: `("subscribed", [10, 0, 0, 0, 0])`.
    pub fn redis_link(&self) -> Option<(String, [u64; 5])> {
        let line = self.stats_line()?;
        let rest = line.rsplit("  redis ").next()?;
        let mut it = rest.split_whitespace();
        let state = it.next()?.to_owned();
        let n: Vec<u64> = it
            .next()?
            .split('/')
            .filter_map(|x| x.parse().ok())
            .collect();
        Some((state, n.try_into().ok()?))
    }

    /// The `received/stored/rejected/dropped/ignored/unformatted` counts of `source` ("tcp",
    /// "udp", "http", ...) from the newest stats line.
    pub fn source_counts(&self, source: &str) -> Option<Vec<u64>> {
        let line = self.stats_line()?;
        let mut words = line.split_whitespace();
        words.find(|w| *w == source)?;
        words.next()?.split('/').map(|n| n.parse().ok()).collect()
    }

    /// Bytes the listeners hold against the byte budget, from the newest stats line.
    pub fn buffered(&self) -> Option<u64> {
        let line = self.stats_line()?;
        line.split("buffered ")
            .nth(1)?
            .split(' ')
            .next()?
            .parse()
            .ok()
    }

    /// The `open/shed/refused/abandoned` connection counters of `listener` ("tcp" or "http")
    /// from the newest stats line.
    pub fn conn_stats(&self, listener: &str) -> Option<[u64; 4]> {
        let line = self.stats_line()?;
        let rest = line.split("connections ").nth(1)?;
        let mut words = rest.split_whitespace();
        words.find(|w| *w == listener)?;
        let nums: Vec<u64> = words
            .next()?
            .split('/')
            .filter_map(|n| n.parse().ok())
            .collect();
        nums.try_into().ok()
    }
}

/// A frame made by CPython's own `SocketHandler.makePickle` for one INFO record of `logger`.
pub fn socket_handler_frame(logger: &str, msg: &str) -> Vec<u8> {
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler("127.0.0.1", 9)
r = logging.getLogger(sys.argv[1]).makeRecord(sys.argv[1], logging.INFO, "f.py", 1, sys.argv[2], (), None)
sys.stdout.buffer.write(h.makePickle(r))
"#;
    run_python(script, &[logger, msg])
}

/// A valid 16 MiB SocketHandler frame for one record of `logger` whose pickle first pushes and
/// pops a small int 5.5 million times: it keeps a decoder busy for a long while (seconds in a
/// debug build).
pub fn slow_big_frame(logger: &str, msg: &str) -> Vec<u8> {
    let script = r#"
import logging, logging.handlers, struct, sys
h = logging.handlers.SocketHandler("127.0.0.1", 9)
r = logging.getLogger(sys.argv[1]).makeRecord(sys.argv[1], logging.INFO, "f.py", 1, sys.argv[2], (), None)
p = h.makePickle(r)[4:]
payload = b"K\x010" * ((16 * 1024 * 1024 - 4 - len(p)) // 3) + p
sys.stdout.buffer.write(struct.pack(">L", len(payload)) + payload)
"#;
    let frame = run_python(script, &[logger, msg]);
    assert!(frame.len() <= 16 * 1024 * 1024);
    frame
}

/// Runs `python3 -c script args…` and returns what it wrote, failing the test if it failed.
fn run_python(script: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sends `frame` on `n` new connections to `addr` so that all arrive complete at about the
/// same moment: all but the last byte on each (in parallel), then every last byte. Returns the
/// open connections.
pub fn send_together(addr: &str, frame: &[u8], n: usize) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    let (head, last) = frame.split_at(frame.len() - 1);
    let mut conns: Vec<std::net::TcpStream> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let mut s = std::net::TcpStream::connect(addr).expect("connect");
                    s.write_all(head).expect("send");
                    s
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|t| t.join().expect("sender"))
            .collect()
    });
    for c in &mut conns {
        c.write_all(last).expect("send the last byte");
    }
    conns
}

/// Checks that `rows` (records `gap-<i>` from a paced Smarter producer) hold each of the `n`
/// records exactly once, each with its job `job_of(i)`, or with none when only its
/// `logs:global` copy came by pub/sub; returns how many came without their job.
pub fn each_record_once_with_its_job(
    rows: &[serde_json::Value],
    n: u64,
    job_of: impl Fn(usize) -> String,
) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut jobless = 0;
    for r in rows {
        let m = r["message"].as_str().expect("a message").to_owned();
        let i: usize = m
            .strip_prefix("gap-")
            .and_then(|i| i.parse().ok())
            .expect("gap-<i>");
        match r["job"].as_str() {
            Some(job) => assert_eq!(job, job_of(i), "{r}"),
            None => {
                assert_eq!(r["origin"], "logs:global", "{r}");
                jobless += 1;
            }
        }
        assert!(seen.insert(m), "stored twice: {r}");
    }
    assert_eq!(seen.len() as u64, n);
    jobless
}
