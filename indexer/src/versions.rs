//! External versioning, which tantivy does not do for us (docs/ARCHITECTURE.md, "Versioning").
//!
//! Every entity in a generation has exactly one live document: its searchable document or a
//! tombstone, each carrying the version (row `updated_at` in µs) it was written at. This module
//! keeps an in-memory map of those versions, rebuilt from the index's fast fields when a
//! generation is opened, and decides what an incoming version may do:
//!
//! - greater than the stored one → write it (upsert or tombstone);
//! - equal → a duplicate, nothing to do;
//! - smaller → stale, nothing to do (no regression, no resurrection after a delete).
//!
//! A live generation's map learns a write with its commit; only while a reindex streams does it
//! learn it when the write is handed to the writer (the commit overlaps the reindex's pages, see
//! `Indexer::work_until_committed`). Either way a crash or a failed commit stops the indexer
//! before the batch is acknowledged, and the map is rebuilt from the index when it opens again:
//! a redelivery is applied again, never rejected as stale and lost.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use schemas::{EntityKey, EntityKind, Version};
use tantivy::{DocId, Searcher};

/// What a generation holds for one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub version: Version,
    pub tombstone: bool,
}

/// What to do with a version read from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Write,
    Duplicate,
    Stale,
}

/// Upsert only when newer.
pub fn decide(stored: Option<Stored>, incoming: Version) -> Decision {
    match stored {
        None => Decision::Write,
        Some(stored) if incoming > stored.version => Decision::Write,
        Some(stored) if incoming == stored.version => Decision::Duplicate,
        Some(_) => Decision::Stale,
    }
}

/// Whether the generation already reflects a state at least as new as an event's floor, so the
/// event needs no database read at all.
pub fn covers(stored: Option<Stored>, floor: Version) -> Option<Decision> {
    match stored {
        Some(stored) if stored.version == floor => Some(Decision::Duplicate),
        Some(stored) if stored.version > floor => Some(Decision::Stale),
        _ => None,
    }
}

/// Entity → stored version, for one generation.
#[derive(Debug, Default, Clone)]
pub struct VersionMap {
    entries: HashMap<EntityKey, Stored, NearbyIds>,
}

/// The index's system fields could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("reading versions back from the index: {0}")]
pub struct RebuildError(String);

impl VersionMap {
    pub fn get(&self, key: &EntityKey) -> Option<Stored> {
        self.entries.get(key).copied()
    }

    pub fn set(&mut self, key: EntityKey, stored: Stored) {
        self.entries.insert(key, stored);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&EntityKey, &Stored)> {
        self.entries.iter()
    }

    /// The entries of `kind` with ids in `(after, through]` (no `through`: every id above
    /// `after`). A bounded range no wider than the map is probed id by id, so a reconcile
    /// sweep's steps cost their width, not the whole map each; otherwise the map is scanned.
    pub fn within(
        &self,
        kind: EntityKind,
        after: i64,
        through: Option<i64>,
    ) -> Vec<(EntityKey, Stored)> {
        let in_range = |id: i64| id > after && through.is_none_or(|t| id <= t);
        match through {
            Some(through) if through.saturating_sub(after) <= self.entries.len() as i64 => {
                (after.saturating_add(1)..=through)
                    .filter_map(|id| {
                        let key = EntityKey::new(kind, id);
                        self.get(&key).map(|stored| (key, stored))
                    })
                    .collect()
            }
            _ => (self.entries.iter())
                .filter(|(key, _)| key.kind == kind && in_range(key.id))
                .map(|(key, stored)| (*key, *stored))
                .collect(),
        }
    }

    /// Reads `kind`, `id`, `version` and `tombstone` of every live document from fast fields.
    pub fn rebuild(searcher: &Searcher) -> Result<VersionMap, RebuildError> {
        let err = |e: tantivy::TantivyError| RebuildError(e.to_string());
        let mut map = VersionMap::default();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let kinds = fast
                .str("kind")
                .map_err(err)?
                .ok_or_else(|| RebuildError("field `kind` is not a fast field".into()))?;
            let ids = fast.i64("id").map_err(err)?;
            let versions = fast.u64("version").map_err(err)?;
            let tombstones = fast.u64("tombstone").map_err(err)?;
            // Dictionary ordinal → kind, resolved once per segment.
            let mut kind_of_ord: HashMap<u64, Option<EntityKind>> = HashMap::new();
            let mut text = String::new();
            let alive: Box<dyn Iterator<Item = DocId>> = match segment.alive_bitset() {
                Some(bitset) => {
                    Box::new((0..segment.max_doc()).filter(move |d| bitset.is_alive(*d)))
                }
                None => Box::new(0..segment.max_doc()),
            };
            for doc in alive {
                let Some(ord) = kinds.term_ords(doc).next() else {
                    continue;
                };
                let kind = match kind_of_ord.get(&ord) {
                    Some(kind) => *kind,
                    None => {
                        text.clear();
                        kinds
                            .ord_to_str(ord, &mut text)
                            .map_err(|e| RebuildError(e.to_string()))?;
                        let kind = text.parse::<EntityKind>().ok();
                        kind_of_ord.insert(ord, kind);
                        kind
                    }
                };
                let (Some(kind), Some(id), Some(version)) =
                    (kind, ids.first(doc), versions.first(doc))
                else {
                    continue;
                };
                let stored = Stored {
                    version: Version(version),
                    tombstone: tombstones.first(doc).unwrap_or(0) == 1,
                };
                let key = EntityKey::new(kind, id);
                let keep = map
                    .get(&key)
                    .is_none_or(|held| held.version < stored.version);
                if keep {
                    map.set(key, stored);
                }
            }
        }
        Ok(map)
    }
}

