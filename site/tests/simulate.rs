//! The simulated site against real databases and a real broker: every event is in the
//! documented format, and after the run each entity's row is what its last event says.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind, Envelope, searchable};
use site::progress::ProgressMeter;
use site::publish::{AmqpPublisher, MemoryPublisher};
use site::seed::{SeedOptions, seed};
use site::simulate::{SimOptions, Simulator, SiteEdit, Step};

/// (updated_at µs, own row searchable) of an entity's row, `None` when it is gone.
async fn row_state(db: &Db, key: EntityKey) -> Option<(i64, bool)> {
    let table = key.kind.table();
    let sql = format!(
        "SELECT updated_at, ({}) FROM {table} WHERE id = $1",
        searchable::own_condition(key.kind, table)
    );
    let sql = db.dialect_sql(&sql).into_owned();
    let row: Option<(DateTime<Utc>, bool)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key.id)
                .fetch_optional(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key.id)
                .fetch_optional(pool)
                .await
        }
    }
    .unwrap();
    row.map(|(at, searchable)| (at.timestamp_micros(), searchable))
}

/// Each entity's last step must match its row: gone after a hard delete, otherwise with
/// updated_at equal to the event's occurred_at and the searchability the step reported.
async fn check_final_state(db: &Db, steps: &[Step]) {
    let mut last: HashMap<EntityKey, &Step> = HashMap::new();
    for step in steps {
        last.insert(step.envelope.key, step);
    }
    for (key, step) in last {
        let state = row_state(db, key).await;
        if !step.exists {
            assert_eq!(state, None, "{key} should be gone after {}", step.change);
            continue;
        }
        let (updated_at, searchable) =
            state.unwrap_or_else(|| panic!("{key} missing after {}", step.change));
        assert_eq!(
            updated_at,
            step.envelope.occurred_at.timestamp_micros(),
            "{key} after {}",
            step.change
        );
        assert_eq!(searchable, step.searchable, "{key} after {}", step.change);
    }
}

