//! Hostile log text through `tui::text`: every escape family is shown escaped or turned into a
//! style, and what ratatui and crossterm then write to a terminal carries nothing the text supplied.

use std::cell::RefCell;
use std::io::Write;
use std::ops::Range;
use std::rc::Rc;

use logtui::term;
use logtui::tui::text::{
    CUT_MARKER, TextStyle, block_lines, field_spans, row_line, row_line_highlighted,
};
use ratatui::Terminal;
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::{TerminalOptions, Viewport};

const MARK: Style = Style::new().fg(Color::DarkGray);

fn colour() -> TextStyle {
    TextStyle {
        base: Style::new(),
        marker: MARK,
        colour: true,
    }
}

fn no_colour() -> TextStyle {
    TextStyle {
        colour: false,
        ..colour()
    }
}

fn shown(text: &str, width: usize) -> String {
    row_line(text, width, &colour()).to_string()
}

/// The spans of a line as (text, style) pairs, for asserting styles.
fn parts(line: &Line<'_>) -> Vec<(String, Style)> {
    line.spans
        .iter()
        .map(|s| (s.content.to_string(), s.style))
        .collect()
}

/// The part of `line` drawn in exactly `style`.
fn in_style(line: &Line<'_>, style: Style) -> String {
    line.spans
        .iter()
        .filter(|s| s.style == style)
        .map(|s| s.content.as_ref())
        .collect()
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c,
        '\u{61c}' | '\u{ad}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// No control, bidi or invisible character in any span, and the line fits its width.
fn assert_safe(spans: &[Span<'_>], width: usize, what: &str) {
    for s in spans {
        for c in s.content.chars() {
            assert!(
                !c.is_control() && !is_bidi_or_invisible(c),
                "{what}: {c:?} in {:?}",
                s.content
            );
        }
    }
    let w: usize = spans.iter().map(|s| term::width(&s.content)).sum();
    assert!(w <= width, "{what}: {w} cells > {width}: {spans:?}");
}

#[test]
fn csi_sequences_other_than_sgr_are_shown_escaped_as_one_unit() {
    for (raw, seen) in [
        ("\x1b[2J", "\\u{1b}[2J"),
        ("\x1b[H", "\\u{1b}[H"),
        ("\x1b[10;20H", "\\u{1b}[10;20H"),
        ("\x1b[?1049h", "\\u{1b}[?1049h"),
        ("\x1b[?25l", "\\u{1b}[?25l"),
        ("\x1b[K", "\\u{1b}[K"),
        ("\x1b[3A", "\\u{1b}[3A"),
        ("\x1b[6n", "\\u{1b}[6n"),
        ("\x1b[>4;2m", "\\u{1b}[>4;2m"),
    ] {
        let line = row_line(&format!("a{raw}b"), 80, &colour());
        assert_eq!(line.to_string(), format!("a{seen}b"));
        assert_eq!(in_style(&line, MARK), seen, "{raw:?}");
    }
}

#[test]
fn osc_strings_are_shown_escaped() {
    for (raw, seen) in [
        ("\x1b]0;pwned\x07", "\\u{1b}]0;pwned\\u{7}"),
        ("\x1b]2;title\x1b\\", "\\u{1b}]2;title\\u{1b}\\"),
        (
            "\x1b]52;c;ZWNobyBoaQ==\x07",
            "\\u{1b}]52;c;ZWNobyBoaQ==\\u{7}",
        ),
        (
            "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
            "\\u{1b}]8;;https://evil.example\\u{1b}\\click\\u{1b}]8;;\\u{1b}\\",
        ),
        ("\x1b]0;t\u{9c}", "\\u{1b}]0;t\\u{9c}"),
    ] {
        let line = row_line(raw, 200, &colour());
        assert_eq!(line.to_string(), seen, "{raw:?}");
    }
    // A terminated OSC is styled as one unit; the hyperlink's text between two OSCs is not.
    let line = row_line("\x1b]0;pwned\x07after", 80, &colour());
    assert_eq!(in_style(&line, MARK), "\\u{1b}]0;pwned\\u{7}");
}

#[test]
fn dcs_apc_pm_and_sos_are_shown_escaped() {
    for (raw, seen) in [
        ("\x1bP+q544e\x1b\\", "\\u{1b}P+q544e\\u{1b}\\"),
        ("\x1b_Gf=100;AAAA\x1b\\", "\\u{1b}_Gf=100;AAAA\\u{1b}\\"),
        ("\x1b^privacy\x1b\\", "\\u{1b}^privacy\\u{1b}\\"),
        ("\x1bXstring\x1b\\", "\\u{1b}Xstring\\u{1b}\\"),
    ] {
        let line = row_line(raw, 80, &colour());
        assert_eq!(line.to_string(), seen);
        assert_eq!(in_style(&line, MARK), seen);
    }
}

#[test]
fn c1_controls_as_characters_are_escaped() {
    assert_eq!(shown("\u{9b}2J\u{9b}31mred", 80), "\\u{9b}2J\\u{9b}31mred");
    assert_eq!(shown("\u{9d}0;title\u{9c}", 80), "\\u{9d}0;title\\u{9c}");
    assert_eq!(
        shown("\u{90}q\u{9c}\u{85}\u{80}\u{9f}", 80),
        "\\u{90}q\\u{9c}\\u{85}\\u{80}\\u{9f}"
    );
}

#[test]
fn lone_and_two_byte_escapes_are_shown() {
    assert_eq!(shown("reset\x1bc!", 80), "reset\\u{1b}c!");
    assert_eq!(shown("\x1b7save\x1b8", 80), "\\u{1b}7save\\u{1b}8");
    assert_eq!(shown("\x1b(0lqk\x1b(B", 80), "\\u{1b}(0lqk\\u{1b}(B");
    assert_eq!(shown("end\x1b", 80), "end\\u{1b}");
    assert_eq!(shown("\x1b\x1b[2J", 80), "\\u{1b}\\u{1b}[2J");
    let line = row_line("a\x1bcb", 80, &colour());
    assert_eq!(in_style(&line, MARK), "\\u{1b}c");
}

#[test]
fn other_c0_controls_and_del_are_escaped() {
    assert_eq!(
        shown("a\x07b\x08c\rd\x0be\x0cf\0g\x7fh", 80),
        "a\\u{7}b\\u{8}c\\u{d}d\\u{b}e\\u{c}f\\u{0}g\\u{7f}h"
    );
    // CR before LF is part of the line break, not a carriage return.
    assert_eq!(shown("line\r\nnext", 80), "line ⏎ +1");
}

#[test]
fn bidi_and_invisible_characters_are_escaped() {
    // Trojan Source: "access level" reversed on screen by RLO … PDF.
    assert_eq!(
        shown("if admin \u{202e} }\u{2066}begin\u{2069}", 80),
        "if admin \\u{202e} }\\u{2066}begin\\u{2069}"
    );
    for c in [
        '\u{202a}',
        '\u{202b}',
        '\u{202c}',
        '\u{202d}',
        '\u{2067}',
        '\u{2068}',
        '\u{200e}',
        '\u{200f}',
        '\u{61c}',
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{feff}',
        '\u{2028}',
        '\u{2029}',
        '\u{2060}',
        '\u{e0041}',
    ] {
        let line = row_line(&format!("a{c}b"), 80, &colour());
        assert_eq!(line.to_string(), format!("a\\u{{{:x}}}b", c as u32));
        assert_safe(&line.spans, 80, "invisible");
    }
}

#[test]
fn tabs_expand_to_stops_of_eight_cells() {
    assert_eq!(shown("a\tb", 80), "a       b");
    assert_eq!(shown("\tb", 80), "        b");
    assert_eq!(shown("12345678\tb", 80), "12345678        b");
    // After a wide character: 日 takes two cells, so six spaces reach the stop.
    assert_eq!(shown("日\tx", 80), "日      x");
    assert_eq!(shown("日本語\tx", 80), "日本語  x");
    // After an escape, which takes its shown width (`\u{1b}[2J` is nine cells).
    assert_eq!(shown("\x1b[2J\tx", 80), "\\u{1b}[2J       x");
    // SGR takes no cells.
    assert_eq!(shown("\x1b[31mab\x1b[0m\tc", 80), "ab      c");
    // A tab that runs past the width is cut like text.
    assert_eq!(shown("abc\tdef", 6), "abc  …");
    // Per line in a block.
    let lines = block_lines("a\tb\nxy\tz", 80, 10, &colour());
    let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert_eq!(lines, ["a       b", "xy      z"]);
}

#[test]
fn a_100_kb_line_is_cut_to_its_width() {
    let long = "word ".repeat(20_000);
    let line = row_line(&long, 80, &colour());
    assert_eq!(line.width(), 80);
    assert!(line.to_string().ends_with(CUT_MARKER));
    assert_eq!(in_style(&line, MARK), CUT_MARKER);
    let blocks = block_lines(&format!("{long}\n{long}"), 120, 10, &colour());
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|l| l.width() == 120));
    // Wide characters are not split across the cut.
    let wide = "日".repeat(50_000);
    assert_eq!(shown(&wide, 7), "日日日…");
    assert_eq!(shown(&wide, 8), "日日日…");
    assert_eq!(shown("日日日日", 8), "日日日日");
}

