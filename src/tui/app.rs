//! The app: routes each event to whoever owns it (the prompt, a popup, the focused pane) and
//! lays out space. It holds no view state of its own beyond which pane has the focus.

use super::detail::{DETAIL_PANE, Detail};
use super::help::Help;
use super::keymap::{Action, KeyMap};
use super::layout::Splits;
use super::pane::{DrawCtx, HIST_BIT, Pane, Scope};
use super::picker::{Channels, Picker, PickerOutcome};
use super::prompt::{Prompt, PromptKind, PromptOutcome};
use super::reader::{PaneId, Reader};
use super::status::StatusBar;
use super::theme::Themes;
use super::{Ctx, Handled, TimeMode};
use crate::store::{FeedItem, Subscription};
use crossterm::event::{Event, KeyEventKind, MouseButton, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Direction, Position, Rect};
use std::io::Write;

enum Popup {
    Help(Help),
    Detail(Box<Detail>),
    Picker(Box<Picker>),
}

pub struct App {
    panes: Vec<Pane>,
    splits: Splits,
    focus: PaneId,
    next_id: PaneId,
    /// Where each pane was drawn last, for the mouse.
    rects: Vec<(PaneId, Rect)>,
    popup: Option<Popup>,
    prompt: Option<Prompt>,
    /// The channel picker's counts: made when it first opens, then kept current by the feed.
    channels: Option<Channels>,
    pub keys: KeyMap,
    pub themes: Themes,
    pub colour: bool,
    pub time: TimeMode,
    pub status: StatusBar,
    pub reader: Reader,
    pub quit: bool,
    tz: jiff::tz::TimeZone,
    /// How far `[` and `]` jump, seconds.
    time_step: f64,
    /// Watches the user's theme files, so an edited theme shows at once.
    pub theme_watch: Option<super::theme::ThemeWatcher>,
    /// Asked for a job's recent history when the picker points a pane at the job (set where
    /// a Redis source records; the UI does not know where history comes from).
    pub job_history: Option<super::JobHistory>,
    /// Jobs whose history was asked for already: once a session is enough.
    histories: std::collections::HashSet<String>,
}

impl App {
    pub fn new(
        keys: KeyMap,
        themes: Themes,
        colour: bool,
        time: TimeMode,
        status: StatusBar,
        reader: Reader,
    ) -> App {
        let mut app = App {
            panes: vec![Pane::new(0, Scope::default())],
            splits: Splits::new(0),
            focus: 0,
            next_id: 1,
            rects: Vec::new(),
            popup: None,
            prompt: None,
            channels: None,
            keys,
            themes,
            colour,
            time,
            status,
            reader,
            quit: false,
            tz: jiff::tz::TimeZone::system(),
            time_step: 60.0,
            theme_watch: None,
            job_history: None,
            histories: Default::default(),
        };
        let mut ctx = Ctx {
            reader: &app.reader,
            time_step: app.time_step,
        };
        for p in &mut app.panes {
            p.reload(&mut ctx);
        }
        app
    }

    fn pane_mut(&mut self, id: PaneId) -> Option<&mut Pane> {
        self.panes.iter_mut().find(|p| p.id == id)
    }

    /// Whether a pane waits for a page it asked the reader for.
    pub fn awaiting_pages(&self) -> bool {
        self.panes.iter().any(|p| p.awaiting())
    }

    /// The pane with the focus (there is always one).
    pub fn focused(&self) -> Option<&Pane> {
        self.panes.iter().find(|p| p.id == self.focus)
    }

    /// Feeds what the store committed to every pane. Returns whether anything arrived.
    pub fn on_feed(&mut self, sub: &Subscription) -> bool {
        let mut any = false;
        // Bounded per call, so input is read between bursts.
        for _ in 0..256 {
            let Some(item) = sub.try_recv() else { break };
            any = true;
            match item {
                FeedItem::Batch(b) => {
                    self.status.saw(b.rows.len() as u64);
                    if let Some(c) = &mut self.channels {
                        c.on_batch(&b);
                    }
                    for p in &mut self.panes {
                        p.on_batch(&b);
                    }
                }
                FeedItem::Missed { .. } => {
                    self.status.missed = sub.missed();
                    if let Some(c) = &mut self.channels {
                        c.on_missed();
                    }
                    let mut ctx = Ctx {
                        reader: &self.reader,
                        time_step: self.time_step,
                    };
                    for p in &mut self.panes {
                        p.on_missed(&mut ctx);
                    }
                }
            }
        }
        any
    }

    /// Reloads the themes when a user theme file changed; true when it did.
    pub fn on_theme_files(&mut self) -> bool {
        if !self.theme_watch.as_ref().is_some_and(|w| w.changed()) {
            return false;
        }
        let errors = self.themes.reload();
        match errors.first() {
            Some(e) => self.status.flash(e.to_string()),
            None => self
                .status
                .flash(format!("theme {} reloaded", self.themes.current().name)),
        }
        true
    }

