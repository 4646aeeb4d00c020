//! The terminal UI end to end: the real binary in a tmux pane, fed by real senders (CPython's
//! handlers, `logtui emit`), driven by keys, checked by what the screen and the terminal show.
//!
//! Every wait is on something observable (the screen, the store's count, the exit status) with
//! a deadline; nothing sleeps in place of a condition. Each test has its own store and its own
//! `XDG_DATA_HOME`/`XDG_CONFIG_HOME`, so a user's config, themes or demo store never leak in.

mod common;

use common::tty::Tty;
use common::{Logtui, bin, count, manifest_path, python_or_skip, runs};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: the machine is small and shared, and a debug build is slow.
const WAIT: Duration = Duration::from_secs(20);

/// A test's own home: the store and the XDG directories the program sees.
struct Home {
    dir: tempfile::TempDir,
    data: String,
    config: String,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&config).unwrap();
        Home {
            data: data.to_str().expect("a UTF-8 temp path").to_owned(),
            config: config.to_str().expect("a UTF-8 temp path").to_owned(),
            dir,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    fn db_str(&self) -> String {
        self.db().to_str().expect("a UTF-8 temp path").to_owned()
    }

    fn env(&self) -> [(&str, &str); 2] {
        [
            ("XDG_DATA_HOME", self.data.as_str()),
            ("XDG_CONFIG_HOME", self.config.as_str()),
        ]
    }

    /// `logtui --db <store> --tcp 127.0.0.1:0 --udp off --http off` (then `extra`, which may
    /// turn the other listeners on), in a `cols`×`rows` terminal.
    fn ui(&self, extra: &[&str], cols: u16, rows: u16) -> Running {
        Running::new(self.ui_tty(extra, cols, rows))
    }

    /// [`ui`](Self::ui) for a program expected to end at once (no pid to wait for).
    fn ui_tty(&self, extra: &[&str], cols: u16, rows: u16) -> Tty {
        let db = self.db_str();
        let mut args = vec!["--db", db.as_str()];
        for (flag, default) in [
            ("--tcp", "127.0.0.1:0"),
            ("--udp", "off"),
            ("--http", "off"),
            common::REDIS_OFF,
        ] {
            if !extra.contains(&flag) {
                args.extend([flag, default]);
            }
        }
        args.extend(extra);
        Tty::start(Path::new(bin()), &args, &self.env(), cols, rows)
    }

    /// `logtui view --db <db>`.
    fn view(&self, db: &Path, cols: u16, rows: u16) -> Running {
        Running::new(self.view_tty(db, cols, rows))
    }

    fn view_tty(&self, db: &Path, cols: u16, rows: u16) -> Tty {
        let db = db.to_str().expect("a UTF-8 temp path");
        Tty::start(
            Path::new(bin()),
            &["view", "--db", db],
            &self.env(),
            cols,
            rows,
        )
    }
}

/// Whether `pid` is still a live `logtui` (not ended, not a zombie, not a recycled pid).
fn alive(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()?.to_owned()));
    cmdline.starts_with(bin().as_bytes()) && state.is_some_and(|s| s != "Z")
}

/// Kills the UI's process (by its pid) when a test ends with it still running, as a failed
/// test does: a UI whose terminal has gone away does not end by itself (see
/// `the_ui_exits_when_its_terminal_goes_away`) and would spin a core for good.
struct Reaper(u32);

impl Drop for Reaper {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

/// A UI running in a terminal, killed if the test ends first. Dropping it ends the process
/// (if it is still running), then the terminal.
struct Running {
    _reaper: Reaper,
    tty: Tty,
}

impl Running {
    fn new(tty: Tty) -> Running {
        Running {
            _reaper: Reaper(tty.pid()),
            tty,
        }
    }
}

impl std::ops::Deref for Running {
    type Target = Tty;
    fn deref(&self) -> &Tty {
        &self.tty
    }
}

/// The status bar: the last line that ends with the help hint.
fn status_line(screen: &str) -> Option<&str> {
    screen.lines().rev().find(|l| l.contains("│ ? keys"))
}

/// The address the status bar says `kind` ("tcp", "udp", "http") listens on.
fn listener_in(screen: &str, kind: &str) -> Option<String> {
    let words: Vec<&str> = status_line(screen)?.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == kind && w[1].starts_with("127.0.0.1:"))
        .map(|w| w[1].to_owned())
}

/// Waits for the UI to show where `kind` listens, and returns that address.
#[track_caller]
fn listener(t: &Tty, kind: &str) -> String {
    let s = t.wait_for(
        &format!("the status bar naming the {kind} listener"),
        |s| listener_in(s, kind).is_some(),
        WAIT,
    );
    listener_in(&s, kind).unwrap()
}

