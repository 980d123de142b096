//! The query language a site user types: plain words, `"quoted phrases"` and `-excluded` words
//! (or `-"excluded phrases"`). Nothing else is syntax, so nothing anyone types is an error:
//! an unclosed quote runs to the end, a lone `-` is ignored, and punctuation is left for the
//! analyzer to keep or drop (`AC/DC`, `P!nk`, `jay-z` stay one word here).
//!
//! ```
//! let q = engine::language::parse(r#"around "the world" -live"#);
//! assert_eq!(q.words, ["around"]);
//! assert_eq!(q.phrases, ["the world"]);
//! assert_eq!(q.excluded, ["live"]);
//! ```

/// What a person typed, understood. Texts are as typed (not yet analyzed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Words every result must contain (in some searchable field).
    pub words: Vec<String>,
    /// Phrases every result must contain, words adjacent and in order.
    pub phrases: Vec<String>,
    /// Words or phrases no result may contain.
    pub excluded: Vec<String>,
}

impl UserQuery {
    /// True when nothing positive was asked for: such a query matches nothing (an exclusion
    /// alone would otherwise mean "everything but").
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }
}

/// Reads what a person typed. Total: every input gives a `UserQuery`.
pub fn parse(input: &str) -> UserQuery {
    let mut query = UserQuery::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| is_separator(*c)).is_some() {}
        let Some(first) = chars.next() else { break };
        let (negated, opening) = match first {
            '-' | '+' => match chars.peek() {
                Some(c) if !is_separator(*c) => (first == '-', chars.next().unwrap_or(' ')),
                _ => continue,
            },
            c => (false, c),
        };
        if opening == '"' {
            let mut phrase = String::new();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                phrase.push(if c.is_control() { ' ' } else { c });
            }
            let phrase = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
            if phrase.is_empty() {
                continue;
            }
            if negated {
                query.excluded.push(phrase);
            } else if phrase.contains(' ') {
                query.phrases.push(phrase);
            } else {
                query.words.push(phrase);
            }
        } else {
            let mut word = String::from(opening);
            while let Some(c) = chars.next_if(|c| !is_separator(*c) && *c != '"') {
                word.push(c);
            }
            if negated {
                query.excluded.push(word);
            } else {
                query.words.push(word);
            }
        }
    }
    query
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_words() {
        let q = parse("  enter   sandman ");
        assert_eq!(q.words, ["enter", "sandman"]);
        assert!(q.phrases.is_empty() && q.excluded.is_empty());
    }

    #[test]
    fn quotes_make_phrases_and_a_one_word_phrase_is_a_word() {
        let q = parse(r#""around the  world" "daft""#);
        assert_eq!(q.phrases, ["around the world"]);
        assert_eq!(q.words, ["daft"]);
    }

    #[test]
    fn leading_minus_excludes_words_and_phrases_but_inner_minus_is_text() {
        let q = parse(r#"jay-z -live -"greatest hits" - +rock"#);
        assert_eq!(q.words, ["jay-z", "rock"]);
        assert_eq!(q.excluded, ["live", "greatest hits"]);
    }

    #[test]
    fn unclosed_quote_runs_to_the_end() {
        let q = parse(r#"metallica "enter sand"#);
        assert_eq!(q.words, ["metallica"]);
        assert_eq!(q.phrases, ["enter sand"]);
    }

    #[test]
    fn operator_soup_never_fails_and_exclusion_alone_is_empty() {
        for input in [
            "",
            "\"",
            "\"\"",
            "-",
            "--",
            "-\"\"",
            "+",
            "\u{0}\u{7}\n",
            "-only",
        ] {
            let q = parse(input);
            assert!(q.is_empty(), "{input:?} gave {q:?}");
        }
        assert_eq!(parse("-only").excluded, ["only"]);
        assert_eq!(parse("a\u{0}b").words, ["a", "b"]);
    }

    #[test]
    fn names_with_punctuation_stay_whole() {
        assert_eq!(
            parse("AC/DC P!nk deadmau5").words,
            ["AC/DC", "P!nk", "deadmau5"]
        );
    }
}
