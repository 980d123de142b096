//! Runs `indexer::bench` against a fresh PostgreSQL database seeded with N tracks, through
//! RabbitMQ: `cargo run --release -p bench --example index_bench -- [tracks] [seconds] [rates…]`.
//! Uses the test services (DISCO_TEST_POSTGRES, DISCO_TEST_AMQP).

use schemas::db::Db;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tracks: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let rates: Vec<u64> = match args.get(2..) {
        Some(rest) if !rest.is_empty() => rest.iter().filter_map(|a| a.parse().ok()).collect(),
        _ => vec![1000, 2000, 5000],
    };
    let pg = testkit::FreshPostgres::create().await;
    let Db::Postgres(pool) = &pg.db else {
        unreachable!("FreshPostgres is PostgreSQL")
    };
    let at = indexer::testing::now();
    indexer::testing::insert_user(&pg.db, 1, "bench", "Bench Uploader", at).await?;
    let started = std::time::Instant::now();
    sqlx::query(
        "INSERT INTO tracks (id, user_id, title, description, genre, created_at, updated_at)
         SELECT g, 1, 'track number ' || g, 'a description of track ' || g, 'rock', $1, $1
         FROM generate_series(1, $2) AS g",
    )
    .bind(at)
    .bind(tracks)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE tracks").execute(pool).await?;
    eprintln!("seeded {tracks} tracks in {:.1?}", started.elapsed());
    let data = tempfile::tempdir()?;
    let amqp = indexer::broker::AmqpConfig::new(
        &testkit::amqp_url(),
        &testkit::unique_name("bench-models"),
        &testkit::unique_name("bench-indexer"),
    );
    let report =
        bench::indexing::run(pg.db.clone(), Some(amqp), data.path(), &rates, seconds).await?;
    println!("{report}");
    pg.db.close().await;
    Ok(())
}
