//! The indexer as a process and the broker as a flaky neighbour: SIGKILL mid-batch and a
//! restart, and the broker dropping the indexer's connection mid-stream. Afterwards `disco
//! verify` finds no difference.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Env, later, track, until_verified, user};
use indexer::testing;
use schemas::db::Db;
use schemas::envelope::Action;

const TRACKS: i64 = 3000;

/// A user and `TRACKS` tracks in one statement each (the site's bulk import would do the same).
async fn seed(db: &Db, at: chrono::DateTime<chrono::Utc>) {
    testing::insert_user(db, 1, "bulk", "Bulk Uploader", at)
        .await
        .unwrap();
    let Db::Postgres(pool) = db else {
        panic!("PostgreSQL expected")
    };
    sqlx::query(
        "INSERT INTO tracks (id, user_id, title, created_at, updated_at)
         SELECT g, 1, 'song number ' || g, $1, $1 FROM generate_series(1, $2) AS g",
    )
    .bind(at)
    .bind(TRACKS)
    .execute(pool)
    .await
    .unwrap();
}

fn disco_index(env: &Env) -> Child {
    Command::new(env!("CARGO_BIN_EXE_disco"))
        .arg("index")
        .env("DATABASE_URL", &env.pg.url)
        .env("AMQP_URL", &env.amqp.url)
        .env("DISCO_DATA_DIR", env.data.path())
        .env("DISCO_QUEUE", &env.amqp.queue)
        .env("DISCO_EXCHANGE", &env.amqp.exchange)
        .env("DISCO_BATCH_SIZE", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the disco binary runs")
}

/// Searchable documents in the live generation, or 0 before the indexer created it.
fn indexed(env: &Env) -> u64 {
    if !env.data.path().join("index").join("aliases.json").exists() {
        return 0;
    }
    match indexer::Generations::open(env.data.path()) {
        Ok(catalog) => catalog.live().document_count(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_and_restart_leave_the_index_equal_to_the_database() {
    let env = Env::new().await;
    let t0 = testing::now();
    seed(env.db(), t0).await;
    env.publish(Action::Create, user(1), t0).await;
    for id in 1..=TRACKS {
        env.publish(Action::Create, track(id), t0).await;
    }
    let mut child = disco_index(&env);
    // Kill it once it is part-way through the stream.
    for _ in 0..3000 {
        let n = indexed(&env);
        if n > 0 && n < TRACKS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The site keeps changing while the indexer is down.
    for id in (1..=TRACKS).step_by(10) {
        let at = later(t0, id);
        testing::rename(env.db(), track(id), &format!("renamed {id}"), at)
            .await
            .unwrap();
        env.publish(Action::Save, track(id), at).await;
    }
    let mut child = disco_index(&env);
    until_verified(env.db(), env.data.path()).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let status = Command::new(env!("CARGO_BIN_EXE_disco"))
        .arg("verify")
        .env("DATABASE_URL", &env.pg.url)
        .env("DISCO_DATA_DIR", env.data.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "disco verify found a difference");
}

/// Closes this test's indexer connections on the broker side (and nobody else's).
fn drop_broker_connections(queue: &str) -> usize {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .expect("rabbitmqctl is available");
    let listing = String::from_utf8_lossy(&out.stdout);
    let name = format!("disco-indexer {queue}");
    let mut closed = 0;
    for line in listing.lines().filter(|l| l.contains(&name)) {
        let pid = line.split_whitespace().next().unwrap_or_default();
        let status = Command::new("rabbitmqctl")
            .args(["-q", "close_connection", pid, "test: broker goes away"])
            .status()
            .unwrap();
        closed += usize::from(status.success());
    }
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_dropping_the_connection_mid_stream_loses_nothing() {
    let env = Env::new().await;
    let t0 = testing::now();
    seed(env.db(), t0).await;
    let running = env.start().await;
    env.publish(Action::Create, user(1), t0).await;
    for id in 1..=TRACKS / 2 {
        env.publish(Action::Create, track(id), t0).await;
    }
    tokio::task::spawn_blocking({
        let queue = env.amqp.queue.clone();
        move || {
            assert!(
                drop_broker_connections(&queue) > 0,
                "the indexer's connection was not found"
            )
        }
    })
    .await
    .unwrap();
    for id in TRACKS / 2 + 1..=TRACKS {
        env.publish(Action::Create, track(id), t0).await;
    }
    until_verified(env.db(), env.data.path()).await;
    running.stop().await;
}
