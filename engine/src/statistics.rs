//! The index's BM25 statistics, read once per search.
//!
//! A search builds several queries over the same words (whole names per kind, exact matches
//! for counting and for ranking, typo fill-ins minus the exact ones), and each weight asks
//! the searcher for its terms' document frequencies and its fields' token counts: a term
//! dictionary lookup in every segment, every time. [`Statistics`] asks each question once per
//! search. The answers cannot go stale within one: a searcher never changes.

use std::cell::RefCell;
use std::collections::HashMap;

use tantivy::collector::Collector;
use tantivy::query::{Bm25StatisticsProvider, Query};
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// `searcher`, with its statistics remembered for the length of one search.
pub(crate) struct Statistics<'s> {
    searcher: &'s Searcher,
    doc_freqs: RefCell<HashMap<Term, u64>>,
    tokens: RefCell<HashMap<Field, u64>>,
}

impl<'s> Statistics<'s> {
    pub(crate) fn new(searcher: &'s Searcher) -> Statistics<'s> {
        Statistics {
            searcher,
            doc_freqs: RefCell::default(),
            tokens: RefCell::default(),
        }
    }

    /// [`Searcher::search`], scored with the remembered statistics.
    pub(crate) fn search<C: Collector>(
        &self,
        query: &dyn Query,
        collector: &C,
    ) -> tantivy::Result<C::Fruit> {
        self.searcher
            .search_with_statistics_provider(query, collector, self)
    }
}

impl Bm25StatisticsProvider for Statistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        if let Some(tokens) = self.tokens.borrow().get(&field) {
            return Ok(*tokens);
        }
        let tokens = self.searcher.total_num_tokens(field)?;
        self.tokens.borrow_mut().insert(field, tokens);
        Ok(tokens)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        self.searcher.total_num_docs()
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        if let Some(docs) = self.doc_freqs.borrow().get(term) {
            return Ok(*docs);
        }
        let docs = self.searcher.doc_freq(term)?;
        self.doc_freqs.borrow_mut().insert(term.clone(), docs);
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{Index, IndexWriter, doc};

    #[test]
    fn scores_and_frequencies_are_the_searchers_own() {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        // Two segments, so every statistic sums over more than one.
        for batch in [["winter night", "winter"], ["night owl", "summer night"]] {
            for text in batch {
                writer.add_document(doc!(title => text)).expect("add");
            }
            writer.commit().expect("commit");
        }
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 2);
        let statistics = Statistics::new(&searcher);
        let night = Term::from_field_text(title, "night");
        let query = TermQuery::new(night.clone(), IndexRecordOption::WithFreqs);
        let top = TopDocs::with_limit(4).order_by_score();
        for _ in 0..2 {
            assert_eq!(
                statistics.search(&query, &top).expect("search"),
                searcher.search(&query, &top).expect("search")
            );
            assert_eq!(statistics.doc_freq(&night).expect("docs"), 3);
        }
        assert_eq!(
            statistics.total_num_tokens(title).expect("tokens"),
            searcher.total_num_tokens(title).expect("tokens")
        );
    }
}