#[tokio::test]
async fn every_change_writes_its_row_then_publishes_its_event() {
    let sqlite = testkit::FreshSqlite::create().await;
    seed(
        &sqlite.db,
        &SeedOptions::synthetic(500, 3),
        &ProgressMeter::hidden(),
    )
    .await
    .unwrap();
    let mut sim = Simulator::new(
        sqlite.db.clone(),
        MemoryPublisher::new(),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let mut steps = Vec::new();
    for kind in EntityKind::ALL {
        for edit in SiteEdit::ALL {
            steps.push(sim.apply(kind, edit).await.unwrap());
        }
    }
    for _ in 0..200 {
        steps.push(sim.step().await.unwrap());
    }
    sim.finish().await.unwrap();
    // Versions strictly increase, whole microseconds.
    for pair in steps.windows(2) {
        assert!(pair[0].envelope.occurred_at < pair[1].envelope.occurred_at);
    }
    // Each step published exactly its envelope, in order (no faults switched on).
    let events = sim.publisher().events();
    assert_eq!(events.len(), steps.len());
    for ((routing_key, body), step) in events.iter().zip(&steps) {
        let parsed = Envelope::parse(routing_key, body).unwrap();
        assert_eq!(parsed, step.envelope);
    }
    let edits: std::collections::HashSet<SiteEdit> = steps.iter().map(|s| s.change).collect();
    assert_eq!(edits.len(), SiteEdit::ALL.len(), "{edits:?}");
    check_final_state(&sqlite.db, &steps).await;
}

#[tokio::test]
async fn the_same_seed_simulates_the_same_changes() {
    let run = || async {
        let sqlite = testkit::FreshSqlite::create().await;
        seed(
            &sqlite.db,
            &SeedOptions::synthetic(300, 5),
            &ProgressMeter::hidden(),
        )
        .await
        .unwrap();
        let mut sim = Simulator::new(
            sqlite.db.clone(),
            MemoryPublisher::new(),
            SimOptions::default(),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..50 {
            let step = sim.step().await.unwrap();
            out.push((step.envelope.key, step.change));
        }
        out
    };
    assert_eq!(run().await, run().await);
}

struct Broker {
    connection: Connection,
    channel: lapin::Channel,
    exchange: String,
    queue: String,
}

impl Broker {
    /// A unique exchange with a unique queue bound to every routing key.
    async fn create() -> Broker {
        let url = testkit::amqp_url();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ at {url} is required for this test: {e}"));
        let channel = connection.create_channel().await.unwrap();
        let exchange = testkit::unique_name("site-test-models");
        let queue = testkit::unique_name("site-test-queue");
        // The publisher declares the exchange; declare it here too so the binding can exist first.
        let publisher = AmqpPublisher::connect(&url, &exchange).await.unwrap();
        publisher.close().await;
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        Broker {
            connection,
            channel,
            exchange,
            queue,
        }
    }

    /// Receives `n` messages: (routing key, body, content type, delivery mode).
    async fn receive(&self, n: usize) -> Vec<(String, Vec<u8>, Option<String>, Option<u8>)> {
        let mut consumer = self
            .channel
            .basic_consume(
                self.queue.as_str().into(),
                "site-test".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let mut out = Vec::new();
        while out.len() < n {
            let next = tokio::time::timeout(Duration::from_secs(20), consumer.next()).await;
            let delivery = next
                .unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()))
                .expect("consumer ended")
                .unwrap();
            out.push((
                delivery.routing_key.to_string(),
                delivery.data.clone(),
                delivery
                    .properties
                    .content_type()
                    .as_ref()
                    .map(|c| c.to_string()),
                *delivery.properties.delivery_mode(),
            ));
            delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        out
    }

    async fn delete(self) {
        let _ = self
            .channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await;
        let _ = self
            .channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = self.connection.close(200, "bye".into()).await;
    }
}

// Multi-threaded: FreshPostgres closes its pool on drop, which needs a running reactor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_rabbitmq_in_the_documented_format() {
    let pg = testkit::FreshPostgres::create().await;
    seed(
        &pg.db,
        &SeedOptions::synthetic(1_000, 11),
        &ProgressMeter::hidden(),
    )
    .await
    .unwrap();
    let broker = Broker::create().await;
    let publisher = AmqpPublisher::connect(&testkit::amqp_url(), &broker.exchange)
        .await
        .unwrap();
    let options = SimOptions {
        seed: 4,
        duplicate: 0.2,
        reorder: 5,
        ..SimOptions::default()
    };
    let mut sim = Simulator::new(pg.db.clone(), publisher, options)
        .await
        .unwrap();
    let mut steps = Vec::new();
    for _ in 0..120 {
        steps.push(sim.step().await.unwrap());
    }
    sim.finish().await.unwrap();
    let expected: usize = steps.iter().map(|s| s.copies).sum();
    assert!(expected > steps.len(), "some events should be duplicated");
    let received = broker.receive(expected).await;
    let id = |e: &Envelope| (e.action, e.key, e.occurred_at);
    let mut by_envelope = HashMap::new();
    for (routing_key, body, content_type, delivery_mode) in &received {
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert_eq!(*delivery_mode, Some(2));
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        let occurred_at = json["occurred_at"].as_str().unwrap();
        assert!(
            occurred_at.ends_with('Z') && occurred_at.len() == "2026-11-21T10:00:00.000001Z".len(),
            "{occurred_at}"
        );
        *by_envelope
            .entry(id(&Envelope::parse(routing_key, body).unwrap()))
            .or_insert(0usize) += 1;
    }
    for step in &steps {
        assert_eq!(
            by_envelope.get(&id(&step.envelope)),
            Some(&step.copies),
            "{:?}",
            step.envelope
        );
    }
    // Reordering: arrival order differs from step order somewhere.
    let arrival: Vec<Envelope> = received
        .iter()
        .map(|(k, b, _, _)| Envelope::parse(k, b).unwrap())
        .collect();
    let mut in_order: Vec<Envelope> = arrival.clone();
    in_order.sort_by_key(|e| e.occurred_at);
    assert_ne!(arrival, in_order, "events should arrive reordered");
    check_final_state(&pg.db, &steps).await;
    sim.publisher().close().await;
    broker.delete().await;
}

// Multi-threaded: FreshPostgres closes its pool on drop, which needs a running reactor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_replica_lag_the_event_comes_first_and_the_row_follows() {
    let pg = testkit::FreshPostgres::create().await;
    seed(
        &pg.db,
        &SeedOptions::synthetic(500, 12),
        &ProgressMeter::hidden(),
    )
    .await
    .unwrap();
    let publisher = MemoryPublisher::new();
    let options = SimOptions {
        seed: 6,
        lag: Duration::from_millis(300),
        ..SimOptions::default()
    };
    let mut sim = Simulator::new(pg.db.clone(), publisher, options)
        .await
        .unwrap();
    let step = sim
        .apply(EntityKind::Track, SiteEdit::Edited)
        .await
        .unwrap();
    // Published at once; the row still has its old version.
    assert_eq!(sim.publisher().events().len(), 1);
    let (before, _) = row_state(&pg.db, step.envelope.key).await.unwrap();
    assert!(before < step.envelope.occurred_at.timestamp_micros());
    let mut steps = vec![step];
    for _ in 0..40 {
        steps.push(sim.step().await.unwrap());
    }
    sim.finish().await.unwrap();
    check_final_state(&pg.db, &steps).await;
}
