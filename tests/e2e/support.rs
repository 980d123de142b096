//! Shared by the indexer's end-to-end tests: a fresh PostgreSQL database, broker names of its
//! own, a publisher, an in-process indexer on RabbitMQ, and ways to look at the index.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use indexer::broker::{AmqpConfig, AmqpSource};
use indexer::tantivy::collector::TopDocs;
use indexer::tantivy::query::QueryParser;
use indexer::tantivy::schema::Value;
use indexer::{CancellationToken, Generations, Indexer, IndexerConfig};
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use schemas::envelope::Action;
use schemas::{EntityKey, EntityKind};

pub struct Env {
    pub pg: testkit::FreshPostgres,
    pub amqp: AmqpConfig,
    pub data: tempfile::TempDir,
    publisher: Channel,
    _connection: Connection,
}

impl Env {
    /// A fresh database and broker names; the topology is declared so that nothing published
    /// before the indexer starts is lost.
    pub async fn new() -> Env {
        let pg = testkit::FreshPostgres::create().await;
        let exchange = testkit::unique_name("models");
        let queue = testkit::unique_name("indexer");
        let amqp = AmqpConfig::new(&testkit::amqp_url(), &exchange, &queue);
        AmqpSource::declare(&amqp).await.unwrap();
        let connection = Connection::connect(&amqp.url, ConnectionProperties::default())
            .await
            .unwrap();
        let publisher = connection.create_channel().await.unwrap();
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Env {
            pg,
            amqp,
            data: tempfile::tempdir().unwrap(),
            publisher,
            _connection: connection,
        }
    }

    pub fn db(&self) -> &schemas::db::Db {
        &self.pg.db
    }

    /// Publishes raw bytes under `routing_key` to the test's exchange and waits for the confirm.
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) {
        self.publisher
            .basic_publish(
                self.amqp.exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Publishes the site's event for `key`.
    pub async fn publish(&self, action: Action, key: EntityKey, at: DateTime<Utc>) {
        let (routing_key, body) = indexer::testing::event(action, key, at);
        self.publish_raw(&routing_key, &body).await;
    }

    /// Starts an indexer in this process on the test's queue.
    pub async fn start(&self) -> Running {
        let catalog = Generations::open(self.data.path()).unwrap();
        let source = AmqpSource::connect(self.amqp.clone()).await.unwrap();
        let indexer = Indexer::open(self.pg.db.clone(), catalog.clone(), config()).unwrap();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(indexer.run(source, cancel.clone()));
        Running {
            catalog,
            cancel,
            task,
        }
    }

    /// Reads up to `n` messages from the dead-letter queue: (routing key, reason label, reason).
    pub async fn dead_letters(&self, n: usize) -> Vec<(String, String, String)> {
        let channel = self._connection.create_channel().await.unwrap();
        let mut consumer = channel
            .basic_consume(
                self.amqp.dead_letter_name().as_str().into(),
                "test".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let mut found = Vec::new();
        while found.len() < n {
            let next = tokio::time::timeout(Duration::from_secs(20), consumer.next()).await;
            let Ok(Some(Ok(delivery))) = next else { break };
            let header = |name: &str| match delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(name))
            {
                Some(AMQPValue::LongString(s)) => {
                    String::from_utf8_lossy(s.as_bytes()).into_owned()
                }
                _ => String::new(),
            };
            found.push((
                header(indexer::broker::ROUTING_KEY_HEADER),
                header(indexer::broker::REASON_LABEL_HEADER),
                header(indexer::broker::REASON_HEADER),
            ));
        }
        found
    }
}

/// Quick batches and short retry delays, so tests do not wait on production patience.
pub fn config() -> IndexerConfig {
    let mut config = IndexerConfig::default();
    config.batch.max_wait = Duration::from_millis(10);
    config.lag_retries = vec![Duration::from_millis(10)];
    config.park_delay = Duration::from_millis(100);
    config.park_delay_max = Duration::from_millis(500);
    config.writer_heap_bytes = 15_000_000;
    config
}

pub struct Running {
    pub catalog: Arc<Generations>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), indexer::IndexerError>>,
}

impl Running {
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub fn track(id: i64) -> EntityKey {
    EntityKey::new(EntityKind::Track, id)
}

pub fn user(id: i64) -> EntityKey {
    EntityKey::new(EntityKind::User, id)
}

pub fn later(at: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    at + chrono::Duration::milliseconds(ms)
}

/// Ids of the live generation's documents whose `field` matches `text`.
pub fn matching(catalog: &Generations, field: &str, text: &str) -> Vec<i64> {
    let live = catalog.live();
    let (searcher, definitions) = (live.searcher(), live.definitions());
    let query = QueryParser::for_index(live.index(), vec![definitions.field(field).unwrap()])
        .parse_query(text)
        .unwrap();
    let id = definitions.system().id;
    let mut ids: Vec<i64> = searcher
        .search(&query, &TopDocs::with_limit(1000).order_by_score())
        .unwrap()
        .into_iter()
        .map(|(_, address)| {
            let doc: indexer::tantivy::TantivyDocument = searcher.doc(address).unwrap();
            doc.get_first(id).and_then(|v| v.as_i64()).unwrap()
        })
        .collect();
    ids.sort();
    ids
}

/// Polls `check` until it holds (or panics with `what` after 30 s).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Polls `disco verify`'s library form until the live generation equals the database.
pub async fn until_verified(db: &schemas::db::Db, data: &Path) -> indexer::verify::VerifyReport {
    let mut last = None;
    for _ in 0..300 {
        let catalog = Generations::open(data).unwrap();
        let report = indexer::verify::verify(db, &catalog.live()).await.unwrap();
        if report.is_clean() {
            return report;
        }
        last = Some(report);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "index never matched the database:\n{}",
        last.map(|r| r.to_string()).unwrap_or_default()
    );
}

/// Runs the `disco` binary on data directory `data` with `args` (the environment's broker and
/// database left out, so the default SQLite file or the args decide) and returns its standard
/// output; a failed run fails the test with both outputs.
pub fn disco_cli(data: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("AMQP_URL")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run disco");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "disco {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
