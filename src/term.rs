//! Making strangers' text safe to print: control characters never reach a terminal raw.
//! Escape sequences in log text could otherwise move the cursor, retitle windows or worse.

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

/// C0, DEL and C1 controls, plus the bidirectional overrides and isolates, which can
/// make a terminal show text in an order other than the bytes' (Trojan Source).
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
    }
}
