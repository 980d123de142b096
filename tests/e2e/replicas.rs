//! Issue #26 on real PostgreSQL + RabbitMQ, with the real binary throughout.
//!
//! Two query replicas: two `disco serve` processes, each with its own data directory and its
//! own durable queue on the test's exchange, converge while `disco simulate` runs; a reindex,
//! swap and rollback on one leaves the other answering with its generations untouched.
//!
//! A lagging read replica: `scripts/pg-standby` makes a hot standby of the primary that applies
//! every commit `DISCO_STANDBY_DELAY_MS` (300) after it was made; `disco serve --replica-url`
//! hydrates only from it while `disco simulate` writes the primary. Every event is applied at
//! its row's version (verify on the primary, nothing dead-lettered), and probes measure time to
//! searchable against the lag (docs/SCALING.md, BENCHMARKS.md "Replicas (#26)").

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use indexer::broker::{AmqpConfig, AmqpSource};
use serde_json::{Value, json};

use crate::ops_postgres::{
    Server, Simulation, Site, disco, succeed, until_drained, until_empty, verify,
};
use crate::support::Env;

/// About 1,500 entities: enough for the simulator, quick to reindex twice.
const TRACKS: &str = "1200";
/// A genre every synthetic catalog has many tracks of: a search for it is never empty.
const READER_QUERY: &str = "techno";

/// `disco simulate` for about `seconds` (in its usual back-to-back runs); returns its changes.
async fn simulate_for(site: &Site, seconds: u64) -> usize {
    let simulation = Simulation::start(site);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (_, steps) = simulation.stop();
    assert!(!steps.is_empty(), "disco simulate changed nothing");
    steps.len()
}

/// The first generation from the database, made live: a replica starts empty.
async fn first_generation(server: &Server) -> u64 {
    let generation = server.reindex_with(None).await;
    let body = Some(json!({ "generation": generation }));
    let swapped = server
        .admin(reqwest::Method::POST, "/admin/swap", body)
        .await;
    assert_eq!(swapped["live"], json!(generation), "{swapped}");
    generation
}

/// What must not move on a replica nobody operates: live, previous, and each generation's
/// number, state and read-only flag (documents and sizes follow live writes).
async fn generation_list(server: &Server) -> Value {
    let list = server
        .admin(reqwest::Method::GET, "/admin/generations", None)
        .await;
    let generations: Vec<Value> = (list["generations"].as_array().into_iter().flatten())
        .map(|g| json!([g["generation"], g["state"], g["read_only"]]))
        .collect();
    json!({ "live": list["live"], "previous": list["previous"], "generations": generations })
}

/// `/search` answers while a poller runs: (answers, failures with the first few reasons).
struct Poller {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<(u64, Vec<String>)>,
}

impl Poller {
    /// Asks `base` for [`READER_QUERY`] every 25 ms; an error, a non-2xx or an empty answer fails.
    fn start(base: &str) -> Poller {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let url = format!("{base}/search?q={READER_QUERY}&limit=3");
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut answers, mut failures) = (0u64, Vec::new());
            while !*stopped.borrow() {
                let answer = client.get(&url).timeout(Duration::from_secs(5)).send();
                let failure = match answer.await {
                    Err(e) => Some(format!("no answer: {e}")),
                    Ok(r) if !r.status().is_success() => Some(format!("status {}", r.status())),
                    Ok(r) => match r.json::<Value>().await {
                        Ok(v) if v["results"].as_array().is_some_and(|r| !r.is_empty()) => None,
                        other => Some(format!("empty or unreadable: {other:?}")),
                    },
                };
                answers += 1;
                failures.extend(failure);
                let _ = tokio::time::timeout(Duration::from_millis(25), stopped.changed()).await;
            }
            (answers, failures)
        });
        Poller { stop, task }
    }

    async fn stop(self) -> (u64, Vec<String>) {
        let _ = self.stop.send(true);
        self.task.await.expect("the poller panicked")
    }
}

