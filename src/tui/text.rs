//! Log text from strangers turned into ratatui spans that are safe to draw: SGR colours become
//! styles (or vanish under `NO_COLOR`), every other control or escape is shown escaped, tabs
//! expand, and lines are cut to their cells, with work bounded by the cells produced.
//!
//! Only SGR needs parsing to be safe. Every other family (CSI, OSC, DCS, APC, two-byte ESC,
//! C1) is made harmless by escaping its introducer and terminator, after which the terminal is
//! never in a sequence and the rest is plain printable text; [`super::sgr`] finds where such a
//! sequence ends only so it can be styled as one escaped unit. Escapes use the notation of
//! [`crate::term::escape_controls`]: `\u{1b}`, `\u{9b}`, `\u{d}`, and `\n`/`\t` where those
//! are not line breaks or tab stops.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::sgr::{self, Seq, Sgr};
use crate::term;

/// How a caller wants text drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// The style of the text itself; SGR codes in the text layer on it and reset back to it.
    pub base: Style,
    /// Patched onto `base` for what logtui adds: escapes, the cut marker `…`, the fold marker,
    /// U+FFFD. Distinct, so that a reader can tell `\u{1b}` shown for an ESC from the same six
    /// characters typed in a message.
    pub marker: Style,
    /// Whether SGR colour codes in the text become styles; when false (`NO_COLOR`) they are
    /// dropped and only their text remains.
    pub colour: bool,
}

/// Tab stops every 8 cells, as terminals and Python's `str.expandtabs` place them.
pub const TAB_STOP: usize = 8;

/// What ends a line that was cut.
pub const CUT_MARKER: &str = "…";

/// How many bytes one output line may read per cell it has, plus [`READ_SLACK`]. Text costs at
/// most 4 bytes a cell; the budget is for what costs bytes and no cells: SGR codes (lolcat-style
/// text spends ~19 bytes on each coloured character) and combining marks. Past the budget the
/// line is cut, so neither a megabyte of `ESC[m` nor of U+0301 is read to the end.
pub const READ_BYTES_PER_CELL: usize = 32;

/// See [`READ_BYTES_PER_CELL`]: room for a few long SGR codes on even a narrow line.
pub const READ_SLACK: usize = 256;

/// The first line of `text`, safe and cut to `width` cells, with a fold marker (` ⏎ +12`)
/// when more lines follow.
pub fn row_line(text: &str, width: usize, st: &TextStyle) -> Line<'static> {
    row_line_highlighted(text, width, st, &[], Style::new())
}

/// [`row_line`] with byte ranges of `text` (search matches) getting `hl` patched onto their
/// style, through escapes and tab expansion. A match in what is not shown (past the cut, or in
/// a folded line) puts `hl` on the cut or fold marker, so the row still says it matched.
pub fn row_line_highlighted(
    text: &str,
    width: usize,
    st: &TextStyle,
    matches: &[Range<usize>],
    hl: Style,
) -> Line<'static> {
    let matches = sorted(matches);
    let (first, rest) = split_line(text);
    let rest_at = text.len() - rest.map_or(0, str::len);
    let more = rest.map_or(0, count_lines);
    let fold = (more > 0).then(|| format!(" ⏎ +{more}"));
    let fold_w = fold.as_deref().map_or(0, term::width);
    // When the fold marker cannot fit beside at least one cell of text, the cut marker alone
    // says that something follows.
    let (room, fold) = if fold.is_some() && width <= fold_w {
        (width, None)
    } else {
        (width - fold_w, fold)
    };
    let mut look = Look::rows(st, &matches, hl);
    let mut out = Out::new(room);
    let stop = look.read(first, 0, &mut out);
    if more > 0 && fold.is_none() {
        out.cut();
    }
    let marker = st.base.patch(st.marker);
    let hidden_here = matches
        .iter()
        .any(|m| m.start < m.end && m.end > stop && m.start < first.len());
    let hidden_below = matches.iter().any(|m| m.start < m.end && m.end > rest_at);
    let cut_style = if hidden_here || (hidden_below && fold.is_none()) {
        marker.patch(hl)
    } else {
        marker
    };
    let mut spans = out.finish(cut_style);
    if let Some(fold) = fold {
        spans.push(Span::styled(
            fold,
            if hidden_below {
                marker.patch(hl)
            } else {
                marker
            },
        ));
    }
    Line::from(spans)
}

