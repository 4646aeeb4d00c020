//! Snapshot tests of the whole screen: the app drawn on ratatui's `TestBackend` over a real
//! store (the real persister writes it, the real reader thread pages it), driven by key events.
//!
//! Text is compared with insta snapshots (`tests/snapshots/`); styles are asserted cell by cell
//! against the theme, for every builtin theme and for `NO_COLOR`. Times are fixed and shown in
//! UTC, and the process's zone is UTC, so the snapshots do not depend on the machine or the day.

#[path = "store_util.rs"]
mod store_util;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use logtui::record::{CRITICAL, DEBUG, ERROR, INFO, Record, SourceKind, WARNING};
use logtui::tui::keymap::KeyMap;
use logtui::tui::reader::Reader;
use logtui::tui::status::{Feeding, StatusBar};
use logtui::tui::theme::Themes;
use logtui::tui::{App, TimeMode};
use logtui::value::Value;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier, Style};
use std::time::{Duration, Instant};
use store_util::{Harness, config};

/// 2023-11-14 22:13:20 UTC: every record's time is this plus a few seconds.
const T0: f64 = 1_700_000_000.0;
const DEADLINE: Duration = Duration::from_secs(20);

/// The detail view prints the local time beside UTC: the zone is made UTC once, before any
/// test reads it (every test calls this first, so no thread reads the environment meanwhile).
fn utc_zone() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, under `Once`, before the test's own threads start; other tests block
    // in `call_once` until it is done.
    ONCE.call_once(|| unsafe { std::env::set_var("TZ", "UTC") });
}

fn rec(at: f64, logger: &str, level: i32, message: &str) -> Record {
    let mut r = Record::new(SourceKind::Tcp, "127.0.0.1:5000");
    r.created = T0 + at;
    r.logger = logger.into();
    r.set_level(level);
    r.message = message.into();
    r
}

const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/srv/app/web.py\", line 41, in handle\n    rows = db.query(request.args[\"id\"])\n  File \"/srv/app/db.py\", line 88, in query\n    raise ValueError(f\"bad id {id!r}\")\nValueError: bad id 'x'";

/// A mix of levels, a long logger, a long origin, a multi-line message, a traceback.
fn mixed() -> Vec<Record> {
    let mut v = vec![
        rec(0.0, "app", INFO, "service started on port 8080"),
        rec(
            1.0,
            "app.db.pool.connections.primary",
            DEBUG,
            "acquired connection 7",
        ),
    ];
    let mut far = rec(
        2.0,
        "app.http",
        WARNING,
        "slow response: 2.4s for GET /orders",
    );
    far.source = SourceKind::Http;
    far.origin = "build-agent-0042.eu-west.example.internal:8080".into();
    v.push(far);
    let mut err = rec(3.0, "app.web", ERROR, "request failed");
    err.exc_text = Some(TRACEBACK.into());
    v.push(err);
    v.push(rec(
        4.0,
        "app.report",
        INFO,
        "summary:\nrows 12\nerrors 1\nwarnings 3",
    ));
    v.push(rec(5.0, "app.disk", CRITICAL, "disk full on /var/lib/app"));
    v.push(rec(
        6.0,
        "app.db",
        INFO,
        "query took 12 ms (timeout 500 ms)",
    ));
    v.push(rec(7.0, "app", INFO, "heartbeat"));
    v
}

/// The app over a store holding `records`, and a test terminal to draw it on.
struct Screen {
    /// Keeps the store and its persister alive while the app reads it.
    _h: Harness,
    app: App,
    term: Terminal<TestBackend>,
}

impl Screen {
    fn new(records: Vec<Record>, w: u16, h: u16) -> Screen {
        let (themes, _) = Themes::load(None, false);
        Screen::with_themes(records, w, h, themes, true)
    }

