//! The tmux terminal harness the end-to-end UI tests stand on, proved with small bash programs:
//! keys reach the program, the screen and modes read back, resizes and exit statuses are seen.

mod common;

use common::tty::Tty;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn bash(script: &str, cols: u16, rows: u16) -> Tty {
    Tty::start(Path::new("bash"), &["-c", script], &[], cols, rows)
}

#[test]
fn the_alternate_screen_and_the_cursor_read_back_as_the_program_sets_them() {
    let t = bash(
        r#"printf '\e[?1049h\e[?25l'; echo in-alt; read -r; printf '\e[?25h\e[?1049l'; echo back; read -r"#,
        60,
        10,
    );
    t.wait_for("the alternate screen", |s| s.contains("in-alt"), WAIT);
    assert!(t.alternate_on());
    assert!(!t.cursor_visible());
    t.keys(&["Enter"]);
    let s = t.wait_for("the main screen", |s| s.contains("back"), WAIT);
    assert!(!s.contains("in-alt"), "{s}");
    assert!(!t.alternate_on());
    assert!(t.cursor_visible());
}

/// What a UI test checks after `q`: the terminal as the program left it, even once it has ended.
#[test]
fn the_modes_a_program_leaves_behind_are_still_seen_after_it_exits() {
    let sloppy = bash(
        r#"printf '\e[?1049h\e[?25l\e[?1000h\e[?1006h'; exit 0"#,
        40,
        8,
    );
    assert_eq!(sloppy.wait_exit(WAIT), 0);
    assert!(sloppy.alternate_on());
    assert!(!sloppy.cursor_visible());
    assert!(sloppy.mouse_any());

    let tidy = bash(
        r#"printf '\e[?1049h\e[?25l\e[?1000h'; printf '\e[?1000l\e[?25h\e[?1049l'; exit 0"#,
        40,
        8,
    );
    assert_eq!(tidy.wait_exit(WAIT), 0);
    assert!(!tidy.alternate_on());
    assert!(tidy.cursor_visible());
    assert!(!tidy.mouse_any());
}

#[test]
fn mouse_reporting_is_seen_on_and_off() {
    let t = bash(
        r#"printf '\e[?1000h\e[?1002h\e[?1006h'; echo on; read -r; printf '\e[?1000l\e[?1002l\e[?1006l'; echo off; read -r"#,
        40,
        8,
    );
    t.wait_for("mouse on", |s| s.contains("on"), WAIT);
    assert!(t.mouse_any());
    t.keys(&["Enter"]);
    t.wait_for("mouse off", |s| s.contains("off"), WAIT);
    assert!(!t.mouse_any());
}

#[test]
fn exit_statuses_and_signals_are_reported() {
    let t = bash("exit 7", 40, 5);
    assert_eq!(t.wait_exit(WAIT), 7);

    let t = bash("echo ready; read -r; echo not-here", 40, 5);
    t.wait_for("ready", |s| s.contains("ready"), WAIT);
    assert_eq!(t.exited(), None);
    let pid = t.pid();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.starts_with("bash\0-c\0echo ready"), "{cmdline:?}");
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(t.wait_exit(WAIT), 128 + 15);
    assert!(!t.screen().contains("not-here"));
}

#[test]
fn typed_text_and_named_keys_reach_the_program() {
    let t = bash(
        r#"read -r line; echo "got [$line]"; IFS= read -rsn1 k; printf 'key %q\n' "$k"; IFS= read -rsn1 k; printf 'key %q\n' "$k"; read -r"#,
        60,
        10,
    );
    t.type_text("hello -l world; 'quoted'");
    t.keys(&["Enter"]);
    t.wait_for(
        "the line",
        |s| s.contains("got [hello -l world; 'quoted']"),
        WAIT,
    );
    t.keys(&["Escape"]);
    t.wait_for("Escape", |s| s.contains("key $'\\E'"), WAIT);
    t.keys(&["Tab"]);
    t.wait_for("Tab", |s| s.contains("key $'\\t'"), WAIT);
}

#[test]
fn the_terminal_is_an_xterm_of_the_size_asked_and_resizes() {
    let t = Tty::start(
        Path::new("bash"),
        &[
            "-c",
            r#"echo "$TERM ${TMUX:-no-tmux} $(tput cols)x$(tput lines) $GREETING"; read -r; echo "now $(tput cols)x$(tput lines)"; read -r"#,
        ],
        &[("GREETING", "hi there")],
        72,
        18,
    );
    t.wait_for(
        "the size",
        |s| s.contains("xterm-256color no-tmux 72x18 hi there"),
        WAIT,
    );
    t.resize(100, 30);
    t.keys(&["Enter"]);
    t.wait_for("the new size", |s| s.contains("now 100x30"), WAIT);
    let s = t.screen();
    assert_eq!(s.lines().count(), 30, "{s}");
}

#[test]
fn styles_show_only_when_asked_for() {
    let t = bash(r#"printf '\e[1;31mred alert\e[0m plain\n'; read -r"#, 40, 5);
    t.wait_for("the text", |s| s.contains("red alert plain"), WAIT);
    let styled = t.screen_with_styles();
    assert!(
        styled.contains("\x1b[1m") || styled.contains("\x1b[1;"),
        "{styled:?}"
    );
    assert!(styled.contains("31m"), "{styled:?}");
    assert!(!t.screen().contains('\x1b'));
}

#[test]
fn each_terminal_has_its_own_server_and_it_ends_with_it() {
    let a = bash("echo one; read -r", 30, 5);
    let b = bash("echo two; read -r", 30, 5);
    a.wait_for("one", |s| s.contains("one"), WAIT);
    b.wait_for("two", |s| s.contains("two"), WAIT);
    assert!(!a.screen().contains("two"));
    let pid = a.pid();
    drop(a);
    common::wait_for("the program to end with its terminal", WAIT, || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(b.screen().contains("two"));
}

#[test]
#[should_panic(expected = "waiting for a word that never comes; the screen was:\nsomething else")]
fn a_wait_that_times_out_shows_the_screen() {
    let t = bash("echo something else; read -r", 30, 5);
    t.wait_for("something", |s| s.contains("something"), WAIT);
    t.wait_for(
        "a word that never comes",
        |s| s.contains("never"),
        Duration::from_millis(200),
    );
}
