//! Batching: gather up to N deliveries or T milliseconds, then coalesce the events per entity.
//!
//! Coalescing keeps, per [`EntityKey`], the highest floor (the newest event time) and whether any
//! of its events was a destroy; the entity is then hydrated once, whatever number of events named
//! it. Every delivery stays in the batch, so all of them are acknowledged together after commit.
//!
//! While a full reindex streams pages through the same indexer, [`gather_between`] shares the
//! loop between the two: reindex work for at most [`BatchConfig::work_window`], then the live
//! batch that gathered meanwhile.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::envelope::{Action, Envelope};
use schemas::{EntityKey, Version};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::{Delivery, EventSource, SourceError};
use crate::metrics::Outcome;

/// How big and how old a batch may grow before it is processed.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    pub max_events: usize,
    pub max_wait: Duration,
    /// While a reindex streams work in, the loop does its work for this long before it turns
    /// to the live deliveries that waited meanwhile: the most a live batch waits behind reindex
    /// work (plus the one piece of work in hand when the window closes).
    pub work_window: Duration,
    /// Owner events a batch takes at most while more wait ([`OwnerLane`]), besides its
    /// `max_events` of other kinds: a cleanup never takes a live event's place in a batch.
    /// The batch's other events are committed before a cleanup's share (the pipeline's
    /// `others_first`), so the share bounds how long a live event arriving meanwhile waits:
    /// 1,000 take-downs (~23,000 tombstones) kept live p99 at 0.6–0.7 s during the benchmark's
    /// cleanup, 5,000 at 1.5 s (BENCHMARKS.md, "Mass takedown (#24)").
    pub owner_events: usize,
    /// Owner events held aside at most; they stay unacknowledged. On RabbitMQ people's events
    /// come on a queue of their own whose prefetch ([`BatchConfig::owner_prefetch`]) bounds
    /// this lower; in the in-process bus this bound holds.
    pub owner_backlog: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 1000,
            max_wait: Duration::from_millis(50),
            work_window: Duration::from_millis(200),
            owner_events: 1000,
            owner_backlog: 20_000,
        }
    }
}

impl BatchConfig {
    /// Unacknowledged deliveries the broker should push ahead on the main queue: two batches
    /// in flight (the next fills while one commits), with room for the owners' share (people's
    /// events that reach the main queue: retries, and those queued before the owner queue).
    pub fn prefetch(&self) -> u16 {
        let batch = self.max_events + self.owner_events;
        u16::try_from(batch.saturating_mul(2)).unwrap_or(u16::MAX)
    }

    /// The same on the owner queue: the share a batch takes and the next one, held aside. The
    /// rest of a cleanup waits in the broker, ready rather than unacknowledged.
    pub fn owner_prefetch(&self) -> u16 {
        u16::try_from(self.owner_events.max(1).saturating_mul(2)).unwrap_or(u16::MAX)
    }
}

/// The events of people, in a lane of their own.
///
/// A person's event fans out to everything they own ([`crate::pipeline`]'s owner stage): a spam
/// cleanup's take-downs each tombstone dozens of tracks, sets and groups. Taken in arrival
/// order, ten thousand of them would make every event behind them wait for all of that work.
/// Instead each batch takes at most [`BatchConfig::owner_events`] of them, beside (not instead
/// of) its [`BatchConfig::max_events`] of other kinds, and holds the rest aside,
/// unacknowledged, in arrival order, while later events of other kinds go on: those wait for
/// at most one batch's share of the fan-out. Taking events out of order is safe by
/// construction — every write is decided by the row's version, never by arrival order.
#[derive(Debug, Default)]
pub struct OwnerLane {
    waiting: VecDeque<Delivery>,
}

impl OwnerLane {
    /// A user's event (`<action>.user`): the one kind whose change reaches other documents.
    pub(crate) fn carries(delivery: &Delivery) -> bool {
        delivery.routing_key.rsplit('.').next() == Some("user")
    }

