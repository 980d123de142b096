//! The live path: envelope → batch → hydrate → render → versioned write → commit → ack.
//!
//! [`Indexer::process`] is the one function to read: it calls every stage in order. The rules
//! it enforces (docs/ARCHITECTURE.md, "Versioning"):
//!
//! - the event time is a floor: a row older than it, or missing for a create/save, is re-read
//!   with backoff within the batch, then parked on the retry queue — never dropped, never
//!   indexed stale as fresh;
//! - a write happens only when the row's version is newer than the stored one; an entity that
//!   is not searchable (deleted, private, taken down, or gone after a destroy) becomes a
//!   tombstone carrying its version;
//! - commit → version map → acknowledgement, in that order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use schemas::activity::{ActivityEvent, uploader_hint};
use schemas::db::Db;
use schemas::definition::Definitions;
use schemas::envelope::{Envelope, EnvelopeError};
use schemas::row::{EntityRow, FieldValue};
use schemas::{EntityKey, EntityKind, Version};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy, UserOperation};
use tantivy::{IndexWriter, TantivyDocument};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::batch::{self, BatchConfig, BatchReport, Mark, OwnerLane, Pending, Turn};
use crate::broker::{Delivery, EventSource};
use crate::feed::{ReindexFeed, Synthesized, Work};
use crate::generations::{Generation, GenerationHandle, Generations, Phase};
use crate::hydrate::{self, Hydrated};
use crate::metrics::{self, Outcome};
use crate::reconcile::{Cause, Observed};
use crate::versions::{self, Decision, Stored, VersionMap};
use crate::{IndexChange, IndexerError};

/// The default [`IndexerConfig::refresh_interval`]. At 1,000 live events/s on the 1M-track
/// catalog it cut a search's cost from 3.4 to 2.8 ms at the median (quiet: 2.6) for a time to
/// searchable p99 of ~0.35–0.45 s, inside the 0.5 s target (BENCHMARKS.md, "Search while
/// indexing").
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// How the indexer batches and how patient it is with a lagging replica.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    pub batch: BatchConfig,
    /// Pauses before re-reading rows that are older than their event, within one batch.
    pub lag_retries: Vec<Duration>,
    /// Delay before a parked event comes back the first time; doubles per attempt.
    pub park_delay: Duration,
    pub park_delay_max: Duration,
    /// After this many trips through the retry queue an event is dead-lettered instead.
    pub max_attempts: u32,
    /// tantivy writer heap per generation.
    pub writer_heap_bytes: usize,
    /// Indexing threads of the writer of a generation that is being built (a full reindex
    /// feeds it as fast as the database reads; live generations keep one thread).
    pub build_writer_threads: usize,
    /// tantivy writer heap of a generation being built, shared by its threads (bigger
    /// in-memory segments: fewer of them on disk).
    pub build_writer_heap_bytes: usize,
    /// Nice value of tantivy's writer threads, so searches sharing the cores go first
    /// ([`crate::priority`]); 0 leaves them at the process's.
    pub writer_nice: i32,
    /// The least time from one live batch's start to the next (Elasticsearch's refresh
    /// interval): under a steady stream a batch otherwise closes as soon as the last one is
    /// committed, so commits — each a new segment, a reader reload that every search's caches
    /// start over from, and merges later — come as fast as the indexer can make them. An idle
    /// indexer is not delayed by it (its last batch started long ago). Zero paces nothing.
    pub refresh_interval: Duration,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        IndexerConfig {
            batch: BatchConfig::default(),
            lag_retries: [20, 50, 100, 200].map(Duration::from_millis).to_vec(),
            park_delay: Duration::from_millis(500),
            park_delay_max: Duration::from_secs(30),
            max_attempts: 20,
            writer_heap_bytes: 50_000_000,
            build_writer_threads: 2,
            build_writer_heap_bytes: 400_000_000,
            writer_nice: crate::priority::WRITER_NICE,
            refresh_interval: REFRESH_INTERVAL,
        }
    }
}

/// Live operations a building generation holds before they go to its writer anyway (see
/// [`Indexer::commit`]): a few live batches' worth.
const HELD_LIMIT: usize = 20_000;

/// Who is committing: a live batch, or a reindex page (which pays the building writer's
/// back-pressure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Live,
    Build,
}

/// tantivy refuses a writer whose heap per indexing thread is under 15 MB.
const MIN_HEAP_PER_THREAD: usize = 15_000_000;

/// What the database (or the version map) says about one pending entity.
#[derive(Debug, Clone)]
enum Resolution {
    /// Every writable generation already holds this version or a newer one: no read needed.
    Known(Decision),
    /// Searchable at this version.
    Upsert(Hydrated),
    /// Unsearchable at this version (row deleted, private or taken down).
    Gone(Version),
    /// No row: removed from the database (a destroy event, at its time).
    Removed(Version),
    /// The row read is older than the event, or missing for a create/save.
    Lagging,
    /// The row could not be rendered (definition and data disagree).
    Unrenderable(String),
}

struct Item {
    pending: Pending,
    resolution: Resolution,
    outcome: Outcome,
    /// Read again because its owner changed ([`Indexer::fan_out`]): written even at the
    /// version a generation holds, since the owner's names in it may have changed.
    rerender: bool,
}

/// What one generation must apply in a commit: the operations, and the versions its map
/// learns once they are committed.
#[derive(Default)]
struct Writes {
    operations: Vec<UserOperation>,
    stored: Vec<(EntityKey, Stored)>,
}

/// One writable generation: its writer and its versions.
///
/// A generation that is still being built is not committed per batch: its writes, live and
/// reindex alike, stay queued in its writer until [`Indexer::finish_build`] commits them and
/// marks it built in one step (a commit per batch there would make a segment per batch). That
/// keeps the acknowledgement rule: a building generation is never served, and one whose
/// process dies is marked failed and rebuilt from the start, so no acknowledged delivery
/// relies on an uncommitted write in a generation that can become live.
struct Target {
    handle: Arc<GenerationHandle>,
    writer: Arc<Mutex<IndexWriter>>,
    versions: VersionMap,
    /// Holds writes that are not committed yet (a generation being built).
    dirty: bool,
    /// The build's final commit runs in the background ([`Indexer::finish_build`] from a
    /// feed): writes wait in `held` meanwhile instead of queueing behind it on the writer.
    finishing: bool,
    /// Operations not yet handed to the writer, in order: everything during the final commit
    /// (`finishing`), and a building generation's live operations until the next reindex page
    /// (see [`Indexer::commit`]). They go to the writer before anything newer.
    held: Vec<UserOperation>,
}

/// The running indexer: the database, the writable generations and their writers.
pub struct Indexer {
    db: Db,
    generations: Arc<Generations>,
    config: IndexerConfig,
    changes: broadcast::Sender<IndexChange>,
    targets: BTreeMap<Generation, Target>,
    cancel: CancellationToken,
    /// Work a reindex hands in (see [`Indexer::reindex_feed`]); the sender is kept so the inbox
    /// never closes.
    inbox: Option<mpsc::Receiver<Synthesized>>,
    /// The inbox's sender: feeds clone it, and a background commit reports back through it
    /// (see [`Indexer::commit_in_background`]).
    outbox: Option<mpsc::Sender<Synthesized>>,
    /// Write to this generation only (a standalone reindex), not to every writable one.
    only: Option<Generation>,
    /// The last gathering did reindex work: the next one gives it its window first.
    streaming: bool,
    /// Owner events held aside, unacknowledged, while other events go first ([`OwnerLane`]).
    lane: OwnerLane,
    /// The database was found to be a primary: its reads are current, no replay to wait for.
    reads_current: std::sync::atomic::AtomicBool,
}

impl Indexer {
    /// Opens a writer on every writable generation and rebuilds their version maps.
    pub fn open(
        db: Db,
        generations: Arc<Generations>,
        config: IndexerConfig,
    ) -> Result<Indexer, IndexerError> {
        crate::generations::recover(&generations)?;
        Indexer::open_targets(db, generations, config, None)
    }

    /// An indexer that writes to `generation` only (a reindex with no live indexer in this
    /// process).
    pub fn open_for(
        db: Db,
        generations: Arc<Generations>,
        config: IndexerConfig,
        generation: Generation,
    ) -> Result<Indexer, IndexerError> {
        Indexer::open_targets(db, generations, config, Some(generation))
    }

    fn open_targets(
        db: Db,
        generations: Arc<Generations>,
        config: IndexerConfig,
        only: Option<Generation>,
    ) -> Result<Indexer, IndexerError> {
        metrics::describe();
        let (changes, _) = broadcast::channel(4096);
        let mut indexer = Indexer {
            db,
            generations,
            config,
            changes,
            targets: BTreeMap::new(),
            cancel: CancellationToken::new(),
            inbox: None,
            outbox: None,
            only,
            streaming: false,
            lane: OwnerLane::default(),
            reads_current: std::sync::atomic::AtomicBool::new(false),
        };
        indexer.sync_targets()?;
        Ok(indexer)
    }

