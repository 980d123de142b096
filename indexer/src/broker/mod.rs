//! Where entity events come from: the broker (RabbitMQ through lapin) or the in-process bus of
//! the embedded mode, behind one trait with the same delivery semantics.
//!
//! A source hands out [`Delivery`]s one at a time; the pipeline settles every delivery of a batch
//! together, after the commit that holds its effect:
//!
//! - [`EventSource::ack`] acknowledges a whole batch (one multiple-ack on the broker);
//! - [`EventSource::dead_letter`] parks a malformed message, with its reason, where a person can
//!   look at it; the original is acknowledged with the rest of its batch;
//! - [`EventSource::retry_later`] puts an event whose row is not visible yet back in line after a
//!   delay (the retry queue); the original is acknowledged with the rest of its batch;
//! - [`EventSource::release`] hands a batch back unacknowledged (it will be delivered again).
//!
//! Delivery is at-least-once: anything not acknowledged comes back, after a restart or a
//! reconnect, and the pipeline makes applying it twice harmless.

pub mod amqp;
pub mod memory;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use amqp::{AmqpConfig, AmqpSource};
pub use memory::{DeadLetter, MemoryBus, MemorySource};

/// Header that carries the reason a message was dead-lettered (the error's text).
pub const REASON_HEADER: &str = "x-disco-reason";
/// Header that carries the short, stable label of that reason (`not_json`, `bad_time`, …).
pub const REASON_LABEL_HEADER: &str = "x-disco-reason-label";
/// Header that carries a retried message's original routing key (the retry queue's own routing
/// replaces it on the way back).
pub const ROUTING_KEY_HEADER: &str = "x-disco-routing-key";
/// Header that counts how many times an event has been parked on the retry queue.
pub const ATTEMPTS_HEADER: &str = "x-disco-attempts";

/// One message as the pipeline sees it: routing key, raw body, and how often it was retried.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `<action>.<kind>` as the site published it (restored after a trip through the retry queue).
    pub routing_key: String,
    pub body: Vec<u8>,
    /// How many times this event went through the retry queue already.
    pub attempts: u32,
    pub(crate) handle: AckHandle,
}

/// What a source needs to settle a delivery later; opaque to the pipeline.
#[derive(Debug, Clone)]
pub(crate) enum AckHandle {
    Memory {
        consumer: u64,
        tag: u64,
    },
    Amqp {
        epoch: u64,
        /// Tags are per channel, and each queue has its own.
        queue: amqp::Queue,
        tag: u64,
        acker: lapin::Acker,
    },
}

/// Errors of a source. The broker ones are retried by reconnecting; a closed source ends the run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("RabbitMQ at {url}: {source}")]
    Amqp { url: String, source: lapin::Error },
    #[error("the event source is closed")]
    Closed,
}

/// A stream of deliveries with batch settlement. See the module documentation.
pub trait EventSource: Send {
    /// The next delivery, or `None` when `deadline` passes first (`None` = wait as long as it takes).
    fn recv(
        &mut self,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Option<Delivery>, SourceError>> + Send;

    /// Sends a malformed message to the dead-letter queue with `reason` (and its short `label`)
    /// in headers. The original still has to be acknowledged, with its batch.
    fn dead_letter(
        &mut self,
        delivery: &Delivery,
        reason: &str,
        label: &str,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Puts the event back in line after `delay`, counting one more attempt. The original still
    /// has to be acknowledged, with its batch.
    fn retry_later(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Acknowledges every delivery of the batch. Deliveries that came before a reconnect are
    /// skipped: the broker delivers them again, and applying them again is harmless.
    fn ack(&mut self, batch: &[Delivery]) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Hands the batch back unacknowledged, to be delivered again.
    fn release(
        &mut self,
        batch: &[Delivery],
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}
