//! Full reindex into a new generation while live events keep flowing (docs/ARCHITECTURE.md, "Index
//! generations and ops").
//!
//! A reindex walks every table in id order, [`ReindexOptions::batch_size`] rows at a time: an
//! index-only read finds each page's last id ([`hydrate::page_end`]) and one statement hydrates
//! the page's id range ([`hydrate::hydrate_range`], the same values as the live path's per-id
//! hydration), [`ReindexOptions::readers`] pages at once. A reader task stays
//! [`ReindexOptions::read_ahead`] pages ahead of the writer, which hands each page's rows to the indexer as synthesized create
//! events whose floor is the epoch ([`Indexer::apply_rows`]): the same resolution, rendering
//! and versioned writes as live events. Meanwhile live events go to every writable generation
//! — live, previous and the one being built — and versions settle every race between the two.
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db, generations: std::sync::Arc<indexer::Generations>,
//! #              mut indexer: indexer::Indexer) -> Result<(), indexer::IndexerError> {
//! use indexer::reindex::{self, ReindexOptions, ReindexProgress, Sink};
//! let feed = indexer.reindex_feed();              // before `indexer.run(..)` moves it
//! let progress = ReindexProgress::default();      // GET /admin/reindex reads a clone
//! let cancel = indexer::CancellationToken::new();
//! let report = reindex::run(&db, &generations, &ReindexOptions::default(), &progress,
//!                           Sink::Feed(feed), &cancel).await?;
//! generations.swap(report.generation)?;           // the caller decides when to go live
//! # Ok(()) }
//! ```
//!
//! The generation is created `building` and becomes `built` only when every row went through;
//! a reindex that fails or is cancelled marks it `failed`, and one whose process died is found
//! by [`generations::recover`](crate::generations::recover) (which [`Indexer::open`] calls) and
//! marked `failed` too. Only a built generation can be swapped in, so a half-built one never
//! becomes live.
//!
//! The pages reach the running indexer through its [`ReindexFeed`] ([`Sink::Feed`], the
//! protocol is in [`crate::feed`]); with no indexer running in the process the reindex opens one
//! of its own for the new generation ([`Sink::Own`]). [`fill_live`] is the same walk into the
//! live generation, for a first start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use schemas::EntityKind;
use schemas::db::Db;
use schemas::definition::Definitions;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::IndexerError;
use crate::batch::BatchReport;
use crate::feed::ReindexFeed;
use crate::generations::lifecycle::{remove_owner, write_owner};
use crate::generations::{Generation, Generations, Phase};
use crate::hydrate::{self, Hydrated};
use crate::metrics::Outcome;
use crate::pipeline::{Indexer, IndexerConfig};

/// How a reindex walks the tables and how many old generations survive it.
#[derive(Debug, Clone)]
pub struct ReindexOptions {
    /// Rows per page (one statement pages and hydrates them).
    pub batch_size: usize,
    /// Pages read ahead of the writer (hydrated while earlier pages render and index).
    pub read_ahead: usize,
    /// Pages hydrated at once (each on its own database connection).
    pub readers: usize,
    /// Generations kept on disk after a swap (live and previous always are).
    pub keep: usize,
    /// The writer's configuration when the reindex runs its own indexer ([`Sink::Own`]).
    pub indexer: IndexerConfig,
    /// The definitions the new generation is built with and keeps (a copy goes into its
    /// directory); `None` takes the catalog's default ([`Generations::definitions`]).
    pub definitions: Option<Arc<Definitions>>,
}

impl Default for ReindexOptions {
    fn default() -> Self {
        ReindexOptions {
            batch_size: 1000,
            read_ahead: 4,
            readers: 2,
            keep: 3,
            indexer: IndexerConfig::default(),
            definitions: None,
        }
    }
}

/// Where a reindex writes.
pub enum Sink {
    /// Through the running indexer: live events reach the new generation meanwhile.
    Feed(ReindexFeed),
    /// Its own indexer, writing the new generation only. For a process with no live indexer
    /// (a first build, a standalone `disco reindex`): events published meanwhile reach the new
    /// generation only if an indexer in this process consumes them.
    Own,
}

