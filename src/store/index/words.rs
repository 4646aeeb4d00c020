//! Words for search: how message and traceback text splits into lowercased words, and how a
//! `--search` is parsed and checked against one record. The block index and the check share it.

/// Longest word the block index keeps, in bytes; longer words are indexed by this prefix
/// (cut at a character boundary), and the exact check still compares them whole.
pub const MAX_INDEXED_WORD: usize = 64;

/// Calls `f` with each word of `text`: a maximal run of alphanumeric characters, lowercased.
/// `buf` is scratch space, reused between calls so splitting allocates nothing.
pub fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    buf.clear();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            // Most log text is ASCII: no char decoding, no case tables.
            i += 1;
            if b.is_ascii_alphanumeric() {
                buf.push(char::from(b.to_ascii_lowercase()));
                continue;
            }
        } else {
            // `i` is on a char boundary: every ASCII byte is one, and this steps whole chars.
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if c.is_alphanumeric() {
                buf.extend(c.to_lowercase());
                continue;
            }
        }
        if !buf.is_empty() {
            f(buf);
            buf.clear();
        }
    }
    if !buf.is_empty() {
        f(buf);
        buf.clear();
    }
}

/// `word` cut to [`MAX_INDEXED_WORD`] bytes at a character boundary: what the index stores.
pub fn indexed(word: &str) -> &str {
    if word.len() <= MAX_INDEXED_WORD {
        return word;
    }
    let mut end = MAX_INDEXED_WORD;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    &word[..end]
}

/// One whitespace-separated term of a search: its words must appear in a row, in the
/// message or in the traceback; with `prefix`, the last word need only start that way.
#[derive(Debug, Clone, PartialEq)]
struct Phrase {
    words: Vec<String>,
    prefix: bool,
}

/// A parsed `--search`: every term must match. Terms with no word characters (`--`, `(`)
/// are matched as plain, case-sensitive substrings, since they hold no words to look up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextQuery {
    phrases: Vec<Phrase>,
    substrings: Vec<String>,
}

impl TextQuery {
    /// Parses what the user typed. A trailing `*` makes a term a prefix.
    pub fn parse(text: &str) -> TextQuery {
        let mut q = TextQuery::default();
        let mut buf = String::new();
        for term in text.split_whitespace() {
            let (body, prefix) = match term.strip_suffix('*') {
                Some(b) if b.chars().any(char::is_alphanumeric) => (b, true),
                _ => (term, false),
            };
            let mut words = Vec::new();
            for_each_word(body, &mut buf, |w| words.push(w.to_owned()));
            if words.is_empty() {
                q.substrings.push(term.to_owned());
            } else {
                q.phrases.push(Phrase { words, prefix });
            }
        }
        q
    }

    /// Whether the search asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() && self.substrings.is_empty()
    }

    /// The FTS5 query that finds the blocks which may hold a match: every word, quoted,
    /// ANDed. None when the search has no words (only substrings), so no block is excluded.
    pub fn index_query(&self) -> Option<String> {
        let mut q = String::new();
        for p in &self.phrases {
            for (i, w) in p.words.iter().enumerate() {
                if !q.is_empty() {
                    q.push_str(" AND ");
                }
                // Words are alphanumeric only, so quoting needs no escaping.
                q.push('"');
                q.push_str(indexed(w));
                q.push('"');
                let last = i + 1 == p.words.len();
                if (last && p.prefix) || w.len() > MAX_INDEXED_WORD {
                    q.push('*');
                }
            }
        }
        (!q.is_empty()).then_some(q)
    }

    /// Whether a record with this message and traceback matches every term.
    pub fn matches(&self, message: &str, exc_text: Option<&str>) -> bool {
        if !self.substrings.iter().all(|s| {
            message.contains(s.as_str()) || exc_text.is_some_and(|t| t.contains(s.as_str()))
        }) {
            return false;
        }
        if self.phrases.is_empty() {
            return true;
        }
        let msg = Words::of(message);
        let exc = exc_text.map(Words::of);
        self.phrases
            .iter()
            .all(|p| msg.has(p) || exc.as_ref().is_some_and(|e| e.has(p)))
    }
}

