//! The filter prompt's language: what a user types after `f` in a pane, parsed into terms
//! that narrow a [`store::Filter`](crate::store::Filter), with errors that point at the term.
//!
//! Terms are separated by whitespace and all must hold (AND), except that several terms of
//! one channel key (`job:`, `origin:`, `source:`, `logger:` names) OR together: `job:a
//! job:b` shows both jobs.
//!
//! | term | meaning | `Filter` field |
//! |---|---|---|
//! | `disk`, `"disk full"` | text search; a quoted phrase's words must be consecutive | `search` |
//! | `re:REGEX` | Rust regex on message or traceback | `regex` |
//! | `level>=warning`, `level:error`, `level=40` | at or above that level | `min_level` |
//! | `level>warning` | strictly above (WARNING+1, so AUDIT=35 shows) | `min_level` |
//! | `logger:app` | `app` and every logger below it (`app.db`, not `apps`), as cutelog's tree | `logger_trees` |
//! | `logger:app.*` | a value holding `*`, `?` or `[` is a case-sensitive GLOB | `logger` |
//! | `job:ID`, `origin:GLOB`, `source:tcp` | exact job, origin GLOB, source kind | `jobs`, `origins`, `sources` |
//! | `!health`, `!"GET /health"` | leave out what this text search matches | `exclude` |
//!
//! Keys are case-insensitive; level names are those `logging` knows (case-insensitive) or a
//! number. `=` and `:` after `level` mean "at or above", like the `1`…`5` keys, because a
//! pane asks for a minimum; there is no maximum. A word with an unknown key (`user:alice`,
//! `http://x`) is plain text. `re:` and `level` may appear once; a channel key at most
//! [`MAX_CHOICES`] times; a `logger:` GLOB only alone (the store takes one logger GLOB);
//! text and `!` terms repeat freely.
//!
//! Double quotes group a term (`"disk full"`, `logger:"my app"`, `re:"a b"`); inside them, as
//! in a shell's double quotes, `\"` is a quote, `\\` a backslash, and any other backslash
//! stays (so `re:"\d+ ms"` works). A quoted phrase becomes one store search term with its
//! spaces replaced by `-`: the store splits terms on whitespace and matches each term's words
//! as a phrase, ignoring punctuation, so the words and the phrase meaning are kept.

use crate::record::{SourceKind, canonical_level_name, parse_level_arg};
use crate::store::words::for_each_word;
use crate::store::{Filter, MAX_CHOICES};
use std::ops::Range;

/// The longest input parsed, in bytes: far more than a prompt line holds, and it bounds
/// the work (terms, the regex) a paste can ask for.
pub const MAX_INPUT: usize = 4096;

/// A parsed filter expression, in the order it was typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterExpr {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    /// A store search term, with how it was typed (for [`FilterExpr::describe`]).
    Text {
        search: String,
        shown: String,
    },
    Exclude {
        search: String,
        shown: String,
    },
    Regex(String),
    /// The minimum level, and whether it was typed as `>` (so shown as `level>N`).
    Level {
        min: i32,
        typed: i32,
        above: bool,
    },
    LoggerGlob(String),
    LoggerTree(String),
    Job(String),
    Origin(String),
    Source(SourceKind),
}

/// Why an input does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterExprError {
    #[error("the filter is {len} bytes long; at most {max} are read")]
    TooLong { len: usize, max: usize },
    /// A term is wrong: `at..at + len` is its span in the input, for underlining.
    #[error("{term:?} at byte {at}: {problem}")]
    Term {
        term: String,
        at: usize,
        len: usize,
        problem: Problem,
    },
}