/// A database's activity counters from `pg_stat_database` on the server at `url`:
/// (transactions committed, rows fetched, rows returned, buffer reads incl. cache hits).
async fn database_stats(url: &str, database: &str) -> [i64; 4] {
    let db = schemas::db::Db::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let schemas::db::Db::Postgres(pool) = db else {
        panic!("{url} is not PostgreSQL")
    };
    let row: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT xact_commit, tup_fetched, tup_returned, blks_hit + blks_read \
         FROM pg_stat_database WHERE datname = $1",
    )
    .bind(database)
    .fetch_one(&pool)
    .await
    .unwrap_or_else(|e| panic!("pg_stat_database on {url}: {e}"));
    pool.close().await;
    [row.0, row.1, row.2, row.3]
}

/// `after - before`, per counter, per event (backends publish their statistics within a
/// second of going idle, hence the pause before `after` is read).
fn per_event(before: [i64; 4], after: [i64; 4], events: u64) -> String {
    let per = |i: usize| (after[i] - before[i]) as f64 / events.max(1) as f64;
    format!(
        "{:.2} transactions, {:.1} rows fetched, {:.1} rows returned, {:.1} buffer reads per event",
        per(0),
        per(1),
        per(2),
        per(3)
    )
}

/// `disco_events_total` by outcome from a `/metrics` text.
fn events_by_outcome(metrics: &str) -> Vec<(String, u64)> {
    (metrics.lines())
        .filter_map(|line| {
            let rest = line.strip_prefix("disco_events_total{outcome=\"")?;
            let (outcome, value) = rest.split_once("\"} ")?;
            Some((
                outcome.to_string(),
                value.trim().parse::<f64>().ok()? as u64,
            ))
        })
        .collect()
}

fn outcome(outcomes: &[(String, u64)], name: &str) -> u64 {
    (outcomes.iter())
        .filter(|(o, _)| o == name)
        .map(|(_, n)| n)
        .sum()
}

/// Every delivery the replica consumed, parked ones included.
fn consumed(outcomes: &[(String, u64)]) -> u64 {
    outcomes.iter().map(|(_, n)| n).sum()
}

/// `<n> changes, <m> events published in …`: the events `disco simulate` published.
fn published(report: &str) -> u64 {
    let words: Vec<&str> = report.split_whitespace().collect();
    (words.windows(3))
        .find(|w| w[1] == "events" && w[2] == "published")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or_else(|| panic!("not a simulate report: {report}"))
}

