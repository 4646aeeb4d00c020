//! Making text safe and readable on a terminal: control characters never reach it raw, errors
//! read as one sentence per cause, and columns are measured in terminal cells.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Replaces C0/C1 control characters (ESC, CR, BEL, U+009B CSI …) with visible escapes.
/// Newline and tab become `\n` and `\t` too, so one record stays one line.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape_controls`] but keeps newlines and tabs, for formats that quote them (CSV).
pub fn escape_controls_keep_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_control(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A JSON line with every character [`escape_controls`] would escape written as a JSON
/// `\uXXXX` escape, so the line shows safely on a terminal and still parses to the same value.
/// (Such characters can only occur inside JSON strings, where the escape means the same.)
pub fn escape_json_line(line: &str) -> Cow<'_, str> {
    if !line.chars().any(is_control) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if is_control(c) {
            // Every such character is in the Basic Multilingual Plane: one escape each.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An error and its causes as the user reads them: each cause once (a message that already
/// quotes its source is not followed by that source again), joined by `: `, with the line
/// breaks of multi-line causes (TOML and regex caret diagrams) kept and other controls escaped.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = String::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let text = text.trim_end();
        // SQLite's error code restates, in other words, the message rusqlite already gave.
        let restated = !msg.is_empty() && err.downcast_ref::<rusqlite::ffi::Error>().is_some();
        if !text.is_empty() && !msg.contains(text) && !restated {
            if !msg.is_empty() {
                msg.push_str(if text.contains('\n') { ":\n" } else { ": " });
            }
            msg.push_str(text);
        }
        next = err.source();
    }
    escape_controls_keep_lines(&msg).into_owned()
}

/// How many terminal cells `s` takes (wide characters take two, combining marks none).
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `cells` terminal cells, ending in `…` when something was cut.
pub fn truncate(s: &str, cells: usize) -> Cow<'_, str> {
    use unicode_width::UnicodeWidthChar;
    if width(s) <= cells {
        return Cow::Borrowed(s);
    }
    let room = cells.saturating_sub(1);
    let mut used = 0;
    let mut out = String::with_capacity(cells + 3);
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if cells > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}

/// `s` padded with spaces to `cells` terminal cells (never cut).
pub fn pad(s: &str, cells: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(width(s))));
    out
}

/// Whether to colour what goes to a terminal: only when it is one, and `NO_COLOR` is unset
/// or empty (<https://no-color.org>).
pub fn use_colour(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The SGR colour for a Python level number: red for ERROR and up, yellow for WARNING,
/// dim for DEBUG and below, none for INFO.
pub fn level_colour(level: i32) -> Option<&'static str> {
    match level {
        l if l >= 50 => Some("\u{1b}[1;31m"),
        l if l >= 40 => Some("\u{1b}[31m"),
        l if l >= 30 => Some("\u{1b}[33m"),
        l if l < 20 => Some("\u{1b}[2m"),
        _ => None,
    }
}

/// Ends a colour begun with [`level_colour`].
pub const RESET: &str = "\u{1b}[0m";

/// The terminal's width in columns when `stdout` is one: what the terminal reports (it
/// follows resizes), else `COLUMNS` if set to a number, as shells export it.
pub fn stdout_columns() -> Option<usize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&n| n > 0)
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n| n > 0)
        })
}

/// C0, DEL and C1 controls, plus the bidirectional overrides, isolates and marks, which can
/// make a terminal show text in an order other than the bytes' (Trojan Source). All are in
/// the Basic Multilingual Plane, which [`escape_json_line`] relies on.
pub(crate) fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(
            escape_controls("\u{1b}[31mred\u{9b}2J\n"),
            "\\u{1b}[31mred\\u{9b}2J\\n"
        );
        assert_eq!(escape_controls_keep_lines("a\nb\u{7}"), "a\nb\\u{7}");
        assert_eq!(escape_controls("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_controls("\u{200f}\u{61c}"), "\\u{200f}\\u{61c}");
    }

    #[test]
    fn json_lines_stay_json() {
        let line = "{\"m\":\"a\u{202e}b\u{2066}\"}";
        assert_eq!(escape_json_line(line), "{\"m\":\"a\\u202eb\\u2066\"}");
        assert_eq!(escape_json_line("{}"), "{}");
    }

    #[test]
    fn errors_name_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: {0}")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner\n  ^ here\n")]
        struct Inner;
        assert_eq!(error_text(&Outer(Inner)), "outer: inner\n  ^ here");
        let e = anyhow::anyhow!(Inner).context("while reading");
        assert_eq!(error_text(e.as_ref()), "while reading:\ninner\n  ^ here");
    }

    #[test]
    fn cuts_and_pads_by_cells() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("日本語", 4), "日…");
        assert_eq!(pad("日", 4), "日  ");
        assert_eq!(width("日本"), 4);
    }
}