    fn with_themes(records: Vec<Record>, w: u16, hgt: u16, themes: Themes, colour: bool) -> Screen {
        utc_zone();
        let h = Harness::start(config());
        for chunk in records.chunks(1000) {
            h.send(chunk.to_vec());
        }
        h.flush();
        let n = records.len() as u64;
        assert!(
            h.wait_for(DEADLINE, || h.rows() == n),
            "the store has every record"
        );
        let status = StatusBar::new(
            Feeding::Live {
                stats: h.stats.clone(),
                listening: vec!["tcp 127.0.0.1:9020".into()],
            },
            h.path.display().to_string(),
        );
        let reader = Reader::open(&h.path).unwrap();
        let app = App::new(
            KeyMap::defaults(),
            themes,
            colour,
            TimeMode::Utc,
            status,
            reader,
        );
        let term = Terminal::new(TestBackend::new(w, hgt)).unwrap();
        let mut s = Screen { _h: h, app, term };
        s.settle();
        s
    }

    fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| app.draw(f)).unwrap();
    }

    /// Draws until every pane has its rows: no reply is arriving and no title says
    /// "reading…" in two frames running (a frame can send a request its own title missed).
    fn settle(&mut self) {
        let start = Instant::now();
        let mut quiet = 0;
        while quiet < 2 {
            let got = self.app.on_replies();
            self.draw();
            if got || self.text().contains("reading") {
                quiet = 0;
            } else {
                quiet += 1;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the panes never settled:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.app
            .on_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn chars(&mut self, s: &str) {
        for c in s.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Presses a key and waits for what it asked of the store.
    fn press(&mut self, code: KeyCode) {
        self.key(code);
        self.settle();
    }

    fn buf(&self) -> &Buffer {
        self.term.backend().buffer()
    }

    fn text(&self) -> String {
        buffer_text(self.buf())
    }

    /// The screen line `y`.
    fn line(&self, y: u16) -> String {
        line_text(self.buf(), y)
    }

    /// The first screen line holding `needle`.
    fn row_of(&self, needle: &str) -> u16 {
        let b = self.buf();
        (0..b.area.height)
            .find(|&y| line_text(b, y).contains(needle))
            .unwrap_or_else(|| panic!("no line holds {needle:?}:\n{}", self.text()))
    }

    fn cell(&self, x: u16, y: u16) -> &Cell {
        &self.buf()[(x, y)]
    }

    /// The cell where `needle` starts on the first line holding it.
    fn cell_of(&self, needle: &str) -> (u16, u16) {
        let y = self.row_of(needle);
        (self.x_of(y, needle), y)
    }

    /// The column where `needle` starts on line `y`.
    fn x_of(&self, y: u16, needle: &str) -> u16 {
        let line = self.line(y);
        let byte = line
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
        line[..byte].chars().count() as u16
    }

    fn held(&self) -> usize {
        self.app.focused().unwrap().held_rows()
    }
}

fn line_text(b: &Buffer, y: u16) -> String {
    (0..b.area.width).map(|x| b[(x, y)].symbol()).collect()
}

fn buffer_text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        out.push_str(line_text(b, y).trim_end());
        out.push('\n');
    }
    out
}

/// Each line's runs of one style, as `x..x fg/bg/modifiers` (plain runs left out): the styles
/// of a screen in a form a reviewer can read in a snapshot.
fn style_runs(b: &Buffer) -> String {
    let key = |c: &Cell| (c.fg, c.bg, c.modifier);
    let plain = (Color::Reset, Color::Reset, Modifier::empty());
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < b.area.width {
            let k = key(&b[(x, y)]);
            let start = x;
            while x < b.area.width && key(&b[(x, y)]) == k {
                x += 1;
            }
            if k != plain {
                runs.push(format!("{start}..{x} {:?}/{:?}/{:?}", k.0, k.1, k.2));
            }
        }
        out.push_str(&format!("{y:2}: {}\n", runs.join(", ")));
    }
    out
}

/// Whether a cell shows `want`: the colours it sets, and at least its modifiers.
fn has_style(c: &Cell, want: Style) -> bool {
    want.fg.is_none_or(|fg| c.fg == fg)
        && want.bg.is_none_or(|bg| c.bg == bg)
        && c.modifier.contains(want.add_modifier)
}

fn describe(c: &Cell) -> String {
    format!(
        "{:?} fg {:?} bg {:?} {:?}",
        c.symbol(),
        c.fg,
        c.bg,
        c.modifier
    )
}

