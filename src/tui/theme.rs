//! Themes: named sets of styles read from TOML (the builtins in `themes/`, the user's from
//! `$XDG_CONFIG_HOME/logtui/themes/`), the one `t` cycles through, `NO_COLOR`, and live reload.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The themes shipped inside the binary, in the order `t` visits them.
const BUILTIN: &[(&str, &str)] = &[
    (
        "default-dark",
        include_str!("../../themes/default-dark.toml"),
    ),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    (
        "gruvbox-dark",
        include_str!("../../themes/gruvbox-dark.toml"),
    ),
    (
        "solarized-dark",
        include_str!("../../themes/solarized-dark.toml"),
    ),
];

/// The theme a user file builds on when it names no `base`, and the fallback selection.
pub const DEFAULT_THEME: &str = "default-dark";

/// Largest theme file read: a full theme is about 2 KB, so this is room for any comments while
/// keeping a stray big file in the directory from costing anything.
pub const MAX_THEME_BYTES: u64 = 64 * 1024;

/// Most user theme files read from the directory; more are reported and left out.
pub const MAX_USER_THEMES: usize = 100;

/// Declares every style once: the `Theme` field, its name in a theme file, and its doc.
macro_rules! styles {
    ($( $field:ident => $doc:literal, )*) => {
        /// A named set of styles: what each part of the screen looks like.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Theme {
            /// The file stem (`gruvbox-dark`), what the config's `ui.theme` names.
            pub name: String,
            pub description: String,
            /// Where it came from: `None` for a builtin, else the user's file.
            pub path: Option<PathBuf>,
            $( #[doc = $doc] pub $field: Style, )*
        }

        /// The style names a theme file's `[styles]` table takes, in the order of the fields.
        pub const STYLE_NAMES: &[&str] = &[$(stringify!($field)),*];

        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct StylesFile {
            $( #[serde(default)] $field: Option<StyleSpec>, )*
        }

        impl StylesFile {
            /// Writes each style the file gives over `t`'s; returns the names it left out.
            fn apply(self, t: &mut Theme) -> Vec<&'static str> {
                let mut missing = Vec::new();
                $( match self.$field {
                    Some(s) => t.$field = s.style(),
                    None => missing.push(stringify!($field)),
                } )*
                missing
            }
        }

        impl Theme {
            /// A theme with every style empty (the terminal's own colours).
            pub fn plain(name: &str) -> Theme {
                Theme {
                    name: name.to_owned(),
                    description: String::new(),
                    path: None,
                    $( $field: Style::new(), )*
                }
            }

            /// Every style with its name, in [`STYLE_NAMES`] order.
            pub fn styles(&self) -> Vec<(&'static str, Style)> {
                vec![$( (stringify!($field), self.$field), )*]
            }

            fn map_styles(&self, f: impl Fn(&'static str, Style) -> Style) -> Theme {
                Theme {
                    name: self.name.clone(),
                    description: self.description.clone(),
                    path: self.path.clone(),
                    $( $field: f(stringify!($field), self.$field), )*
                }
            }
        }
    };
}

styles! {
    normal => "The whole screen's base: what is not styled otherwise.",
    debug => "The level column of DEBUG (and lower) records.",
    info => "The level column of INFO records.",
    warning => "The level column of WARNING records.",
    error => "The level column of ERROR records.",
    critical => "The level column of CRITICAL records.",
    time => "The time column.",
    origin => "The origin column (peer, process).",
    logger => "The logger column.",
    message => "The message column.",
    fold_marker => "The marker that stands for the folded lines of a multi-line message.",
    selected => "The selected row, patched over the row's own styles.",
    marked => "A marked row (or its mark).",
    search_match => "Text matching the search.",
    border => "The border of a pane that does not have the focus.",
    border_focused => "The border of the focused pane.",
    title => "A pane's title.",
    title_paused => "A pane's title while it is paused (not following the tail).",
    status => "The status bar.",
    status_warning => "The status bar's warnings: drops, rejections, a lagging store.",
    status_error => "The status bar's errors: a source down, a store that cannot be written.",
    histogram_debug => "Histogram bars of DEBUG records.",
    histogram_info => "Histogram bars of INFO records.",
    histogram_warning => "Histogram bars of WARNING records.",
    histogram_error => "Histogram bars of ERROR records.",
    histogram_critical => "Histogram bars of CRITICAL records.",
    help_group => "Group headings in the help overlay.",
    help_key => "Keys in the help overlay.",
    help_text => "What a key does, in the help overlay.",
    picker_match => "The letters the channel picker's fuzzy query matched.",
    prompt => "The search and filter prompt.",
}

impl Theme {
    /// The level column's style for a Python level number (CRITICAL at 50 and up, ERROR at 40,
    /// WARNING at 30, INFO at 20, DEBUG below).
    pub fn level(&self, level: i32) -> Style {
        match level {
            l if l >= 50 => self.critical,
            l if l >= 40 => self.error,
            l if l >= 30 => self.warning,
            l if l >= 20 => self.info,
            _ => self.debug,
        }
    }

    /// The histogram bar style for a level number, with the same bands as [`Theme::level`].
    pub fn histogram(&self, level: i32) -> Style {
        match level {
            l if l >= 50 => self.histogram_critical,
            l if l >= 40 => self.histogram_error,
            l if l >= 30 => self.histogram_warning,
            l if l >= 20 => self.histogram_info,
            _ => self.histogram_debug,
        }
    }
}

/// The theme as it must look under `NO_COLOR`: no foreground, background or underline colour
/// anywhere, the theme's own emphasis kept, and the parts that were told apart by colour alone
/// told apart by bold, reverse, underline or dim instead.
pub fn without_colour(t: &Theme) -> Theme {
    t.map_styles(|name, s| {
        let mut plain = Style::new();
        plain.add_modifier = s.add_modifier;
        plain.sub_modifier = s.sub_modifier;
        let b = Modifier::BOLD;
        let r = Modifier::REVERSED;
        let u = Modifier::UNDERLINED;
        let emphasis = match name {
            "debug" | "histogram_debug" | "time" | "fold_marker" => Modifier::DIM,
            "warning" | "error" | "histogram_error" | "histogram_critical" => b,
            "critical" | "title_paused" | "status_warning" => b | r,
            "selected" | "status" => r,
            "status_error" => b | r | u,
            "marked" => u,
            "search_match" | "picker_match" | "help_group" => b | u,
            "border_focused" | "title" | "help_key" | "prompt" => b,
            _ => Modifier::empty(),
        };
        plain.add_modifier(emphasis)
    })
}

/// Why a theme could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("cannot read theme file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("theme file {} is over {MAX_THEME_BYTES} bytes, far more than a theme needs", path.display())]
    TooBig { path: PathBuf },
    #[error("theme file {}, line {line}: {why}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("theme file {}: its name must be UTF-8 without control characters", path.display())]
    BadName { path: PathBuf },
    #[error("{} holds more than {MAX_USER_THEMES} theme files; the rest were not read", dir.display())]
    TooMany { dir: PathBuf },
    #[error("no theme is named {name:?}; the themes are {available}")]
    Unknown { name: String, available: String },
    #[error("cannot watch {} for theme changes: {source}", dir.display())]
    Watch { dir: PathBuf, source: notify::Error },
}