#[test]
fn replacement_characters_stay_visible_in_the_marker_style() {
    let line = row_line("bad \u{fffd}\u{fffd} bytes", 80, &colour());
    assert_eq!(line.to_string(), "bad \u{fffd}\u{fffd} bytes");
    assert_eq!(in_style(&line, MARK), "\u{fffd}\u{fffd}");
}

#[test]
fn sgr_colours_become_styles_on_the_base() {
    let st = TextStyle {
        base: Style::new().fg(Color::Blue),
        ..colour()
    };
    let line = row_line(
        "\x1b[31mred\x1b[0m plain \x1b[1;38;5;208mbold\x1b[22;39m \x1b[48;2;1;2;3;4mrgb\x1b[m.",
        80,
        &st,
    );
    assert_eq!(line.to_string(), "red plain bold rgb.");
    let blue = Style::new().fg(Color::Blue);
    assert_eq!(
        parts(&line),
        [
            ("red".into(), Style::new().fg(Color::Red)),
            (" plain ".into(), blue),
            ("bold".into(), blue.fg(Color::Indexed(208)).bold()),
            (" ".into(), blue),
            ("rgb".into(), blue.bg(Color::Rgb(1, 2, 3)).underlined()),
            (".".into(), blue),
        ]
    );
    let line = row_line("\x1b[2;3;7mx\x1b[23;27my\x1b[92;104mz", 80, &colour());
    assert_eq!(
        parts(&line),
        [
            ("x".into(), Style::new().dim().italic().reversed()),
            ("y".into(), Style::new().dim()),
            (
                "z".into(),
                Style::new()
                    .dim()
                    .fg(Color::LightGreen)
                    .bg(Color::LightBlue)
            ),
        ]
    );
}

