//! The help overlay (`?`): every binding, grouped, built from the key map itself so the help
//! cannot drift from what the keys do. It owns its scroll position, drawing and keys.

use super::keymap::{Action, KeyMap};
use super::text;
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub struct Help {
    lines: Vec<(Option<&'static str>, String, &'static str)>,
    scroll: usize,
}

impl Help {
    pub fn new(keys: &KeyMap) -> Help {
        let mut lines = Vec::new();
        let mut group = "";
        for row in keys.help_rows() {
            if row.group != group {
                group = row.group;
                lines.push((Some(row.group), String::new(), ""));
            }
            lines.push((None, row.keys, row.text));
        }
        Help { lines, scroll: 0 }
    }

    /// Keys inside the overlay: movement scrolls; anything else closes it (returns false).
    pub fn on_action(&mut self, a: Option<Action>) -> bool {
        match a {
            Some(Action::Down) => {
                self.scroll = (self.scroll + 1).min(self.lines.len().saturating_sub(1))
            }
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Action::PageDown) => {
                self.scroll = (self.scroll + 10).min(self.lines.len().saturating_sub(1))
            }
            Some(Action::PageUp) => self.scroll = self.scroll.saturating_sub(10),
            _ => return false,
        }
        true
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        // As wide as the longest line needs, when the terminal has room; else each line is cut
        // with a marker.
        let keys_w = self
            .lines
            .iter()
            .map(|(_, k, _)| crate::term::width(k))
            .max()
            .unwrap_or(0)
            .min(24);
        let text_w = self
            .lines
            .iter()
            .map(|(_, _, t)| crate::term::width(t))
            .max()
            .unwrap_or(0);
        let want = u16::try_from(2 + keys_w + 1 + text_w + 2).unwrap_or(u16::MAX);
        let w = area.width.min(want.max(20));
        let h = area.height.min(self.lines.len() as u16 + 2);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        let text_room = (w as usize).saturating_sub(2 + 2 + keys_w + 1);
        let lines: Vec<Line> = self
            .lines
            .iter()
            .skip(self.scroll)
            .take(h.saturating_sub(2) as usize)
            .map(|(group, keys, what)| match group {
                Some(g) => Line::from(Span::styled(g.to_string(), theme.help_group)),
                None => {
                    let mut spans = vec![Span::raw("  ")];
                    spans.extend(text::field_cell(
                        keys,
                        keys_w,
                        theme.help_key,
                        Style::default(),
                    ));
                    spans.extend(text::field_spans(what, text_room, theme.help_text));
                    Line::from(spans)
                }
            })
            .collect();
        f.render_widget(Clear, r);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(" keys (? or Esc closes, j/k scroll) ");
        f.render_widget(Paragraph::new(lines).block(block), r);
    }
}
