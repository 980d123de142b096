//! The simulated site fails only on purpose (issue #25): `--lose-events` writes the row and
//! drops its event, a stop between steps finishes the change in hand, and a broker that drops
//! the publisher's connection costs no event.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use schemas::db::Db;
use schemas::{EntityKey, Envelope};
use site::progress::ProgressMeter;
use site::publish::{AmqpPublisher, MemoryPublisher, Publisher};
use site::seed::{SeedOptions, seed};
use site::simulate::{Limit, SimOptions, Simulator, Step, run, run_until};

async fn seeded() -> testkit::FreshSqlite {
    let sqlite = testkit::FreshSqlite::create().await;
    seed(
        &sqlite.db,
        &SeedOptions::synthetic(300, 25),
        &ProgressMeter::hidden(),
    )
    .await
    .unwrap();
    sqlite
}

/// The row's `updated_at` in µs, `None` when it is gone.
async fn updated_at(db: &Db, key: EntityKey) -> Option<i64> {
    let Db::Sqlite(pool) = db else {
        panic!("SQLite expected")
    };
    let sql = format!("SELECT updated_at FROM {} WHERE id = ?", key.kind.table());
    let row: Option<(chrono::DateTime<chrono::Utc>,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key.id)
        .fetch_optional(pool)
        .await
        .unwrap();
    row.map(|(at,)| at.timestamp_micros())
}

#[tokio::test]
async fn lost_events_are_written_but_never_published_and_counted() {
    let sqlite = seeded().await;
    let options = SimOptions {
        seed: 25,
        lose: 0.1,
        ..SimOptions::default()
    };
    let mut sim = Simulator::new(sqlite.db.clone(), MemoryPublisher::new(), options)
        .await
        .unwrap();
    let mut steps: Vec<Step> = Vec::new();
    let report = run(&mut sim, 1e6, Limit::Events(1000), |step| {
        steps.push(step.clone())
    })
    .await
    .unwrap();
    assert_eq!(report.steps, 1000);
    assert!((60..=140).contains(&report.lost), "{report}");
    assert!(
        report
            .to_string()
            .contains(&format!("{} lost on purpose", report.lost))
    );
    let events = sim.publisher().events();
    assert_eq!(events.len() as u64, report.published);
    assert_eq!(report.published, report.steps - report.lost);
    let published: Vec<Envelope> = events
        .iter()
        .map(|(key, body)| Envelope::parse(key, body).unwrap())
        .collect();
    let lost: Vec<&Step> = steps.iter().filter(|s| s.copies == 0).collect();
    assert_eq!(lost.len() as u64, report.lost);
    for step in &lost {
        assert!(!published.contains(&step.envelope), "{:?}", step.envelope);
    }
    // A lost change's row was written all the same: the last step of its entity, if lost,
    // is what the row shows.
    let mut last = std::collections::HashMap::new();
    for step in &steps {
        last.insert(step.envelope.key, step);
    }
    let mut checked = 0;
    for step in last.values().filter(|s| s.copies == 0) {
        let row = updated_at(&sqlite.db, step.envelope.key).await;
        match step.exists {
            true => assert_eq!(row, Some(step.envelope.occurred_at.timestamp_micros())),
            false => assert_eq!(row, None),
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked} lost last changes checked");
}

#[tokio::test]
async fn a_stop_finishes_the_change_in_hand_and_ends_the_run() {
    let sqlite = seeded().await;
    let mut sim = Simulator::new(
        sqlite.db.clone(),
        MemoryPublisher::new(),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut seen = 0;
    let report = run_until(
        &mut sim,
        1e6,
        Limit::Events(10_000),
        {
            let stop = stop.clone();
            async move { stop.notified().await }
        },
        |_| {
            seen += 1;
            if seen == 50 {
                stop.notify_one();
            }
        },
    )
    .await
    .unwrap();
    assert!(report.stopped, "{report}");
    assert_eq!(report.steps, 50);
    assert_eq!(sim.publisher().events().len(), 50);
}

/// Closes, on the broker's side, the connections of publishers to `exchange`.
fn close_publisher_connections(exchange: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl is available");
    let name = format!("disco-simulate {exchange}");
    let mut closed = 0;
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&name))
    {
        let pid = line.split_whitespace().next().unwrap_or_default();
        let status = Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "test: the broker restarts"])
            .status()
            .expect("rabbitmqctl runs");
        closed += usize::from(status.success());
    }
    closed
}

// Multi-threaded: the publisher's reconnect runs beside the blocking rabbitmqctl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_across_a_dropped_connection_delivers_every_event() {
    let url = testkit::amqp_url();
    let exchange = testkit::unique_name("site-faults-models");
    let queue = testkit::unique_name("site-faults-queue");
    let publisher = AmqpPublisher::connect(&url, &exchange)
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ at {url} is required for this test: {e}"));
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let auto_delete = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.as_str().into(), auto_delete, FieldTable::default())
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

    const EVENTS: usize = 300;
    let body = |i: usize| format!(r#"{{"id":{i}}}"#).into_bytes();
    for i in 0..EVENTS / 3 {
        publisher.publish("save.track", body(i)).await.unwrap();
    }
    let name = exchange.clone();
    let closed = tokio::task::spawn_blocking(move || close_publisher_connections(&name))
        .await
        .unwrap();
    assert_eq!(closed, 1, "the publisher's connection was not found");
    for i in EVENTS / 3..EVENTS {
        publisher.publish("save.track", body(i)).await.unwrap();
    }

    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "site-faults".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut received = HashSet::new();
    while received.len() < EVENTS {
        let next = tokio::time::timeout(Duration::from_secs(20), consumer.next()).await;
        let Ok(Some(Ok(delivery))) = next else {
            panic!("{} of {EVENTS} events delivered", received.len());
        };
        received.insert(delivery.data.clone());
        delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert!((0..EVENTS).all(|i| received.contains(&body(i))));
    publisher.close().await;
    let _ = connection.close(200, "bye".into()).await;
}
