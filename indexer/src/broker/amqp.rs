//! RabbitMQ through lapin: the real mode's event source.
//!
//! Topology (all declared idempotently on every connect):
//!
//! - the site's topic exchange (`models`, durable);
//! - this replica's durable queue (one per replica), bound to `*.track`, `*.playlist`,
//!   `*.group` and to the activities that change their counts (`*.like`, `*.follow`, …:
//!   `schemas::activity`);
//! - `<queue>.owners`, a durable queue bound to `*.user`: the owner lane
//!   (`crate::batch::OwnerLane`) at the broker. A person's event fans out to everything they
//!   own, so a cleanup's ten thousand take-downs are consumed a share at a time on a channel of
//!   their own while the other events go on. In one queue they would sit unacknowledged in front
//!   of every later delivery, and RabbitMQ finds a delivery tag acknowledged out of order by
//!   walking the channel's unacknowledged deliveries from the oldest
//!   (`rabbit_channel:collect_acks`): half a core for the broker during a cleanup. With a queue each, both channels acknowledge in order;
//! - `*.user` unbound from the main queue (replicas declared before the owner queue existed),
//!   after the owner queue is bound, so no event is routed nowhere meanwhile;
//! - `<queue>.dead-letter`, a fanout exchange with a durable queue of the same name: malformed
//!   envelopes, each with `x-disco-reason` (the error text) and `x-disco-reason-label`;
//! - `<queue>.retry`, a durable queue nobody consumes: an event whose row is not visible yet
//!   waits there for its per-message TTL, then dead-letters back into the main queue. Its
//!   original routing key travels in `x-disco-routing-key`, its attempt count in `x-disco-attempts`.
//!
//! Deliveries are acknowledged after the commit, per channel: one multiple-ack for the part of a
//! batch below every delivery of that channel still outstanding, single acks above it (an owner
//! event that reached the main queue — a retry, or one queued before the owner queue existed —
//! may be held aside while later deliveries go first). When the broker
//! goes away the source reconnects with backoff; deliveries of the old channel are never acked
//! (the broker redelivers them, and re-applying them is harmless).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use tokio::time::Instant;

use super::{
    ATTEMPTS_HEADER, AckHandle, Delivery, EventSource, REASON_HEADER, REASON_LABEL_HEADER,
    ROUTING_KEY_HEADER, SourceError,
};

/// Where to connect and which names to use.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    pub url: String,
    /// The site's topic exchange (`models`).
    pub exchange: String,
    /// This replica's queue (`disco-indexer`).
    pub queue: String,
    /// Unacknowledged deliveries the broker may push ahead on the main queue; at least one batch.
    pub prefetch: u16,
    /// The same on the owner queue: what the owner lane holds at most beside the batch's share.
    pub owner_prefetch: u16,
}

impl AmqpConfig {
    pub fn new(url: &str, exchange: &str, queue: &str) -> AmqpConfig {
        AmqpConfig {
            url: url.to_string(),
            exchange: exchange.to_string(),
            queue: queue.to_string(),
            prefetch: 0,
            owner_prefetch: 0,
        }
        .with_prefetch(&crate::batch::BatchConfig::default())
    }

    /// Prefetch on both queues for batches of `batch` (see [`BatchConfig::prefetch`]).
    ///
    /// [`BatchConfig::prefetch`]: crate::batch::BatchConfig::prefetch
    pub fn with_prefetch(self, batch: &crate::batch::BatchConfig) -> AmqpConfig {
        AmqpConfig {
            prefetch: batch.prefetch(),
            owner_prefetch: batch.owner_prefetch(),
            ..self
        }
    }

    /// The owner lane's queue: people's events, whose change reaches what they own.
    pub fn owners_name(&self) -> String {
        format!("{}.owners", self.queue)
    }

    pub fn dead_letter_name(&self) -> String {
        format!("{}.dead-letter", self.queue)
    }

    pub fn retry_name(&self) -> String {
        format!("{}.retry", self.queue)
    }
}