/// Where a reindex is: `idle` | `building` | `built` | `failed` | `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReindexState {
    Idle,
    Building,
    Built,
    Failed,
    Cancelled,
}

/// Rows done out of the table's count when the reindex started, for one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindProgress {
    pub rows_done: u64,
    pub rows_total: u64,
}

/// What `GET /admin/reindex` answers and the CLI's bar shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReindexProgressReport {
    pub state: ReindexState,
    pub generation: Option<u32>,
    pub rows_done: u64,
    pub rows_total: u64,
    /// Rows per second since the start.
    pub rate: f64,
    pub eta_seconds: Option<f64>,
    pub kinds: BTreeMap<EntityKind, KindProgress>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(Debug)]
struct ProgressInner {
    state: ReindexState,
    generation: Option<Generation>,
    kinds: BTreeMap<EntityKind, KindProgress>,
    started: Option<(Instant, DateTime<Utc>)>,
    finished: Option<(Instant, DateTime<Utc>)>,
    error: Option<String>,
}

/// A reindex's progress, shared between the reindex and whoever reports it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReindexProgress(Arc<Mutex<ProgressInner>>);

impl Default for ReindexProgress {
    fn default() -> Self {
        ReindexProgress(Arc::new(Mutex::new(ProgressInner {
            state: ReindexState::Idle,
            generation: None,
            kinds: BTreeMap::new(),
            started: None,
            finished: None,
            error: None,
        })))
    }
}

impl ReindexProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressInner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims the handle for a new reindex; `false` while another one is building.
    pub fn try_begin(&self) -> bool {
        let mut inner = self.lock();
        if inner.state == ReindexState::Building {
            return false;
        }
        *inner = ProgressInner {
            state: ReindexState::Building,
            generation: None,
            kinds: BTreeMap::new(),
            started: Some((Instant::now(), Utc::now())),
            finished: None,
            error: None,
        };
        true
    }

    fn set_generation(&self, generation: Generation) {
        self.lock().generation = Some(generation);
    }

    fn set_total(&self, kind: EntityKind, total: u64) {
        self.lock().kinds.entry(kind).or_default().rows_total = total;
    }

    fn add(&self, kind: EntityKind, rows: u64) {
        self.lock().kinds.entry(kind).or_default().rows_done += rows;
    }

    fn finish(&self, state: ReindexState, error: Option<String>) {
        let mut inner = self.lock();
        inner.state = state;
        inner.error = error;
        inner.finished = Some((Instant::now(), Utc::now()));
    }

    pub fn state(&self) -> ReindexState {
        self.lock().state
    }

    /// The figures now.
    pub fn report(&self) -> ReindexProgressReport {
        let inner = self.lock();
        let rows_done: u64 = inner.kinds.values().map(|k| k.rows_done).sum();
        // Rows added while building can push done past the starting count.
        let rows_total = inner
            .kinds
            .values()
            .map(|k| k.rows_total.max(k.rows_done))
            .sum::<u64>();
        let elapsed = match (inner.started, inner.finished) {
            (Some((start, _)), Some((end, _))) => end.duration_since(start).as_secs_f64(),
            (Some((start, _)), None) => start.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        let rate = if elapsed > 0.0 {
            rows_done as f64 / elapsed
        } else {
            0.0
        };
        let eta_seconds = match inner.state {
            ReindexState::Building if rate > 0.0 => {
                Some(rows_total.saturating_sub(rows_done) as f64 / rate)
            }
            ReindexState::Building => None,
            _ => Some(0.0).filter(|_| inner.state == ReindexState::Built),
        };
        ReindexProgressReport {
            state: inner.state,
            generation: inner.generation.map(|g| g.0),
            rows_done,
            rows_total,
            rate,
            eta_seconds,
            kinds: inner.kinds.clone(),
            started_at: inner.started.map(|(_, at)| at),
            finished_at: inner.finished.map(|(_, at)| at),
            error: inner.error.clone(),
        }
    }
}

/// What a finished reindex did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReindexReport {
    pub generation: Generation,
    pub rows: BTreeMap<EntityKind, u64>,
    /// Searchable documents written to the new generation or to another writable one.
    pub indexed: u64,
    /// Tombstones written (rows that exist but are not searchable).
    pub tombstones: u64,
    pub seconds: f64,
}

