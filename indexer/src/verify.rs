//! `disco verify`: is the index equal to the database?
//!
//! Every searchable row must be present at its version and show what the row renders today
//! (its display lines: a track's and a playlist's carry the owner's name); nothing else may be
//! searchable (tombstones are fine: they are how the index remembers a deletion). The report
//! counts, by kind, what is missing, what is extra, what is stale and what shows other lines,
//! with a few example ids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

use crate::IndexerError;
use crate::generations::GenerationHandle;
use crate::hydrate;
use crate::versions::VersionMap;

/// Examples kept per kind and problem.
const EXAMPLES: usize = 5;

/// Differences of one kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KindReport {
    /// Searchable rows in the database.
    pub searchable: u64,
    /// Searchable documents in the index.
    pub indexed: u64,
    /// Searchable rows with no searchable document.
    pub missing: u64,
    /// Searchable documents whose row is gone or not searchable.
    pub extra: u64,
    /// Documents at another version than their row.
    pub stale: u64,
    /// Documents at their row's version whose display lines differ from the row's (an
    /// owner renamed without its entities following).
    pub shown: u64,
    pub examples: Vec<String>,
}

impl KindReport {
    fn note(&mut self, what: &str, key: EntityKey) {
        if self.examples.len() < EXAMPLES * 3 {
            self.examples.push(format!("{what} {key}"));
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub generation: String,
    pub kinds: BTreeMap<EntityKind, KindReport>,
}

impl VerifyReport {
    /// No difference at all.
    pub fn is_clean(&self) -> bool {
        self.kinds
            .values()
            .all(|k| k.missing == 0 && k.extra == 0 && k.stale == 0 && k.shown == 0)
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {}: {}",
            self.generation,
            if self.is_clean() {
                "no difference"
            } else {
                "DIFFERENT"
            }
        )?;
        writeln!(
            f,
            "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
            "kind", "searchable", "indexed", "missing", "extra", "stale", "shown"
        )?;
        for (kind, r) in &self.kinds {
            writeln!(
                f,
                "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
                kind.as_str(),
                r.searchable,
                r.indexed,
                r.missing,
                r.extra,
                r.stale,
                r.shown
            )?;
            for example in &r.examples {
                writeln!(f, "  {example}")?;
            }
        }
        Ok(())
    }
}

/// Compares `generation` (usually the live one) with the database.
pub async fn verify(db: &Db, generation: &GenerationHandle) -> Result<VerifyReport, IndexerError> {
    generation.reload()?;
    let searcher = generation.searcher();
    let index = VersionMap::rebuild(&searcher)?;
    let definitions = generation.definitions();
    let shown = display_hashes(&searcher, &definitions)
        .map_err(|e| IndexerError::index(generation.path(), e))?;
    let mut kinds: BTreeMap<EntityKind, KindReport> = BTreeMap::new();
    let mut seen: HashSet<EntityKey> = HashSet::new();
    for kind in EntityKind::ALL {
        let report = kinds.entry(kind).or_default();
        let mut after = 0;
        loop {
            let ids = hydrate::ids_after(db, kind, after, 1000).await?;
            let Some(last) = ids.last() else { break };
            after = *last;
            for row in hydrate::hydrate(db, kind, &ids).await? {
                let key = row.key();
                seen.insert(key);
                let stored = index.get(&key).filter(|s| !s.tombstone);
                match (row.searchable, stored) {
                    (true, None) => {
                        report.missing += 1;
                        report.note("missing", key);
                    }
                    (true, Some(stored)) if stored.version != row.version() => {
                        report.stale += 1;
                        report.note("stale", key);
                    }
                    (true, Some(_)) => {
                        let rendered = (definitions.display(&row.row).ok())
                            .map(|d| display_hash(&d.title, &d.subtitle));
                        if rendered.is_none() || shown.get(&key) != rendered.as_ref() {
                            report.shown += 1;
                            report.note("shown differently", key);
                        }
                    }
                    (false, Some(_)) => {
                        report.extra += 1;
                        report.note("extra", key);
                    }
                    _ => {}
                }
                report.searchable += u64::from(row.searchable);
            }
        }
    }
    for (key, stored) in index.iter() {
        if stored.tombstone {
            continue;
        }
        let report = kinds.entry(key.kind).or_default();
        report.indexed += 1;
        if !seen.contains(key) {
            report.extra += 1;
            report.note("extra", *key);
        }
    }
    Ok(VerifyReport {
        generation: generation.generation.to_string(),
        kinds,
    })
}

/// A hash of a document's display lines, by key, for every searchable document of `searcher`
/// (read from the document store, segment by segment, in storage order).
fn display_hashes(
    searcher: &tantivy::Searcher,
    definitions: &schemas::definition::Definitions,
) -> Result<HashMap<EntityKey, u64>, tantivy::TantivyError> {
    use tantivy::schema::Value;
    let sys = definitions.system();
    let mut hashes = HashMap::new();
    for segment in searcher.segment_readers() {
        let store = segment.get_store_reader(8)?;
        for doc in store.iter::<tantivy::TantivyDocument>(segment.alive_bitset()) {
            let doc = doc?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str());
            let (Some(title), Some(subtitle)) =
                (text(sys.display_title), text(sys.display_subtitle))
            else {
                continue; // a tombstone: no display lines
            };
            let kind = text(sys.kind).and_then(|k| k.parse::<EntityKind>().ok());
            let id = doc.get_first(sys.id).and_then(|v| v.as_i64());
            if let (Some(kind), Some(id)) = (kind, id) {
                hashes.insert(EntityKey::new(kind, id), display_hash(title, subtitle));
            }
        }
    }
    Ok(hashes)
}

fn display_hash(title: &str, subtitle: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (title, subtitle).hash(&mut hasher);
    hasher.finish()
}
