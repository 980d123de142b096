//! Index generations and the alias file (docs/ARCHITECTURE.md, "Index generations and ops").
//!
//! ```text
//! <data_dir>/index/aliases.json        {"live": 3, "previous": 2}   (temp file + rename)
//! <data_dir>/index/gen-3/               a tantivy index holding all four kinds
//! <data_dir>/index/gen-3/generation.json {"phase": "built", "created_at": …, "read_only": false,
//!                                         "definitions_digest": "9f2c…"}
//! <data_dir>/index/gen-3/definitions/    track.json user.json playlist.json group.json
//! ```
//!
//! Each generation keeps the definitions it was created with and is written and served with
//! them for its whole life, so two generations with different schemas, boosts or display lines
//! live side by side (an experiment can interleave them; a swap or rollback changes schema in
//! one step). [`Generations::open_with`]'s definitions are only what new generations are built
//! with unless told otherwise ([`Generations::create_generation_with`]). A copy edited in place
//! is refused at open ([`IndexerError::DefinitionsChangedInPlace`]).
//!
//! [`Generations`] is the one handle on this directory. The indexer writes through it (one
//! writer per writable generation, see `pipeline`); the query service reads through it, in the
//! same process or in another one:
//!
//! ```no_run
//! # fn run() -> Result<(), indexer::IndexerError> {
//! let generations = indexer::Generations::open(std::path::Path::new("./data"))?;
//! let live = generations.live();
//! let searcher = live.searcher();          // a tantivy Searcher on the live generation
//! let schema_of_docs = live.definitions(); // how its documents were rendered
//! # drop((searcher, schema_of_docs)); Ok(()) }
//! ```
//!
//! Readers reload on commit by themselves (another process) and the in-process indexer reloads
//! them right after each commit, so a change is searchable as soon as its batch is committed.
//! Alias changes made by another process are picked up by [`Generations::live`] (it re-reads the
//! alias file when its modification time changes).
//!
//! Every generation that is not read-only, failed or retired is writable: live events go to all
//! of them (live, building, built, previous), so a reindex misses nothing and a rollback loses
//! nothing.
//!
//! Around a reindex (`lifecycle`): [`recover`] fails builds whose process died, [`prune`]
//! deletes old generations, [`swap_candidate`] is what a swap with no generation named picks.

mod durable;
pub(crate) mod lifecycle;
mod warm;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use schemas::definition::Definitions;
use serde::{Deserialize, Serialize};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher};

use crate::IndexerError;

pub use lifecycle::{prune, recover, swap_candidate};

/// One index directory, `gen-<N>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Generation(pub u32);

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gen-{}", self.0)
    }
}

/// Where a generation is in its life, as stored in its `generation.json`. Live and previous are
/// not phases: they are what the alias file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// A reindex is filling it.
    Building,
    /// Complete: live events keep it current; it can be (or has been) swapped in.
    Built,
    /// Its reindex died or was cancelled; never written, never made live.
    Failed,
    /// Dropped out of the aliases; kept until cleaned up.
    Retired,
}

/// A generation's state as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Building,
    Built,
    Live,
    Previous,
    Failed,
    Retired,
}

/// `generation.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationMeta {
    pub phase: Phase,
    pub created_at: DateTime<Utc>,
    pub read_only: bool,
    /// [`Definitions::digest`] of the copy in `definitions/` when the generation was created;
    /// absent in generations from before generations kept their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions_digest: Option<String>,
}

/// `aliases.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aliases {
    pub live: Option<Generation>,
    pub previous: Option<Generation>,
}

/// One row of `GET /admin/generations`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationInfo {
    pub generation: u32,
    pub state: State,
    pub documents: u64,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub read_only: bool,
    /// [`Definitions::digest`] of the definitions it is written and served with.
    pub definitions_digest: String,
    /// How its definitions differ from the live generation's (`disco definitions diff` lines,
    /// live → this one); empty for the live generation and for any with the same definitions.
    pub definitions_changes: Vec<String>,
}

