//! External versioning, which tantivy does not do for us (DESIGN.md, "Versioning").
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
//! The map is updated only after the commit that holds the write, so a crash in between means
//! a redelivery that is applied again — never a change rejected as stale and lost.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
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
    /// Fx-hashed: a reindex looks every row up in every writable generation's map, and the
    /// default SipHash took a measurable share of the build (keys are not attacker-chosen
    /// beyond ids, which a version map holds anyway).
    entries: FxHashMap<EntityKey, Stored>,
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
