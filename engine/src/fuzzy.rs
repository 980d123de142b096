//! Typo-tolerant matching of one word that keeps its first letter: every indexed term within
//! [`crate::compile::fuzzy_distance`] edits of the typed word that begins with the typed word's
//! first character, or with its first two swapped ("feat" for "efat").
//!
//! People rarely get the first letter of a word wrong, except by swapping it with the next
//! one (the suggest engine holds the first letter too, and Elasticsearch's `prefix_length: 1`
//! is the same idea). Holding it lets the term dictionary walk descend into one or two
//! first-letter subtrees instead of testing every term of the field against the Levenshtein
//! automaton: that walk is what typo tolerance costs.

use tantivy::query::{AutomatonWeight, EnableScoring, FuzzyTermQuery, Query, Weight};
use tantivy::{TantivyError, Term};
use tantivy_fst::Automaton;

/// Terms of `term`'s field within `distance` edits (a transposition counts as one) of the
/// typed word that begin with its first character or with its first two swapped. Every match scores the same,
/// like [`FuzzyTermQuery`].
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
        // The typed first letter, and the first two swapped ("fe" for "ef").
        let mut chars = text.chars();
        let mut firsts: Vec<Vec<u8>> = Vec::with_capacity(2);
        if let Some(first) = chars.next() {
            firsts.push(first.to_string().into_bytes());
            if let Some(second) = chars.next().filter(|c| *c != first) {
                firsts.push(format!("{second}{first}").into_bytes());
            }
        }
        let levenshtein =
            FuzzyTermQuery::new(self.term.clone(), self.distance, true).automaton()?;
        let automaton = FirstLetter {
            firsts,
            levenshtein,
        };
        Ok(Box::new(AutomatonWeight::new(self.term.field(), automaton)))
    }
}

/// The Levenshtein automaton, entered only through one of the allowed beginnings.
struct FirstLetter<A> {
    /// The UTF-8 bytes of each allowed beginning: the first character, and the second then
    /// the first (they differ, so neither is a prefix of the other).
    firsts: Vec<Vec<u8>>,
    levenshtein: A,
}

/// Which allowed beginnings the bytes read so far agree with (a bit each), how many bytes were
/// read, whether one was read whole, and the Levenshtein automaton's state (`None` once no
/// allowed beginning fits).
#[derive(Clone)]
struct State<S> {
    read: usize,
    agreeing: u8,
    entered: bool,
    inner: Option<S>,
}

impl<A: Automaton> Automaton for FirstLetter<A>
where
    A::State: Clone,
{
    type State = State<A::State>;

    fn start(&self) -> Self::State {
        State {
            read: 0,
            agreeing: (1u8 << self.firsts.len()) - 1,
            entered: false,
            inner: Some(self.levenshtein.start()),
        }
    }

    fn is_match(&self, state: &Self::State) -> bool {
        state.entered
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
        let Some(inner) = &state.inner else {
            return state.clone();
        };
        let inner = Some(self.levenshtein.accept(inner, byte));
        if state.entered {
            return State {
                inner,
                ..state.clone()
            };
        }
        let (mut agreeing, mut entered) = (0u8, false);
        for (i, first) in self.firsts.iter().enumerate() {
            if state.agreeing & (1 << i) != 0 && first.get(state.read) == Some(&byte) {
                agreeing |= 1 << i;
                entered |= first.len() == state.read + 1;
            }
        }
        State {
            read: state.read + 1,
            agreeing,
            entered,
            inner: inner.filter(|_| agreeing != 0),
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
    fn the_first_letter_is_only_ever_swapped_with_the_second() {
        let words = ["hummer", "ummer", "asummer"];
        assert!(matches(&words, "summer", 2).is_empty());
        // "(feat." typed "(efat.": the first two letters swapped.
        assert_eq!(
            matches(&["feat", "beat", "efat"], "efat", 1),
            ["efat", "feat"]
        );
        assert_eq!(
            matches(&["lunar", "ulnar", "solar"], "ulnar", 1),
            ["lunar", "ulnar"]
        );
    }

    #[test]
    fn a_multibyte_first_letter_is_held_whole() {
        let words = ["élan", "elan", "éla", "ělan", "léan"];
        assert_eq!(matches(&words, "élan", 1), ["léan", "éla", "élan"]);
        // Both first letters two bytes long, sharing their lead byte.
        assert_eq!(matches(&["ěč", "čěa", "ěča"], "čěa", 1), ["čěa", "ěča"]);
        assert_eq!(matches(&words, "straße", 2), Vec::<String>::new());
    }
}
