//! The suggester a service holds: the current build, swapped whole, plus the delta.
//!
//! A lookup reads tiers in order — exact prefixes (of the whole name or of any word in it),
//! then exact prefixes of a name through its owner, then names one typo away, then two (only
//! when nothing matched exactly) — and within a tier the heaviest entities first, one
//! suggestion per entity, until `limit`. The build and the delta are merged in every tier.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use schemas::{EntityKey, EntityKind};
use serde::Serialize;

use crate::delta::{BY_OWNER_TIER, Change, Match, Overlay};
use crate::fuzzy;
use crate::index::{SuggestIndex, lane_of};
use crate::normalize::by_owner;
use crate::query::Query;
use crate::record::KindFactors;
use crate::topk::TopK;

/// Most suggestions one lookup returns.
pub const MAX_LIMIT: usize = 100;

/// One suggestion, as `GET /suggest` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub kind: EntityKind,
    pub id: i64,
    /// The display name.
    pub text: String,
    /// The entity's page, e.g. `/tracks/42`.
    pub url: String,
}

impl Suggestion {
    fn new(key: EntityKey, text: &str) -> Suggestion {
        Suggestion {
            kind: key.kind,
            id: key.id,
            text: text.to_string(),
            url: key.url(),
        }
    }

    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.kind, self.id)
    }
}

/// Where the delta stood when a build started reading the database; see [`Suggester::install`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64);

/// The typeahead engine a service shares between threads (`Arc<Suggester>`).
///
/// ```
/// use schemas::{EntityKey, EntityKind};
/// use suggest::{Change, Record, SuggestIndex, Suggester};
///
/// let track = EntityKey::new(EntityKind::Track, 7);
/// let suggester = Suggester::new(SuggestIndex::build(
///     vec![Record::new(track, "Beyoncé — Halo", 3.0)],
///     &Default::default(),
/// ));
/// assert_eq!(suggester.suggest("beyon", None, 10)[0].url, "/tracks/7");
/// assert_eq!(suggester.suggest("halo", Some(EntityKind::User), 10), vec![]);
/// suggester.apply(Change::Remove(track)); // deleted: gone at once, no rebuild
/// assert!(suggester.suggest("beyon", None, 10).is_empty());
/// ```
pub struct Suggester {
    index: RwLock<Arc<SuggestIndex>>,
    overlay: RwLock<Overlay>,
    factors: KindFactors,
}

impl Suggester {
    pub fn new(index: SuggestIndex) -> Suggester {
        Suggester::with_factors(index, KindFactors::default())
    }

    /// A suggester whose delta weighs changes with `factors` (use the build's).
    pub fn with_factors(index: SuggestIndex, factors: KindFactors) -> Suggester {
        Suggester {
            index: RwLock::new(Arc::new(index)),
            overlay: RwLock::new(Overlay::default()),
            factors,
        }
    }

    /// The build in use.
    pub fn index(&self) -> Arc<SuggestIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn factors(&self) -> KindFactors {
        self.factors
    }

    /// Changes held by the delta (a hint for when to rebuild).
    pub fn delta_len(&self) -> usize {
        self.overlay().len()
    }

    /// Applies a live change: visible to the next lookup.
    pub fn apply(&self, change: Change) {
        let weight = match &change {
            Change::Remove(_) => 0.0,
            Change::Upsert(record) => match record.prior {
                Some(prior) => self.factors.weight(record.key.kind, prior),
                None => {
                    let index = self.index();
                    index
                        .entities
                        .find(record.key)
                        .map_or(0.0, |o| index.entities.weight[o as usize])
                }
            },
        };
        self.overlay
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply(change, weight);
    }

    /// Call before reading the database for a rebuild, and give the mark to [`install`].
    ///
    /// [`install`]: Suggester::install
    pub fn mark(&self) -> Mark {
        Mark(self.overlay().seq())
    }

    /// Swaps in a new build, atomically for readers. Changes applied before `since` were in
    /// the database the build read, so the delta forgets them; later ones stay on top.
    pub fn install(&self, index: SuggestIndex, since: Mark) {
        let index = Arc::new(index);
        // Both locks at once, so no lookup sees the new build with the old delta's hiding
        // of changes it already has (harmless) or the reverse (a removed entity reappearing).
        let mut overlay = self.overlay.write().unwrap_or_else(|e| e.into_inner());
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        overlay.prune(since.0);
    }