/// Both queues (and the retry queue of each) empty: every event applied by both replicas.
fn drain(queues: &[&str]) {
    for queue in queues {
        until_drained(queue);
        until_empty(&[&format!("{queue}.retry")]);
        until_drained(queue);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_converge_and_operating_one_leaves_the_other_alone() {
    let test_started = Instant::now();
    let env = Env::new().await;
    let site_a = Site::of(&env);
    succeed(
        "disco seed",
        disco(&site_a).args(["seed", "--dataset", "synthetic", "--tracks", TRACKS]),
    );
    // Replica B: the same database and exchange, its own queue and data directory.
    let data_b = tempfile::tempdir().unwrap();
    let site_b = Site {
        queue: testkit::unique_name("indexer-b"),
        data: data_b.path().to_path_buf(),
        ..site_a.clone()
    };
    let config_b = AmqpConfig::new(&site_b.amqp, &site_b.exchange, &site_b.queue);
    AmqpSource::declare(&config_b).await.unwrap();
    let queues = [site_a.queue.as_str(), site_b.queue.as_str()];

    let (a, b) = (Server::start(&site_a), Server::start(&site_b));
    let first_a = first_generation(&a).await;
    let first_b = first_generation(&b).await;

    // Both converge on the database while the site changes.
    let changes = simulate_for(&site_a, 8).await;
    drain(&queues);
    eprintln!("{changes} simulated changes; A:\n{}", verify(&site_a, None));
    eprintln!("B:\n{}", verify(&site_b, None));

    // What a replica costs: a fixed burst, each replica consuming every event.
    let before = (
        events_by_outcome(&a.metrics().await),
        events_by_outcome(&b.metrics().await),
    );
    let stats_before = database_stats(&env.pg.url, &env.pg.name).await;
    let burst = succeed(
        "disco simulate (burst)",
        disco(&site_a).args([
            "simulate", "--events", "400", "--rate", "400", "--seed", "26",
        ]),
    );
    drain(&queues);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats_after = database_stats(&env.pg.url, &env.pg.name).await;
    let events = published(&burst);
    let (after_a, after_b) = (
        events_by_outcome(&a.metrics().await),
        events_by_outcome(&b.metrics().await),
    );
    let (got_a, got_b) = (
        consumed(&after_a) - consumed(&before.0),
        consumed(&after_b) - consumed(&before.1),
    );
    eprintln!(
        "burst: {events} events published; deliveries consumed: A {got_a}, B {got_b}; primary, \
         site and both replicas: {}",
        per_event(stats_before, stats_after, events)
    );
    assert!(
        got_a >= events && got_b >= events,
        "each replica consumes every event ({events}): A {got_a}, B {got_b}"
    );

    // A reindex, swap and rollback on A while B is polled and the site keeps changing.
    let list_b = generation_list(&b).await;
    let poller = Poller::start(&b.base);
    let simulation = Simulation::start(&site_a);
    let second_a = a.reindex_with(None).await;
    let swapped = a.admin(reqwest::Method::POST, "/admin/swap", None).await;
    assert_eq!(swapped["live"], json!(second_a), "{swapped}");
    let rolled = a
        .admin(reqwest::Method::POST, "/admin/rollback", None)
        .await;
    assert_eq!(rolled["live"], json!(first_a), "{rolled}");
    let (_, steps) = simulation.stop();
    let (answers, failures) = poller.stop().await;
    drain(&queues);

    eprintln!(
        "B polled {answers} times during A's reindex, swap and rollback ({} changes): {} failures {:?}",
        steps.len(),
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    assert!(answers > 10, "the poller asked B only {answers} times");
    assert!(
        failures.is_empty(),
        "B failed while A was operated: {failures:?}"
    );
    assert_eq!(generation_list(&b).await, list_b, "B's generations moved");
    assert_eq!(generation_list(&b).await["live"], json!(first_b));
    eprintln!("A after the rollback:\n{}", verify(&site_a, None));
    eprintln!(
        "A's swapped-out generation:\n{}",
        verify(&site_a, Some(second_a))
    );
    eprintln!("B:\n{}", verify(&site_b, None));
    a.stop();
    b.stop();
    eprintln!("done in {:.1} s", test_started.elapsed().as_secs_f64());
}

/// A hot standby made by `scripts/pg-standby`, removed when dropped (also when the test fails).
struct Standby {
    port: u16,
    url: String,
}

impl Standby {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-standby")
    }

    /// A standby of the local primary on a port of this process's own, applying each commit
    /// `delay_ms` after the primary made it; its URL names `database`.
    fn create(delay_ms: u64, database: &str) -> Standby {
        let port = 21_000 + (std::process::id() % 10_000) as u16;
        let out = succeed(
            "scripts/pg-standby create",
            Command::new(Self::script()).args([
                "create",
                &port.to_string(),
                &delay_ms.to_string(),
                database,
            ]),
        );
        let url = out.lines().last().unwrap_or_default().trim().to_string();
        assert!(url.starts_with("postgres://"), "pg-standby printed {out}");
        Standby { port, url }
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let removed = Command::new(Self::script())
            .args(["remove", &self.port.to_string()])
            .status();
        if !matches!(removed, Ok(status) if status.success()) {
            eprintln!(
                "scripts/pg-standby remove {} failed: {removed:?}",
                self.port
            );
        }
    }
}

/// Changes a track's title on the primary to `word` and publishes its save event, as the site
/// does; returns the event time (the row's new version).
async fn probe_write(env: &Env, id: i64, word: &str) -> DateTime<Utc> {
    let at = Utc::now().trunc_subsecs(6);
    let schemas::db::Db::Postgres(pool) = env.db() else {
        panic!("the test database is PostgreSQL")
    };
    sqlx::query("UPDATE tracks SET title = $1, updated_at = $2 WHERE id = $3")
        .bind(word)
        .bind(at)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let key = schemas::EntityKey::new(schemas::EntityKind::Track, id);
    env.publish(schemas::envelope::Action::Save, key, at).await;
    at
}

/// Follows between searchable users, written on the primary in one transaction (a burst of
/// the site's activity), then each published as `create.follow`, stamped after the commit as a
/// site's after-save hook does: the indexer has them all within milliseconds, long before a
/// lagging standby has the rows. How many.
async fn follow_searchable_users(env: &Env, n: i64) -> usize {
    let schemas::db::Db::Postgres(pool) = env.db() else {
        panic!("the test database is PostgreSQL")
    };
    let pairs: Vec<(i64, i64)> = sqlx::query_as(
        "WITH shown AS (
             SELECT id, row_number() OVER (ORDER BY id) AS n FROM users
             WHERE deleted_at IS NULL AND NOT taken_down AND sharing = 'public')
         INSERT INTO follows (follower_id, followee_id, created_at)
         SELECT b.id, a.id, now() FROM shown a JOIN shown b ON b.n = a.n + 1 WHERE a.n <= $1
         ON CONFLICT DO NOTHING
         RETURNING follower_id, followee_id",
    )
    .bind(n)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!pairs.is_empty(), "no follow could be written");
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for (follower, followee) in &pairs {
        let body = json!({"follower_id": follower, "followee_id": followee, "occurred_at": at});
        env.publish_raw("create.follow", body.to_string().as_bytes())
            .await;
    }
    pairs.len()
}