/// What is wrong with one term.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("the quote is never closed")]
    UnclosedQuote,
    #[error("there is nothing to search for")]
    Empty,
    #[error("{key} needs a value after it")]
    NoValue { key: &'static str },
    #[error("the regular expression is invalid: {reason}")]
    BadRegex { reason: String },
    #[error("unknown level {name:?}; use debug, info, warning, error, critical or a number")]
    UnknownLevel { name: String },
    #[error("only a minimum level can be asked for: level>=, level>, level= or level:")]
    LevelBound,
    #[error("unknown source {name:?}; use tcp, udp, http, redis or internal")]
    UnknownSource { name: String },
    #[error("only one {key} term is allowed")]
    Duplicate { key: &'static str },
    #[error("at most {max} {key} terms are allowed")]
    TooMany { key: &'static str, max: usize },
    #[error("a logger: GLOB cannot be combined with other logger: terms")]
    LoggerGlobAlone,
    #[error("only text can be excluded with !, not a {key} term")]
    NegatedKey { key: &'static str },
    #[error("a quoted phrase needs a letter or digit to search for; use re: for punctuation")]
    NoWords,
}

impl FilterExprError {
    /// The bytes of the input to underline.
    pub fn span(&self) -> Range<usize> {
        match self {
            FilterExprError::TooLong { len, max } => *max..*len,
            FilterExprError::Term { at, len, .. } => *at..*at + *len,
        }
    }
}

/// One whitespace-separated piece of the input, quotes removed.
struct Token {
    /// Byte span in the input.
    at: usize,
    end: usize,
    /// The text, unquoted and unescaped.
    text: String,
    /// How much of `text` was typed outside quotes before the first quote: keys and the
    /// leading `!` count only there, so `"level>=x"` is text.
    bare: usize,
    quoted: bool,
}

/// Splits `input` into tokens. Iterative; every byte is looked at once.
fn tokens(input: &str) -> Result<Vec<Token>, FilterExprError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut t = Token {
            at,
            end: at,
            text: String::new(),
            bare: usize::MAX,
            quoted: false,
        };
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c != '"' {
                t.text.push(c);
                continue;
            }
            t.quoted = true;
            t.bare = t.bare.min(t.text.len());
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.peek() {
                        Some(&(_, n @ ('"' | '\\'))) => {
                            chars.next();
                            t.text.push(n);
                        }
                        _ => t.text.push('\\'),
                    },
                    c => t.text.push(c),
                }
            }
            if !closed {
                return Err(FilterExprError::Term {
                    term: input[i..].to_owned(),
                    at: i,
                    len: input.len() - i,
                    problem: Problem::UnclosedQuote,
                });
            }
        }
        t.end = chars.peek().map_or(input.len(), |&(i, _)| i);
        t.bare = t.bare.min(t.text.len());
        out.push(t);
    }
    Ok(out)
}

/// The keys a term may start with, as typed and as named in errors.
const KEYS: [(&str, &str); 5] = [
    ("re:", "re:"),
    ("logger:", "logger:"),
    ("job:", "job:"),
    ("origin:", "origin:"),
    ("source:", "source:"),
];

/// The key `text` starts with (within its first `bare` bytes), its name and the value.
fn split_key(text: &str, bare: usize) -> Option<(&'static str, &str)> {
    let head = &text[..bare];
    // Bytes, not str slices: `k.len()` need not be a char boundary of `head`. A match means
    // those bytes are ASCII, so slicing the text after them is safe.
    let starts = |k: &str| {
        head.as_bytes()
            .get(..k.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(k.as_bytes()))
    };
    for (k, name) in KEYS {
        if starts(k) {
            return Some((name, &text[k.len()..]));
        }
    }
    // `level` then an operator; the operator must be outside quotes too.
    if starts("level")
        && head[5..]
            .chars()
            .next()
            .is_some_and(|c| matches!(c, '<' | '>' | '=' | ':' | '!'))
    {
        return Some(("level", &text[5..]));
    }
    None
}

