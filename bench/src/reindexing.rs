//! The reindex benchmark: a full reindex through the running indexer while live events arrive
//! at a fixed rate. It reports the build's entities/s and the live events' time to searchable
//! before and during the build (docs/ARCHITECTURE.md, "Index generations and ops").
//!
//! The indexer consumes the broker (or the in-process bus) as `disco index` does, and the
//! reindex hands its pages in through the indexer's feed ([`Sink::Feed`]), as
//! `POST /admin/reindex` does: live batches and reindex pages share one writer per generation.
//! The publisher plays the site as in [`run`](crate::indexing::run) — every 10 ms it moves `updated_at`
//! of a slice of tracks forward and publishes their `save.track` events — for the warm-up
//! before the build (the baseline) and until the build is done. An event counts toward the
//! phase its event time falls in. The new generation is measured, then deleted (never swapped).
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), bench::indexing::BenchError> {
//! use bench::reindexing::{self, ReindexBenchOptions};
//! let options = ReindexBenchOptions { live_rate: 1000, ..ReindexBenchOptions::default() };
//! let progress = indexer::reindex::ReindexProgress::default();
//! let report = reindexing::reindex(db, None, std::path::Path::new("/tmp/bench"), &options, &progress).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::db::Db;
use tokio::sync::watch;

use crate::indexing::{BenchError, all_track_ids, quantile, searchable_ms, start};
use indexer::broker::AmqpConfig;
use indexer::generations::Phase;
use indexer::reindex::{self, ReindexOptions, ReindexProgress, ReindexReport, Sink};
use indexer::{CancellationToken, Generations, IndexChange, Indexer};

/// What the reindex benchmark runs.
#[derive(Debug, Clone)]
pub struct ReindexBenchOptions {
    /// Live `save.track` events per second during the warm-up and the build (0: the build alone).
    pub live_rate: u64,
    /// Live events before the build starts: their time to searchable is the baseline.
    pub warmup: Duration,
    pub reindex: ReindexOptions,
}

impl Default for ReindexBenchOptions {
    fn default() -> Self {
        ReindexBenchOptions {
            live_rate: 1000,
            warmup: Duration::from_secs(5),
            reindex: ReindexOptions::default(),
        }
    }
}

/// Time to searchable of the live events of one phase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    pub published: u64,
    /// Events whose change was committed and announced (at most `published`).
    pub visible: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// The figures of `published` events of which those in `ms` became visible after so many
    /// milliseconds.
    pub(crate) fn of(published: u64, mut ms: Vec<f64>) -> Latency {
        ms.sort_by(|a, b| a.total_cmp(b));
        Latency {
            published,
            visible: ms.len() as u64,
            p50_ms: quantile(&ms, 0.5),
            p99_ms: quantile(&ms, 0.99),
            max_ms: quantile(&ms, 1.0),
        }
    }
}

/// The reindex benchmark's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ReindexBenchReport {
    pub mode: String,
    pub live_rate: u64,
    pub build: ReindexReport,
    /// The new generation's size on disk.
    pub bytes: u64,
    pub before: Latency,
    pub during: Latency,
    /// Announcements the benchmark's receiver missed because it fell more than the
    /// broadcast's capacity behind (their events were applied; their times are unknown).
    pub missed: u64,
}

impl fmt::Display for ReindexBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<String> = (self.build.rows.iter())
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        writeln!(
            f,
            "reindex benchmark ({}): {} entities ({}) in {:.1} s = {:.0} entities/s, \
             generation {:.0} MB, live events at {}/s",
            self.mode,
            self.build.total_rows(),
            rows.join(", "),
            self.build.seconds,
            self.build.rate(),
            self.bytes as f64 / 1e6,
            self.live_rate
        )?;
        writeln!(
            f,
            "| live events | published | visible | p50 ms | p99 ms | max ms |"
        )?;
        writeln!(f, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
        for (phase, l) in [
            ("before the build", &self.before),
            ("during the build", &self.during),
        ] {
            writeln!(
                f,
                "| {phase} | {} | {} | {:.0} | {:.0} | {:.0} |",
                l.published, l.visible, l.p50_ms, l.p99_ms, l.max_ms
            )?;
        }
        if self.missed > 0 {
            writeln!(
                f,
                "the benchmark's receiver fell behind the indexer's announcements and missed {} \
                 of them: applied, but not timed (not in the visible counts)",
                self.missed
            )?;
        }
        Ok(())
    }
}