/// Reports the depth of the main and owner queues together (messages ready, not yet
/// delivered) every `every` to `record`,
/// over a connection of its own, until the task is dropped: the broker backlog the dashboard
/// and `/metrics` show. A failed look is logged and retried on a fresh connection; the last
/// depth stays recorded meanwhile.
pub async fn watch_backlog(config: AmqpConfig, every: Duration, record: impl Fn(u32)) {
    let mut channel: Option<(Connection, Channel)> = None;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if channel.is_none() {
            let opened = async {
                let connection =
                    Connection::connect(&config.url, ConnectionProperties::default()).await?;
                let channel = connection.create_channel().await?;
                Ok::<_, lapin::Error>((connection, channel))
            };
            match opened.await {
                Ok(open) => channel = Some(open),
                Err(e) => {
                    tracing::warn!(queue = %config.queue, error = %e, "broker backlog: cannot connect");
                    continue;
                }
            }
        }
        let Some((_, ch)) = &channel else { continue };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let mut depth = 0;
        for queue in [config.queue.clone(), config.owners_name()] {
            match ch
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await
            {
                Ok(declared) => depth += declared.message_count(),
                Err(e) => {
                    // A failed passive declare closes the channel: open a new one next time.
                    tracing::warn!(%queue, error = %e, "broker backlog: cannot read the queue");
                    channel = None;
                    break;
                }
            }
        }
        if channel.is_some() {
            record(depth);
        }
    }
}

struct Session {
    connection: Connection,
    /// Consume and acknowledge (through each delivery's acker), one channel per queue: delivery
    /// tags are per channel, so each channel's are acknowledged in order. Kept open with the
    /// session.
    _consume: [Channel; 2],
    /// Publishes dead letters and retries, with publisher confirms.
    publish: Channel,
    /// The main queue's consumer and the owner queue's, by [`Queue`].
    consumers: [Consumer; 2],
}

/// Which of the replica's two queues (and channels) a delivery came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    /// Entities other than people, and activities.
    Main = 0,
    /// People's events (`<queue>.owners`).
    Owners = 1,
}

/// The broker source. Connects lazily and reconnects with backoff.
pub struct AmqpSource {
    config: AmqpConfig,
    session: Option<Session>,
    /// Bumped on every (re)connect: delivery tags are only valid on the channel that made them.
    epoch: u64,
    /// Tags of this epoch handed out and not yet settled, per [`Queue`]: a multiple-ack on a
    /// channel must stay below the lowest of its own.
    unsettled: [BTreeSet<u64>; 2],
}

/// The main queue's entity bindings; people's events go to the owner queue.
const ENTITY_BINDINGS: [&str; 3] = ["*.track", "*.playlist", "*.group"];
const OWNER_BINDING: &str = "*.user";

impl AmqpSource {
    /// Connects and declares the topology once, so that a wrong URL fails here, at start.
    pub async fn connect(config: AmqpConfig) -> Result<AmqpSource, SourceError> {
        let mut source = AmqpSource {
            config,
            session: None,
            epoch: 0,
            unsettled: Default::default(),
        };
        source.session = Some(source.open().await?);
        source.epoch = 1;
        Ok(source)
    }

    /// Declares the exchange, the queues and their bindings (idempotent), without consuming.
    /// Publishers call this in tests so that nothing published before the indexer starts is lost.
    pub async fn declare(config: &AmqpConfig) -> Result<(), SourceError> {
        let connection = Connection::connect(&config.url, ConnectionProperties::default())
            .await
            .map_err(|e| amqp_err(config, e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| amqp_err(config, e))?;
        declare_topology(&channel, config)
            .await
            .map_err(|e| amqp_err(config, e))?;
        let _ = connection.close(200, "declared".into()).await;
        Ok(())
    }

    async fn open(&self) -> Result<Session, SourceError> {
        let config = &self.config;
        let err = |e| amqp_err(config, e);
        // Named after the queue, so an operator (or a test) can tell replicas apart.
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("disco-indexer {}", config.queue).into());
        let connection = Connection::connect(&config.url, properties)
            .await
            .map_err(err)?;
        let main = connection.create_channel().await.map_err(err)?;
        declare_topology(&main, config).await.map_err(err)?;
        let owners = connection.create_channel().await.map_err(err)?;
        let publish = connection.create_channel().await.map_err(err)?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(err)?;
        let consume = |channel: Channel, queue: String, prefetch: u16, tag: &'static str| async move {
            channel
                .basic_qos(prefetch.max(1), BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    tag.into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((channel, consumer))
        };
        let (main, main_consumer) =
            consume(main, config.queue.clone(), config.prefetch, "disco-indexer")
                .await
                .map_err(err)?;
        let (owners, owner_consumer) = consume(
            owners,
            config.owners_name(),
            config.owner_prefetch,
            "disco-indexer-owners",
        )
        .await
        .map_err(err)?;
        tracing::info!(queue = %config.queue, exchange = %config.exchange, "consuming");
        Ok(Session {
            connection,
            _consume: [main, owners],
            publish,
            consumers: [main_consumer, owner_consumer],
        })
    }

