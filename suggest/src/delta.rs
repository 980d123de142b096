//! The delta: changes since the last build, applied on top of it without rebuilding.
//!
//! Every entity a change touched is hidden in the build; its current state lives here. A
//! removed entity (deleted, private, taken down) is therefore never suggested even though
//! its keys are still in the FST, and a renamed one is found by its new name only. The next
//! build takes the changes in, and [`Overlay::prune`] forgets the ones it saw.

use std::collections::{BTreeSet, HashMap};

use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind};

use crate::fuzzy::prefix_distance;
use crate::normalize::{by_owner, key_text};
use crate::query::Query;
use crate::record::{Record, SuggestPrior};

/// One change to what suggest should offer, from the indexer's change stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Created, renamed or made searchable again.
    Upsert(Record),
    /// Deleted, made private, taken down, or removed outright.
    Remove(EntityKey),
}

impl Change {
    /// The change for entity `key`, which the index now holds as `row` (`None`: no longer
    /// searchable), weighed with `prior` — give it the prior the rebuild uses, so an edit
    /// leaves the entity's weight where the build put it.
    pub fn from_row(key: EntityKey, row: Option<&EntityRow>, prior: &SuggestPrior) -> Change {
        match row {
            Some(row) => Change::Upsert(Record::from_row(row, prior.of(row.key, row.popularity))),
            None => Change::Remove(key),
        }
    }

    pub fn key(&self) -> EntityKey {
        match self {
            Change::Upsert(record) => record.key,
            Change::Remove(key) => *key,
        }
    }
}

/// A live entity of the delta.
#[derive(Debug)]
struct Live {
    text: String,
    keys: Vec<String>,
    weight: f32,
}

#[derive(Debug)]
struct Touched {
    seq: u64,
    live: Option<Live>,
}

/// A match of the delta: `tier` 0 is an exact prefix, 1 and 2 are typo distances,
/// [`BY_OWNER_TIER`] an exact prefix of a name through its owner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Match<'a> {
    pub tier: u8,
    pub weight: f32,
    pub key: EntityKey,
    pub text: &'a str,
}

/// The [`Match::tier`] of a match through the owner's name ([`crate::normalize::owner_keys`]).
pub(crate) const BY_OWNER_TIER: u8 = 3;

/// Changes since the build, by entity.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    seq: u64,
    touched: HashMap<EntityKey, Touched>,
    /// Every key of every live entity, for prefix lookups.
    keys: BTreeSet<(String, EntityKey)>,
}

impl Overlay {
    /// Records `change` with its weight (already prior × kind factor), replacing whatever
    /// the delta held for that entity.
    pub fn apply(&mut self, change: Change, weight: f32) {
        self.seq += 1;
        let key = change.key();
        if let Some(old) = self.touched.remove(&key).and_then(|t| t.live) {
            for k in old.keys {
                self.keys.remove(&(k, key));
            }
        }
        let live = match change {
            Change::Remove(_) => None,
            Change::Upsert(record) => {
                let mut keys = Vec::new();
                for name in record.names() {
                    let folded = key_text(name);
                    keys.extend(crate::normalize::keys(&folded).map(str::to_string));
                    if let Some(joined) = crate::normalize::joined(&folded) {
                        keys.extend(crate::normalize::keys(&joined).map(str::to_string));
                    }
                }
                keys.extend(record.owner_keys());
                keys.sort();
                keys.dedup();
                for k in &keys {
                    self.keys.insert((k.clone(), key));
                }
                Some(Live {
                    text: record.text,
                    keys,
                    weight,
                })
            }
        };
        self.touched.insert(
            key,
            Touched {
                seq: self.seq,
                live,
            },
        );
    }

    /// The sequence number of the last change applied.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the build's entry for `key` is out of date (changed or removed since).
    pub fn hides(&self, key: EntityKey) -> bool {
        self.touched.contains_key(&key)
    }

    pub fn len(&self) -> usize {
        self.touched.len()
    }

    /// Forgets the changes up to `seq`: a build that read the database after them has them.
    pub fn prune(&mut self, seq: u64) {
        let Overlay { touched, keys, .. } = self;
        touched.retain(|key, t| {
            let keep = t.seq > seq;
            if !keep && let Some(live) = &t.live {
                for k in &live.keys {
                    keys.remove(&(k.clone(), *key));
                }
            }
            keep
        });
    }

    /// The live entities matching `query`, best tier first, then heaviest first.
    pub fn matches(&self, query: &Query, kind: Option<EntityKind>) -> Vec<Match<'_>> {
        let wanted = |key: EntityKey| kind.is_none_or(|k| k == key.kind);
        let mut found: HashMap<EntityKey, u8> = HashMap::new();
        let from = (
            query.key.clone(),
            EntityKey::new(EntityKind::Track, i64::MIN),
        );
        for (k, key) in self.keys.range(from..) {
            if !k.starts_with(&query.key) {
                break;
            }
            if wanted(*key) {
                found.insert(*key, 0);
            }
        }
        let by_owner = by_owner(&query.key);
        let from = (
            by_owner.clone(),
            EntityKey::new(EntityKind::Track, i64::MIN),
        );
        for (k, key) in self.keys.range(from..) {
            if !k.starts_with(&by_owner) {
                break;
            }
            if wanted(*key) {
                found.entry(*key).or_insert(BY_OWNER_TIER);
            }
        }
        if query.max_edits > 0 {
            for (k, key) in &self.keys {
                if !wanted(*key) || matches!(found.get(key), Some(&0 | &BY_OWNER_TIER)) {
                    continue;
                }
                if let Some(d) = prefix_distance(k, query.first, &query.rest, query.max_edits) {
                    let best = found.entry(*key).or_insert(d);
                    *best = (*best).min(d);
                }
            }
        }
        let mut matches: Vec<Match<'_>> = found
            .into_iter()
            .filter_map(|(key, tier)| {
                let live = self.touched.get(&key)?.live.as_ref()?;
                Some(Match {
                    tier,
                    weight: live.weight,
                    key,
                    text: &live.text,
                })
            })
            .collect();
        matches.sort_by(|a, b| {
            a.tier
                .cmp(&b.tier)
                .then(b.weight.total_cmp(&a.weight))
                .then(a.key.cmp(&b.key))
        });
        matches
    }
}