/// Polls `/search` for `word` until track `id` is found; how long after `since` it was.
async fn until_searchable(server: &Server, word: &str, id: i64, since: DateTime<Utc>) -> f64 {
    let url = format!("{}/search?q={word}&kind=track", server.base);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = match server.http.get(&url).send().await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        let results = found
            .as_ref()
            .and_then(|v| v["results"].as_array().cloned());
        if results.is_some_and(|r| r.iter().any(|x| x["id"] == json!(id))) {
            return (Utc::now() - since).as_seconds_f64();
        }
        assert!(
            Instant::now() < deadline,
            "track {id} never became searchable as {word}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).copied().unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_hydrates_from_a_lagging_standby_and_drops_nothing() {
    let test_started = Instant::now();
    let delay_ms: u64 = std::env::var("DISCO_STANDBY_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(300);
    let env = Env::new().await;
    let site = Site::of(&env);
    succeed(
        "disco seed",
        disco(&site).args(["seed", "--dataset", "synthetic", "--tracks", TRACKS]),
    );
    let standby = Standby::create(delay_ms, &env.pg.name);
    let on_replica = |command: &mut Command| {
        command.env("DATABASE_REPLICA_URL", &standby.url);
    };

    // The first generation from the standby (the CLI's reindex reads only the replica).
    let mut reindex = disco(&site);
    on_replica(&mut reindex);
    succeed("disco reindex --swap", reindex.args(["reindex", "--swap"]));
    // Reconciliation would heal a dropped event within a minute: off, so none can hide.
    let server = Server::start_with(
        &site,
        &[
            ("DATABASE_REPLICA_URL", standby.url.as_str()),
            ("DISCO_RECONCILE_EVERY", "1h"),
            ("DISCO_SWEEP_EVERY", "1h"),
        ],
    );
    assert!(
        server.log().contains("the indexer reads the replica"),
        "{}",
        server.log()
    );

    let standby_before = database_stats(&standby.url, &env.pg.name).await;
    let primary_before = database_stats(&env.pg.url, &env.pg.name).await;
    let changes = simulate_for(&site, 10).await;
    drain(&[site.queue.as_str()]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let standby_after = database_stats(&standby.url, &env.pg.name).await;
    let primary_after = database_stats(&env.pg.url, &env.pg.name).await;
    let outcomes = events_by_outcome(&server.metrics().await);
    let deliveries = consumed(&outcomes) - outcome(&outcomes, "retried");
    eprintln!(
        "standby delay {delay_ms} ms: {changes} changes; deliveries by outcome {outcomes:?}\n\
         standby (the indexer alone): {}\nprimary (the site alone): {}",
        per_event(standby_before, standby_after, deliveries),
        per_event(primary_before, primary_after, deliveries),
    );
    assert_eq!(
        outcome(&outcomes, "dead_lettered"),
        0,
        "an event was given up on: {outcomes:?}\n{}",
        server.log()
    );
    // Every row at its version on the primary, and every count: nothing dropped, nothing
    // stale, no re-count read before the standby had what it counts.
    eprintln!(
        "{}",
        succeed(
            "disco verify --counts",
            disco(&site).args(["verify", "--counts", "--count-window", "1s"])
        )
    );

    // Time to searchable against the lag: a title changed on the primary, found by search.
    let tracks = server
        .http
        .get(format!(
            "{}/search?q={READER_QUERY}&kind=track&limit=20",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let ids: Vec<i64> = (tracks["results"].as_array().into_iter().flatten())
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert!(ids.len() >= 10, "too few tracks to probe: {tracks}");
    let mut seconds = Vec::new();
    for (n, id) in ids.iter().cycle().take(30).enumerate() {
        let word = format!("probe{n}x{}", std::process::id());
        let at = probe_write(&env, *id, &word).await;
        seconds.push(until_searchable(&server, &word, *id, at).await);
    }
    seconds.sort_by(f64::total_cmp);
    let outcomes = events_by_outcome(&server.metrics().await);
    eprintln!(
        "REPLICA-LAG delay_ms={delay_ms} probes={} p50_ms={:.0} p99_ms={:.0} max_ms={:.0} \
         retried_total={} dead_lettered={}",
        seconds.len(),
        quantile(&seconds, 0.5) * 1000.0,
        quantile(&seconds, 0.99) * 1000.0,
        seconds.last().copied().unwrap_or(f64::NAN) * 1000.0,
        outcome(&outcomes, "retried"),
        outcome(&outcomes, "dead_lettered"),
    );
    // The indexer's re-reads within a batch wait 370 ms in all; a longer lag must have gone
    // through the retry queue (and come back: nothing was dead-lettered, verify is clean).
    if delay_ms >= 500 {
        assert!(
            outcome(&outcomes, "retried") > 0,
            "a {delay_ms} ms lag never parked an event: {outcomes:?}"
        );
    }
    assert!(
        quantile(&seconds, 0.5) * 1000.0 >= delay_ms as f64,
        "searchable before the standby could have applied the change: {seconds:?}"
    );

    // Activity against the lag: a follow does not move the followee's row, so only the
    // standby's replay position tells whether a re-count can see it yet.
    let follows = follow_searchable_users(&env, 20).await;
    drain(&[site.queue.as_str()]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = succeed(
        "disco verify --counts",
        disco(&site).args(["verify", "--counts", "--count-window", "1s"]),
    );
    eprintln!("{follows} follows published against the lag\n{report}");
    server.stop();
    drop(standby);
    eprintln!("done in {:.1} s", test_started.elapsed().as_secs_f64());
}
