//! The one key list: every action the UI offers, its default keys and help text, and a user's
//! overrides from `[ui.keys]`. Key handling and the help overlay both read it, so help cannot drift.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// `[ui.keys]`: an action and the keys that replace its defaults (`search = ["/", "ctrl-s"]`).
pub type KeysConfig = BTreeMap<Action, Vec<String>>;

/// Declares every action once, with its config name, help group, default keys and help text,
/// so that nothing about an action lives in two places.
macro_rules! actions {
    ($( $variant:ident $name:literal $group:literal [$($key:literal),*] $text:literal; )*) => {
        /// Something the user can ask for with a key. The order is the help overlay's.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $( $variant, )* }

        impl Action {
            /// Every action, grouped as the help overlay shows them.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name used in `[ui.keys]` (snake_case).
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }

            /// One line of help.
            pub fn describe(self) -> &'static str {
                match self { $(Action::$variant => $text,)* }
            }

            /// The heading the help overlay lists this action under.
            pub fn group(self) -> &'static str {
                match self { $(Action::$variant => $group,)* }
            }

            fn default_keys(self) -> &'static [&'static str] {
                match self { $(Action::$variant => &[$($key),*],)* }
            }
        }
    };
}

actions! {
    Quit "quit" "General" ["q", "ctrl-c"] "Quit (Ctrl-c always quits too)";
    Help "help" "General" ["?"] "Show or hide this help";
    Cancel "cancel" "General" ["esc"] "Close the prompt or popup, then clear the pane's filter";
    NextTheme "next_theme" "General" ["t"] "Switch to the next theme";
    Up "up" "Move" ["k", "up"] "Move up one row";
    Down "down" "Move" ["j", "down"] "Move down one row";
    PageUp "page_up" "Move" ["pageup", "ctrl-b"] "Move up one page";
    PageDown "page_down" "Move" ["pagedown", "ctrl-f", "space"] "Move down one page";
    Oldest "oldest" "Move" ["g", "home"] "Jump to the oldest record in the store";
    Newest "newest" "Move" ["G", "end"] "Jump to the newest record and follow the tail";
    Pause "pause" "Move" ["p"] "Pause or resume following the tail";
    TimeBack "time_back" "Move" ["["] "Jump back in time by a step";
    TimeForward "time_forward" "Move" ["]"] "Jump forward in time by a step";
    Mark "mark" "Move" ["m"] "Mark or unmark the selected record";
    JumpMark "jump_mark" "Move" ["'"] "Jump to the next marked record";
    Search "search" "Find" ["/"] "Search: highlight matches, looking into the store too";
    SearchNext "search_next" "Find" ["n"] "Next match";
    SearchPrev "search_prev" "Find" ["N"] "Previous match";
    NextError "next_error" "Find" ["e"] "Next error";
    PrevError "prev_error" "Find" ["E"] "Previous error";
    NextWarning "next_warning" "Find" ["w"] "Next warning";
    PrevWarning "prev_warning" "Find" ["W"] "Previous warning";
    Filter "filter" "Filter" ["f"] "Filter the pane: text, re:REGEX, level>=warning, logger:app.*, job:ID, origin:GLOB, !term";
    LevelDebug "level_debug" "Filter" ["1"] "Show DEBUG and up";
    LevelInfo "level_info" "Filter" ["2"] "Show INFO and up";
    LevelWarning "level_warning" "Filter" ["3"] "Show WARNING and up";
    LevelError "level_error" "Filter" ["4"] "Show ERROR and up";
    LevelCritical "level_critical" "Filter" ["5"] "Show CRITICAL only";
    Picker "picker" "Filter" ["c"] "Channel picker: point the pane at sources, origins, jobs or loggers";
    NextPane "next_pane" "Panes" ["tab"] "Focus the next pane";
    PrevPane "prev_pane" "Panes" ["shift-tab"] "Focus the previous pane";
    SplitRight "split_right" "Panes" ["|"] "Split the pane side by side";
    SplitDown "split_down" "Panes" ["-"] "Split the pane above and below";
    ClosePane "close_pane" "Panes" ["x"] "Close the pane";
    Detail "detail" "View" ["enter"] "Show the selected record in full";
    Copy "copy" "View" ["y"] "Copy the selected record as JSON (OSC 52, works over SSH)";
    TimeMode "time_mode" "View" ["T"] "Show times as local, UTC or relative";
    ToggleOrigin "toggle_origin" "View" ["o"] "Show or hide the origin column";
    ToggleLogger "toggle_logger" "View" ["L"] "Show or hide the logger column";
    ToggleColumns "toggle_columns" "View" ["C"] "Show only level and message, or every column again";
    Histogram "histogram" "View" ["H"] "Histogram over the whole filtered store, or of the last minutes again";
}