/// A store search term for what the user typed: a phrase's whitespace becomes `-`, which the
/// store's word splitting treats as the same separator, so the term stays one phrase.
fn search_term(text: &str) -> Result<String, Problem> {
    if text.is_empty() {
        return Err(Problem::Empty);
    }
    if !text.contains(char::is_whitespace) {
        return Ok(text.to_owned());
    }
    let mut has_words = false;
    for_each_word(text, &mut String::new(), |_| has_words = true);
    if !has_words {
        // The store would read it as several punctuation substrings, not one.
        return Err(Problem::NoWords);
    }
    Ok(text.split_whitespace().collect::<Vec<_>>().join("-"))
}

/// How a value is shown in [`FilterExpr::describe`]: quoted when it would not read back.
fn shown(v: &str) -> String {
    if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') {
        format!("{v:?}")
    } else {
        v.to_owned()
    }
}

/// The one-line reason of a regex error (its Display draws the pattern over several lines).
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(s.as_str())
            .to_owned(),
        other => other.to_string(),
    }
}

/// Parses the level term's value after `level`: an operator, then a name or number.
fn parse_level(rest: &str) -> Result<Term, Problem> {
    let (above, name) = if let Some(n) = rest.strip_prefix(">=") {
        (false, n)
    } else if let Some(n) = rest.strip_prefix('>') {
        (true, n)
    } else if let Some(n) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) {
        (false, n)
    } else {
        return Err(Problem::LevelBound);
    };
    if name.is_empty() {
        return Err(Problem::NoValue { key: "level" });
    }
    let typed = parse_level_arg(name).ok_or_else(|| Problem::UnknownLevel {
        name: name.to_owned(),
    })?;
    let min = if above {
        typed.saturating_add(1)
    } else {
        typed
    };
    Ok(Term::Level { min, typed, above })
}

/// Parses what the user typed at the filter prompt.
pub fn parse(input: &str) -> Result<FilterExpr, FilterExprError> {
    if input.len() > MAX_INPUT {
        return Err(FilterExprError::TooLong {
            len: input.len(),
            max: MAX_INPUT,
        });
    }
    let mut expr = FilterExpr::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for t in tokens(input)? {
        let fail = |problem| FilterExprError::Term {
            term: input[t.at..t.end].to_owned(),
            at: t.at,
            len: t.end - t.at,
            problem,
        };
        let (negated, text, bare) = match t.text.strip_prefix('!') {
            Some(rest) if t.bare > 0 => (true, rest, t.bare - 1),
            _ => (false, t.text.as_str(), t.bare),
        };
        let term = match split_key(text, bare) {
            Some((key, _)) if negated => return Err(fail(Problem::NegatedKey { key })),
            Some((key, value)) => {
                let repeats = matches!(key, "job:" | "origin:" | "source:" | "logger:");
                let before = seen.iter().filter(|k| **k == key).count();
                if before > 0 && !repeats {
                    return Err(fail(Problem::Duplicate { key }));
                }
                if before >= MAX_CHOICES {
                    return Err(fail(Problem::TooMany {
                        key,
                        max: MAX_CHOICES,
                    }));
                }
                seen.push(key);
                if value.is_empty() && key != "level" {
                    return Err(fail(Problem::NoValue { key }));
                }
                // One logger GLOB, ANDed with everything, cannot be one of several ORed names.
                let glob_term = |t: &Term| matches!(t, Term::LoggerGlob(_));
                if key == "logger:"
                    && before > 0
                    && (value.contains(['*', '?', '[']) || expr.terms.iter().any(glob_term))
                {
                    return Err(fail(Problem::LoggerGlobAlone));
                }
                match key {
                    "re:" => match regex::Regex::new(value) {
                        Ok(_) => Term::Regex(value.to_owned()),
                        Err(e) => {
                            return Err(fail(Problem::BadRegex {
                                reason: regex_reason(&e),
                            }));
                        }
                    },
                    "level" => parse_level(value).map_err(fail)?,
                    "logger:" if value.contains(['*', '?', '[']) => {
                        Term::LoggerGlob(value.to_owned())
                    }
                    "logger:" => Term::LoggerTree(value.to_owned()),
                    "job:" => Term::Job(value.to_owned()),
                    "origin:" => Term::Origin(value.to_owned()),
                    _ => Term::Source(SourceKind::parse(&value.to_ascii_lowercase()).ok_or_else(
                        || {
                            fail(Problem::UnknownSource {
                                name: value.to_owned(),
                            })
                        },
                    )?),
                }
            }
            None => {
                let search = search_term(text).map_err(fail)?;
                let shown = if t.quoted {
                    format!("{text:?}")
                } else {
                    text.to_owned()
                };
                if negated {
                    Term::Exclude { search, shown }
                } else {
                    Term::Text { search, shown }
                }
            }
        };
        expr.terms.push(term);
    }
    Ok(expr)
}

