//! Typo-tolerant matching of one word that keeps its first letter: every indexed term within
//! [`crate::compile::fuzzy_distance`] edits of the typed word whose first character is the
//! typed word's first character.
//!
//! People rarely get the first letter of a word wrong (the same rule the suggest engine
//! follows, and Elasticsearch's `prefix_length: 1`), and holding it fixed lets the term
//! dictionary walk descend into one first-letter subtree instead of testing every term of the
//! field against the Levenshtein automaton: the walk is what typo tolerance costs.

use tantivy::query::{AutomatonWeight, EnableScoring, FuzzyTermQuery, Query, Weight};
use tantivy::{TantivyError, Term};
use tantivy_fst::Automaton;

/// Terms of `term`'s field within `distance` edits (a transposition counts as one) of the
/// typed word that begin with its first character. Every match scores the same, like
/// [`FuzzyTermQuery`].
#[derive(Debug, Clone)]
pub struct FirstLetterFuzzy {
    term: Term,
    distance: u8,
}

impl FirstLetterFuzzy {
    pub fn new(term: Term, distance: u8) -> FirstLetterFuzzy {
        FirstLetterFuzzy { term, distance }
    }
}

impl Query for FirstLetterFuzzy {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let value = self.term.value();
        let text = value.as_str().ok_or_else(|| {
            TantivyError::InvalidArgument("a fuzzy word must be a text term".to_string())
        })?;
        let first = text.chars().next().map_or(0, char::len_utf8);
        let levenshtein =
            FuzzyTermQuery::new(self.term.clone(), self.distance, true).automaton()?;
        let automaton = FirstLetter {
            first: text.as_bytes()[..first].to_vec(),
            levenshtein,
        };
        Ok(Box::new(AutomatonWeight::new(self.term.field(), automaton)))
    }
}

/// The Levenshtein automaton, entered only through the typed word's first character's bytes.
struct FirstLetter<A> {
    first: Vec<u8>,
    levenshtein: A,
}

/// How many bytes of the first character were read, and the Levenshtein automaton's state
/// (`None` once a byte strayed from the first character).
#[derive(Clone)]
struct State<S> {
    read: usize,
    inner: Option<S>,
}

impl<A: Automaton> Automaton for FirstLetter<A> {
    type State = State<A::State>;

    fn start(&self) -> Self::State {
        State {
            read: 0,
            inner: Some(self.levenshtein.start()),
        }
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.read == self.first.len()
            && state
                .inner
                .as_ref()
                .is_some_and(|s| self.levenshtein.is_match(s))
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state
            .inner
            .as_ref()
            .is_some_and(|s| self.levenshtein.can_match(s))
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let inner = match (&state.inner, self.first.get(state.read)) {
            (Some(s), Some(expected)) if *expected == byte => {
                Some(self.levenshtein.accept(s, byte))
            }
            (Some(s), None) => Some(self.levenshtein.accept(s, byte)),
            _ => None,
        };
        State {
            read: (state.read + 1).min(self.first.len()),
            inner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::DocSetCollector;
    use tantivy::schema::{STRING, Schema};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    fn matches(words: &[&str], typed: &str, distance: u8) -> Vec<String> {
        let mut schema = Schema::builder();
        let field = schema.add_text_field("w", STRING | tantivy::schema::STORED);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        for word in words {
            let mut doc = TantivyDocument::new();
            doc.add_text(field, word);
            writer.add_document(doc).expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let query = FirstLetterFuzzy::new(Term::from_field_text(field, typed), distance);
        let found = searcher.search(&query, &DocSetCollector).expect("search");
        let mut words: Vec<String> = found
            .into_iter()
            .map(|address| {
                let doc: TantivyDocument = searcher.doc(address).expect("doc");
                use tantivy::schema::Value;
                doc.get_first(field)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        words.sort();
        words
    }

    #[test]
    fn typos_after_the_first_letter_are_forgiven() {
        let words = [
            "summer", "sumer", "summre", "slummer", "hummer", "ummer", "winter",
        ];
        assert_eq!(
            matches(&words, "summer", 1),
            ["slummer", "sumer", "summer", "summre"]
        );
    }

    #[test]
    fn the_first_letter_is_never_edited() {
        let words = ["hummer", "ummer", "asummer"];
        assert!(matches(&words, "summer", 2).is_empty());
    }

    #[test]
    fn a_multibyte_first_letter_is_held_whole() {
        let words = ["élan", "elan", "éla", "ělan"];
        assert_eq!(matches(&words, "élan", 1), ["éla", "élan"]);
        assert_eq!(matches(&words, "straße", 2), Vec::<String>::new());
    }
}
