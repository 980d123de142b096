//! Explore: recent public tracks worth a look, optionally of one genre, when nobody typed
//! anything. Score = (floor + prior strength) × ½^(age / half-life).
//!
//! Every track competes, and scoring them all would cost a pass over every track per request.
//! Instead Explore walks each segment's tracks (of the genre) in an order that does not change
//! with time ([`Recency::order_key`]), remembered per segment, prior, recency and genre
//! (segments never change; deletes are checked as it walks), and stops at the first track
//! whose best possible score ([`Recency::bound`]) cannot enter the top `limit`.

use std::collections::BinaryHeap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use tantivy::index::SegmentId;
use tantivy::query::EnableScoring;
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED};

use schemas::EntityKind;

use crate::blend::Recency;
use crate::collect::{self, SegmentFacts};
use crate::compile::{self, KeywordFilter};
use crate::highlight::escape;
use crate::layout::{GENRE, Layout};
use crate::prior::{Memo, Prior};
use crate::search::{Hit, SearchOutcome};

/// Explore's `limit` tracks at time `now_micros` (µs since the epoch).
pub fn explore(
    searcher: &Searcher,
    layout: &Layout,
    prior: Option<Arc<dyn Prior>>,
    recency: Recency,
    genre: Option<&str>,
    limit: usize,
    now_micros: i64,
) -> tantivy::Result<SearchOutcome> {
    let mut outcome = SearchOutcome {
        counts: EntityKind::ALL.iter().map(|k| (*k, 0)).collect(),
        ..SearchOutcome::default()
    };
    let keywords: Vec<KeywordFilter> = genre
        .map(|genre| KeywordFilter::new(GENRE, genre))
        .into_iter()
        .collect();
    let Some(query) = compile::every(layout, EntityKind::Track, &keywords) else {
        return Ok(outcome);
    };
    let walked = Walk {
        prior,
        recency,
        genre,
    };
    let (tracks, top) = walked.run(searcher, &*query, limit, now_micros)?;
    outcome.total = tracks;
    if let Some(count) = outcome.counts.get_mut(&EntityKind::Track) {
        *count = tracks;
    }
    for (score, address) in top {
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            outcome.hits.push(Hit {
                key: stored.key,
                highlight: escape(&stored.title),
                title: stored.title,
                subtitle: stored.subtitle,
                score,
                fuzzy: false,
                stored: stored.doc,
            });
        }
    }
    Ok(outcome)
}

/// A track's Explore score at `now_micros`.
fn score(recency: &Recency, facts: &SegmentFacts, doc: DocId, now_micros: i64) -> Score {
    let age_micros = facts
        .created_micros(doc)
        .map_or(i64::MAX, |t| now_micros.saturating_sub(t));
    let age = Duration::from_micros(age_micros.max(0).unsigned_abs());
    recency.score(facts.strength(doc), age)
}

/// What an Explore order depends on besides the segment.
struct Walk<'a> {
    prior: Option<Arc<dyn Prior>>,
    recency: Recency,
    /// The genre as asked (the query matches it); part of the memo's key.
    genre: Option<&'a str>,
}

impl Walk<'_> {
    /// The live documents `query` matches (their number) and the best `limit` of them, as a
    /// scan scoring every one would rank them (ties to the lower address), walking each
    /// segment in Explore order.
    fn run(
        &self,
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        limit: usize,
        now_micros: i64,
    ) -> tantivy::Result<(u64, Vec<(Score, DocAddress)>)> {
        let recency = self.recency;
        let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
        let mut matching = 0u64;
        let mut best: BinaryHeap<Ranked> = BinaryHeap::with_capacity(limit + 1);
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let facts = SegmentFacts::open(segment, self.prior.clone());
            let memo_key = self.key(segment);
            let order = ORDERS
                .get_or_try_compute(&memo_key, || in_order(&*weight, segment, &facts, self))?;
            if order.by_doc.is_empty() {
                // Nothing to remember (a genre no track of the segment has): cheap to find
                // again, and genres nobody has cannot crowd out the orders that matter.
                ORDERS.forget(&memo_key);
            }
            let alive = |doc| segment.alive_bitset().is_none_or(|a| a.is_alive(doc));
            matching += order.live(segment);
            for &(key, doc) in order.by_key.iter() {
                if best.len() == limit
                    && best
                        .peek()
                        .is_none_or(|worst| recency.bound(key, now_micros) < worst.score)
                {
                    break;
                }
                if !alive(doc) {
                    continue;
                }
                let candidate = Ranked {
                    score: score(&recency, &facts, doc, now_micros),
                    address: DocAddress::new(ord as u32, doc),
                };
                if best.len() < limit {
                    best.push(candidate);
                } else if best.peek().is_some_and(|worst| candidate < *worst) {
                    best.pop();
                    best.push(candidate);
                }
            }
        }
        let top = best
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.score, r.address))
            .collect();
        Ok((matching, top))
    }
}