/// Every line of `text`, each safe and cut to `width` cells, for the detail view, with tabs
/// expanded per line and SGR state carried from line to line as a terminal carries it (codes
/// past a line's cut are not read, to keep the work bounded). At most `max_lines` lines: when
/// more remain, the last of them says how many (`⏎ +N more lines`).
pub fn block_lines(
    text: &str,
    width: usize,
    max_lines: usize,
    st: &TextStyle,
) -> Vec<Line<'static>> {
    let marker = st.base.patch(st.marker);
    let mut look = Look::rows(st, &[], Style::new());
    let mut lines = Vec::new();
    let mut rest = (!text.is_empty()).then_some(text);
    while let Some(s) = rest {
        if lines.len() + 1 >= max_lines {
            let left = count_lines(s);
            if left > 1 || max_lines == 0 {
                if max_lines > 0 {
                    let note = format!("⏎ +{left} more lines");
                    lines.push(Line::from(Span::styled(
                        term::truncate(&note, width).into_owned(),
                        marker,
                    )));
                }
                break;
            }
        }
        let (line, next) = split_line(s);
        let mut out = Out::new(width);
        look.read(line, text.len() - s.len(), &mut out);
        lines.push(Line::from(out.finish(marker)));
        rest = next;
    }
    lines
}

/// A column cell: [`field_spans`] cut to `width`, then spaces in `gap` up to `width` and one
/// more to part it from the next column, so columns line up whatever the text.
pub fn field_cell(text: &str, width: usize, style: Style, gap: Style) -> Vec<Span<'static>> {
    let mut spans = field_spans(text, width, style);
    let shown: usize = spans.iter().map(|s| s.width()).sum();
    spans.push(Span::styled(
        " ".repeat(width.saturating_sub(shown) + 1),
        gap,
    ));
    spans
}

/// Spans for a short field (logger, origin): the same rules on one line, with newlines and tabs
/// shown as `\n` and `\t` (as [`crate::term::escape_controls`] shows them in `logtui query`),
/// SGR codes dropped, escapes dimmed, cut to `width` cells.
pub fn field_spans(text: &str, width: usize, style: Style) -> Vec<Span<'static>> {
    let mut look = Look {
        base: style,
        escape: style.add_modifier(Modifier::DIM),
        colour: false,
        field: true,
        sgr: Sgr::default(),
        matches: &[],
        hl: Style::new(),
        next_match: 0,
        scratch: String::new(),
    };
    let mut out = Out::new(width);
    look.read(text, 0, &mut out);
    out.finish(style)
}

/// How many lines `s` has, as [`str::lines`] counts them (a final newline ends the last line
/// rather than starting an empty one), found with a vectorised byte count and no decoding.
pub fn count_lines(s: &str) -> usize {
    if s.is_empty() {
        return 0;
    }
    let newlines = s.as_bytes().iter().filter(|&&b| b == b'\n').count();
    newlines + usize::from(!s.ends_with('\n'))
}

/// The first line of `s` (without its `\n` or `\r\n`) and what follows it, if anything does.
/// `str::find` on a char is a `memchr`, so a 100 KB line costs one fast scan here.
fn split_line(s: &str) -> (&str, Option<&str>) {
    match s.find('\n') {
        Some(at) => {
            let line = &s[..at];
            let line = line.strip_suffix('\r').unwrap_or(line);
            let rest = &s[at + 1..];
            (line, (!rest.is_empty()).then_some(rest))
        }
        None => (s, None),
    }
}

/// `matches` ordered by start, borrowed when they already are (search results usually are).
fn sorted(matches: &[Range<usize>]) -> Cow<'_, [Range<usize>]> {
    if matches.is_sorted_by_key(|m| m.start) {
        Cow::Borrowed(matches)
    } else {
        let mut v = matches.to_vec();
        v.sort_by_key(|m| m.start);
        Cow::Owned(v)
    }
}

/// Characters escaped besides [`term::is_control`]'s: invisible format characters that can hide
/// or smuggle text (zero-width space and joiners, word joiner, BOM, the Unicode line and
/// paragraph separators, interlinear annotation, Unicode tag characters, soft hyphen).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200d}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206a}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

fn shown_escaped(c: char) -> bool {
    term::is_control(c) || is_invisible(c)
}

/// The cells `c` takes after `prev`, as ratatui will place it. Per character, as
/// `unicode-width` measures it, except that a variation selector is measured with the
/// character it modifies (`❤` + U+FE0F is two cells, not one) and the halfwidth sound marks
/// U+FF9E/U+FF9F take a cell each, as ratatui counts them.
fn cells(prev: Option<char>, c: char) -> usize {
    if c.is_ascii() {
        return 1;
    }
    if matches!(c, '\u{ff9e}' | '\u{ff9f}') {
        return 1;
    }
    let mut buf = [0u8; 8];
    let n = match prev {
        Some(p) if matches!(c, '\u{fe00}'..='\u{fe0f}') => p.encode_utf8(&mut buf).len(),
        _ => 0,
    };
    let m = c.encode_utf8(&mut buf[n..]).len();
    match (
        std::str::from_utf8(&buf[..n]),
        std::str::from_utf8(&buf[..n + m]),
    ) {
        (Ok(alone), Ok(both)) => term::width(both).saturating_sub(term::width(alone)),
        _ => 0,
    }
}