    /// Hands the reader's answers to the panes (and the detail view) that asked.
    pub fn on_replies(&mut self) -> bool {
        let mut any = false;
        if let Some(c) = &mut self.channels {
            any |= c.poll() && matches!(self.popup, Some(Popup::Picker(_)));
        }
        while let Some(r) = self.reader.try_recv() {
            any = true;
            if r.pane == DETAIL_PANE {
                if let Some(Popup::Detail(d)) = &mut self.popup {
                    d.on_reply(r);
                }
            } else if r.pane & HIST_BIT != 0 {
                if let Some(p) = self.pane_mut(r.pane & !HIST_BIT) {
                    p.on_histogram(r);
                }
            } else if let Some(p) = self.pane_mut(r.pane) {
                p.on_reply(r);
            }
        }
        while let Some(u) = self.reader.counter().try_recv() {
            any = true;
            if let Some(p) = self.panes.iter_mut().find(|p| p.id == u.pane) {
                p.on_count(u, &self.reader);
            }
        }
        any
    }

    pub fn on_event(&mut self, ev: Event) {
        if let Some(prompt) = &mut self.prompt {
            match prompt.on_event(&ev) {
                PromptOutcome::Editing => {}
                PromptOutcome::Cancelled => self.prompt = None,
                PromptOutcome::Submitted(s) => {
                    let kind = prompt.kind;
                    let mut ctx = Ctx {
                        reader: &self.reader,
                        time_step: self.time_step,
                    };
                    let focus = self.focus;
                    let Some(p) = self.panes.iter_mut().find(|p| p.id == focus) else {
                        return;
                    };
                    match kind {
                        PromptKind::Search => {
                            p.set_search(&mut ctx, &s);
                            self.prompt = None;
                        }
                        PromptKind::Filter => match p.set_filter_text(&mut ctx, &s) {
                            Ok(()) => self.prompt = None,
                            Err(e) => {
                                if let Some(pr) = &mut self.prompt {
                                    pr.error = Some(e);
                                }
                            }
                        },
                    }
                }
            }
            return;
        }
        if let (Some(Popup::Picker(p)), Some(ch)) = (&mut self.popup, &self.channels) {
            match p.on_event(&ev, ch) {
                PickerOutcome::Open => {}
                PickerOutcome::Closed => self.popup = None,
                PickerOutcome::Apply(scope) => {
                    self.popup = None;
                    if let Some(ask) = &self.job_history {
                        for job in &scope.filter.jobs {
                            if self.histories.len() < super::MAX_HISTORIES
                                && self.histories.insert(job.clone())
                            {
                                ask(job);
                            }
                        }
                    }
                    let mut ctx = Ctx {
                        reader: &self.reader,
                        time_step: self.time_step,
                    };
                    let focus = self.focus;
                    if let Some(p) = self.panes.iter_mut().find(|p| p.id == focus) {
                        p.set_scope(&mut ctx, *scope);
                    }
                }
            }
            return;
        }
        match ev {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                let a = self.keys.action(&k);
                self.on_action(a, k.code);
            }
            Event::Mouse(m) => self.on_mouse(m),
            _ => {}
        }
    }

    fn on_action(&mut self, a: Option<Action>, code: crossterm::event::KeyCode) {
        match &mut self.popup {
            Some(Popup::Help(h)) => {
                if !h.on_action(a) {
                    self.popup = None;
                }
                return;
            }
            Some(Popup::Picker(_)) => return, // Its keys are read raw in `on_event`.
            Some(Popup::Detail(d)) => {
                if a == Some(Action::Copy) {
                    let (id, rec) = (d.id(), d.record().clone());
                    self.copy(id, &rec);
                } else if !d.on_key(a, code, &self.reader) {
                    self.popup = None;
                }
                return;
            }
            None => {}
        }
        let Some(a) = a else { return };
        match a {
            Action::Quit => self.quit = true,
            Action::Help => self.popup = Some(Popup::Help(Help::new(&self.keys))),
            Action::Search => {
                let cur = self.focused().and_then(|p| p.search_text()).unwrap_or("");
                self.prompt = Some(Prompt::new(PromptKind::Search, cur));
            }
            Action::Filter => {
                let cur = self.focused().map_or("", |p| p.typed_filter());
                self.prompt = Some(Prompt::new(PromptKind::Filter, cur));
            }
            Action::Cancel => {
                let mut ctx = Ctx {
                    reader: &self.reader,
                    time_step: self.time_step,
                };
                let focus = self.focus;
                if let Some(p) = self.panes.iter_mut().find(|p| p.id == focus) {
                    p.clear_one(&mut ctx);
                }
            }
            Action::NextPane | Action::PrevPane => {
                let order = self.splits.order();
                if let Some(i) = order.iter().position(|&id| id == self.focus) {
                    let n = order.len();
                    let j = if a == Action::NextPane {
                        (i + 1) % n
                    } else {
                        (i + n - 1) % n
                    };
                    self.focus = order[j];
                }
            }
            Action::SplitRight | Action::SplitDown => {
                let dir = if a == Action::SplitRight {
                    Direction::Horizontal
                } else {
                    Direction::Vertical
                };
                let id = self.next_id;
                if self.splits.split(self.focus, id, dir)
                    && let Some(cur) = self.focused()
                {
                    let mut p = cur.split_off(id);
                    self.next_id += 1;
                    let mut ctx = Ctx {
                        reader: &self.reader,
                        time_step: self.time_step,
                    };
                    p.reload(&mut ctx);
                    self.panes.push(p);
                    self.focus = id;
                } else {
                    self.status.flash("no room for another pane");
                }
            }
            Action::ClosePane => {
                if self.splits.close(self.focus) {
                    if let Some(p) = self.panes.iter_mut().find(|p| p.id == self.focus) {
                        p.cancel_count(&self.reader);
                    }
                    self.panes.retain(|p| p.id != self.focus);
                    self.focus = self.splits.order().first().copied().unwrap_or(0);
                } else {
                    self.status.flash("the last pane stays (q quits)");
                }
            }
            Action::Detail => {
                if let Some(row) = self.focused().and_then(|p| p.selected()).cloned() {
                    self.popup = Some(Popup::Detail(Box::new(Detail::new(row))));
                }
            }
            Action::NextTheme => {
                self.themes.next();
                let name = self.themes.current().name.clone();
                self.status.flash(format!("theme {name}"));
            }
            Action::TimeMode => {
                self.time = self.time.next();
            }
            Action::Copy => {
                if let Some(row) = self.focused().and_then(|p| p.selected()).cloned() {
                    self.copy(row.id, &row.rec);
                }
            }
            Action::Picker => {
                let ch = self
                    .channels
                    .get_or_insert_with(|| Channels::start(self.reader.path()));
                self.popup = Some(Popup::Picker(Box::new(Picker::new(ch))));
            }
            _ => {
                let mut ctx = Ctx {
                    reader: &self.reader,
                    time_step: self.time_step,
                };
                let focus = self.focus;
                if let Some(p) = self.panes.iter_mut().find(|p| p.id == focus) {
                    let _: Handled = p.on_action(a, &mut ctx);
                }
            }
        }
    }

    /// Copies a record as one JSON line with OSC 52, which terminals (and tmux, and SSH
    /// sessions) turn into a clipboard write. The one escape logtui writes on purpose: its
    /// payload is base64, so no log text reaches the terminal raw.
    fn copy(&mut self, id: i64, rec: &crate::record::Record) {
        use base64::Engine;
        let json = rec.to_json_line(id);
        // Terminals cap OSC 52 payloads (xterm at about 100 KB of base64).
        if json.len() > 64 * 1024 {
            self.status
                .flash("record too large to copy (over 64 KiB); use logtui query --format jsonl");
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(json.as_bytes());
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b]52;c;{b64}\x07");
        let _ = out.flush();
        self.status.flash(format!("copied record {id} as JSON"));
    }

    fn on_mouse(&mut self, m: crossterm::event::MouseEvent) {
        let at = Position::new(m.column, m.row);
        let Some((id, rect)) = self.rects.iter().find(|(_, r)| r.contains(at)).copied() else {
            return;
        };
        let mut ctx = Ctx {
            reader: &self.reader,
            time_step: self.time_step,
        };
        let Some(p) = self.panes.iter_mut().find(|p| p.id == id) else {
            return;
        };
        match m.kind {
            MouseEventKind::ScrollUp => {
                for _ in 0..3 {
                    p.on_action(Action::Up, &mut ctx);
                }
            }
            MouseEventKind::ScrollDown => {
                for _ in 0..3 {
                    p.on_action(Action::Down, &mut ctx);
                }
            }
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = id;
                // Inside the border: the row under the pointer.
                if m.row > rect.y && m.row + 1 < rect.bottom() {
                    p.click_row((m.row - rect.y - 1) as usize);
                }
            }
            _ => {}
        }
    }

    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        let theme = self.themes.current();
        if area.height < 2 || area.width < 4 {
            return;
        }
        let main = Rect::new(area.x, area.y, area.width, area.height - 1);
        let bottom = Rect::new(area.x, area.bottom() - 1, area.width, 1);
        self.rects = self.splits.rects(main);
        let now = crate::record::now_epoch();
        let dctx = DrawCtx {
            theme,
            colour: self.colour,
            time: self.time,
            tz: &self.tz,
            now,
            today: crate::timefmt::local_millis(now, &self.tz)
                .get(..10)
                .unwrap_or("")
                .to_owned(),
            reader: &self.reader,
        };
        for (id, r) in &self.rects {
            if let Some(p) = self.panes.iter_mut().find(|p| p.id == *id) {
                p.draw(f, *r, *id == self.focus, &dctx);
            }
        }
        match &self.prompt {
            Some(p) => p.draw(f, bottom, theme),
            None => self.status.draw(f, bottom, theme),
        }
        match &mut self.popup {
            Some(Popup::Help(h)) => h.draw(f, main, theme),
            Some(Popup::Detail(d)) => d.draw(f, main, theme, self.colour),
            Some(Popup::Picker(p)) => {
                if let Some(ch) = &self.channels {
                    p.draw(f, main, theme, ch, now);
                }
            }
            None => {}
        }
    }
}