#[test]
fn sgr_is_stripped_without_colour() {
    let line = row_line(
        "\x1b[1;31mERROR\x1b[0m \x1b[38;2;9;9;9mdone\x1b[m",
        80,
        &no_colour(),
    );
    assert_eq!(parts(&line), [("ERROR done".into(), Style::new())]);
    // Only SGR is stripped: everything else is still shown escaped.
    assert_eq!(
        row_line("\x1b[31m\x1b[2Jx", 80, &no_colour()).to_string(),
        "\\u{1b}[2Jx"
    );
}

#[test]
fn unterminated_sequences_escape_the_esc_and_carry_on() {
    let osc = format!("\x1b]52;c;{}", "A".repeat(100_000));
    let line = row_line(&osc, 20, &colour());
    assert_eq!(line.to_string(), "\\u{1b}]52;c;AAAAAAA…");
    // Unterminated, so only the ESC is an escape; the rest is plain text.
    assert_eq!(in_style(&line, MARK), "\\u{1b}…");
    assert_eq!(shown("\x1b[31", 80), "\\u{1b}[31");
    assert_eq!(shown("\x1b]0;title", 80), "\\u{1b}]0;title");
    assert_eq!(shown("\x1bPdcs", 80), "\\u{1b}Pdcs");
    // An OSC longer than the cap is not one unit, and a later one still is.
    let long = format!("\x1b]0;{}\x07|\x1b]0;t\x07", "x".repeat(300));
    let line = row_line(&long, 400, &colour());
    assert_eq!(in_style(&line, MARK), "\\u{1b}\\u{7}\\u{1b}]0;t\\u{7}");
    // A CSI past its cap of parameter bytes.
    let csi = format!("\x1b[{}m", "1;".repeat(100));
    assert!(shown(&csi, 400).starts_with("\\u{1b}[1;1;"));
}

#[test]
fn esc_c_cannot_reset_the_terminal() {
    let line = row_line("\x1bc\x1b[!p\x1b[3J", 80, &colour());
    assert_eq!(line.to_string(), "\\u{1b}c\\u{1b}[!p\\u{1b}[3J");
    assert_safe(&line.spans, 80, "ESC c");
}

