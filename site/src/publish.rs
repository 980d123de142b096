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

/// Publishes to a durable topic exchange on RabbitMQ, with publisher confirms: each message
/// is JSON (`application/json`) and persistent (delivery mode 2).
pub struct AmqpPublisher {
    connection: Connection,
    channel: Channel,
    exchange: String,
}

impl AmqpPublisher {
    /// Connects, declares the exchange (topic, durable) and turns on publisher confirms.
    pub async fn connect(url: &str, exchange: &str) -> Result<AmqpPublisher, SiteError> {
        let broker = |e: lapin::Error| SiteError::Broker {
            url: redact(url),
            message: e.to_string(),
        };
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .map_err(broker)?;
        let channel = connection.create_channel().await.map_err(broker)?;
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
            .await
            .map_err(broker)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broker)?;
        Ok(AmqpPublisher {
            connection,
            channel,
            exchange: exchange.to_string(),
        })
    }

    /// Closes the channel and the connection.
    pub async fn close(&self) {
        let _ = self.channel.close(200, "bye".into()).await;
        let _ = self.connection.close(200, "bye".into()).await;
    }
}

impl Publisher for AmqpPublisher {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), SiteError>> {
        Box::pin(async move {
            let failed = |message: String| SiteError::Publish {
                routing_key: routing_key.to_string(),
                message,
            };
            let properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2);
            let confirm = self
                .channel
                .basic_publish(
                    self.exchange.as_str().into(),
                    routing_key.into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await
                .map_err(|e| failed(e.to_string()))?
                .await
                .map_err(|e| failed(e.to_string()))?;
            if confirm.is_nack() {
                return Err(failed("the broker refused the message (nack)".to_string()));
            }
            Ok(())
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