#[test]
fn default_layout_one_pane() {
    let s = Screen::new(mixed(), 110, 14);
    insta::assert_snapshot!("default_layout", s.text());
    assert_eq!(s.app.themes.current().name, "default-dark");
    insta::assert_snapshot!("default_layout_styles", style_runs(s.buf()));
    assert_eq!(s.held(), 8);
    let th = s.app.themes.current().clone();
    // The level column is coloured by level, the error's message too.
    let (x, y) = s.cell_of("ERROR");
    assert!(
        has_style(s.cell(x, y), th.level(ERROR)),
        "{}",
        describe(s.cell(x, y))
    );
    let (x, y) = s.cell_of("CRITICAL");
    assert!(has_style(s.cell(x, y), th.level(CRITICAL)));
    let (x, y) = s.cell_of("request failed");
    assert!(has_style(s.cell(x, y), th.level(ERROR)));
    // Folded lines are a marker in its own style.
    let (x, y) = s.cell_of("⏎ +3");
    assert!(
        has_style(s.cell(x, y), th.fold_marker),
        "{}",
        describe(s.cell(x, y))
    );
    // The traceback folds into the error's row: 6 lines.
    assert!(
        s.line(y - 1).contains("request failed ⏎ +6"),
        "{}",
        s.line(y - 1)
    );
    // Long names are cut with a marker, not spilled into the next column.
    let (x, y) = s.cell_of("app.db.pool.conne");
    assert!(has_style(s.cell(x, y), th.logger));
    assert!(!s.line(y).contains("primary"));
    assert!(!s.line(s.row_of("slow response")).contains("internal"));
    // The newest row is selected (the pane follows the tail).
    let y = s.row_of("heartbeat");
    assert!(
        has_style(s.cell(3, y), th.selected),
        "{}",
        describe(s.cell(3, y))
    );
    let (x, y) = s.cell_of("service started");
    assert!(!has_style(s.cell(x, y), th.selected));
}

#[test]
fn splits_focus_and_per_pane_filters() {
    let mut s = Screen::new(mixed(), 120, 30);
    s.press(KeyCode::Char('|'));
    s.press(KeyCode::Char('-'));
    // The newest pane (bottom right) has the focus: errors and up only.
    s.press(KeyCode::Char('4'));
    assert_eq!(s.held(), 2);
    // Tab goes round to the first pane (left); filter it by typing.
    s.key(KeyCode::Tab);
    s.key(KeyCode::Char('f'));
    s.chars("logger:app.db*");
    s.draw();
    assert!(
        s.line(29).starts_with("filter: logger:app.db*"),
        "{}",
        s.line(29)
    );
    s.press(KeyCode::Enter);
    assert_eq!(s.held(), 2, "app.db and app.db.pool.…");
    insta::assert_snapshot!("splits_three_panes", s.text());

    let th = s.app.themes.current().clone();
    assert_ne!(th.border, th.border_focused, "the test needs them apart");
    // Corners: left pane (0,0), top right (60,0), bottom right (60, 14 or 15).
    let bottom_right_y = s.row_of("level≥ERROR");
    let corners = [(0, 0), (60, 0), (60, bottom_right_y)];
    let focused = |s: &Screen| -> Vec<bool> {
        corners
            .iter()
            .map(|&(x, y)| has_style(s.cell(x, y), th.border_focused))
            .collect()
    };
    assert_eq!(focused(&s), [true, false, false], "{}", s.text());
    s.press(KeyCode::Tab);
    assert_eq!(focused(&s), [false, true, false]);
    s.press(KeyCode::Tab);
    assert_eq!(focused(&s), [false, false, true]);
    s.key(KeyCode::BackTab);
    s.press(KeyCode::BackTab);
    assert_eq!(focused(&s), [true, false, false]);
    // The unfocused panes mark their selection quietly, with an underline.
    // (the top right pane's newest row, "heartbeat", shown only there).
    let (x, y) = s.cell_of("heartbeat");
    let c = s.cell(x, y);
    assert!(c.modifier.contains(Modifier::UNDERLINED), "{}", describe(c));
    assert!(!has_style(c, th.selected), "{}", describe(c));
}