#[test]
fn multi_line_text_folds_to_its_first_line() {
    let tb = "Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: x\n";
    let line = row_line(tb, 80, &colour());
    assert_eq!(line.to_string(), "Traceback (most recent call last): ⏎ +2");
    assert_eq!(in_style(&line, MARK), " ⏎ +2");
    // The marker keeps its cells when the first line is cut.
    let line = row_line(tb, 20, &colour());
    assert_eq!(line.to_string(), "Traceback (mos… ⏎ +2");
    assert_eq!(line.width(), 20);
    // Too narrow for the marker: the cut marker alone says more follows.
    assert_eq!(shown("ab\ncd", 5), "ab…");
    assert_eq!(shown("ab\ncd", 6), "… ⏎ +1");
    assert_eq!(shown("ab\ncd", 7), "ab ⏎ +1");
    assert_eq!(shown("only\n", 80), "only");
    assert_eq!(shown("\n\n\n", 80), " ⏎ +2");
}

#[test]
fn block_lines_show_every_line_up_to_the_limit() {
    let text = "one\n\x1b[31mtwo\nthree\x1b[0m\nfour\r\nfive";
    let lines = block_lines(text, 80, 10, &colour());
    let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["one", "two", "three", "four", "five"]);
    // Colour lasts across lines until it is reset, as on a terminal.
    assert_eq!(lines[2].spans[0].style, Style::new().fg(Color::Red));
    assert_eq!(lines[3].spans[0].style, Style::new());
    let cut = block_lines(text, 80, 3, &colour());
    let cut: Vec<String> = cut.iter().map(ToString::to_string).collect();
    assert_eq!(cut, ["one", "two", "⏎ +3 more lines"]);
    assert_eq!(block_lines(text, 80, 5, &colour()).len(), 5);
    assert!(block_lines(text, 80, 0, &colour()).is_empty());
    assert!(block_lines("", 80, 5, &colour()).is_empty());
    let lines = block_lines("a\x1b]0;x\x07\nb\u{202e}", 80, 5, &colour());
    for l in &lines {
        assert_safe(&l.spans, 80, "block");
    }
}

#[test]
fn fields_are_one_line_with_newlines_and_tabs_escaped() {
    let style = Style::new().fg(Color::Cyan);
    let spans = field_spans("app\n\tdb\x1b[31m.pool\x1b]0;x\x07", 80, style);
    let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
    assert_eq!(text, "app\\n\\tdb.pool\\u{1b}]0;x\\u{7}");
    assert_safe(&spans, 80, "field");
    let dim = style.add_modifier(Modifier::DIM);
    assert_eq!(spans[1], Span::styled("\\n\\t", dim));
    let spans = field_spans("app.database.connection.pool", 10, style);
    let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
    assert_eq!(text, "app.datab…");
    assert!(field_spans("x", 0, style).is_empty());
}

#[test]
fn highlights_follow_the_original_bytes() {
    let hl = Style::new().bg(Color::Yellow);
    let mark_hl = MARK.patch(hl);
    let text = "a\x1b[2J\tfoo \x1b[31mbar\x1b[0m";
    let at = |needle: &str| -> Range<usize> {
        let s = text.find(needle).unwrap();
        s..s + needle.len()
    };
    let line = row_line_highlighted(text, 80, &colour(), &[at("foo"), at("\x1b[2J")], hl);
    assert_eq!(line.to_string(), "a\\u{1b}[2J      foo bar");
    assert_eq!(in_style(&line, hl), "foo");
    assert_eq!(in_style(&line, mark_hl), "\\u{1b}[2J");
    // A match covering the tab highlights its spaces; one over SGR text keeps the colour.
    let line = row_line_highlighted(text, 80, &colour(), &[at("\tfoo"), at("bar")], hl);
    assert_eq!(in_style(&line, hl), "      foo");
    assert_eq!(
        in_style(&line, Style::new().fg(Color::Red).patch(hl)),
        "bar"
    );
    // Unsorted and overlapping ranges.
    let line = row_line_highlighted("abcdefgh", 80, &colour(), &[5..7, 0..2, 1..3], hl);
    assert_eq!(in_style(&line, hl), "abcfg");
    // Matches past the cut or in folded lines mark the marker.
    let text = "aaaa needle\nmore\nneedle";
    let line = row_line_highlighted(text, 12, &colour(), std::slice::from_ref(&(5..11)), hl);
    assert_eq!(line.to_string(), "aaaa n… ⏎ +2");
    assert_eq!(in_style(&line, mark_hl), "…");
    let line = row_line_highlighted(text, 80, &colour(), std::slice::from_ref(&(17..23)), hl);
    assert_eq!(in_style(&line, mark_hl), " ⏎ +2");
    assert_eq!(in_style(&line, hl), "");
    // Ranges outside the text are harmless.
    let line = row_line_highlighted(
        "ab",
        80,
        &colour(),
        &[
            1..100,
            Range {
                start: 500,
                end: 400,
            },
        ],
        hl,
    );
    assert_eq!(in_style(&line, hl), "b");
}

