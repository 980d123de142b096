//! Batching: gather up to N deliveries or T milliseconds, then coalesce the events per entity.
//!
//! Coalescing keeps, per [`EntityKey`], the highest floor (the newest event time) and whether any
//! of its events was a destroy; the entity is then hydrated once, whatever number of events named
//! it. Every delivery stays in the batch, so all of them are acknowledged together after commit.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::envelope::{Action, Envelope};
use schemas::{EntityKey, Version};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::source::{Delivery, EventSource, SourceError};

/// How big and how old a batch may grow before it is processed.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    pub max_events: usize,
    pub max_wait: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 1000,
            max_wait: Duration::from_millis(50),
        }
    }
}

/// Waits for a first delivery (or cancellation), then gathers more until the batch is full or
/// the batching window has passed. Returns an empty batch only when cancelled.
///
/// The window is `max_wait` when the indexer was idle and had to wait for the first delivery.
/// When deliveries were already waiting (they arrived while the previous batch was being
/// committed), their window has passed during that commit: the batch takes what is there plus
/// what arrives within a tenth of `max_wait`, so a busy indexer does not add a full window of
/// latency to every cycle.
pub async fn gather<S: EventSource>(
    source: &mut S,
    config: BatchConfig,
    cancel: &CancellationToken,
) -> Result<Vec<Delivery>, SourceError> {
    let (first, window) = match source.recv(Some(Instant::now())).await? {
        Some(waiting) => (waiting, config.max_wait / 10),
        None => {
            let first = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(Vec::new()),
                first = source.recv(None) => first?,
            };
            let Some(first) = first else {
                return Ok(Vec::new());
            };
            (first, config.max_wait)
        }
    };
    let deadline = Instant::now() + window;
    let mut batch = vec![first];
    while batch.len() < config.max_events {
        match source.recv(Some(deadline)).await? {
            Some(delivery) => batch.push(delivery),
            None => break,
        }
    }
    Ok(batch)
}

/// One entity to bring up to date, with everything the batch said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub key: EntityKey,
    /// The newest event time: the row read must be at least this new.
    pub floor: Version,
    /// Some event was a destroy: a missing row means gone, not "not visible yet".
    pub destroyed: bool,
    /// Positions of this entity's deliveries in the batch.
    pub deliveries: Vec<usize>,
    /// Each delivery's event time, for time-to-searchable.
    pub occurred: Vec<DateTime<Utc>>,
}

/// Groups the batch's envelopes (with their delivery positions) by entity.
pub fn coalesce(events: &[(usize, Envelope)]) -> Vec<Pending> {
    let mut by_key: BTreeMap<EntityKey, Pending> = BTreeMap::new();
    for (position, event) in events {
        let floor = event.floor();
        let pending = by_key.entry(event.key).or_insert_with(|| Pending {
            key: event.key,
            floor,
            destroyed: false,
            deliveries: Vec::new(),
            occurred: Vec::new(),
        });
        pending.floor = pending.floor.max(floor);
        pending.destroyed |= event.action == Action::Destroy;
        pending.deliveries.push(*position);
        pending.occurred.push(event.occurred_at);
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EntityKind;

    fn event(action: Action, id: i64, micros: i64) -> Envelope {
        Envelope {
            action,
            key: EntityKey::new(EntityKind::Track, id),
            occurred_at: DateTime::from_timestamp_micros(micros).unwrap_or_default(),
        }
    }

    #[test]
    fn events_for_one_entity_become_one_pending_with_the_highest_floor() {
        let events = vec![
            (0, event(Action::Save, 1, 300)),
            (1, event(Action::Create, 1, 100)),
            (2, event(Action::Save, 2, 50)),
            (3, event(Action::Save, 1, 300)),
        ];
        let pending = coalesce(&events);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].key.id, 1);
        assert_eq!(pending[0].floor, Version(300));
        assert_eq!(pending[0].deliveries, vec![0, 1, 3]);
        assert!(!pending[0].destroyed);
        assert_eq!(pending[1].floor, Version(50));
    }

    #[test]
    fn a_destroy_anywhere_marks_the_entity_destroyed() {
        let events = vec![
            (0, event(Action::Destroy, 1, 100)),
            (1, event(Action::Save, 1, 90)),
        ];
        let pending = coalesce(&events);
        assert!(pending[0].destroyed);
        assert_eq!(pending[0].floor, Version(100));
    }

    #[tokio::test]
    async fn gathering_stops_at_the_size_limit_and_at_the_deadline() {
        let bus = crate::source::MemoryBus::new();
        for _ in 0..5 {
            bus.publish("create.track", b"{}".to_vec());
        }
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = BatchConfig {
            max_events: 3,
            max_wait: Duration::from_millis(10),
        };
        assert_eq!(
            gather(&mut source, config, &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(3)
        );
        assert_eq!(
            gather(&mut source, config, &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(2)
        );
        cancel.cancel();
        assert_eq!(
            gather(&mut source, config, &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(0)
        );
    }

    /// Publishes one event after each pause (milliseconds), in the background.
    fn publish_after(bus: &crate::source::MemoryBus, pauses: &[u64]) {
        let (bus, pauses) = (bus.clone(), pauses.to_vec());
        tokio::spawn(async move {
            for pause in pauses {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                bus.publish("create.track", b"{}".to_vec());
            }
        });
    }

    /// Virtual time: the windows are checked exactly, with no real waiting.
    #[tokio::test(start_paused = true)]
    async fn an_idle_indexer_waits_the_full_window_a_busy_one_only_a_tenth() {
        let bus = crate::source::MemoryBus::new();
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = BatchConfig {
            max_events: 100,
            max_wait: Duration::from_millis(1000),
        };
        // Idle: the first delivery arrives later; the batch stays open for max_wait after it.
        publish_after(&bus, &[300, 900, 200]);
        let started = Instant::now();
        let batch = gather(&mut source, config, &cancel)
            .await
            .ok()
            .map(|b| b.len());
        assert_eq!(batch, Some(2), "the third came after the window");
        assert_eq!(started.elapsed(), Duration::from_millis(1300));
        // Busy: deliveries were already waiting; one more within a tenth of the window joins.
        let _ = gather(&mut source, config, &cancel).await;
        for _ in 0..4 {
            bus.publish("create.track", b"{}".to_vec());
        }
        publish_after(&bus, &[50, 100]);
        let started = Instant::now();
        let batch = gather(&mut source, config, &cancel)
            .await
            .ok()
            .map(|b| b.len());
        assert_eq!(batch, Some(5));
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }
}