#[test]
fn help_overlay() {
    let mut s = Screen::new(mixed(), 100, 50);
    s.key(KeyCode::Char('?'));
    s.draw();
    insta::assert_snapshot!("help_overlay", s.text());
    let th = s.app.themes.current().clone();
    let (x, y) = s.cell_of("Panes");
    assert!(has_style(s.cell(x, y), th.help_group));
    let (x, y) = s.cell_of("Shift-Tab");
    assert!(has_style(s.cell(x, y), th.help_key));
    // Any key that is not a scroll closes it.
    s.key(KeyCode::Char('?'));
    s.draw();
    assert!(!s.text().contains("Split the pane side by side"));
}

fn detailed() -> Record {
    let mut r = rec(
        3.0,
        "app.web",
        ERROR,
        "request failed\nwhile serving GET /orders?id=x",
    );
    r.exc_text = Some(TRACEBACK.into());
    r.stack_info = Some(
        "Stack (most recent call last):\n  File \"/srv/app/main.py\", line 10, in <module>\n    serve()"
            .into(),
    );
    r.process = Some(4242);
    r.process_name = Some("MainProcess".into());
    r.thread_name = Some("worker-3".into());
    r.thread = Some(140001);
    r.pathname = Some("/srv/app/web.py".into());
    r.lineno = Some(41);
    r.func = Some("handle".into());
    r.job = Some("job-17".into());
    r.extra = vec![
        ("user".into(), Value::Str("ada".into())),
        ("attempt".into(), Value::Int(3)),
        (
            "tags".into(),
            Value::List(vec![Value::Str("a".into()), Value::Bool(true)]),
        ),
        (
            "ctx".into(),
            Value::Map(vec![("region".into(), Value::Str("eu".into()))]),
        ),
    ];
    r
}

#[test]
fn detail_view() {
    let mut s = Screen::new(vec![rec(0.0, "app", INFO, "before"), detailed()], 100, 44);
    s.press(KeyCode::Enter);
    insta::assert_snapshot!("detail_view", s.text());
    let th = s.app.themes.current().clone();
    let bold = |s: &Screen, needle: &str| {
        let (x, y) = s.cell_of(needle);
        let n = needle.chars().count() as u16;
        (x..x + n).all(|x| s.cell(x, y).modifier.contains(Modifier::BOLD))
    };
    // The last frame, its source line, and the exception line are emphasised...
    assert!(bold(&s, "File \"/srv/app/db.py\", line 88, in query"));
    assert!(bold(&s, "raise ValueError"));
    assert!(bold(&s, "ValueError: bad id 'x'"));
    let (x, y) = s.cell_of("ValueError: bad id 'x'");
    assert!(
        has_style(s.cell(x, y), th.level(ERROR)),
        "{}",
        describe(s.cell(x, y))
    );
    // ...and the frames before are not.
    let (x, y) = s.cell_of("File \"/srv/app/web.py\"");
    assert!(!s.cell(x, y).modifier.contains(Modifier::BOLD));
    assert!(s.text().contains("\"user\": \"ada\""));
    // Esc closes it.
    s.key(KeyCode::Esc);
    s.draw();
    assert!(!s.text().contains("traceback"));
}

/// What the Redis decoder keeps of a payload that is no record, made by the decoder itself.
fn undecodable(payload: &[u8]) -> Record {
    let limits = logtui::limits::DecodeLimits::default();
    let d = logtui::decode::redis::decode_message("logs:User.a", payload, payload.len(), &limits);
    assert!(d.undecodable);
    let mut r = d.record;
    r.created = T0 + 3.0;
    r
}

