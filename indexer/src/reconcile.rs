//! Anti-entropy: heal what the site never announced. The site publishes after it writes, so a
//! crash or a broker error between the two loses the event, and the index would keep the old
//! row until the next full reindex. The reconciler notices:
//!
//! - every [`ReconcileConfig::every`] it reads, per kind, the ids and versions of the rows whose
//!   `updated_at` moved past its watermark (minus [`ReconcileConfig::overlap`], for clock skew
//!   and long transactions; an index on `updated_at`, migration 0006, makes it a range scan), up
//!   to [`ReconcileConfig::grace`] ago — newer rows' events are still on their way;
//! - every [`ReconcileConfig::sweep_every`] it reads every id and version of a kind (a full,
//!   index-only scan), which also finds rows deleted outright with no event.
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
use crate::hydrate;

/// Rows of one kind as the database has them, by version only.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub kind: EntityKind,
    /// `(id, version)` of each row read.
    pub rows: Vec<(i64, Version)>,
    /// Every row of the kind: a document with no row here was deleted outright.
    pub complete: bool,
    /// Rows and documents newer than this are left alone: their events may be on their way.
    pub until: Version,
}

/// How often and how far back the reconciler looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconcileConfig {
    pub every: Duration,
    pub overlap: Duration,
    pub grace: Duration,
    pub sweep_every: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            every: Duration::from_secs(30),
            overlap: Duration::from_secs(60),
            grace: Duration::from_secs(10),
            sweep_every: Duration::from_secs(3600),
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
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::LostUpdate => "lost_update",
            Cause::LostDelete => "lost_delete",
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
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(config.every) => {}
        }
        let until = Utc::now() - chrono::Duration::from_std(config.grace).unwrap_or_default();
        let sweep = last_sweep.elapsed() >= config.sweep_every;
        let from = watermark - chrono::Duration::from_std(config.overlap).unwrap_or_default();
        for kind in EntityKind::ALL {
            let observed = match sweep {
                true => sweep_kind(&db, kind, until).await?,
                false => changed(&db, kind, from, until).await?,
            };
            match feed.reconcile(observed).await {
                Ok(_) => {}
                Err(IndexerError::Cancelled) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if sweep {
            last_sweep = tokio::time::Instant::now();
        }
        watermark = watermark.max(until);
    }
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
        complete: false,
        until: Version::from_datetime(until),
    })
}

/// Every row of `kind`, by id and version.
pub async fn sweep_kind(
    db: &Db,
    kind: EntityKind,
    until: DateTime<Utc>,
) -> Result<Observed, IndexerError> {
    let rows = hydrate::all_versions(db, kind).await?;
    Ok(Observed {
        kind,
        rows,
        complete: true,
        until: Version::from_datetime(until),
    })
}