/// An open generation: its index, a reader that follows commits, and its metadata.
pub struct GenerationHandle {
    pub generation: Generation,
    path: PathBuf,
    index: Index,
    reader: IndexReader,
    /// Held for the reader, which keeps only weak references to its warmers.
    _warmers: (Arc<warm::FieldWarmer>, Arc<warm::Retirement>),
    definitions: Arc<Definitions>,
    meta: Mutex<GenerationMeta>,
}

impl fmt::Debug for GenerationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenerationHandle")
            .field("generation", &self.generation)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl GenerationHandle {
    /// A searcher on the generation's last reloaded commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The definitions its documents were rendered with (schema, fields, boosts).
    pub fn definitions(&self) -> Arc<Definitions> {
        self.definitions.clone()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Opens the generation's writer (its lock: one writer at a time, in any process), and
    /// deletes the files an earlier writer's crash left unnamed (see [`durable`]).
    pub fn writer(
        &self,
        options: tantivy::indexer::IndexWriterOptions,
    ) -> Result<tantivy::IndexWriter, IndexerError> {
        let failed = |e| IndexerError::index(&self.path, e);
        let writer = self.index.writer_with_options(options).map_err(failed)?;
        let swept = durable::SyncAtCommit::sweep(&self.index, &self.path)
            .map_err(|e| IndexerError::io(&self.path, e))?;
        if !swept.is_empty() {
            tracing::warn!(generation = %self.generation, files = swept.len(), "deleted files a crash left unnamed");
        }
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the last commit visible to searchers now (read-your-writes in-process).
    pub fn reload(&self) -> Result<(), IndexerError> {
        let started = std::time::Instant::now();
        self.reader
            .reload()
            .map_err(|e| IndexerError::index(&self.path, e))?;
        let reload_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(generation = %self.generation, reload_ms, "reloaded");
        Ok(())
    }

    pub fn meta(&self) -> GenerationMeta {
        lock(&self.meta).clone()
    }

    /// Merges every segment into one and waits; returns how many there were. A reindex leaves
    /// several segments and every search walks each one's term dictionaries, so one segment
    /// searches faster. Offline only: it takes the generation's writer, so no indexer may be
    /// writing it.
    pub fn merge_segments(&self) -> Result<usize, IndexerError> {
        let failed = |e| IndexerError::index(&self.path, e);
        let segments = self.index.searchable_segment_ids().map_err(failed)?;
        if segments.len() > 1 {
            let mut writer: tantivy::IndexWriter = self
                .index
                .writer_with_num_threads(1, 50_000_000)
                .map_err(failed)?;
            writer.merge(&segments).wait().map_err(failed)?;
            writer.commit().map_err(failed)?;
            writer.wait_merging_threads().map_err(failed)?;
            self.reload()?;
        }
        Ok(segments.len())
    }

    fn set_meta(&self, change: impl FnOnce(&mut GenerationMeta)) -> Result<(), IndexerError> {
        let mut meta = lock(&self.meta);
        change(&mut meta);
        write_json_atomically(&self.path.join(META_FILE), &*meta)
    }

    /// Searchable documents (tombstones excluded).
    pub fn document_count(&self) -> u64 {
        let searcher = self.searcher();
        let Ok(field) = self.index.schema().get_field("tombstone") else {
            return searcher.num_docs();
        };
        let query = tantivy::query::TermQuery::new(
            tantivy::Term::from_field_u64(field, 1),
            tantivy::schema::IndexRecordOption::Basic,
        );
        let tombstones = searcher
            .search(&query, &tantivy::collector::Count)
            .unwrap_or(0) as u64;
        searcher.num_docs().saturating_sub(tombstones)
    }

    fn size_bytes(&self) -> u64 {
        fs::read_dir(&self.path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

const META_FILE: &str = "generation.json";
/// The generation's own definition files, inside its directory.
const DEFINITIONS_DIR: &str = "definitions";
const ALIASES_FILE: &str = "aliases.json";

struct GenerationsState {
    aliases: Aliases,
    aliases_mtime: Option<SystemTime>,
    generations: BTreeMap<Generation, Arc<GenerationHandle>>,
}

/// Every generation under `<data_dir>/index`, and which one is live.
pub struct Generations {
    root: PathBuf,
    definitions: Arc<Definitions>,
    state: RwLock<GenerationsState>,
}

impl fmt::Debug for Generations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generations")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Generations {
    /// Opens `<data_dir>/index` with the built-in definitions, creating a first, empty, live
    /// generation when there is none.
    pub fn open(data_dir: &Path) -> Result<Arc<Generations>, IndexerError> {
        Generations::open_with(data_dir, Arc::new(Definitions::builtin()))
    }

    /// Like [`Generations::open`] with explicit definitions: new generations are built with them
    /// (unless a reindex names others). Existing generations keep their own.
    pub fn open_with(
        data_dir: &Path,
        definitions: Arc<Definitions>,
    ) -> Result<Arc<Generations>, IndexerError> {
        let root = data_dir.join("index");
        fs::create_dir_all(&root).map_err(|e| IndexerError::io(&root, e))?;
        let generations = Generations {
            root,
            definitions,
            state: RwLock::new(GenerationsState {
                aliases: Aliases::default(),
                aliases_mtime: None,
                generations: BTreeMap::new(),
            }),
        };
        generations.load()?;
        if generations.aliases().live.is_none() {
            let first = generations.create_generation(Phase::Built)?;
            generations.set_aliases(Aliases {
                live: Some(first.generation),
                previous: None,
            })?;
        }
        Ok(Arc::new(generations))
    }

    /// The definitions new generations are built with by default.
    pub fn definitions(&self) -> Arc<Definitions> {
        self.definitions.clone()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn aliases(&self) -> Aliases {
        read(&self.state).aliases
    }

    /// The live generation (following alias changes made by another process).
    pub fn live(&self) -> Arc<GenerationHandle> {
        self.refresh();
        let state = read(&self.state);
        let live = state
            .aliases
            .live
            .and_then(|g| state.generations.get(&g).cloned());
        match live {
            Some(live) => live,
            // open_with guarantees a live generation; a hand-edited alias file falls back to the
            // newest generation rather than failing every query.
            None => match state.generations.values().next_back() {
                Some(newest) => newest.clone(),
                None => unreachable!("a generations always holds at least one generation"),
            },
        }
    }

    /// A searcher on the live generation and the definitions its documents follow.
    pub fn live_searcher(&self) -> (Searcher, Arc<Definitions>) {
        let live = self.live();
        (live.searcher(), live.definitions())
    }

    pub fn get(&self, generation: Generation) -> Option<Arc<GenerationHandle>> {
        self.refresh();
        read(&self.state).generations.get(&generation).cloned()
    }

    /// Generations live events must be written to: not read-only, not failed, not retired.
    pub fn writable(&self) -> Vec<Arc<GenerationHandle>> {
        self.refresh();
        read(&self.state)
            .generations
            .values()
            .filter(|g| {
                let meta = g.meta();
                !meta.read_only && matches!(meta.phase, Phase::Building | Phase::Built)
            })
            .cloned()
            .collect()
    }

    /// Whether some generation that would receive live events is read-only: the indexer then
    /// stops consuming, so its events wait in the broker.
    pub fn paused(&self) -> bool {
        self.refresh();
        read(&self.state).generations.values().any(|g| {
            let meta = g.meta();
            meta.read_only && matches!(meta.phase, Phase::Building | Phase::Built)
        })
    }

    /// Every generation with its state, oldest first.
    pub fn list(&self) -> Vec<GenerationInfo> {
        self.refresh();
        let state = read(&self.state);
        let live = state
            .aliases
            .live
            .and_then(|g| state.generations.get(&g))
            .map(|g| g.definitions.clone());
        state
            .generations
            .values()
            .map(|g| {
                let meta = g.meta();
                let state = if state.aliases.live == Some(g.generation) {
                    State::Live
                } else if state.aliases.previous == Some(g.generation) {
                    State::Previous
                } else {
                    match meta.phase {
                        Phase::Building => State::Building,
                        Phase::Built => State::Built,
                        Phase::Failed => State::Failed,
                        Phase::Retired => State::Retired,
                    }
                };
                let definitions_changes = match &live {
                    Some(live) if !Arc::ptr_eq(live, &g.definitions) => {
                        schemas::definition_diff::diff_sources(
                            live.sources(),
                            g.definitions.sources(),
                        )
                    }
                    _ => Vec::new(),
                };
                GenerationInfo {
                    generation: g.generation.0,
                    state,
                    documents: g.document_count(),
                    size_bytes: g.size_bytes(),
                    created_at: meta.created_at,
                    read_only: meta.read_only,
                    definitions_digest: g.definitions.digest(),
                    definitions_changes,
                }
            })
            .collect()
    }

    /// Creates the next generation directory, empty, in `phase`, with the default definitions.
    pub fn create_generation(&self, phase: Phase) -> Result<Arc<GenerationHandle>, IndexerError> {
        self.create_generation_with(phase, self.definitions.clone())
    }

    /// Creates the next generation directory, empty, in `phase`, keeping a copy of
    /// `definitions` in it: the generation is written and served with them for its life.
    pub fn create_generation_with(
        &self,
        phase: Phase,
        definitions: Arc<Definitions>,
    ) -> Result<Arc<GenerationHandle>, IndexerError> {
        let mut state = write(&self.state);
        let next = Generation(state.generations.keys().next_back().map_or(1, |g| g.0 + 1));
        let path = self.root.join(next.to_string());
        fs::create_dir_all(&path).map_err(|e| IndexerError::io(&path, e))?;
        let index = create_index(&path, definitions.schema())?;
        let copy = path.join(DEFINITIONS_DIR);
        definitions
            .write_dir(&copy)
            .map_err(|e| IndexerError::io(&copy, e))?;
        // Generations with equal definitions share one value, so per-definitions work (the
        // query layout, rendering) is done once for all of them.
        let digest = definitions.digest();
        let definitions = state
            .generations
            .values()
            .map(|g| &g.definitions)
            .chain([&self.definitions])
            .find(|d| d.digest() == digest)
            .cloned()
            .unwrap_or(definitions);
        let meta = GenerationMeta {
            phase,
            created_at: Utc::now(),
            read_only: false,
            definitions_digest: Some(digest),
        };
        write_json_atomically(&path.join(META_FILE), &meta)?;
        let handle = Arc::new(open_handle(next, path, index, definitions, meta)?);
        state.generations.insert(next, handle.clone());
        Ok(handle)
    }

    /// Marks a generation's phase (a reindex finishing, failing, being cancelled).
    pub fn set_phase(&self, generation: Generation, phase: Phase) -> Result<(), IndexerError> {
        let handle = self
            .get(generation)
            .ok_or(IndexerError::NoSuchGeneration(generation))?;
        handle.set_meta(|meta| meta.phase = phase)
    }

    /// Turns read-only on or off for a generation.
    pub fn set_read_only(
        &self,
        generation: Generation,
        read_only: bool,
    ) -> Result<(), IndexerError> {
        let handle = self
            .get(generation)
            .ok_or(IndexerError::NoSuchGeneration(generation))?;
        handle.set_meta(|meta| meta.read_only = read_only)?;
        // Rewriting the alias file tells other processes (which re-read metadata when it
        // changes) that read-only changed.
        self.set_aliases(self.aliases())
    }

    /// Deletes a retired or failed generation's directory. Returns `false` (and keeps it) while
    /// some indexer still holds its writer; live, previous, building and built ones are refused.
    pub fn remove(&self, generation: Generation) -> Result<bool, IndexerError> {
        let handle = self
            .get(generation)
            .ok_or(IndexerError::NoSuchGeneration(generation))?;
        let aliases = self.aliases();
        let in_use = aliases.live == Some(generation) || aliases.previous == Some(generation);
        if in_use || !matches!(handle.meta().phase, Phase::Retired | Phase::Failed) {
            return Ok(false);
        }
        // tantivy's writer lock tells whether an indexer (here or in another process) writes it.
        match handle
            .index()
            .writer_with_num_threads::<tantivy::TantivyDocument>(1, 15_000_000)
        {
            Ok(writer) => drop(writer),
            Err(tantivy::TantivyError::LockFailure(..)) => return Ok(false),
            Err(e) => return Err(IndexerError::index(handle.path(), e)),
        }
        write(&self.state).generations.remove(&generation);
        fs::remove_dir_all(handle.path()).map_err(|e| IndexerError::io(handle.path(), e))?;
        Ok(true)
    }

    /// Makes `generation` (built) live; the old live one becomes previous.
    pub fn swap(&self, generation: Generation) -> Result<Aliases, IndexerError> {
        let handle = self
            .get(generation)
            .ok_or(IndexerError::NoSuchGeneration(generation))?;
        if handle.meta().phase != Phase::Built {
            return Err(IndexerError::NotBuilt(generation));
        }
        let old = self.aliases();
        if old.live == Some(generation) {
            return Ok(old);
        }
        let aliases = Aliases {
            live: Some(generation),
            previous: old.live,
        };
        self.set_aliases(aliases)?;
        if let Some(retired) = old.previous.filter(|g| *g != generation) {
            self.set_phase(retired, Phase::Retired)?;
        }
        Ok(aliases)
    }

    /// Returns to the previous generation; the current live one becomes previous.
    pub fn rollback(&self) -> Result<Aliases, IndexerError> {
        let old = self.aliases();
        let previous = old.previous.ok_or(IndexerError::NoPrevious)?;
        let aliases = Aliases {
            live: Some(previous),
            previous: old.live,
        };
        self.set_aliases(aliases)?;
        Ok(aliases)
    }

    fn set_aliases(&self, aliases: Aliases) -> Result<(), IndexerError> {
        let path = self.root.join(ALIASES_FILE);
        write_json_atomically(&path, &aliases)?;
        let mut state = write(&self.state);
        state.aliases = aliases;
        state.aliases_mtime = fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(())
    }

    /// Reads the alias file and opens every generation directory.
    fn load(&self) -> Result<(), IndexerError> {
        let aliases_path = self.root.join(ALIASES_FILE);
        let aliases: Aliases = read_json(&aliases_path)?.unwrap_or_default();
        let mut generations = BTreeMap::new();
        // Definitions by digest, shared by the generations that have the same ones.
        let mut known: Vec<Arc<Definitions>> = vec![self.definitions.clone()];
        known.extend(
            read(&self.state)
                .generations
                .values()
                .map(|g| g.definitions.clone()),
        );
        let entries = fs::read_dir(&self.root).map_err(|e| IndexerError::io(&self.root, e))?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(n) = name
                .strip_prefix("gen-")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let generation = Generation(n);
            let path = entry.path();
            let mut meta: GenerationMeta = match read_json(&path.join(META_FILE))? {
                Some(meta) => meta,
                None => continue,
            };
            let Ok(index) = open_index(&path) else {
                tracing::warn!(path = %path.display(), "not a tantivy index; skipped");
                continue;
            };
            let opened = self
                .own_definitions(generation, &path, &mut meta, &mut known)
                .and_then(|definitions| open_handle(generation, path, index, definitions, meta));
            let handle = match opened {
                // Only the live generation must be readable; an older one kept for rollback
                // or a failed build is left on disk, unused, for `disco reindex` to prune.
                Err(
                    e @ (IndexerError::SchemaChanged { .. }
                    | IndexerError::Definitions { .. }
                    | IndexerError::DefinitionsChangedInPlace { .. }),
                ) if aliases.live != Some(generation) => {
                    tracing::warn!(error = %e, "generation skipped");
                    continue;
                }
                other => other?,
            };
            generations.insert(generation, Arc::new(handle));
        }
        let mut state = write(&self.state);
        state.aliases = aliases;
        state.aliases_mtime = fs::metadata(&aliases_path).and_then(|m| m.modified()).ok();
        state.generations = generations;
        Ok(())
    }

    /// The definitions `generation` keeps in its directory, checked against the digest recorded
    /// when it was created. A generation from before generations kept their own is given the
    /// default definitions (if its schema differs, opening it says so) and a copy of them.
    fn own_definitions(
        &self,
        generation: Generation,
        path: &Path,
        meta: &mut GenerationMeta,
        known: &mut Vec<Arc<Definitions>>,
    ) -> Result<Arc<Definitions>, IndexerError> {
        let dir = path.join(DEFINITIONS_DIR);
        if !dir.exists() {
            let definitions = self.definitions.clone();
            if index_schema_is(path, &definitions) {
                let mut recorded = meta.clone();
                recorded.definitions_digest = Some(definitions.digest());
                let kept = definitions.write_dir(&dir).and_then(|()| {
                    write_json_atomically(&path.join(META_FILE), &recorded)
                        .map_err(std::io::Error::other)
                });
                match kept {
                    Ok(()) => *meta = recorded,
                    Err(e) => tracing::warn!(
                        %generation, error = %e, "could not keep a copy of the definitions"
                    ),
                }
            }
            return Ok(definitions);
        }
        let loaded = Definitions::load_dir(&dir)
            .map_err(|source| IndexerError::Definitions { generation, source })?;
        let found = loaded.digest();
        if let Some(recorded) = &meta.definitions_digest
            && *recorded != found
        {
            return Err(IndexerError::DefinitionsChangedInPlace {
                generation,
                path: dir,
                recorded: recorded.clone(),
                found,
            });
        }
        if let Some(same) = known.iter().find(|d| d.digest() == found) {
            return Ok(same.clone());
        }
        let loaded = Arc::new(loaded);
        known.push(loaded.clone());
        Ok(loaded)
    }

    /// Picks up alias and metadata changes another process made (cheap: one `stat` when
    /// nothing changed).
    fn refresh(&self) {
        let path = self.root.join(ALIASES_FILE);
        let mtime = fs::metadata(&path).and_then(|m| m.modified()).ok();
        if mtime == read(&self.state).aliases_mtime {
            return;
        }
        let Ok(Some(aliases)) = read_json::<Aliases>(&path) else {
            return;
        };
        let known: Vec<Generation> = read(&self.state).generations.keys().copied().collect();
        let unknown = [aliases.live, aliases.previous]
            .into_iter()
            .flatten()
            .any(|g| !known.contains(&g));
        if unknown {
            if let Err(e) = self.load() {
                tracing::warn!(error = %e, "re-reading the index generations failed");
            }
            return;
        }
        let mut state = write(&self.state);
        state.aliases = aliases;
        state.aliases_mtime = mtime;
        for handle in state.generations.values() {
            if let Ok(Some(meta)) = read_json::<GenerationMeta>(&handle.path.join(META_FILE)) {
                *lock(&handle.meta) = meta;
            }
        }
    }
}

/// Whether the index at `path` has `definitions`' schema (false when it cannot be read).
fn index_schema_is(path: &Path, definitions: &Definitions) -> bool {
    open_index(path).is_ok_and(|index| index.schema() == definitions.schema())
}

/// Opens the tantivy index of a generation: on a directory whose files are made durable at the
/// commit that names them ([`durable`]).
fn open_index(path: &Path) -> tantivy::Result<Index> {
    Index::open(durable::SyncAtCommit::open(path)?)
}

/// Creates the tantivy index of a new generation in the empty directory `path`.
fn create_index(path: &Path, schema: tantivy::schema::Schema) -> Result<Index, IndexerError> {
    let failed = |e| IndexerError::index(path, e);
    let directory = durable::SyncAtCommit::open(path).map_err(|e| failed(e.into()))?;
    if Index::exists(&directory).map_err(|e| failed(e.into()))? {
        return Err(failed(tantivy::TantivyError::IndexAlreadyExists));
    }
    Index::create(directory, schema, tantivy::IndexSettings::default()).map_err(failed)
}

fn open_handle(
    generation: Generation,
    path: PathBuf,
    index: Index,
    definitions: Arc<Definitions>,
    meta: GenerationMeta,
) -> Result<GenerationHandle, IndexerError> {
    // Documents are rendered, and queries built, with the definitions' field numbers: an index
    // whose schema differs (built by an older Disco) would be written and read wrongly.
    if index.schema() != definitions.schema() {
        return Err(IndexerError::SchemaChanged { generation, path });
    }
    schemas::analyzer::register(index.tokenizers());
    let fields = Arc::new(warm::FieldWarmer::new(&index.schema()));
    let retirement = Arc::new(warm::Retirement::default());
    let weak = |warmer: Arc<dyn tantivy::Warmer>| Arc::downgrade(&warmer);
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::OnCommitWithDelay)
        .warmers(vec![weak(fields.clone()), weak(retirement.clone())])
        .try_into()
        .map_err(|e| IndexerError::index(&path, e))?;
    Ok(GenerationHandle {
        generation,
        path,
        index,
        reader,
        _warmers: (fields, retirement),
        definitions,
        meta: Mutex::new(meta),
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, IndexerError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| IndexerError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IndexerError::io(path, e)),
    }
}

/// Writes `value` to `path` so that readers see the old file or the new one, never a part:
/// temp file, fsync, rename, fsync of the directory.
fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), IndexerError> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| IndexerError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    result.map_err(|e| IndexerError::io(path, e))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use schemas::{EntityKey, EntityKind, Version};

    use super::*;

    /// The shipped definitions with one more stored track field: another schema.
    fn other_definitions() -> Arc<Definitions> {
        let extra = Definitions::builtin_edited(|file, text| {
            match file {
            "track.json" => text.replacen(
                "\"fields\": [",
                "\"fields\": [\n    { \"name\": \"extra\", \"type\": \"i64\", \"indexed\": false, \"stored\": true },",
                1,
            ),
            _ => text.to_string(),
        }
        });
        Arc::new(extra.unwrap())
    }

    /// A generation from before generations kept their definitions, built with another index
    /// schema, is refused with a message that says what to do, rather than written or read with
    /// the wrong field numbers.
    #[test]
    fn a_generation_with_another_schema_and_no_copy_is_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        drop(Generations::open(dir.path()).unwrap());
        // As an older Disco left it: no copy, no digest.
        let gen1 = dir.path().join("index/gen-1");
        fs::remove_dir_all(gen1.join(DEFINITIONS_DIR)).unwrap();
        let meta = fs::read_to_string(gen1.join(META_FILE)).unwrap();
        let mut meta: GenerationMeta = serde_json::from_str(&meta).unwrap();
        meta.definitions_digest = None;
        write_json_atomically(&gen1.join(META_FILE), &meta).unwrap();

        let Err(err) = Generations::open_with(dir.path(), other_definitions()) else {
            panic!("another schema is refused");
        };
        assert!(matches!(err, IndexerError::SchemaChanged { .. }), "{err}");
        assert!(err.to_string().contains("disco reindex"), "{err}");

        // With the definitions it was built with, it opens and is given its copy.
        let generations = Generations::open(dir.path()).unwrap();
        assert!(gen1.join(DEFINITIONS_DIR).join("track.json").exists());
        assert_eq!(
            generations.live().meta().definitions_digest,
            Some(Definitions::builtin().digest())
        );
    }

    /// Each generation is opened with the definitions it was created with, whatever the
    /// process's default; the listing shows each one's digest and difference to live.
    #[test]
    fn each_generation_keeps_its_own_definitions() {
        let dir = tempfile::tempdir().unwrap();
        let generations = Generations::open(dir.path()).unwrap();
        let other = other_definitions();
        let second = generations
            .create_generation_with(Phase::Built, other.clone())
            .unwrap()
            .generation;
        drop(generations);

        // Reopened with the shipped definitions as the default: gen-2 keeps its own.
        let generations = Generations::open(dir.path()).unwrap();
        let handle = generations.get(second).unwrap();
        assert_eq!(handle.definitions().digest(), other.digest());
        assert!(handle.definitions().field("extra").is_some());
        assert!(generations.live().definitions().field("extra").is_none());
        let list = generations.list();
        assert_eq!(list[0].definitions_digest, Definitions::builtin().digest());
        assert!(list[0].definitions_changes.is_empty());
        assert_eq!(list[1].definitions_digest, other.digest());
        assert!(
            list[1]
                .definitions_changes
                .iter()
                .any(|l| l.contains("extra")),
            "{:?}",
            list[1].definitions_changes
        );

        // Swapped in, it is live with its schema; the old one now shows the difference.
        generations.swap(second).unwrap();
        let (_, live) = generations.live_searcher();
        assert!(live.field("extra").is_some());
        assert!(!generations.list()[0].definitions_changes.is_empty());
    }

    /// Editing a generation's copy in place is refused at open: skipped while it is not live,
    /// an error naming the way out (a new generation) when it is.
    #[test]
    fn definitions_changed_in_place_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let generations = Generations::open(dir.path()).unwrap();
        let second = generations
            .create_generation(Phase::Built)
            .unwrap()
            .generation;
        drop(generations);
        let track = dir.path().join("index/gen-2/definitions/track.json");
        let text = fs::read_to_string(&track).unwrap();
        fs::write(&track, text.replacen("\"boost\": 3.0", "\"boost\": 5.0", 1)).unwrap();

        let generations = Generations::open(dir.path()).unwrap();
        assert!(generations.get(second).is_none(), "skipped while not live");
        // Made live by hand (an alias edit another tool made), it stops the open.
        write_json_atomically(
            &dir.path().join("index").join(ALIASES_FILE),
            &Aliases {
                live: Some(second),
                previous: None,
            },
        )
        .unwrap();
        drop(generations);
        let Err(err) = Generations::open(dir.path()) else {
            panic!("a live generation edited in place is refused");
        };
        assert!(
            matches!(err, IndexerError::DefinitionsChangedInPlace { .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("gen-2") && message.contains("reindex"),
            "{message}"
        );
    }

    /// Two commits make two segments; merging leaves one with every document, searchable.
    #[test]
    fn merge_segments_leaves_one_segment_with_every_document()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let generations = Generations::open(dir.path())?;
        let handle = generations.create_generation(Phase::Building)?;
        let definitions = handle.definitions();
        {
            let mut writer: tantivy::IndexWriter =
                handle.index().writer_with_num_threads(1, 15_000_000)?;
            for batch in 0..2 {
                for id in 0..10 {
                    let key = EntityKey::new(EntityKind::Track, batch * 10 + id);
                    writer.add_document(definitions.tombstone(key, Version(1)))?;
                }
                writer.commit()?;
            }
        }
        assert_eq!(handle.index().searchable_segment_ids()?.len(), 2);
        assert_eq!(handle.merge_segments()?, 2);
        assert_eq!(handle.index().searchable_segment_ids()?.len(), 1);
        assert_eq!(handle.searcher().num_docs(), 20);
        assert_eq!(handle.merge_segments()?, 1, "nothing left to merge");
        Ok(())
    }
}