impl ReindexReport {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    /// Entities per second.
    pub fn rate(&self) -> f64 {
        self.total_rows() as f64 / self.seconds.max(1e-9)
    }
}

/// Builds a new generation from every row of every kind and marks it built (the caller swaps).
/// On error or cancellation the generation is marked failed and never becomes live.
///
/// `progress` must not be building already (see [`ReindexProgress::try_begin`]); when it is idle or
/// finished, this claims it.
pub async fn run(
    db: &Db,
    generations: &Arc<Generations>,
    options: &ReindexOptions,
    progress: &ReindexProgress,
    sink: Sink,
    cancel: &CancellationToken,
) -> Result<ReindexReport, IndexerError> {
    if progress.state() != ReindexState::Building && !progress.try_begin() {
        return Err(IndexerError::Busy);
    }
    let definitions = (options.definitions.clone()).unwrap_or_else(|| generations.definitions());
    let generation = match generations.create_generation_with(Phase::Building, definitions) {
        Ok(handle) => handle.generation,
        Err(e) => {
            progress.finish(ReindexState::Failed, Some(e.to_string()));
            return Err(e);
        }
    };
    progress.set_generation(generation);
    // Marks the generation failed if this future is dropped half-way (an aborted task).
    let mut guard = FailOnDrop {
        generations: generations.clone(),
        generation,
        progress: progress.clone(),
        armed: true,
    };
    let outcome = build(db, generations, options, progress, sink, cancel, generation).await;
    guard.armed = false;
    match outcome {
        Ok(report) => {
            remove_owner(generations, generation);
            progress.finish(ReindexState::Built, None);
            tracing::info!(%generation, rows = report.total_rows(), seconds = report.seconds,
                rate = report.rate(), "reindex built");
            Ok(report)
        }
        Err(e) => {
            let state = if matches!(e, IndexerError::Cancelled) {
                ReindexState::Cancelled
            } else {
                ReindexState::Failed
            };
            if let Err(mark) = generations.set_phase(generation, Phase::Failed) {
                tracing::warn!(%generation, error = %mark, "marking the reindex failed");
            }
            remove_owner(generations, generation);
            progress.finish(state, Some(e.to_string()));
            tracing::warn!(%generation, error = %e, "reindex stopped; its generation is failed");
            Err(e)
        }
    }
}