#[test]
fn detail_view_shows_an_undecodable_payload_raw() {
    // Not UTF-8 (a pickle sent to a channel), with a colour code and a second line.
    let payload: &[u8] = b"\x80\x02}q\x00ERROR \x1b[31mred\x1b[0m (pickle)\nline two\xff";
    let mut s = Screen::new(
        vec![rec(0.0, "app", INFO, "before"), undecodable(payload)],
        100,
        30,
    );
    s.press(KeyCode::Enter);
    insta::assert_snapshot!("detail_raw_payload", s.text());
    let t = s.text();
    assert!(t.contains("raw payload"), "{t}");
    assert!(t.contains("undecodable: not UTF-8 text · 42 bytes"), "{t}");
    assert!(
        t.contains(r"\x80\u{2}}q\u{0}ERROR \u{1b}[31mred\u{1b}[0m (pickle)"),
        "{t}"
    );
    assert!(t.contains(r"line two\xff"), "{t}");
    // The escape is shown, never sent: no cell holds a control character.
    assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
    assert!(!t.contains("\nmessage"), "the payload is shown once");
    s.key(KeyCode::Esc);
    // Broken JSON is valid text: the payload is the message, exactly.
    let mut s = Screen::new(vec![undecodable(b"{\"message\": \"cut")], 100, 30);
    s.press(KeyCode::Enter);
    let t = s.text();
    assert!(t.contains("undecodable: invalid JSON"), "{t}");
    assert!(t.contains("· 16 bytes"), "{t}");
    assert!(t.contains("{\"message\": \"cut"), "{t}");
    // A decoded record has no such section.
    let mut s = Screen::new(vec![detailed()], 100, 30);
    s.press(KeyCode::Enter);
    assert!(!s.text().contains("raw payload"));
}

#[test]
fn search_prompt_and_highlight() {
    let mut s = Screen::new(mixed(), 110, 14);
    s.key(KeyCode::Char('/'));
    s.chars("timeout");
    s.draw();
    insta::assert_snapshot!("search_prompt", s.text());
    assert_eq!(s.line(13).trim_end(), "/timeout");
    let th = s.app.themes.current().clone();
    assert!(has_style(s.cell(0, 13), th.prompt));
    s.press(KeyCode::Enter);
    insta::assert_snapshot!("search_highlight", s.text());
    // In the row, not the title (which names the search too).
    let y = s.row_of("query took");
    let x = s.x_of(y, "timeout");
    for i in 0..7 {
        let c = s.cell(x + i, y);
        assert!(
            c.modifier.contains(th.search_match.add_modifier),
            "{}",
            describe(c)
        );
        if let Some(bg) = th.search_match.bg {
            assert_eq!(c.bg, bg, "{}", describe(c));
        }
    }
    // Around the match: not highlighted.
    assert!(
        !has_style(s.cell(x - 1, y), th.search_match),
        "{}",
        describe(s.cell(x - 1, y))
    );
    assert!(!has_style(s.cell(x + 7, y), th.search_match));
}

/// The help overlay uses the room it has: on a wide terminal no description is clipped, and
/// a cut key list keeps a space before its description.
#[test]

fn help_shows_each_description_whole_on_a_wide_terminal() {
    let mut s = Screen::new(mixed(), 160, 60);
    s.key(KeyCode::Char('?'));
    s.draw();
    let text = s.text();
    for row in KeyMap::defaults().help_rows() {
        assert!(
            text.contains(row.text),
            "{:?} is clipped:\n{text}",
            row.text
        );
    }
    let y = s.row_of("Move down one page");
    let x = s.x_of(y, "Move down one page");
    assert_eq!(s.cell(x - 1, y).symbol(), " ", "{}", s.line(y));
}

/// From the tail (where a pane starts), `/` for a word that is on screen above selects it.
#[test]

fn search_from_the_tail_selects_a_match() {
    let mut s = Screen::new(mixed(), 110, 14);
    s.key(KeyCode::Char('/'));
    s.chars("disk");
    s.press(KeyCode::Enter);
    assert!(!s.text().contains("no match"), "{}", s.text());
    let th = s.app.themes.current().clone();
    let y = s.row_of("disk full");
    assert!(has_style(s.cell(3, y), th.selected), "{}", s.text());
}

#[test]
fn a_20_by_5_terminal() {
    let mut s = Screen::new(mixed(), 80, 24);
    s.term = Terminal::new(TestBackend::new(20, 5)).unwrap();
    s.settle();
    insta::assert_snapshot!("tiny_20x5", s.text());
    // The pane's border, the newest row, the status bar.
    assert!(s.line(0).starts_with('┌'), "{}", s.text());
    assert!(s.text().contains("heartbeat") || s.text().contains("22:13:27"));
    assert!(!s.line(4).trim().is_empty());
}

