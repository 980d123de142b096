//! Typo-tolerant matching of one word that keeps its first letter: every indexed term within
//! [`crate::compile::fuzzy_distance`] edits of the typed word that begins with the typed word's
//! first character, or with its first two swapped ("feat" for "efat").
//!
//! People rarely get the first letter of a word wrong, except by swapping it with the next
//! one (the suggest engine holds the first letter too, and Elasticsearch's `prefix_length: 1`
//! is the same idea). Holding it lets the term dictionary walk descend into one or two
//! first-letter subtrees instead of testing every term of the field against the Levenshtein
//! automaton: that walk is what typo tolerance costs.

use std::sync::Arc;

use tantivy::postings::TermInfo;
use tantivy::query::{
    AutomatonWeight, BitSetDocSet, ConstScorer, DfaWrapper, EmptyScorer, EnableScoring,
    Explanation, FuzzyTermQuery, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, Score, SegmentReader, Term};
use tantivy_fst::Automaton;

use crate::sorted::SortedDocs;

/// One typed word's typo automaton: the Levenshtein DFA within `distance` edits (a
/// transposition counts as one), entered only through the word's first letter or its first two
/// swapped. Building the DFA is a large part of what a typo costs, so a search builds it once
/// per typed word and shares it between every field and pass that looks the word up.
#[derive(Clone)]
pub struct TypoAutomaton(Arc<FirstLetter<DfaWrapper>>);

impl TypoAutomaton {
    /// Errors only for a distance above 2 (the DFA builder's limit).
    pub fn new(typed: &str, distance: u8) -> tantivy::Result<TypoAutomaton> {
        // The typed first letter, and the first two swapped ("fe" for "ef").
        let mut chars = typed.chars();
        let mut firsts: Vec<Vec<u8>> = Vec::with_capacity(2);
        if let Some(first) = chars.next() {
            firsts.push(first.to_string().into_bytes());
            if let Some(second) = chars.next().filter(|c| *c != first) {
                firsts.push(format!("{second}{first}").into_bytes());
            }
        }
        // The DFA depends on the text alone; the field is only the query's envelope.
        let text = Term::from_field_text(Field::from_field_id(0), typed);
        let levenshtein = FuzzyTermQuery::new(text, distance, true).automaton()?;
        Ok(TypoAutomaton(Arc::new(FirstLetter {
            firsts,
            levenshtein,
        })))
    }
}

impl std::fmt::Debug for TypoAutomaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypoAutomaton")
    }
}

/// Terms of `field` that `automaton` accepts: within its distance of the typed word and
/// beginning with its first character or its first two swapped. Every match scores the same,
/// like [`FuzzyTermQuery`].
#[derive(Debug, Clone)]
pub struct FirstLetterFuzzy {
    field: Field,
    automaton: TypoAutomaton,
}

impl FirstLetterFuzzy {
    pub fn new(field: Field, automaton: TypoAutomaton) -> FirstLetterFuzzy {
        FirstLetterFuzzy { field, automaton }
    }
}

impl Query for FirstLetterFuzzy {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(TypoWeight {
            field: self.field,
            terms: AutomatonWeight::new(self.field, self.automaton.0.clone()),
        }))
    }
}

/// A typo's matches in one segment. Tantivy's automaton weight marks them in a bitset as large
/// as the segment (170 KB zeroed for a million documents, per field and word, usually for a
/// handful of matches); a typo matches few documents, so they are gathered into a sorted list
/// unless they are many.
struct TypoWeight {
    field: Field,
    terms: AutomatonWeight<FirstLetter<DfaWrapper>>,
}

/// Matches above one in this many documents of a segment are kept in a bitset: there the
/// bitset (a bit per document) is no larger than the list (32 bits per match).
const DENSE: u64 = 32;

impl TypoWeight {
    /// The documents of `terms` in `reader`, every one scoring `boost`.
    fn matches(
        &self,
        reader: &SegmentReader,
        terms: &[TermInfo],
        boost: Score,
    ) -> tantivy::Result<Box<dyn Scorer>> {
        let postings: u64 = terms.iter().map(|t| u64::from(t.doc_freq)).sum();
        let inverted = reader.inverted_index(self.field)?;
        let each = |add: &mut dyn FnMut(&[DocId])| -> tantivy::Result<()> {
            for term in terms {
                let mut block =
                    inverted.read_block_postings_from_terminfo(term, IndexRecordOption::Basic)?;
                while !block.docs().is_empty() {
                    add(block.docs());
                    block.advance();
                }
            }
            Ok(())
        };
        if postings * DENSE > u64::from(reader.max_doc()) {
            let mut set = BitSet::with_max_value(reader.max_doc());
            each(&mut |docs| {
                for doc in docs {
                    set.insert(*doc);
                }
            })?;
            return Ok(Box::new(ConstScorer::new(BitSetDocSet::from(set), boost)));
        }
        let mut list = Vec::with_capacity(postings as usize);
        each(&mut |docs| list.extend_from_slice(docs))?;
        list.sort_unstable();
        list.dedup();
        Ok(Box::new(ConstScorer::new(SortedDocs::new(list), boost)))
    }
}

impl Weight for TypoWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let terms = self.terms.get_match_term_infos(reader)?;
        if terms.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        self.matches(reader, &terms, boost)
    }

    /// The same documents match as in tantivy's automaton weight.
    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.terms.explain(reader, doc)
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
        let automaton = TypoAutomaton::new(typed, distance).expect("automaton");
        let query = FirstLetterFuzzy::new(field, automaton);
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
    fn a_few_matches_among_many_documents_are_found_as_many_are() {
        // Two matches in 202 documents are gathered into a list (the test above: four in
        // seven, a bitset); both must find the same words.
        let mut words = vec!["winter"; 200];
        words.extend(["sumer", "summre"]);
        assert!(2 * DENSE < words.len() as u64);
        assert_eq!(matches(&words, "summer", 1), ["sumer", "summre"]);
        assert_eq!(matches(&words, "autumn", 1), Vec::<String>::new());
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
