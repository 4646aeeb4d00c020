//! The help overlay (`?`): every binding, grouped, built from the key map itself so the help
//! cannot drift from what the keys do. It owns its scroll position, drawing and keys.

use super::keymap::{Action, KeyMap};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
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
        let w = area.width.min(88);
        let h = area.height.min(self.lines.len() as u16 + 2);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        let keys_w = 20usize;
        let lines: Vec<Line> = self
            .lines
            .iter()
            .skip(self.scroll)
            .take(h.saturating_sub(2) as usize)
            .map(|(group, keys, text)| match group {
                Some(g) => Line::from(Span::styled(g.to_string(), theme.help_group)),
                None => Line::from(vec![
                    Span::styled(
                        format!("  {:<keys_w$}", crate::term::truncate(keys, keys_w)),
                        theme.help_key,
                    ),
                    Span::styled(text.to_string(), theme.help_text),
                ]),
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
