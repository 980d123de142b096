//! An edit reaches suggest through the delta, as the row the indexer hydrated. The delta must
//! weigh it with the prior the rebuild used — here a DiscoRank-like score on another scale than
//! popularity — or the entity jumps in the order each time it is edited.

use schemas::db::Db;
use schemas::popularity::ActivityCounts;
use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind, Version};
use sqlx::types::chrono::Utc;
use suggest::{Change, Record, SuggestIndex, SuggestPrior, Suggester};

const T: &str = "'2024-01-01T00:00:00Z'";

/// Three tracks whose popularity runs against their DiscoRank order.
fn site() -> String {
    format!(
        "INSERT INTO users (id, username, full_name, created_at, updated_at) VALUES
           (1, 'artist', 'The Artist', {T}, {T});
         INSERT INTO tracks (id, user_id, title, sharing, created_at, updated_at) VALUES
           (1, 1, 'Echo Alpha', 'public', {T}, {T}),
           (2, 1, 'Echo Bravo', 'public', {T}, {T}),
           (3, 1, 'Echo Charlie', 'public', {T}, {T});
         INSERT INTO plays (user_id, track_id, count, last_played_at) VALUES
           (1, 2, 5000, {T}), (1, 3, 90000, {T});"
    )
}

async fn seed(db: &Db) {
    let sql = sqlx::AssertSqlSafe(site());
    match db {
        Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        Db::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
    }
    .expect("seeding the test site");
}

fn track(id: i64) -> EntityKey {
    EntityKey::new(EntityKind::Track, id)
}

/// Relative DiscoRank scores (1.0 is the average entity): track 1 first, then 2, then 3.
fn discorank() -> SuggestPrior {
    SuggestPrior::new(|key, popularity| match (key.kind, key.id) {
        (EntityKind::Track, 1) => 3.0,
        (EntityKind::Track, 2) => 2.0,
        (EntityKind::Track, 3) => 1.0,
        _ => popularity,
    })
}

fn order(suggester: &Suggester) -> Vec<(i64, String)> {
    (suggester.suggest("echo", None, 10).into_iter())
        .map(|s| (s.id, s.text))
        .collect()
}

async fn an_edit_keeps_the_entity_in_place(db: &Db) {
    seed(db).await;
    let prior = discorank();
    let suggester = Suggester::new(SuggestIndex::empty());
    suggest::rebuild(&suggester, db, &prior, None)
        .await
        .unwrap();
    let built = [
        (1, "Echo Alpha".to_string()),
        (2, "Echo Bravo".to_string()),
        (3, "Echo Charlie".to_string()),
    ];
    assert_eq!(order(&suggester), built);
    let records = suggest::names_db::load(db, &prior).await.unwrap();
    let built_prior = records.iter().find(|r| r.key == track(2)).unwrap().prior;
    assert_eq!(built_prior, Some(2.0));

    // Track 2 renamed: the indexer's row, with the popularity it hydrates (far above 3.0).
    let now = Utc::now();
    let row = EntityRow::new(track(2), Version::from_datetime(now), now)
        .with("title", "Echo Bravissimo")
        .with_popularity(
            ActivityCounts::Track {
                plays: 5000,
                likes: 0,
                reposts: 0,
            }
            .popularity(),
        );
    let change = Change::from_row(track(2), Some(&row), &prior);
    let Change::Upsert(record) = &change else {
        panic!("a searchable row is an upsert: {change:?}")
    };
    assert_eq!(record.prior, built_prior, "the weight the build gave it");
    suggester.apply(change);
    assert_eq!(
        order(&suggester),
        [
            (1, "Echo Alpha".to_string()),
            (2, "Echo Bravissimo".to_string()),
            (3, "Echo Charlie".to_string()),
        ]
    );

    // What weighing the edit by the row's popularity did: the edited track jumped to the top.
    suggester.apply(Change::Upsert(Record::from_row(&row, row.popularity)));
    assert_eq!(order(&suggester)[0].0, 2);

    // And a row that is no longer searchable leaves.
    suggester.apply(Change::from_row(track(2), None, &prior));
    let ids: Vec<i64> = order(&suggester).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [1, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entity_keeps_its_place_and_weight_on_sqlite() {
    let site = testkit::FreshSqlite::create().await;
    an_edit_keeps_the_entity_in_place(&site.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entity_keeps_its_place_and_weight_on_postgres() {
    let site = testkit::FreshPostgres::create().await;
    an_edit_keeps_the_entity_in_place(&site.db).await;
}
