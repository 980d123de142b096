//! The rank job against real databases: a small site seeded by hand in SQLite and PostgreSQL,
//! loaded into the graph (searchable nodes only, parallel activities summed), then run,
//! versioned, activated and rolled back.

use rank::{
    JobOptions, ProgressMode, RankStore, RankVersion, WarmStrategy, Weights, load_graph, run_job,
    run_job_with,
};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

const T: &str = "'2026-01-01T00:00:00Z'";

/// A small site: some rows not searchable (deleted, taken down, private, or — track 13 — made by
/// a deleted user) and activities that point at them, plus parallel activities between user 2
/// and track 10.
fn site_sql() -> Vec<String> {
    let mut sql = vec![
        format!("INSERT INTO users (id, username, created_at, updated_at, deleted_at, taken_down) VALUES (1, 'alice', {T}, {T}, NULL, FALSE), (2, 'bob', {T}, {T}, NULL, FALSE), (3, 'carol', {T}, {T}, {T}, FALSE), (4, 'dave', {T}, {T}, NULL, TRUE)"),
        format!("INSERT INTO tracks (id, user_id, title, sharing, created_at, updated_at, deleted_at, taken_down) VALUES (10, 1, 'Ten', 'public', {T}, {T}, NULL, FALSE), (11, 2, 'Eleven', 'public', {T}, {T}, NULL, FALSE), (12, 1, 'Twelve', 'private', {T}, {T}, NULL, FALSE), (13, 3, 'Thirteen', 'public', {T}, {T}, NULL, FALSE), (14, 1, 'Gone', 'public', {T}, {T}, {T}, FALSE)"),
        format!("INSERT INTO playlists (id, user_id, title, sharing, created_at, updated_at) VALUES (20, 2, 'Mix', 'public', {T}, {T}), (21, 1, 'Secret', 'private', {T}, {T})"),
        format!("INSERT INTO groups (id, creator_id, name, created_at, updated_at) VALUES (30, 1, 'Club', {T}, {T})"),
        "INSERT INTO playlist_tracks (playlist_id, track_id, position) VALUES (20, 10, 1), (20, 11, 2), (20, 12, 3), (21, 10, 1)".to_string(),
        format!("INSERT INTO follows (follower_id, followee_id, created_at) VALUES (2, 1, {T}), (3, 1, {T}), (1, 2, {T})"),
        format!("INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES (2, 'track', 10, {T}), (2, 'playlist', 20, {T}), (1, 'track', 12, {T})"),
        format!("INSERT INTO reposts (user_id, target_kind, target_id, created_at) VALUES (2, 'track', 10, {T})"),
        format!("INSERT INTO comments (id, user_id, track_id, body, created_at) VALUES (100, 2, 10, 'nice', {T}), (101, 2, 10, 'again', {T})"),
        format!("INSERT INTO plays (user_id, track_id, count, last_played_at) VALUES (2, 10, 4, {T}), (1, 11, 0, {T})"),
        format!("INSERT INTO group_members (group_id, user_id, created_at) VALUES (30, 2, {T})"),
        format!("INSERT INTO group_tracks (group_id, track_id, created_at) VALUES (30, 11, {T})"),
    ];
    sql.shrink_to_fit();
    sql
}

