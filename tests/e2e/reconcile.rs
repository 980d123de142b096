//! Issue #25's reconciliation on real PostgreSQL + RabbitMQ: `disco simulate --lose-events`
//! writes rows and drops a share of their events, as a site that crashes between the two does;
//! `disco serve`'s reconciler finds every lost change within two periods and `disco verify` is
//! clean. A row deleted outright with no event disappears after the sweep, and a group whose
//! memberships were deleted in bulk shows its new member count. Repairs are counted in
//! `/metrics`.

use std::time::{Duration, Instant};

use schemas::db::Db;

use crate::ops_postgres::{Server, Site, disco, succeed, until_drained};
use crate::support::Env;

/// Reconcile every 2 s, leave 1 s to events in flight, sweep every 6 s.
const ENV: [(&str, &str); 3] = [
    ("DISCO_RECONCILE_EVERY", "2s"),
    ("DISCO_RECONCILE_GRACE", "1s"),
    ("DISCO_SWEEP_EVERY", "6s"),
];

/// `disco verify` until it is clean, or panics after `limit` with its last report.
fn until_verified(site: &Site, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let out = disco(site)
            .args(["verify", "--counts", "--count-window", "1s"])
            .output()
            .expect("disco verify runs");
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not healed within {limit:?}:\n{report}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn repairs(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("disco_reconcile_repairs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_events_and_silent_deletes_are_healed() {
    let env = Env::new().await;
    let site = Site::of(&env);
    succeed(
        "disco seed",
        disco(&site).args(["seed", "--dataset", "synthetic", "--tracks", "800"]),
    );
    let server = Server::start_with(&site, &ENV);
    let first = server.reindex_with(None).await;
    server
        .admin(
            reqwest::Method::POST,
            "/admin/swap",
            Some(serde_json::json!({ "generation": first })),
        )
        .await;

    // 5% of the site's events never published.
    let report = succeed(
        "disco simulate --lose-events",
        disco(&site).args([
            "simulate",
            "--rate",
            "200",
            "--events",
            "600",
            "--lose-events",
            "0.05",
            "--seed",
            "25",
        ]),
    );
    let lost: u64 = report
        .lines()
        .next()
        .and_then(|l| {
            l.split(", ")
                .last()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("a simulate report: {report}"));
    assert!(lost > 5, "{report}");
    until_drained(&env.amqp.queue);
    // Two periods of 2 s, plus the grace and a verify's own time; the cap is wide because the
    // suite runs this beside Spark and the other e2e tests on two cores (a run at load 8 was
    // still one user's count short at 30 s; alone it heals in ~5 s, printed below).
    let took = until_verified(&site, Duration::from_secs(60));
    eprintln!(
        "{lost} lost events healed {} ms after the last was published",
        took.as_millis()
    );

    // A track deleted outright, with no event: gone after the sweep.
    let Db::Postgres(pool) = env.db() else {
        panic!("PostgreSQL")
    };
    let searchable = schemas::searchable::condition(schemas::EntityKind::Track, "tracks");
    let (id,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM tracks WHERE {searchable} ORDER BY id LIMIT 1"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM tracks WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let took = until_verified(&site, Duration::from_secs(60));
    eprintln!("a silent delete healed after {} ms", took.as_millis());
    let page = server
        .http
        .get(format!("{}/tracks/{id}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404, "track {id} is gone");

    // A group's memberships deleted in bulk with no event, as a spam cleanup deletes them:
    // its version does not move, its member count is right again after the sweep.
    let searchable = schemas::searchable::condition(schemas::EntityKind::Group, "g");
    let (group,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT g.id FROM groups g JOIN group_members m ON m.group_id = g.id \
         WHERE {searchable} GROUP BY g.id ORDER BY count(*) DESC, g.id LIMIT 1"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group)
        .execute(pool)
        .await
        .unwrap();
    let took = until_verified(&site, Duration::from_secs(60));
    eprintln!(
        "group {group}'s silently deleted memberships counted after {} ms",
        took.as_millis()
    );

    let metrics = server.metrics().await;
    let repaired = repairs(&metrics);
    eprintln!("repairs counted: {repaired}");
    // A lost change the site later overwrote with an announced one needs no repair.
    assert!(
        repaired > 0,
        "lost changes are repairs: {repaired} of {lost}"
    );
    assert!(metrics.contains("cause=\"lost_delete\""), "{metrics}");
    assert!(metrics.contains("cause=\"lost_activity\""), "{metrics}");
    server.stop();
}
