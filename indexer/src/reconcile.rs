//! Anti-entropy: heal what the site never announced. The site publishes after it writes, so a
//! crash or a broker error between the two loses the event, and the index would keep the old
//! row until the next full reindex. The reconciler notices:
//!
//! - every [`ReconcileConfig::every`] it reads, per kind, the ids and versions of the rows whose
//!   `updated_at` moved past its watermark (minus [`ReconcileConfig::overlap`], for clock skew
//!   and long transactions; an index on `updated_at`, migration 0006, makes it a range scan), up
//!   to [`ReconcileConfig::grace`] ago — newer rows' events are still on their way;
//! - every [`ReconcileConfig::sweep_every`] it reads every row of a kind, which also finds rows
//!   deleted outright with no event, and documents whose counts or track lists differ from
//!   their row's at the same version ([`crate::derived`]): activity the site deleted or did
//!   without an event, which moves no version (a cleanup's bulk delete of a spammer's group
//!   memberships). The sweep goes in id order, a [`ReconcileConfig::sweep_chunk`] of rows at a
//!   time with a [`ReconcileConfig::sweep_pause`] between: each step is one range read (the
//!   statement a reindex reads its pages with) and one short piece of work between live
//!   batches, never a million rows read and compared at once.
//!
//! It hands what it read to the running indexer ([`ReindexFeed::reconcile`]), which re-reads
//! and writes, through the normal versioned path, every row the index holds at another version,
//! and removes documents a full sweep found no row for: reconciling can never regress anything.
//! What it writes is a repair — an event the site lost — counted in
//! `disco_reconcile_repairs_total{kind, cause}` for operators to see.

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::db::Db;
use schemas::{EntityKind, Version};
use tokio_util::sync::CancellationToken;

use crate::IndexerError;
use crate::feed::ReindexFeed;
use crate::hydrate::{self, Hydrated};

/// Rows of one kind as the database has them: by version, and for a sweep whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub kind: EntityKind,
    /// `(id, version)` of each row read.
    pub rows: Vec<(i64, Version)>,
    /// The same rows whole, from a sweep (empty for a pass over changed rows): a document at
    /// its row's version whose counts or lists differ from these is re-counted.
    pub read: Vec<Hydrated>,
    /// The ids a sweep read every row of: a document in there with no row was deleted
    /// outright. `None` for a pass over changed rows, which proves no delete.
    pub swept: Option<Span>,
    /// Rows and documents newer than this are left alone: their events may be on their way.
    pub until: Version,
}

/// A range of ids, `(after, through]`; no `through`: every id above `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub after: i64,
    pub through: Option<i64>,
}

impl Span {
    /// Every id.
    pub const ALL: Span = Span {
        after: i64::MIN,
        through: None,
    };

    pub fn contains(&self, id: i64) -> bool {
        id > self.after && self.through.is_none_or(|through| id <= through)
    }
}

/// How often and how far back the reconciler looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconcileConfig {
    pub every: Duration,
    pub overlap: Duration,
    pub grace: Duration,
    pub sweep_every: Duration,
    /// Rows a sweep reads and hands over per step. The indexer compares a step's rows with
    /// their documents between live batches, ~11 µs a row at 1M tracks (`BENCHMARKS.md`), so a
    /// step of 2,000 holds live events back ~25 ms.
    pub sweep_chunk: usize,
    /// Pause between a sweep's steps, so it costs live traffic little.
    pub sweep_pause: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            every: Duration::from_secs(30),
            overlap: Duration::from_secs(60),
            grace: Duration::from_secs(10),
            sweep_every: Duration::from_secs(3600),
            sweep_chunk: 2_000,
            sweep_pause: Duration::from_millis(50),
        }
    }
}

/// Why a repair was needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A row changed (or appeared) and the index holds another version.
    LostUpdate,
    /// A document whose row is gone with no event.
    LostDelete,
    /// A document at its row's version whose counts or track lists are not the database's:
    /// activity with no event (lost, or deleted in bulk).
    LostActivity,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::LostUpdate => "lost_update",
            Cause::LostDelete => "lost_delete",
            Cause::LostActivity => "lost_activity",
        }
    }
}

/// Runs until `cancel` fires: a pass every `config.every`, a full sweep every
/// `config.sweep_every` (the first one after a full period, not at start: a fresh index was
/// just built from the database).
pub async fn run(
    db: Db,
    feed: ReindexFeed,
    config: ReconcileConfig,
    cancel: CancellationToken,
) -> Result<(), IndexerError> {
    let started = Utc::now();
    let mut watermark = started - chrono::Duration::from_std(config.overlap).unwrap_or_default();
    let mut last_sweep = tokio::time::Instant::now();
    let outcome = async {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(config.every) => {}
            }
            let until = Utc::now() - chrono::Duration::from_std(config.grace).unwrap_or_default();
            let began = tokio::time::Instant::now();
            let sweeping = last_sweep.elapsed() >= config.sweep_every;
            let pass = async {
                if sweeping {
                    return sweep(&db, &feed, &config, until, &cancel).await;
                }
                let from =
                    watermark - chrono::Duration::from_std(config.overlap).unwrap_or_default();
                let mut cost = Cost::default();
                for kind in EntityKind::ALL {
                    let observed = changed(&db, kind, from, until).await?;
                    cost.add(observed.rows.len(), feed.reconcile(observed).await?);
                }
                Ok(cost)
            };
            // A failed pass (the database away) is tried again next period from the same
            // watermark: the reconciler outlives outages, as the indexer does.
            let cost = match pass.await {
                Ok(cost) => cost,
                Err(IndexerError::Cancelled) => return Err(IndexerError::Cancelled),
                Err(e) => {
                    tracing::warn!(error = %e, "reconcile pass failed; trying again next period");
                    continue;
                }
            };
            if sweeping {
                last_sweep = tokio::time::Instant::now();
            }
            tracing::debug!(
                swept = cost.swept,
                rows = cost.rows,
                repaired = cost.repaired,
                took_ms = began.elapsed().as_secs_f64() * 1e3,
                "reconcile pass"
            );
            watermark = watermark.max(until);
        }
    };
    match outcome.await {
        Err(IndexerError::Cancelled) => Ok(()),
        other => other,
    }
}

