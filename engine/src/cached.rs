//! The postings of frequent words, materialized per segment.
//!
//! A word found in a sizeable share of the index ("the", "remix", "night") is matched in every
//! searchable field of every kind: a union of a dozen postings lists, each decoded, merged and
//! scored with BM25 for hundreds of thousands of documents, on every search that contains it.
//! [`Cached`] does that once per segment and keeps the result as two flat arrays (documents,
//! text scores), which later searches read or seek into at array speed. Lucene's query cache
//! does the same for filters; here the scores are kept too.
//!
//! A segment never changes (deletes only hide documents, and collectors skip hidden ones), so
//! an entry stays right for the segment's life but for one thing: BM25 weighs terms with the
//! whole index's statistics. An entry is therefore reused only while the index's document
//! count is within [`STATS_DRIFT`] of what it was when the entry was made; live indexing that
//! moves it further makes the next search recompute the entry. Small segments (fresh ones from
//! live indexing) are not cached: reading them is cheap and they are soon merged away.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

use crate::sorted::gallop;

/// Segments smaller than this are read directly (by default).
pub const MIN_SEGMENT_DOCS: u32 = 50_000;

/// How far (as a share of documents) the index may grow or shrink before cached scores are
/// recomputed with its new statistics.
pub const STATS_DRIFT: f64 = 0.005;

/// The memory all entries may take together; past it the cache starts over.
pub const MAX_BYTES: usize = 512 << 20;

/// Every materialized clause, by segment, clause and boost. Shared by all searches of a
/// service.
pub struct ClauseCache {
    state: Mutex<State>,
    min_segment_docs: u32,
}

impl Default for ClauseCache {
    fn default() -> Self {
        ClauseCache::with_min_segment_docs(MIN_SEGMENT_DOCS)
    }
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Arc<Postings>>,
    bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    segment: SegmentId,
    clause: Arc<str>,
    boost: u32,
}

/// One clause's matches in one segment, in document order, with their text scores.
struct Postings {
    docs: Box<[DocId]>,
    scores: Box<[Score]>,
    /// The same matches best score first (equal scores in document order): what a top-k
    /// search reads, in order, until the rest cannot make its cut. Sorted on first use: an
    /// entry that is only seeked into (a frequent word beside a rare one) never needs it.
    best_first: OnceLock<Box<[(DocId, Score)]>>,
    /// The index's document count the scores were computed with.
    num_docs: u64,
}

impl Postings {
    fn new(docs: Vec<DocId>, scores: Vec<Score>, num_docs: u64) -> Postings {
        Postings {
            docs: docs.into(),
            scores: scores.into(),
            best_first: OnceLock::new(),
            num_docs,
        }
    }

    fn best_first(&self) -> &[(DocId, Score)] {
        self.best_first.get_or_init(|| {
            let mut best: Vec<(DocId, Score)> = self
                .docs
                .iter()
                .copied()
                .zip(self.scores.iter().copied())
                .collect();
            best.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            best.into()
        })
    }

    /// The memory the entry may take (its best-first copy included, made or not).
    fn bytes(&self) -> usize {
        self.docs.len() * 2 * (size_of::<DocId>() + size_of::<Score>())
    }

    /// Calls `callback` for each document scoring above the threshold it returns, best first,
    /// and stops at the first that does not: nothing after it scores more.
    fn for_each_pruning(
        &self,
        mut threshold: Score,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) {
        for &(doc, score) in self.best_first() {
            if score <= threshold {
                break;
            }
            threshold = callback(doc, score);
        }
    }

    fn fresh_for(&self, num_docs: u64) -> bool {
        let then = self.num_docs as f64;
        (num_docs as f64 - then).abs() <= then * STATS_DRIFT
    }
}

impl ClauseCache {
    /// A cache for segments of at least `docs` documents.
    pub fn with_min_segment_docs(docs: u32) -> ClauseCache {
        ClauseCache {
            state: Mutex::default(),
            min_segment_docs: docs,
        }
    }

