//! `disco verify`: is the index equal to the database?
//!
//! Every searchable row must be present at its version; nothing else may be searchable
//! (tombstones are fine: they are how the index remembers a deletion). The report counts, by
//! kind, what is missing, what is extra and what is stale, with a few example ids.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

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
            .all(|k| k.missing == 0 && k.extra == 0 && k.stale == 0)
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
            "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8}",
            "kind", "searchable", "indexed", "missing", "extra", "stale"
        )?;
        for (kind, r) in &self.kinds {
            writeln!(
                f,
                "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8}",
                kind.as_str(),
                r.searchable,
                r.indexed,
                r.missing,
                r.extra,
                r.stale
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
    let index = VersionMap::rebuild(&generation.searcher())?;
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