impl Action {
    /// The action a `[ui.keys]` name stands for.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

// By hand rather than derived: a misspelt action gets a suggestion instead of a list of forty.
impl<'de> serde::Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let name = String::deserialize(d)?;
        Action::from_name(&name).ok_or_else(|| serde::de::Error::custom(unknown_action(&name)))
    }
}

fn unknown_action(name: &str) -> String {
    let shown = crate::term::escape_controls(name);
    match closest(name, Action::ALL.iter().map(|a| a.name())) {
        Some(near) => format!("unknown action {shown:?} in [ui.keys]; did you mean {near}?"),
        None => format!(
            "unknown action {shown:?} in [ui.keys]; actions are named as in the README's keys \
             table, such as quit, search, next_pane"
        ),
    }
}

/// The candidate within two edits of `word`, if any. Long words get no suggestion, which keeps
/// the work small whatever a config file says.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > 40 {
        return None;
    }
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (up + 1).min(row[j] + 1).min(diag + usize::from(ca != *cb));
            diag = up;
        }
    }
    row[b.len()]
}

/// Why `[ui.keys]` cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyMapError {
    #[error(
        "{key:?} (for {action}) is not a key: write one character (q, G, |), or a name (enter, \
         esc, tab, space, backspace, delete, insert, home, end, pageup, pagedown, up, down, left, \
         right, f1…f24), with ctrl-, alt- or shift- in front when needed"
    )]
    UnknownKey { action: Action, key: String },
    #[error("the key {key} is bound to both {first} and {second}; give one of them other keys")]
    Conflict {
        key: String,
        first: Action,
        second: Action,
    },
    #[error("Ctrl-c always quits, so it cannot be bound to {action}")]
    CtrlC { action: Action },
}

impl KeyMapError {
    /// The action whose keys are wrong (for a conflict, the second of the two).
    pub fn action(&self) -> Action {
        match self {
            KeyMapError::UnknownKey { action, .. } | KeyMapError::CtrlC { action } => *action,
            KeyMapError::Conflict { second, .. } => *second,
        }
    }
}

/// A key as the map compares it: the code and the modifiers that matter, normalised so that
/// the ways terminals report the same key press compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    code: KeyCode,
    mods: KeyModifiers,
}

const CTRL_C: Key = Key {
    code: KeyCode::Char('c'),
    mods: KeyModifiers::CONTROL,
};