/// One output line being built: committed spans, and what sits in the last cell until it is
/// known whether the line ends there or must give that cell to the cut marker.
struct Out {
    room: usize,
    used: usize,
    spans: Vec<Span<'static>>,
    run: String,
    run_style: Style,
    /// The last cell's character and the zero-width ones after it.
    pending: Vec<(char, Style)>,
    pending_cells: usize,
    /// Something did not fit: the line ends in [`CUT_MARKER`].
    cut: bool,
}

impl Out {
    fn new(room: usize) -> Self {
        Self {
            room,
            used: 0,
            spans: Vec::new(),
            run: String::new(),
            run_style: Style::new(),
            pending: Vec::new(),
            pending_cells: 0,
            cut: false,
        }
    }

    /// The cell the next character starts in, for tab stops.
    fn column(&self) -> usize {
        self.used + self.pending_cells
    }

    /// Adds `c`, `w` cells wide; false once the line is full and reading should stop.
    fn put(&mut self, c: char, w: usize, style: Style) -> bool {
        if self.cut {
            return false;
        }
        if self.pending.is_empty() {
            if self.used + w < self.room {
                self.commit(c, style);
                self.used += w;
                return true;
            }
            if self.used + w <= self.room {
                self.pending.push((c, style));
                self.pending_cells = w;
                return true;
            }
        } else if w == 0 {
            self.pending.push((c, style));
            return true;
        }
        self.cut();
        false
    }

    /// Each character of `s` (ASCII: an escape or tab spaces) as one cell.
    fn put_ascii(&mut self, s: &str, style: Style) -> bool {
        s.chars().all(|c| self.put(c, 1, style))
    }

    fn cut(&mut self) {
        self.cut = true;
        self.pending.clear();
        self.pending_cells = 0;
    }

    fn commit(&mut self, c: char, style: Style) {
        if style != self.run_style && !self.run.is_empty() {
            self.flush();
        }
        self.run_style = style;
        self.run.push(c);
    }

    fn flush(&mut self) {
        if !self.run.is_empty() {
            let run = std::mem::take(&mut self.run);
            self.spans.push(Span::styled(run, self.run_style));
        }
    }

    fn finish(mut self, cut_style: Style) -> Vec<Span<'static>> {
        if self.room == 0 {
            return Vec::new();
        }
        if self.cut {
            self.flush();
            self.spans
                .push(Span::styled(CUT_MARKER.to_owned(), cut_style));
        } else {
            for (c, style) in std::mem::take(&mut self.pending) {
                self.commit(c, style);
            }
            self.flush();
        }
        self.spans
    }
}

/// How text is read: the styles, the mode, the SGR state (which lasts across the lines of one
/// block) and where in the sorted matches reading has got to.
struct Look<'m> {
    base: Style,
    escape: Style,
    colour: bool,
    /// A field: one line, with `\n` and `\t` escaped rather than ending lines or expanding.
    field: bool,
    sgr: Sgr,
    matches: &'m [Range<usize>],
    hl: Style,
    next_match: usize,
    scratch: String,
}

impl<'m> Look<'m> {
    fn rows(st: &TextStyle, matches: &'m [Range<usize>], hl: Style) -> Self {
        Self {
            base: st.base,
            escape: st.base.patch(st.marker),
            colour: st.colour,
            field: false,
            sgr: Sgr::default(),
            matches,
            hl,
            next_match: 0,
            scratch: String::new(),
        }
    }

    /// `style`, highlighted when byte `at` of the text is in a match. Offsets only grow while
    /// a line is read, so the search through the matches only moves forward.
    fn at(&mut self, style: Style, at: usize) -> Style {
        while self
            .matches
            .get(self.next_match)
            .is_some_and(|m| m.end <= at)
        {
            self.next_match += 1;
        }
        match self.matches.get(self.next_match) {
            Some(m) if m.start <= at => style.patch(self.hl),
            _ => style,
        }
    }

