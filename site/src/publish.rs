//! Publishing entity events: the [`Publisher`] trait the simulator talks to, the RabbitMQ
//! implementation ([`AmqpPublisher`]), and a [`MemoryPublisher`] that keeps what it was given
//! (tests, dry runs).
//!
//! ```no_run
//! # async fn run() -> Result<(), site::SiteError> {
//! use site::publish::{AmqpPublisher, Publisher};
//! let broker = AmqpPublisher::connect("amqp://guest:guest@127.0.0.1:5672/%2f", "models").await?;
//! broker.publish("save.track", br#"{"id":42,"occurred_at":"2026-11-21T10:00:00.000001Z"}"#.to_vec()).await?;
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::SiteError;

/// Where the site's events go. `publish` returns once the event is safely handed over (for
/// RabbitMQ: confirmed by the broker). Object-safe, so callers can hold a `Box<dyn Publisher>`.
pub trait Publisher: Send + Sync {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>>;
}

impl<P: Publisher + ?Sized> Publisher for Box<P> {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>> {
        (**self).publish(routing_key, body)
    }
}

impl<P: Publisher + ?Sized> Publisher for Arc<P> {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>> {
        (**self).publish(routing_key, body)
    }
}

/// First wait before reconnecting after a broker error; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// A confirm that takes longer than this is a broker that went away without saying so.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`AmqpPublisher::publish`] keeps retrying one event by default: a broker restart
/// takes seconds; a broker gone for this long is an outage the caller should hear about.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(600);

/// Publishes to a durable topic exchange on RabbitMQ, with publisher confirms: each message
/// is JSON (`application/json`) and persistent (delivery mode 2).
///
/// A broker error (the connection or channel closed, as when RabbitMQ restarts) does not fail
/// the publish: the publisher reconnects with backoff and publishes the event in hand again,
/// for up to its patience ([`DEFAULT_PATIENCE`]). An event whose confirm was lost may so
/// arrive twice, which the event contract allows; it is never dropped.
pub struct AmqpPublisher {
    url: String,
    exchange: String,
    /// The open connection and channel; `None` after a broker error, until the next publish
    /// reconnects. Held across a publish, so events go out one at a time, in order.
    session: tokio::sync::Mutex<Option<Session>>,
    patience: Duration,
}

struct Session {
    connection: Connection,
    channel: Channel,
}

impl Session {
    /// Connects (named `disco-simulate <exchange>`, so an operator or a test can find it),
    /// declares the exchange (topic, durable) and turns on publisher confirms.
    async fn open(url: &str, exchange: &str) -> Result<Session, lapin::Error> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("disco-simulate {exchange}").into());
        let connection = Connection::connect(url, properties).await?;
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Session {
            connection,
            channel,
        })
    }

    /// One publish and its confirm; the error says why, for the log.
    async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8]) -> Result<(), String> {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .map_err(|e| e.to_string())?;
        let confirm = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| format!("no confirm within {CONFIRM_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if confirm.is_nack() {
            return Err("the broker refused the message (nack)".to_string());
        }
        Ok(())
    }

    /// Closes without waiting long on a broker that is already gone.
    async fn close(self) {
        let bye = async {
            let _ = self.channel.close(200, "bye".into()).await;
            let _ = self.connection.close(200, "bye".into()).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
    }
}

impl AmqpPublisher {
    /// Connects, declares the exchange (topic, durable) and turns on publisher confirms. A
    /// broker unreachable at start is an error at once: the command line is probably wrong.
    pub async fn connect(url: &str, exchange: &str) -> Result<AmqpPublisher, SiteError> {
        let session = Session::open(url, exchange)
            .await
            .map_err(|e| SiteError::Broker {
                url: redact(url),
                message: e.to_string(),
            })?;
        Ok(AmqpPublisher {
            url: url.to_string(),
            exchange: exchange.to_string(),
            session: tokio::sync::Mutex::new(Some(session)),
            patience: DEFAULT_PATIENCE,
        })
    }

    /// How long one publish keeps reconnecting and retrying before it fails.
    pub fn with_patience(mut self, patience: Duration) -> AmqpPublisher {
        self.patience = patience;
        self
    }

    /// Closes the channel and the connection.
    pub async fn close(&self) {
        if let Some(session) = self.session.lock().await.take() {
            session.close().await;
        }
    }
}

impl Publisher for AmqpPublisher {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>> {
        Box::pin(async move {
            let started = tokio::time::Instant::now();
            let mut backoff = RETRY_FIRST;
            let mut failures = 0u32;
            loop {
                let mut session = self.session.lock().await;
                if session.is_none() {
                    match Session::open(&self.url, &self.exchange).await {
                        Ok(opened) => {
                            tracing::info!(exchange = %self.exchange, "reconnected to the broker");
                            *session = Some(opened);
                        }
                        Err(e) => tracing::debug!(error = %e, "broker still unreachable"),
                    }
                }
                let outcome = match session.as_ref() {
                    Some(open) => open.publish(&self.exchange, routing_key, &body).await,
                    None => Err("the broker is unreachable".to_string()),
                };
                let message = match outcome {
                    Ok(()) => {
                        if failures > 0 {
                            tracing::info!(
                                routing_key,
                                failures,
                                "event published after reconnecting"
                            );
                        }
                        return Ok(());
                    }
                    Err(message) => message,
                };
                if let Some(broken) = session.take() {
                    broken.close().await;
                }
                drop(session);
                failures += 1;
                if started.elapsed() >= self.patience {
                    return Err(SiteError::Publish {
                        routing_key: routing_key.to_string(),
                        message: format!(
                            "{message} (still failing after {failures} attempts in {:?})",
                            started.elapsed()
                        ),
                    });
                }
                tracing::warn!(
                    routing_key,
                    error = %message,
                    retry_in = ?backoff,
                    "publishing failed; reconnecting to the broker and publishing the event again"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        })
    }
}

/// A published event: (routing key, body).
pub type Event = (String, Vec<u8>);

/// Keeps every published event in memory, in order.
#[derive(Debug, Default, Clone)]
pub struct MemoryPublisher {
    events: Arc<Mutex<Vec<Event>>>,
}

impl MemoryPublisher {
    pub fn new() -> MemoryPublisher {
        MemoryPublisher::default()
    }

    /// The events published so far, as (routing key, body).
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .map(|events| events.clone())
            .unwrap_or_default()
    }
}

impl Publisher for MemoryPublisher {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>> {
        Box::pin(async move {
            if let Ok(mut events) = self.events.lock() {
                events.push((routing_key.to_string(), body));
            }
            Ok(())
        })
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