impl Key {
    fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let shift = mods.contains(KeyModifiers::SHIFT);
        let code = match code {
            // A character carries its shift already ('G', '?'); terminals differ in whether
            // they also report SHIFT, and the kitty protocol may send 'g' with SHIFT.
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    // Legacy terminals cannot tell ctrl-C from ctrl-c: treat them as one.
                    KeyCode::Char(c.to_ascii_lowercase())
                } else if shift {
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            // crossterm reports Shift-Tab as BackTab, usually with SHIFT as well.
            KeyCode::Tab if shift => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    /// Reads `ctrl-c`, `G`, `shift-tab`, `|`, `-`, `space`, `pageup`, `f1` …
    fn parse(text: &str) -> Option<Key> {
        // A lone space is the space bar; otherwise spaces around a name are not part of it.
        let mut rest = match text.trim() {
            "" => text,
            t => t,
        };
        let mut mods = KeyModifiers::NONE;
        // Each pass strips one prefix, so this ends; `-` alone (or `ctrl--`) is the minus key.
        loop {
            let lower = rest.to_ascii_lowercase();
            let found = [
                ("ctrl-", KeyModifiers::CONTROL),
                ("control-", KeyModifiers::CONTROL),
                ("alt-", KeyModifiers::ALT),
                ("shift-", KeyModifiers::SHIFT),
            ]
            .into_iter()
            .find(|(p, _)| rest.len() > p.len() && lower.starts_with(p));
            match found {
                Some((p, m)) => {
                    mods |= m;
                    rest = &rest[p.len()..];
                }
                None => break,
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => KeyCode::Char(c),
            _ => named_key(&rest.to_ascii_lowercase())?,
        };
        Some(Key::new(code, mods))
    }

    /// How help shows the key: `q`, `G`, `Ctrl-b`, `Shift-Tab`, `PageUp`, `Space`.
    fn display(&self) -> String {
        let mut out = String::new();
        for (m, name) in [
            (KeyModifiers::CONTROL, "Ctrl-"),
            (KeyModifiers::ALT, "Alt-"),
            (KeyModifiers::SHIFT, "Shift-"),
        ] {
            if self.mods.contains(m) {
                out.push_str(name);
            }
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("Space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::F(n) => out.push_str(&format!("F{n}")),
            KeyCode::BackTab => out.push_str("Shift-Tab"),
            KeyCode::Enter => out.push_str("Enter"),
            KeyCode::Esc => out.push_str("Esc"),
            KeyCode::Tab => out.push_str("Tab"),
            KeyCode::Backspace => out.push_str("Backspace"),
            KeyCode::Delete => out.push_str("Delete"),
            KeyCode::Insert => out.push_str("Insert"),
            KeyCode::Home => out.push_str("Home"),
            KeyCode::End => out.push_str("End"),
            KeyCode::PageUp => out.push_str("PageUp"),
            KeyCode::PageDown => out.push_str("PageDown"),
            KeyCode::Up => out.push_str("Up"),
            KeyCode::Down => out.push_str("Down"),
            KeyCode::Left => out.push_str("Left"),
            KeyCode::Right => out.push_str("Right"),
            other => out.push_str(&format!("{other:?}")),
        }
        out
    }
}

fn named_key(name: &str) -> Option<KeyCode> {
    Some(match name {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" | "page-up" | "page_up" => KeyCode::PageUp,
        "pagedown" | "pgdn" | "page-down" | "page_down" => KeyCode::PageDown,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        f => match f.strip_prefix('f').map(str::parse::<u8>) {
            Some(Ok(n @ 1..=24)) => KeyCode::F(n),
            _ => return None,
        },
    })
}

/// One line of the help overlay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpRow {
    pub group: &'static str,
    /// The keys as shown, separated by spaces (`g Home`); `(none)` for an unbound action.
    pub keys: String,
    pub action: Action,
    pub text: &'static str,
}

/// Which action each key asks for, and the keys of each action, in the order they are listed.
#[derive(Clone, Debug)]
pub struct KeyMap {
    by_key: HashMap<Key, Action>,
    /// Indexed by the action's place in [`Action::ALL`].
    keys: Vec<Vec<Key>>,
}

impl KeyMap {
    /// The built-in keys.
    pub fn defaults() -> KeyMap {
        match KeyMap::from_config(&KeysConfig::new()) {
            Ok(map) => map,
            // The defaults are checked by a test; this only keeps a bad edit from panicking.
            Err(_) => KeyMap {
                by_key: HashMap::from([(CTRL_C, Action::Quit)]),
                keys: Action::ALL
                    .iter()
                    .map(|a| match a {
                        Action::Quit => vec![CTRL_C],
                        _ => Vec::new(),
                    })
                    .collect(),
            },
        }
    }

    /// The defaults with each action named in `over` given exactly the keys listed there.
    pub fn from_config(over: &KeysConfig) -> Result<KeyMap, KeyMapError> {
        let mut keys = Vec::with_capacity(Action::ALL.len());
        for &action in Action::ALL {
            let names: Vec<&str> = match over.get(&action) {
                Some(list) => list.iter().map(String::as_str).collect(),
                None => action.default_keys().to_vec(),
            };
            let mut list: Vec<Key> = Vec::with_capacity(names.len() + 1);
            for name in names {
                let key = Key::parse(name).ok_or_else(|| KeyMapError::UnknownKey {
                    action,
                    key: crate::term::escape_controls(name).into_owned(),
                })?;
                if key == CTRL_C && action != Action::Quit {
                    return Err(KeyMapError::CtrlC { action });
                }
                if !list.contains(&key) {
                    list.push(key);
                }
            }
            // However quit is remapped, a user can never be locked in.
            if action == Action::Quit && !list.contains(&CTRL_C) {
                list.push(CTRL_C);
            }
            keys.push(list);
        }
        let mut by_key = HashMap::new();
        for (&action, list) in Action::ALL.iter().zip(&keys) {
            for &key in list {
                if let Some(first) = by_key.insert(key, action) {
                    return Err(KeyMapError::Conflict {
                        key: key.display(),
                        first,
                        second: action,
                    });
                }
            }
        }
        Ok(KeyMap { by_key, keys })
    }

    /// The action a key press asks for. Releases and repeats are ignored (only presses count),
    /// and Ctrl-c is always [`Action::Quit`].
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        if ev.kind != KeyEventKind::Press {
            return None;
        }
        let key = Key::new(ev.code, ev.modifiers);
        if key == CTRL_C {
            return Some(Action::Quit);
        }
        self.by_key.get(&key).copied()
    }

    /// The keys of `a` as help shows them, e.g. `["g", "Home"]`.
    pub fn keys_for(&self, a: Action) -> Vec<String> {
        let at = Action::ALL.iter().position(|x| *x == a).unwrap_or(0);
        self.keys
            .get(at)
            .map(|l| l.iter().map(Key::display).collect())
            .unwrap_or_default()
    }

    /// Every action with its keys and help text, in [`Action::ALL`] order.
    pub fn help_rows(&self) -> Vec<HelpRow> {
        Action::ALL
            .iter()
            .map(|&action| {
                let keys = self.keys_for(action);
                HelpRow {
                    group: action.group(),
                    keys: match keys.is_empty() {
                        true => "(none)".to_owned(),
                        false => keys.join(" "),
                    },
                    action,
                    text: action.describe(),
                }
            })
            .collect()
    }

    /// The help as a Markdown table (group, keys, what they do, config name), for the README.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| | Keys | What they do | `[ui.keys]` name |\n| --- | --- | --- | --- |\n",
        );
        let mut last_group = "";
        for &action in Action::ALL {
            let group = match action.group() {
                g if g == last_group => "",
                g => g,
            };
            last_group = action.group();
            let keys: Vec<String> = self.keys_for(action).iter().map(|k| md_code(k)).collect();
            out.push_str(&format!(
                "| {} | {} | {} | `{}` |\n",
                if group.is_empty() {
                    String::new()
                } else {
                    format!("**{group}**")
                },
                keys.join(" "),
                action.describe().replace('|', "\\|"),
                action.name()
            ));
        }
        out
    }
}