    /// Reads `line`, which starts at byte `offset` of the text, into `out` until the line ends,
    /// `out` is full, or the read budget is spent. Returns the byte of `line` reading stopped at.
    fn read(&mut self, line: &str, offset: usize, out: &mut Out) -> usize {
        let bytes = line.as_bytes();
        let budget = READ_SLACK + READ_BYTES_PER_CELL * out.room;
        // Bytes before this belong to an escape sequence being shown escaped, as one unit.
        let mut seq_end = 0;
        let mut prev = None;
        let mut i = 0;
        while i < bytes.len() {
            if i >= budget {
                out.cut();
                break;
            }
            if bytes[i] == 0x1b {
                match sgr::classify(&bytes[i..]) {
                    Seq::Sgr { len } if i >= seq_end => {
                        if self.colour {
                            self.sgr.apply(&bytes[i + 2..i + len - 1]);
                        }
                        i += len;
                        continue;
                    }
                    Seq::Sgr { len } | Seq::Other { len } => seq_end = seq_end.max(i + len),
                    Seq::Lone => {}
                }
                let style = self.at(self.escape, offset + i);
                if !out.put_ascii("\\u{1b}", style) {
                    break;
                }
                prev = None;
                i += 1;
                continue;
            }
            let Some(c) = line.get(i..).and_then(|s| s.chars().next()) else {
                break;
            };
            let text = if i < seq_end {
                self.escape
            } else if self.colour {
                self.sgr.style(self.base)
            } else {
                self.base
            };
            let ok = match c {
                '\t' if !self.field => {
                    let style = self.at(text, offset + i);
                    let n = TAB_STOP - out.column() % TAB_STOP;
                    (0..n).all(|_| out.put(' ', 1, style))
                }
                '\t' | '\n' => {
                    let style = self.at(self.escape, offset + i);
                    out.put_ascii(if c == '\t' { "\\t" } else { "\\n" }, style)
                }
                c if shown_escaped(c) => {
                    let style = self.at(self.escape, offset + i);
                    self.scratch.clear();
                    let _ = write!(self.scratch, "\\u{{{:x}}}", c as u32);
                    out.put_ascii(&self.scratch, style)
                }
                '\u{fffd}' => {
                    let style = self.at(self.escape, offset + i);
                    out.put(c, 1, style)
                }
                c => {
                    let style = self.at(text, offset + i);
                    out.put(c, cells(prev, c), style)
                }
            };
            if !ok {
                break;
            }
            prev = (!shown_escaped(c) && c != '\t').then_some(c);
            i += c.len_utf8();
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> TextStyle {
        TextStyle::default()
    }

    /// How far [`Look::read`] gets through `line` into `width` cells.
    fn stop(line: &str, width: usize) -> usize {
        let mut look = Look::rows(&plain(), &[], Style::new());
        look.read(line, 0, &mut Out::new(width))
    }

    #[test]
    fn reading_stops_after_the_cells() {
        let long = "x".repeat(100_000);
        assert_eq!(stop(&long, 80), 80);
        assert_eq!(stop(&"日".repeat(50_000), 80), 80 / 2 * 3);
        // A megabyte of cell-less codes or combining marks stops at the read budget.
        let codes = "\u{1b}[31m".repeat(200_000);
        assert!(stop(&codes, 80) <= READ_SLACK + READ_BYTES_PER_CELL * 80 + 8);
        let zalgo = format!("a{}", "\u{301}".repeat(500_000));
        assert!(stop(&zalgo, 80) <= READ_SLACK + READ_BYTES_PER_CELL * 80 + 8);
        let line = row_line(&zalgo, 80, &plain());
        assert!(line.to_string().ends_with(CUT_MARKER));
        assert!(line.to_string().len() < 8_000);
    }

    #[test]
    fn out_keeps_the_last_cell_for_the_marker() {
        let cut = |s: &str, w: usize| row_line(s, w, &plain()).to_string();
        assert_eq!(cut("abcd", 4), "abcd");
        assert_eq!(cut("abcde", 4), "abc…");
        assert_eq!(cut("ab日", 4), "ab日");
        assert_eq!(cut("ab日x", 4), "ab…");
        assert_eq!(cut("abc日", 4), "abc…");
        assert_eq!(cut("e\u{301}", 1), "e\u{301}");
        assert_eq!(cut("ab", 1), "…");
        assert_eq!(cut("ab", 0), "");
        assert_eq!(cut("", 5), "");
    }

    #[test]
    fn widths_follow_ratatui() {
        assert_eq!(cells(None, 'a'), 1);
        assert_eq!(cells(None, '日'), 2);
        assert_eq!(cells(Some('e'), '\u{301}'), 0);
        assert_eq!(cells(Some('\u{2764}'), '\u{fe0f}'), 1);
        assert_eq!(cells(None, '\u{ff9e}'), 1);
    }

    #[test]
    fn lines_are_counted_like_str_lines() {
        for s in ["", "a", "a\n", "a\nb", "a\n\nb\n", "\n", "\n\n"] {
            assert_eq!(count_lines(s), s.lines().count(), "{s:?}");
        }
        assert_eq!(split_line("a\r\nb"), ("a", Some("b")));
        assert_eq!(split_line("a\n"), ("a", None));
    }
}