/// A style as a theme file writes it: `{ fg = "red", bg = "#282828", bold = true }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<Colour>,
    bg: Option<Colour>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reverse: bool,
    #[serde(default)]
    dim: bool,
}

impl StyleSpec {
    fn style(&self) -> Style {
        let mut s = Style::new();
        if let Some(Colour(c)) = self.fg {
            s = s.fg(c);
        }
        if let Some(Colour(c)) = self.bg {
            s = s.bg(c);
        }
        for (on, m) in [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reverse, Modifier::REVERSED),
            (self.dim, Modifier::DIM),
        ] {
            if on {
                s = s.add_modifier(m);
            }
        }
        s
    }
}

/// A colour: a name (`red`, `light-blue`, `dark-gray`, `reset`), `#rrggbb`, or an index 0–255.
struct Colour(Color);

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Colour, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Colour;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a colour name, \"#rrggbb\" or an index 0-255")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Colour, E> {
                s.parse::<Color>().map(Colour).map_err(|_| {
                    E::custom(format!(
                        "{:?} is not a colour: use a name (red, light-blue, dark-gray, reset …), \
                         \"#rrggbb\" or an index 0-255",
                        crate::term::escape_controls(s)
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Colour, E> {
                u8::try_from(n)
                    .map(|i| Colour(Color::Indexed(i)))
                    .map_err(|_| E::custom(format!("colour index {n} is not between 0 and 255")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A theme file: a description, for user files the builtin it builds on, and its styles.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    description: String,
    /// A builtin whose styles fill in what this file leaves out (user files only).
    base: Option<String>,
    #[serde(default)]
    styles: StylesFile,
}

/// Reads a theme file's text. Builtins must name every style and no base; a user file starts
/// from its base (default-dark when it names none), so it need only give what it changes.
/// Returns the theme and the style names the file left out.
fn parse(
    name: &str,
    text: &str,
    path: &Path,
    builtins: &[Theme],
) -> Result<(Theme, Vec<&'static str>), ThemeError> {
    let at = |e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        let why = e.message().lines().next().unwrap_or("").trim().to_owned();
        ThemeError::Parse {
            path: path.to_path_buf(),
            line,
            why: crate::term::escape_controls(&why).into_owned(),
        }
    };
    let file: ThemeFile = toml::from_str(text).map_err(at)?;
    let mut theme = match &file.base {
        None => builtins
            .iter()
            .find(|t| t.name == DEFAULT_THEME)
            .cloned()
            .unwrap_or_else(|| Theme::plain(name)),
        Some(base) => match builtins.iter().find(|t| &t.name == base) {
            Some(t) => t.clone(),
            None => {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("base"))
                    .map_or(1, |i| i + 1);
                return Err(ThemeError::Parse {
                    path: path.to_path_buf(),
                    line,
                    why: format!(
                        "base {:?} is not a builtin theme; the builtins are {}",
                        crate::term::escape_controls(base),
                        builtin_names().join(", ")
                    ),
                });
            }
        },
    };
    theme.name = name.to_owned();
    theme.description = crate::term::escape_controls(&file.description).into_owned();
    let missing = file.styles.apply(&mut theme);
    Ok((theme, missing))
}

fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

fn load_builtins() -> (Vec<Theme>, Vec<ThemeError>) {
    let mut themes = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in BUILTIN {
        let path = PathBuf::from(format!("themes/{name}.toml"));
        // A builtin has no base and names every style (a test checks); parsing it against
        // no builtins makes sure a missing style shows up as plain rather than as another's.
        match parse(name, text, &path, &[]) {
            Ok((t, _)) => themes.push(t),
            Err(e) => errors.push(e),
        }
    }
    (themes, errors)
}

/// Reads one user theme file, at most [`MAX_THEME_BYTES`] of it.
fn read_user_file(path: &Path) -> Result<String, ThemeError> {
    use std::io::Read;
    let read = |source| ThemeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read)?
        .take(MAX_THEME_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_THEME_BYTES {
        return Err(ThemeError::TooBig {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// The `*.toml` files of `dir` by name, at most [`MAX_USER_THEMES`] of them. A missing
/// directory is no error: most users have no themes of their own.
fn user_files(dir: &Path, errors: &mut Vec<ThemeError>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(source) => {
            errors.push(ThemeError::Read {
                path: dir.to_path_buf(),
                source,
            });
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            if files.len() == MAX_USER_THEMES {
                errors.push(ThemeError::TooMany {
                    dir: dir.to_path_buf(),
                });
                break;
            }
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The builtins and the user's themes, with the one in use.
#[derive(Clone, Debug)]
pub struct Themes {
    /// Builtins first (a user file of the same name in a builtin's place), then the user's own
    /// by name. Never empty.
    list: Vec<Theme>,
    current: usize,
    user_dir: Option<PathBuf>,
    no_color: bool,
}

impl Themes {
    /// Loads the builtins and the `*.toml` files of `user_dir`; a user file named like a builtin
    /// replaces it. A bad user file is reported and left out; the rest still load. With
    /// `no_color` (pass `!term::use_colour(true)`), every theme goes through [`without_colour`].
    pub fn load(user_dir: Option<&Path>, no_color: bool) -> (Themes, Vec<ThemeError>) {
        let mut themes = Themes {
            list: Vec::new(),
            current: 0,
            user_dir: user_dir.map(Path::to_path_buf),
            no_color,
        };
        let errors = themes.read();
        (themes, errors)
    }

    /// Fills `list` afresh from the builtins and the user dir.
    fn read(&mut self) -> Vec<ThemeError> {
        let (builtins, mut errors) = load_builtins();
        let mut list = builtins.clone();
        if let Some(dir) = &self.user_dir {
            let mut own = Vec::new();
            for path in user_files(dir, &mut errors) {
                let Some(name) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
                else {
                    errors.push(ThemeError::BadName { path });
                    continue;
                };
                let theme = read_user_file(&path)
                    .and_then(|text| parse(name, &text, &path, &builtins))
                    .map(|(mut t, _)| {
                        t.path = Some(path.clone());
                        t
                    });
                match theme {
                    Ok(t) => match list.iter().position(|b| b.name == t.name) {
                        Some(i) => list[i] = t,
                        None => own.push(t),
                    },
                    Err(e) => errors.push(e),
                }
            }
            list.extend(own);
        }
        if list.is_empty() {
            list.push(Theme::plain(DEFAULT_THEME));
        }
        if self.no_color {
            list = list.iter().map(without_colour).collect();
        }
        self.list = list;
        self.current = 0;
        errors
    }

    /// Makes `name` the theme in use.
    pub fn select(&mut self, name: &str) -> Result<(), ThemeError> {
        match self.list.iter().position(|t| t.name == name) {
            Some(i) => {
                self.current = i;
                Ok(())
            }
            None => Err(ThemeError::Unknown {
                name: crate::term::escape_controls(name).into_owned(),
                available: self.names().join(", "),
            }),
        }
    }

    /// The next theme, after the last the first again (`t`).
    pub fn next(&mut self) {
        self.current = (self.current + 1) % self.list.len();
    }

    pub fn current(&self) -> &Theme {
        // `list` is never empty and `current` always within it; the fallback is for safety.
        &self.list[self.current.min(self.list.len() - 1)]
    }

    /// Every theme's name, in the order `t` visits them.
    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|t| t.name.as_str()).collect()
    }

    /// Reads the user's files again (after the watcher saw a change), keeping the theme in use
    /// by name; if it is gone, falls back to default-dark.
    pub fn reload(&mut self) -> Vec<ThemeError> {
        let keep = self.current().name.clone();
        let errors = self.read();
        if self.select(&keep).is_err() {
            let _ = self.select(DEFAULT_THEME);
        }
        errors
    }
}

/// `$XDG_CONFIG_HOME/logtui/themes`, where the user's theme files live.
pub fn user_theme_dir() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("logtui").join("themes"))
}

/// Checks that `name` is a theme logtui can use, as the config is loaded: a builtin (no disk
/// read), or a user file in `user_dir` that reads without error.
pub fn check_name(name: &str, user_dir: Option<&Path>) -> Result<(), ThemeError> {
    if BUILTIN.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    let (mut themes, errors) = Themes::load(user_dir, false);
    match themes.select(name) {
        Ok(()) => Ok(()),
        Err(unknown) => {
            // The file is there but broken: say what is wrong with it, not that it is missing.
            let own = |p: &Path| p.file_stem().is_some_and(|s| s == name);
            Err(errors
                .into_iter()
                .find(|e| match e {
                    ThemeError::Read { path, .. }
                    | ThemeError::TooBig { path }
                    | ThemeError::Parse { path, .. } => own(path),
                    _ => false,
                })
                .unwrap_or(unknown))
        }
    }
}

/// Tells the UI when a user theme file changed, so it can [`Themes::reload`].
pub struct ThemeWatcher {
    _watcher: notify::RecommendedWatcher,
    /// When the latest change was seen, until `changed` reports it.
    last: Arc<Mutex<Option<Instant>>>,
}

impl ThemeWatcher {
    /// How long the directory must be quiet before a change is reported: an editor's save is
    /// several events (write a temp file, rename, chmod), and one reload should follow them all.
    pub const SETTLE: Duration = Duration::from_millis(150);

    /// Watches `dir` for changes to `*.toml` files; `Ok(None)` when the directory does not
    /// exist (there is nothing to reload then).
    pub fn new(dir: &Path) -> Result<Option<ThemeWatcher>, ThemeError> {
        use notify::Watcher;
        if !dir.is_dir() {
            return Ok(None);
        }
        let last = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&last);
        let fail = |source| ThemeError::Watch {
            dir: dir.to_path_buf(),
            source,
        };
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let Ok(ev) = ev else { return };
            if matches!(ev.kind, notify::EventKind::Access(_)) {
                return;
            }
            let toml = ev.paths.is_empty()
                || ev
                    .paths
                    .iter()
                    .any(|p| p.extension().is_some_and(|e| e == "toml"));
            if toml {
                *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            }
        })
        .map_err(fail)?;
        watcher
            .watch(dir, notify::RecursiveMode::NonRecursive)
            .map_err(fail)?;
        Ok(Some(ThemeWatcher {
            _watcher: watcher,
            last,
        }))
    }

    /// Whether a theme file changed since the last `true`, once the burst of events is over.
    /// Never blocks.
    pub fn changed(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if t.elapsed() >= Self::SETTLE => {
                *last = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_names_every_style_and_no_base() {
        assert_eq!(
            builtin_names(),
            [
                "default-dark",
                "light",
                "high-contrast",
                "gruvbox-dark",
                "solarized-dark"
            ]
        );
        for (name, text) in BUILTIN {
            let file: ThemeFile = toml::from_str(text).unwrap();
            assert!(file.base.is_none(), "{name} has a base");
            let (t, missing) = parse(name, text, Path::new(name), &[]).unwrap();
            assert!(missing.is_empty(), "{name} leaves out {missing:?}");
            assert!(!t.description.is_empty(), "{name}");
            // Level styles differ from one another, so levels are told apart.
            let levels = [t.debug, t.info, t.warning, t.error, t.critical];
            for (i, a) in levels.iter().enumerate() {
                for b in &levels[i + 1..] {
                    assert_ne!(a, b, "{name}: two levels look alike");
                }
            }
            assert_ne!(t.border, t.border_focused, "{name}");
            assert_ne!(t.title, t.title_paused, "{name}");
        }
        let (themes, errors) = Themes::load(None, false);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(themes.names(), builtin_names());
        assert_eq!(themes.current().name, DEFAULT_THEME);
    }

    #[test]
    fn levels_map_to_their_bands() {
        let (themes, _) = Themes::load(None, false);
        let t = themes.current();
        assert_eq!(t.level(50), t.critical);
        assert_eq!(t.level(45), t.error);
        assert_eq!(t.level(30), t.warning);
        assert_eq!(t.level(20), t.info);
        assert_eq!(t.level(5), t.debug);
        assert_eq!(t.level(-1), t.debug);
        assert_eq!(t.histogram(40), t.histogram_error);
        assert_eq!(t.histogram(10), t.histogram_debug);
    }

    #[test]
    fn colours_are_read_in_every_form() {
        let text = r##"
            description = "x"
            [styles]
            error = { fg = "light-red", bg = "#102030", bold = true, underline = true }
            info = { fg = 208 }
            debug = { fg = "Dark Gray", dim = true }
            message = { fg = "reset", italic = true, reverse = true }
        "##;
        let (t, _) = parse("x", text, Path::new("x.toml"), &[]).unwrap();
        assert_eq!(
            t.error,
            Style::new()
                .fg(Color::LightRed)
                .bg(Color::Rgb(0x10, 0x20, 0x30))
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        );
        assert_eq!(t.info, Style::new().fg(Color::Indexed(208)));
        assert_eq!(
            t.debug,
            Style::new().fg(Color::DarkGray).add_modifier(Modifier::DIM)
        );
        assert_eq!(
            t.message,
            Style::new()
                .fg(Color::Reset)
                .add_modifier(Modifier::ITALIC | Modifier::REVERSED)
        );
    }

    #[test]
    fn a_bad_file_is_one_sentence_with_its_line() {
        let path = Path::new("/t/mine.toml");
        for (text, line, want) in [
            (
                "[styles]\ninfo = { fg = \"blurple\" }\n",
                2,
                "\"blurple\" is not a colour",
            ),
            ("[styles]\n\ninfo = { fg = 300 }\n", 3, "colour index 300"),
            (
                "[styles]\nboder = { fg = \"red\" }\n",
                2,
                "unknown field `boder`",
            ),
            (
                "[styles]\ninfo = { fg = \"red\", blink = true }\n",
                2,
                "unknown field `blink`",
            ),
            (
                "base = \"nord\"\n",
                1,
                "base \"nord\" is not a builtin theme; the builtins are default-dark, light",
            ),
            ("[styles\n", 1, ""),
        ] {
            let e = parse("mine", text, path, &[]).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("theme file /t/mine.toml, line {line}: ")),
                "{msg}"
            );
            assert!(msg.contains(want), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn without_colour_removes_every_colour_and_keeps_things_apart() {
        let (themes, _) = Themes::load(None, false);
        for t in &themes.list {
            let n = without_colour(t);
            assert_eq!(n.name, t.name);
            for (name, s) in n.styles() {
                assert_eq!(
                    (s.fg, s.bg, s.underline_color),
                    (None, None, None),
                    "{}: {name}",
                    t.name
                );
            }
            assert!(n.selected.add_modifier.contains(Modifier::REVERSED));
            assert!(n.error.add_modifier.contains(Modifier::BOLD));
            assert!(n.critical.add_modifier.contains(Modifier::BOLD));
            assert!(n.search_match.add_modifier.contains(Modifier::UNDERLINED));
            assert!(n.status.add_modifier.contains(Modifier::REVERSED));
            assert_ne!(n.info, n.error);
            assert_ne!(n.debug, n.info);
            assert_ne!(n.border, n.border_focused);
            assert_ne!(n.title, n.title_paused);
        }
        let (themes, _) = Themes::load(None, true);
        for t in &themes.list {
            assert!(
                t.styles()
                    .iter()
                    .all(|(_, s)| s.fg.is_none() && s.bg.is_none())
            );
        }
    }

    #[test]
    fn select_next_and_unknown_names() {
        let (mut themes, _) = Themes::load(None, false);
        themes.select("light").unwrap();
        assert_eq!(themes.current().name, "light");
        themes.next();
        assert_eq!(themes.current().name, "high-contrast");
        for _ in 0..themes.names().len() {
            themes.next();
        }
        assert_eq!(themes.current().name, "high-contrast");
        let e = themes.select("nord").unwrap_err().to_string();
        assert_eq!(
            e,
            "no theme is named \"nord\"; the themes are default-dark, light, high-contrast, \
             gruvbox-dark, solarized-dark"
        );
        assert!(check_name("gruvbox-dark", None).is_ok());
        assert!(
            check_name("nord", None)
                .unwrap_err()
                .to_string()
                .contains("themes are")
        );
    }
}