/// Lines that try every trick, for the end-to-end tests.
fn hostile() -> Vec<&'static str> {
    vec![
        "\x1b[2J\x1b[H\x1b[?1049h cleared?",
        "\x1b]0;owned title\x07\x1b]52;c;ZWNobyBoaQ==\x07",
        "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
        "\x1bP+q544e\x1b\\\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\",
        "\u{9b}2J\u{9d}0;c1\u{9c}\u{90}dcs\u{9c}\u{85}",
        "\x1bc\x1b7\x1b8\x1b(0\x1b",
        "bell\x07bs\x08cr\rvt\x0bff\x0cnul\0del\x7f",
        "\u{202e}evil\u{202c}\u{2066}iso\u{2069}\u{200e}\u{200f}\u{61c}\u{200b}\u{feff}\u{2028}",
        "\x1b[31mred\x1b[0m\tand\ttabs\t日本\tx",
        "unterminated \x1b]0;no end",
        "bad \u{fffd} bytes",
        "multi\nline\ntraceback",
    ]
}

/// Every ESC in `out` starts one of the sequences crossterm writes for ratatui (cursor
/// position, SGR, cursor show/hide, clear) and nothing else supplied a control.
fn assert_clean_terminal_bytes(out: &[u8]) {
    let s = std::str::from_utf8(out).expect("crossterm writes UTF-8");
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0x1b => {
                assert_eq!(
                    b.get(i + 1),
                    Some(&b'['),
                    "non-CSI ESC at {i}: {:?}",
                    &s[i..]
                );
                let mut j = i + 2;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';' || b[j] == b'?') {
                    j += 1;
                }
                let params = &s[i + 2..j];
                match b.get(j) {
                    Some(b'H' | b'm' | b'J' | b'K') if !params.starts_with('?') => {}
                    Some(b'h' | b'l') if params == "?25" => {}
                    other => panic!("unexpected sequence {:?} ({other:?})", &s[i..=j]),
                }
                i = j + 1;
            }
            c => {
                assert!(c >= 0x20 && c != 0x7f, "control byte {c:#x} at {i}");
                i += 1;
            }
        }
    }
    for c in s.chars() {
        assert!(!('\u{80}'..='\u{9f}').contains(&c), "C1 {c:?}");
        assert!(!is_bidi_or_invisible(c), "bidi/invisible {c:?}");
    }
}

/// A writer whose bytes the test keeps a handle on (ratatui's `writer()` accessor is unstable).
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `s` without its CSI sequences (which [`assert_clean_terminal_bytes`] has vetted).
fn without_csi(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(tail.len(), |e| e + 1);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn draw_to_bytes(lines: Vec<Line<'static>>, w: u16, h: u16) -> Vec<u8> {
    let out = Shared::default();
    let backend = CrosstermBackend::new(out.clone());
    let viewport = Viewport::Fixed(Rect::new(0, 0, w, h));
    let mut terminal = Terminal::with_options(backend, TerminalOptions { viewport }).unwrap();
    terminal
        .draw(|f| f.render_widget(Paragraph::new(lines), f.area()))
        .unwrap();
    drop(terminal);
    out.0.take()
}

fn assert_clean_cells(lines: Vec<Line<'static>>, w: u16, h: u16) {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| f.render_widget(Paragraph::new(lines), f.area()))
        .unwrap();
    for cell in terminal.backend().buffer().content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || is_bidi_or_invisible(c)),
            "cell {:?}",
            cell.symbol()
        );
    }
}

fn rendered_hostile(width: usize, st: &TextStyle) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = hostile().iter().map(|t| row_line(t, width, st)).collect();
    for t in hostile() {
        lines.extend(block_lines(t, width, 4, st));
        lines.push(Line::from(field_spans(t, width, st.base)));
    }
    lines
}

