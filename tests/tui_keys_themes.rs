//! The key map and themes as a user meets them: the README's keys table, theme files in a
//! config directory (overriding, broken, changed while the UI runs) and the shipped themes.

use logtui::tui::keymap::KeyMap;
use logtui::tui::theme::{STYLE_NAMES, ThemeError, ThemeWatcher, Themes, without_colour};
use ratatui::style::{Color, Modifier};
use std::path::Path;
use std::time::{Duration, Instant};

fn manifest(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_readme_keys_table_is_the_key_map() {
    let readme = std::fs::read_to_string(manifest("README.md")).unwrap();
    let table = readme
        .split("<!-- keys -->\n")
        .nth(1)
        .and_then(|t| t.split("<!-- /keys -->").next())
        .expect("the README has a keys table between <!-- keys --> and <!-- /keys -->");
    let want = KeyMap::defaults().markdown_table();
    assert!(
        table == want,
        "the README's keys table is stale; replace it with:\n{want}"
    );
}

#[test]
fn themes_readme_lists_every_style_name() {
    let doc = std::fs::read_to_string(manifest("themes/README.md")).unwrap();
    for name in STYLE_NAMES {
        assert!(
            doc.contains(&format!("`{name}`")),
            "themes/README.md lacks {name}"
        );
    }
}

#[test]
fn a_user_theme_overrides_a_builtin_and_adds_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("light.toml"),
        "description = \"mine\"\nbase = \"light\"\n[styles]\nerror = { fg = \"#ff00ff\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mine.toml"),
        "[styles]\ninfo = { fg = 33, underline = true }\n",
    )
    .unwrap();
    // Not a theme: ignored, not reported.
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let (builtin, _) = Themes::load(None, false);
    let (mut themes, errors) = Themes::load(Some(dir.path()), false);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        themes.names(),
        [
            "default-dark",
            "light",
            "high-contrast",
            "gruvbox-dark",
            "solarized-dark",
            "mine"
        ]
    );
    themes.select("light").unwrap();
    let light = themes.current().clone();
    assert_eq!(light.description, "mine");
    assert_eq!(light.error.fg, Some(Color::Rgb(0xff, 0, 0xff)));
    assert_eq!(light.path.as_deref(), Some(&*dir.path().join("light.toml")));
    // What the file leaves out comes from its base, the builtin light.
    let mut b = builtin.clone();
    b.select("light").unwrap();
    assert_eq!(light.warning, b.current().warning);
    // With no base, a user theme builds on default-dark.
    themes.select("mine").unwrap();
    let mine = themes.current();
    assert_eq!(mine.info.fg, Some(Color::Indexed(33)));
    assert!(mine.info.add_modifier.contains(Modifier::UNDERLINED));
    assert_eq!(mine.warning, builtin.current().warning);
}

#[test]
fn a_broken_user_theme_is_reported_and_the_builtins_still_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gruvbox-dark.toml"),
        "[styles]\nerror = { fg = \"red\" }\nwarning = { fg = \"yelow\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("big.toml"), "#".repeat(70_000)).unwrap();
    let (mut themes, errors) = Themes::load(Some(dir.path()), false);
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{texts:?}");
    let broken = dir.path().join("gruvbox-dark.toml");
    assert!(
        texts.contains(&format!(
            "theme file {}, line 3: \"yelow\" is not a colour: use a name (red, light-blue, \
             dark-gray, reset …), \"#rrggbb\" or an index 0-255",
            broken.display()
        )),
        "{texts:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ThemeError::TooBig { .. })),
        "{texts:?}"
    );
    // The builtin gruvbox-dark stands in for the broken file.
    themes.select("gruvbox-dark").unwrap();
    assert_eq!(themes.current().path, None);
    assert_eq!(
        themes.current().error.fg,
        Some(Color::Rgb(0xfb, 0x49, 0x34))
    );
    // The config check says what is wrong with the file, not that the theme is missing.
    std::fs::write(dir.path().join("nord.toml"), "[styles]\nnope = {}\n").unwrap();
    let e = logtui::tui::theme::check_name("nord", Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nord.toml, line 2: unknown field `nope`"), "{e}");
}

#[test]
fn no_color_reduces_user_themes_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("loud.toml"),
        "[styles]\nselected = { fg = \"red\", bg = \"blue\", italic = true }\n",
    )
    .unwrap();
    let (mut themes, errors) = Themes::load(Some(dir.path()), true);
    assert!(errors.is_empty(), "{errors:?}");
    themes.select("loud").unwrap();
    let t = themes.current();
    assert_eq!((t.selected.fg, t.selected.bg), (None, None));
    assert!(
        t.selected
            .add_modifier
            .contains(Modifier::ITALIC | Modifier::REVERSED)
    );
    assert_eq!(&without_colour(t), t, "reducing twice changes nothing");
}

#[test]
fn the_watcher_sees_a_theme_file_change_and_reload_keeps_the_selection() {
    assert!(
        ThemeWatcher::new(Path::new("/nonexistent/logtui/themes"))
            .unwrap()
            .is_none()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "[styles]\nerror = { fg = \"red\" }\n").unwrap();
    let (mut themes, _) = Themes::load(Some(dir.path()), false);
    themes.select("mine").unwrap();
    let watcher = ThemeWatcher::new(dir.path())
        .unwrap()
        .expect("the dir exists");
    assert!(!watcher.changed());

    // A burst of writes, as an editor's save makes.
    for colour in ["blue", "green", "magenta"] {
        std::fs::write(
            &file,
            format!("[styles]\nerror = {{ fg = \"{colour}\" }}\n"),
        )
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watcher.changed() {
        assert!(Instant::now() < deadline, "no change seen within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The burst was one change.
    assert!(!watcher.changed());
    assert!(themes.reload().is_empty());
    assert_eq!(themes.current().name, "mine");
    assert_eq!(themes.current().error.fg, Some(Color::Magenta));

    // The file goes: the selection falls back to default-dark.
    std::fs::remove_file(&file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watcher.changed() {
        assert!(Instant::now() < deadline, "no removal seen within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    themes.reload();
    assert_eq!(themes.current().name, "default-dark");
}
