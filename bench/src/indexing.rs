//! The indexer benchmark: sustained events/s and time-to-searchable at fixed publish rates.
//!
//! For each rate, a publisher plays the site for `seconds`: every 10 ms it moves `updated_at`
//! of a slice of existing tracks forward (one UPDATE) and publishes one `save.track` event per
//! row, as the site does. The indexer (same process, the given source) consumes them; time to
//! searchable is measured from each event's `occurred_at` to the commit + reload that made it
//! visible ([`IndexChange`](indexer::IndexChange) broadcast). Works on PostgreSQL + RabbitMQ
//! (real mode) and on SQLite + the in-process bus.
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), Box<dyn std::error::Error>> {
//! let report = bench::indexing::run(db, None, std::path::Path::new("/tmp/bench"), &[1000, 5000], 10).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schemas::db::Db;
use schemas::envelope::Action;
use schemas::{EntityKey, EntityKind};

use indexer::broker::{AmqpConfig, AmqpSource, MemoryBus};
use indexer::{CancellationToken, Generations, Indexer, IndexerConfig, IndexerError};

/// Figures for one publish rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateReport {
    pub target_rate: u64,
    pub published: u64,
    pub indexed: u64,
    /// Events made searchable per second over the run (publish start → last visible).
    pub sustained_rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub mode: String,
    pub catalog_tracks: i64,
    pub rates: Vec<RateReport>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "indexer benchmark ({}, {} tracks in the catalog)",
            self.mode, self.catalog_tracks
        )?;
        writeln!(
            f,
            "| target events/s | published | indexed | sustained events/s | p50 ms | p99 ms | max ms |"
        )?;
        writeln!(f, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")?;
        for r in &self.rates {
            writeln!(
                f,
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                r.target_rate,
                r.published,
                r.indexed,
                r.sustained_rate,
                r.p50_ms,
                r.p99_ms,
                r.max_ms
            )?;
        }
        Ok(())
    }
}

/// Benchmark errors: the indexer's, or the publisher's database writes.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    #[error("benchmark publisher: {0}")]
    Database(#[from] sqlx::Error),
    #[error("benchmark publisher: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the catalog has no tracks; seed it first (disco seed)")]
    Empty,
}

/// Runs every rate for `seconds` each against the tracks already in `db`, indexing into a
/// fresh catalog under `data_dir`. `amqp`: the broker to go through (None = in-process bus).
pub async fn run(
    db: Db,
    amqp: Option<AmqpConfig>,
    data_dir: &Path,
    rates: &[u64],
    seconds: u64,
) -> Result<BenchReport, BenchError> {
    let ids = all_track_ids(&db).await?;
    if ids.is_empty() {
        return Err(BenchError::Empty);
    }
    let catalog = Generations::open(data_dir)?;
    let indexer = Indexer::open(db.clone(), catalog, IndexerConfig::default())?;
    let mut changes = indexer.subscribe();
    let cancel = CancellationToken::new();
    let (publisher, _indexer) = start(indexer, amqp.as_ref(), &cancel).await?;
    let mut reports = Vec::new();
    let mut cursor = 0usize;
    for &rate in rates {
        let per_tick = (rate / 100).max(1) as usize;
        let ticks = seconds * 100;
        let started = Instant::now();
        let mut published = 0u64;
        let collector = tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut last = Instant::now();
            loop {
                let change =
                    match tokio::time::timeout(Duration::from_secs(5), changes.recv()).await {
                        Ok(Ok(change)) => change,
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                        _ => break,
                    };
                latencies.push(searchable_ms(&change));
                last = Instant::now();
            }
            (latencies, last, changes)
        });
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..ticks {
            interval.tick().await;
            published += publisher.tick(&db, &ids, &mut cursor, per_tick).await?.1;
        }
        let (mut latencies, last, rest) = match collector.await {
            Ok(parts) => parts,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        changes = rest;
        latencies.sort_by(|a, b| a.total_cmp(b));
        let quantile = |q: f64| quantile(&latencies, q);
        let elapsed = last.duration_since(started).as_secs_f64().max(1e-3);
        reports.push(RateReport {
            target_rate: rate,
            published,
            indexed: latencies.len() as u64,
            sustained_rate: latencies.len() as f64 / elapsed,
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
            max_ms: quantile(1.0),
        });
    }
    cancel.cancel();
    let mode = if amqp.is_some() {
        "RabbitMQ"
    } else {
        "in-process bus"
    };
    let mode = format!(
        "{mode}, {}",
        match db {
            Db::Postgres(_) => "PostgreSQL",
            Db::Sqlite(_) => "SQLite",
        }
    );
    Ok(BenchReport {
        mode,
        catalog_tracks: ids.len() as i64,
        rates: reports,
    })
}