    /// Owner events held aside.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Everything held aside, for handing back to the source when the indexer stops.
    pub fn drain(&mut self) -> Vec<Delivery> {
        self.waiting.drain(..).collect()
    }
}

/// One batch being filled: the owner events it took, and the lane the rest wait in.
struct Filling<'a> {
    config: BatchConfig,
    lane: &'a mut OwnerLane,
    batch: Vec<Delivery>,
    owners: usize,
    /// Owner events taken beyond the share because the lane was full: they count as others.
    overflow: usize,
}

impl<'a> Filling<'a> {
    /// Starts with the owner events that waited longest, up to the batch's share.
    fn new(config: BatchConfig, lane: &'a mut OwnerLane) -> Filling<'a> {
        let take = (config.owner_events.max(1)).min(lane.waiting.len());
        let batch: Vec<Delivery> = lane.waiting.drain(..take).collect();
        Filling {
            config,
            lane,
            owners: batch.len(),
            overflow: 0,
            batch,
        }
    }

    /// Full of events of other kinds: the owners' share does not count.
    fn full(&self) -> bool {
        self.batch.len() - self.owners + self.overflow >= self.config.max_events
    }

    /// Takes `delivery` into the batch, or holds it aside when it is an owner event beyond the
    /// batch's share (behind the others already waiting) and the lane has room.
    fn admit(&mut self, delivery: Delivery) {
        if OwnerLane::carries(&delivery) {
            let over = self.owners >= self.config.owner_events.max(1) || !self.lane.is_empty();
            match (over, self.lane.waiting.len() < self.config.owner_backlog) {
                (true, true) => {
                    self.lane.waiting.push_back(delivery);
                    return;
                }
                (true, false) => self.overflow += 1,
                (false, _) => {}
            }
            self.owners += 1;
        }
        self.batch.push(delivery);
    }
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchReport {
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Event time → visible, for each delivery whose effect this batch committed.
    pub time_to_searchable: Vec<Duration>,
}

impl BatchReport {
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, outcome: Outcome, n: u64) {
        *self.outcomes.entry(outcome).or_default() += n;
    }
}

/// Waits for a first delivery (or cancellation), then gathers more until the batch is full or
/// the batching window has passed. Returns an empty batch only when cancelled. Owner events go
/// through `lane` ([`OwnerLane`]): the batch starts with those that waited longest, up to its
/// share, and holds later ones aside.
///
/// The window is `max_wait` when the indexer was idle and had to wait for the first delivery.
/// When deliveries were already waiting (or owner events in the lane) (they arrived while the previous batch was being
/// committed), their window has passed during that commit: the batch takes what is there plus
/// what arrives within a tenth of `max_wait`, so a busy indexer does not add a full window of
/// latency to every cycle.
pub async fn gather<S: EventSource>(
    source: &mut S,
    config: BatchConfig,
    lane: &mut OwnerLane,
    cancel: &CancellationToken,
) -> Result<Vec<Delivery>, SourceError> {
    let mut filling = Filling::new(config, lane);
    // Busy (events waited, here or in the lane): a tenth of the window. Idle: wait for the
    // first delivery as long as it takes, then the whole window.
    let window = match filling.batch.is_empty() {
        false => config.max_wait / 10,
        true => match source.recv(Some(Instant::now())).await? {
            Some(waiting) => {
                filling.admit(waiting);
                config.max_wait / 10
            }
            None => {
                let first = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(Vec::new()),
                    first = source.recv(None) => first?,
                };
                let Some(first) = first else {
                    return Ok(Vec::new());
                };
                filling.admit(first);
                config.max_wait
            }
        },
    };
    let deadline = Instant::now() + window;
    while !filling.full() {
        match source.recv(Some(deadline)).await? {
            Some(delivery) => filling.admit(delivery),
            None => break,
        }
    }
    Ok(filling.batch)
}