#[test]
fn nothing_from_the_text_reaches_the_terminal() {
    for st in [colour(), no_colour()] {
        let lines = rendered_hostile(100, &st);
        let h = u16::try_from(lines.len()).unwrap();
        let out = draw_to_bytes(lines.clone(), 100, h);
        assert_clean_terminal_bytes(&out);
        // What was there is visible instead (read between crossterm's own sequences).
        let text = without_csi(&String::from_utf8_lossy(&out));
        for seen in [
            "\\u{1b}[2J",
            "\\u{1b}]0;owned title\\u{7}",
            "\\u{9b}2J",
            "\\u{202e}evil",
        ] {
            assert!(text.contains(seen), "{seen} not drawn");
        }
        assert_clean_cells(lines, 100, h);
    }
    // Narrow, so cuts fall inside escapes and wide characters.
    for w in [1u16, 2, 5, 9, 13] {
        let lines = rendered_hostile(usize::from(w), &colour());
        let h = u16::try_from(lines.len()).unwrap();
        assert_clean_terminal_bytes(&draw_to_bytes(lines.clone(), w, h));
        assert_clean_cells(lines, w, h);
    }
}

/// xorshift64: a fixed, dependency-free stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random text weighted towards the pieces of escape sequences, with raw random bytes too.
fn random_text(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "\x1b",
        "[",
        "]",
        "P",
        "_",
        "^",
        "X",
        "m",
        ";",
        "38",
        "48",
        "5",
        "2",
        "1",
        "0",
        "?",
        "h",
        "\x07",
        "\\",
        "\u{9b}",
        "\u{9c}",
        "\u{9d}",
        "\u{85}",
        "\u{202e}",
        "\u{2066}",
        "\u{200b}",
        "\u{200d}",
        "\u{feff}",
        "\u{e0041}",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "日",
        "é",
        "\u{301}",
        "\u{fe0f}",
        "\u{2764}",
        "\u{fffd}",
        "a",
        " ",
        "\0",
        "\x7f",
        "\x08",
        "\u{ff9e}",
        "c",
    ];
    let len = rng.below(60);
    let mut bytes = Vec::new();
    for _ in 0..len {
        if rng.below(8) == 0 {
            bytes.push(rng.next() as u8);
        } else {
            bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn random_text_never_yields_an_unsafe_span() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let hl = Style::new().bg(Color::Yellow);
    for round in 0..4_000 {
        let text = random_text(&mut rng);
        let width = rng.below(40);
        let st = if rng.below(2) == 0 {
            colour()
        } else {
            no_colour()
        };
        let a = rng.below(text.len() + 1);
        let matches = [a..a + rng.below(10), rng.below(80)..rng.below(80)];
        let what = format!("round {round}: {text:?} at {width}");
        assert_safe(&row_line(&text, width, &st).spans, width, &what);
        assert_safe(
            &row_line_highlighted(&text, width, &st, &matches, hl).spans,
            width,
            &what,
        );
        assert_safe(&field_spans(&text, width, st.base), width, &what);
        let block = block_lines(&text, width, 1 + rng.below(5), &st);
        for line in &block {
            assert_safe(&line.spans, width, &what);
        }
        if round % 100 == 0 && width > 0 {
            let mut lines = block;
            lines.push(row_line(&text, width, &st));
            let (w, h) = (
                u16::try_from(width).unwrap(),
                u16::try_from(lines.len()).unwrap(),
            );
            assert_clean_terminal_bytes(&draw_to_bytes(lines.clone(), w, h));
            assert_clean_cells(lines, w, h);
        }
    }
}

#[test]
fn the_byte_check_catches_what_raw_text_would_write() {
    // The checks above are only worth something if they fail on unsafe output.
    for raw in [
        &b"\x1b]0;x\x07"[..],
        b"\x1bc",
        b"a\x07",
        "\u{9b}2J".as_bytes(),
    ] {
        let caught = std::panic::catch_unwind(|| assert_clean_terminal_bytes(raw));
        assert!(caught.is_err(), "{raw:?} passed");
    }
    // ratatui drops control characters (keeping the rest of a sequence: `[2J`) and some
    // format characters, but draws tag characters, joiners and line separators as they come.
    let raw = vec![Line::from("\x1b[2J a\u{e0041}b\u{200d}c\u{2028}d")];
    let caught =
        std::panic::catch_unwind(|| assert_clean_terminal_bytes(&draw_to_bytes(raw, 20, 1)));
    assert!(caught.is_err());
}