impl FilterExpr {
    /// Whether nothing was typed (the pane shows everything its other settings allow).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Narrows `f` by every term. Text is added to `f.search` and exclusions to
    /// `f.exclude` (ANDed with what is there); a level raises `f.min_level`, never lowers
    /// it; every other term replaces its field (the channel terms together replace their
    /// list: `job:a job:b` asks for exactly those two). `source:internal` also clears
    /// `hide_internal`, since it asks for exactly those records.
    pub fn apply(&self, f: &mut Filter) {
        let typed = |list: &mut Vec<String>, v: &String, first: &mut bool| {
            if std::mem::take(first) {
                list.clear();
            }
            if !list.contains(v) {
                list.push(v.clone());
            }
        };
        let (mut first_tree, mut first_job, mut first_origin, mut first_source) =
            (true, true, true, true);
        for t in &self.terms {
            match t {
                Term::Text { search, .. } => {
                    f.search = Some(match f.search.take() {
                        Some(s) if !s.trim().is_empty() => format!("{s} {search}"),
                        _ => search.clone(),
                    });
                }
                Term::Exclude { search, .. } => f.exclude.push(search.clone()),
                Term::Regex(re) => f.regex = Some(re.clone()),
                Term::Level { min, .. } => {
                    f.min_level = Some(f.min_level.map_or(*min, |m| m.max(*min)));
                }
                Term::LoggerGlob(g) => f.logger = Some(g.clone()),
                Term::LoggerTree(n) => typed(&mut f.logger_trees, n, &mut first_tree),
                Term::Job(j) => {
                    // A typed job asks for exactly the jobs typed, the scope's families too.
                    if first_job {
                        f.job_globs.clear();
                    }
                    typed(&mut f.jobs, j, &mut first_job);
                }
                Term::Origin(o) => typed(&mut f.origins, o, &mut first_origin),
                Term::Source(k) => {
                    if std::mem::take(&mut first_source) {
                        f.sources.clear();
                    }
                    if !f.sources.contains(k) {
                        f.sources.push(*k);
                    }
                    if *k == SourceKind::Internal {
                        f.hide_internal = false;
                    }
                }
            }
        }
    }

    /// A short text for a pane's title, e.g. `level≥WARNING logger:app.* !health`. It holds
    /// what the user typed: render it through the safe-text path like any other text.
    pub fn describe(&self) -> String {
        let level = |n: i32| canonical_level_name(n).map_or_else(|| n.to_string(), str::to_owned);
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| match t {
                Term::Text { shown, .. } => shown.clone(),
                Term::Exclude { shown, .. } => format!("!{shown}"),
                Term::Regex(re) => format!("re:{}", shown(re)),
                Term::Level {
                    typed, above: true, ..
                } => format!("level>{}", level(*typed)),
                Term::Level { typed, .. } => format!("level≥{}", level(*typed)),
                Term::LoggerGlob(g) | Term::LoggerTree(g) => format!("logger:{}", shown(g)),
                Term::Job(j) => format!("job:{}", shown(j)),
                Term::Origin(o) => format!("origin:{}", shown(o)),
                Term::Source(k) => format!("source:{k}"),
            })
            .collect();
        parts.join(" ")
    }
}