/// Sends each of `lines` as one record's message with `logtui emit --stdin`, at `level`.
#[track_caller]
fn emit(tcp: &str, level: &str, logger: &str, lines: &[&str]) {
    let mut child = Command::new(bin())
        .args(["emit", "--tcp", tcp, "--stdin", "--level", level])
        .args(["--logger", logger])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run logtui emit");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            stdin.write_all(l.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "logtui emit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `logtui emit ARGS…` and checks it succeeded.
#[track_caller]
fn emit_args(args: &[&str]) {
    let out = Command::new(bin())
        .arg("emit")
        .args(args)
        .output()
        .expect("run logtui emit");
    assert!(
        out.status.success(),
        "logtui emit {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls the store's count (a `logtui query` each time, so not too often) until it is `n`.
#[track_caller]
fn wait_stored(db: &Path, n: u64) {
    let start = Instant::now();
    loop {
        let c = count(db, &[]);
        if c >= n {
            assert_eq!(c, n, "more records stored than sent");
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {n} records in the store (it has {c})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`Tty::wait_for`] for a condition that also says what is *not* on screen: it must hold on
/// three captures in a row, so a capture taken while a frame was half written (new rows at
/// the top, the old ones still below) cannot pass for the new frame.
#[track_caller]
fn wait_settled(t: &Tty, what: &str, pred: impl Fn(&str) -> bool, deadline: Duration) -> String {
    let hits = std::cell::Cell::new(0);
    t.wait_for(
        what,
        |s| {
            hits.set(if pred(s) { hits.get() + 1 } else { 0 });
            hits.get() >= 3
        },
        deadline,
    )
}

/// The left and right halves of each screen line, at column `at` (counted in characters:
/// everything this file sends is one cell a character).
fn halves(screen: &str, at: usize) -> (String, String) {
    let (mut left, mut right) = (String::new(), String::new());
    for line in screen.lines() {
        let chars: Vec<char> = line.chars().collect();
        let cut = at.min(chars.len());
        left.extend(&chars[..cut]);
        right.extend(&chars[cut..]);
        left.push('\n');
        right.push('\n');
    }
    (left, right)
}

/// Checks, once the program has ended, that it exited 0 and left the terminal as it found it:
/// the normal screen, the cursor shown, no mouse reporting, no trace of the UI.
#[track_caller]
fn assert_restored(t: &Tty, status: i32, how: &str) {
    assert_eq!(
        status,
        0,
        "exit status after {how}; screen:\n{}",
        t.screen()
    );
    assert!(!t.alternate_on(), "alternate screen still on after {how}");
    assert!(t.cursor_visible(), "cursor left hidden after {how}");
    assert!(!t.mouse_any(), "mouse reporting left on after {how}");
    let s = t.screen();
    assert!(
        !s.contains("? keys") && !s.contains('┌'),
        "the UI's frame is still on the screen after {how}:\n{s}"
    );
}

#[test]
fn records_from_cpython_socket_datagram_and_http_handlers_appear_in_the_pane() {
    let py = Path::new("python3");
    let Some(py) = python_or_skip(runs(py).then_some(py), "a CPython (python3)") else {
        return;
    };
    let home = Home::new();
    let t = home.ui(&["--udp", "127.0.0.1:0", "--http", "127.0.0.1:0"], 150, 20);
    let addrs: Vec<(&str, String)> = ["tcp", "udp", "http"]
        .into_iter()
        .map(|k| (k, listener(&t, k)))
        .collect();
    for (kind, addr) in &addrs {
        let msg = format!("hello from a python {kind} handler");
        let logger = format!("e2e.{kind}");
        let mut child = Command::new(py)
            .arg(manifest_path("tests/python/ui_send.py"))
            .args([*kind, addr.as_str(), logger.as_str()])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3");
        writeln!(child.stdin.take().unwrap(), "WARNING {msg}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the {kind} sender failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Sent (the handler is closed): a following pane shows it within 300 ms, as the issue
        // asks (about 30–80 ms here with the whole file running).
        let sent = Instant::now();
        t.wait_for(
            &format!("the {kind} record on screen"),
            |s| s.contains(&msg),
            WAIT,
        );
        let took = sent.elapsed();
        eprintln!("{kind}: on screen {took:?} after the sender finished");
        assert!(
            took <= Duration::from_millis(300),
            "the {kind} record took {took:?} to show"
        );
    }
    let s = t.screen();
    for (kind, _) in &addrs {
        assert!(
            s.contains(&format!("e2e.{kind}")),
            "logger e2e.{kind}:\n{s}"
        );
    }
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn key_4_hides_records_below_error_and_1_brings_them_back() {
    let home = Home::new();
    let t = home.ui(&[], 150, 20);
    let tcp = listener(&t, "tcp");
    emit(&tcp, "INFO", "e2e.levels", &["an info line quartz"]);
    emit(&tcp, "ERROR", "e2e.levels", &["an error line basalt"]);
    t.wait_for(
        "both records",
        |s| s.contains("an info line quartz") && s.contains("an error line basalt"),
        WAIT,
    );
    t.keys(&["4"]);
    let s = wait_settled(
        &t,
        "only the error after 4",
        |s| !s.contains("an info line quartz") && s.contains("an error line basalt"),
        WAIT,
    );
    assert!(s.contains("level≥ERROR"), "the title names the level:\n{s}");
    // Live records go through the same filter as those read from the store.
    emit(&tcp, "WARNING", "e2e.levels", &["a live warning slate"]);
    emit(&tcp, "CRITICAL", "e2e.levels", &["a live critical granite"]);
    let s = wait_settled(
        &t,
        "the live critical record, not the warning",
        |s| s.contains("a live critical granite"),
        WAIT,
    );
    // Sent and committed before the critical one, so it would be on screen by now.
    assert!(!s.contains("a live warning slate"), "{s}");
    assert!(!s.contains("an info line quartz"), "{s}");
    t.keys(&["1"]);
    let s = wait_settled(
        &t,
        "the info and warning records back after 1",
        |s| {
            ["quartz", "basalt", "slate", "granite"]
                .iter()
                .all(|w| s.contains(w))
        },
        WAIT,
    );
    assert!(!s.contains("level≥"), "the level is cleared:\n{s}");
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// A store of 50,001 records, the first a needle ("xyzzy"), written by a separate recorder.
fn needle_store() -> (tempfile::TempDir, PathBuf) {
    let lt = Logtui::start(&["--tcp", "127.0.0.1:0", "--udp", "off", "--http", "off"]);
    let tcp = lt.tcp.clone().expect("tcp");
    emit(&tcp, "INFO", "e2e.needle", &["the needle xyzzy is here"]);
    emit_args(&["--tcp", &tcp, "--count", "50000"]);
    wait_stored(&lt.db, 50_001);
    let (code, err, dir, db) = lt.stop();
    assert_eq!(code, 0, "the recorder: {err:?}");
    (dir, db)
}

/// The needle is 50,000 records back, far beyond what a pane holds (a few screens): only the
/// store has it. `N` (previous match) after `/` reaches it.
#[test]
fn search_then_previous_match_finds_a_record_far_outside_the_pane() {
    let (_dir, db) = needle_store();
    let home = Home::new();
    let t = home.view(&db, 150, 20);
    t.wait_for(
        "the newest records",
        |s| s.contains("synthetic record 50000 of 50000"),
        WAIT,
    );
    assert!(!t.screen().contains("xyzzy"));
    t.keys(&["/"]);
    t.type_text("xyzzy");
    t.keys(&["Enter"]);
    // From the tail, Enter looks back for the newest match: the needle, from the store.
    let s = t.wait_for(
        "the needle found by Enter",
        |s| s.contains("the needle xyzzy is here") && !s.contains("reading…"),
        WAIT,
    );
    assert!(!s.contains("no match"), "{s}");
    // Back to the newest, then N (previous match) reaches it again.
    t.keys(&["G"]);
    t.wait_for(
        "the newest records again",
        |s| s.contains("synthetic record 50000 of 50000") && !s.contains("xyzzy is here"),
        WAIT,
    );
    t.keys(&["N"]);
    let s = t.wait_for(
        "the needle on screen",
        |s| s.contains("the needle xyzzy is here"),
        WAIT,
    );
    assert!(!s.contains("no match"), "{s}");
    // The match is highlighted: a style starts right at the word and ends right after it.
    let styled = t.screen_with_styles();
    let row = styled
        .lines()
        .find(|l| l.contains("the needle "))
        .unwrap_or_else(|| panic!("no needle row:\n{styled}"));
    assert!(
        row.contains("the needle \x1b[") && row.contains("mxyzzy\x1b["),
        "xyzzy is not highlighted: {row:?}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// As the issue and the help describe `/` ("Search: highlight matches, looking into the store
/// too"), typing `/needle` Enter in a pane that follows the tail shows the needle.
#[test]
fn search_finds_a_record_that_scrolled_out_of_memory_long_ago() {
    let (_dir, db) = needle_store();
    let home = Home::new();
    let t = home.view(&db, 150, 20);
    t.wait_for(
        "the newest records",
        |s| s.contains("synthetic record 50000 of 50000"),
        WAIT,
    );
    t.keys(&["/"]);
    t.type_text("xyzzy");
    t.keys(&["Enter"]);
    let s = t.wait_for(
        "the needle on screen, or `no match`",
        |s| s.contains("the needle xyzzy is here") || s.contains("no match"),
        WAIT,
    );
    assert!(
        s.contains("the needle xyzzy is here"),
        "/xyzzy did not find the needle:\n{s}"
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn filter_with_bang_excludes_and_esc_clears_it() {
    let home = Home::new();
    let t = home.ui(&[], 150, 20);
    let tcp = listener(&t, "tcp");
    emit(
        &tcp,
        "INFO",
        "e2e.filter",
        &[
            "health check passed in 3 ms",
            "order 42 placed",
            "the health probe is slow",
            "order 43 shipped",
        ],
    );
    let both = |s: &str| {
        s.contains("health check passed")
            && s.contains("the health probe is slow")
            && s.contains("order 42 placed")
            && s.contains("order 43 shipped")
    };
    t.wait_for("all four records", both, WAIT);
    t.keys(&["f"]);
    t.type_text("!health");
    t.keys(&["Enter"]);
    let s = wait_settled(
        &t,
        "the health records hidden",
        |s| {
            !s.contains("health check passed")
                && !s.contains("the health probe is slow")
                && s.contains("order 42 placed")
                && s.contains("order 43 shipped")
        },
        WAIT,
    );
    assert!(!s.contains("filter: "), "the prompt closed on Enter:\n{s}");
    // A live record the filter excludes stays out; one it keeps comes in.
    emit(
        &tcp,
        "INFO",
        "e2e.filter",
        &["late health report", "order 44 late", "GET /healthz 200"],
    );
    let s = wait_settled(
        &t,
        "the live records the filter keeps",
        |s| s.contains("order 44 late") && s.contains("GET /healthz 200"),
        WAIT,
    );
    // Sent before those two, so it would be on screen by now.
    assert!(!s.contains("late health report"), "{s}");
    // `!` leaves out what the same text search finds: whole words, so `/healthz` stays…
    // …and `health*` is the prefix. The prompt opens holding the current filter.
    t.keys(&["f"]);
    t.wait_for(
        "the prompt with the filter",
        |s| s.contains("filter: !health"),
        WAIT,
    );
    t.type_text("*");
    t.keys(&["Enter"]);
    let s = wait_settled(
        &t,
        "the /healthz record hidden by !health*",
        |s| !s.contains("GET /healthz 200") && s.contains("!health*") && s.contains("order 44"),
        WAIT,
    );
    assert!(!s.contains("health check passed"), "{s}");
    // Esc with no prompt open clears the filter.
    t.keys(&["Escape"]);
    t.wait_for(
        "the health records back after Esc",
        |s| both(s) && s.contains("late health report") && s.contains("GET /healthz 200"),
        WAIT,
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn a_split_shows_two_filters_at_once_and_tab_moves_the_focus() {
    let home = Home::new();
    let (cols, rows) = (150u16, 16u16);
    let t = home.ui(&[], cols, rows);
    let tcp = listener(&t, "tcp");
    emit(&tcp, "INFO", "e2e.split", &["split-info-one"]);
    emit(&tcp, "ERROR", "e2e.split", &["split-error-two"]);
    t.wait_for(
        "both records",
        |s| s.contains("split-info-one") && s.contains("split-error-two"),
        WAIT,
    );
    // Only level and message, so the messages fit in half the width.
    t.keys(&["C"]);
    t.keys(&["|"]);
    // The new pane (on the right) has the focus: `4` narrows it alone.
    t.keys(&["4"]);
    let at = cols as usize / 2;
    let shows = |half: &str, info: bool, error: bool| {
        half.contains("split-info-one") == info && half.contains("split-error-two") == error
    };
    wait_settled(
        &t,
        "everything on the left, errors only on the right",
        |s| {
            let (l, r) = halves(s, at);
            shows(&l, true, true) && shows(&r, false, true) && r.contains("level≥ERROR")
        },
        WAIT,
    );
    // Tab: the left pane has the focus, so `5` narrows the left one and not the right.
    t.keys(&["Tab"]);
    t.keys(&["5"]);
    wait_settled(
        &t,
        "nothing on the left (CRITICAL only), errors still on the right",
        |s| {
            let (l, r) = halves(s, at);
            shows(&l, false, false)
                && l.contains("level≥CRITICAL")
                && shows(&r, false, true)
                && r.contains("level≥ERROR")
        },
        WAIT,
    );
    // Tab again wraps to the right pane.
    t.keys(&["Tab"]);
    t.keys(&["1"]);
    wait_settled(
        &t,
        "the right pane showing everything, the left still CRITICAL only",
        |s| {
            let (l, r) = halves(s, at);
            shows(&l, false, false) && shows(&r, true, true) && !r.contains("level≥")
        },
        WAIT,
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// Starts the UI, gets three records stored and shown, and returns it.
fn ui_with_three_records(home: &Home) -> Running {
    let t = home.ui(&[], 150, 20);
    let tcp = listener(&t, "tcp");
    emit(
        &tcp,
        "INFO",
        "e2e.exit",
        &["exit one", "exit two", "exit three"],
    );
    t.wait_for(
        "three records on screen",
        |s| s.contains("exit three") && s.contains("3 stored"),
        WAIT,
    );
    assert!(t.alternate_on());
    assert!(!t.cursor_visible());
    assert!(t.mouse_any());
    t
}

#[test]
fn q_restores_the_terminal_and_prints_the_exit_line() {
    let home = Home::new();
    let t = ui_with_three_records(&home);
    t.keys(&["q"]);
    let status = t.wait_exit(WAIT);
    assert_restored(&t, status, "q");
    let s = t.screen();
    let line = format!(
        "logtui: 3 records received, 3 stored while the UI ran; the store is {}",
        home.db_str()
    );
    assert!(s.contains(&line), "no exit line {line:?}:\n{s}");
    assert_eq!(
        s.matches("records received").count(),
        1,
        "one exit line:\n{s}"
    );
}

/// Ends the UI with `kill -SIG` and checks the terminal and the exit line as `q` does.
fn signal_restores(sig: &str) {
    let home = Home::new();
    let t = ui_with_three_records(&home);
    let pid = t.pid().to_string();
    let killed = Command::new("kill")
        .args([&format!("-{sig}"), pid.as_str()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = t.wait_exit(WAIT);
    assert_restored(&t, status, &format!("SIG{sig}"));
    let s = t.screen();
    assert!(
        s.contains("logtui: 3 records received, 3 stored while the UI ran; the store is"),
        "no exit line after SIG{sig}:\n{s}"
    );
}

#[test]
fn sigterm_restores_the_terminal_and_prints_the_exit_line() {
    signal_restores("TERM");
}

#[test]
fn sighup_restores_the_terminal_and_prints_the_exit_line() {
    signal_restores("HUP");
}

#[test]
fn sigint_restores_the_terminal_and_prints_the_exit_line() {
    signal_restores("INT");
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let home = Home::new();
    let t = ui_with_three_records(&home);
    t.keys(&["C-c"]);
    let status = t.wait_exit(WAIT);
    assert_restored(&t, status, "Ctrl-c");
    assert!(t.screen().contains("logtui: 3 records received"));
}

#[test]
fn view_shows_rows_a_separate_recorder_stores_within_a_second() {
    let lt = Logtui::start(&["--tcp", "127.0.0.1:0", "--udp", "off", "--http", "off"]);
    let tcp = lt.tcp.clone().expect("tcp");
    let home = Home::new();
    let t = home.view(&lt.db, 150, 20);
    t.wait_for(
        "the view's status bar",
        |s| status_line(s).is_some_and(|l| l.contains("view (")),
        WAIT,
    );
    for (i, word) in ["first-follow-marker", "second-follow-marker"]
        .iter()
        .enumerate()
    {
        emit(&tcp, "INFO", "e2e.view", &[word]);
        wait_stored(&lt.db, i as u64 + 1);
        let stored = Instant::now();
        t.wait_for(&format!("{word} on screen"), |s| s.contains(word), WAIT);
        let took = stored.elapsed();
        eprintln!("{word}: on screen {took:?} after the store had it");
        assert!(
            took <= Duration::from_secs(1),
            "the view showed {word} {took:?} after it was stored"
        );
    }
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    let s = t.screen();
    assert!(s.contains("logtui: viewed"), "{s}");
    let (code, err, _, _) = lt.stop();
    assert_eq!(code, 0, "{err:?}");
}

#[test]
fn hostile_text_never_takes_over_the_terminal() {
    let home = Home::new();
    let t = home.ui(&[], 150, 20);
    let tcp = listener(&t, "tcp");
    let title_before = t.format("#{pane_title}");
    let big = format!("h-big {}", "x".repeat(100_000));
    let hostile = [
        "h-clear \x1b[2J\x1b[H end",
        "h-title \x1b]0;pwned\x07 end",
        "h-alt \x1b[?1049l end",
        "h-clip \x1b]52;c;cHduZWQ=\x07 end",
        "h-bidi \u{202e}desrever\u{202c} end",
        "h-cursor \x1b[?25h\x1b[10;10H end",
        big.as_str(),
        "h-after-all \x1b]0;pwned\x07\x1b[2J\x1b[?1049l\u{202e}",
    ];
    emit(&tcp, "INFO", "e2e.hostile", &hostile);
    let s = wait_settled(
        &t,
        "the last hostile record",
        |s| s.contains("h-after-all") && s.contains("8 stored"),
        WAIT,
    );
    for shown in [
        r"h-clear \u{1b}[2J\u{1b}[H end",
        r"h-title \u{1b}]0;pwned\u{7} end",
        r"h-alt \u{1b}[?1049l end",
        r"h-clip \u{1b}]52;c;cHduZWQ=\u{7} end",
        r"h-bidi \u{202e}desrever\u{202c} end",
        r"h-cursor \u{1b}[?25h\u{1b}[10;10H end",
    ] {
        assert!(s.contains(shown), "{shown:?} is not shown escaped:\n{s}");
    }
    // The 100 KB line is cut to its row, with the marker, not wrapped over the screen.
    let big_row = s
        .lines()
        .find(|l| l.contains("h-big xxx"))
        .unwrap_or_else(|| panic!("no 100 KB row:\n{s}"));
    assert!(big_row.contains('…'), "{big_row}");
    assert!(big_row.chars().count() <= 150, "{big_row}");
    // The frame and the status bar are intact, and the terminal's modes are the UI's.
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with('┌'), "top border:\n{s}");
    assert!(lines[18].starts_with('└'), "bottom border:\n{s}");
    assert!(
        status_line(&s).is_some_and(|l| l.starts_with("tcp 127.0.0.1:")),
        "status bar:\n{s}"
    );
    assert!(t.alternate_on(), "left the alternate screen");
    assert!(!t.cursor_visible(), "the cursor was shown");
    let title_after = t.format("#{pane_title}");
    assert_eq!(title_after, title_before, "the pane's title changed");
    assert!(!title_after.contains("pwned"));
    // The detail of the selected (last) record shows it escaped too.
    t.keys(&["Enter"]);
    let s = wait_settled(
        &t,
        "the hostile record's detail",
        |s| s.contains(r"h-after-all \u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[?1049l\u{202e}"),
        WAIT,
    );
    assert!(s.contains("record 8 "), "{s}");
    assert!(t.alternate_on(), "left the alternate screen");
    assert_eq!(t.format("#{pane_title}"), title_before);
    t.keys(&["Escape"]);
    // Waited for: an ESC and a `q` arriving in one read are Alt-q to a terminal program.
    wait_settled(
        &t,
        "the detail closed",
        |s| !s.contains("record 8 ") && s.contains("│ ? keys"),
        WAIT,
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn a_20x5_terminal_and_resizes_do_not_panic() {
    let home = Home::new();
    let t = Running::new(Tty::start(Path::new(bin()), &["demo"], &home.env(), 20, 5));
    let fits = |s: &str, cols: usize| {
        s.lines().next().is_some_and(|l| l.starts_with('┌'))
            && s.lines().all(|l| l.chars().count() <= cols)
    };
    t.wait_for("the UI at 20×5", |s| fits(s, 20), WAIT);
    t.resize(150, 40);
    t.wait_for(
        "the UI at 150×40 with its whole status bar",
        |s| {
            s.lines().count() >= 40
                && s.lines().next().is_some_and(|l| l.chars().count() == 150)
                && status_line(s).is_some_and(|l| l.starts_with("tcp 127.0.0.1:"))
        },
        WAIT,
    );
    // Smaller than anything the UI draws into, then back.
    t.resize(3, 1);
    t.wait_for("a 3×1 screen", |s| s.lines().count() <= 1, WAIT);
    t.resize(20, 5);
    wait_settled(
        &t,
        "the UI at 20×5 again",
        |s| {
            fits(s, 20)
                && s.lines().next().is_some_and(|l| l.chars().count() == 20)
                && s.lines().count() == 5
        },
        WAIT,
    );
    assert_eq!(t.exited(), None, "the demo ended:\n{}", t.screen());
    t.keys(&["q"]);
    let status = t.wait_exit(WAIT);
    let s = t.screen();
    assert_eq!(status, 0, "{s}");
    assert!(!s.contains("panicked"), "{s}");
}

#[test]
fn help_overlay_and_record_detail_open_and_close() {
    let home = Home::new();
    // Tall enough for the help to show its Panes group without scrolling.
    let t = home.ui(&[], 150, 44);
    let tcp = listener(&t, "tcp");
    emit(
        &tcp,
        "ERROR",
        "e2e.detail.logger",
        &["please open my detail"],
    );
    t.wait_for("the record", |s| s.contains("please open my detail"), WAIT);
    t.keys(&["?"]);
    let listed = [
        "keys (",
        "Quit",
        "Search",
        "Filter the pane",
        "Split the pane",
    ];
    wait_settled(
        &t,
        "the help overlay listing the keys",
        |s| listed.iter().all(|x| s.contains(x)),
        WAIT,
    );
    t.keys(&["Escape"]);
    wait_settled(
        &t,
        "the help closed",
        |s| !s.contains("Quit") && s.contains("please open my detail"),
        WAIT,
    );
    // Esc closed only the overlay: the UI is still running.
    assert_eq!(t.exited(), None);
    t.keys(&["Enter"]);
    let fields = [
        "record 1 ",
        "logger  e2e.detail.logger",
        "level  ERROR (40)",
        "source  tcp 127.0.0.1:",
        "code  logtui/emit.rs:1 in emit",
        "Esc closes",
    ];
    wait_settled(
        &t,
        "the record's detail with its fields",
        |s| fields.iter().all(|x| s.contains(x)),
        WAIT,
    );
    t.keys(&["Escape"]);
    wait_settled(
        &t,
        "the detail closed",
        |s| !s.contains("logger  e2e.detail.logger") && s.contains("please open my detail"),
        WAIT,
    );
    assert_eq!(t.exited(), None);
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// Errors at start print as a sentence on the normal screen: printed while the UI's
/// alternate screen was up, they would vanish with it.
#[track_caller]
fn assert_reported_before_the_ui(t: &Tty, says: &[&str]) {
    let status = t.wait_exit(WAIT);
    let s = t.screen();
    assert_ne!(status, 0, "{s}");
    for x in says {
        assert!(s.contains(x), "the error does not say {x:?}:\n{s}");
    }
    assert!(!t.alternate_on());
    assert!(t.cursor_visible());
    assert!(!s.contains("? keys"), "{s}");
}

#[test]
fn a_taken_port_is_reported_before_the_ui_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let home = Home::new();
    let t = home.ui_tty(&["--tcp", &addr], 150, 10);
    assert_reported_before_the_ui(&t, &[&addr, "already in use"]);
    assert!(
        !home.db().exists(),
        "a store was created for a UI that never ran"
    );
}

#[test]
fn a_missing_store_is_reported_before_view_starts() {
    let home = Home::new();
    let t = home.view_tty(&home.db(), 150, 10);
    assert_reported_before_the_ui(&t, &["cannot view the store", "does not exist"]);
    assert!(!home.db().exists(), "view created the store it was to read");
}

/// A mouse event as an xterm in SGR mode (which the UI turns on) reports it: button `b`
/// at 1-based column `x`, row `y`, pressed then released.
fn mouse(t: &Tty, b: u8, x: u16, y: u16) {
    t.type_text(&format!("\x1b[<{b};{x};{y}M\x1b[<{b};{x};{y}m"));
}

#[test]
fn a_click_focuses_a_pane_and_the_wheel_scrolls_back() {
    let home = Home::new();
    let (cols, rows) = (100u16, 12u16);
    let t = home.ui(&[], cols, rows);
    let tcp = listener(&t, "tcp");
    let lines: Vec<String> = (1..=30).map(|i| format!("wheel row {i:02}")).collect();
    let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
    emit(&tcp, "INFO", "e2e.mouse", &lines);
    t.wait_for("the newest row", |s| s.contains("wheel row 30"), WAIT);
    // The wheel over the pane scrolls it back: it stops following, and says so.
    mouse(&t, 64, 20, 5);
    wait_settled(
        &t,
        "the pane scrolled back by the wheel",
        |s| s.contains("scrolled back") && s.contains("wheel row 30"),
        WAIT,
    );
    t.keys(&["G"]);
    wait_settled(
        &t,
        "following again after G",
        |s| !s.contains("scrolled back") && s.contains("wheel row 30"),
        WAIT,
    );
    // Split: the new right pane has the focus; a click on the left pane takes it there.
    t.keys(&["C"]);
    t.keys(&["|"]);
    t.wait_for(
        "two panes",
        |s| {
            s.lines()
                .next()
                .is_some_and(|l| l.matches('┌').count() == 2)
        },
        WAIT,
    );
    mouse(&t, 0, 10, 4);
    t.keys(&["5"]);
    let at = cols as usize / 2;
    wait_settled(
        &t,
        "the clicked left pane narrowed by 5, the right one not",
        |s| {
            let (l, r) = halves(s, at);
            l.contains("level≥CRITICAL")
                && !l.contains("wheel row")
                && r.contains("wheel row 30")
                && !r.contains("level≥")
        },
        WAIT,
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// A terminal that goes away (its window closed, its tmux server killed, an SSH link cut) takes
/// the UI with it: the process ends rather than holding its ports and store.
#[test]
fn the_ui_exits_when_its_terminal_goes_away() {
    let home = Home::new();
    let t = home.ui(&[], 100, 10);
    listener(&t, "tcp");
    let pid = t.pid();
    let Running { _reaper, tty } = t;
    // Kills the tmux server: the pty hangs up under the program.
    drop(tty);
    let gone_within = |limit: Duration| {
        let start = Instant::now();
        while alive(pid) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive(pid)
    };
    let by_itself = gone_within(Duration::from_secs(5));
    let after_sigterm = by_itself || {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        gone_within(Duration::from_secs(5))
    };
    assert!(
        by_itself,
        "logtui (pid {pid}) still ran 5 s after its terminal went away; SIGTERM then {}",
        if after_sigterm {
            "ended it"
        } else {
            "did not end it either"
        }
    );
}

/// Sends `lines` (`LEVEL MESSAGE`) from CPython's SocketHandler as `logger`, with `job`.
#[track_caller]
fn python_send(py: &Path, tcp: &str, logger: &str, job: Option<&str>, lines: &[&str]) {
    let mut cmd = Command::new(py);
    cmd.arg(manifest_path("tests/python/ui_send.py"))
        .args(["tcp", tcp, logger])
        .args(job)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run python3");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_picker_narrows_a_pane_to_one_job_and_to_a_logger_subtree() {
    let py = Path::new("python3");
    let Some(py) = python_or_skip(runs(py).then_some(py), "a CPython (python3)") else {
        return;
    };
    let home = Home::new();
    let t = home.ui(&[], 160, 30);
    let tcp = listener(&t, "tcp");
    python_send(
        py,
        &tcp,
        "shop.db",
        Some("nightly-7"),
        &["INFO db vacuum amber"],
    );
    python_send(
        py,
        &tcp,
        "shop.db.pool",
        None,
        &["WARNING pool nearly full cobalt"],
    );
    python_send(
        py,
        &tcp,
        "shop.web",
        Some("hourly-3"),
        &["INFO page served jade"],
    );
    python_send(py, &tcp, "other", None, &["ERROR elsewhere onyx"]);
    let all = ["amber", "cobalt", "jade", "onyx"];
    t.wait_for("every record", |s| all.iter().all(|w| s.contains(w)), WAIT);

    // One job: only its record stays.
    t.keys(&["c"]);
    t.wait_for("the picker", |s| s.contains("channels"), WAIT);
    t.type_text("nightly");
    t.wait_for("the job row first", |s| s.contains("job nightly-7"), WAIT);
    t.keys(&["Enter"]);
    let s = wait_settled(
        &t,
        "the pane narrowed to job nightly-7",
        |s| {
            s.contains("amber")
                && !s.contains("cobalt")
                && !s.contains("jade")
                && !s.contains("onyx")
        },
        WAIT,
    );
    assert!(s.contains("nightly-7"), "the title names the job:\n{s}");

    // A logger subtree: shop.db and shop.db.pool, not shop.web nor other.
    t.keys(&["c"]);
    t.wait_for("the picker again", |s| s.contains("channels"), WAIT);
    t.type_text("shop.db");
    t.wait_for("the logger row", |s| s.contains("logger shop.db"), WAIT);
    t.keys(&["Enter"]);
    wait_settled(
        &t,
        "the pane narrowed to the shop.db subtree",
        |s| {
            s.contains("amber")
                && s.contains("cobalt")
                && !s.contains("jade")
                && !s.contains("onyx")
        },
        WAIT,
    );
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// Smarter-shaped entries for `job`: `xadd` N history entries only (the store never heard
/// them), or `live` one record published and XADDed as Smarter does.
const SMARTER_STREAM: &str = r#"
import json, sys, time, redis
url, mode, job, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r = redis.Redis.from_url(url)
for i in range(n):
    text = ("history %d" % i) if mode == "xadd" else "the live one"
    data = json.dumps({"message": text, "level": "INFO", "timestamp": time.time() - (n - i),
                       "logger": "app.hist", "pod": "pod-1"}, indent=2, ensure_ascii=True)
    ch = "logs:" + job
    p = r.pipeline(transaction=True)
    if mode == "live":
        p.publish(ch, data)
    p.xadd("stream:" + ch, {"data": data}, maxlen=1000, approximate=True)
    p.execute()
"#;

fn smarter_stream(url: &str, mode: &str, job: &str, n: usize) {
    let st = Command::new("python3")
        .args(["-c", SMARTER_STREAM, url, mode, job, &n.to_string()])
        .status()
        .expect("python3 with redis-py");
    assert!(st.success(), "the Python producer failed");
}

#[test]
fn opening_a_job_in_the_picker_stores_its_stream_history_once() {
    let redis = common::redis_server::RedisServer::start();
    let url = redis.url();
    picker_history(&url, &url);
}

#[test]
fn on_a_cluster_the_history_is_read_from_the_node_owning_the_stream() {
    let c = common::redis_cluster::RedisCluster::start();
    let owner = c.owner_of("stream:logs:job_hist");
    // Away from the seed, so only a read routed by slot finds it.
    let seed = c.other_than(owner);
    picker_history(
        &format!("redis+cluster://127.0.0.1:{}", seed.port),
        &owner.url(),
    );
}

/// `logtui` recording from `redis` (a server or a cluster seed), its job's stream and live
/// record written through `producer` (the server, or the node owning the stream): opening the
/// job in the picker stores the 30 history entries and not the live one again.
fn picker_history(redis: &str, producer: &str) {
    let url = producer;
    smarter_stream(url, "xadd", "job_hist", 30);
    let home = Home::new();
    let t = home.ui(&["--redis", redis], 160, 30);
    t.wait_for(
        "the Redis link subscribed",
        |s| s.contains("(subscribed)"),
        WAIT,
    );
    // One record that came live (and is in the stream too): the history must not repeat it.
    smarter_stream(url, "live", "job_hist", 1);
    let db = home.db();
    let wait_count = |n: u64| {
        common::wait_for(&format!("{n} records of job_hist"), WAIT, || {
            count(&db, &["--job", "job_hist"]) >= n
        });
    };
    wait_count(1);
    t.keys(&["c"]);
    t.wait_for("the picker", |s| s.contains("channels"), WAIT);
    t.type_text("job_hist");
    t.wait_for("the job row", |s| s.contains("job job_hist"), WAIT);
    t.keys(&["Enter"]);
    t.wait_for(
        "the history in the pane",
        |s| s.contains("history 29") && s.contains("job:job_hist"),
        WAIT,
    );
    wait_count(31);
    assert_eq!(count(&db, &["--job", "job_hist", "--search", "live"]), 1);
    assert_eq!(count(&db, &["--job", "job_hist"]), 31);
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    assert_eq!(count(&db, &["--job", "job_hist"]), 31);
}
