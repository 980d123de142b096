//! Loading names from the site's database (SQLite and PostgreSQL) and rebuilding from it.

use schemas::db::Db;
use schemas::popularity::ActivityCounts;
use schemas::{EntityKey, EntityKind};
use suggest::{Change, SuggestIndex, SuggestPrior, Suggester};

/// A small site: one row of each way of not being searchable, and activities for priors.
const SITE: &str = "
INSERT INTO users (id, username, full_name, created_at, updated_at, deleted_at, taken_down) VALUES
  (1, 'daftpunk', 'Daft Punk', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE),
  (2, 'ghost', 'Ghost Writer', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', FALSE),
  (3, 'banned', '', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, TRUE),
  (4, 'lonely', '', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE);
INSERT INTO tracks (id, user_id, title, sharing, created_at, updated_at, deleted_at, taken_down) VALUES
  (10, 1, 'Around the World', 'public', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE),
  (11, 1, 'Secret Demo', 'private', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE),
  (12, 1, 'Old Song', 'public', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', FALSE),
  (13, 1, 'Banned Song', 'public', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, TRUE),
  (14, 1, 'One More Time', 'public', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE);
INSERT INTO playlists (id, user_id, title, sharing, created_at, updated_at, deleted_at, taken_down) VALUES
  (20, 1, 'Workout Mix', 'public', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE),
  (21, 1, 'Private Mix', 'private', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE);
INSERT INTO groups (id, creator_id, name, created_at, updated_at, deleted_at, taken_down) VALUES
  (30, 1, 'French House Fans', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', NULL, FALSE),
  (31, 1, 'Dead Group', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', FALSE);
INSERT INTO follows (follower_id, followee_id, created_at) VALUES
  (4, 1, '2024-01-01T00:00:00Z'), (2, 1, '2024-01-01T00:00:00Z');
INSERT INTO plays (user_id, track_id, count, last_played_at) VALUES
  (4, 10, 60, '2024-01-01T00:00:00Z'), (2, 10, 40, '2024-01-01T00:00:00Z');
INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES
  (4, 'track', 10, '2024-01-01T00:00:00Z'), (4, 'playlist', 20, '2024-01-01T00:00:00Z');
INSERT INTO group_members (group_id, user_id, created_at) VALUES
  (30, 1, '2024-01-01T00:00:00Z'), (30, 4, '2024-01-01T00:00:00Z');
";

async fn seed(db: &Db) {
    match db {
        Db::Postgres(pool) => sqlx::raw_sql(SITE).execute(pool).await.map(drop),
        Db::Sqlite(pool) => sqlx::raw_sql(SITE).execute(pool).await.map(drop),
    }
    .expect("seeding the test site");
}

fn key(kind: EntityKind, id: i64) -> EntityKey {
    EntityKey::new(kind, id)
}

async fn loads_searchable_rows_with_popularity(db: &Db) {
    seed(db).await;
    let mut records = suggest::names_db::load(db, &SuggestPrior::popularity())
        .await
        .unwrap();
    records.sort_by_key(|r| r.key);
    let got: Vec<(EntityKey, &str, Option<f64>)> = records
        .iter()
        .map(|r| (r.key, r.text.as_str(), r.prior))
        .collect();
    // The counts the indexer's popularity is computed from; a user's tracks are its
    // searchable ones (10 and 14).
    let popularity = |counts: ActivityCounts| Some(counts.popularity());
    let track = |plays, likes, reposts| {
        popularity(ActivityCounts::Track {
            plays,
            likes,
            reposts,
        })
    };
    assert_eq!(
        got,
        [
            (
                key(EntityKind::Track, 10),
                "Around the World",
                track(100, 1, 0)
            ),
            (key(EntityKind::Track, 14), "One More Time", track(0, 0, 0)),
            (
                key(EntityKind::User, 1),
                "Daft Punk",
                popularity(ActivityCounts::User {
                    followers: 2,
                    tracks: 2
                })
            ),
            (
                key(EntityKind::User, 4),
                "lonely",
                popularity(ActivityCounts::User {
                    followers: 0,
                    tracks: 0
                })
            ),
            (
                key(EntityKind::Playlist, 20),
                "Workout Mix",
                popularity(ActivityCounts::Playlist {
                    likes: 1,
                    tracks: 0
                })
            ),
            (
                key(EntityKind::Group, 30),
                "French House Fans",
                popularity(ActivityCounts::Group {
                    members: 2,
                    tracks: 0
                })
            ),
        ]
    );
    assert_eq!(records[2].aliases, ["daftpunk"]);
    // A track and a set are also named by their owner's shown name, then their title.
    assert_eq!(records[0].owner.as_deref(), Some("Daft Punk"));
    assert_eq!(records[4].owner.as_deref(), Some("Daft Punk"));

    // The caller's prior replaces popularity (DiscoRank scores).
    let boosted = key(EntityKind::Track, 14);
    let prior = SuggestPrior::new(move |k, p| if k == boosted { 50.0 } else { p });
    let records = suggest::names_db::load(db, &prior).await.unwrap();
    assert_eq!(
        records.iter().find(|r| r.key == boosted).unwrap().prior,
        Some(50.0)
    );
}

async fn rebuilds_install_and_save(db: &Db, dir: &std::path::Path) {
    let suggester = Suggester::new(SuggestIndex::empty());
    assert!(suggester.suggest("around", None, 10).is_empty());
    let report = suggest::rebuild(&suggester, db, &SuggestPrior::popularity(), Some(dir))
        .await
        .unwrap();
    assert_eq!(report.stats.entities, 6, "{report}");
    assert!(report.saved.is_some());
    let texts = |q: &str| {
        suggester
            .suggest(q, None, 10)
            .into_iter()
            .map(|s| s.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(texts("around"), ["Around the World"]);
    assert_eq!(texts("daftp"), ["Daft Punk"]);
    // The person first, then what they made, found by its owner's name, heaviest first.
    assert_eq!(
        texts("daft punk"),
        [
            "Daft Punk",
            "Around the World",
            "Workout Mix",
            "One More Time"
        ]
    );
    for hidden in ["secret", "old s", "banned", "ghost", "private", "dead"] {
        assert!(texts(hidden).is_empty(), "{hidden} must not be suggested");
    }
    // Most popular first: the track with plays, then the user with followers.
    let all: Vec<EntityKey> = suggester
        .suggest("a", None, 10)
        .iter()
        .map(|s| s.key())
        .collect();
    assert_eq!(all, [key(EntityKind::Track, 10)]);
    suggester.apply(Change::Remove(key(EntityKind::Track, 10)));
    assert!(texts("around").is_empty());

    let opened = Suggester::new(suggest::store::open(dir).unwrap().expect("a saved build"));
    assert_eq!(opened.suggest("french", None, 10)[0].url, "/groups/30");
    let report = suggest::build_and_save(db, &SuggestPrior::popularity(), dir)
        .await
        .unwrap();
    assert!(report.to_string().contains("6 entities"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_site() {
    let site = testkit::FreshSqlite::create().await;
    loads_searchable_rows_with_popularity(&site.db).await;
    rebuilds_install_and_save(&site.db, &site.dir.join("suggest")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_site() {
    let site = testkit::FreshPostgres::create().await;
    let dir = tempfile::tempdir().unwrap();
    loads_searchable_rows_with_popularity(&site.db).await;
    rebuilds_install_and_save(&site.db, dir.path()).await;
}
