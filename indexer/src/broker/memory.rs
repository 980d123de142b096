//! The in-process event bus of the embedded mode: one queue, the broker's semantics.
//!
//! Whatever is published waits in the queue until a consumer acknowledges it; deliveries a
//! consumer did not acknowledge go back to the front of the queue when it is dropped (a
//! restart) or when it releases them, exactly as RabbitMQ redelivers unacknowledged messages.
//!
//! ```
//! # async fn run() {
//! use indexer::broker::{EventSource, MemoryBus};
//! let bus = MemoryBus::new();
//! bus.publish("create.track", br#"{"id": 1, "occurred_at": "2026-01-01T00:00:00Z"}"#.to_vec());
//! let mut source = bus.source();
//! let delivery = source.recv(None).await.unwrap().unwrap();
//! source.ack(&[delivery]).await.unwrap();
//! assert_eq!(bus.outstanding(), 0);
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{AckHandle, Delivery, EventSource, SourceError};

/// A message parked because it could not be understood, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub reason: String,
    pub label: String,
}

#[derive(Debug, Clone)]
struct Message {
    routing_key: String,
    body: Vec<u8>,
    attempts: u32,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Message>,
    /// Delivered, not yet settled: tag → (consumer, message).
    unacked: BTreeMap<u64, (u64, Message)>,
    next_tag: u64,
    next_consumer: u64,
    /// Parked on the "retry queue": will reappear after their delay.
    delayed: usize,
    dead: Vec<DeadLetter>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    ready: Notify,
}

/// The publishing side and the queue; cheap to clone, every clone is the same bus.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl MemoryBus {
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// Publishes one event, as the site publishes to the `models` exchange.
    pub fn publish(&self, routing_key: &str, body: Vec<u8>) {
        self.push(Message {
            routing_key: routing_key.to_string(),
            body,
            attempts: 0,
        });
    }

    /// A consumer of the queue. Dropping it hands its unacknowledged deliveries back.
    pub fn source(&self) -> MemorySource {
        let consumer = {
            let mut state = self.lock();
            state.next_consumer += 1;
            state.next_consumer
        };
        MemorySource {
            bus: self.clone(),
            consumer,
        }
    }

    /// Messages published and not yet acknowledged (waiting or in flight).
    pub fn outstanding(&self) -> usize {
        let state = self.lock();
        state.ready.len() + state.unacked.len() + state.delayed
    }

    /// Everything dead-lettered so far.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead.clone()
    }

    fn push(&self, message: Message) {
        self.lock().ready.push_back(message);
        self.shared.ready.notify_waiters();
        self.shared.ready.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going with it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts a consumer's unacknowledged deliveries (all of them, or only `tags`) back in front.
    fn requeue(&self, consumer: u64, tags: Option<&[u64]>) {
        let mut state = self.lock();
        let mine: Vec<u64> = state
            .unacked
            .iter()
            .filter(|(tag, (owner, _))| {
                *owner == consumer && tags.is_none_or(|tags| tags.contains(tag))
            })
            .map(|(tag, _)| *tag)
            .collect();
        for tag in mine.into_iter().rev() {
            if let Some((_, message)) = state.unacked.remove(&tag) {
                state.ready.push_front(message);
            }
        }
        drop(state);
        self.shared.ready.notify_waiters();
        self.shared.ready.notify_one();
    }
}

/// One consumer of a [`MemoryBus`].
#[derive(Debug)]
pub struct MemorySource {
    bus: MemoryBus,
    consumer: u64,
}

impl MemorySource {
    fn try_take(&self) -> Option<Delivery> {
        let mut state = self.bus.lock();
        let message = state.ready.pop_front()?;
        state.next_tag += 1;
        let tag = state.next_tag;
        state.unacked.insert(tag, (self.consumer, message.clone()));
        Some(Delivery {
            routing_key: message.routing_key,
            body: message.body,
            attempts: message.attempts,
            handle: AckHandle::Memory {
                consumer: self.consumer,
                tag,
            },
        })
    }

    fn tags(&self, batch: &[Delivery]) -> Vec<u64> {
        batch
            .iter()
            .filter_map(|d| match d.handle {
                AckHandle::Memory { consumer, tag } if consumer == self.consumer => Some(tag),
                _ => None,
            })
            .collect()
    }
}

impl Drop for MemorySource {
    fn drop(&mut self) {
        self.bus.requeue(self.consumer, None);
    }
}

impl EventSource for MemorySource {
    async fn recv(&mut self, deadline: Option<Instant>) -> Result<Option<Delivery>, SourceError> {
        loop {
            let notified = self.bus.shared.ready.notified();
            if let Some(delivery) = self.try_take() {
                return Ok(Some(delivery));
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return Ok(self.try_take());
                    }
                }
                None => notified.await,
            }
        }
    }

    async fn dead_letter(
        &mut self,
        delivery: &Delivery,
        reason: &str,
        label: &str,
    ) -> Result<(), SourceError> {
        self.bus.lock().dead.push(DeadLetter {
            routing_key: delivery.routing_key.clone(),
            body: delivery.body.clone(),
            reason: reason.to_string(),
            label: label.to_string(),
        });
        Ok(())
    }

    async fn retry_later(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
    ) -> Result<(), SourceError> {
        let bus = self.bus.clone();
        let message = Message {
            routing_key: delivery.routing_key.clone(),
            body: delivery.body.clone(),
            attempts: delivery.attempts + 1,
        };
        // Like the broker's retry queue: the copy exists from now on, and reappears after `delay`.
        bus.lock().delayed += 1;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            {
                let mut state = bus.lock();
                state.delayed -= 1;
                state.ready.push_back(message);
            }
            bus.shared.ready.notify_waiters();
            bus.shared.ready.notify_one();
        });
        Ok(())
    }

    async fn ack(&mut self, batch: &[Delivery]) -> Result<(), SourceError> {
        let tags = self.tags(batch);
        let mut state = self.bus.lock();
        for tag in tags {
            state.unacked.remove(&tag);
        }
        Ok(())
    }

    async fn release(&mut self, batch: &[Delivery]) -> Result<(), SourceError> {
        let tags = self.tags(batch);
        self.bus.requeue(self.consumer, Some(&tags));
        Ok(())
    }
}
