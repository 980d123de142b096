//! `disco verify`: is the index equal to the database?
//!
//! Every searchable row must be present at its version and show what the row renders today
//! (its display lines: a track's and a playlist's carry the owner's name); nothing else may be
//! searchable (tombstones are fine: they are how the index remembers a deletion), and every
//! count (likes, plays, followers, …) and page list must be the database's
//! ([`crate::derived`]), allowing a window for activity in flight. The report counts, by kind, what is missing, what is extra, what is stale, what
//! shows other lines and whose counts differ, with a few example ids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

use crate::IndexerError;
use crate::derived;
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
    /// Documents whose counts (likes, plays, followers, …) differ from the database's still
    /// after the count window: activity events lost or not applied.
    pub counts: u64,
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

    /// Every count equals the database's (after the count window). Kept apart from
    /// [`VerifyReport::is_clean`]: a known race (a reindex page that brings a track's new state
    /// before its event leaves the uploader's track count behind) can leave a count stale while
    /// every document is right; `disco verify --counts` fails on it.
    pub fn counts_clean(&self) -> bool {
        self.kinds.values().all(|k| k.counts == 0)
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {}: {}",
            self.generation,
            match (self.is_clean(), self.counts_clean()) {
                (true, true) => "no difference",
                (true, false) => "documents equal, some counts differ",
                _ => "DIFFERENT",
            }
        )?;
        writeln!(
            f,
            "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "kind", "searchable", "indexed", "missing", "extra", "stale", "shown", "counts"
        )?;
        for (kind, r) in &self.kinds {
            writeln!(
                f,
                "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
                kind.as_str(),
                r.searchable,
                r.indexed,
                r.missing,
                r.extra,
                r.stale,
                r.shown,
                r.counts
            )?;
            for example in &r.examples {
                writeln!(f, "  {example}")?;
            }
        }
        Ok(())
    }
}

/// Compares `generation` (usually the live one) with the database, counts exactly.
pub async fn verify(db: &Db, generation: &GenerationHandle) -> Result<VerifyReport, IndexerError> {
    verify_with(db, generation, Duration::ZERO).await
}

/// [`verify`], with a tolerance for activity in flight: entities whose counts differ are read
/// again (index and database) after `count_window`, and only those that still differ count.
/// Activity reaches the index within seconds, so a window of that size separates lost events
/// from ones on their way.
pub async fn verify_with(
    db: &Db,
    generation: &GenerationHandle,
    count_window: Duration,
) -> Result<VerifyReport, IndexerError> {
    let (mut report, counted) = compare(db, generation).await?;
    if counted.is_empty() {
        return Ok(report);
    }
    tokio::time::sleep(count_window).await;
    generation.reload()?;
    let definitions = generation.definitions();
    let shown = display_hashes(&generation.searcher(), &definitions)
        .map_err(|e| IndexerError::index(generation.path(), e))?;
    for kind in EntityKind::ALL {
        let ids: Vec<i64> = (counted.iter().filter(|k| k.kind == kind))
            .map(|k| k.id)
            .collect();
        for row in hydrate::hydrate(db, kind, &ids).await? {
            let key = row.key();
            let still =
                shown.get(&key).map(|s| s.counts) != derived::of_row(&definitions, &row.row);
            let kind_report = report.kinds.entry(kind).or_default();
            if still && row.searchable {
                kind_report.counts += 1;
                kind_report.note("counts differ", key);
            }
        }
    }
    Ok(report)
}

/// One pass: the report without count differences, and the entities whose counts differ.
async fn compare(
    db: &Db,
    generation: &GenerationHandle,
) -> Result<(VerifyReport, Vec<EntityKey>), IndexerError> {
    generation.reload()?;
    let searcher = generation.searcher();
    let index = VersionMap::rebuild(&searcher)?;
    let definitions = generation.definitions();
    let shown = display_hashes(&searcher, &definitions)
        .map_err(|e| IndexerError::index(generation.path(), e))?;
    let mut counted = Vec::new();
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
                        let held = shown.get(&key);
                        if rendered.is_none() || held.map(|s| s.display) != rendered {
                            report.shown += 1;
                            report.note("shown differently", key);
                        } else if held.map(|s| s.counts) != derived::of_row(&definitions, &row.row)
                        {
                            counted.push(key);
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
    let report = VerifyReport {
        generation: generation.generation.to_string(),
        kinds,
    };
    Ok((report, counted))
}

/// What the index shows of one document: its display lines and its counts, hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    display: u64,
    counts: u64,
}

/// A hash of a document's display lines, by key, for every searchable document of `searcher`
/// (read from the document store, segment by segment, in storage order).
fn display_hashes(
    searcher: &tantivy::Searcher,
    definitions: &schemas::definition::Definitions,
) -> Result<HashMap<EntityKey, Shown>, tantivy::TantivyError> {
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
                let counts = derived::of_document(definitions, kind, &doc);
                let shown = Shown {
                    display: display_hash(title, subtitle),
                    counts,
                };
                hashes.insert(EntityKey::new(kind, id), shown);
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
