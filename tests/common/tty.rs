//! A real terminal for end-to-end UI tests: the program runs in a detached tmux pane of a set
//! size, keys go in through `send-keys`, and the screen and the terminal's modes come back out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The one session (and pane) each server holds.
const TARGET: &str = "main";

/// Runs the program, writes its exit status (128 + n when signal n ended it, as `sh` reports
/// it) to the file named by `$1` once it ends, and stays on so the terminal keeps the state
/// the program left. A trap (not an ignore, which the program would inherit) keeps C-c from
/// ending this shell along with the program.
const WRAPPER: &str = r#"f=$1; shift; trap : INT QUIT; "$@"; s=$?; echo "$s" > "$f.part" && mv "$f.part" "$f"; exec sleep 2147483647"#;

/// A program running in a tmux pane: `cols`×`rows`, TERM=xterm-256color, no status line.
///
/// Each has its own tmux server (`tmux -S <socket in a temp dir> -f /dev/null`, so no user
/// config leaks in and no socket file is left behind), killed on drop. The program runs under a
/// small `sh` that stays on after it exits and records its status: tmux hides the cursor of a
/// pane whose process has died, so only a pane that outlives the program shows whether the
/// program left the cursor shown.
pub struct Tty {
    /// The server's socket, in `dir`: tmux leaves its socket file behind when killed.
    socket: PathBuf,
    /// Holds the socket and the file the wrapper writes the exit status to.
    dir: tempfile::TempDir,
    pid: OnceLock<u32>,
}

impl Tty {
    /// Starts `program args…` with `env` added to the test's environment (without tmux's own
    /// `TMUX`/`TMUX_PANE`, so it sees a plain xterm). Panics if tmux is not installed: the
    /// end-to-end tests fail loudly rather than skip.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Tty {
        let dir = tempfile::tempdir().expect("temp dir");
        let tty = Tty {
            socket: dir.path().join("tmux.sock"),
            dir,
            pid: OnceLock::new(),
        };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let status = tty.status_file();
        let mut cmd: Vec<String> = [
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "status",
            "off",
            ";",
            "new-session",
            "-d",
            "-s",
            TARGET,
            "-x",
            &cols,
            "-y",
            &rows,
            "--",
            "sh",
            "-c",
            WRAPPER,
            "logtui-tty",
            status.to_str().expect("a UTF-8 temp path"),
            "env",
            "-u",
            "TMUX",
            "-u",
            "TMUX_PANE",
            "TERM=xterm-256color",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cmd.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        cmd.push(program.to_str().expect("a UTF-8 program path").to_owned());
        cmd.extend(args.iter().map(|a| a.to_string()));
        tty.tmux(&cmd);
        tty
    }

    /// Presses keys, by tmux's names: `q`, `Enter`, `Escape`, `Tab`, `BTab`, `C-c`, `End`, `Up`….
    pub fn keys(&self, keys: &[&str]) {
        let mut cmd = vec!["send-keys", "-t", TARGET];
        cmd.extend(keys);
        self.tmux(&cmd);
    }

    /// Types `s` as it is (`send-keys -l`), each character a key.
    pub fn type_text(&self, s: &str) {
        self.tmux(&["send-keys", "-t", TARGET, "-l", "--", s]);
    }

    /// The visible screen as text, one line per row (trailing blanks trimmed by tmux).
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", TARGET])
    }

    /// [`screen`](Self::screen) with the colours and attributes as SGR escape sequences.
    pub fn screen_with_styles(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", TARGET])
    }

    /// Polls the screen every 20 ms until `pred` holds and returns it; after `deadline`, panics
    /// naming `what` and showing the last screen.
    #[track_caller]
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool, deadline: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {what}; the screen was:\n{s}\n(exit status: {:?})",
                self.exited()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the alternate screen is on.
    pub fn alternate_on(&self) -> bool {
        self.flag("alternate_on")
    }

    /// Whether the cursor is shown (DECTCEM); still what the program left once it has exited.
    pub fn cursor_visible(&self) -> bool {
        self.flag("cursor_flag")
    }

    /// Whether any mouse reporting (X10/normal, button-event or any-event tracking) is on.
    pub fn mouse_any(&self) -> bool {
        self.flag("mouse_any_flag")
    }

    /// The program's exit status once it has ended: its code, or 128 + n when signal n ended it.
    pub fn exited(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.status_file()).ok()?;
        Some(text.trim().parse().expect("an exit status"))
    }

    /// Waits up to `deadline` for the program to end and returns [`exited`](Self::exited).
    #[track_caller]
    pub fn wait_exit(&self, deadline: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.exited() {
                return s;
            }
            assert!(
                start.elapsed() < deadline,
                "the program did not exit within {deadline:?}; the screen was:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The program's pid (the wrapper's child), to send it signals.
    pub fn pid(&self) -> u32 {
        *self.pid.get_or_init(|| {
            let shell: u32 = self
                .format("#{pane_pid}")
                .parse()
                .expect("tmux gives the pane's pid");
            let start = Instant::now();
            loop {
                if let Some(p) = child_of(shell) {
                    return p;
                }
                assert!(
                    self.exited().is_none(),
                    "the program has already exited (status {:?})",
                    self.exited()
                );
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the program's process did not appear under pid {shell}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    }

    /// Resizes the terminal; the program gets SIGWINCH.
    pub fn resize(&self, cols: u16, rows: u16) {
        let (c, r) = (cols.to_string(), rows.to_string());
        self.tmux(&["resize-window", "-t", TARGET, "-x", &c, "-y", &r]);
    }

    /// A tmux format (`#{…}`) evaluated for the pane.
    pub fn format(&self, f: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", TARGET, f])
            .trim_end()
            .to_owned()
    }

    fn flag(&self, name: &str) -> bool {
        self.format(&format!("#{{{name}}}")) == "1"
    }

    fn status_file(&self) -> PathBuf {
        self.dir.path().join("status")
    }

    /// Runs one tmux command line against this server and returns its output; panics on failure.
    fn tmux<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let out = self.command(args).output().unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "tmux is not installed, and the end-to-end terminal tests need it \
                     (apt-get install tmux)"
                )
            }
            panic!("cannot run tmux: {e}")
        });
        assert!(
            out.status.success(),
            "tmux {:?} failed: {}",
            args.iter()
                .map(|a| a.as_ref().to_owned())
                .collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE");
        c
    }
}

impl Drop for Tty {
    /// Ends the server, which hangs up on the program if it is still running.
    fn drop(&mut self) {
        let _ = self.command(&["kill-server"]).output();
    }
}

/// A child process of `parent`, from /proc.
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last `)`.
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
}
