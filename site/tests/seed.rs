//! Seeding real databases: Chinook into SQLite and PostgreSQL, synthetic catalogs into both.

use std::path::PathBuf;

use schemas::db::Db;
use site::SiteError;
use site::chinook::Fixture;
use site::progress::ProgressMeter;
use site::rows::Table;
use site::seed::{SeedOptions, seed, summary};

fn chinook_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/chinook.json");
    assert!(
        path.exists(),
        "the Chinook fixture is required at {}",
        path.display()
    );
    path
}

async fn scalar(db: &Db, sql: &'static str) -> i64 {
    let (n,): (i64,) = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

async fn text(db: &Db, sql: &'static str) -> String {
    let (s,): (String,) = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    s
}

async fn check_chinook(db: &Db) {
    let report = seed(db, &SeedOptions::chinook(), &ProgressMeter::hidden())
        .await
        .unwrap();
    assert_eq!(report.counts[&Table::Tracks], 3_503);
    assert_eq!(scalar(db, "SELECT count(*) FROM tracks").await, 3_503);
    assert_eq!(
        scalar(db, "SELECT count(*) FROM users WHERE id BETWEEN 1 AND 275").await,
        275
    );
    assert_eq!(
        scalar(
            db,
            "SELECT count(*) FROM playlists WHERE id BETWEEN 1 AND 347"
        )
        .await,
        347
    );
    // Ids are Chinook's: track 1 is AC/DC's, artist 1 is AC/DC, track 3503 exists.
    assert_eq!(
        text(db, "SELECT title FROM tracks WHERE id = 1").await,
        "For Those About To Rock (We Salute You)"
    );
    assert_eq!(
        scalar(db, "SELECT user_id FROM tracks WHERE id = 1").await,
        1
    );
    assert_eq!(
        text(db, "SELECT full_name FROM users WHERE id = 1").await,
        "AC/DC"
    );
    assert_eq!(
        text(db, "SELECT genre FROM tracks WHERE id = 1").await,
        "Rock"
    );
    assert_eq!(
        scalar(db, "SELECT count(*) FROM tracks WHERE id = 3503").await,
        1
    );
    assert!(
        text(db, "SELECT description FROM tracks WHERE id = 1")
            .await
            .contains("Angus Young")
    );
    // Every track is owned by an artist that exists.
    assert_eq!(
        scalar(
            db,
            "SELECT count(*) FROM tracks t LEFT JOIN users u ON u.id = t.user_id WHERE u.id IS NULL"
        )
        .await,
        0
    );
    // The activity graph is not empty.
    for sql in [
        "SELECT count(*) FROM follows",
        "SELECT count(*) FROM likes",
        "SELECT count(*) FROM plays",
        "SELECT count(*) FROM playlist_tracks",
        "SELECT count(*) FROM group_members",
        "SELECT count(*) FROM comments",
    ] {
        assert!(scalar(db, sql).await > 100, "{sql}");
    }
    // Seeding again refuses; with reset it works and gives the same catalog.
    let again = seed(
        db,
        &SeedOptions::chinook_from(Fixture::File(chinook_path())),
        &ProgressMeter::hidden(),
    )
    .await;
    assert!(
        matches!(again, Err(SiteError::NotEmpty { .. })),
        "{again:?}"
    );
    let options = SeedOptions {
        reset: true,
        ..SeedOptions::chinook_from(Fixture::File(chinook_path()))
    };
    let again = seed(db, &options, &ProgressMeter::hidden()).await.unwrap();
    assert_eq!(again.counts, report.counts);
}

#[tokio::test]
async fn chinook_seeds_into_sqlite() {
    let sqlite = testkit::FreshSqlite::create().await;
    check_chinook(&sqlite.db).await;
}

// Multi-threaded: FreshPostgres closes its pool on drop, which needs a running reactor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinook_seeds_into_postgres() {
    let pg = testkit::FreshPostgres::create().await;
    check_chinook(&pg.db).await;
    // The secondary indexes dropped for the load are back.
    assert!(
        scalar(
            &pg.db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'likes_target'"
        )
        .await
            == 1
    );
    assert!(
        scalar(
            &pg.db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'plays_track_id'"
        )
        .await
            == 1
    );
}

#[tokio::test]
async fn a_missing_fixture_fails_clearly_and_writes_nothing() {
    let sqlite = testkit::FreshSqlite::create().await;
    let options = SeedOptions::chinook_from(Fixture::File("/nonexistent/chinook.json".into()));
    let err = seed(&sqlite.db, &options, &ProgressMeter::hidden())
        .await
        .unwrap_err();
    assert!(matches!(err, SiteError::ChinookMissing { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/chinook.json"),
        "{err}"
    );
    assert_eq!(scalar(&sqlite.db, "SELECT count(*) FROM users").await, 0);
}

// Multi-threaded: FreshPostgres closes its pool on drop, which needs a running reactor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synthetic_catalog_is_the_same_in_both_dialects() {
    let (sqlite, pg) = (
        testkit::FreshSqlite::create().await,
        testkit::FreshPostgres::create().await,
    );
    let options = SeedOptions::synthetic(4_000, 9);
    let a = seed(&sqlite.db, &options, &ProgressMeter::hidden())
        .await
        .unwrap();
    let b = seed(&pg.db, &options, &ProgressMeter::hidden())
        .await
        .unwrap();
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.counts[&Table::Tracks], 4_000);
    assert!(a.total() > 60_000, "{a}");
    let (sa, sb) = (
        summary(&sqlite.db).await.unwrap(),
        summary(&pg.db).await.unwrap(),
    );
    assert_eq!(sa, sb);
    assert_eq!(sa.most_followed.len(), 10);
    let rendered = sa.to_string();
    assert!(
        rendered.contains("most-followed") && rendered.contains("private"),
        "{rendered}"
    );
    // Same rows, not just the same counts: a few samples.
    for sql in [
        "SELECT title FROM tracks WHERE id = 1234",
        "SELECT username FROM users WHERE id = 777",
        "SELECT name FROM groups WHERE id = 3",
    ] {
        assert_eq!(
            text(&sqlite.db, sql).await,
            text(&pg.db, sql).await,
            "{sql}"
        );
    }
    let times = "SELECT count(*) FROM tracks WHERE updated_at < created_at";
    assert_eq!(scalar(&pg.db, times).await, 0);
}
