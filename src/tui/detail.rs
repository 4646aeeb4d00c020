//! The record detail popup (`Enter`): every field, the message and traceback whole (the last
//! frame and the exception line emphasised), `extra` as indented JSON; `←`/`→` step to the
//! previous/next record of the same origin. It owns its record, scroll, drawing and keys.
//! A payload the decoder could not read (`extra.undecodable`) shows as its raw text instead.

use super::keymap::Action;
use super::reader::{PaneId, Request, Row, Want};
use super::text::{self, TextStyle};
use super::theme::Theme;
use crate::decode::redis::{MAX_RAW_BYTES, UNDECODABLE};
use crate::record::Record;
use crate::store::Filter;
use crate::value::Value;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The reader's answers for the detail view come back under this id.
pub const DETAIL_PANE: PaneId = u32::MAX;

/// Most lines of one text field the detail view lays out: a screenful scrolls through them,
/// and a megabyte message must not cost a megabyte of lines per frame.
const MAX_FIELD_LINES: usize = 2000;

pub struct Detail {
    row: Row,
    scroll: usize,
    seq: u64,
    note: Option<String>,
}

/// Escapes GLOB's special characters so a value matches only itself.
pub fn glob_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

impl Detail {
    pub fn new(row: Row) -> Detail {
        Detail {
            row,
            scroll: 0,
            seq: 0,
            note: None,
        }
    }

    pub fn id(&self) -> i64 {
        self.row.id
    }

    pub fn record(&self) -> &Record {
        &self.row.rec
    }