/// What a piece of work done between live batches tells [`gather_between`].
pub(crate) enum Turn<W> {
    /// Done; the gathering goes on.
    Done,
    /// Not doable now (a generation is read-only): handed back, and the batch is cut short.
    Hold(W),
    /// The indexer was stopped.
    Stop,
}

/// Whoever does the work [`gather_between`] takes from its inbox (the indexer; a stand-in in
/// tests).
pub(crate) trait Worker<W> {
    /// Does one piece of work and says how the gathering goes on.
    fn work(&mut self, work: W) -> impl std::future::Future<Output = Turn<W>> + Send;
}

/// What [`gather_between`] returns: the live batch, and how the work went meanwhile.
pub(crate) struct Gathered<W> {
    pub deliveries: Vec<Delivery>,
    /// Work handed back by [`Turn::Hold`].
    pub held: Option<W>,
    /// Some work was done while gathering: a reindex is streaming.
    pub worked: bool,
    /// Some work answered [`Turn::Stop`].
    pub stopped: bool,
}

/// Gathers the next live batch ([`gather`]) while doing the work that arrives in `inbox`.
///
/// When the previous call did work (`streaming`: a reindex is feeding pages), this one gives the
/// work the first [`BatchConfig::work_window`] to itself — live deliveries wait in the source
/// meanwhile — and only then gathers, taking work between deliveries as before. One live batch
/// and a window of work per cycle: the reindex progresses at nearly its own pace, and a live
/// delivery waits at most a window (plus the piece of work in hand) besides the batches. Without
/// the window a busy indexer took one page per live batch, and each live commit paced the build.
/// When nothing is streaming the live batch is gathered as by [`gather`], with work taken while
/// it waits.
pub(crate) async fn gather_between<S: EventSource, W>(
    source: &mut S,
    config: BatchConfig,
    lane: &mut OwnerLane,
    inbox: &mut mpsc::Receiver<W>,
    streaming: bool,
    cancel: &CancellationToken,
    worker: &mut impl Worker<W>,
) -> Result<Gathered<W>, SourceError> {
    let mut gathered = Gathered {
        deliveries: Vec::new(),
        held: None,
        worked: false,
        stopped: false,
    };
    let mut window = streaming.then(|| Instant::now() + config.work_window);
    // Cancelling `wake` makes a gather that is still waiting for its first delivery return
    // empty; one already collecting finishes its batch, so no delivery is dropped.
    let wake = cancel.child_token();
    let batch = gather(source, config, lane, &wake);
    tokio::pin!(batch);
    let mut live_turn = false;
    loop {
        window = window.filter(|end| Instant::now() < *end);
        let next = match window {
            // The work's window: the live batch is not looked at. Checked before each piece of
            // work (not left to the timer), so work that is always ready cannot keep it open.
            Some(end) => tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                next = inbox.recv() => next,
                _ = tokio::time::sleep_until(end) => None,
            },
            None => {
                // The window just closed: the live deliveries that waited through it go now,
                // not after one more piece of work. Only when none waited (the gather is still
                // idle after a moment) does work go on while the batch waits for its first.
                if streaming && !live_turn {
                    live_turn = true;
                    let moment = config.max_wait / 5;
                    if let Ok(deliveries) = tokio::time::timeout(moment, &mut batch).await {
                        gathered.deliveries = deliveries?;
                        return Ok(gathered);
                    }
                }
                tokio::select! {
                    biased;
                    deliveries = &mut batch => {
                        gathered.deliveries = deliveries?;
                        return Ok(gathered);
                    }
                    Some(next) = inbox.recv() => Some(next),
                }
            }
        };
        let Some(next) = next else {
            window = None;
            continue;
        };
        match worker.work(next).await {
            Turn::Done => gathered.worked = true,
            Turn::Hold(held) => {
                gathered.held = Some(held);
                wake.cancel();
                gathered.deliveries = batch.await?;
                return Ok(gathered);
            }
            Turn::Stop => {
                gathered.stopped = true;
                return Ok(gathered);
            }
        }
    }
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
    /// An activity event marked it: its counts are re-read and written even at the version a
    /// generation holds (`schemas::activity`).
    pub recount: bool,
    /// Some delivery was an event of the entity itself (not only activity marks): its row must
    /// exist at the floor, or it lags.
    pub evented: bool,
    /// The newest activity mark's time: an activity does not move its target's `updated_at`,
    /// so a standby must have replayed the primary this far before the re-count is read
    /// ([`crate::hydrate::replay`]).
    pub marked_at: Option<DateTime<Utc>>,
}