/// One text's words, in order, as spans of one lowercased buffer.
struct Words {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Words {
    fn of(source: &str) -> Words {
        let mut text = String::with_capacity(source.len());
        let mut spans = Vec::new();
        let mut buf = String::new();
        for_each_word(source, &mut buf, |w| {
            spans.push((text.len(), text.len() + w.len()));
            text.push_str(w);
        });
        Words { text, spans }
    }

    fn word(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.text[a..b]
    }

    fn has(&self, p: &Phrase) -> bool {
        let n = p.words.len();
        if n > self.spans.len() {
            return false;
        }
        (0..=self.spans.len() - n).any(|start| {
            p.words.iter().enumerate().all(|(j, w)| {
                let got = self.word(start + j);
                if p.prefix && j + 1 == n {
                    got.starts_with(w.as_str())
                } else {
                    got == w
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_word(s, &mut String::new(), |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn words_are_lowercased_alphanumeric_runs() {
        assert_eq!(
            words("GET /api/v1/Orders/77 200 (3.5ms) Straße ÉCOLE 東京"),
            [
                "get", "api", "v1", "orders", "77", "200", "3", "5ms", "straße", "école", "東京"
            ]
        );
        assert!(words(" -- () ").is_empty());
    }

    #[test]
    fn long_words_are_indexed_by_their_prefix_at_a_char_boundary() {
        let w = "é".repeat(40);
        assert_eq!(indexed(&w).len(), 64);
        assert!(w.starts_with(indexed(&w)));
        assert_eq!(indexed("short"), "short");
        let q = TextQuery::parse(&w);
        assert_eq!(q.index_query(), Some(format!("\"{}\"*", indexed(&w))));
    }

    #[test]
    fn terms_are_phrases_of_their_words() {
        let q = TextQuery::parse("10.0.0.7 Alice");
        assert_eq!(
            q.index_query().as_deref(),
            Some(r#""10" AND "0" AND "0" AND "7" AND "alice""#)
        );
        assert!(q.matches("user alice logged in from 10.0.0.7", None));
        assert!(!q.matches("user alice logged in from 10.0.7.0", None));
        assert!(!q.matches("user alicia logged in from 10.0.0.7", None));
        // Either column, but a phrase never spans the two.
        assert!(q.matches("from 10.0.0.7", Some("ALICE!")));
        assert!(!TextQuery::parse("10.0.0.7.9").matches("10.0.0.7", Some("9")));
    }

    #[test]
    fn prefix_applies_to_the_last_word_of_a_term() {
        let q = TextQuery::parse("auth* db.conn*");
        assert_eq!(
            q.index_query().as_deref(),
            Some(r#""auth"* AND "db" AND "conn"*"#)
        );
        assert!(q.matches("authentication failed: db.connection reset", None));
        assert!(!q.matches("authentication failed: db.pool reset", None));
        assert!(!q.matches("oauth failed: db.connection reset", None));
    }

    #[test]
    fn terms_without_words_are_case_sensitive_substrings() {
        let q = TextQuery::parse("-- (");
        assert_eq!(q.index_query(), None);
        assert!(q.matches("a -- b (c)", None));
        assert!(!q.matches("a - b (c)", None));
        assert!(q.matches("a -- b", Some("(")));
        assert!(TextQuery::parse("   ").is_empty());
        assert!(TextQuery::parse("*").matches("a*b", None));
    }

    #[test]
    fn quotes_and_fts_syntax_are_only_words() {
        let q = TextQuery::parse(r#"user"s "x AND y" NEAR("#);
        assert_eq!(
            q.index_query().as_deref(),
            Some(r#""user" AND "s" AND "x" AND "and" AND "y" AND "near""#)
        );
        assert!(q.matches("the user's x and y are near", None));
    }
}
