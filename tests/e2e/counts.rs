//! Issue #24's counts on real PostgreSQL + RabbitMQ: activity events mark what they touch and
//! the indexer re-counts it from the database, so a hundred likes, each published twice and
//! all out of order, give a like count of exactly one hundred — and a follow, a membership and
//! a set's new track reach their counts the same way.

use chrono::{DateTime, Utc};
use indexer::tantivy::schema::Value;
use indexer::testing;
use schemas::{Action, EntityKey, EntityKind};

use crate::support::{Env, eventually, later, track, until_verified, user};

/// The site's activity event: `<action>.<activity>` with the activity row's columns.
fn activity(
    action: Action,
    name: &str,
    columns: serde_json::Value,
    at: DateTime<Utc>,
) -> (String, Vec<u8>) {
    let mut body = columns;
    body["occurred_at"] = at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .into();
    (format!("{action}.{name}"), body.to_string().into_bytes())
}

/// The count field `field` of `key`'s document in the live generation.
fn count(catalog: &indexer::Generations, key: EntityKey, field: &str) -> Option<i64> {
    let live = catalog.live();
    live.reload().ok()?;
    let definitions = live.definitions();
    let searcher = live.searcher();
    let query = indexer::tantivy::query::TermQuery::new(
        definitions.key_term(key),
        indexer::tantivy::schema::IndexRecordOption::Basic,
    );
    let top = indexer::tantivy::collector::TopDocs::with_limit(1).order_by_score();
    let (_, address) = searcher.search(&query, &top).ok()?.into_iter().next()?;
    let doc: indexer::tantivy::TantivyDocument = searcher.doc(address).ok()?;
    doc.get_first(definitions.field(field)?)
        .and_then(|v| v.as_i64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_likes_delivered_twice_out_of_order_count_a_hundred() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "artist", "The Artist", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, 1, "Counted Song", t0)
        .await
        .unwrap();
    testing::insert_playlist(db, 1, 1, "Counted Set", t0)
        .await
        .unwrap();
    testing::insert_group(db, 1, 1, "Counted Club", t0)
        .await
        .unwrap();
    let running = env.start().await;
    for key in [
        user(1),
        track(1),
        EntityKey::new(EntityKind::Playlist, 1),
        EntityKey::new(EntityKind::Group, 1),
    ] {
        env.publish(Action::Create, key, t0).await;
    }

    // A hundred listeners like the track; the site writes each like, then publishes it.
    let mut events = Vec::new();
    for fan in 0..100 {
        let id = 100 + fan;
        let at = later(t0, fan + 1);
        testing::insert_user(db, id, &format!("fan{id}"), "Fan", t0)
            .await
            .unwrap();
        env.publish(Action::Create, user(id), t0).await;
        testing::execute_with(
            db,
            "INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES ($1, 'track', $2, $3)",
            &[id, 1],
            at,
        )
        .await
        .unwrap();
        let like = serde_json::json!({"user_id": id, "target_kind": "track", "target_id": 1});
        events.push(activity(Action::Create, "like", like, at));
    }
    // Every like twice, the second round reversed and interleaved with the first.
    let mut delivered: Vec<&(String, Vec<u8>)> = Vec::new();
    for (a, b) in events.iter().zip(events.iter().rev()) {
        delivered.push(b);
        delivered.push(a);
    }
    for (routing_key, body) in delivered {
        env.publish_raw(routing_key, body).await;
    }

    // A follow, a membership and a track added to the set.
    let at = later(t0, 500);
    for (sql, name, columns) in [
        (
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)",
            "follow",
            serde_json::json!({"follower_id": 100, "followee_id": 1}),
        ),
        (
            "INSERT INTO group_members (user_id, group_id, created_at) VALUES ($1, $2, $3)",
            "membership",
            serde_json::json!({"user_id": 100, "group_id": 1}),
        ),
    ] {
        testing::execute_with(db, sql, &[100, 1], at).await.unwrap();
        let (routing_key, body) = activity(Action::Create, name, columns, at);
        env.publish_raw(&routing_key, &body).await;
    }
    let schemas::db::Db::Postgres(pool) = db else {
        panic!("the e2e site is on PostgreSQL")
    };
    sqlx::query("INSERT INTO playlist_tracks (playlist_id, track_id, position) VALUES (1, 1, 0)")
        .execute(pool)
        .await
        .unwrap();
    let (routing_key, body) = activity(
        Action::Create,
        "playlist_track",
        serde_json::json!({"playlist_id": 1, "track_id": 1}),
        at,
    );
    env.publish_raw(&routing_key, &body).await;

    let catalog = running.catalog.clone();
    eventually("a hundred likes", || {
        count(&catalog, track(1), "likes") == Some(100)
    })
    .await;
    eventually("one follower", || {
        count(&catalog, user(1), "followers") == Some(1)
    })
    .await;
    eventually("one member", || {
        count(
            &catalog,
            EntityKey::new(EntityKind::Group, 1),
            "member_count",
        ) == Some(1)
    })
    .await;
    eventually("one track in the set", || {
        count(
            &catalog,
            EntityKey::new(EntityKind::Playlist, 1),
            "track_count",
        ) == Some(1)
    })
    .await;
    // Everything acknowledged and equal to the database, counts included.
    let report = until_verified(db, env.data.path()).await;
    eprintln!("{report}");
    running.stop().await;
}