    /// Keys inside the popup; false when the key closes it. `←`/`→` are the popup's own
    /// keys (they mean nothing elsewhere), so they are read raw rather than from the key map.
    pub fn on_key(
        &mut self,
        a: Option<Action>,
        code: crossterm::event::KeyCode,
        reader: &super::reader::Reader,
    ) -> bool {
        use crossterm::event::KeyCode;
        let neighbour = match code {
            KeyCode::Left => Some(false),
            KeyCode::Right => Some(true),
            _ => None,
        };
        if let Some(forward) = neighbour {
            self.seq += 1;
            reader.send(Request {
                pane: DETAIL_PANE,
                seq: self.seq,
                filter: Filter {
                    origins: vec![glob_literal(&self.row.rec.origin)],
                    ..Filter::default()
                },
                around: None,
                want: Want::Find {
                    from: self.row.id,
                    forward,
                },
                limit: 1,
            });
            return true;
        }
        match a {
            Some(Action::Down) => self.scroll += 1,
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Action::PageDown) => self.scroll += 10,
            Some(Action::PageUp) => self.scroll = self.scroll.saturating_sub(10),
            Some(Action::Oldest) => self.scroll = 0,
            _ => return false,
        }
        true
    }

    /// The reader's answer to a neighbour request.
    pub fn on_reply(&mut self, r: super::reader::Reply) {
        if r.seq != self.seq {
            return;
        }
        match (r.rows, r.focus) {
            (Ok(rows), Some(id)) => {
                if let Some(row) = rows.into_iter().find(|x| x.id == id) {
                    self.row = row;
                    self.scroll = 0;
                    self.note = None;
                }
            }
            (Ok(_), None) => self.note = Some("no more records from this origin".into()),
            (Err(e), _) => self.note = Some(e),
        }
    }

    fn lines(&self, width: usize, theme: &Theme, colour: bool) -> Vec<Line<'static>> {
        let r = &self.row.rec;
        let mut out = Vec::new();
        let field = |out: &mut Vec<Line<'static>>, name: &str, value: String| {
            let mut spans = vec![Span::styled(format!("{name:>10}  "), theme.logger)];
            spans.extend(text::field_spans(
                &value,
                width.saturating_sub(12),
                theme.message,
            ));
            out.push(Line::from(spans));
        };
        field(&mut out, "id", self.row.id.to_string());
        field(
            &mut out,
            "time",
            format!(
                "{}  ({})",
                crate::timefmt::local_millis(r.created, &jiff::tz::TimeZone::system()),
                crate::timefmt::rfc3339_micros(r.created)
            ),
        );
        out.push(Line::from(vec![
            Span::styled(format!("{:>10}  ", "level"), theme.logger),
            Span::styled(
                format!("{} ({})", r.levelname, r.level),
                theme.level(r.level),
            ),
        ]));
        field(&mut out, "logger", r.logger.clone());
        field(&mut out, "source", format!("{} {}", r.source, r.origin));
        let opt = |v: &Option<String>| v.clone();
        if let Some(j) = opt(&r.job) {
            field(&mut out, "job", j);
        }
        if let Some(h) = opt(&r.host) {
            field(&mut out, "host", h);
        }
        if r.process.is_some() || r.process_name.is_some() {
            field(
                &mut out,
                "process",
                format!(
                    "{} {}",
                    r.process_name.as_deref().unwrap_or(""),
                    r.process.map(|p| p.to_string()).unwrap_or_default()
                ),
            );
        }
        if r.thread.is_some() || r.thread_name.is_some() {
            field(
                &mut out,
                "thread",
                format!(
                    "{} {}",
                    r.thread_name.as_deref().unwrap_or(""),
                    r.thread.map(|p| p.to_string()).unwrap_or_default()
                ),
            );
        }
        if let Some(t) = opt(&r.task_name) {
            field(&mut out, "task", t);
        }
        if r.pathname.is_some() || r.func.is_some() {
            field(
                &mut out,
                "code",
                format!(
                    "{}:{} in {}",
                    r.pathname
                        .as_deref()
                        .or(r.filename.as_deref())
                        .unwrap_or("?"),
                    r.lineno.map(|l| l.to_string()).unwrap_or_default(),
                    r.func.as_deref().unwrap_or("?")
                ),
            );
        }
        let st = TextStyle {
            base: theme.message,
            marker: theme.fold_marker,
            colour,
        };
        match raw_payload(r) {
            // Its message is the payload as text: shown once, as what it is.
            Some(raw) => {
                out.push(Line::from(Span::styled("raw payload", theme.title)));
                out.push(Line::from(text::field_spans(
                    &raw.about,
                    width,
                    theme.logger,
                )));
                // Every control escaped, SGR too: the bytes as sent, not as they would draw.
                let shown = crate::term::escape_controls_keep_lines(&raw.text);
                let plain = TextStyle {
                    colour: false,
                    ..st
                };
                out.extend(text::block_lines(&shown, width, MAX_FIELD_LINES, &plain));
            }
            None => {
                out.push(Line::from(Span::styled("message", theme.title)));
                out.extend(text::block_lines(&r.message, width, MAX_FIELD_LINES, &st));
            }
        }
        if let Some(exc) = &r.exc_text {
            out.push(Line::from(Span::styled("traceback", theme.title)));
            out.extend(traceback_lines(exc, width, theme, colour));
        }
        if let Some(stack) = &r.stack_info {
            out.push(Line::from(Span::styled("stack", theme.title)));
            out.extend(text::block_lines(stack, width, MAX_FIELD_LINES, &st));
        }
        if !r.extra.is_empty() {
            out.push(Line::from(Span::styled("extra", theme.title)));
            let json = indent_json(&r.extra_json());
            out.extend(text::block_lines(&json, width, MAX_FIELD_LINES, &st));
        }
        out
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme, colour: bool) {
        let r = Rect::new(
            area.x + area.width / 16,
            area.y + area.height / 16,
            area.width - area.width / 8,
            area.height - area.height / 8,
        );
        let inner_w = r.width.saturating_sub(2) as usize;
        let lines = self.lines(inner_w, theme, colour);
        let h = r.height.saturating_sub(2) as usize;
        let scroll = self.scroll.min(lines.len().saturating_sub(h));
        let shown: Vec<Line> = lines.into_iter().skip(scroll).take(h).collect();
        let mut title = format!(" record {} · ←/→ same origin · Esc closes ", self.row.id);
        if let Some(n) = &self.note {
            title = format!(" record {} · {n} ", self.row.id);
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Line::from(text::field_spans(&title, inner_w, theme.title)));
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(shown).block(block), r);
    }
}