async fn execute(db: &Db, statements: &[String]) {
    for statement in statements {
        let sql = sqlx::AssertSqlSafe(statement.clone());
        let result = match db {
            Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Db::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        };
        result.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn key(kind: EntityKind, id: i64) -> EntityKey {
    EntityKey::new(kind, id)
}

/// The seeded site loads into exactly the expected weighted graph.
async fn check_loaded_graph(db: &Db) {
    let w = Weights::builtin();
    let loaded = load_graph(db, &w, ProgressMode::Quiet).await.unwrap();
    let g = &loaded.graph;
    let nodes = g.nodes();
    let keys: Vec<String> = nodes.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        keys,
        [
            "track:10",
            "track:11",
            "user:1",
            "user:2",
            "playlist:20",
            "group:30"
        ]
    );

    let n = |kind, id| nodes.index(key(kind, id)).unwrap();
    let into = |kind, id| -> Vec<(String, f32)> {
        let mut v: Vec<(String, f32)> = g
            .in_edges(n(kind, id))
            .map(|(s, w)| (nodes.key(s).to_string(), w))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let bob_on_ten = (w.like + w.repost + 2.0 * w.comment + 4.0 * w.play) as f32;
    assert_eq!(
        into(EntityKind::Track, 10),
        vec![
            ("playlist:20".to_string(), w.playlist_contains as f32),
            ("user:2".to_string(), bob_on_ten)
        ]
    );
    assert_eq!(
        into(EntityKind::Track, 11),
        vec![
            ("group:30".to_string(), w.group_track as f32),
            ("playlist:20".to_string(), w.playlist_contains as f32)
        ]
    );
    assert_eq!(
        into(EntityKind::User, 1),
        vec![
            ("group:30".to_string(), w.group_creator as f32),
            ("track:10".to_string(), w.upload as f32),
            ("user:2".to_string(), w.follow as f32),
        ]
    );
    assert_eq!(
        into(EntityKind::User, 2),
        vec![
            ("playlist:20".to_string(), w.upload as f32),
            ("track:11".to_string(), w.upload as f32),
            ("user:1".to_string(), w.follow as f32)
        ]
    );
    assert_eq!(
        into(EntityKind::Playlist, 20),
        vec![("user:2".to_string(), w.like as f32)]
    );
    assert_eq!(
        into(EntityKind::Group, 30),
        vec![("user:2".to_string(), w.group_member as f32)]
    );
    // Track 13's creator is deleted, so the track is not searchable (schemas::searchable):
    // not a node at all, rather than a dangling one; every node has somewhere to go.
    assert!(nodes.index(key(EntityKind::Track, 13)).is_none());
    assert_eq!(g.dangling_count(), 0);
    assert_eq!(g.edge_count(), 12);
    // Rows that became edges: 2 follows, 2 likes, 1 repost, 2 comments, 1 play, 2 track and 1
    // playlist uploads, 2 playlist entries, 1 membership, 1 contribution, 1 group creator.
    assert_eq!(loaded.activities, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_site_loads_into_the_expected_graph() {
    let site = testkit::FreshSqlite::create().await;
    execute(&site.db, &site_sql()).await;
    check_loaded_graph(&site.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_site_loads_into_the_expected_graph() {
    let site = testkit::FreshPostgres::create().await;
    execute(&site.db, &site_sql()).await;
    check_loaded_graph(&site.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_versioned_warm_started_activated_and_rolled_back() {
    let site = testkit::FreshSqlite::create().await;
    execute(&site.db, &site_sql()).await;
    let data = tempfile::tempdir().unwrap();
    let store = RankStore::in_data_dir(data.path()).unwrap();
    let edges_out = data.path().join("edges.tsv");
    let options = JobOptions {
        progress: ProgressMode::Quiet,
        compare_cold: true,
        keep: 2,
        edges_out: Some(edges_out.clone()),
        ..JobOptions::default()
    };

    let first = run_job(&site.db, &store, &options).await.unwrap();
    assert_eq!(first.version, RankVersion(1));
    assert!(first.warm_start.is_none() && first.converged);
    assert_eq!((first.nodes, first.edges), (6, 12));
    assert_eq!(store.active().unwrap(), Some(RankVersion(1)));
    let v1 = store.load(RankVersion(1)).unwrap();
    assert!((v1.scores().iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let edges = std::fs::read_to_string(&edges_out).unwrap();
    assert!(edges.starts_with("src\tdst\tweight\n"));
    assert!(edges.contains("user:2\ttrack:10\t13\n"), "{edges}");
    assert_eq!(edges.lines().count(), 13);

    // The site moves on: carol comes back, and follows bob.
    execute(
        &site.db,
        &[
            "UPDATE users SET deleted_at = NULL WHERE id = 3".to_string(),
            format!(
                "INSERT INTO follows (follower_id, followee_id, created_at) VALUES (3, 2, {T})"
            ),
        ],
    )
    .await;
    // The default warm start: residual pass and pushes, then sweeps (sweeps alone on request,
    // below).
    let second = run_job(&site.db, &store, &options).await.unwrap();
    assert_eq!(second.version, RankVersion(2));
    let warm = second
        .warm_start
        .clone()
        .expect("second run starts from the first");
    assert_eq!((warm.from, warm.carried), (RankVersion(1), 6));
    assert!(warm.cold_iterations.is_some());
    // The manifest gives the sweeps as `iterations` and the work before them beside it.
    let push = warm
        .push
        .expect("a warm start records its residual pass and pushes");
    assert_eq!(push.residual_sweeps, 1.0);
    assert_eq!(push.sweeps, second.iterations);
    assert!(push.sweep_equivalents() >= second.iterations as f64 + 1.0);
    assert_eq!(
        store.manifest(RankVersion(2)).unwrap().warm_start,
        second.warm_start
    );
    assert_eq!(second.nodes, 8);
    assert_eq!(store.active().unwrap(), Some(RankVersion(2)));
    let v2 = store.load(RankVersion(2)).unwrap();
    let carol = key(EntityKind::User, 3);
    assert_eq!(v1.get(carol), None);
    assert!(v2.get(carol).unwrap() > 0.0);
    // bob gained a follower, so his rank relative to the average went up.
    let bob = key(EntityKind::User, 2);
    assert!(v2.relative(bob).unwrap() > v1.relative(bob).unwrap());

    // Rollback: the older version serves again, its scores unchanged.
    store.activate(RankVersion(1)).unwrap();
    let (active, scores) = store.load_active().unwrap().unwrap();
    assert_eq!(active, RankVersion(1));
    assert_eq!(scores, v1);

    // A third run keeps the newest two plus the active v1.
    let third = run_job_with(
        &site.db,
        &store,
        &JobOptions {
            activate: false,
            ..options.clone()
        },
        WarmStrategy::Plain,
    )
    .await
    .unwrap();
    let third_warm = third.warm_start.unwrap();
    assert_eq!(third_warm.from, RankVersion(1));
    assert!(
        third_warm.push.is_none(),
        "the plain warm start, asked for, is sweeps only"
    );
    assert_eq!(store.active().unwrap(), Some(RankVersion(1)));
    assert_eq!(
        store.versions().unwrap(),
        vec![RankVersion(1), RankVersion(2), RankVersion(3)]
    );
    store.activate(RankVersion(3)).unwrap();
    run_job(&site.db, &store, &options).await.unwrap();
    assert_eq!(
        store.versions().unwrap(),
        vec![RankVersion(3), RankVersion(4)]
    );
    let listed: Vec<RankVersion> = store.list().unwrap().iter().map(|m| m.version).collect();
    assert_eq!(listed, vec![RankVersion(3), RankVersion(4)]);
}

/// `serve --rank-every`: with no active version the first run is at once, the next one a
/// period later (warm-started from the first); a run that finds the slot taken is skipped,
/// and stopping ends the loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_runs_the_job_every_period_one_run_at_a_time() {
    use rank::schedule::{JobSlot, every};
    use std::time::Duration;

    let site = testkit::FreshSqlite::create().await;
    execute(&site.db, &site_sql()).await;
    let data = tempfile::tempdir().unwrap();
    let store = RankStore::in_data_dir(data.path()).unwrap();
    let options = JobOptions {
        progress: ProgressMode::Quiet,
        ..JobOptions::default()
    };
    let slot = JobSlot::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let schedule = tokio::spawn(every(
        site.db.clone(),
        store.clone(),
        options,
        Duration::from_secs(1),
        slot.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let versions = |n: usize| {
        let store = store.clone();
        async move {
            for _ in 0..300 {
                if store.versions().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no {n} versions after 6 s: {:?}", store.versions());
        }
    };
    versions(1).await;
    assert!(store.active().unwrap() >= Some(RankVersion(1)));
    versions(2).await;
    assert!(store.active().unwrap() >= Some(RankVersion(2)));
    let second = store.manifest(RankVersion(2)).unwrap();
    assert_eq!(second.warm_start.map(|w| w.from), Some(RankVersion(1)));

    // An admin run holds the slot: the next periods pass without a run.
    let claim = loop {
        match slot.claim() {
            Some(claim) => break claim,
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    let held = store.versions().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(store.versions().unwrap().len(), held);
    drop(claim);
    versions(held + 1).await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), schedule)
        .await
        .expect("the schedule stops")
        .unwrap();
}