    fn overlay(&self) -> RwLockReadGuard<'_, Overlay> {
        self.overlay.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Up to `limit` (at most [`MAX_LIMIT`]) suggestions for `text`, optionally of one kind.
    pub fn suggest(&self, text: &str, kind: Option<EntityKind>, limit: usize) -> Vec<Suggestion> {
        let limit = limit.min(MAX_LIMIT);
        let Some(query) = Query::parse(text) else {
            return Vec::new();
        };
        if limit == 0 {
            return Vec::new();
        }
        let overlay = self.overlay();
        let index = self.index();
        let lanes: Vec<usize> = match kind {
            Some(k) => vec![lane_of(k)],
            None => (0..4).collect(),
        };
        let extra = overlay.matches(&query, kind);
        // Exact prefixes: the heaviest few times `limit` of them, then the names that start
        // with what was typed ahead of those where it starts a later word ("th" → "The Clash"
        // before "Balls to the Wall"), a name that is exactly the text first of all; weight
        // orders each group.
        let mut out = Picker {
            out: Vec::with_capacity(limit * EXACT_POOL),
            limit: limit * EXACT_POOL,
        };
        let mut exact = TopK::new(&index.lanes);
        let keys = index.prefix_range(query.key.as_bytes());
        for &lane in &lanes {
            exact.add(lane, keys.clone());
        }
        out.fill(&index, &overlay, exact, tier(&extra, 0));
        out.out
            .sort_by_cached_key(|s| where_typed(&s.text, &query.key));
        out.out.truncate(limit);
        out.limit = limit;

        // Then names through their owner ("iron maiden fe" → Iron Maiden's "Fear of the
        // Dark"): after every name of its own, so "iro" shows the titles that start so first.
        if !out.full() {
            let mut owned = TopK::new(&index.lanes);
            let keys = index.prefix_range(by_owner(&query.key).as_bytes());
            for &lane in &lanes {
                owned.add(lane, keys.clone());
            }
            out.fill(&index, &overlay, owned, tier(&extra, BY_OWNER_TIER));
        }

        // Typo tiers, each walked only when the ones before left room. A query that matched
        // exactly was most likely typed right: it is filled up with one-edit neighbours only,
        // which keeps every keystroke of a correctly typed name cheap.
        let reach = if out.out.is_empty() {
            query.max_edits
        } else {
            query.max_edits.min(1)
        };
        for distance in 1..=reach {
            if out.full() {
                break;
            }
            let hits = fuzzy::walk(index.keys.as_fst(), query.first, &query.rest, distance);
            let mut typos = TopK::new(&index.lanes);
            for &lane in &lanes {
                // The walk yields ranges in key order, so each lane is read front to back.
                let ranges = hits.iter().filter(|h| h.distance == distance);
                typos.add_all(lane, ranges.map(|h| h.keys.clone()));
            }
            out.fill(&index, &overlay, typos, tier(&extra, distance));
        }
        out.out
    }
}

/// How many times `limit` exact prefix matches are weighed for where the typed text falls.
const EXACT_POOL: usize = 3;

/// Where `typed` (already a key) falls in the display name `name`: 0 the whole name, 1 its
/// start, 2 a later word.
fn where_typed(name: &str, typed: &str) -> u8 {
    let name = crate::normalize::key_text(name);
    if name == typed {
        0
    } else if name.starts_with(typed) {
        1
    } else {
        2
    }
}

fn tier<'a>(matches: &'a [Match<'a>], tier: u8) -> impl Iterator<Item = &'a Match<'a>> {
    matches.iter().filter(move |m| m.tier == tier)
}

/// The suggestions so far, one per entity.
struct Picker {
    out: Vec<Suggestion>,
    limit: usize,
}

impl Picker {
    fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    fn push(&mut self, key: EntityKey, text: &str) {
        if !self
            .out
            .iter()
            .any(|s| s.kind == key.kind && s.id == key.id)
        {
            self.out.push(Suggestion::new(key, text));
        }
    }

    /// Adds one tier: the build's postings (heaviest first, skipping what the delta hides)
    /// merged by weight with the delta's matches of that tier.
    fn fill<'a>(
        &mut self,
        index: &SuggestIndex,
        overlay: &Overlay,
        base: TopK<'_>,
        extra: impl Iterator<Item = &'a Match<'a>>,
    ) {
        // An entity has a posting per matching word; hidden entities are skipped. Bound the
        // reading so a pathological tier costs a fixed amount.
        let budget = self.limit * 32 + 256;
        let entities = &index.entities;
        let mut base = base
            .take(budget)
            .filter(|&(_, o)| !overlay.hides(entities.key(o)))
            .peekable();
        let mut extra = extra.peekable();
        while !self.full() {
            let take_base = match (base.peek(), extra.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(&(w, _)), Some(m)) => w >= m.weight,
            };
            if take_base {
                if let Some((_, o)) = base.next() {
                    self.push(entities.key(o), entities.text(o));
                }
            } else if let Some(m) = extra.next() {
                self.push(m.key, m.text);
            }
        }
    }
}