/// `k` as a Markdown code span that survives a table: `|` escaped, a backtick fenced by two.
fn md_code(k: &str) -> String {
    let k = k.replace('|', "\\|");
    match k.contains('`') {
        true => format!("`` {k} ``"),
        false => format!("`{k}`"),
    }
}

impl Default for KeyMap {
    fn default() -> Self {
        KeyMap::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }
    fn ch(c: char) -> KeyEvent {
        press(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn the_defaults_bind_what_the_issue_lists() {
        let m = KeyMap::defaults();
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        for (ev, want) in [
            (ch('q'), Action::Quit),
            (ch('?'), Action::Help),
            (ch('/'), Action::Search),
            (ch('n'), Action::SearchNext),
            (ch('N'), Action::SearchPrev),
            (ch('f'), Action::Filter),
            (press(KeyCode::Esc, none), Action::Cancel),
            (ch('1'), Action::LevelDebug),
            (ch('2'), Action::LevelInfo),
            (ch('3'), Action::LevelWarning),
            (ch('4'), Action::LevelError),
            (ch('5'), Action::LevelCritical),
            (ch('e'), Action::NextError),
            (ch('E'), Action::PrevError),
            (ch('w'), Action::NextWarning),
            (ch('W'), Action::PrevWarning),
            (ch('c'), Action::Picker),
            (press(KeyCode::Tab, none), Action::NextPane),
            (
                press(KeyCode::BackTab, KeyModifiers::SHIFT),
                Action::PrevPane,
            ),
            (ch('|'), Action::SplitRight),
            (ch('-'), Action::SplitDown),
            (ch('x'), Action::ClosePane),
            (press(KeyCode::Enter, none), Action::Detail),
            (ch('g'), Action::Oldest),
            (press(KeyCode::Home, none), Action::Oldest),
            (ch('G'), Action::Newest),
            (press(KeyCode::End, none), Action::Newest),
            (ch('p'), Action::Pause),
            (ch('m'), Action::Mark),
            (ch('\''), Action::JumpMark),
            (ch('t'), Action::NextTheme),
            (ch('y'), Action::Copy),
            (ch('['), Action::TimeBack),
            (ch(']'), Action::TimeForward),
            (ch('k'), Action::Up),
            (press(KeyCode::Up, none), Action::Up),
            (ch('j'), Action::Down),
            (press(KeyCode::Down, none), Action::Down),
            (press(KeyCode::PageUp, none), Action::PageUp),
            (press(KeyCode::Char('b'), ctrl), Action::PageUp),
            (press(KeyCode::PageDown, none), Action::PageDown),
            (press(KeyCode::Char('f'), ctrl), Action::PageDown),
            (ch(' '), Action::PageDown),
            (ch('T'), Action::TimeMode),
            (ch('o'), Action::ToggleOrigin),
            (ch('L'), Action::ToggleLogger),
            (ch('C'), Action::ToggleColumns),
            (press(KeyCode::Char('c'), ctrl), Action::Quit),
        ] {
            assert_eq!(m.action(&ev), Some(want), "{ev:?}");
        }
        assert_eq!(m.action(&ch('Z')), None);
        assert_eq!(m.keys_for(Action::Oldest), ["g", "Home"]);
        assert_eq!(
            m.keys_for(Action::PageDown),
            ["PageDown", "Ctrl-f", "Space"]
        );
        assert_eq!(m.keys_for(Action::PrevPane), ["Shift-Tab"]);
    }

    #[test]
    fn shifted_letters_and_back_tab_match_however_the_terminal_reports_them() {
        let m = KeyMap::defaults();
        let shift = KeyModifiers::SHIFT;
        assert_eq!(
            m.action(&press(KeyCode::Char('G'), shift)),
            Some(Action::Newest)
        );
        assert_eq!(
            m.action(&press(KeyCode::Char('g'), shift)),
            Some(Action::Newest)
        );
        assert_eq!(m.action(&ch('g')), Some(Action::Oldest));
        assert_eq!(
            m.action(&press(KeyCode::Char('?'), shift)),
            Some(Action::Help)
        );
        assert_eq!(
            m.action(&press(KeyCode::BackTab, KeyModifiers::NONE)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            m.action(&press(KeyCode::Tab, shift)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            m.action(&press(KeyCode::Char('C'), KeyModifiers::CONTROL | shift)),
            Some(Action::Quit)
        );
        // Other modifiers are part of the key: Alt-q is not q.
        assert_eq!(
            m.action(&press(KeyCode::Char('q'), KeyModifiers::ALT)),
            None
        );
    }

    #[test]
    fn only_presses_count() {
        let m = KeyMap::defaults();
        for kind in [KeyEventKind::Release, KeyEventKind::Repeat] {
            let ev = KeyEvent::new_with_kind_and_state(
                KeyCode::Char('q'),
                KeyModifiers::NONE,
                kind,
                KeyEventState::NONE,
            );
            assert_eq!(m.action(&ev), None, "{kind:?}");
        }
    }

    fn over(pairs: &[(Action, &[&str])]) -> KeysConfig {
        pairs
            .iter()
            .map(|(a, ks)| (*a, ks.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn an_override_replaces_that_actions_defaults() {
        let m = KeyMap::from_config(&over(&[
            (Action::Search, &["ctrl-s", "F3"]),
            (Action::Quit, &["Q"]),
        ]))
        .unwrap();
        assert_eq!(m.action(&ch('/')), None);
        assert_eq!(
            m.action(&press(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Some(Action::Search)
        );
        assert_eq!(
            m.action(&press(KeyCode::F(3), KeyModifiers::NONE)),
            Some(Action::Search)
        );
        assert_eq!(m.keys_for(Action::Search), ["Ctrl-s", "F3"]);
        // q is free now; Ctrl-c still quits, and help says so.
        assert_eq!(m.action(&ch('q')), None);
        assert_eq!(m.action(&ch('Q')), Some(Action::Quit));
        assert_eq!(m.keys_for(Action::Quit), ["Q", "Ctrl-c"]);
        assert_eq!(
            m.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        // Untouched actions keep their defaults.
        assert_eq!(m.action(&ch('n')), Some(Action::SearchNext));
        // An empty list unbinds.
        let m = KeyMap::from_config(&over(&[(Action::Help, &[])])).unwrap();
        assert_eq!(m.action(&ch('?')), None);
        assert!(
            m.help_rows()
                .iter()
                .any(|r| r.action == Action::Help && r.keys == "(none)")
        );
    }

    #[test]
    fn key_names_parse_as_written() {
        for (text, shown) in [
            ("ctrl-c", "Ctrl-c"),
            ("Ctrl-C", "Ctrl-c"),
            ("G", "G"),
            ("shift-g", "G"),
            ("end", "End"),
            ("END", "End"),
            ("shift-tab", "Shift-Tab"),
            ("backtab", "Shift-Tab"),
            ("|", "|"),
            ("-", "-"),
            ("ctrl--", "Ctrl--"),
            ("space", "Space"),
            (" ", "Space"),
            ("enter", "Enter"),
            ("esc", "Esc"),
            ("f1", "F1"),
            ("alt-x", "Alt-x"),
            ("shift-up", "Shift-Up"),
            ("pgdn", "PageDown"),
            ("é", "é"),
        ] {
            assert_eq!(
                Key::parse(text).map(|k| k.display()),
                Some(shown.into()),
                "{text:?}"
            );
        }
        for bad in [
            "", "ctrl-", "shift-", "enterr", "f0", "f25", "ctrl-xy", "\u{1b}",
        ] {
            assert_eq!(Key::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bad_overrides_are_one_clear_sentence() {
        let e = KeyMap::from_config(&over(&[(Action::Filter, &["ctrl-shft-f"])])).unwrap_err();
        assert_eq!(e.action(), Action::Filter);
        let text = e.to_string();
        assert!(
            text.starts_with("\"ctrl-shft-f\" (for filter) is not a key: write"),
            "{text}"
        );
        assert!(!text.contains('\n'));

        let e = KeyMap::from_config(&over(&[(Action::Filter, &["n"])])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key n is bound to both search_next and filter; give one of them other keys"
        );
        let e = KeyMap::from_config(&over(&[(Action::Help, &["ctrl-c"])])).unwrap_err();
        assert_eq!(
            e,
            KeyMapError::CtrlC {
                action: Action::Help
            }
        );
        assert_eq!(
            e.to_string(),
            "Ctrl-c always quits, so it cannot be bound to help"
        );
        // Control characters in a bad name are shown escaped.
        let e = KeyMap::from_config(&over(&[(Action::Help, &["\u{1b}[31m"])])).unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }

    #[test]
    fn actions_read_from_config_by_name_with_a_suggestion_when_misspelt() {
        let m: KeysConfig = toml::from_str("search = [\"ctrl-s\"]\nnext_pane = [\"]\"]\n").unwrap();
        assert_eq!(m[&Action::Search], ["ctrl-s"]);
        let e = toml::from_str::<KeysConfig>("serch = [\"x\"]\n").unwrap_err();
        assert!(
            e.message()
                .contains("unknown action \"serch\" in [ui.keys]; did you mean search?"),
            "{e}"
        );
        let e = toml::from_str::<KeysConfig>("launch_rockets = [\"x\"]\n").unwrap_err();
        assert!(e.message().contains("such as quit"), "{e}");
        for &a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            let text = toml::to_string(&KeysConfig::from([(a, vec!["q".to_owned()])])).unwrap();
            assert_eq!(toml::from_str::<KeysConfig>(&text).unwrap()[&a], ["q"]);
        }
    }

    #[test]
    fn help_lists_every_action_with_a_key_in_order() {
        let rows = KeyMap::defaults().help_rows();
        assert_eq!(rows.len(), Action::ALL.len());
        for (row, &a) in rows.iter().zip(Action::ALL) {
            assert_eq!(row.action, a);
            assert!(!row.keys.is_empty() && row.keys != "(none)", "{a:?}");
            assert!(!row.text.is_empty());
            assert_eq!(row.group, a.group());
        }
        // Each group is listed in one run, so the overlay can head it once.
        let mut seen: Vec<&str> = Vec::new();
        for r in &rows {
            if seen.last() != Some(&r.group) {
                assert!(!seen.contains(&r.group), "{} split", r.group);
                seen.push(r.group);
            }
        }
    }

    #[test]
    fn the_markdown_table_escapes_pipes() {
        let t = KeyMap::defaults().markdown_table();
        assert!(
            t.contains("| `\\|` | Split the pane side by side | `split_right` |"),
            "{t}"
        );
        assert_eq!(t.lines().count(), Action::ALL.len() + 2);
        assert_eq!(md_code("`"), "`` ` ``");
    }

    #[test]
    fn suggestions_stay_near() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("qit", ["quit", "help"].into_iter()), Some("quit"));
        assert_eq!(closest("zzzzzz", ["quit"].into_iter()), None);
    }
}
