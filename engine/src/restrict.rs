//! Keeping a clause to some kinds, and the union of clauses that keep to different kinds.
//!
//! Every document has one kind, and each segment's kinds are a memoized array
//! ([`collect::segment_kinds`]), so "only tracks" is an array read per candidate rather than an
//! intersection with the kind's postings (or the exclusion of the other kinds' postings).
//! Because the restriction is a filter rather than a clause of a boolean query, the clause
//! below it keeps its own fast paths: [`Weight::for_each_pruning`] (block-max WAND, best-first
//! reading of cached clauses) and [`Weight::for_each_no_score`] pass straight through.
//!
//! The groups of a search ([`crate::compile`]) each keep to their own kinds, so they never
//! match the same document: [`KindGroups`] reads them one after another for collectors, and as
//! a union only when something seeks into it.

use std::fmt;
use std::sync::Arc;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use schemas::EntityKind;

use crate::collect::{kind_index, segment_kinds};
use crate::union::SeekingUnionScorer;

/// The kinds a clause keeps to, one bit per index into [`EntityKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KindMask(u8);

impl KindMask {
    fn of(kinds: &[EntityKind]) -> KindMask {
        KindMask(kinds.iter().fold(0, |mask, k| mask | 1 << kind_index(*k)))
    }

    /// Whether a document whose entry in the segment's kind array is `kind` is kept (a
    /// document of no known kind never is).
    fn admits(self, kind: u8) -> bool {
        kind < 8 && self.0 & (1 << kind) != 0
    }
}

/// `inner`'s matches of the given kinds only, scored as `inner` scores them.
pub struct KindFiltered {
    inner: Box<dyn Query>,
    mask: KindMask,
}

impl KindFiltered {
    pub fn new(inner: Box<dyn Query>, kinds: &[EntityKind]) -> KindFiltered {
        KindFiltered {
            inner,
            mask: KindMask::of(kinds),
        }
    }

    /// The clause being filtered.
    pub fn inner(&self) -> &dyn Query {
        &*self.inner
    }
}

impl Clone for KindFiltered {
    fn clone(&self) -> Self {
        KindFiltered {
            inner: self.inner.box_clone(),
            mask: self.mask,
        }
    }
}

impl fmt::Debug for KindFiltered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindFiltered")
            .field("kinds", &self.mask.0)
            .field("inner", &self.inner)
            .finish()
    }
}

impl Query for KindFiltered {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(KindFilteredWeight {
            inner: self.inner.weight(scoring)?,
            mask: self.mask,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct KindFilteredWeight {
    inner: Box<dyn Weight>,
    mask: KindMask,
}

impl KindFilteredWeight {
    /// Whether `doc` of a segment with kind array `kinds` is kept.
    fn keeps(&self, kinds: &[u8], doc: DocId) -> bool {
        kinds
            .get(doc as usize)
            .is_some_and(|kind| self.mask.admits(*kind))
    }
}

impl Weight for KindFilteredWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let inner = self.inner.scorer(reader, boost)?;
        Ok(Box::new(KindFilteredScorer::new(
            inner,
            segment_kinds(reader)?,
            self.mask,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if !self.keeps(&segment_kinds(reader)?, doc) {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} is not of the clause's kinds"
            )));
        }
        self.inner.explain(reader, doc)
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        let kinds = segment_kinds(reader)?;
        self.inner.for_each(reader, &mut |doc, score| {
            if self.keeps(&kinds, doc) {
                callback(doc, score);
            }
        })
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        let kinds = segment_kinds(reader)?;
        let mut kept = Vec::new();
        self.inner.for_each_no_score(reader, &mut |docs| {
            kept.clear();
            kept.extend(docs.iter().copied().filter(|doc| self.keeps(&kinds, *doc)));
            if !kept.is_empty() {
                callback(&kept);
            }
        })
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let kinds = segment_kinds(reader)?;
        let mut current = threshold;
        self.inner
            .for_each_pruning(threshold, reader, &mut |doc, score| {
                if self.keeps(&kinds, doc) {
                    current = callback(doc, score);
                }
                current
            })
    }
}

/// A scorer's documents of the kept kinds.
struct KindFilteredScorer {
    inner: Box<dyn Scorer>,
    kinds: Arc<[u8]>,
    mask: KindMask,
}

impl KindFilteredScorer {
    fn new(inner: Box<dyn Scorer>, kinds: Arc<[u8]>, mask: KindMask) -> KindFilteredScorer {
        let mut scorer = KindFilteredScorer { inner, kinds, mask };
        scorer.settle();
        scorer
    }

    /// Moves forward to the first kept document at or after the current one.
    fn settle(&mut self) -> DocId {
        let mut doc = self.inner.doc();
        while doc != TERMINATED
            && !self
                .kinds
                .get(doc as usize)
                .is_some_and(|kind| self.mask.admits(*kind))
        {
            doc = self.inner.advance();
        }
        doc
    }
}

impl DocSet for KindFilteredScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance();
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.inner.seek(target);
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }

    fn cost(&self) -> u64 {
        self.inner.cost()
    }
}

impl Scorer for KindFilteredScorer {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

/// Clauses that each keep to their own kinds (so no document matches two): any of them.
pub struct KindGroups {
    groups: Vec<Box<dyn Query>>,
}

impl KindGroups {
    /// The union of `groups`, which the caller guarantees match disjoint documents.
    pub fn new(groups: Vec<Box<dyn Query>>) -> KindGroups {
        KindGroups { groups }
    }

    /// The groups' clauses.
    pub fn groups(&self) -> &[Box<dyn Query>] {
        &self.groups
    }
}

impl Clone for KindGroups {
    fn clone(&self) -> Self {
        KindGroups {
            groups: self.groups.iter().map(|g| g.box_clone()).collect(),
        }
    }
}

impl fmt::Debug for KindGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KindGroups").field(&self.groups).finish()
    }
}

impl Query for KindGroups {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .groups
            .iter()
            .map(|group| group.weight(scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(KindGroupsWeight { weights }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for group in &self.groups {
            group.query_terms(visitor);
        }
    }
}

/// Collectors read the groups one after another (documents in order within a group, not
/// across groups); a scorer, for intersections and exclusions, is their union.
struct KindGroupsWeight {
    weights: Vec<Box<dyn Weight>>,
}

impl Weight for KindGroupsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorers = Vec::with_capacity(self.weights.len());
        for weight in &self.weights {
            let scorer = weight.scorer(reader, boost)?;
            if scorer.doc() != TERMINATED {
                scorers.push(scorer);
            }
        }
        Ok(Box::new(SeekingUnionScorer::new(scorers)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.weights
            .iter()
            .find_map(|weight| weight.explain(reader, doc).ok())
            .ok_or_else(|| TantivyError::InvalidArgument(format!("document {doc} does not match")))
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        for weight in &self.weights {
            weight.for_each(reader, callback)?;
        }
        Ok(())
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        for weight in &self.weights {
            weight.for_each_no_score(reader, callback)?;
        }
        Ok(())
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let mut current = threshold;
        for weight in &self.weights {
            weight.for_each_pruning(current, reader, &mut |doc, score| {
                current = callback(doc, score);
                current
            })?;
        }
        Ok(())
    }
}