/// What a pass read and repaired.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    swept: bool,
    rows: usize,
    repaired: u64,
}

impl Cost {
    fn add(&mut self, rows: usize, report: crate::BatchReport) {
        self.rows += rows;
        self.repaired += report.outcomes.values().sum::<u64>();
    }
}

/// A full sweep of every kind, step by step (see the module documentation), logged with what
/// it read and how long it took.
async fn sweep(
    db: &Db,
    feed: &ReindexFeed,
    config: &ReconcileConfig,
    until: DateTime<Utc>,
    cancel: &CancellationToken,
) -> Result<Cost, IndexerError> {
    let began = tokio::time::Instant::now();
    let mut cost = Cost {
        swept: true,
        ..Cost::default()
    };
    let mut steps = 0;
    for kind in EntityKind::ALL {
        let mut after = Span::ALL.after;
        loop {
            let observed = sweep_step(db, kind, after, config.sweep_chunk, until).await?;
            let (next, rows) = (observed.swept.and_then(|s| s.through), observed.rows.len());
            cost.add(rows, feed.reconcile(observed).await?);
            steps += 1;
            let Some(through) = next else { break };
            after = through;
            tokio::select! {
                () = cancel.cancelled() => return Err(IndexerError::Cancelled),
                () = tokio::time::sleep(config.sweep_pause) => {}
            }
        }
    }
    tracing::info!(
        rows = cost.rows,
        steps,
        repaired = cost.repaired,
        took_s = began.elapsed().as_secs_f64(),
        "reconcile sweep"
    );
    Ok(cost)
}

/// One pass over the rows of `kind` changed between `from` and `until`.
pub async fn changed(
    db: &Db,
    kind: EntityKind,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Observed, IndexerError> {
    let rows = hydrate::versions_between(db, kind, from, until).await?;
    Ok(Observed {
        kind,
        rows,
        read: Vec::new(),
        swept: None,
        until: Version::from_datetime(until),
    })
}

/// One step of a sweep: the rows of `kind` among the `chunk` ids above `after`, whole. Its
/// span ends at the last of those ids, or has no end when fewer than `chunk` were left (and
/// then takes every row above `after`, also one inserted since).
pub async fn sweep_step(
    db: &Db,
    kind: EntityKind,
    after: i64,
    chunk: usize,
    until: DateTime<Utc>,
) -> Result<Observed, IndexerError> {
    let chunk = chunk.max(1);
    let ids = hydrate::ids_after(db, kind, after, i64::try_from(chunk).unwrap_or(i64::MAX)).await?;
    let through = match ids.len() < chunk {
        true => None,
        false => ids.last().copied(),
    };
    let read = hydrate::hydrate_range(db, kind, after, through.unwrap_or(i64::MAX)).await?;
    Ok(Observed {
        kind,
        rows: read
            .iter()
            .map(|row| (row.key().id, row.version()))
            .collect(),
        read,
        swept: Some(Span { after, through }),
        until: Version::from_datetime(until),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database away (a closed pool): each pass fails, and the reconciler keeps trying
    /// until it is cancelled, instead of ending with the first error.
    #[tokio::test]
    async fn a_failed_pass_is_tried_again_next_period() {
        let sqlite = testkit::FreshSqlite::create().await;
        if let Db::Sqlite(pool) = &sqlite.db {
            pool.close().await;
        }
        let (sender, _inbox) = tokio::sync::mpsc::channel(1);
        let config = ReconcileConfig {
            every: Duration::from_millis(5),
            ..ReconcileConfig::default()
        };
        let cancel = CancellationToken::new();
        let running = tokio::spawn(run(
            sqlite.db.clone(),
            ReindexFeed::new(sender),
            config,
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !running.is_finished(),
            "the reconciler stopped on a failed pass"
        );
        cancel.cancel();
        assert!(matches!(running.await, Ok(Ok(()))));
    }

    #[test]
    fn a_span_holds_the_ids_after_its_start_through_its_end() {
        let span = Span {
            after: 10,
            through: Some(20),
        };
        assert!(!span.contains(10) && span.contains(11) && span.contains(20));
        assert!(!span.contains(21));
        assert!(Span::ALL.contains(i64::MIN + 1) && Span::ALL.contains(i64::MAX));
    }
}