/// Writes every row of every kind into the live generation through the running indexer: the
/// first build of a new install, whose empty live generation a reindex would only swap out (to
/// an empty previous). The pages go to every writable generation as a reindex's do, and the
/// live one commits each; nothing is created, marked or swapped. The report names live.
pub async fn fill_live(
    db: &Db,
    generations: &Generations,
    options: &ReindexOptions,
    feed: ReindexFeed,
    cancel: &CancellationToken,
) -> Result<ReindexReport, IndexerError> {
    let started = Instant::now();
    let live = generations.live().generation;
    let mut sink = Writer::Feed(feed);
    let progress = ReindexProgress::default();
    let mut report = write_pages(db, options, &progress, &mut sink, cancel, live).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn build(
    db: &Db,
    generations: &Arc<Generations>,
    options: &ReindexOptions,
    progress: &ReindexProgress,
    sink: Sink,
    cancel: &CancellationToken,
    generation: Generation,
) -> Result<ReindexReport, IndexerError> {
    let started = Instant::now();
    write_owner(generations, generation)?;
    let mut sink = match sink {
        Sink::Own => Writer::Own(Box::new(Indexer::open_for(
            db.clone(),
            generations.clone(),
            options.indexer.clone(),
            generation,
        )?)),
        Sink::Feed(feed) => Writer::Feed(feed),
    };
    let mut report = write_pages(db, options, progress, &mut sink, cancel, generation).await?;
    // Only now is the generation durable: until this commit a crash leaves it `building`,
    // which recovery marks failed.
    sink.finish(generation, cancel).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every row of every kind, page by page, through `sink`; `generation` is only what the report
/// names.
async fn write_pages(
    db: &Db,
    options: &ReindexOptions,
    progress: &ReindexProgress,
    sink: &mut Writer,
    cancel: &CancellationToken,
    generation: Generation,
) -> Result<ReindexReport, IndexerError> {
    for kind in EntityKind::ALL {
        let total = hydrate::count_rows(db, kind).await?;
        progress.set_total(kind, u64::try_from(total).unwrap_or(0));
    }
    let mut report = ReindexReport {
        generation,
        rows: BTreeMap::new(),
        indexed: 0,
        tombstones: 0,
        seconds: 0.0,
    };
    let limit = i64::try_from(options.batch_size.max(1)).unwrap_or(i64::MAX);
    let (pages, mut next) = mpsc::channel(options.read_ahead.max(1));
    let mut reader = AbortOnDrop(tokio::spawn(read_pages(
        db.clone(),
        limit,
        options.readers,
        pages,
    )));
    while let Some(Page { kind, rows }) = next.recv().await {
        if cancel.is_cancelled() {
            return Err(IndexerError::Cancelled);
        }
        let n = rows.len() as u64;
        let batch = sink.apply_rows(rows, cancel).await?;
        report.indexed += batch.count(Outcome::Indexed);
        report.tombstones += batch.count(Outcome::Deleted);
        *report.rows.entry(kind).or_default() += n;
        progress.add(kind, n);
    }
    // The reader closed the channel: it is done, or it failed.
    match (&mut reader.0).await {
        Ok(read) => read?,
        Err(e) => return Err(IndexerError::task_failed("reading the reindex's pages", e)),
    }
    if cancel.is_cancelled() {
        return Err(IndexerError::Cancelled);
    }
    // Rows removed or added while building moved the counts taken at the start; a finished
    // build reports what it walked, so done equals total.
    for kind in EntityKind::ALL {
        progress.set_total(kind, report.rows.get(&kind).copied().unwrap_or(0));
    }
    Ok(report)
}

/// One page of a kind's rows, read ahead of the writer.
struct Page {
    kind: EntityKind,
    rows: Vec<Hydrated>,
}

/// Reads every kind's pages in id order into `pages` until done, or until the writer hangs up.
/// The pages' bounds are walked one after another (an index-only read of ids); up to `readers`
/// pages are hydrated at once, on as many connections, and handed on in order.
async fn read_pages(
    db: Db,
    limit: i64,
    readers: usize,
    pages: mpsc::Sender<Page>,
) -> Result<(), IndexerError> {
    use futures::TryStreamExt;
    let bounds = futures::stream::try_unfold(
        (EntityKind::ALL.into_iter(), None, i64::MIN),
        |(mut kinds, mut kind, mut after)| {
            let db = db.clone();
            async move {
                loop {
                    let Some(current) = kind else {
                        let Some(next) = kinds.next() else {
                            return Ok::<_, sqlx::Error>(None);
                        };
                        (kind, after) = (Some(next), i64::MIN);
                        continue;
                    };
                    match hydrate::page_end(&db, current, after, limit).await? {
                        Some(last) => {
                            return Ok(Some(((current, after, last), (kinds, kind, last))));
                        }
                        None => kind = None,
                    }
                }
            }
        },
    );
    let hydrated = bounds
        .map_ok(|(kind, after, last)| {
            let db = db.clone();
            async move {
                let read = Instant::now();
                let rows = hydrate::hydrate_range(&db, kind, after, last).await?;
                tracing::debug!(%kind, rows = rows.len(), read_ms = read.elapsed().as_secs_f64() * 1e3,
                    "reindex page read");
                Ok(Page { kind, rows })
            }
        })
        .try_buffered(readers.max(1));
    let mut hydrated = std::pin::pin!(hydrated);
    while let Some(page) = hydrated.try_next().await? {
        if pages.send(page).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Stops the reader when the build ends early (an error, a cancellation, a dropped future).
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), IndexerError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where a build's pages go: its own indexer, or the running one's feed.
enum Writer {
    Own(Box<Indexer>),
    Feed(ReindexFeed),
}

impl Writer {
    async fn apply_rows(
        &mut self,
        rows: Vec<Hydrated>,
        cancel: &CancellationToken,
    ) -> Result<BatchReport, IndexerError> {
        let written = Instant::now();
        let batch = match self {
            Writer::Own(indexer) => indexer.apply_rows(rows).await?,
            Writer::Feed(feed) => tokio::select! {
                _ = cancel.cancelled() => return Err(IndexerError::Cancelled),
                batch = feed.apply_rows(rows) => batch?,
            },
        };
        tracing::debug!(
            write_ms = written.elapsed().as_secs_f64() * 1e3,
            "reindex page written"
        );
        Ok(batch)
    }

    async fn finish(
        &mut self,
        generation: Generation,
        cancel: &CancellationToken,
    ) -> Result<(), IndexerError> {
        match self {
            Writer::Own(indexer) => indexer.finish_build(generation).await,
            Writer::Feed(feed) => tokio::select! {
                _ = cancel.cancelled() => Err(IndexerError::Cancelled),
                finished = feed.finish(generation) => finished,
            },
        }
    }
}

struct FailOnDrop {
    generations: Arc<Generations>,
    generation: Generation,
    progress: ReindexProgress,
    armed: bool,
}

impl Drop for FailOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.generations.set_phase(self.generation, Phase::Failed);
            remove_owner(&self.generations, self.generation);
            self.progress.finish(
                ReindexState::Cancelled,
                Some("the reindex task was dropped".into()),
            );
        }
    }
}