/// What the detail view shows of a payload kept because it was not a record.
struct RawPayload {
    /// Why it was not a record, its size, whether it was cut: the section's first line.
    about: String,
    /// The payload: the bytes kept (`extra.raw`), with each byte that is not UTF-8 as `\xNN`,
    /// or, when they were valid text, the message, which is then those bytes exactly.
    text: String,
}

/// The raw payload of an undecodable record (one the Redis decoder marked with
/// `extra.undecodable`), None for a record that was decoded.
fn raw_payload(r: &Record) -> Option<RawPayload> {
    let extra = |k: &str| r.extra.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let why = extra(UNDECODABLE)?;
    let mut about = format!("undecodable: {}", why.as_str().unwrap_or("no reason given"));
    if let Some(Value::Int(n)) = extra("payload_bytes") {
        about.push_str(&format!(" · {n} bytes"));
    }
    if extra("truncated") == Some(&Value::Bool(true)) {
        about.push_str(" · cut");
    }
    let bytes = extra("raw").and_then(Value::as_str).and_then(|b64| {
        use base64::Engine;
        // The decoder keeps at most MAX_RAW_BYTES; a longer value was not written by it and
        // is not decoded (the message still shows).
        (b64.len() <= MAX_RAW_BYTES.div_ceil(3) * 4)
            .then(|| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .flatten()
    });
    let text = match bytes {
        Some(b) => {
            about.push_str(" · bytes not UTF-8 shown as \\xNN");
            escaped_bytes(&b)
        }
        None => r.message.clone(),
    };
    Some(RawPayload { about, text })
}

/// `bytes` as text: UTF-8 runs as they are, every other byte as `\xNN`.
fn escaped_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 4);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A traceback's lines, with the last `File "…"` frame and the exception line (the last
/// non-empty line) emphasised: that is where a reader looks first.
fn traceback_lines(exc: &str, width: usize, theme: &Theme, colour: bool) -> Vec<Line<'static>> {
    let st = TextStyle {
        base: theme.message,
        marker: theme.fold_marker,
        colour,
    };
    let mut lines = text::block_lines(exc, width, MAX_FIELD_LINES, &st);
    let src: Vec<&str> = exc.lines().take(MAX_FIELD_LINES).collect();
    let last_frame = src
        .iter()
        .rposition(|l| l.trim_start().starts_with("File \""));
    let exc_line = src.iter().rposition(|l| !l.trim().is_empty());
    for i in [last_frame, last_frame.map(|i| i + 1), exc_line]
        .into_iter()
        .flatten()
    {
        if let Some(l) = lines.get_mut(i) {
            let emph = if Some(i) == exc_line {
                theme
                    .level(crate::record::ERROR)
                    .add_modifier(Modifier::BOLD)
            } else {
                ratatui::style::Style::default().add_modifier(Modifier::BOLD)
            };
            *l = std::mem::take(l).patch_style(emph);
        }
    }
    lines
}

/// Indents compact JSON (as `Record::extra_json` writes it), two spaces a level, without
/// parsing it into a tree: one pass, no recursion, strings copied as they are.
pub fn indent_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth.min(64) {
            out.push_str("  ");
        }
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                if !matches!(out.chars().last(), Some('{') | Some('[')) {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_without_touching_strings() {
        let s = r#"{"a":1,"b":{"c":[1,2],"d":"x,{y}:\"z"},"e":{}}"#;
        assert_eq!(
            indent_json(s),
            "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [\n      1,\n      2\n    ],\n    \"d\": \"x,{y}:\\\"z\"\n  },\n  \"e\": {}\n}"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_and_text_kept() {
        assert_eq!(escaped_bytes(b"a\x80\xffb\xc3\xa9"), "a\\x80\\xffbé");
        assert_eq!(escaped_bytes(b"\xe2\x82"), "\\xe2\\x82");
    }

    #[test]
    fn glob_literal_matches_only_itself() {
        assert_eq!(glob_literal("[::1]:5*?"), "[[]::1]:5[*][?]");
    }
}
