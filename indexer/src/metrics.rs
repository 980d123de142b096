//! The indexer's Prometheus figures, through the `metrics` facade (the query service installs
//! the exporter and serves `/metrics`).
//!
//! - `disco_events_total{outcome}`: every delivery, by what became of it;
//! - `disco_time_to_searchable_seconds`: from an event's `occurred_at` to the reload that made
//!   its effect visible;
//! - `disco_indexer_batch_seconds`, `disco_indexer_batch_events`: batch latency and size;
//! - `disco_reconcile_repairs_total{kind, cause}`: entities reconciliation repaired;
//! - `disco_indexer_owner_lane_events`: owner events held aside (`batch::OwnerLane`).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Its entity's document was written.
    Indexed,
    /// Its entity was marked unsearchable (tombstone written).
    Deleted,
    /// The index already held a newer version.
    Stale,
    /// The index already held this version (or another event of the batch wrote it).
    Duplicate,
    /// Its row was not visible yet; parked on the retry queue.
    Retried,
    /// Malformed; sent to the dead-letter queue with the reason.
    DeadLettered,
    /// An event of a kind the indexer does not index (`create.poke`); acknowledged.
    UnknownKind,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Indexed,
        Outcome::Deleted,
        Outcome::Stale,
        Outcome::Duplicate,
        Outcome::Retried,
        Outcome::DeadLettered,
        Outcome::UnknownKind,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Indexed => "indexed",
            Outcome::Deleted => "deleted",
            Outcome::Stale => "stale",
            Outcome::Duplicate => "duplicate",
            Outcome::Retried => "retried",
            Outcome::DeadLettered => "dead_lettered",
            Outcome::UnknownKind => "unknown_kind",
        }
    }
}

pub const EVENTS_TOTAL: &str = "disco_events_total";
pub const TIME_TO_SEARCHABLE: &str = "disco_time_to_searchable_seconds";
pub const BATCH_SECONDS: &str = "disco_indexer_batch_seconds";
pub const BATCH_EVENTS: &str = "disco_indexer_batch_events";
/// Entities the reconciler wrote because the site lost their event, by kind and cause.
pub const REPAIRS_TOTAL: &str = "disco_reconcile_repairs_total";
/// Messages waiting in this replica's queue, as last read (`broker::amqp::watch_backlog`).
pub const BROKER_BACKLOG: &str = "disco_broker_backlog_messages";
/// Owner events delivered and held aside while other events go first (`batch::OwnerLane`):
/// unacknowledged, so the broker's backlog does not count them.
pub const OWNER_LANE: &str = "disco_indexer_owner_lane_events";

/// Describes the metrics once (help texts for the exporter).
pub fn describe() {
    metrics::describe_counter!(
        EVENTS_TOTAL,
        "Entity events consumed by the indexer, by outcome."
    );
    metrics::describe_histogram!(
        TIME_TO_SEARCHABLE,
        metrics::Unit::Seconds,
        "From an event's occurred_at to its effect being visible to searches."
    );
    metrics::describe_histogram!(
        BATCH_SECONDS,
        metrics::Unit::Seconds,
        "Indexer batch latency."
    );
    metrics::describe_histogram!(BATCH_EVENTS, "Deliveries per indexer batch.");
    metrics::describe_counter!(
        REPAIRS_TOTAL,
        "Entities reconciliation repaired (the site lost their event), by kind and cause."
    );
    metrics::describe_gauge!(
        BROKER_BACKLOG,
        "Messages ready in the indexer's queue, not yet delivered."
    );
    metrics::describe_gauge!(
        OWNER_LANE,
        "Owner events delivered to the indexer and held aside while other events go first."
    );
}

pub(crate) fn owner_lane(events: usize) {
    metrics::gauge!(OWNER_LANE).set(events as f64);
}

/// Records the broker backlog: give it to `broker::amqp::watch_backlog`.
pub fn backlog(messages: u32) {
    metrics::gauge!(BROKER_BACKLOG).set(f64::from(messages));
}

pub(crate) fn repaired(kind: schemas::EntityKind, cause: crate::reconcile::Cause) {
    metrics::counter!(REPAIRS_TOTAL, "kind" => kind.as_str(), "cause" => cause.as_str())
        .increment(1);
}

pub(crate) fn count(outcome: Outcome, n: u64) {
    if n > 0 {
        metrics::counter!(EVENTS_TOTAL, "outcome" => outcome.as_str()).increment(n);
    }
}

pub(crate) fn searchable_after(occurred_at: DateTime<Utc>, visible_at: DateTime<Utc>) -> Duration {
    let seconds = (visible_at - occurred_at)
        .num_microseconds()
        .unwrap_or(0)
        .max(0) as f64
        / 1e6;
    metrics::histogram!(TIME_TO_SEARCHABLE).record(seconds);
    Duration::from_secs_f64(seconds)
}

pub(crate) fn batch(events: usize, took: Duration) {
    metrics::histogram!(BATCH_EVENTS).record(events as f64);
    metrics::histogram!(BATCH_SECONDS).record(took.as_secs_f64());
}
