//! Escape sequences found in log text: which family one belongs to and how far it reaches, and
//! what an SGR colour code does to a style. Recognition only; `text` decides what is shown.

use ratatui::style::{Color, Modifier, Style};

/// The longest `ESC [ … final` run treated as one CSI sequence. The longest SGR a library
/// plausibly writes (`ESC[1;38;2;255;255;255;48;2;255;255;255m`) is 40 bytes; a longer run of
/// parameter bytes is not a sequence anyone's terminal honours, and the cap bounds how far
/// ahead one ESC makes the renderer look.
pub const MAX_CSI_LEN: usize = 64;

/// The longest OSC, DCS, APC, PM or SOS string treated as one sequence (for styling it as one
/// escaped unit). Titles and OSC 8 hyperlinks fit; a longer one (an OSC 52 clipboard payload)
/// has only its ESC escaped and the rest shown as the plain text it is. Either way nothing of
/// it reaches the terminal raw, so the cap costs readability only, never safety.
pub const MAX_STRING_LEN: usize = 256;

/// The longest `ESC intermediate… final` sequence (`ESC ( B` picks a character set).
const MAX_NF_LEN: usize = 8;

/// What starts at an ESC byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seq {
    /// A complete `ESC [ params m` whose parameters are digits, `;` and `:`: a colour/style code.
    /// `len` counts every byte from the ESC to the `m`.
    Sgr { len: usize },
    /// A complete sequence of another family (cursor moves, erase, OSC, DCS, `ESC c`, …)
    /// `len` bytes long: shown escaped as one unit.
    Other { len: usize },
    /// An ESC that starts nothing complete within the caps: only the ESC itself is escaped.
    Lone,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// Classifies the sequence at the start of `bytes`, which must begin with ESC. Looks at most
/// [`MAX_STRING_LEN`] bytes ahead.
pub fn classify(bytes: &[u8]) -> Seq {
    debug_assert_eq!(bytes.first(), Some(&ESC));
    match bytes.get(1) {
        Some(b'[') => csi(bytes),
        Some(b']') => string(bytes, true),
        Some(b'P' | b'_' | b'^' | b'X') => string(bytes, false),
        Some(0x20..=0x2f) => nf(bytes),
        // Two-byte escapes: `ESC c` (full reset), `ESC 7`/`ESC 8`, `ESC =`, `ESC M`, a lone ST …
        Some(0x30..=0x7e) => Seq::Other { len: 2 },
        _ => Seq::Lone,
    }
}

/// `ESC [`, parameter bytes 0x30–0x3F, intermediate bytes 0x20–0x2F, one final byte 0x40–0x7E.
fn csi(bytes: &[u8]) -> Seq {
    let end = bytes.len().min(MAX_CSI_LEN);
    let mut i = 2;
    while i < end && (0x30..=0x3f).contains(&bytes[i]) {
        i += 1;
    }
    let params_end = i;
    while i < end && (0x20..=0x2f).contains(&bytes[i]) {
        i += 1;
    }
    match bytes.get(i) {
        Some(&fin) if i < end && (0x40..=0x7e).contains(&fin) => {
            let params = &bytes[2..params_end];
            let plain = params
                .iter()
                .all(|b| b.is_ascii_digit() || *b == b';' || *b == b':');
            if fin == b'm' && params_end == i && plain {
                Seq::Sgr { len: i + 1 }
            } else {
                Seq::Other { len: i + 1 }
            }
        }
        _ => Seq::Lone,
    }
}

/// OSC (ended by BEL or ST) and DCS/APC/PM/SOS (ended by ST, which is `ESC \` or U+009C). Any
/// other ESC inside aborts the string, as terminals do, so one scan never runs past the next ESC.
fn string(bytes: &[u8], bel_ends: bool) -> Seq {
    let end = bytes.len().min(MAX_STRING_LEN);
    let mut i = 2;
    while i < end {
        match bytes[i] {
            BEL if bel_ends => return Seq::Other { len: i + 1 },
            ESC => {
                return match bytes.get(i + 1) {
                    Some(b'\\') if i + 2 <= MAX_STRING_LEN => Seq::Other { len: i + 2 },
                    _ => Seq::Lone,
                };
            }
            // U+009C STRING TERMINATOR in UTF-8.
            0xc2 if bytes.get(i + 1) == Some(&0x9c) && i + 2 <= MAX_STRING_LEN => {
                return Seq::Other { len: i + 2 };
            }
            _ => i += 1,
        }
    }
    Seq::Lone
}

/// `ESC`, intermediate bytes 0x20–0x2F, one final byte 0x30–0x7E (character-set designations).
fn nf(bytes: &[u8]) -> Seq {
    let end = bytes.len().min(MAX_NF_LEN);
    let mut i = 1;
    while i < end && (0x20..=0x2f).contains(&bytes[i]) {
        i += 1;
    }
    match bytes.get(i) {
        Some(0x30..=0x7e) if i < end => Seq::Other { len: i + 1 },
        _ => Seq::Lone,
    }
}

