//! Full reindex throughput on PostgreSQL: seeds N users and N tracks (plus N/10 playlists and
//! N/100 groups) with `generate_series`, then times `indexer::reindex::bench`.
//!
//! ```text
//! cargo run --release -p bench --example reindex_bench -- 100000
//! ```

use indexer::reindex::{self, ReindexOptions};
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
        let report = reindex::bench(&pg.db, &dir, &options)
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
