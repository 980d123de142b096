//! Reading results out of a searcher: counts per kind, the top documents by blended score,
//! and the stored display fields of each hit.

use std::sync::{Arc, LazyLock, OnceLock};

use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::fastfield::FastFieldReaders;
use tantivy::schema::Value;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument};

use schemas::{EntityKey, EntityKind};

use crate::layout::{self, Layout};
use crate::prior::{Prior, SegmentMemo};

/// Matches per kind, in [`EntityKind::ALL`] order.
pub type KindCounts = [u64; 4];

pub(crate) fn kind_index(kind: EntityKind) -> usize {
    EntityKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Counts matching documents per kind (from each segment's kind array; no scoring).
pub struct CountByKind;

/// One segment's counts.
pub struct SegmentCountByKind {
    kinds: Arc<[u8]>,
    counts: KindCounts,
}

/// A document without a (known) kind in [`segment_kinds`].
const NO_KIND: u8 = u8::MAX;

/// Every segment's kind per document, as an index into [`EntityKind::ALL`]: read from the
/// `kind` column once per segment (segments never change), so counting a match is one array
/// read rather than a column lookup. Bounded like every [`SegmentMemo`].
static KINDS: LazyLock<SegmentMemo<u8>> = LazyLock::new(SegmentMemo::default);

pub(crate) fn segment_kinds(segment: &SegmentReader) -> tantivy::Result<Arc<[u8]>> {
    // The column is opened only to fill the memo: opening it decodes its block index.
    let mut failed = None;
    let kinds = KINDS.get_or_compute(segment.segment_id(), || {
        let column = match segment.fast_fields().str(layout::KIND) {
            Ok(column) => column,
            Err(error) => {
                failed = Some(error);
                None
            }
        };
        let Some(column) = column else {
            return vec![NO_KIND; segment.max_doc() as usize].into();
        };
        let ords = ord_kinds(&column);
        (0..segment.max_doc())
            .map(|doc| {
                column
                    .ords()
                    .first(doc)
                    .and_then(|ord| ords.get(ord as usize).copied().flatten())
                    .map_or(NO_KIND, |i| i as u8)
            })
            .collect()
    });
    match failed {
        // Not kept: the memo's entry is forgotten so the next search tries again.
        Some(error) => {
            KINDS.forget(segment.segment_id());
            Err(error)
        }
        None => Ok(kinds),
    }
}

/// The kind of each term ordinal of a segment's `kind` column.
fn ord_kinds(column: &StrColumn) -> Vec<Option<usize>> {
    let mut text = String::new();
    (0..column.dictionary().num_terms() as u64)
        .map(|ord| {
            let found = column.ord_to_str(ord, &mut text).unwrap_or(false);
            found
                .then(|| text.parse::<EntityKind>().ok().map(kind_index))
                .flatten()
        })
        .collect()
}

impl Collector for CountByKind {
    type Fruit = KindCounts;
    type Child = SegmentCountByKind;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        Ok(SegmentCountByKind {
            kinds: segment_kinds(segment)?,
            counts: [0; 4],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<KindCounts>) -> tantivy::Result<KindCounts> {
        let mut total = [0; 4];
        for fruit in fruits {
            for (t, n) in total.iter_mut().zip(fruit) {
                *t += n;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for SegmentCountByKind {
    type Fruit = KindCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(count) = self
            .kinds
            .get(doc as usize)
            .and_then(|kind| self.counts.get_mut(usize::from(*kind)))
        {
            *count += 1;
        }
    }

    fn harvest(self) -> KindCounts {
        self.counts
    }
}

/// What scoring a document needs besides its text score: who it is and its prior.
///
/// Columns are opened on first use: opening one decodes its block index (thousands of blocks
/// in a large segment), and a search whose prior keeps memoized strengths reads none of them.
pub(crate) struct SegmentFacts {
    /// The segment's kind array ([`segment_kinds`]).
    kinds: Option<Arc<[u8]>>,
    fast: FastFieldReaders,
    ids: OnceLock<Option<Column<i64>>>,
    popularity: OnceLock<Option<Column<f64>>>,
    created_at: OnceLock<Option<Column<tantivy::DateTime>>>,
    /// The search's prior, if it blends with one.
    prior: Option<Arc<dyn Prior>>,
    /// Every document's strength under `prior`, when the prior memoizes them.
    strengths: Option<Arc<[f32]>>,
}

impl SegmentFacts {
    /// The segment's facts; with a memoizing `prior`, its strengths too (computed once per
    /// segment and prior, see [`crate::prior::SegmentMemo`]).
    pub(crate) fn open(segment: &SegmentReader, prior: Option<Arc<dyn Prior>>) -> SegmentFacts {
        let mut facts = SegmentFacts {
            kinds: segment_kinds(segment).ok(),
            fast: segment.fast_fields().clone(),
            ids: OnceLock::new(),
            popularity: OnceLock::new(),
            created_at: OnceLock::new(),
            prior: None,
            strengths: None,
        };
        if let Some(prior) = prior.as_deref()
            && let Some(memo) = prior.memo()
        {
            let strengths = memo.get_or_compute(segment.segment_id(), || {
                (0..segment.max_doc())
                    .map(|doc| facts.lookup(prior, doc))
                    .collect()
            });
            facts.strengths = Some(strengths);
        }
        facts.prior = prior;
        facts
    }

    fn ids(&self) -> Option<&Column<i64>> {
        self.ids
            .get_or_init(|| self.fast.i64(layout::ID).ok())
            .as_ref()
    }

    pub(crate) fn key(&self, doc: DocId) -> Option<EntityKey> {
        let kind = *self.kinds.as_ref()?.get(doc as usize)?;
        let kind = *EntityKind::ALL.get(usize::from(kind))?;
        Some(EntityKey::new(kind, self.ids()?.first(doc)?))
    }

    pub(crate) fn popularity(&self, doc: DocId) -> f64 {
        self.popularity
            .get_or_init(|| self.fast.f64(layout::POPULARITY).ok())
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(0.0)
    }

    /// The prior strength of `doc` (0 without a prior): from the segment's memo when the prior
    /// keeps one, else looked up.
    pub(crate) fn strength(&self, doc: DocId) -> f32 {
        match (&self.strengths, self.prior.as_deref()) {
            (Some(strengths), _) => strengths.get(doc as usize).copied().unwrap_or(0.0),
            (None, Some(prior)) => self.lookup(prior, doc),
            (None, None) => 0.0,
        }
    }

    fn lookup(&self, prior: &dyn Prior, doc: DocId) -> f32 {
        self.key(doc)
            .map_or(0.0, |key| prior.strength(key, self.popularity(doc)))
    }

    /// Creation time in µs since the epoch.
    pub(crate) fn created_micros(&self, doc: DocId) -> Option<i64> {
        Some(
            self.created_at
                .get_or_init(|| self.fast.date(layout::CREATED_AT).ok())
                .as_ref()?
                .first(doc)?
                .into_timestamp_micros(),
        )
    }
}

/// A collector of the best `n` (at least one) documents, scored by
/// `score(facts, doc, text_score)`; the facts carry `prior` (and its memoized strengths).
pub(crate) fn ranking<F>(
    n: usize,
    prior: Option<Arc<dyn Prior>>,
    score: F,
) -> impl Collector<Fruit = Vec<(Score, DocAddress)>>
where
    F: Fn(&SegmentFacts, DocId, Score) -> Score + Send + Sync + 'static,
{
    let score = Arc::new(score);
    TopDocs::with_limit(n.max(1)).tweak_score(move |segment: &SegmentReader| {
        let facts = SegmentFacts::open(segment, prior.clone());
        let score = score.clone();
        move |doc: DocId, text: Score| score(&facts, doc, text)
    })
}

/// A stored document read back for display.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: EntityKey,
    pub title: String,
    pub subtitle: String,
    pub doc: TantivyDocument,
}

/// Reads the display fields of one hit; `None` if the document lacks its identity (never
/// shown rather than shown wrong).
pub(crate) fn stored(
    searcher: &Searcher,
    layout: &Layout,
    address: DocAddress,
) -> tantivy::Result<Option<Stored>> {
    let doc: TantivyDocument = searcher.doc(address)?;
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let kind = text(layout.kind).and_then(|k| k.parse::<EntityKind>().ok());
    let id = doc.get_first(layout.id).and_then(|v| v.as_i64());
    let (Some(kind), Some(id)) = (kind, id) else {
        return Ok(None);
    };
    let title = text(layout.display_title).unwrap_or_default();
    let subtitle = text(layout.display_subtitle).unwrap_or_default();
    Ok(Some(Stored {
        key: EntityKey::new(kind, id),
        title,
        subtitle,
        doc,
    }))
}
