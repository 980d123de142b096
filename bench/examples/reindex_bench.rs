//! Full reindex throughput on PostgreSQL: seeds N users and N tracks (plus N/10 playlists and
//! N/100 groups) with `generate_series`, then times one full reindex
//! into a fresh generation (no live indexer, no swap).
//!
//! ```text
//! cargo run --release -p bench --example reindex_bench -- 100000
//! ```

use indexer::Generations;
use indexer::reindex::{self, ReindexOptions, ReindexProgress, Sink};
use schemas::db::Db;

#[tokio::main]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let pg = testkit::FreshPostgres::create().await;
    let Db::Postgres(pool) = &pg.db else {
        unreachable!("FreshPostgres is PostgreSQL")
    };
    let seed = [
        "INSERT INTO users (id, username, full_name, created_at, updated_at) \
         SELECT i, 'user' || i, 'Singer ' || i, now(), now() FROM generate_series(1, $1) i",
        "INSERT INTO tracks (id, user_id, title, genre, created_at, updated_at) \
         SELECT i, i, 'Song number ' || i, 'rock', now(), now() FROM generate_series(1, $1) i",
        "INSERT INTO playlists (id, user_id, title, created_at, updated_at) \
         SELECT i, i, 'Playlist ' || i, now(), now() FROM generate_series(1, $1 / 10) i",
        "INSERT INTO groups (id, creator_id, name, created_at, updated_at) \
         SELECT i, i, 'Group ' || i, now(), now() FROM generate_series(1, $1 / 100) i",
    ];
    for sql in seed {
        sqlx::query(sql)
            .bind(n)
            .execute(pool)
            .await
            .expect("seeding");
    }
    let data = tempfile::tempdir().expect("temp dir");
    for batch_size in [1000, 5000] {
        let options = ReindexOptions {
            batch_size,
            ..ReindexOptions::default()
        };
        let dir = data.path().join(format!("b{batch_size}"));
        let generations = Generations::open(&dir).expect("generations");
        let cancel = indexer::CancellationToken::new();
        let progress = ReindexProgress::default();
        let report = reindex::run(
            &pg.db,
            &generations,
            &options,
            &progress,
            Sink::Own,
            &cancel,
        )
        .await
        .expect("reindex");
        println!(
            "reindex batch {batch_size}: {} rows {:?} in {:.2}s = {:.0} entities/s",
            report.total_rows(),
            report.rows,
            report.seconds,
            report.rate()
        );
    }
}