/// What the SGR codes seen so far have set, kept apart from the caller's base style so that a
/// reset (`0`, `39`, `22` …) returns to the base rather than to the terminal's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sgr {
    fg: Option<Color>,
    bg: Option<Color>,
    add: Modifier,
}

impl Sgr {
    /// `base` with these codes layered on it.
    pub fn style(&self, base: Style) -> Style {
        let mut s = Style::new().add_modifier(self.add);
        if let Some(fg) = self.fg {
            s = s.fg(fg);
        }
        if let Some(bg) = self.bg {
            s = s.bg(bg);
        }
        base.patch(s)
    }

    /// Applies the parameters of one SGR sequence (the bytes between `ESC[` and `m`).
    /// Blink (5, 6) and conceal (8) are ignored on purpose: a stranger's log line may neither
    /// flash nor hide text. Unknown codes are ignored, as terminals ignore them.
    pub fn apply(&mut self, params: &[u8]) {
        let mut groups = params.split(|&b| b == b';');
        while let Some(group) = groups.next() {
            if group.contains(&b':') {
                self.apply_colon(group);
                continue;
            }
            let Some(code) = number(group) else { continue };
            match code {
                0 => *self = Sgr::default(),
                1 => self.add |= Modifier::BOLD,
                2 => self.add |= Modifier::DIM,
                3 => self.add |= Modifier::ITALIC,
                4 => self.add |= Modifier::UNDERLINED,
                7 => self.add |= Modifier::REVERSED,
                9 => self.add |= Modifier::CROSSED_OUT,
                22 => self.add.remove(Modifier::BOLD | Modifier::DIM),
                23 => self.add.remove(Modifier::ITALIC),
                24 => self.add.remove(Modifier::UNDERLINED),
                27 => self.add.remove(Modifier::REVERSED),
                29 => self.add.remove(Modifier::CROSSED_OUT),
                30..=37 => self.fg = Some(named(code - 30)),
                39 => self.fg = None,
                40..=47 => self.bg = Some(named(code - 40)),
                49 => self.bg = None,
                90..=97 => self.fg = Some(named(code - 90 + 8)),
                100..=107 => self.bg = Some(named(code - 100 + 8)),
                // 58 is the underline colour, which ratatui does not carry; its arguments must
                // still be consumed so they are not read as codes.
                38 | 48 | 58 => {
                    let colour = extended(&mut groups);
                    match code {
                        38 => self.fg = colour.or(self.fg),
                        48 => self.bg = colour.or(self.bg),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// The ITU form with colons: `38:5:n`, `38:2:r:g:b` or `38:2:space:r:g:b`, `4:n` (underline
    /// style, 0 = none).
    fn apply_colon(&mut self, group: &[u8]) {
        let mut subs = group.split(|&b| b == b':');
        let Some(code) = subs.next().and_then(number) else {
            return;
        };
        match code {
            38 | 48 => {
                let rest: [Option<u32>; 5] = std::array::from_fn(|_| subs.next().and_then(number));
                let colour = match rest {
                    [Some(5), Some(n), ..] => u8::try_from(n).ok().map(Color::Indexed),
                    // With a colour-space id (often empty, read as 0) before r, g, b.
                    [Some(2), _, Some(r), Some(g), Some(b)] => rgb(r, g, b),
                    [Some(2), Some(r), Some(g), Some(b), None] => rgb(r, g, b),
                    _ => None,
                };
                if code == 38 {
                    self.fg = colour.or(self.fg);
                } else {
                    self.bg = colour.or(self.bg);
                }
            }
            4 => match subs.next().and_then(number) {
                Some(0) => self.add.remove(Modifier::UNDERLINED),
                Some(_) => self.add |= Modifier::UNDERLINED,
                None => {}
            },
            _ => {}
        }
    }
}

/// The colour after `38;` or `48;`: `5;n` (256-colour index) or `2;r;g;b` (true colour).
fn extended<'a>(groups: &mut impl Iterator<Item = &'a [u8]>) -> Option<Color> {
    match number(groups.next()?)? {
        5 => u8::try_from(number(groups.next()?)?)
            .ok()
            .map(Color::Indexed),
        2 => {
            let r = number(groups.next()?)?;
            let g = number(groups.next()?)?;
            let b = number(groups.next()?)?;
            rgb(r, g, b)
        }
        _ => None,
    }
}

fn rgb(r: u32, g: u32, b: u32) -> Option<Color> {
    Some(Color::Rgb(
        u8::try_from(r).ok()?,
        u8::try_from(g).ok()?,
        u8::try_from(b).ok()?,
    ))
}

/// A decimal parameter; empty means 0, as in every terminal. At most [`MAX_CSI_LEN`] digits
/// reach here, so the value saturates rather than overflows.
fn number(digits: &[u8]) -> Option<u32> {
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u32, |n, d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

/// The sixteen ANSI colours by index, in ratatui's names (7 is `Gray`, 8 is `DarkGray`).
fn named(i: u32) -> Color {
    const COLOURS: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    COLOURS.get(i as usize).copied().unwrap_or(Color::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_family() {
        assert_eq!(classify(b"\x1b[31mx"), Seq::Sgr { len: 5 });
        assert_eq!(classify(b"\x1b[m"), Seq::Sgr { len: 3 });
        assert_eq!(classify(b"\x1b[38:5:1m"), Seq::Sgr { len: 9 });
        assert_eq!(classify(b"\x1b[2J"), Seq::Other { len: 4 });
        assert_eq!(classify(b"\x1b[?1049h"), Seq::Other { len: 8 });
        // A private marker makes `m` something else (xterm's key-modifier options).
        assert_eq!(classify(b"\x1b[>4;2m"), Seq::Other { len: 7 });
        assert_eq!(classify(b"\x1b]0;title\x07"), Seq::Other { len: 10 });
        assert_eq!(classify(b"\x1b]8;;u\x1b\\"), Seq::Other { len: 8 });
        assert_eq!(classify("\x1b]0;t\u{9c}".as_bytes()), Seq::Other { len: 7 });
        assert_eq!(classify(b"\x1bPq#0\x1b\\"), Seq::Other { len: 7 });
        assert_eq!(classify(b"\x1b_apc\x1b\\"), Seq::Other { len: 7 });
        // BEL ends an OSC only.
        assert_eq!(classify(b"\x1bPx\x07"), Seq::Lone);
        assert_eq!(classify(b"\x1bc"), Seq::Other { len: 2 });
        assert_eq!(classify(b"\x1b(B"), Seq::Other { len: 3 });
        assert_eq!(classify(b"\x1b"), Seq::Lone);
        assert_eq!(classify(b"\x1b\x1b[m"), Seq::Lone);
        assert_eq!(classify(b"\x1b[31"), Seq::Lone);
        assert_eq!(classify(b"\x1b]0;no end"), Seq::Lone);
        // Another ESC aborts the string.
        assert_eq!(classify(b"\x1b]0;a\x1b[31m\x07"), Seq::Lone);
    }

    #[test]
    fn caps_bound_the_look_ahead() {
        let mut long_csi = b"\x1b[".to_vec();
        long_csi.extend(std::iter::repeat_n(b'1', MAX_CSI_LEN));
        long_csi.push(b'm');
        assert_eq!(classify(&long_csi), Seq::Lone);
        let mut long_osc = b"\x1b]52;c;".to_vec();
        long_osc.extend(std::iter::repeat_n(b'A', MAX_STRING_LEN));
        long_osc.push(BEL);
        assert_eq!(classify(&long_osc), Seq::Lone);
        let mut fits = b"\x1b]0;".to_vec();
        fits.extend(std::iter::repeat_n(b'A', MAX_STRING_LEN - 5));
        fits.push(BEL);
        assert_eq!(
            classify(&fits),
            Seq::Other {
                len: MAX_STRING_LEN
            }
        );
    }

    fn styled(params: &str) -> Style {
        let mut s = Sgr::default();
        s.apply(params.as_bytes());
        s.style(Style::new())
    }

    #[test]
    fn codes_become_styles() {
        assert_eq!(styled("31"), Style::new().fg(Color::Red));
        assert_eq!(
            styled("1;92;44"),
            Style::new().bold().fg(Color::LightGreen).bg(Color::Blue)
        );
        assert_eq!(styled("38;5;208"), Style::new().fg(Color::Indexed(208)));
        assert_eq!(styled("48;2;1;2;3"), Style::new().bg(Color::Rgb(1, 2, 3)));
        assert_eq!(styled("38:2::1:2:3"), Style::new().fg(Color::Rgb(1, 2, 3)));
        assert_eq!(styled("38:2:1:2:3"), Style::new().fg(Color::Rgb(1, 2, 3)));
        assert_eq!(styled("38:5:9"), Style::new().fg(Color::Indexed(9)));
        assert_eq!(
            styled("2;3;4;7"),
            Style::new().dim().italic().underlined().reversed()
        );
        assert_eq!(styled("1;2;3;4;7;22;23;24;27"), Style::new());
        assert_eq!(styled("31;41;39;49"), Style::new());
        assert_eq!(styled("31;1;0"), Style::new());
        assert_eq!(styled("4:3"), Style::new().underlined());
        assert_eq!(
            styled("97;107"),
            Style::new().fg(Color::White).bg(Color::White)
        );
        // Blink and conceal are refused; underline colour's arguments are not read as codes.
        assert_eq!(styled("5;6;8"), Style::new());
        assert_eq!(styled("58;5;1"), Style::new());
        // Out-of-range values leave the colour alone.
        assert_eq!(styled("31;38;5;999"), Style::new().fg(Color::Red));
        assert_eq!(styled("38;2;1;2"), Style::new());
        assert_eq!(styled("99999999999999999999"), Style::new());
    }

    #[test]
    fn resets_return_to_the_base() {
        let base = Style::new().fg(Color::Blue).bold();
        let mut s = Sgr::default();
        s.apply(b"31;22");
        assert_eq!(s.style(base), Style::new().fg(Color::Red).bold());
        s.apply(b"39");
        assert_eq!(s.style(base), base);
    }
}