/// Every id of `kind`, in id order (keyset pagination).
pub async fn all_ids(db: &Db, kind: EntityKind) -> Result<Vec<i64>, IndexerError> {
    let mut ids = Vec::new();
    let mut after = i64::MIN;
    loop {
        let page = hydrate::ids_after(db, kind, after, 10_000).await?;
        let Some(&last) = page.last() else { break };
        after = last;
        ids.extend(page);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use schemas::EntityKey;
    use schemas::envelope::Action;

    use super::*;
    use crate::broker::MemoryBus;
    use crate::generations::lifecycle::owner_path;
    use crate::testing::{self, event};
    use crate::verify::verify;

    fn config() -> IndexerConfig {
        let mut config = IndexerConfig::default();
        config.batch.max_wait = Duration::from_millis(5);
        config.lag_retries = vec![Duration::from_millis(5)];
        config.park_delay = Duration::from_millis(10);
        config.park_delay_max = Duration::from_millis(50);
        config.writer_heap_bytes = 15_000_000;
        config
    }

    fn options() -> ReindexOptions {
        ReindexOptions {
            batch_size: 40,
            read_ahead: 2,
            readers: 2,
            keep: 3,
            indexer: config(),
            definitions: None,
        }
    }

    async fn seed(db: &Db, users: i64) {
        let at = testing::now();
        for id in 1..=users {
            testing::insert_user(db, id, &format!("user{id}"), &format!("Singer {id}"), at)
                .await
                .unwrap();
            testing::insert_track(db, id, id, &format!("Song number {id}"), at)
                .await
                .unwrap();
        }
        testing::insert_playlist(db, 1, 1, "Road trip", at)
            .await
            .unwrap();
        testing::insert_group(db, 1, 1, "Choir", at).await.unwrap();
    }

    struct Running {
        generations: Arc<Generations>,
        bus: MemoryBus,
        feed: ReindexFeed,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<Result<(), IndexerError>>,
    }

    fn start(db: &Db, data: &std::path::Path) -> Running {
        let generations = Generations::open(data).unwrap();
        let bus = MemoryBus::new();
        let mut indexer = Indexer::open(db.clone(), generations.clone(), config()).unwrap();
        let feed = indexer.reindex_feed();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(indexer.run(bus.source(), cancel.clone()));
        Running {
            generations,
            bus,
            feed,
            cancel,
            task,
        }
    }

    impl Running {
        async fn settle(&self) {
            for _ in 0..4000 {
                if self.bus.outstanding() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("{} events still outstanding", self.bus.outstanding());
        }

        fn publish(&self, action: Action, key: EntityKey, at: DateTime<Utc>) {
            let (routing_key, body) = event(action, key, at);
            self.bus.publish(&routing_key, body);
        }

        async fn stop(self) {
            self.cancel.cancel();
            self.task.await.unwrap().unwrap();
        }
    }

    /// The site changing while a reindex runs: renames, soft deletes, new rows.
    async fn churn(db: &Db, running: &Running, round: i64) {
        let at = testing::now();
        let track = EntityKey::new(EntityKind::Track, 1 + (round * 7) % 60);
        testing::rename(db, track, &format!("Renamed {round}"), at)
            .await
            .unwrap();
        running.publish(Action::Save, track, at);
        let gone = EntityKey::new(EntityKind::User, 1 + (round * 11) % 60);
        testing::soft_delete(db, gone, at).await.unwrap();
        running.publish(Action::Save, gone, at);
        let fresh = EntityKey::new(EntityKind::Track, 1000 + round);
        testing::insert_track(db, fresh.id, 2, &format!("Fresh {round}"), at)
            .await
            .unwrap();
        running.publish(Action::Create, fresh, at);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reindex_while_the_site_changes_swaps_and_rolls_back_clean() {
        let sqlite = testkit::FreshSqlite::create().await;
        let db = sqlite.db.clone();
        seed(&db, 120).await;
        let data = tempfile::tempdir().unwrap();
        let running = start(&db, data.path());
        let first = running.generations.aliases().live.unwrap();

        let progress = ReindexProgress::default();
        let cancel = CancellationToken::new();
        let build = {
            let (db, generations, progress, feed, cancel) = (
                db.clone(),
                running.generations.clone(),
                progress.clone(),
                running.feed.clone(),
                cancel.clone(),
            );
            tokio::spawn(async move {
                run(
                    &db,
                    &generations,
                    &options(),
                    &progress,
                    Sink::Feed(feed),
                    &cancel,
                )
                .await
            })
        };
        for round in 0..20 {
            churn(&db, &running, round).await;
            tokio::task::yield_now().await;
        }
        let report = build.await.unwrap().unwrap();
        running.settle().await;
        assert_eq!(progress.state(), ReindexState::Built);
        let figures = progress.report();
        assert!(figures.rows_done >= 242, "{figures:?}");
        assert_eq!(figures.generation, Some(report.generation.0));
        assert!(report.total_rows() >= 242);

        // The old live generation never saw those rows through events: it was empty.
        running.generations.swap(report.generation).unwrap();
        let live = running.generations.live();
        assert_eq!(live.generation, report.generation);
        let clean = verify(&db, &live).await.unwrap();
        assert!(clean.is_clean(), "{clean:?}");

        // Changes after the swap reach live and previous alike.
        churn(&db, &running, 99).await;
        running.settle().await;
        assert!(
            verify(&db, &running.generations.live())
                .await
                .unwrap()
                .is_clean()
        );
        running.generations.rollback().unwrap();
        assert_eq!(running.generations.live().generation, first);
        running.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fill_live_builds_the_empty_live_generation_in_place() {
        let sqlite = testkit::FreshSqlite::create().await;
        let db = sqlite.db.clone();
        seed(&db, 30).await;
        let data = tempfile::tempdir().unwrap();
        let running = start(&db, data.path());
        let aliases = running.generations.aliases();
        let report = fill_live(
            &db,
            &running.generations,
            &options(),
            running.feed.clone(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.generation, aliases.live.unwrap());
        assert_eq!(report.total_rows(), 62);
        assert_eq!(running.generations.aliases(), aliases);
        assert_eq!(running.generations.list().len(), 1);
        let live = running.generations.live();
        assert!(verify(&db, &live).await.unwrap().is_clean());
        running.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn previous_keeps_receiving_writes_so_a_rollback_loses_nothing() {
        let sqlite = testkit::FreshSqlite::create().await;
        let db = sqlite.db.clone();
        seed(&db, 30).await;
        let data = tempfile::tempdir().unwrap();
        let running = start(&db, data.path());
        let progress = ReindexProgress::default();
        let cancel = CancellationToken::new();
        let sink = || Sink::Feed(running.feed.clone());
        let a = run(
            &db,
            &running.generations,
            &options(),
            &progress,
            sink(),
            &cancel,
        )
        .await
        .unwrap();
        running.generations.swap(a.generation).unwrap();
        let b = run(
            &db,
            &running.generations,
            &options(),
            &progress,
            sink(),
            &cancel,
        )
        .await
        .unwrap();
        running.generations.swap(b.generation).unwrap();
        for round in 0..5 {
            churn(&db, &running, round).await;
        }
        running.settle().await;
        assert!(
            verify(&db, &running.generations.live())
                .await
                .unwrap()
                .is_clean()
        );
        running.generations.rollback().unwrap();
        assert_eq!(running.generations.live().generation, a.generation);
        let report = verify(&db, &running.generations.live()).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
        running.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_only_holds_events_in_the_bus_and_catches_up_when_writable() {
        let sqlite = testkit::FreshSqlite::create().await;
        let db = sqlite.db.clone();
        seed(&db, 10).await;
        let data = tempfile::tempdir().unwrap();
        let running = start(&db, data.path());
        let progress = ReindexProgress::default();
        let built = run(
            &db,
            &running.generations,
            &options(),
            &progress,
            Sink::Feed(running.feed.clone()),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        running.generations.swap(built.generation).unwrap();
        let live = running.generations.live();
        let before = live.document_count();

        running
            .generations
            .set_read_only(live.generation, true)
            .unwrap();
        // Let the indexer finish any batch in hand and see the flag.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let at = testing::now();
        for id in 500..510 {
            testing::insert_track(&db, id, 1, &format!("Held {id}"), at)
                .await
                .unwrap();
            running.publish(Action::Create, EntityKey::new(EntityKind::Track, id), at);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            live.document_count(),
            before,
            "a read-only generation was written"
        );
        assert_eq!(
            running.bus.outstanding(),
            10,
            "events were consumed while read-only"
        );

        running
            .generations
            .set_read_only(live.generation, false)
            .unwrap();
        running.settle().await;
        live.reload().unwrap();
        assert_eq!(live.document_count(), before + 10);
        assert!(verify(&db, &live).await.unwrap().is_clean());
        running.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_reindex_fails_its_generation_and_leaves_live_alone() {
        let sqlite = testkit::FreshSqlite::create().await;
        let db = sqlite.db.clone();
        seed(&db, 50).await;
        let data = tempfile::tempdir().unwrap();
        let generations = Generations::open(data.path()).unwrap();
        let aliases = generations.aliases();
        let progress = ReindexProgress::default();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let outcome = run(&db, &generations, &options(), &progress, Sink::Own, &cancel).await;
        assert!(
            matches!(outcome, Err(IndexerError::Cancelled)),
            "{outcome:?}"
        );
        assert_eq!(progress.state(), ReindexState::Cancelled);
        let failed = Generation(progress.report().generation.unwrap());
        assert_eq!(generations.aliases(), aliases);
        assert!(matches!(
            generations.swap(failed),
            Err(IndexerError::NotBuilt(_))
        ));
        assert!(
            generations
                .writable()
                .iter()
                .all(|g| g.generation != failed)
        );
        // A new reindex starts from the start and can be swapped in.
        let report = run(
            &db,
            &generations,
            &options(),
            &progress,
            Sink::Own,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.total_rows(), 102);
        generations.swap(report.generation).unwrap();
        assert!(verify(&db, &generations.live()).await.unwrap().is_clean());
    }

    #[tokio::test]
    async fn a_build_whose_process_died_is_marked_failed_on_the_next_start() {
        let sqlite = testkit::FreshSqlite::create().await;
        let data = tempfile::tempdir().unwrap();
        let generations = Generations::open(data.path()).unwrap();
        let orphan = generations
            .create_generation(Phase::Building)
            .unwrap()
            .generation;
        std::fs::write(owner_path(&generations, orphan), "4000000000").unwrap();
        let no_owner = generations
            .create_generation(Phase::Building)
            .unwrap()
            .generation;
        let ours = generations
            .create_generation(Phase::Building)
            .unwrap()
            .generation;
        write_owner(&generations, ours).unwrap();
        drop(generations);

        let generations = Generations::open(data.path()).unwrap();
        let _indexer = Indexer::open(sqlite.db.clone(), generations.clone(), config()).unwrap();
        let phase = |g| generations.get(g).unwrap().meta().phase;
        assert_eq!(phase(orphan), Phase::Failed);
        assert_eq!(phase(no_owner), Phase::Failed);
        assert_eq!(phase(ours), Phase::Building);
    }
}