    /// How many entries are kept and the memory they take (for metrics and tests).
    pub fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.entries.len(), state.bytes)
    }

    /// The entry for `key`: one whose scores were computed at about `num_docs` documents, or
    /// with `None` (matching without scores) any entry, since its documents are right whatever
    /// the statistics.
    fn get(&self, key: &Key, num_docs: Option<u64>) -> Option<Arc<Postings>> {
        self.lock()
            .entries
            .get(key)
            .filter(|p| num_docs.is_none_or(|n| p.fresh_for(n)))
            .cloned()
    }

    fn put(&self, key: Key, postings: Arc<Postings>) {
        let mut state = self.lock();
        if state.bytes + postings.bytes() > MAX_BYTES {
            state.entries.clear();
            state.bytes = 0;
        }
        state.bytes += postings.bytes();
        if let Some(old) = state.entries.insert(key, postings) {
            state.bytes -= old.bytes();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `inner`, read from the cache when scoring on a large segment.
pub struct Cached {
    inner: Box<dyn Query>,
    /// What identifies `inner` (its terms, fields and boosts).
    clause: Arc<str>,
    cache: Arc<ClauseCache>,
}

impl Cached {
    pub fn new(inner: Box<dyn Query>, cache: Arc<ClauseCache>) -> Cached {
        let clause = format!("{inner:?}").into();
        Cached {
            inner,
            clause,
            cache,
        }
    }
}

impl Clone for Cached {
    fn clone(&self) -> Self {
        Cached {
            inner: self.inner.box_clone(),
            clause: self.clause.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl fmt::Debug for Cached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cached").field(&self.inner).finish()
    }
}

impl Query for Cached {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self.inner.weight(scoring)?;
        let num_docs = match scoring {
            EnableScoring::Enabled { searcher, .. } => Some(searcher.num_docs()),
            EnableScoring::Disabled { .. } => None,
        };
        Ok(Box::new(CachedWeight {
            inner,
            clause: self.clause.clone(),
            cache: self.cache.clone(),
            num_docs,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct CachedWeight {
    inner: Box<dyn Weight>,
    clause: Arc<str>,
    cache: Arc<ClauseCache>,
    /// The index's document count, when scoring (entries hold scores, so they are made and
    /// used only then).
    num_docs: Option<u64>,
}

impl CachedWeight {
    /// The clause's materialized postings in `reader` at `boost`, made now when scoring and
    /// missing; `None` for small segments, and when only matching and nothing is cached yet.
    fn postings(
        &self,
        reader: &SegmentReader,
        boost: Score,
    ) -> tantivy::Result<Option<Arc<Postings>>> {
        if reader.max_doc() < self.cache.min_segment_docs {
            return Ok(None);
        }
        let key = Key {
            segment: reader.segment_id(),
            clause: self.clause.clone(),
            boost: boost.to_bits(),
        };
        if let Some(postings) = self.cache.get(&key, self.num_docs) {
            return Ok(Some(postings));
        }
        let Some(num_docs) = self.num_docs else {
            return Ok(None);
        };
        // Materialized outside the lock: other clauses and segments need not wait.
        let mut scorer = self.inner.scorer(reader, boost)?;
        let (mut docs, mut scores) = (Vec::new(), Vec::new());
        while scorer.doc() != TERMINATED {
            docs.push(scorer.doc());
            scores.push(scorer.score());
            scorer.advance();
        }
        let postings = Arc::new(Postings::new(docs, scores, num_docs));
        self.cache.put(key, postings.clone());
        Ok(Some(postings))
    }
}

impl Weight for CachedWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        match self.postings(reader, boost)? {
            Some(postings) => Ok(Box::new(ArrayScorer::new(postings))),
            None => self.inner.scorer(reader, boost),
        }
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        match self.postings(reader, 1.0)? {
            Some(postings) => {
                for (doc, score) in postings.docs.iter().zip(postings.scores.iter()) {
                    callback(*doc, *score);
                }
                Ok(())
            }
            None => self.inner.for_each(reader, callback),
        }
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        match self.postings(reader, 1.0)? {
            Some(postings) => {
                for docs in postings.docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
                    callback(docs);
                }
                Ok(())
            }
            None => self.inner.for_each_no_score(reader, callback),
        }
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        match self.postings(reader, 1.0)? {
            Some(postings) => {
                postings.for_each_pruning(threshold, callback);
                Ok(())
            }
            None => self.inner.for_each_pruning(threshold, reader, callback),
        }
    }
}

/// Reads a materialized clause: advance is a step, seek a galloping search.
struct ArrayScorer {
    postings: Arc<Postings>,
    at: usize,
    /// `postings.docs[at]`, or [`TERMINATED`] past the end.
    doc: DocId,
}

impl ArrayScorer {
    fn new(postings: Arc<Postings>) -> ArrayScorer {
        let mut scorer = ArrayScorer {
            postings,
            at: 0,
            doc: TERMINATED,
        };
        scorer.doc = scorer.doc_at();
        scorer
    }

    fn doc_at(&self) -> DocId {
        self.postings
            .docs
            .get(self.at)
            .copied()
            .unwrap_or(TERMINATED)
    }
}

impl DocSet for ArrayScorer {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.postings.docs.len());
        self.doc = self.doc_at();
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        self.at += gallop(&self.postings.docs[self.at..], target);
        self.doc = self.doc_at();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        (self.postings.docs.len() - self.at) as u32
    }
}

impl Scorer for ArrayScorer {
    fn score(&mut self) -> Score {
        self.postings.scores.get(self.at).copied().unwrap_or(0.0)
    }
}