    /// Changes committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<IndexChange> {
        self.changes.subscribe()
    }

    /// The sender side, for wiring a subscriber before the indexer is moved into its task.
    pub fn changes(&self) -> broadcast::Sender<IndexChange> {
        self.changes.clone()
    }

    pub fn generations(&self) -> &Arc<Generations> {
        &self.generations
    }

    /// Where a reindex hands its batches of keys while [`Indexer::run`] consumes live events:
    /// both go through this one indexer, so each generation has one writer and one version map.
    pub fn reindex_feed(&mut self) -> ReindexFeed {
        let sender = match &self.outbox {
            Some(sender) => sender.clone(),
            None => {
                let (sender, inbox) = mpsc::channel(2);
                (self.outbox, self.inbox) = (Some(sender.clone()), Some(inbox));
                sender
            }
        };
        ReindexFeed::new(sender)
    }

    /// Consumes `source` until `cancel` fires. While some generation is read-only, nothing is
    /// consumed: its events wait in the broker until it is writable again. Owner events still
    /// held aside when it stops are handed back unacknowledged.
    pub async fn run<S: EventSource>(
        mut self,
        mut source: S,
        cancel: CancellationToken,
    ) -> Result<(), IndexerError> {
        let ran = self.consume(&mut source, cancel).await;
        let aside = self.lane.drain();
        if !aside.is_empty() {
            let _ = source.release(&aside).await;
        }
        ran
    }

    /// The loop of [`Indexer::run`].
    async fn consume<S: EventSource>(
        &mut self,
        source: &mut S,
        cancel: CancellationToken,
    ) -> Result<(), IndexerError> {
        self.cancel = cancel.clone();
        let mut held: Option<Synthesized> = None;
        let mut last_batch: Option<Instant> = None;
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            // Paced only between live batches: a reindex's pages are done in the gaps.
            if let Some(due) = last_batch.map(|at| at + self.config.refresh_interval)
                && !self.streaming
                && held.is_none()
                && due > Instant::now()
            {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(due) => {}
                }
            }
            if self.generations.paused() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                }
            }
            if let Some(work) = held.take() {
                if self.work(work).await {
                    return Ok(());
                }
                continue;
            }
            let (deliveries, work) = match self.next_batch(source, &cancel).await {
                Err(IndexerError::Cancelled) => return Ok(()),
                gathered => gathered?,
            };
            metrics::owner_lane(self.lane.len());
            held = work;
            if deliveries.is_empty() {
                continue;
            }
            if self.generations.paused() {
                source.release(&deliveries).await?;
                continue;
            }
            last_batch = Some(Instant::now());
            let parts = others_first(deliveries);
            for (i, part) in parts.iter().enumerate() {
                if let Err(e) = self.process(source, part).await {
                    // Nothing of this part (or the next) is acknowledged: it comes back
                    // after a restart.
                    for unsettled in &parts[i..] {
                        let _ = source.release(unsettled).await;
                    }
                    if matches!(e, IndexerError::Cancelled) {
                        return Ok(());
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Does what a reindex handed in and answers it; `true` when the indexer was stopped.
    async fn work(&mut self, work: Synthesized) -> bool {
        let Synthesized { work, done } = work;
        let outcome = match work {
            Work::Rows(rows) => self.apply_rows(rows).await,
            Work::Reconcile(observed) => self.reconcile(observed).await,
            Work::Finish(generation) => match self.commit_in_background(generation) {
                Some(commit) => {
                    self.answer_when_committed(generation, commit, done);
                    return false;
                }
                None => self
                    .finish_build(generation)
                    .await
                    .map(|()| BatchReport::default()),
            },
            Work::Committed { generation, result } => match result {
                Ok(()) => self
                    .finish_build(generation)
                    .await
                    .map(|()| BatchReport::default()),
                Err(e) => {
                    if let Some(target) = self.targets.get_mut(&generation) {
                        target.finishing = false;
                    }
                    Err(e)
                }
            },
        };
        let cancelled = matches!(outcome, Err(IndexerError::Cancelled));
        let _ = done.send(outcome);
        cancelled
    }

    /// Starts the final commit of a build off the loop; its writes are held meanwhile (see
    /// [`Target::held`]). The commit waits for the writer's threads to index every page queued
    /// so far, then writes their segments: too long for live batches to wait on. `None` when
    /// there is no loop to report back to (no feed) or nothing to do.
    fn commit_in_background(
        &mut self,
        generation: Generation,
    ) -> Option<tokio::task::JoinHandle<Result<(), IndexerError>>> {
        self.outbox.as_ref()?;
        let target = self.targets.get_mut(&generation)?;
        if target.finishing {
            return None;
        }
        target.finishing = true;
        let (writer, path) = (target.writer.clone(), target.handle.path().to_path_buf());
        Some(tokio::task::spawn_blocking(move || {
            lock_writer(&writer)
                .commit()
                .map(|_| ())
                .map_err(|e| IndexerError::index(&path, e))
        }))
    }

    /// Hands the background commit's result back to the loop (as [`Work::Committed`], through
    /// the inbox, so an idle loop wakes for it), which then commits what was held, marks the
    /// generation built and answers `done`.
    fn answer_when_committed(
        &self,
        generation: Generation,
        commit: tokio::task::JoinHandle<Result<(), IndexerError>>,
        done: oneshot::Sender<Result<BatchReport, IndexerError>>,
    ) {
        let Some(inbox) = self.outbox.clone() else {
            return;
        };
        tokio::spawn(async move {
            let result = commit.await.unwrap_or_else(|e| {
                Err(IndexerError::task_failed(
                    format!("committing {generation}"),
                    e,
                ))
            });
            let work = Work::Committed { generation, result };
            // A closed inbox means the indexer stopped: `done` is dropped, the build fails.
            let _ = inbox.send(Synthesized { work, done }).await;
        });
    }

    /// The next live batch, with the work a reindex hands in done meanwhile
    /// ([`batch::gather_between`]: while pages stream in, a window of them per live batch).
    /// While some generation is read-only the work is held instead and the batch cut short
    /// (not dropped).
    async fn next_batch<S: EventSource>(
        &mut self,
        source: &mut S,
        cancel: &CancellationToken,
    ) -> Result<(Vec<Delivery>, Option<Synthesized>), IndexerError> {
        let config = self.config.batch;
        let Some(mut inbox) = self.inbox.take() else {
            let deliveries = batch::gather(source, config, &mut self.lane, cancel).await?;
            return Ok((deliveries, None));
        };
        let streaming = self.streaming;
        let mut lane = std::mem::take(&mut self.lane);
        let gathered = batch::gather_between(
            source,
            config,
            &mut lane,
            &mut inbox,
            streaming,
            cancel,
            &mut InLoop(self),
        )
        .await;
        self.inbox = Some(inbox);
        self.lane = lane;
        let gathered = gathered?;
        self.streaming = gathered.worked;
        if gathered.stopped {
            return Err(IndexerError::Cancelled);
        }
        Ok((gathered.deliveries, gathered.held))
    }

    /// Writes rows a full reindex read ([`crate::hydrate::hydrate_page`]) to every writable
    /// generation, as synthesized create events whose floor (the epoch) any row satisfies: the
    /// same resolution, rendering and versioned writes as live events, minus the database read
    /// the reindex already did. A row older than what a generation holds (a live event got
    /// there first) is stale and skipped there.
    ///
    /// A generation being built keeps these writes uncommitted until
    /// [`Indexer::finish_build`]; other generations commit them now.
    pub async fn apply_rows(&mut self, rows: Vec<Hydrated>) -> Result<BatchReport, IndexerError> {
        let mut report = BatchReport::default();
        self.sync_targets()?;
        let mut items: Vec<Item> = rows
            .into_iter()
            .map(|row| {
                let pending = dependent(row.key());
                // The row is read already: each generation decides by its version (no
                // floor shortcut, which would also call a row newer than a stored version
                // stale where every generation holds the entity).
                let resolution = match row.searchable {
                    true => Resolution::Upsert(row),
                    false => Resolution::Gone(row.version()),
                };
                Item {
                    pending,
                    resolution,
                    outcome: Outcome::Duplicate,
                    rerender: false,
                }
            })
            .collect();
        // A user that a page brings newer than a served generation (live, previous) holds
        // changed while the build ran, and its event may now find every generation covered:
        // its entities are written here, as the event would have.
        let served: Vec<&VersionMap> = (self.targets.values())
            .filter(|target| target.handle.meta().phase != Phase::Building)
            .map(|target| &target.versions)
            .collect();
        let owners = owners(&items, |key, version| {
            (served.iter())
                .any(|versions| versions::decide(versions.get(&key), version) == Decision::Write)
        });
        let unsettled = self.fan_out(&mut items, owners).await?;
        self.settle_counts(&mut items, unsettled).await?;
        let operations = self.versioned_writes(&mut items);
        self.commit(operations, Pace::Build).await?;
        for item in &items {
            report.add(item.outcome, 1);
        }
        Ok(report)
    }

    /// Ends a build: commits everything `generation` was given (reindex and live writes) and
    /// marks it built, between two batches so no live write slips in between the two.
    pub async fn finish_build(&mut self, generation: Generation) -> Result<(), IndexerError> {
        if let Some(target) = self.targets.get_mut(&generation) {
            target.finishing = false;
            let held = std::mem::take(&mut target.held);
            write(target, held, true).await?;
            lock_writer(&target.writer).set_merge_policy(Box::new(LogMergePolicy::default()));
            tracing::debug!(%generation, "committed the build");
        }
        self.generations.set_phase(generation, Phase::Built)
    }

    /// Repairs what the index holds differently from the database
    /// ([`crate::reconcile`]): every observed row some writable generation holds at another
    /// version (or not at all) is re-read and written through the versioned path, and for a
    /// full sweep, every document of the kind with no row is removed. Rows and documents newer
    /// than `observed.until` are left to their events. The report counts what was written;
    /// each write is a repair, counted by kind and cause.
    pub async fn reconcile(&mut self, observed: Observed) -> Result<BatchReport, IndexerError> {
        let mut report = BatchReport::default();
        self.sync_targets()?;
        let kind = observed.kind;
        let mut pending = Vec::new();
        for &(id, version) in &observed.rows {
            let key = EntityKey::new(kind, id);
            let differs = (self.targets.values())
                .any(|t| t.versions.get(&key).map(|s| s.version) != Some(version));
            if version <= observed.until && differs {
                pending.push(Pending {
                    floor: version,
                    ..dependent(key)
                });
            }
        }
        let comparing = Instant::now();
        let recounted = self.derived_differs(&observed, &pending);
        if !observed.read.is_empty() {
            // The comparison holds the loop, live batches wait: what a sweep step costs them.
            tracing::debug!(
                target: "indexer::reconcile",
                kind = %kind,
                rows = observed.read.len(),
                differ = recounted.len(),
                took_ms = comparing.elapsed().as_secs_f64() * 1e3,
                "sweep step compared counts and lists"
            );
        }
        pending.extend(recounted.into_iter().map(|key| Pending {
            recount: true,
            ..dependent(key)
        }));
        if let Some(span) = observed.swept {
            let present: std::collections::HashSet<i64> =
                observed.rows.iter().map(|(id, _)| *id).collect();
            let mut gone: BTreeMap<EntityKey, Version> = BTreeMap::new();
            for target in self.targets.values() {
                for (key, stored) in target.versions.within(kind, span.after, span.through) {
                    if !stored.tombstone
                        && stored.version <= observed.until
                        && !present.contains(&key.id)
                    {
                        let newest = gone.entry(key).or_insert(stored.version);
                        *newest = (*newest).max(stored.version);
                    }
                }
            }
            // A tombstone just newer than the document it replaces.
            pending.extend(gone.into_iter().map(|(key, version)| Pending {
                floor: Version(version.0 + 1),
                destroyed: true,
                ..dependent(key)
            }));
        }
        if pending.is_empty() {
            return Ok(report);
        }
        let repairs: HashMap<EntityKey, Cause> = (pending.iter())
            .map(|p| {
                let cause = match (p.destroyed, p.recount) {
                    (true, _) => Cause::LostDelete,
                    (false, true) => Cause::LostActivity,
                    (false, false) => Cause::LostUpdate,
                };
                (p.key, cause)
            })
            .collect();
        let mut items = self.resolve(pending).await?;
        let mut unsettled = self.recount_uploaders(&mut items).await?;
        let owners = owners(&items, |key, version| self.newer_somewhere(key, version));
        unsettled.extend(self.fan_out(&mut items, owners).await?);
        self.settle_counts(&mut items, unsettled).await?;
        // An unsearchable row the index holds nothing of was shown by no search: its tombstone
        // is written (the version map learns it) but nothing was wrong. A reindex writes no
        // tombstones, so its first sweep finds every unsearchable row like that.
        let shown: std::collections::HashSet<EntityKey> = (repairs.keys())
            .filter(|key| {
                (self.targets.values())
                    .any(|t| t.versions.get(key).is_some_and(|stored| !stored.tombstone))
            })
            .copied()
            .collect();
        let operations = self.versioned_writes(&mut items);
        self.commit(operations, Pace::Live).await?;
        // The changes are announced (suggest follows them); the report counts repairs, not
        // deliveries (there are none).
        self.announce(&items, &mut BatchReport::default());
        for item in &items {
            let written = match item.outcome {
                Outcome::Indexed => true,
                Outcome::Deleted => shown.contains(&item.pending.key),
                _ => false,
            };
            // Entities written because a repaired owner changed are part of its repair.
            if let (true, Some(&cause)) = (written, repairs.get(&item.pending.key)) {
                report.add(item.outcome, 1);
                metrics::repaired(item.pending.key.kind, cause);
                tracing::info!(key = %item.pending.key, cause = cause.as_str(), "repaired an entity the site did not announce");
            }
        }
        Ok(report)
    }

    /// One batch, through every stage in order.
    pub async fn process<S: EventSource>(
        &mut self,
        source: &mut S,
        deliveries: &[Delivery],
    ) -> Result<BatchReport, IndexerError> {
        let started = Instant::now();
        let mut report = BatchReport::default();
        self.sync_targets()?;
        let (events, marks) = read_envelopes(source, deliveries, &mut report).await?;
        let mut items = self.resolve(batch::coalesce(&events, &marks)).await?;
        let mut unsettled = self.recount_uploaders(&mut items).await?;
        let owners = owners(&items, |key, version| self.newer_somewhere(key, version));
        unsettled.extend(self.fan_out(&mut items, owners).await?);
        self.settle_counts(&mut items, unsettled).await?;
        let hydrated = started.elapsed();
        let operations = self.versioned_writes(&mut items);
        self.commit(operations, Pace::Live).await?;
        let committed = started.elapsed();
        self.announce(&items, &mut report);
        self.park(source, deliveries, &items, &mut report).await?;
        source.ack(deliveries).await?;
        for (outcome, n) in &report.outcomes {
            metrics::count(*outcome, *n);
        }
        let elapsed = started.elapsed();
        metrics::batch(deliveries.len(), elapsed);
        tracing::debug!(
            deliveries = deliveries.len(),
            hydrate_ms = hydrated.as_secs_f64() * 1e3,
            write_commit_ms = (committed - hydrated).as_secs_f64() * 1e3,
            ack_ms = (elapsed - committed).as_secs_f64() * 1e3,
            "batch"
        );
        Ok(report)
    }

    /// Opens writers for generations that became writable, drops those that no longer are
    /// (committing what they were already given first).
    fn sync_targets(&mut self) -> Result<(), IndexerError> {
        let only = self.only;
        let writable: Vec<_> = (self.generations.writable().into_iter())
            .filter(|h| only.is_none_or(|g| g == h.generation))
            .collect();
        for (generation, target) in &mut self.targets {
            if target.dirty && !writable.iter().any(|h| h.generation == *generation) {
                commit_blocking(target)?;
            }
        }
        self.targets
            .retain(|g, _| writable.iter().any(|h| h.generation == *g));
        for handle in writable {
            if self.targets.contains_key(&handle.generation) {
                continue;
            }
            let (threads, heap) = match handle.meta().phase {
                Phase::Building => (
                    self.config.build_writer_threads.max(1),
                    self.config.build_writer_heap_bytes,
                ),
                _ => (1, self.config.writer_heap_bytes),
            };
            let options = tantivy::indexer::IndexWriterOptions::builder()
                .num_worker_threads(threads)
                .memory_budget_per_thread((heap / threads).max(MIN_HEAP_PER_THREAD))
                .build();
            let writer: IndexWriter = handle.writer(options)?;
            if handle.meta().phase == Phase::Building {
                // No merges while building: they would merge the build's segments again and
                // again at the build's expense; `finish_build` restores the default policy, so
                // the next commits merge them, and `--merge` merges at once.
                writer.set_merge_policy(Box::new(NoMergePolicy));
            }
            handle.reload()?;
            let versions = VersionMap::rebuild(&handle.searcher())?;
            tracing::info!(generation = %handle.generation, entities = versions.len(), "writing to generation");
            self.targets.insert(
                handle.generation,
                Target {
                    handle,
                    writer: Arc::new(Mutex::new(writer)),
                    versions,
                    dirty: false,
                    finishing: false,
                    held: Vec::new(),
                },
            );
            crate::priority::lower_writer_threads(self.config.writer_nice);
        }
        Ok(())
    }

    /// Hydrate stage: decide what each entity is now, re-reading lagging rows a few times.
    ///
    /// An entity an activity marked is always read (its counts changed, its version did not)
    /// and must be read at least at the version every generation holds, so a re-count never
    /// writes an older row over a newer one (a replica behind the primary lags instead).
    async fn resolve(&self, pending: Vec<Pending>) -> Result<Vec<Item>, IndexerError> {
        let mut items: Vec<Item> = pending
            .into_iter()
            .map(|mut pending| {
                let resolution = if pending.recount {
                    pending.floor = pending.floor.max(self.held(pending.key));
                    Resolution::Lagging
                } else {
                    match self.known(&pending) {
                        Some(decision) => Resolution::Known(decision),
                        None => Resolution::Lagging,
                    }
                };
                Item {
                    rerender: pending.recount,
                    pending,
                    resolution,
                    outcome: Outcome::Duplicate,
                }
            })
            .collect();
        let last = self.config.lag_retries.len();
        let pauses = std::iter::once(Duration::ZERO).chain(self.config.lag_retries.iter().copied());
        for (round, pause) in pauses.enumerate() {
            let waiting: Vec<usize> = (0..items.len())
                .filter(|i| matches!(items[*i].resolution, Resolution::Lagging))
                .collect();
            if waiting.is_empty() {
                break;
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            // Taken before the rows are read, so the rows are at least as new.
            let replay = match waiting
                .iter()
                .any(|i| items[*i].pending.marked_at.is_some())
            {
                true => self.replay().await?,
                false => None,
            };
            let keys: Vec<EntityKey> = waiting.iter().map(|i| items[*i].pending.key).collect();
            let rows = self.read_rows(&keys).await?;
            for i in waiting {
                let item = &mut items[i];
                item.resolution = classify(&item.pending, rows.get(&item.pending.key));
                let read = matches!(item.resolution, Resolution::Upsert(_) | Resolution::Gone(_));
                if read && replay.is_some_and(|r| unreplayed(&item.pending, r, round == last)) {
                    item.resolution = Resolution::Lagging;
                }
            }
        }
        Ok(items)
    }

    /// Where the database is a standby, how far it has replayed (see [`unreplayed`]).
    async fn replay(&self) -> Result<Option<hydrate::Replay>, IndexerError> {
        use std::sync::atomic::Ordering;
        if self.reads_current.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let replay = self
            .retrying("replay position", || hydrate::replay(&self.db))
            .await?;
        // A primary stays one (a promoted standby becomes one); a standby is asked each time.
        if replay.is_none() {
            self.reads_current.store(true, Ordering::Relaxed);
        }
        Ok(replay)
    }

    /// Owner stage: tracks, playlists and groups show their owner's names and are searchable
    /// only while their owner is ([`schemas::searchable`]), so a user read at a new version
    /// (`owners`) is also written to every entity it owns ([`hydrate::dependents`]), in the
    /// same batch: the user's event is acknowledged only once they are written. They are
    /// re-rendered even at the version a generation holds (their own `updated_at` did not
    /// move; a newer version still wins and an older one is still stale). An entity in the
    /// batch on its own account is read again too, as it may have been read before its owner.
    ///
    /// What an unsearchable owner made is unsearchable whatever its own row says: it becomes
    /// tombstones at its rows' versions from one light read ([`hydrate::dependent_versions`]),
    /// never a hydration per row — a spam cleanup takes thousands of tracks per account.
    ///
    /// Returns the searchable owners whose entities were read here, after their own rows: their
    /// counts are read again ([`Indexer::settle_counts`]).
    async fn fan_out(
        &self,
        items: &mut Vec<Item>,
        owners: Vec<i64>,
    ) -> Result<Vec<EntityKey>, IndexerError> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let searchable_owner = |id: i64| {
            items.iter().any(|item| {
                item.pending.key == EntityKey::new(EntityKind::User, id)
                    && matches!(item.resolution, Resolution::Upsert(_))
            })
        };
        let (present, gone): (Vec<i64>, Vec<i64>) =
            owners.into_iter().partition(|id| searchable_owner(*id));
        // Each dependent with what was read of it: a version (its owner is unsearchable) or its row.
        let mut read: Vec<(EntityKey, Result<Version, Option<Hydrated>>)> = Vec::new();
        if !gone.is_empty() {
            let versions = self
                .retrying("dependent versions", || {
                    hydrate::dependent_versions(&self.db, &gone)
                })
                .await?;
            read.extend(
                versions
                    .into_iter()
                    .map(|(key, version)| (key, Ok(version))),
            );
        }
        if !present.is_empty() {
            let dependents = self
                .retrying("dependents", || hydrate::dependents(&self.db, &present))
                .await?;
            let mut rows = self.read_rows(&dependents).await?;
            read.extend(
                dependents
                    .into_iter()
                    .map(|key| (key, Err(rows.remove(&key)))),
            );
        }
        let position: HashMap<EntityKey, usize> = (items.iter().enumerate())
            .map(|(i, item)| (item.pending.key, i))
            .collect();
        for (key, what) in read {
            let at = position.get(&key).copied();
            let resolution = {
                let fresh;
                let pending = match at {
                    Some(i) => &items[i].pending,
                    None => {
                        fresh = dependent(key);
                        &fresh
                    }
                };
                match what {
                    Ok(version) if version < pending.floor => Resolution::Lagging,
                    Ok(version) => Resolution::Gone(version),
                    Err(row) => classify(pending, row.as_ref()),
                }
            };
            if let Some(i) = at {
                let item = &mut items[i];
                if !matches!(item.resolution, Resolution::Unrenderable(_)) {
                    item.resolution = resolution;
                    item.rerender = true;
                }
                continue;
            }
            // Gone from the database since the owner's read: nothing to re-render.
            if matches!(resolution, Resolution::Lagging) {
                continue;
            }
            items.push(Item {
                pending: dependent(key),
                resolution,
                outcome: Outcome::Duplicate,
                rerender: true,
            });
        }
        Ok(present
            .into_iter()
            .map(|id| EntityKey::new(EntityKind::User, id))
            .collect())
    }

    /// A track that comes or goes changes its owner's track count: the owners of the batch's
    /// tracks are re-counted like an activity's marks. A track deleted outright has no row to
    /// name its owner; the document the index holds does (`owner_id`).
    ///
    /// Returns the uploaders read in this batch already: their counts are read again once
    /// every track of the batch is read ([`Indexer::settle_counts`]).
    async fn recount_uploaders(
        &self,
        items: &mut Vec<Item>,
    ) -> Result<Vec<EntityKey>, IndexerError> {
        let mut uploaders: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
        let mut unread = Vec::new();
        for item in items.iter() {
            if item.pending.key.kind != EntityKind::Track {
                continue;
            }
            match &item.resolution {
                Resolution::Upsert(hydrated) => {
                    if let Some(FieldValue::Int(owner)) = hydrated.row.fields.get("owner_id") {
                        uploaders.insert(*owner);
                    }
                }
                Resolution::Gone(_) => unread.push(item.pending.key.id),
                Resolution::Removed(_) => {
                    uploaders.extend(self.indexed_owner(item.pending.key));
                }
                _ => {}
            }
        }
        if !unread.is_empty() {
            let owners = self
                .retrying("track owners", || hydrate::track_owners(&self.db, &unread))
                .await?;
            uploaders.extend(owners);
        }
        let mut fresh = Vec::new();
        let mut unsettled = Vec::new();
        for id in uploaders {
            let key = EntityKey::new(EntityKind::User, id);
            match items.iter().position(|item| item.pending.key == key) {
                // Read in this batch already, maybe before its track: written with the count
                // of a read after every track's.
                Some(i) if matches!(items[i].resolution, Resolution::Upsert(_)) => {
                    items[i].rerender = true;
                    unsettled.push(key);
                }
                // Its event changed nothing by itself (or it is unsearchable): re-read it as
                // a re-count, keeping its deliveries.
                Some(i) => {
                    let item = items.swap_remove(i);
                    fresh.push(Pending {
                        recount: true,
                        ..item.pending
                    });
                }
                None => fresh.push(Pending {
                    recount: true,
                    ..dependent(key)
                }),
            }
        }
        if !fresh.is_empty() {
            let recounted = Box::pin(self.resolve(fresh)).await?;
            items.extend(recounted);
        }
        Ok(unsettled)
    }

    /// A user's counts are read with its row, and a track of theirs read later in the same
    /// batch (a lagging row's re-read, the owner stage) may be missing from them. That track's
    /// own event then finds it indexed and re-counts nobody, so the count would stay one
    /// behind. Each of `users` is read once more after the batch's last track read and takes
    /// that read's counts while its row is still at the version read before; a newer version
    /// keeps the earlier read, as the entities were rendered with its names, and its own event
    /// reads it again.
    async fn settle_counts(
        &self,
        items: &mut [Item],
        mut users: Vec<EntityKey>,
    ) -> Result<(), IndexerError> {
        users.sort_unstable();
        users.dedup();
        if users.is_empty() {
            return Ok(());
        }
        let mut rows = self.read_rows(&users).await?;
        for item in items.iter_mut() {
            let Resolution::Upsert(read) = &mut item.resolution else {
                continue;
            };
            if let Some(again) = rows.remove(&item.pending.key)
                && again.searchable
                && again.version() == read.version()
            {
                *read = again;
            }
        }
        Ok(())
    }

    /// The owner of `key` as a writable generation's document has it.
    fn indexed_owner(&self, key: EntityKey) -> Option<i64> {
        use tantivy::schema::Value;
        self.targets.values().find_map(|target| {
            let definitions = target.handle.definitions();
            let owner = definitions.field("owner_id")?;
            let doc = stored_document(&target.handle.searcher(), &definitions, key)?;
            doc.get_first(owner).and_then(|v| v.as_i64())
        })
    }

    /// The rows a sweep read whole (`observed.read`) that some writable generation holds at
    /// the row's own version but with other counts or track lists ([`crate::derived`]): the
    /// activity behind them came with no event. Rows already `pending`, unsearchable rows and
    /// rows newer than `observed.until` are left to their own repair or event.
    fn derived_differs(&self, observed: &Observed, pending: &[Pending]) -> Vec<EntityKey> {
        if observed.read.is_empty() {
            return Vec::new();
        }
        let taken: std::collections::HashSet<EntityKey> = pending.iter().map(|p| p.key).collect();
        let rows: Vec<&Hydrated> = (observed.read.iter())
            .filter(|row| row.searchable && row.version() <= observed.until)
            .filter(|row| !taken.contains(&row.key()))
            .collect();
        let mut differs = std::collections::BTreeSet::new();
        for target in self.targets.values() {
            let definitions = target.handle.definitions();
            let searcher = target.handle.searcher();
            for row in &rows {
                let key = row.key();
                let held = target.versions.get(&key);
                if differs.contains(&key)
                    || held.is_none_or(|s| s.tombstone || s.version != row.version())
                {
                    continue;
                }
                let shown = stored_document(&searcher, &definitions, key)
                    .map(|doc| crate::derived::of_document(&definitions, key.kind, &doc));
                if shown.is_some() && shown != crate::derived::of_row(&definitions, &row.row) {
                    differs.insert(key);
                }
            }
        }
        differs.into_iter().collect()
    }

    /// Runs a database read until it succeeds (backing off) or the indexer is stopped: a
    /// failed read is retried, never acknowledged unread.
    async fn retrying<T, F, Fut>(&self, what: &str, mut read: F) -> Result<T, IndexerError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        let mut backoff = Duration::from_millis(100);
        loop {
            match read().await {
                Ok(read) => return Ok(read),
                Err(e) => {
                    tracing::warn!(error = %e, what, retry_in = ?backoff, "database read failed");
                    tokio::select! {
                        _ = self.cancel.cancelled() => return Err(IndexerError::Cancelled),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Whether some writable generation holds `key` older than `version` (or not at all): a
    /// user read at such a version changed, so what it owns is written again ([`Self::fan_out`]).
    /// A user read only to re-count its tracks, at the version every generation holds, did
    /// not: re-reading everything an uploader owns for a count would make a cleanup's
    /// uploaders cost their whole catalogue per batch.
    fn newer_somewhere(&self, key: EntityKey, version: Version) -> bool {
        (self.targets.values())
            .any(|target| versions::decide(target.versions.get(&key), version) == Decision::Write)
    }

    /// The newest version of `key` any writable generation holds (0 when none has it).
    fn held(&self, key: EntityKey) -> Version {
        (self.targets.values())
            .filter_map(|target| target.versions.get(&key).map(|stored| stored.version))
            .max()
            .unwrap_or(Version(0))
    }

    /// `Some` when every writable generation already reflects the event's floor.
    fn known(&self, pending: &Pending) -> Option<Decision> {
        let mut decision = None;
        for target in self.targets.values() {
            let covered = versions::covers(target.versions.get(&pending.key), pending.floor)?;
            decision.get_or_insert(covered);
        }
        decision
    }

    /// Runs `future` (which holds nothing of the indexer) to its end. While a reindex streams,
    /// the loop does the reindex's work from the inbox meanwhile, so the build does not wait on
    /// a live batch's commits. Not used for the batch's row reads: a page taken during those
    /// delays the batch's writes, which slows the build. `Cancelled` when a piece of work found
    /// the indexer stopped (after `future` ended all the same).
    async fn work_while<T>(
        &mut self,
        future: impl std::future::Future<Output = T>,
    ) -> Result<T, IndexerError> {
        let inbox = self.inbox.take_if(|_| self.streaming);
        let Some(mut inbox) = inbox else {
            return Ok(future.await);
        };
        let mut future = std::pin::pin!(future);
        let mut stopped = false;
        let output = loop {
            tokio::select! {
                biased;
                output = &mut future => break output,
                Some(work) = inbox.recv(), if !stopped && !self.generations.paused() => {
                    // Boxed: a page's own commit leads back here (never overlapping, as pages
                    // are not live batches), which an async fn can only do boxed.
                    stopped = Box::pin(self.work(work)).await;
                }
            }
        };
        self.inbox = Some(inbox);
        match stopped {
            true => Err(IndexerError::Cancelled),
            false => Ok(output),
        }
    }

    /// One query per kind; a failed read is retried (with backoff) until it succeeds or the
    /// indexer is stopped — never acknowledged unread.
    async fn read_rows(
        &self,
        keys: &[EntityKey],
    ) -> Result<HashMap<EntityKey, Hydrated>, IndexerError> {
        let mut rows = HashMap::with_capacity(keys.len());
        for kind in EntityKind::ALL {
            let ids: Vec<i64> = keys
                .iter()
                .filter(|k| k.kind == kind)
                .map(|k| k.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let hydrated = self
                .retrying(kind.as_str(), || hydrate::hydrate(&self.db, kind, &ids))
                .await?;
            rows.extend(hydrated.into_iter().map(|h| (h.key(), h)));
        }
        Ok(rows)
    }

    /// Render + versioned write: the operations each generation needs, upserts only when newer.
    fn versioned_writes(&self, items: &mut [Item]) -> BTreeMap<Generation, Writes> {
        let mut per_target: BTreeMap<Generation, Writes> = BTreeMap::new();
        for item in items.iter_mut() {
            let key = item.pending.key;
            let (version, tombstone) = match &item.resolution {
                Resolution::Known(decision) => {
                    item.outcome = decided(*decision);
                    continue;
                }
                Resolution::Lagging => {
                    item.outcome = Outcome::Retried;
                    continue;
                }
                Resolution::Unrenderable(_) => {
                    item.outcome = Outcome::DeadLettered;
                    continue;
                }
                Resolution::Upsert(hydrated) => (hydrated.version(), false),
                Resolution::Gone(version) | Resolution::Removed(version) => (*version, true),
            };
            let mut written = false;
            let mut first_decision = None;
            let mut unrenderable = None;
            // Generations with the same definitions share one `Arc`: render once for each
            // distinct definitions, not once per generation.
            let mut rendered: Vec<(Arc<Definitions>, TantivyDocument)> = Vec::new();
            for (generation, target) in &self.targets {
                let decision = match versions::decide(target.versions.get(&key), version) {
                    Decision::Duplicate if item.rerender => Decision::Write,
                    decision => decision,
                };
                first_decision.get_or_insert(decision);
                if decision != Decision::Write {
                    continue;
                }
                let definitions = target.handle.definitions();
                let same = rendered.iter().find(|(d, _)| Arc::ptr_eq(d, &definitions));
                let document = match (same, &item.resolution) {
                    (Some((_, document)), _) => Ok(document.clone()),
                    (None, Resolution::Upsert(hydrated)) => render(&definitions, &hydrated.row),
                    (None, _) => Ok(definitions.tombstone(key, version)),
                };
                if let Ok(document) = &document
                    && same.is_none()
                    && self.targets.len() > 1
                {
                    rendered.push((definitions.clone(), document.clone()));
                }
                let document = match document {
                    Ok(document) => document,
                    Err(reason) => {
                        unrenderable = Some(reason);
                        break;
                    }
                };
                let writes = per_target.entry(*generation).or_default();
                // The version map knows every document the generation holds: a key it has
                // never seen has no document to replace (most of a reindex's writes).
                if target.versions.get(&key).is_some() {
                    writes
                        .operations
                        .push(UserOperation::Delete(definitions.key_term(key)));
                }
                writes.operations.push(UserOperation::Add(document));
                writes.stored.push((key, Stored { version, tombstone }));
                written = true;
            }
            if let Some(reason) = unrenderable {
                tracing::warn!(%key, %reason, "row cannot be rendered; dead-lettered");
                item.resolution = Resolution::Unrenderable(reason);
            }
            item.outcome = match (&item.resolution, written) {
                (Resolution::Unrenderable(_), _) => Outcome::DeadLettered,
                (_, true) if tombstone => Outcome::Deleted,
                (_, true) => Outcome::Indexed,
                (_, false) => decided(first_decision.unwrap_or(Decision::Duplicate)),
            };
        }
        per_target
    }

    /// Commit stage: each generation commits its operations and reloads its reader, and its
    /// version map learns the new versions after the commit (or, for a live batch while a
    /// reindex streams, when they are handed over: see `work_until_committed`). The
    /// generations commit concurrently (each
    /// on its own blocking thread), so a batch waits for the slowest commit, not their sum.
    ///
    /// A generation being built only queues its operations (see [`Target`]; its map learns
    /// them at once: the writer applies operations in order, so later writes are decided
    /// against what it will hold). A live batch (`Pace::Live`) does not even wait for the
    /// building writer's queue: its operations are held and go to the writer ahead of the next
    /// reindex page (or at [`HELD_LIMIT`]), so live batches never wait behind the build's
    /// indexing backlog and the reindex page pays the writer's back-pressure, as it should.
    async fn commit(
        &mut self,
        mut operations: BTreeMap<Generation, Writes>,
        pace: Pace,
    ) -> Result<(), IndexerError> {
        // While a reindex streams, a live batch's commits run while the loop goes on with the
        // reindex's pages (see `work_until_committed`; otherwise `work_while` just waits).
        let overlap = pace == Pace::Live && self.streaming;
        let jobs = (self.targets.iter_mut()).filter_map(|(generation, target)| {
            let writes = operations.remove(generation);
            // A reindex page also flushes what live batches left held, even when it brings
            // nothing new for this generation.
            let flush = pace == Pace::Build && !target.finishing && !target.held.is_empty();
            if writes.is_none() && !flush {
                return None;
            }
            let Writes { operations, stored } = writes.unwrap_or_default();
            Some(async move {
                let building = target.handle.meta().phase == Phase::Building;
                let mut started = None;
                if target.finishing {
                    target.held.extend(operations);
                } else if building {
                    target.held.extend(operations);
                    if pace == Pace::Build || target.held.len() >= HELD_LIMIT {
                        let held = std::mem::take(&mut target.held);
                        write(target, held, false).await?;
                    }
                } else if overlap {
                    started = Some(Started {
                        handle: target.handle.clone(),
                        task: start_write(target, operations, true),
                    });
                } else {
                    write(target, operations, true).await?;
                }
                for (key, version) in stored {
                    target.versions.set(key, version);
                }
                Ok::<_, IndexerError>(started)
            })
        });
        let started: Vec<Started> = (futures::future::try_join_all(jobs).await?)
            .into_iter()
            .flatten()
            .collect();
        if !started.is_empty() {
            self.work_until_committed(started).await?;
        }
        // A commit starts new indexing threads.
        crate::priority::lower_writer_threads(self.config.writer_nice);
        Ok(())
    }

    /// Waits for the live batch's commits (`started`) doing the reindex's work meanwhile
    /// ([`Indexer::work_while`]), then makes them searchable.
    ///
    /// Those generations' version maps learned the batch's versions when the writes were
    /// handed over, as a building generation's do: the writer applies operations in order, so a
    /// page that comes after is decided against them. A failed commit stops the indexer (the
    /// batch is not acknowledged and the maps are rebuilt from the index on restart). The
    /// batch's duration (metrics, debug log) includes the pages done meanwhile.
    async fn work_until_committed(&mut self, started: Vec<Started>) -> Result<(), IndexerError> {
        let (handles, tasks): (Vec<_>, Vec<_>) =
            (started.into_iter()).map(|s| (s.handle, s.task)).unzip();
        let joined = self.work_while(futures::future::join_all(tasks)).await?;
        for (handle, joined) in handles.into_iter().zip(joined) {
            written(handle.path(), joined)?;
            // Reloaded even when a page meanwhile found the generation no longer writable
            // (read-only, retired) and dropped its writer: it may still be served.
            handle.reload()?;
            if let Some(target) = self.targets.get_mut(&handle.generation) {
                target.dirty = false;
            }
        }
        Ok(())
    }

    /// After the commit: tell subscribers what changed, measure time to searchable.
    fn announce(&self, items: &[Item], report: &mut BatchReport) {
        let visible_at = Utc::now();
        for item in items {
            if !matches!(
                item.resolution,
                Resolution::Lagging | Resolution::Unrenderable(_)
            ) {
                report.add(item.outcome, item.pending.deliveries.len() as u64);
            }
            let row = match (&item.resolution, item.outcome) {
                (Resolution::Upsert(hydrated), Outcome::Indexed) => Some(hydrated.row.clone()),
                (Resolution::Gone(_) | Resolution::Removed(_), Outcome::Deleted) => None,
                _ => continue,
            };
            let version = match &item.resolution {
                Resolution::Upsert(hydrated) => hydrated.version(),
                Resolution::Gone(version) | Resolution::Removed(version) => *version,
                _ => continue,
            };
            let _ = self.changes.send(IndexChange {
                key: item.pending.key,
                version,
                row,
            });
            for occurred in &item.pending.occurred {
                report
                    .time_to_searchable
                    .push(metrics::searchable_after(*occurred, visible_at));
            }
        }
    }

    /// Events whose row is not visible yet go to the retry queue (or, after too many attempts,
    /// to the dead-letter queue); unrenderable ones to the dead-letter queue.
    async fn park<S: EventSource>(
        &self,
        source: &mut S,
        deliveries: &[Delivery],
        items: &[Item],
        report: &mut BatchReport,
    ) -> Result<(), IndexerError> {
        for item in items {
            for &position in &item.pending.deliveries {
                let delivery = &deliveries[position];
                match &item.resolution {
                    Resolution::Lagging if delivery.attempts + 1 < self.config.max_attempts => {
                        let factor = 1u32 << delivery.attempts.min(16);
                        let delay =
                            (self.config.park_delay * factor).min(self.config.park_delay_max);
                        source.retry_later(delivery, delay).await?;
                        report.add(Outcome::Retried, 1);
                    }
                    Resolution::Lagging => {
                        let reason = format!(
                            "{}: row not visible at its event time after {} attempts",
                            item.pending.key,
                            delivery.attempts + 1
                        );
                        source
                            .dead_letter(delivery, &reason, "row_not_visible")
                            .await?;
                        report.add(Outcome::DeadLettered, 1);
                    }
                    Resolution::Unrenderable(reason) => {
                        source.dead_letter(delivery, reason, "unrenderable").await?;
                        report.add(Outcome::DeadLettered, 1);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The indexer doing reindex work between live batches ([`batch::gather_between`]).
struct InLoop<'a>(&'a mut Indexer);

impl batch::Worker<Synthesized> for InLoop<'_> {
    async fn work(&mut self, work: Synthesized) -> Turn<Synthesized> {
        if self.0.generations.paused() {
            Turn::Hold(work)
        } else if self.0.work(work).await {
            Turn::Stop
        } else {
            Turn::Done
        }
    }
}

/// Envelope stage: parse each delivery; dead-letter the malformed, count the unknown kinds.
async fn read_envelopes<S: EventSource>(
    source: &mut S,
    deliveries: &[Delivery],
    report: &mut BatchReport,
) -> Result<(Vec<(usize, Envelope)>, Vec<Mark>), IndexerError> {
    let mut events = Vec::with_capacity(deliveries.len());
    let mut marks = Vec::new();
    for (position, delivery) in deliveries.iter().enumerate() {
        let parsed = match Envelope::parse(&delivery.routing_key, &delivery.body) {
            Err(EnvelopeError::UnknownKind(_)) => {
                ActivityEvent::parse(&delivery.routing_key, &delivery.body).map(Err)
            }
            other => other.map(Ok),
        };
        match parsed {
            Ok(Ok(event)) => {
                if let Some(uploader) = uploader_hint(&event, &delivery.body) {
                    marks.push(Mark {
                        position,
                        key: uploader,
                        occurred_at: event.occurred_at,
                    });
                }
                events.push((position, event));
            }
            Ok(Err(activity)) => marks.extend(activity.marks.into_iter().map(|key| Mark {
                position,
                key,
                occurred_at: activity.occurred_at,
            })),
            Err(EnvelopeError::UnknownKind(_)) => report.add(Outcome::UnknownKind, 1),
            Err(e) => {
                tracing::debug!(routing_key = %delivery.routing_key, reason = %e, "dead-lettered");
                source
                    .dead_letter(delivery, &e.to_string(), e.label())
                    .await?;
                report.add(Outcome::DeadLettered, 1);
            }
        }
    }
    Ok((events, marks))
}

/// An entity written for another reason than an event of its own: its owner changed, or a
/// reindex read it.
fn dependent(key: EntityKey) -> Pending {
    Pending::new(key)
}

/// What the row read says about a pending entity (see the module documentation).
fn classify(pending: &Pending, row: Option<&Hydrated>) -> Resolution {
    match row {
        Some(row) if row.version() < pending.floor => Resolution::Lagging,
        Some(row) if row.searchable => Resolution::Upsert(row.clone()),
        Some(row) => Resolution::Gone(row.version()),
        None if pending.destroyed => Resolution::Removed(pending.floor),
        // Marked by an activity only, and gone: nothing to count (its own event settles it).
        None if pending.recount && !pending.evented => Resolution::Known(Decision::Duplicate),
        None => Resolution::Lagging,
    }
}

/// Owner events in a batch past which the other events are committed on their own first.
pub const OWNER_SPLIT: usize = 100;

/// A batch as the parts it is processed in: one, or — when it carries more than
/// [`OWNER_SPLIT`] owner events (a cleanup's take-downs, each fanning out to everything the
/// account made) — its other events first, committed and acknowledged before the owners'
/// fan-out is even read, then the owner events. A live event then waits for one commit of its
/// own, not for thousands of tombstones; a batch with a few profile edits stays one commit.
fn others_first(deliveries: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let owners = deliveries.iter().filter(|d| OwnerLane::carries(d)).count();
    if owners <= OWNER_SPLIT || owners == deliveries.len() {
        return vec![deliveries];
    }
    let (owners, others): (Vec<Delivery>, Vec<Delivery>) =
        deliveries.into_iter().partition(OwnerLane::carries);
    vec![others, owners]
}

/// An activity mark's re-count read from a standby that has not replayed the primary up to the
/// mark's time may miss the activity row, and nothing would read the count again: it lags. The
/// mark's time is the site's clock and the replay time the primary's, so a mark stamped just
/// after its commit on an idle primary could wait forever; on the last re-read a standby that
/// has replayed all it received is taken as current (its WAL streams within milliseconds).
fn unreplayed(pending: &Pending, replay: hydrate::Replay, last_read: bool) -> bool {
    let Some(marked_at) = pending.marked_at else {
        return false;
    };
    let behind = replay.through.is_none_or(|through| through < marked_at);
    behind && !(last_read && replay.caught_up)
}

/// The ids of the users among `items` read at a version (upsert or gone), or removed from the
/// database at one, that `changed` accepts. A removed user's row is gone but the site may have
/// left its entities: they are re-rendered without its names.
fn owners(items: &[Item], changed: impl Fn(EntityKey, Version) -> bool) -> Vec<i64> {
    (items.iter())
        .filter(|item| item.pending.key.kind == EntityKind::User)
        .filter_map(|item| {
            let version = match &item.resolution {
                Resolution::Upsert(hydrated) => hydrated.version(),
                Resolution::Gone(version) | Resolution::Removed(version) => *version,
                _ => return None,
            };
            changed(item.pending.key, version).then_some(item.pending.key.id)
        })
        .collect()
}

fn decided(decision: Decision) -> Outcome {
    match decision {
        Decision::Stale => Outcome::Stale,
        Decision::Duplicate | Decision::Write => Outcome::Duplicate,
    }
}

/// The document for a row; fields the kind's definition does not name are left out by
/// [`Definitions::render`](schemas::definition::Definitions::render) (the hydrator reads more
/// than today's definitions index, e.g. like counts for the prior).
/// The document `searcher` holds for `key` (its newest: a key has one live document).
fn stored_document(
    searcher: &tantivy::Searcher,
    definitions: &Definitions,
    key: EntityKey,
) -> Option<TantivyDocument> {
    let query = tantivy::query::TermQuery::new(
        definitions.key_term(key),
        tantivy::schema::IndexRecordOption::Basic,
    );
    let top = tantivy::collector::TopDocs::with_limit(1).order_by_score();
    let (_, address) = searcher.search(&query, &top).ok()?.into_iter().next()?;
    searcher.doc(address).ok()
}

fn render(definitions: &Definitions, row: &EntityRow) -> Result<TantivyDocument, String> {
    definitions.render(row).map_err(|e| e.to_string())
}

/// Hands `operations` to the writer, off the async threads. With `commit`, commits them and
/// makes the commit searchable; without, leaves them (and the target) uncommitted.
async fn write(
    target: &mut Target,
    operations: Vec<UserOperation>,
    commit: bool,
) -> Result<(), IndexerError> {
    let task = start_write(target, operations, commit);
    written(target.handle.path(), task.await)?;
    target.dirty = !commit;
    if commit {
        target.handle.reload()?;
    }
    Ok(())
}

/// A write handed to a blocking thread: [`write`] without its wait, applied with [`written`].
type WriteTask = tokio::task::JoinHandle<Result<(), tantivy::TantivyError>>;

/// A live batch's commit in flight while the loop goes on (see `Indexer::work_until_committed`).
struct Started {
    handle: Arc<GenerationHandle>,
    task: WriteTask,
}

fn start_write(target: &Target, operations: Vec<UserOperation>, commit: bool) -> WriteTask {
    let writer = target.writer.clone();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let mut writer = lock_writer(&writer);
        let locked = started.elapsed();
        let count = operations.len();
        writer.run(operations)?;
        let ran = started.elapsed();
        if commit {
            writer.commit()?;
        }
        tracing::debug!(
            operations = count,
            lock_ms = locked.as_secs_f64() * 1e3,
            run_ms = (ran - locked).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - ran).as_secs_f64() * 1e3,
            "written"
        );
        Ok(())
    })
}

/// The outcome of a [`WriteTask`] for the generation at `path`.
fn written(
    path: &std::path::Path,
    joined: Result<Result<(), tantivy::TantivyError>, tokio::task::JoinError>,
) -> Result<(), IndexerError> {
    let done =
        joined.map_err(|e| IndexerError::task_failed(format!("writing {}", path.display()), e))?;
    done.map_err(|e| IndexerError::index(path, e))
}

fn lock_writer(writer: &Mutex<IndexWriter>) -> std::sync::MutexGuard<'_, IndexWriter> {
    writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Commits what `target` holds uncommitted, blocking: for a generation that stops being
/// written (read-only, retired) between batches.
fn commit_blocking(target: &mut Target) -> Result<(), IndexerError> {
    let held = std::mem::take(&mut target.held);
    let mut writer = lock_writer(&target.writer);
    let committed = match held.is_empty() {
        true => Ok(()),
        false => writer.run(held).map(|_| ()),
    };
    committed
        .and_then(|()| writer.commit().map(|_| ()))
        .map_err(|e| IndexerError::index(target.handle.path(), e))?;
    target.dirty = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn delivery(routing_key: &str, tag: u64) -> Delivery {
        Delivery {
            routing_key: routing_key.to_string(),
            body: Vec::new(),
            attempts: 0,
            handle: crate::broker::AckHandle::Memory { consumer: 0, tag },
        }
    }

    /// A cleanup's owner events go after the batch's other events, in a commit of their own;
    /// a few profile edits, or a batch of owner events alone, stay one part.
    #[test]
    fn a_batch_with_a_cleanups_owner_events_commits_the_others_first() {
        let keys = |parts: &[Vec<Delivery>]| -> Vec<Vec<String>> {
            (parts.iter())
                .map(|part| {
                    let mut kinds: Vec<String> =
                        part.iter().map(|d| d.routing_key.clone()).collect();
                    kinds.dedup();
                    kinds
                })
                .collect()
        };
        let mut mixed: Vec<Delivery> = (0..=OWNER_SPLIT as u64)
            .map(|tag| delivery("save.user", tag))
            .collect();
        mixed.insert(7, delivery("save.track", 999));
        assert_eq!(
            keys(&others_first(mixed)),
            vec![
                vec!["save.track".to_string()],
                vec!["save.user".to_string()]
            ]
        );
        let few = vec![delivery("save.user", 1), delivery("save.track", 2)];
        assert_eq!(others_first(few).len(), 1);
        let owners_only: Vec<Delivery> = (0..500).map(|tag| delivery("save.user", tag)).collect();
        assert_eq!(others_first(owners_only).len(), 1);
    }

    /// A re-count for an activity waits for a standby to replay the activity's time; a
    /// standby with nothing left to apply is taken as current on the last re-read only.
    #[test]
    fn a_mark_lags_until_the_standby_has_replayed_its_time() {
        let at = testing::now();
        let key = EntityKey::new(EntityKind::Track, 1);
        let marked = Pending {
            recount: true,
            marked_at: Some(at),
            ..Pending::new(key)
        };
        let replay = |through_ms: Option<i64>, caught_up| hydrate::Replay {
            through: through_ms.map(|ms| at + chrono::Duration::milliseconds(ms)),
            caught_up,
        };
        assert!(unreplayed(&marked, replay(Some(-1), false), false));
        assert!(unreplayed(&marked, replay(None, false), true));
        assert!(!unreplayed(&marked, replay(Some(0), false), false));
        assert!(!unreplayed(&marked, replay(Some(5), false), false));
        assert!(unreplayed(&marked, replay(Some(-1), true), false));
        assert!(!unreplayed(&marked, replay(Some(-1), true), true));
        // Not marked (an entity's own event, a re-count after a track): its floor decides.
        let evented = Pending::new(key);
        assert!(!unreplayed(&evented, replay(None, false), false));
    }

    /// An indexer over `n` users with a generation being built from its feed.
    struct Build {
        _sqlite: testkit::FreshSqlite,
        db: Db,
        _data: tempfile::TempDir,
        generations: Arc<Generations>,
        indexer: Indexer,
        building: Generation,
        feed: ReindexFeed,
        /// When the users were written.
        at: chrono::DateTime<Utc>,
    }

    impl Build {
        /// The database, the generation set, the generation being built and when the users were
        /// written.
        fn parts(&self) -> (Db, Arc<Generations>, Generation, chrono::DateTime<Utc>) {
            (
                self.db.clone(),
                self.generations.clone(),
                self.building,
                self.at,
            )
        }

        async fn with_users(n: i64) -> Build {
            let sqlite = testkit::FreshSqlite::create().await;
            let db = sqlite.db.clone();
            let at = testing::now();
            for id in 1..=n {
                testing::insert_user(&db, id, &format!("user{id}"), &format!("Singer {id}"), at)
                    .await
                    .unwrap();
            }
            let data = tempfile::tempdir().unwrap();
            let generations = Generations::open(data.path()).unwrap();
            let mut indexer =
                Indexer::open(db.clone(), generations.clone(), IndexerConfig::default()).unwrap();
            // Created after the indexer opened (whose recovery fails builds with no owner).
            let building = generations
                .create_generation(Phase::Building)
                .unwrap()
                .generation;
            let feed = indexer.reindex_feed();
            Build {
                _sqlite: sqlite,
                db,
                _data: data,
                generations,
                indexer,
                building,
                feed,
                at,
            }
        }
    }

    /// Keys of `handle`'s documents whose owner's full name matches `text`.
    fn owned_by(handle: &GenerationHandle, text: &str) -> Vec<String> {
        testing::keys_matching(handle, &["owner_full_name"], text).unwrap()
    }

    /// A user renamed while a build runs, whose page reaches the live generation before its
    /// event (which will then find the user covered everywhere): the page re-renders the
    /// user's tracks in every generation, as the event would have.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_with_a_renamed_user_rerenders_the_users_tracks_everywhere() {
        let mut build = Build::with_users(1).await;
        let (db, generations, building, at) = build.parts();
        testing::insert_track(&db, 1, 1, "Song", at).await.unwrap();
        let users = || hydrate::hydrate(&db, EntityKind::User, &[1]);
        let tracks = || hydrate::hydrate(&db, EntityKind::Track, &[1]);
        build
            .indexer
            .apply_rows(users().await.unwrap())
            .await
            .unwrap();
        build
            .indexer
            .apply_rows(tracks().await.unwrap())
            .await
            .unwrap();
        let live = generations.live();
        assert_eq!(owned_by(&live, "singer"), vec!["track:1"]);

        let user = EntityKey::new(EntityKind::User, 1);
        let renamed = at + chrono::Duration::seconds(5);
        testing::rename(&db, user, "Renamed Crooner", renamed)
            .await
            .unwrap();
        build
            .indexer
            .apply_rows(users().await.unwrap())
            .await
            .unwrap();
        assert_eq!(owned_by(&live, "crooner"), vec!["track:1"]);
        assert!(owned_by(&live, "singer").is_empty());
        build.indexer.finish_build(building).await.unwrap();
        let built = generations.get(building).unwrap();
        assert_eq!(owned_by(&built, "crooner"), vec!["track:1"]);
        assert!(owned_by(&built, "singer").is_empty());
    }

    /// Two writable generations with different definitions: one event is written into each
    /// with its own schema and analyzers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_generation_is_written_with_its_own_definitions() {
        let mut build = Build::with_users(1).await;
        let (db, generations, _, at) = build.parts();
        // Titles analyzed as prose in the new generation: `$` is no letter there.
        let prose_titles = Definitions::builtin_edited(|_, text| {
            text.replace(
                r#""name": "title", "type": "text", "analyzer": "name""#,
                r#""name": "title", "type": "text", "analyzer": "text""#,
            )
        });
        let other = generations
            .create_generation_with(Phase::Built, Arc::new(prose_titles.unwrap()))
            .unwrap();

        testing::insert_track(&db, 1, 1, "Ke$ha Song", at)
            .await
            .unwrap();
        let rows = hydrate::hydrate(&db, EntityKind::Track, &[1])
            .await
            .unwrap();
        build.indexer.apply_rows(rows).await.unwrap();

        let live = generations.live();
        let matching = |handle, text| testing::keys_matching(handle, &["title"], text).unwrap();
        assert_eq!(matching(&live, "kesha"), vec!["track:1"]);
        assert!(matching(&other, "kesha").is_empty());
        assert_eq!(matching(&other, "song"), vec!["track:1"]);
    }

    /// A change the site never announced is repaired by a reconcile pass, and a row deleted
    /// outright with no event by a sweep; what the index already holds is left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reconciling_repairs_unannounced_changes_and_deletes() {
        let mut build = Build::with_users(3).await;
        let (db, generations, _, at) = build.parts();
        let users = hydrate::hydrate(&db, EntityKind::User, &[1, 2, 3])
            .await
            .unwrap();
        build.indexer.apply_rows(users).await.unwrap();
        let live = generations.live();
        let named = |text: &str| testing::keys_matching(&live, &["full_name"], text).unwrap();
        assert_eq!(named("singer").len(), 3);

        // Renamed and deleted outright, with no event.
        let user = |id| EntityKey::new(EntityKind::User, id);
        testing::rename(
            &db,
            user(1),
            "Quiet Crooner",
            at + chrono::Duration::seconds(5),
        )
        .await
        .unwrap();
        testing::remove(&db, user(2)).await.unwrap();
        let until = Utc::now() + chrono::Duration::seconds(10);
        let since = at - chrono::Duration::hours(1);

        let pass = crate::reconcile::changed(&db, EntityKind::User, since, until)
            .await
            .unwrap();
        assert_eq!(pass.rows.len(), 2, "the renamed user and the untouched one");
        let report = build.indexer.reconcile(pass.clone()).await.unwrap();
        assert_eq!(
            report.outcomes.get(&Outcome::Indexed),
            Some(&1),
            "{report:?}"
        );
        assert_eq!(named("crooner"), vec!["user:1"]);
        assert_eq!(
            named("singer"),
            vec!["user:2", "user:3"],
            "a pass finds no delete"
        );
        // Again: nothing differs any more.
        let again = build.indexer.reconcile(pass).await.unwrap();
        assert!(again.outcomes.is_empty(), "{again:?}");

        // A sweep in steps of one row: user 2's document lies in the second step's span
        // (after 1, through 3), and only that step removes it.
        let step = |after| crate::reconcile::sweep_step(&db, EntityKind::User, after, 1, until);
        let first = step(i64::MIN).await.unwrap();
        assert_eq!(first.swept.and_then(|s| s.through), Some(1));
        let report = build.indexer.reconcile(first).await.unwrap();
        assert!(report.outcomes.is_empty(), "{report:?}");
        let second = step(1).await.unwrap();
        assert_eq!(second.swept.and_then(|s| s.through), Some(3));
        let report = build.indexer.reconcile(second).await.unwrap();
        assert_eq!(
            report.outcomes.get(&Outcome::Deleted),
            Some(&1),
            "{report:?}"
        );
        assert_eq!(named("singer"), vec!["user:3"]);
        let last = step(3).await.unwrap();
        assert_eq!(last.swept.map(|s| s.through), Some(None), "the end");
        assert!(
            build
                .indexer
                .reconcile(last)
                .await
                .unwrap()
                .outcomes
                .is_empty()
        );
    }

    /// Memberships deleted in bulk with no event (a cleanup) leave a group's document at its
    /// row's version with the old member count: a sweep finds the difference, re-counts the
    /// group as a repair, and the next sweep finds nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sweep_recounts_what_activity_changed_without_an_event() {
        let mut build = Build::with_users(3).await;
        let (db, generations, _, at) = build.parts();
        testing::insert_group(&db, 7, 1, "Night Drive Club", at)
            .await
            .unwrap();
        for user in 1..=3 {
            testing::execute_with(
                &db,
                "INSERT INTO group_members (user_id, group_id, created_at) VALUES ($1, $2, $3)",
                &[user, 7],
                at,
            )
            .await
            .unwrap();
        }
        let group = hydrate::hydrate(&db, EntityKind::Group, &[7])
            .await
            .unwrap();
        build.indexer.apply_rows(group).await.unwrap();
        let members = |generations: &Generations| {
            use tantivy::schema::Value;
            let live = generations.live();
            live.reload().unwrap();
            let definitions = live.definitions();
            let key = EntityKey::new(EntityKind::Group, 7);
            let doc = stored_document(&live.searcher(), &definitions, key).unwrap();
            let field = definitions.field("member_count").unwrap();
            doc.get_first(field).and_then(|v| v.as_i64())
        };
        assert_eq!(members(&generations), Some(3));

        testing::execute_with(
            &db,
            "DELETE FROM group_members WHERE user_id IN ($1, $2) AND created_at <= $3",
            &[2, 3],
            at,
        )
        .await
        .unwrap();
        let until = Utc::now() + chrono::Duration::seconds(10);
        let sweep = crate::reconcile::sweep_step(&db, EntityKind::Group, 0, 10, until)
            .await
            .unwrap();
        // The group's version did not move: only its count says what happened.
        assert_eq!(
            build.indexer.held(EntityKey::new(EntityKind::Group, 7)),
            sweep.rows[0].1
        );
        let report = build.indexer.reconcile(sweep.clone()).await.unwrap();
        assert_eq!(
            report.outcomes.get(&Outcome::Indexed),
            Some(&1),
            "{report:?}"
        );
        assert_eq!(members(&generations), Some(1));
        let again = build.indexer.reconcile(sweep).await.unwrap();
        assert!(again.outcomes.is_empty(), "{again:?}");
    }

    /// A reindex writes nothing for an unsearchable row, so a sweep after it finds the row
    /// absent from the index. Nothing was wrong (no search showed it): its tombstone is
    /// written, so the next pass passes it by, and no repair is counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsearchable_row_the_index_never_held_is_no_repair() {
        let mut build = Build::with_users(2).await;
        let (db, _, _, at) = build.parts();
        let hidden = EntityKey::new(EntityKind::User, 2);
        testing::take_down(&db, hidden, true, at + chrono::Duration::seconds(1))
            .await
            .unwrap();
        let shown = hydrate::hydrate(&db, EntityKind::User, &[1]).await.unwrap();
        build.indexer.apply_rows(shown).await.unwrap();

        let until = Utc::now() + chrono::Duration::seconds(10);
        let sweep = crate::reconcile::sweep_step(&db, EntityKind::User, 0, 10, until)
            .await
            .unwrap();
        let report = build.indexer.reconcile(sweep.clone()).await.unwrap();
        assert!(report.outcomes.is_empty(), "{report:?}");
        assert_eq!(
            build.indexer.held(hidden),
            Version::from_datetime(at + chrono::Duration::seconds(1)),
            "the tombstone is written"
        );
        let again = build.indexer.reconcile(sweep).await.unwrap();
        assert!(again.outcomes.is_empty(), "{again:?}");
    }

    /// From a feed, a build's final commit runs off the loop: what arrives meanwhile is held,
    /// then committed with the generation marked built.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finishing_build_holds_writes_and_commits_them_when_built() {
        let mut build = Build::with_users(3).await;
        let (db, generations, building) =
            (build.db.clone(), build.generations.clone(), build.building);
        let rows = |ids: &'static [i64]| hydrate::hydrate(&db, EntityKind::User, ids);
        build
            .indexer
            .apply_rows(rows(&[1, 2]).await.unwrap())
            .await
            .unwrap();

        let commit = build.indexer.commit_in_background(building).unwrap();
        build
            .indexer
            .apply_rows(rows(&[3]).await.unwrap())
            .await
            .unwrap();
        assert_eq!(
            build.indexer.targets[&building].held.len(),
            1,
            "written while finishing"
        );
        commit.await.unwrap().unwrap();
        let handle = generations.get(building).unwrap();
        handle.reload().unwrap();
        assert_eq!(
            handle.document_count(),
            2,
            "the background commit has the pages"
        );
        assert_eq!(handle.meta().phase, Phase::Building);

        build.indexer.finish_build(building).await.unwrap();
        assert_eq!(handle.document_count(), 3);
        assert_eq!(handle.meta().phase, Phase::Built);
        assert!(build.indexer.targets[&building].held.is_empty());
    }

    /// While a reindex streams, a live batch's commit no longer stalls the build: the loop does
    /// a page while the live commit runs (here held up on the writer's lock until the page is
    /// answered, so the batch cannot end before the page). The page's row is older than the
    /// batch's, and the rename wins everywhere.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_goes_through_while_a_live_batch_runs() {
        let mut build = Build::with_users(1).await;
        let (db, generations, building, at) = build.parts();
        let live = generations.live().generation;
        let user = EntityKey::new(EntityKind::User, 1);
        let page = || hydrate::hydrate(&db, EntityKind::User, &[1]);
        build
            .indexer
            .apply_rows(page().await.unwrap())
            .await
            .unwrap();
        let old_page = page().await.unwrap();
        let renamed = at + chrono::Duration::seconds(5);
        testing::rename(&db, user, "Renamed Singer", renamed)
            .await
            .unwrap();
        let bus = crate::broker::MemoryBus::new();
        let mut source = bus.source();
        let (routing_key, body) = testing::event(schemas::envelope::Action::Save, user, renamed);
        bus.publish(&routing_key, body);
        let deliveries: Vec<_> = source.recv(None).await.unwrap().into_iter().collect();
        build.indexer.streaming = true;

        // Hold the live writer's lock until the page is answered.
        let live_writer = build.indexer.targets[&live].writer.clone();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _guard = lock_writer(&live_writer);
            locked.send(()).unwrap();
            let _ = released.recv();
        });
        is_locked.recv().unwrap();
        let feed = build.feed.clone();
        let answered = tokio::spawn(async move {
            let report = feed.apply_rows(old_page).await;
            release.send(()).unwrap();
            report
        });

        let processed = tokio::time::timeout(
            Duration::from_secs(20),
            build.indexer.process(&mut source, &deliveries),
        )
        .await
        .expect("the page went through during the live batch");
        processed.unwrap();
        let report = answered.await.unwrap().unwrap();
        holder.join().unwrap();
        assert_eq!(
            report.count(Outcome::Indexed),
            0,
            "the page's row is not newer"
        );
        build.indexer.finish_build(building).await.unwrap();
        for generation in [live, building] {
            let handle = generations.get(generation).unwrap();
            handle.reload().unwrap();
            let versions = VersionMap::rebuild(&handle.searcher()).unwrap();
            assert_eq!(
                versions.get(&user).map(|stored| stored.version),
                Some(Version::from_datetime(renamed)),
                "{generation} holds the rename"
            );
        }
    }

    /// A live batch during a build hands the building generation's operations to its writer
    /// only ahead of the next reindex page (so it never waits behind the build's backlog),
    /// while the live generation commits at once; the build ends with the live write applied
    /// after the page that held an older row of the same entity. The building writer does not
    /// merge until the build is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_live_batch_holds_building_writes_until_the_next_page() {
        let mut build = Build::with_users(2).await;
        let (db, generations, building, at) = build.parts();
        let live = generations.live().generation;
        let user = |id| EntityKey::new(EntityKind::User, id);
        // The reindex read user 1 before its rename, and hands the page in after it.
        let page = hydrate::hydrate(&db, EntityKind::User, &[1]).await.unwrap();
        let renamed = at + chrono::Duration::seconds(5);
        testing::rename(&db, user(1), "Renamed Singer", renamed)
            .await
            .unwrap();

        let bus = crate::broker::MemoryBus::new();
        let mut source = bus.source();
        for (id, version) in [(1, renamed), (2, at)] {
            let (routing_key, body) =
                testing::event(schemas::envelope::Action::Save, user(id), version);
            bus.publish(&routing_key, body);
        }
        let mut deliveries = Vec::new();
        while deliveries.len() < 2 {
            deliveries.extend(source.recv(None).await.unwrap());
        }
        build
            .indexer
            .process(&mut source, &deliveries)
            .await
            .unwrap();
        assert_eq!(
            build.indexer.targets[&building].held.len(),
            2,
            "the live batch's building writes are held"
        );
        assert_eq!(
            generations.get(live).unwrap().document_count(),
            2,
            "live committed"
        );

        let report = build.indexer.apply_rows(page).await.unwrap();
        assert_eq!(report.count(Outcome::Indexed), 0, "the page's row is older");
        assert!(
            build.indexer.targets[&building].held.is_empty(),
            "the page flushed them"
        );
        let policy = |indexer: &Indexer| {
            format!(
                "{:?}",
                lock_writer(&indexer.targets[&building].writer).get_merge_policy()
            )
        };
        assert!(
            policy(&build.indexer).starts_with("NoMergePolicy"),
            "no merges while building"
        );
        build.indexer.finish_build(building).await.unwrap();
        let handle = generations.get(building).unwrap();
        assert_eq!(handle.document_count(), 2);
        assert_eq!(handle.meta().phase, Phase::Built);
        let versions = VersionMap::rebuild(&handle.searcher()).unwrap();
        assert_eq!(
            versions.get(&user(1)).map(|stored| stored.version),
            Some(Version::from_datetime(renamed)),
            "the live rename outlives the older page"
        );
        assert!(
            policy(&build.indexer).starts_with("LogMergePolicy"),
            "built: merges as usual"
        );
    }
}
