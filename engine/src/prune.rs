//! The best `n` documents by blended score, without scoring every match.
//!
//! A blended score is the text score times a factor in `[1, cap]` ([`crate::blend`]), so a
//! document whose text score is at most `kth_best / cap` cannot enter the top `n`. The collector
//! hands that bound to the query's [`Weight::for_each_pruning`] as a text-score threshold, and
//! every weight that can skip what falls under a threshold does: tantivy's block-max WAND for
//! unions and intersections of terms, [`crate::cached`] clauses by reading their documents best
//! first, [`crate::restrict`] passing it through. The answer is exactly the unpruned top `n`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::collect::SegmentFacts;
use crate::prior::Prior;

/// Collects the best `n` documents by `score(facts, doc, text)`, which must lie within
/// `[text, text × cap]` for every non-negative text score (the blend's contract).
pub(crate) struct TopBlended<F> {
    n: usize,
    cap: Score,
    prior: Option<Arc<dyn Prior>>,
    score: F,
}

impl<F> TopBlended<F>
where
    F: Fn(&SegmentFacts, DocId, Score) -> Score + Send + Sync + 'static,
{
    /// At least one document is collected; `cap` below 1 counts as 1.
    pub(crate) fn new(n: usize, cap: Score, prior: Option<Arc<dyn Prior>>, score: F) -> Self {
        TopBlended {
            n: n.max(1),
            cap: if cap.is_finite() { cap.max(1.0) } else { 1.0 },
            prior,
            score,
        }
    }
}

/// One collected document: ordered so that the heap's top is the weakest (lowest score, and
/// among equal scores the later document, as tantivy's `TopDocs` breaks ties).
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: Score,
    doc: DocId,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// "Greater" is weaker, so a max-heap keeps the weakest on top.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.doc.cmp(&other.doc))
    }
}

/// The best documents of one segment.
pub(crate) struct SegmentTop {
    segment: SegmentOrdinal,
    best: Vec<Entry>,
}

impl<F> Collector for TopBlended<F>
where
    F: Fn(&SegmentFacts, DocId, Score) -> Score + Send + Sync + 'static,
{
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        _: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            segment,
            best: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Score, DocAddress)>>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.n);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let facts = SegmentFacts::open(reader, self.prior.clone());
        let alive = reader.alive_bitset();
        let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(self.n + 1);
        let mut threshold = Score::MIN;
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, text| {
            if alive.is_some_and(|alive| !alive.is_alive(doc)) {
                return threshold;
            }
            let entry = Entry {
                score: (self.score)(&facts, doc, text),
                doc,
            };
            if heap.len() < self.n {
                heap.push(entry);
            } else if heap.peek().is_some_and(|weakest| entry < *weakest) {
                heap.pop();
                heap.push(entry);
            }
            if heap.len() == self.n
                && let Some(weakest) = heap.peek()
            {
                threshold = text_bound(weakest.score, self.cap);
            }
            threshold
        })?;
        let top = SegmentTop {
            segment,
            best: heap.into_vec(),
        };
        Ok(top.harvest())
    }
}

/// The text score at or under which a document cannot beat `kth` once blended (at most `cap`
/// times its text score), kept a hair low so rounding never prunes a document that ties.
fn text_bound(kth: Score, cap: Score) -> Score {
    let bound = kth / cap;
    bound - bound.abs() * 1e-5
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(Score, DocAddress)>;

    /// Unused: [`TopBlended::collect_segment`] fills the segment's best itself.
    fn collect(&mut self, doc: DocId, score: Score) {
        self.best.push(Entry { score, doc });
    }

    fn harvest(self) -> Self::Fruit {
        let mut best: Vec<(Score, DocAddress)> = self
            .best
            .into_iter()
            .map(|e| (e.score, DocAddress::new(self.segment, e.doc)))
            .collect();
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weakest_is_on_top() {
        let mut heap = BinaryHeap::new();
        for (score, doc) in [(2.0, 1), (1.0, 2), (1.0, 3), (3.0, 0)] {
            heap.push(Entry { score, doc });
        }
        let weakest = heap.pop().map(|e| (e.score, e.doc));
        assert_eq!(
            weakest,
            Some((1.0, 3)),
            "equal scores: the later document is weaker"
        );
        assert_eq!(heap.pop().map(|e| e.doc), Some(2));
    }

    #[test]
    fn the_bound_never_prunes_a_tie() {
        let kth = 7.3;
        let cap = 1.5;
        let bound = text_bound(kth, cap);
        assert!(bound < kth / cap);
        assert!(bound * cap < kth);
        assert!(text_bound(kth, 1.0) < kth);
    }
}
