//! Issue #24's owner cascade on real PostgreSQL + RabbitMQ, with `disco serve` running the query
//! service and the indexer: a spam account's tracks, set and group leave `/search`, `/suggest`,
//! `/explore` and their pages when the account is taken down, deleted softly, made private or
//! deleted outright — each by one user event — and come back, at their rows' versions, when it
//! is reinstated. A bystander's track that matches the same words stays throughout, and
//! `disco verify` is clean after every step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indexer::testing;
use schemas::{Action, EntityKey, EntityKind};
use serde_json::Value;

use crate::ops_postgres::{Server, Site, verify};
use crate::support::{Env, later, track, user};

/// What every endpoint shows of the word `zyx`, as `kind:id` keys.
#[derive(Debug, PartialEq, Eq)]
struct Shown {
    search: BTreeSet<String>,
    suggest: BTreeSet<String>,
    explore: BTreeSet<String>,
    pages: BTreeSet<String>,
}

const SPAMMER: i64 = 1;
const BYSTANDER: i64 = 2;

fn key_of(item: &Value) -> Option<String> {
    Some(format!(
        "{}:{}",
        item["kind"].as_str()?,
        item["id"].as_i64()?
    ))
}

async fn get_json(server: &Server, path: &str) -> Value {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

async fn shown(server: &Server) -> Shown {
    let keys = |v: &Value, list: &str| -> BTreeSet<String> {
        (v[list].as_array().into_iter().flatten())
            .filter_map(key_of)
            .collect()
    };
    let search = keys(&get_json(server, "/search?q=zyx&limit=50").await, "results");
    let suggest = keys(
        &get_json(server, "/suggest?q=zyx&limit=20").await,
        "suggestions",
    );
    let explore = keys(&get_json(server, "/explore?limit=100").await, "results");
    let mut pages = BTreeSet::new();
    for key in [
        EntityKey::new(EntityKind::User, SPAMMER),
        track(1),
        EntityKey::new(EntityKind::Playlist, 1),
        EntityKey::new(EntityKind::Group, 1),
        track(2),
    ] {
        let status = server
            .http
            .get(format!("{}/{}/{}", server.base, key.kind.table(), key.id))
            .send()
            .await
            .unwrap()
            .status();
        if status.is_success() {
            pages.insert(key.to_string());
        } else {
            assert_eq!(status.as_u16(), 404, "{key}");
        }
    }
    Shown {
        search,
        suggest,
        explore,
        pages,
    }
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Everything: the spammer's account and what it made, and the bystander's track.
fn everything() -> Shown {
    Shown {
        search: set(&["group:1", "playlist:1", "track:1", "track:2", "user:1"]),
        suggest: set(&["group:1", "playlist:1", "track:1", "track:2", "user:1"]),
        explore: set(&["track:1", "track:2"]),
        pages: set(&["group:1", "playlist:1", "track:1", "track:2", "user:1"]),
    }
}

/// Only the bystander's track.
fn bystander_only() -> Shown {
    Shown {
        search: set(&["track:2"]),
        suggest: set(&["track:2"]),
        explore: set(&["track:2"]),
        pages: set(&["track:2"]),
    }
}

/// Polls every endpoint until they show `expected`; returns how long it took.
async fn until_shown(server: &Server, expected: &Shown, step: &str) -> Duration {
    let started = Instant::now();
    loop {
        let now = shown(server).await;
        if now == *expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{step}: still {now:?}, expected {expected:?}\nserver log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A change to the spammer's row, then its event.
async fn change(env: &Env, sql: &str, at: DateTime<Utc>, action: Action) {
    testing::execute_with(env.db(), sql, &[SPAMMER], at)
        .await
        .unwrap();
    env.publish(action, user(SPAMMER), at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_takedown_deletion_and_privacy_reach_everything_they_made() {
    let env = Env::new().await;
    let site = Site::of(&env);
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, SPAMMER, "zyxspam", "Zyx Spammer", t0)
        .await
        .unwrap();
    testing::insert_user(db, BYSTANDER, "plain", "Plain Person", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, SPAMMER, "Zyx Anthem", t0)
        .await
        .unwrap();
    testing::insert_track(db, 2, BYSTANDER, "Zyx Cover", t0)
        .await
        .unwrap();
    testing::insert_playlist(db, 1, SPAMMER, "Zyx Mix", t0)
        .await
        .unwrap();
    testing::insert_group(db, 1, SPAMMER, "Zyx Club", t0)
        .await
        .unwrap();

    let server = Server::start(&site);
    for key in [
        user(SPAMMER),
        user(BYSTANDER),
        track(1),
        track(2),
        EntityKey::new(EntityKind::Playlist, 1),
        EntityKey::new(EntityKind::Group, 1),
    ] {
        env.publish(Action::Create, key, t0).await;
    }
    until_shown(&server, &everything(), "created").await;
    verify(&site, None);

    let reinstate = "UPDATE users SET taken_down = FALSE, deleted_at = NULL, sharing = 'public', \
                     updated_at = $2 WHERE id = $1";
    let paths = [
        (
            "taken down",
            "UPDATE users SET taken_down = TRUE, updated_at = $2 WHERE id = $1",
        ),
        (
            "deleted softly",
            "UPDATE users SET deleted_at = $2, updated_at = $2 WHERE id = $1",
        ),
        (
            "made private",
            "UPDATE users SET sharing = 'private', updated_at = $2 WHERE id = $1",
        ),
    ];
    let mut at = t0;
    for (what, sql) in paths {
        at = later(at, 1_000);
        change(&env, sql, at, Action::Save).await;
        let took = until_shown(&server, &bystander_only(), what).await;
        eprintln!(
            "{what}: gone from every endpoint in {} ms",
            took.as_millis()
        );
        verify(&site, None);

        at = later(at, 1_000);
        change(&env, reinstate, at, Action::Save).await;
        let took = until_shown(&server, &everything(), &format!("reinstated after {what}")).await;
        eprintln!("reinstated: back everywhere in {} ms", took.as_millis());
        verify(&site, None);
    }

    // Deleted outright: the row is gone, what the account made is left in the database.
    at = later(at, 1_000);
    testing::remove(db, user(SPAMMER)).await.unwrap();
    env.publish(Action::Destroy, user(SPAMMER), at).await;
    let took = until_shown(&server, &bystander_only(), "deleted outright").await;
    eprintln!(
        "deleted outright: gone from every endpoint in {} ms",
        took.as_millis()
    );
    verify(&site, None);
    server.stop();
}
