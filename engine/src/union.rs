//! "Any of these", for a word matched in any of several fields when the word is one part of a
//! larger query.
//!
//! tantivy's boolean union buffers a window of 4,096 documents: ideal when the union is read
//! from start to end, costly when an intersection only asks it about a few documents, because
//! every seek past the window clears the window and scores the next 4,096 documents of every
//! field. In "winter road cover" the rarest word leads and the others are asked about each of
//! its documents; [`SeekingUnion`] answers such a seek by moving each field's postings to the
//! target (skip lists) and scores only the document asked about. The score is the same sum of
//! the clauses' scores.

use std::fmt;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

/// Matches what any clause matches, scoring the sum of the matching clauses' scores.
pub struct SeekingUnion {
    clauses: Vec<Box<dyn Query>>,
}

impl SeekingUnion {
    pub fn new(clauses: Vec<Box<dyn Query>>) -> SeekingUnion {
        SeekingUnion { clauses }
    }
}

impl Clone for SeekingUnion {
    fn clone(&self) -> Self {
        SeekingUnion {
            clauses: self.clauses.iter().map(|c| c.box_clone()).collect(),
        }
    }
}

impl fmt::Debug for SeekingUnion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SeekingUnion").field(&self.clauses).finish()
    }
}

impl Query for SeekingUnion {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .clauses
            .iter()
            .map(|clause| clause.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(SeekingUnionWeight { weights }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for clause in &self.clauses {
            clause.query_terms(visitor);
        }
    }
}

struct SeekingUnionWeight {
    weights: Vec<Box<dyn Weight>>,
}

impl Weight for SeekingUnionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut clauses = Vec::with_capacity(self.weights.len());
        for weight in &self.weights {
            let scorer = weight.scorer(reader, boost)?;
            if scorer.doc() != TERMINATED {
                clauses.push(scorer);
            }
        }
        Ok(Box::new(SeekingUnionScorer::new(clauses)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        let mut explanation = Explanation::new("sum of the matching clauses", scorer.score());
        for weight in &self.weights {
            if let Ok(detail) = weight.explain(reader, doc) {
                explanation.add_detail(detail);
            }
        }
        Ok(explanation)
    }
}

/// The clauses positioned independently; the current document is the smallest of theirs.
pub(crate) struct SeekingUnionScorer {
    clauses: Vec<Box<dyn Scorer>>,
    doc: DocId,
}

impl SeekingUnionScorer {
    pub(crate) fn new(clauses: Vec<Box<dyn Scorer>>) -> SeekingUnionScorer {
        let mut scorer = SeekingUnionScorer {
            clauses,
            doc: TERMINATED,
        };
        scorer.doc = scorer.smallest();
        scorer
    }

    /// The smallest current document of the clauses; finished clauses are dropped when some
    /// clause finished (not on every step).
    fn smallest(&mut self) -> DocId {
        let mut smallest = TERMINATED;
        let mut finished = false;
        for clause in &self.clauses {
            let doc = clause.doc();
            finished |= doc == TERMINATED;
            smallest = smallest.min(doc);
        }
        if finished {
            self.clauses.retain(|c| c.doc() != TERMINATED);
        }
        smallest
    }
}

impl DocSet for SeekingUnionScorer {
    fn advance(&mut self) -> DocId {
        let current = self.doc;
        let mut smallest = TERMINATED;
        let mut finished = false;
        for clause in &mut self.clauses {
            let mut doc = clause.doc();
            if doc == current {
                doc = clause.advance();
            }
            finished |= doc == TERMINATED;
            smallest = smallest.min(doc);
        }
        if finished {
            self.clauses.retain(|c| c.doc() != TERMINATED);
        }
        self.doc = smallest;
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        for clause in &mut self.clauses {
            if clause.doc() < target {
                clause.seek(target);
            }
        }
        self.doc = self.smallest();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.clauses
            .iter()
            .map(|c| c.size_hint())
            .fold(0u32, u32::saturating_add)
    }

    fn cost(&self) -> u64 {
        self.clauses.iter().map(|c| c.cost()).sum()
    }
}

impl Scorer for SeekingUnionScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        self.clauses
            .iter_mut()
            .filter(|c| c.doc() == doc)
            .map(|c| c.score())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{Index, TantivyDocument};

    use super::*;

    /// The same documents and scores as tantivy's boolean union, read whole or seeked into from
    /// an intersection.
    #[test]
    fn matches_and_scores_like_a_boolean_union() -> tantivy::Result<()> {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT);
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
        for i in 0..20_000u32 {
            let mut doc = TantivyDocument::default();
            let t = if i % 7 == 0 { "winter road" } else { "summer" };
            doc.add_text(title, format!("{t} {i}"));
            let b = if i % 5 == 0 { "winter cover" } else { "night" };
            doc.add_text(body, b);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        let term = |field, text| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::WithFreqs,
            ))
        };
        let fields = |text: &'static str| -> Vec<Box<dyn Query>> {
            vec![
                Box::new(BoostQuery::new(term(title, text), 3.0)),
                Box::new(BoostQuery::new(term(body, text), 0.5)),
            ]
        };
        let boolean = |text| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                fields(text)
                    .into_iter()
                    .map(|q| (Occur::Should, q))
                    .collect(),
            ))
        };
        let seeking = |text| -> Box<dyn Query> { Box::new(SeekingUnion::new(fields(text))) };
        let top = TopDocs::with_limit(50_000).order_by_score();
        let sorted = |mut hits: Vec<(f32, tantivy::DocAddress)>| {
            hits.sort_by_key(|hit| hit.1);
            hits
        };
        let close = |a: &[(f32, tantivy::DocAddress)], b: &[(f32, tantivy::DocAddress)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.1 == y.1 && (x.0 - y.0).abs() <= 1e-5 * x.0.abs().max(1.0))
        };
        let whole_a = sorted(searcher.search(&*boolean("winter"), &top)?);
        let whole_b = sorted(searcher.search(&*seeking("winter"), &top)?);
        assert!(!whole_a.is_empty());
        assert!(close(&whole_a, &whole_b));
        // In an intersection led by a rarer clause, the union is seeked into.
        let and = |union: Box<dyn Query>| {
            BooleanQuery::new(vec![
                (Occur::Must, union),
                (Occur::Must, term(title, "road")),
            ])
        };
        let seeked_a = sorted(searcher.search(&and(boolean("winter")), &top)?);
        let seeked_b = sorted(searcher.search(&and(seeking("winter")), &top)?);
        assert_eq!(seeked_a.len(), 20_000 / 7 + 1);
        assert!(close(&seeked_a, &seeked_b));
        assert_eq!(seeking("winter").count(&searcher)?, whole_a.len());
        Ok(())
    }
}