#[test]
fn degenerate_sizes_do_not_panic() {
    let mut s = Screen::new(mixed(), 80, 24);
    // Each state: plain, help open, detail open, prompt open, three panes.
    let states: [&[KeyCode]; 5] = [
        &[],
        &[KeyCode::Char('?')],
        &[KeyCode::Enter],
        &[KeyCode::Char('/'), KeyCode::Char('x')],
        &[KeyCode::Char('|'), KeyCode::Char('-')],
    ];
    for keys in states {
        for &k in keys {
            s.key(k);
        }
        for (w, h) in [(1, 1), (0, 0), (80, 0), (0, 24), (3, 1), (4, 2), (5, 3)] {
            s.term = Terminal::new(TestBackend::new(w, h)).unwrap();
            s.draw();
        }
        for w in 0..=24 {
            for h in 0..=8 {
                s.term = Terminal::new(TestBackend::new(w, h)).unwrap();
                s.app.on_replies();
                s.draw();
            }
        }
        s.key(KeyCode::Esc);
        s.key(KeyCode::Esc);
    }
}

#[test]
fn every_theme_colours_levels_and_selection() {
    let (themes, errors) = Themes::load(None, false);
    assert!(errors.is_empty());
    let names: Vec<String> = themes.names().iter().map(|s| s.to_string()).collect();
    assert!(names.len() >= 4, "{names:?}");
    let mut s = Screen::with_themes(mixed(), 110, 14, themes, true);
    for name in &names {
        s.app.themes.select(name).unwrap();
        s.draw();
        let th = s.app.themes.current().clone();
        let (x, y) = s.cell_of("ERROR");
        for i in 0..5 {
            let c = s.cell(x + i, y);
            assert!(has_style(c, th.level(ERROR)), "{name}: {}", describe(c));
        }
        let (x, y) = s.cell_of("WARNING");
        assert!(has_style(s.cell(x, y), th.level(WARNING)), "{name}");
        let y = s.row_of("heartbeat");
        // The whole selected row, inside the border, carries the selected background and
        // emphasis (its foreground: see the ignored test below).
        let back = Style {
            fg: None,
            ..th.selected
        };
        let end = s.x_of(y, "heartbeat") + "heartbeat".len() as u16;
        for x in 1..end {
            let c = s.cell(x, y);
            assert!(has_style(c, back), "{name} at {x}: {}", describe(c));
        }
        let other = s.row_of("service started");
        assert!(!has_style(s.cell(20, other), back), "{name}");
        assert_ne!(th.level(ERROR), th.level(INFO), "{name}: levels apart");
    }
}

/// A theme's `selected` is "patched over the row's own styles" (themes/README.md): a
/// foreground it sets wins over the columns' own.
#[test]

fn the_selected_foreground_wins_in_every_theme() {
    let (themes, _) = Themes::load(None, false);
    let names: Vec<String> = themes.names().iter().map(|s| s.to_string()).collect();
    let mut s = Screen::with_themes(mixed(), 110, 14, themes, true);
    let mut checked = 0;
    for name in &names {
        s.app.themes.select(name).unwrap();
        s.draw();
        let th = s.app.themes.current().clone();
        let Some(fg) = th.selected.fg else { continue };
        checked += 1;
        let y = s.row_of("heartbeat");
        for x in [1, 15, 30, 50, 70] {
            let c = s.cell(x, y);
            assert_eq!(c.fg, fg, "{name} at {x}: {}", describe(c));
        }
    }
    assert!(checked > 0, "high-contrast sets a selected fg");
}

/// The selection bar spans the pane's width, not only its text, so every selected row looks
/// alike (with `NO_COLOR` it is reverse video: a ragged bar is plain to see).
#[test]

fn the_selection_bar_spans_the_pane() {
    for no_color in [false, true] {
        let (themes, _) = Themes::load(None, no_color);
        let s = Screen::with_themes(mixed(), 110, 14, themes, !no_color);
        let th = s.app.themes.current().clone();
        let y = s.row_of("heartbeat");
        for x in 1..109 {
            let c = s.cell(x, y);
            assert!(
                has_style(c, th.selected),
                "no_color {no_color} at {x}: {}",
                describe(c)
            );
        }
    }
}