impl Pending {
    /// Nothing said about `key` yet: no floor, no deliveries.
    pub fn new(key: EntityKey) -> Pending {
        Pending {
            key,
            floor: Version(0),
            destroyed: false,
            deliveries: Vec::new(),
            occurred: Vec::new(),
            recount: false,
            evented: false,
            marked_at: None,
        }
    }
}

/// An entity an activity event marked for a re-count, at the event's delivery position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub position: usize,
    pub key: EntityKey,
    pub occurred_at: DateTime<Utc>,
}

/// Groups the batch's envelopes and activity marks (with their delivery positions) by entity:
/// a hundred likes of one track in a batch are one re-count.
pub fn coalesce(events: &[(usize, Envelope)], marks: &[Mark]) -> Vec<Pending> {
    let mut by_key: BTreeMap<EntityKey, Pending> = BTreeMap::new();
    fn entry(by_key: &mut BTreeMap<EntityKey, Pending>, key: EntityKey) -> &mut Pending {
        by_key.entry(key).or_insert_with(|| Pending::new(key))
    }
    for (position, event) in events {
        let pending = entry(&mut by_key, event.key);
        pending.floor = pending.floor.max(event.floor());
        pending.destroyed |= event.action == Action::Destroy;
        pending.evented = true;
        pending.deliveries.push(*position);
        pending.occurred.push(event.occurred_at);
    }
    for mark in marks {
        // No floor: an activity does not move its target's row version.
        let pending = entry(&mut by_key, mark.key);
        pending.recount = true;
        pending.marked_at = pending.marked_at.max(Some(mark.occurred_at));
        pending.deliveries.push(mark.position);
        pending.occurred.push(mark.occurred_at);
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
        let pending = coalesce(&events, &[]);
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
        let pending = coalesce(&events, &[]);
        assert!(pending[0].destroyed);
        assert_eq!(pending[0].floor, Version(100));
    }

    #[tokio::test]
    async fn gathering_stops_at_the_size_limit_and_at_the_deadline() {
        let bus = crate::broker::MemoryBus::new();
        for _ in 0..5 {
            bus.publish("create.track", b"{}".to_vec());
        }
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = BatchConfig {
            max_events: 3,
            max_wait: Duration::from_millis(10),
            ..BatchConfig::default()
        };
        assert_eq!(
            gather(&mut source, config, &mut OwnerLane::default(), &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(3)
        );
        assert_eq!(
            gather(&mut source, config, &mut OwnerLane::default(), &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(2)
        );
        cancel.cancel();
        assert_eq!(
            gather(&mut source, config, &mut OwnerLane::default(), &cancel)
                .await
                .map(|b| b.len())
                .ok(),
            Some(0)
        );
    }

    /// The bodies of a batch, in order.
    fn bodies(batch: &[Delivery]) -> Vec<String> {
        (batch.iter())
            .map(|d| String::from_utf8_lossy(&d.body).into_owned())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn owner_events_beyond_a_batchs_share_wait_while_later_events_go_first() {
        let bus = crate::broker::MemoryBus::new();
        for user in ["u1", "u2", "u3", "u4", "u5"] {
            bus.publish("save.user", user.as_bytes().to_vec());
        }
        for track in ["t1", "t2"] {
            bus.publish("save.track", track.as_bytes().to_vec());
        }
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        // Two of other kinds fill a batch; the owners' share comes on top.
        let config = BatchConfig {
            max_events: 2,
            owner_events: 2,
            ..BatchConfig::default()
        };
        let mut lane = OwnerLane::default();
        let mut next = async || {
            let batch = gather(&mut source, config, &mut lane, &cancel).await;
            bodies(&batch.unwrap_or_default())
        };
        assert_eq!(next().await, ["u1", "u2", "t1", "t2"]);
        // The lane goes first, in arrival order; an owner arriving meanwhile queues behind it.
        bus.publish("destroy.user", b"u6".to_vec());
        bus.publish("save.track", b"t3".to_vec());
        assert_eq!(next().await, ["u3", "u4", "t3"]);
        assert_eq!(next().await, ["u5", "u6"]);

        // A full lane holds no more: owners beyond it join the batch rather than wait unseen.
        let config = BatchConfig {
            owner_events: 1,
            owner_backlog: 1,
            ..BatchConfig::default()
        };
        for user in ["u7", "u8", "u9"] {
            bus.publish("save.user", user.as_bytes().to_vec());
        }
        let mut lane = OwnerLane::default();
        let batch = gather(&mut source, config, &mut lane, &cancel).await;
        assert_eq!(bodies(&batch.unwrap_or_default()), ["u7", "u9"]);
        assert_eq!(bodies(&lane.drain()), ["u8"]);
    }

    /// Publishes one event after each pause (milliseconds), in the background.
    fn publish_after(bus: &crate::broker::MemoryBus, pauses: &[u64]) {
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
        let bus = crate::broker::MemoryBus::new();
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = BatchConfig {
            max_events: 100,
            max_wait: Duration::from_millis(1000),
            ..BatchConfig::default()
        };
        // Idle: the first delivery arrives later; the batch stays open for max_wait after it.
        publish_after(&bus, &[300, 900, 200]);
        let started = Instant::now();
        let batch = gather(&mut source, config, &mut OwnerLane::default(), &cancel)
            .await
            .ok()
            .map(|b| b.len());
        assert_eq!(batch, Some(2), "the third came after the window");
        assert_eq!(started.elapsed(), Duration::from_millis(1300));
        // Busy: deliveries were already waiting; one more within a tenth of the window joins.
        let _ = gather(&mut source, config, &mut OwnerLane::default(), &cancel).await;
        for _ in 0..4 {
            bus.publish("create.track", b"{}".to_vec());
        }
        publish_after(&bus, &[50, 100]);
        let started = Instant::now();
        let batch = gather(&mut source, config, &mut OwnerLane::default(), &cancel)
            .await
            .ok()
            .map(|b| b.len());
        assert_eq!(batch, Some(5));
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    /// Stands in for the indexer: each piece of work takes `took` (virtual time); the piece
    /// numbered `hold` is handed back.
    struct Sleeper {
        took: Duration,
        hold: Option<u32>,
        done: Vec<u32>,
    }

    impl Sleeper {
        fn new() -> Sleeper {
            Sleeper {
                took: Duration::from_millis(30),
                hold: None,
                done: Vec::new(),
            }
        }
    }

    /// A 50 ms batching window and a 200 ms window of work.
    fn windowed(max_events: usize) -> BatchConfig {
        BatchConfig {
            max_events,
            max_wait: Duration::from_millis(50),
            work_window: Duration::from_millis(200),
            ..BatchConfig::default()
        }
    }

    impl Worker<u32> for Sleeper {
        async fn work(&mut self, work: u32) -> Turn<u32> {
            if self.hold == Some(work) {
                return Turn::Hold(work);
            }
            tokio::time::sleep(self.took).await;
            self.done.push(work);
            Turn::Done
        }
    }

    /// [`gather_between`] with no owner events held, which must succeed.
    async fn between(
        source: &mut crate::broker::MemorySource,
        config: BatchConfig,
        inbox: &mut mpsc::Receiver<u32>,
        streaming: bool,
        cancel: &CancellationToken,
        worker: &mut Sleeper,
    ) -> Gathered<u32> {
        let mut lane = OwnerLane::default();
        gather_between(source, config, &mut lane, inbox, streaming, cancel, worker)
            .await
            .unwrap_or_else(|e| panic!("gather failed: {e}"))
    }

    /// A reindex that always has a page ready.
    fn pages(n: u32) -> mpsc::Receiver<u32> {
        let (sender, inbox) = mpsc::channel(2);
        tokio::spawn(async move {
            for page in 0..n {
                if sender.send(page).await.is_err() {
                    return;
                }
            }
            std::future::pending::<()>().await;
        });
        inbox
    }

    /// Virtual time: a window of reindex work per live batch, and live deliveries wait at most
    /// the window plus the piece of work in hand.
    #[tokio::test(start_paused = true)]
    async fn streaming_work_gets_a_window_then_the_live_batch_goes() {
        let bus = crate::broker::MemoryBus::new();
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = windowed(10_000);
        // Live events every millisecond, for the whole test.
        publish_after(&bus, &[1; 2000]);
        let mut inbox = pages(1000);
        let mut worker = Sleeper::new();
        // Not streaming yet: the waiting live batch goes after a tenth of max_wait, with the
        // work that arrived meanwhile done (one page of 30 ms overruns the 5 ms window).
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let first = between(&mut source, config, &mut inbox, false, &cancel, &mut worker).await;
        assert!(first.worked && first.held.is_none() && !first.stopped);
        assert_eq!(worker.done.len(), 1);
        assert_eq!(started.elapsed(), Duration::from_millis(30));
        // Streaming: pages for the window (7 × 30 ms: the last one starts at 180 ms), then the
        // live deliveries that arrived meanwhile, in one batch (5 ms: a busy gather's window).
        for cycle in 0..3 {
            let started = Instant::now();
            let before = worker.done.len();
            let gathered =
                between(&mut source, config, &mut inbox, true, &cancel, &mut worker).await;
            let took = started.elapsed();
            assert_eq!(worker.done.len() - before, 7, "cycle {cycle}");
            assert_eq!(took, Duration::from_millis(215), "cycle {cycle}");
            assert!(
                (200..=215).contains(&gathered.deliveries.len()),
                "cycle {cycle}: {} deliveries",
                gathered.deliveries.len()
            );
        }
    }

    /// With no live deliveries the work never stops for the window; a delivery then gathers
    /// as an idle one does, and work handed back cuts the batch short.
    #[tokio::test(start_paused = true)]
    async fn work_flows_without_live_deliveries_and_a_hold_cuts_the_batch_short() {
        let bus = crate::broker::MemoryBus::new();
        let mut source = bus.source();
        let cancel = CancellationToken::new();
        let config = windowed(100);
        let mut inbox = pages(20);
        let mut worker = Sleeper::new();
        publish_after(&bus, &[1000]);
        let started = Instant::now();
        let gathered = between(&mut source, config, &mut inbox, true, &cancel, &mut worker).await;
        assert_eq!(worker.done, (0..20).collect::<Vec<_>>());
        assert_eq!(gathered.deliveries.len(), 1);
        assert_eq!(started.elapsed(), Duration::from_millis(1050));

        let mut inbox = pages(5);
        worker.hold = Some(2);
        publish_after(&bus, &[100]);
        let gathered = between(&mut source, config, &mut inbox, true, &cancel, &mut worker).await;
        assert_eq!(gathered.held, Some(2));
        assert!(gathered.deliveries.is_empty(), "the gather was cut short");
        assert_eq!(worker.done.len(), 22);
    }
}