/// Hashes entity keys so that runs of 64 consecutive ids of a kind land in neighbouring
/// buckets, each run somewhere else. A reindex looks up every row of a page (consecutive ids)
/// in every writable generation's map, and with a scattering hash each lookup would be a cache
/// miss. Only the run's place is scattered; the top bits, which the table compares before the
/// keys, still differ per key.
#[derive(Debug, Default, Clone, Copy)]
struct NearbyIds;

impl BuildHasher for NearbyIds {
    type Hasher = NearbyIdsHasher;

    fn build_hasher(&self) -> NearbyIdsHasher {
        NearbyIdsHasher::default()
    }
}

/// See [`NearbyIds`]: the id (the key's one `i64`) is kept apart, everything else is mixed.
#[derive(Debug, Default)]
struct NearbyIdsHasher {
    mixed: u64,
    id: u64,
}

const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
const RUN_BITS: u32 = 6;
/// The bits the table keeps as a tag and compares first (hashbrown: the top 7).
const TAG_BITS: u64 = 0xFE00_0000_0000_0000;

impl Hasher for NearbyIdsHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.mixed = (self.mixed ^ u64::from(byte)).wrapping_mul(MIX);
        }
    }

    fn write_i64(&mut self, id: i64) {
        self.id = id as u64;
    }

    fn finish(&self) -> u64 {
        let run = (self.mixed ^ (self.id >> RUN_BITS)).wrapping_mul(MIX);
        let place = (run << RUN_BITS) | (self.id & ((1 << RUN_BITS) - 1));
        let tag = (self.mixed ^ self.id)
            .wrapping_mul(MIX)
            .rotate_left(29)
            .wrapping_mul(MIX);
        (place & !TAG_BITS) | (tag & TAG_BITS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: Stored = Stored {
        version: Version(200),
        tombstone: false,
    };

    const GONE: Stored = Stored {
        version: Version(200),
        tombstone: true,
    };

    /// Consecutive ids of a kind share a run of buckets (the low bits are the id's); other runs
    /// and other kinds go elsewhere; the tag bits still tell the keys of a run apart.
    #[test]
    fn nearby_ids_keep_runs_together_and_apart() {
        let hash = |kind, id| NearbyIds.hash_one(EntityKey::new(kind, id));
        let place = |h: u64| h & !TAG_BITS;
        let run: Vec<u64> = (128..192).map(|id| hash(EntityKind::Track, id)).collect();
        for (offset, h) in run.iter().enumerate() {
            assert_eq!(
                place(*h),
                place(run[0]) + offset as u64,
                "one run, in id order"
            );
        }
        let tags: std::collections::HashSet<u64> = run.iter().map(|h| h & TAG_BITS).collect();
        assert!(tags.len() > 32, "tags differ within a run: {}", tags.len());
        let next_run = hash(EntityKind::Track, 192);
        assert!(
            place(next_run).abs_diff(place(run[0])) > 1 << 20,
            "the next run is elsewhere"
        );
        assert_ne!(
            place(hash(EntityKind::User, 128)) >> RUN_BITS,
            place(run[0]) >> RUN_BITS,
            "another kind's run is elsewhere"
        );
    }

    #[test]
    fn entries_within_a_span_are_found_by_probing_or_by_scanning() {
        let mut map = VersionMap::default();
        for id in [2, 4, 5, 9, 1_000_000] {
            map.set(EntityKey::new(EntityKind::Track, id), LIVE);
        }
        map.set(EntityKey::new(EntityKind::User, 4), GONE);
        let ids = |found: Vec<(EntityKey, Stored)>| {
            let mut ids: Vec<i64> = found.into_iter().map(|(key, _)| key.id).collect();
            ids.sort_unstable();
            ids
        };
        // Narrow: probed id by id; other kinds left out.
        assert_eq!(ids(map.within(EntityKind::Track, 2, Some(5))), [4, 5]);
        assert_eq!(ids(map.within(EntityKind::User, 2, Some(5))), [4]);
        // Wider than the map, or open-ended: scanned.
        assert_eq!(
            ids(map.within(EntityKind::Track, i64::MIN, Some(4))),
            [2, 4]
        );
        assert_eq!(ids(map.within(EntityKind::Track, 5, None)), [9, 1_000_000]);
    }

    #[test]
    fn only_newer_versions_are_written() {
        assert_eq!(decide(None, Version(1)), Decision::Write);
        assert_eq!(decide(Some(LIVE), Version(201)), Decision::Write);
        assert_eq!(decide(Some(LIVE), Version(200)), Decision::Duplicate);
        assert_eq!(decide(Some(LIVE), Version(199)), Decision::Stale);
    }

    #[test]
    fn a_tombstone_blocks_older_rows_from_coming_back() {
        assert_eq!(decide(Some(GONE), Version(150)), Decision::Stale);
        assert_eq!(decide(Some(GONE), Version(250)), Decision::Write);
    }

    #[test]
    fn an_event_at_or_below_the_stored_version_needs_no_read() {
        assert_eq!(covers(Some(LIVE), Version(200)), Some(Decision::Duplicate));
        assert_eq!(covers(Some(GONE), Version(100)), Some(Decision::Stale));
        assert_eq!(covers(Some(LIVE), Version(201)), None);
        assert_eq!(covers(None, Version(1)), None);
    }
}