/// The segment's documents that `weight` matches (deleted or not), in `walk`'s order.
fn in_order(
    weight: &dyn tantivy::query::Weight,
    segment: &SegmentReader,
    facts: &SegmentFacts,
    walk: &Walk,
) -> tantivy::Result<Arc<Order>> {
    let recency = walk.recency;
    let mut scorer = weight.scorer(segment, 1.0)?;
    let mut by_doc = Vec::new();
    let mut doc = scorer.doc();
    while doc != TERMINATED {
        by_doc.push(doc);
        doc = scorer.advance();
    }
    let mut by_key: Vec<(f64, DocId)> = (by_doc.iter())
        .map(|&doc| {
            let key = recency.order_key(facts.strength(doc), facts.created_micros(doc));
            (key, doc)
        })
        .collect();
    by_key.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(Arc::new(Order {
        _prior: walk.prior.as_ref().map(Arc::downgrade),
        by_key: by_key.into(),
        by_doc: by_doc.into(),
        live: Mutex::new(None),
    }))
}

/// One segment's matching documents (deleted or not) for one prior and recency.
struct Order {
    /// Keeps the prior's address (part of the memo's key) from being reused while this lives.
    _prior: Option<Weak<dyn Prior>>,
    /// Best [`Recency::order_key`] first; ties by document.
    by_key: Box<[(f64, DocId)]>,
    /// In document order, for counting the live ones.
    by_doc: Box<[DocId]>,
    /// The live ones' number, and the segment's deleted count it was taken at (deletes only
    /// grow, so the count holds until that number changes).
    live: Mutex<Option<(u32, u64)>>,
}

impl Order {
    /// How many of the matching documents are not deleted.
    fn live(&self, segment: &SegmentReader) -> u64 {
        let Some(alive) = segment.alive_bitset() else {
            return self.by_doc.len() as u64;
        };
        let deleted = segment.num_deleted_docs();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match *live {
            Some((at, count)) if at == deleted => count,
            _ => {
                let count = self.by_doc.iter().filter(|&&d| alive.is_alive(d)).count() as u64;
                *live = Some((deleted, count));
                count
            }
        }
    }
}

/// A candidate for the top; "less" is better (higher score, then lower address), so a
/// max-heap keeps the worst of the best on top.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: Score,
    address: DocAddress,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.score.total_cmp(&self.score)).then(self.address.cmp(&other.address))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

/// Orders remembered before the memo forgets them all: a few dozen segments times every genre
/// asked for (segments come and go with merges; a forgotten order is sorted again on its next
/// Explore). A genre's orders hold only its tracks, so all genres together hold about one
/// order's worth of entries.
const ORDER_SEGMENTS: usize = 4096;

/// Every segment's Explore order per prior, recency and genre.
static ORDERS: LazyLock<Memo<OrderKey, Arc<Order>>> = LazyLock::new(|| Memo::new(ORDER_SEGMENTS));

/// What an order depends on. A prior is told apart by its address; its orders hold a weak
/// reference to it, so that address is not reused while they live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OrderKey {
    segment: SegmentId,
    prior: usize,
    half_life: Duration,
    floor: u32,
    genre: Option<String>,
}

