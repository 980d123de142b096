//! Documents from a sorted list: what a clause reads when its matches were gathered up front
//! (a typo's expansions, a materialized clause), rather than decoded from postings as it goes.

use tantivy::{DocId, DocSet, TERMINATED};

/// The position of the first of `docs` (sorted, ascending) at or after `target`: a gallop to a
/// window that holds it, then a binary search of the window. Seeks mostly land near where the
/// reader stands, which a gallop finds in a few steps however long the list.
pub(crate) fn gallop(docs: &[DocId], target: DocId) -> usize {
    let mut end = 1;
    while end < docs.len() && docs[end] < target {
        end *= 2;
    }
    let window = &docs[end / 2..end.min(docs.len())];
    end / 2 + window.partition_point(|d| *d < target)
}

/// A [`DocSet`] over a sorted list of distinct documents.
pub(crate) struct SortedDocs {
    docs: Vec<DocId>,
    at: usize,
}

impl SortedDocs {
    /// `docs` must be sorted and distinct.
    pub(crate) fn new(docs: Vec<DocId>) -> SortedDocs {
        debug_assert!(docs.windows(2).all(|w| w[0] < w[1]));
        SortedDocs { docs, at: 0 }
    }
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc() >= target {
            return self.doc();
        }
        self.at += gallop(&self.docs[self.at..], target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        (self.docs.len() - self.at) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeks_land_on_the_first_document_at_or_after_the_target() {
        let docs: Vec<DocId> = (0..1000).map(|d| d * 3).collect();
        for target in [0, 1, 3, 4, 299, 300, 2996, 2997] {
            let mut set = SortedDocs::new(docs.clone());
            let expected = docs
                .iter()
                .copied()
                .find(|d| *d >= target)
                .unwrap_or(TERMINATED);
            assert_eq!(set.seek(target), expected, "seek({target})");
        }
        let mut set = SortedDocs::new(docs);
        assert_eq!(set.seek(2998), TERMINATED);
        assert_eq!(set.advance(), TERMINATED);
    }

    #[test]
    fn advancing_reads_every_document_in_order() {
        let mut set = SortedDocs::new(vec![2, 5, 9]);
        let mut seen = vec![set.doc()];
        while set.advance() != TERMINATED {
            seen.push(set.doc());
        }
        assert_eq!(seen, [2, 5, 9]);
        assert_eq!(SortedDocs::new(Vec::new()).doc(), TERMINATED);
    }
}