/// Runs the benchmark against the rows in `db`, in the catalog under `data_dir` (created when
/// absent; copy a full-size live generation there first to measure live commits at scale).
/// `amqp`: the broker to go through (None = in-process bus). `progress` shows the build.
pub async fn reindex(
    db: Db,
    amqp: Option<AmqpConfig>,
    data_dir: &Path,
    options: &ReindexBenchOptions,
    progress: &ReindexProgress,
) -> Result<ReindexBenchReport, BenchError> {
    let ids = all_track_ids(&db).await?;
    if ids.is_empty() && options.live_rate > 0 {
        return Err(BenchError::Empty);
    }
    let catalog = Generations::open(data_dir)?;
    let mut indexer = Indexer::open(db.clone(), catalog.clone(), options.reindex.indexer.clone())?;
    let feed = indexer.reindex_feed();
    let changes = indexer.subscribe();
    let cancel = CancellationToken::new();
    let (publisher, indexer_task) = start(indexer, amqp.as_ref(), &cancel).await?;

    let (expected, expecting) = watch::channel(None);
    let collector = tokio::spawn(collect(changes, expecting));
    let stop = CancellationToken::new();
    let publishing = {
        let (db, stop, per_tick) = (db.clone(), stop.clone(), (options.live_rate / 100) as usize);
        tokio::spawn(async move {
            let mut ticks = Vec::new();
            if per_tick == 0 {
                return Ok(ticks);
            }
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            let mut cursor = 0;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok::<_, BenchError>(ticks),
                    _ = interval.tick() => {
                        ticks.push(publisher.tick(&db, &ids, &mut cursor, per_tick).await?);
                    }
                }
            }
        })
    };
    if options.live_rate > 0 {
        tokio::time::sleep(options.warmup).await;
    }

    let build_start = Utc::now();
    let built = reindex::run(
        &db,
        &catalog,
        &options.reindex,
        progress,
        Sink::Feed(feed),
        &cancel,
    )
    .await;
    let build_end = Utc::now();
    stop.cancel();
    let ticks = join(publishing).await?;
    let published: u64 = ticks.iter().map(|(_, n)| n).sum();
    let _ = expected.send(Some(published));
    let (seen, missed) = join(collector).await;
    cancel.cancel();
    join(indexer_task).await?;
    let build = built?;

    let bytes = catalog
        .get(build.generation)
        .map(|handle| directory_bytes(handle.path()))
        .unwrap_or(0);
    catalog.set_phase(build.generation, Phase::Retired)?;
    catalog.remove(build.generation)?;

    let phase = |from: Option<DateTime<Utc>>, to: DateTime<Utc>| {
        let inside = |at: DateTime<Utc>| from.is_none_or(|from| at >= from) && at < to;
        let published = (ticks.iter())
            .filter(|(at, _)| inside(*at))
            .map(|(_, n)| n)
            .sum();
        let ms = (seen.iter())
            .filter(|(at, _)| inside(*at))
            .map(|(_, ms)| *ms)
            .collect();
        Latency::of(published, ms)
    };
    let mode = match (&amqp, &db) {
        (Some(_), Db::Postgres(_)) => "RabbitMQ, PostgreSQL",
        (Some(_), Db::Sqlite(_)) => "RabbitMQ, SQLite",
        (None, Db::Postgres(_)) => "in-process bus, PostgreSQL",
        (None, Db::Sqlite(_)) => "in-process bus, SQLite",
    };
    Ok(ReindexBenchReport {
        mode: mode.to_string(),
        live_rate: options.live_rate,
        before: phase(None, build_start),
        during: phase(Some(build_start), build_end),
        missed,
        build,
        bytes,
    })
}

/// Every announced change's event time and time to searchable, until as many as `expecting`
/// says were published have been seen or missed (or nothing more came for a while); and how
/// many the receiver missed by lagging behind the broadcast.
async fn collect(
    mut changes: tokio::sync::broadcast::Receiver<IndexChange>,
    mut expecting: watch::Receiver<Option<u64>>,
) -> (Vec<(DateTime<Utc>, f64)>, u64) {
    use tokio::sync::broadcast::error::RecvError;
    let mut seen = Vec::new();
    let mut missed = 0u64;
    loop {
        if let Some(expected) = *expecting.borrow()
            && seen.len() as u64 + missed >= expected
        {
            return (seen, missed);
        }
        let quiet = if expecting.borrow().is_some() {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = expecting.changed() => {}
            change = tokio::time::timeout(quiet, changes.recv()) => match change {
                Ok(Ok(change)) => seen.push((change.version.to_datetime(), searchable_ms(&change))),
                Ok(Err(RecvError::Lagged(n))) => missed += n,
                Ok(Err(RecvError::Closed)) | Err(_) => return (seen, missed),
            },
        }
    }
}

async fn join<T>(task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Bytes of the files under `dir`.
fn directory_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}
