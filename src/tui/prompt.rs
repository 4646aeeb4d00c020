//! The one-line prompt at the bottom for `/` (search) and `f` (filter): it owns the text
//! being typed (tui-input does the editing), draws itself, and says when it is done.

use super::text;
use super::theme::Theme;
use crossterm::event::{Event, KeyCode, KeyEventKind};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;
use tui_input::backend::crossterm::to_input_request;

/// What a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    Filter,
}

/// What a key did to the prompt.
pub enum PromptOutcome {
    Editing,
    Cancelled,
    Submitted(String),
}

/// The longest text a prompt holds: filters and searches are short, and the bound keeps
/// the per-keystroke work of a paste bounded.
const MAX_PROMPT: usize = 4096;

pub struct Prompt {
    pub kind: PromptKind,
    input: Input,
    /// The last submission's error, shown until the text changes.
    pub error: Option<String>,
}

impl Prompt {
    pub fn new(kind: PromptKind, initial: &str) -> Prompt {
        Prompt {
            kind,
            input: Input::new(initial.to_owned()),
            error: None,
        }
    }

    pub fn on_event(&mut self, ev: &Event) -> PromptOutcome {
        match ev {
            Event::Key(k) if k.kind == KeyEventKind::Press && k.code == KeyCode::Esc => {
                return PromptOutcome::Cancelled;
            }
            Event::Key(k) if k.kind == KeyEventKind::Press && k.code == KeyCode::Enter => {
                return PromptOutcome::Submitted(self.input.value().to_owned());
            }
            Event::Paste(s) => {
                // One line: a pasted newline would submit half a filter.
                for c in s.chars().filter(|c| !c.is_control()) {
                    if self.input.value().len() >= MAX_PROMPT {
                        break;
                    }
                    self.input.handle(tui_input::InputRequest::InsertChar(c));
                }
                self.error = None;
                return PromptOutcome::Editing;
            }
            _ => {}
        }
        if let Some(req) = to_input_request(ev) {
            let grows = matches!(req, tui_input::InputRequest::InsertChar(_));
            if !grows || self.input.value().len() < MAX_PROMPT {
                self.input.handle(req);
                self.error = None;
            }
        }
        PromptOutcome::Editing
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        let label = match self.kind {
            PromptKind::Search => "/",
            PromptKind::Filter => "filter: ",
        };
        let width = area.width as usize;
        let avail = width.saturating_sub(label.len() + 1);
        let scroll = self.input.visual_scroll(avail);
        let shown: String = self.input.value().chars().skip(scroll).collect();
        let mut spans = vec![Span::styled(label, theme.prompt)];
        spans.extend(text::field_spans(&shown, avail, theme.prompt));
        if let Some(e) = &self.error {
            spans.push(Span::raw("  "));
            spans.extend(text::field_spans(e, width / 2, theme.status_error));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        let x = area.x + (label.len() + self.input.visual_cursor().saturating_sub(scroll)) as u16;
        f.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}