#[test]
fn no_color_has_no_colour_yet_shows_the_selection() {
    let (themes, _) = Themes::load(None, true);
    let names: Vec<String> = themes.names().iter().map(|s| s.to_string()).collect();
    let mut records = mixed();
    records.insert(
        2,
        rec(
            1.5,
            "app.sgr",
            INFO,
            "\x1b[31mred\x1b[0m and \x1b[1;44mblue\x1b[0m",
        ),
    );
    let mut s = Screen::with_themes(records, 110, 14, themes, false);
    for name in &names {
        s.app.themes.select(name).unwrap();
        // And with the help and detail popups over the pane.
        for popup in [None, Some(KeyCode::Char('?')), Some(KeyCode::Enter)] {
            if let Some(k) = popup {
                s.key(k);
            }
            s.draw();
            let b = s.buf();
            for y in 0..b.area.height {
                for x in 0..b.area.width {
                    let c = &b[(x, y)];
                    assert!(
                        c.fg == Color::Reset && c.bg == Color::Reset,
                        "{name} {popup:?} at ({x},{y}): {}",
                        describe(c)
                    );
                }
            }
            if popup.is_some() {
                s.key(KeyCode::Esc);
            }
        }
        s.draw();
        assert!(s.text().contains("red and blue"), "{}", s.text());
        let sel = s.row_of("heartbeat");
        let other = s.row_of("service started");
        let mods = |y: u16| s.cell(30, y).modifier;
        let emph = Modifier::REVERSED | Modifier::BOLD;
        assert!(mods(sel).intersects(emph), "{name}: {:?}", mods(sel));
        assert_ne!(mods(sel), mods(other), "{name}\n{}", s.text());
        // Levels still apart, by emphasis: ERROR is bold, and not as INFO is.
        let (x, y) = s.cell_of("ERROR");
        assert!(s.cell(x, y).modifier.contains(Modifier::BOLD), "{name}");
        let error = s.cell(x, y).modifier;
        let (x, y) = s.cell_of("INFO");
        assert_ne!(s.cell(x, y).modifier, error, "{name}");
    }
}

#[test]
fn only_the_visible_rows_are_held() {
    const N: usize = 20_000;
    let records: Vec<Record> = (1..=N)
        .map(|i| rec(i as f64, "app", INFO, &format!("record {i:05}")))
        .collect();
    let mut s = Screen::new(records, 100, 23);
    // A screenful of the newest: 19 rows inside the border, under the histogram strip.
    let shown = |s: &Screen| -> Vec<String> {
        (2..21)
            .map(|y| s.line(y))
            .filter_map(|l| l.find("record ").map(|i| l[i..i + 12].to_owned()))
            .collect()
    };
    let want = |from: usize| -> Vec<String> {
        (from..from + 19)
            .map(|i| format!("record {i:05}"))
            .collect()
    };
    assert_eq!(shown(&s), want(N - 18));
    // A few screens at most, never the store.
    let most = 200;
    assert!(s.held() <= most, "{}", s.held());
    s.press(KeyCode::Char('g'));
    assert_eq!(shown(&s), want(1));
    assert!(s.held() <= most, "{}", s.held());
    // Paging down through many windows keeps the window bounded, and the rows consecutive.
    for _ in 0..30 {
        s.press(KeyCode::PageDown);
        assert!(s.held() <= most, "{}", s.held());
    }
    let now = shown(&s);
    let first: usize = now[0]["record ".len()..].parse().unwrap();
    assert!(first > 400, "{first}");
    assert_eq!(now, want(first));
    s.press(KeyCode::Char('G'));
    assert_eq!(shown(&s), want(N - 18));
    assert!(s.held() <= most, "{}", s.held());
    // And back up from the tail across a page edge.
    for _ in 0..15 {
        s.press(KeyCode::PageUp);
        assert!(s.held() <= most, "{}", s.held());
    }
    let now = shown(&s);
    let first: usize = now[0]["record ".len()..].parse().unwrap();
    assert!(first < N - 250, "{first}");
    assert_eq!(now, want(first));
}