impl Walk<'_> {
    fn key(&self, segment: &SegmentReader) -> OrderKey {
        OrderKey {
            segment: segment.segment_id(),
            prior: (self.prior.as_ref()).map_or(0, |p| Arc::as_ptr(p).cast::<()>() as usize),
            half_life: self.recency.half_life,
            floor: self.recency.floor.to_bits(),
            genre: self.genre.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::CountByKind;
    use crate::prior::{Memoized, PopularityPrior};
    use chrono::{TimeZone, Utc};
    use schemas::definition::Definitions;
    use schemas::row::EntityRow;
    use schemas::{EntityKey, Version};

    /// Tracks over three segments: uploads an hour apart (a few in the future, one a week
    /// before the rest), popularity all over, some updated (deleted in their old segment),
    /// some deleted outright, some tombstones, and users who must never appear.
    fn catalog() -> (Searcher, Layout, i64) {
        let defs = Definitions::builtin();
        let (index, mut writer) = crate::test_index::in_ram(&defs);
        let start = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        let track = |id: i64, hours: i64, popularity: f64| {
            let at = start + chrono::Duration::hours(hours);
            EntityRow::new(
                EntityKey::new(EntityKind::Track, id),
                Version::from_datetime(at),
                at,
            )
            .with("title", format!("Track {id}").as_str())
            .with("genre", if id % 3 == 0 { "Jazz" } else { "Rock" })
            .with_popularity(popularity)
        };
        for segment in 0..3i64 {
            for n in 0..400i64 {
                let id = segment * 400 + n;
                let hours = if id == 7 { -24 * 7 } else { id };
                // A spread of strengths, with runs of equal ones (ties broken by address).
                let popularity = ((id * 7919) % 97) as f64 * if id % 5 == 0 { 10.0 } else { 0.3 };
                writer
                    .add_document(defs.render(&track(id, hours, popularity)).expect("renders"))
                    .expect("add");
            }
            for n in 0..5i64 {
                let user = EntityKey::new(EntityKind::User, segment * 10 + n);
                let row = EntityRow::new(user, Version::from_datetime(start), start)
                    .with("username", "someone");
                writer
                    .add_document(defs.render(&row).expect("renders"))
                    .expect("add");
            }
            if segment > 0 {
                // Updates: the newer copy lands here, the older one is deleted.
                for id in (0..segment * 400).step_by(37) {
                    writer.delete_term(defs.key_term(EntityKey::new(EntityKind::Track, id)));
                    let doc = defs.render(&track(id, id + 5, 50.0)).expect("renders");
                    writer.add_document(doc).expect("add");
                }
                for id in (3..segment * 400).step_by(101) {
                    let key = EntityKey::new(EntityKind::Track, id);
                    writer.delete_term(defs.key_term(key));
                    writer
                        .add_document(defs.tombstone(key, Version(1)))
                        .expect("tombstone");
                }
            }
            writer.commit().expect("commit");
        }
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        let layout = Layout::from_definitions(&defs).expect("layout");
        let last = start + chrono::Duration::hours(1200);
        (searcher, layout, last.timestamp_micros())
    }

    /// What Explore did before it walked: score every matching track, keep the best.
    fn scan(
        searcher: &Searcher,
        query: &dyn tantivy::query::Query,
        prior: Option<Arc<dyn Prior>>,
        recency: Recency,
        limit: usize,
        now: i64,
    ) -> (u64, Vec<(Score, DocAddress)>) {
        let counts = searcher.search(query, &CountByKind).expect("count");
        let ranking = collect::ranking(limit, prior, move |f, d, _| score(&recency, f, d, now));
        let mut top = searcher.search(query, &ranking).expect("scan");
        top.truncate(limit);
        (counts.iter().sum(), top)
    }

    #[test]
    fn walking_in_order_ranks_and_counts_exactly_like_scoring_every_track() {
        let (searcher, layout, last) = catalog();
        let popularity: Arc<dyn Prior> = Arc::new(Memoized::new(PopularityPrior::default()));
        let unmemoized: Arc<dyn Prior> = Arc::new(PopularityPrior { k: 3.0 });
        let hour = 3_600_000_000i64;
        for genre in [None, Some("jazz"), Some("no such genre")] {
            let keywords: Vec<KeywordFilter> = (genre.iter())
                .map(|g| KeywordFilter::new(GENRE, *g))
                .collect();
            let query = compile::every(&layout, EntityKind::Track, &keywords).expect("query");
            for prior in [None, Some(popularity.clone()), Some(unmemoized.clone())] {
                for half_life_hours in [1u64, 24, 24 * 7, 24 * 365] {
                    let recency = Recency {
                        half_life: Duration::from_secs(half_life_hours * 3600),
                        floor: 0.1,
                    };
                    // Now: mid-catalog (later uploads are in the future), at the end, a year on.
                    for now in [last - 600 * hour, last, last + 24 * 365 * hour] {
                        for limit in [0, 1, 10, 100, 2000] {
                            let scanned =
                                scan(&searcher, &*query, prior.clone(), recency, limit, now);
                            let walk = Walk {
                                prior: prior.clone(),
                                recency,
                                genre,
                            };
                            let walked = walk.run(&searcher, &*query, limit, now).expect("walk");
                            assert_eq!(
                                walked, scanned,
                                "{genre:?}, limit {limit}, half-life {half_life_hours} h, now {now}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn explore_without_a_genre_counts_only_live_tracks() {
        let (searcher, layout, last) = catalog();
        let outcome =
            explore(&searcher, &layout, None, Recency::default(), None, 5, last).expect("explore");
        // 1,200 tracks, less those tombstoned (ids 3 + 101k below 800).
        let tombstoned: std::collections::BTreeSet<i64> = (1..3)
            .flat_map(|segment| (3..segment * 400).step_by(101))
            .collect();
        let live = 1200 - tombstoned.len() as u64;
        assert_eq!(outcome.total, live);
        assert_eq!(outcome.counts[&EntityKind::Track], live);
        assert_eq!(outcome.counts[&EntityKind::User], 0);
        assert_eq!(outcome.hits.len(), 5);
        let jazz = explore(
            &searcher,
            &layout,
            None,
            Recency::default(),
            Some("jazz"),
            5,
            last,
        )
        .expect("explore jazz");
        assert!(jazz.total < live && jazz.total > 0, "{}", jazz.total);
    }
}