    /// Drops the broken session and connects again, waiting longer after each failure.
    async fn reconnect(&mut self) {
        if let Some(old) = self.session.take() {
            let _ = old.connection.close(200, "reconnecting".into()).await;
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.open().await {
                Ok(session) => {
                    self.session = Some(session);
                    self.epoch += 1;
                    self.unsettled = Default::default();
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "broker unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn session(&mut self) -> &Session {
        if self.session.is_none() {
            self.reconnect().await;
        }
        match &self.session {
            Some(session) => session,
            None => unreachable!("reconnect returns with a session"),
        }
    }

    /// Publishes with a confirm; on failure reconnects and tries again (the original delivery
    /// stays unacknowledged meanwhile, so nothing is lost either way).
    async fn publish_confirmed(
        &mut self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), SourceError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let session = self.session().await;
            let attempt = async {
                session
                    .publish
                    .basic_publish(
                        exchange.into(),
                        routing_key.into(),
                        BasicPublishOptions::default(),
                        body,
                        properties.clone(),
                    )
                    .await?
                    .await
            };
            match attempt.await {
                Ok(confirmation) if !confirmation.is_nack() => return Ok(()),
                Ok(_) => tracing::warn!(exchange, routing_key, "broker refused a publish"),
                Err(e) => tracing::warn!(error = %e, exchange, routing_key, "publish failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            self.reconnect().await;
        }
    }

    fn original_headers(delivery: &Delivery) -> FieldTable {
        let mut headers = FieldTable::default();
        headers.insert(
            ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(LongString::from(delivery.routing_key.as_bytes())),
        );
        headers
    }
}

async fn declare_topology(channel: &Channel, config: &AmqpConfig) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            config.exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            config.queue.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    let owners = config.owners_name();
    channel
        .queue_declare(
            owners.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    let activities = schemas::activity::Activity::ALL.map(|a| a.binding());
    let bindings = (ENTITY_BINDINGS.into_iter())
        .chain(activities.iter().map(String::as_str))
        .map(|binding| (config.queue.as_str(), binding))
        .chain([(owners.as_str(), OWNER_BINDING)]);
    for (queue, binding) in bindings {
        channel
            .queue_bind(
                queue.into(),
                config.exchange.as_str().into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    // A replica declared before the owner queue existed has people's events bound to its main
    // queue; now that the owner queue receives them, the old binding goes (unbinding what is
    // not bound is not an error).
    channel
        .queue_unbind(
            config.queue.as_str().into(),
            config.exchange.as_str().into(),
            OWNER_BINDING.into(),
            FieldTable::default(),
        )
        .await?;
    let dead = config.dead_letter_name();
    channel
        .exchange_declare(
            dead.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            dead.as_str().into(),
            dead.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    // Expired retries dead-letter through the default exchange straight into the main queue.
    let mut retry_args = FieldTable::default();
    retry_args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    retry_args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(config.queue.as_str().into()),
    );
    channel
        .queue_declare(
            config.retry_name().as_str().into(),
            QueueDeclareOptions::durable(),
            retry_args,
        )
        .await?;
    Ok(())
}

/// How many of a batch's tags (sorted) lie below the lowest delivery still outstanding: those
/// can go in one multiple-ack, the rest must be acknowledged one by one.
fn below_outstanding(sorted: &[u64], outstanding: Option<u64>) -> usize {
    match outstanding {
        Some(lowest) => sorted.partition_point(|tag| *tag < lowest),
        None => sorted.len(),
    }
}

fn amqp_err(config: &AmqpConfig, source: lapin::Error) -> SourceError {
    SourceError::Amqp {
        url: redact(&config.url),
        source,
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}***{}", &url[..start + 3], &url[at..]),
        _ => url.to_string(),
    }
}

fn header_str(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn header_u32(headers: Option<&FieldTable>, name: &str) -> u32 {
    match headers.and_then(|h| h.inner().get(name)) {
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

impl EventSource for AmqpSource {
    async fn recv(&mut self, deadline: Option<Instant>) -> Result<Option<Delivery>, SourceError> {
        loop {
            if self.session.is_none() {
                self.reconnect().await;
            }
            let epoch = self.epoch;
            let Some(session) = self.session.as_mut() else {
                continue;
            };
            // Whichever queue has a delivery first; when both have, either (tokio::select!
            // picks at random): the owner lane bounds what a batch takes of people's events.
            let [main, owners] = &mut session.consumers;
            let next = async {
                tokio::select! {
                    next = main.next() => (Queue::Main, next),
                    next = owners.next() => (Queue::Owners, next),
                }
            };
            let (queue, next) = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, next).await {
                    Ok(next) => next,
                    Err(_) => return Ok(None),
                },
                None => next.await,
            };
            match next {
                Some(Ok(delivery)) => {
                    let headers = delivery.properties.headers().as_ref();
                    let routing_key = header_str(headers, ROUTING_KEY_HEADER)
                        .unwrap_or_else(|| delivery.routing_key.as_str().to_string());
                    let attempts = header_u32(headers, ATTEMPTS_HEADER);
                    self.unsettled[queue as usize].insert(delivery.delivery_tag);
                    return Ok(Some(Delivery {
                        routing_key,
                        attempts,
                        handle: AckHandle::Amqp {
                            epoch,
                            queue,
                            tag: delivery.delivery_tag,
                            acker: delivery.acker.clone(),
                        },
                        body: delivery.data,
                    }));
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer failed; reconnecting");
                    self.reconnect().await;
                }
                None => {
                    tracing::warn!("consumer cancelled; reconnecting");
                    self.reconnect().await;
                }
            }
        }
    }

    async fn dead_letter(
        &mut self,
        delivery: &Delivery,
        reason: &str,
        label: &str,
    ) -> Result<(), SourceError> {
        let mut headers = Self::original_headers(delivery);
        // A header is a long string; keep the reason readable and bounded.
        let reason: String = reason.chars().take(1000).collect();
        headers.insert(
            REASON_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
        );
        headers.insert(
            REASON_LABEL_HEADER.into(),
            AMQPValue::LongString(label.into()),
        );
        let properties = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2);
        let exchange = self.config.dead_letter_name();
        self.publish_confirmed(&exchange, &delivery.routing_key, &delivery.body, properties)
            .await
    }

    async fn retry_later(
        &mut self,
        delivery: &Delivery,
        delay: Duration,
    ) -> Result<(), SourceError> {
        let mut headers = Self::original_headers(delivery);
        headers.insert(
            ATTEMPTS_HEADER.into(),
            AMQPValue::LongUInt(delivery.attempts + 1),
        );
        let properties = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2)
            .with_expiration(ShortString::from(delay.as_millis().max(1).to_string()));
        let retry = self.config.retry_name();
        self.publish_confirmed("", &retry, &delivery.body, properties)
            .await
    }

    async fn ack(&mut self, batch: &[Delivery]) -> Result<(), SourceError> {
        let mut acks = Vec::new();
        for lane in [Queue::Main, Queue::Owners] {
            let mut current: Vec<(u64, &lapin::Acker)> = (batch.iter())
                .filter_map(|d| match &d.handle {
                    AckHandle::Amqp {
                        epoch,
                        queue,
                        tag,
                        acker,
                    } if *epoch == self.epoch && *queue == lane => Some((*tag, acker)),
                    _ => None,
                })
                .collect();
            let unsettled = &mut self.unsettled[lane as usize];
            for (tag, _) in &current {
                unsettled.remove(tag);
            }
            current.sort_unstable_by_key(|(tag, _)| *tag);
            let tags: Vec<u64> = current.iter().map(|(tag, _)| *tag).collect();
            let (below, above) =
                current.split_at(below_outstanding(&tags, unsettled.first().copied()));
            // Below every delivery of the channel still outstanding: one multiple-ack settles
            // them (and nothing else); above, single acks, sent together rather than one round
            // of the I/O loop each.
            let multiple = below.last().map(|(_, acker)| (*acker, true));
            let singles = above.iter().map(|(_, acker)| (*acker, false));
            acks.extend(
                (multiple.into_iter().chain(singles))
                    .map(|(acker, multiple)| acker.ack(BasicAckOptions { multiple })),
            );
        }
        for acked in futures::future::join_all(acks).await {
            match acked {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("channel closed before the ack; the broker will redeliver");
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ack failed; the broker will redeliver");
                    self.session = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn release(&mut self, batch: &[Delivery]) -> Result<(), SourceError> {
        for delivery in batch {
            if let AckHandle::Amqp {
                epoch,
                queue,
                acker,
                tag,
            } = &delivery.handle
                && *epoch == self.epoch
            {
                self.unsettled[*queue as usize].remove(tag);
                let _ = acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    })
                    .await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::below_outstanding;

    #[test]
    fn a_batch_is_acknowledged_at_once_only_below_what_is_still_held() {
        let batch = [3, 4, 9, 12];
        // Nothing outstanding: one multiple-ack at 12.
        assert_eq!(below_outstanding(&batch, None), 4);
        // Owner events 5..=8 held aside: a multiple-ack at 4 must not settle them.
        assert_eq!(below_outstanding(&batch, Some(5)), 2);
        // Held before the whole batch: every tag one by one.
        assert_eq!(below_outstanding(&batch, Some(1)), 0);
    }
}