/// Starts `indexer` on the broker of `amqp` (declaring its exchange and queues) or on an
/// in-process bus, and returns the publisher that plays the site on the same path.
pub(crate) async fn start(
    indexer: Indexer,
    amqp: Option<&AmqpConfig>,
    cancel: &CancellationToken,
) -> Result<(Publisher, IndexerTask), BenchError> {
    Ok(match amqp {
        Some(config) => {
            AmqpSource::declare(config)
                .await
                .map_err(IndexerError::from)?;
            let source = AmqpSource::connect(config.clone())
                .await
                .map_err(IndexerError::from)?;
            let task = tokio::spawn(indexer.run(source, cancel.clone()));
            let connection =
                lapin::Connection::connect(&config.url, lapin::ConnectionProperties::default())
                    .await?;
            let channel = connection.create_channel().await?;
            let publisher = Publisher::Amqp(Box::new(AmqpPublisher {
                _connection: connection,
                channel,
                exchange: config.exchange.clone(),
            }));
            (publisher, task)
        }
        None => {
            let bus = MemoryBus::new();
            let task = tokio::spawn(indexer.run(bus.source(), cancel.clone()));
            (Publisher::Memory(bus), task)
        }
    })
}

pub(crate) type IndexerTask = tokio::task::JoinHandle<Result<(), IndexerError>>;

/// The `q` quantile of sorted `values` (0 when empty).
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values[((values.len() - 1) as f64 * q).round() as usize]
    }
}

/// Milliseconds from a change's version (its row's `updated_at`, which is also its event's
/// time here) to now, when the commit that made it visible was announced.
pub(crate) fn searchable_ms(change: &indexer::IndexChange) -> f64 {
    let ms = (Utc::now() - change.version.to_datetime())
        .num_microseconds()
        .unwrap_or(0) as f64
        / 1000.0;
    ms.max(0.0)
}

pub(crate) struct AmqpPublisher {
    _connection: lapin::Connection,
    channel: lapin::Channel,
    exchange: String,
}

pub(crate) enum Publisher {
    Memory(MemoryBus),
    Amqp(Box<AmqpPublisher>),
}

impl Publisher {
    /// One 10 ms tick of the site: moves `updated_at` of the next `n` tracks forward and
    /// publishes their `save.track` events. Returns their event time and how many there were.
    pub(crate) async fn tick(
        &self,
        db: &Db,
        ids: &[i64],
        cursor: &mut usize,
        n: usize,
    ) -> Result<(DateTime<Utc>, u64), BenchError> {
        let slice: Vec<i64> = (0..n).map(|i| ids[(*cursor + i) % ids.len()]).collect();
        *cursor += n;
        let at = indexer::testing::now();
        touch_tracks(db, &slice, at).await?;
        for id in &slice {
            let (routing_key, body) =
                indexer::testing::event(Action::Save, EntityKey::new(EntityKind::Track, *id), at);
            self.publish(&routing_key, body).await?;
        }
        Ok((at, slice.len() as u64))
    }

    /// Publishes one event as the site does (the takedown's user events go this way too).
    pub(crate) async fn publish(
        &self,
        routing_key: &str,
        body: Vec<u8>,
    ) -> Result<(), lapin::Error> {
        match self {
            Publisher::Memory(bus) => bus.publish(routing_key, body),
            Publisher::Amqp(amqp) => {
                let AmqpPublisher {
                    channel, exchange, ..
                } = amqp.as_ref();
                channel
                    .basic_publish(
                        exchange.as_str().into(),
                        routing_key.into(),
                        lapin::options::BasicPublishOptions::default(),
                        &body,
                        lapin::BasicProperties::default(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn all_track_ids(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let page = indexer::hydrate::ids_after(db, EntityKind::Track, after, 100_000).await?;
        let Some(last) = page.last() else { break };
        after = *last;
        ids.extend(page);
    }
    Ok(ids)
}

async fn touch_tracks(db: &Db, ids: &[i64], at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(pool) => {
            sqlx::query("UPDATE tracks SET updated_at = $1 WHERE id = ANY($2)")
                .bind(at)
                .bind(ids)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "UPDATE tracks SET updated_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
            )
            .bind(at)
            .bind(list)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}
