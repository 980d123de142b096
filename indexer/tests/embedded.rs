//! The whole pipeline in-process (SQLite + the in-process bus): fast checks of the versioning
//! rules and a property test that random interleavings converge to the database.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indexer::broker::MemoryBus;
use indexer::testing::{self, event};
use indexer::{CancellationToken, Generations, Indexer, IndexerConfig};
use proptest::prelude::*;
use schemas::db::Db;
use schemas::envelope::Action;
use schemas::{EntityKey, EntityKind};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;

struct Running {
    generations: Arc<Generations>,
    bus: MemoryBus,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), indexer::IndexerError>>,
}

fn fast_config() -> IndexerConfig {
    let mut config = IndexerConfig::default();
    config.batch.max_wait = Duration::from_millis(5);
    config.lag_retries = vec![Duration::from_millis(5)];
    config.park_delay = Duration::from_millis(10);
    config.park_delay_max = Duration::from_millis(50);
    config.writer_heap_bytes = 15_000_000;
    // Logic, not throughput: every batch at once.
    config.refresh_interval = Duration::ZERO;
    config
}

fn start(db: &Db, data: &std::path::Path, bus: &MemoryBus) -> Running {
    start_with(db, data, bus, fast_config())
}

fn start_with(db: &Db, data: &std::path::Path, bus: &MemoryBus, config: IndexerConfig) -> Running {
    let generations = Generations::open(data).unwrap();
    let indexer = Indexer::open(db.clone(), generations.clone(), config).unwrap();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(indexer.run(bus.source(), cancel.clone()));
    Running {
        generations,
        bus: bus.clone(),
        cancel,
        task,
    }
}

impl Running {
    /// Waits until every published event is acknowledged.
    async fn settle(&self) {
        for _ in 0..2000 {
            if self.bus.outstanding() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} events still outstanding", self.bus.outstanding());
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap();
    }

    /// Ids of tracks whose title matches `text`.
    fn tracks_titled(&self, text: &str) -> Vec<i64> {
        let (searcher, definitions) = self.generations.live_searcher();
        let live = self.generations.live();
        let title = definitions.field("title").unwrap();
        let query = QueryParser::for_index(live.index(), vec![title])
            .parse_query(text)
            .unwrap();
        let id = definitions.system().id;
        let mut ids: Vec<i64> = searcher
            .search(&query, &TopDocs::with_limit(100).order_by_score())
            .unwrap()
            .into_iter()
            .map(|(_, address)| {
                let doc: tantivy::TantivyDocument = searcher.doc(address).unwrap();
                use tantivy::schema::Value;
                doc.get_first(id).and_then(|v| v.as_i64()).unwrap()
            })
            .collect();
        ids.sort();
        ids
    }
}

impl Running {
    /// Keys (`track:1`) of the live documents whose `fields` match `text`, sorted.
    fn keys_matching(&self, fields: &[&str], text: &str) -> Vec<String> {
        testing::keys_matching(&self.generations.live(), fields, text).unwrap()
    }
}

/// What every test here starts from: a fresh site database, a data directory, the in-process
/// bus and a clock reading.
async fn scene() -> (
    testkit::FreshSqlite,
    tempfile::TempDir,
    MemoryBus,
    DateTime<Utc>,
) {
    let site = testkit::FreshSqlite::create().await;
    (
        site,
        tempfile::tempdir().unwrap(),
        MemoryBus::new(),
        testing::now(),
    )
}

fn track(id: i64) -> EntityKey {
    EntityKey::new(EntityKind::Track, id)
}

fn later(at: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    at + chrono::Duration::milliseconds(ms)
}

#[tokio::test]
async fn create_save_and_delete_reach_the_index_and_old_events_change_nothing() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    testing::insert_user(db, 1, "acdc", "AC/DC", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, 1, "Highway to Hell", t0)
        .await
        .unwrap();
    let (rk, body) = event(Action::Create, track(1), t0);
    let running = start(db, data.path(), &bus);
    let (user_rk, user_body) = event(Action::Create, EntityKey::new(EntityKind::User, 1), t0);
    bus.publish(&user_rk, user_body);
    bus.publish(&rk, body.clone());
    running.settle().await;
    assert_eq!(running.tracks_titled("highway"), vec![1]);

    let t1 = later(t0, 1);
    testing::rename(db, track(1), "Thunderstruck", t1)
        .await
        .unwrap();
    let (save_rk, save_body) = event(Action::Save, track(1), t1);
    bus.publish(&save_rk, save_body.clone());
    bus.publish(&save_rk, save_body.clone());
    running.settle().await;
    assert_eq!(running.tracks_titled("thunderstruck"), vec![1]);
    assert!(running.tracks_titled("highway").is_empty());

    // The old create again: stale, no regression.
    bus.publish(&rk, body.clone());
    running.settle().await;
    assert_eq!(running.tracks_titled("thunderstruck"), vec![1]);

    let t2 = later(t0, 2);
    testing::remove(db, track(1)).await.unwrap();
    let (destroy_rk, destroy_body) = event(Action::Destroy, track(1), t2);
    bus.publish(&destroy_rk, destroy_body);
    running.settle().await;
    assert!(running.tracks_titled("thunderstruck").is_empty());
    running.stop().await;

    // After a restart, older events still cannot resurrect it.
    let running = start(db, data.path(), &bus);
    bus.publish(&save_rk, save_body);
    bus.publish(&rk, body);
    running.settle().await;
    assert!(running.tracks_titled("thunderstruck").is_empty());
    assert!(running.tracks_titled("highway").is_empty());
    let report = indexer::verify::verify(db, &running.generations.live())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    running.stop().await;
}

#[tokio::test]
async fn an_event_ahead_of_its_row_waits_for_it_and_malformed_ones_are_dead_lettered() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    testing::insert_user(db, 1, "acdc", "AC/DC", t0)
        .await
        .unwrap();
    let running = start(db, data.path(), &bus);
    // Published before the row exists (a lagging replica looks the same).
    let (rk, body) = event(Action::Create, track(2), t0);
    bus.publish(&rk, body);
    bus.publish("create.track", b"not json".to_vec());
    // An activity the indexer does not count is acknowledged; a like that does not say
    // what was liked is dead-lettered with the reason.
    bus.publish(
        "create.poke",
        br#"{"id": 1, "occurred_at": "2026-01-01T00:00:00Z"}"#.to_vec(),
    );
    bus.publish(
        "create.like",
        br#"{"id": 1, "occurred_at": "2026-01-01T00:00:00Z"}"#.to_vec(),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    testing::insert_track(db, 2, 1, "Back in Black", t0)
        .await
        .unwrap();
    running.settle().await;
    assert_eq!(running.tracks_titled("black"), vec![2]);
    let mut dead: Vec<String> = bus.dead_letters().into_iter().map(|d| d.label).collect();
    dead.sort();
    assert_eq!(dead, ["no_target", "not_json"]);
    running.stop().await;
}

#[tokio::test]
async fn private_and_taken_down_entities_leave_the_index_and_come_back_when_public() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    testing::insert_user(db, 1, "acdc", "AC/DC", t0)
        .await
        .unwrap();
    testing::insert_track(db, 3, 1, "Hells Bells", t0)
        .await
        .unwrap();
    testing::insert_track(db, 4, 1, "Hells Kitchen", t0)
        .await
        .unwrap();
    let running = start(db, data.path(), &bus);
    for id in [3, 4] {
        let (rk, body) = event(Action::Create, track(id), t0);
        bus.publish(&rk, body);
    }
    running.settle().await;
    assert_eq!(running.tracks_titled("hells"), vec![3, 4]);
    let t1 = later(t0, 1);
    testing::set_sharing(db, track(3), "private", t1)
        .await
        .unwrap();
    testing::take_down(db, track(4), true, t1).await.unwrap();
    for id in [3, 4] {
        let (rk, body) = event(Action::Save, track(id), t1);
        bus.publish(&rk, body);
    }
    running.settle().await;
    assert!(running.tracks_titled("hells").is_empty());
    let t2 = later(t0, 2);
    testing::set_sharing(db, track(3), "public", t2)
        .await
        .unwrap();
    let (rk, body) = event(Action::Save, track(3), t2);
    bus.publish(&rk, body);
    running.settle().await;
    assert_eq!(running.tracks_titled("hells"), vec![3]);
    running.stop().await;
}

/// One step of a random site history.
#[derive(Debug, Clone, Copy)]
enum Step {
    Rename(i64),
    Private(i64),
    Public(i64),
    TakeDown(i64),
    SoftDelete(i64),
    Remove(i64),
    /// A listener (user 2..=4) likes a track, or takes the like back.
    Like(i64, i64),
    Unlike(i64, i64),
}

fn step() -> impl Strategy<Value = Step> {
    let id = 1i64..=4;
    prop_oneof![
        3 => id.clone().prop_map(Step::Rename),
        1 => id.clone().prop_map(Step::Private),
        1 => id.clone().prop_map(Step::Public),
        1 => id.clone().prop_map(Step::TakeDown),
        1 => id.clone().prop_map(Step::SoftDelete),
        1 => id.clone().prop_map(Step::Remove),
        4 => (2i64..=4, id.clone()).prop_map(|(user, track)| Step::Like(user, track)),
        2 => (2i64..=4, id).prop_map(|(user, track)| Step::Unlike(user, track)),
    ]
}

/// The site's activity event for a like of track `id` by `user` (the like row's columns).
fn like(action: Action, user: i64, id: i64, at: DateTime<Utc>) -> (String, Vec<u8>) {
    let body = serde_json::json!({
        "user_id": user,
        "target_kind": "track",
        "target_id": id,
        "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    (format!("{action}.like"), body.to_string().into_bytes())
}

/// Applies the history to the database and returns every event the site would publish.
async fn play(db: &Db, steps: &[Step]) -> Vec<(String, Vec<u8>)> {
    let t0 = testing::now();
    let mut events = Vec::new();
    let mut gone = [false; 5];
    testing::insert_user(db, 1, "owner", "Owner", t0)
        .await
        .unwrap();
    events.push(event(
        Action::Create,
        EntityKey::new(EntityKind::User, 1),
        t0,
    ));
    for listener in 2..=4 {
        testing::insert_user(db, listener, &format!("fan{listener}"), "Fan", t0)
            .await
            .unwrap();
        events.push(event(
            Action::Create,
            EntityKey::new(EntityKind::User, listener),
            t0,
        ));
    }
    for id in 1..=4 {
        testing::insert_track(db, id, 1, &format!("song{id} v0"), t0)
            .await
            .unwrap();
        events.push(event(Action::Create, track(id), t0));
    }
    for (n, step) in steps.iter().enumerate() {
        let at = later(t0, n as i64 + 1);
        if let Step::Like(user, id) | Step::Unlike(user, id) = *step {
            let (sql, action) = match *step {
                Step::Like(..) => (
                    "INSERT INTO likes (user_id, target_kind, target_id, created_at) \
                     VALUES ($1, 'track', $2, $3) ON CONFLICT DO NOTHING",
                    Action::Create,
                ),
                _ => (
                    "DELETE FROM likes WHERE user_id = $1 AND target_kind = 'track' \
                     AND target_id = $2 AND created_at <= $3",
                    Action::Destroy,
                ),
            };
            testing::execute_with(db, sql, &[user, id], at)
                .await
                .unwrap();
            events.push(like(action, user, id, at));
            continue;
        }
        let (id, action) = match *step {
            Step::Rename(id)
            | Step::Private(id)
            | Step::Public(id)
            | Step::TakeDown(id)
            | Step::SoftDelete(id) => (id, Action::Save),
            Step::Remove(id) => (id, Action::Destroy),
            Step::Like(..) | Step::Unlike(..) => continue,
        };
        if gone[id as usize] {
            continue;
        }
        match *step {
            Step::Rename(id) => testing::rename(db, track(id), &format!("song{id} v{n}"), at).await,
            Step::Private(id) => testing::set_sharing(db, track(id), "private", at).await,
            Step::Public(id) => testing::set_sharing(db, track(id), "public", at).await,
            Step::TakeDown(id) => testing::take_down(db, track(id), true, at).await,
            Step::SoftDelete(id) => {
                gone[id as usize] = true;
                testing::soft_delete(db, track(id), at).await
            }
            Step::Remove(id) => {
                gone[id as usize] = true;
                testing::remove(db, track(id)).await
            }
            Step::Like(..) | Step::Unlike(..) => continue,
        }
        .unwrap();
        events.push(event(action, track(id), at));
    }
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_with_duplicates_converges_to_the_database(
        steps in proptest::collection::vec(step(), 0..16),
        order in proptest::collection::vec(any::<u32>(), 64),
        duplicates in proptest::collection::vec(any::<bool>(), 64),
        restart_at in 0usize..64,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let site = testkit::FreshSqlite::create().await;
            let data = tempfile::tempdir().unwrap();
            let bus = MemoryBus::new();
            let events = play(&site.db, &steps).await;
            // Shuffle by the random keys, duplicating some events.
            let mut shuffled: Vec<(u32, &(String, Vec<u8>))> = Vec::new();
            for (i, e) in events.iter().enumerate() {
                shuffled.push((order[i % order.len()], e));
                if duplicates[i % duplicates.len()] {
                    shuffled.push((order[(i * 7 + 3) % order.len()], e));
                }
            }
            shuffled.sort_by_key(|(k, _)| *k);
            let mut running = start(&site.db, data.path(), &bus);
            for (n, (_, (rk, body))) in shuffled.iter().enumerate() {
                bus.publish(rk, body.clone());
                if n == restart_at {
                    running.stop().await;
                    running = start(&site.db, data.path(), &bus);
                }
            }
            running.settle().await;
            let report = indexer::verify::verify(&site.db, &running.generations.live()).await.unwrap();
            running.stop().await;
            prop_assert!(report.is_clean() && report.counts_clean(), "{}", report);
            Ok(())
        })?;
    }
}

/// Tracks, playlists and groups show their owner's names: a user's rename (one event, for the
/// user) reaches them too, an owner's older event cannot take them back, and a user deleted
/// outright takes its names off the entities it leaves behind.
#[tokio::test]
async fn an_owner_rename_reaches_the_tracks_playlists_and_groups_that_show_the_name() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    let user = EntityKey::new(EntityKind::User, 1);
    let playlist = EntityKey::new(EntityKind::Playlist, 1);
    let group = EntityKey::new(EntityKind::Group, 1);
    testing::insert_user(db, 1, "acdc", "Angus Young", t0)
        .await
        .unwrap();
    testing::insert_user(db, 2, "other", "Someone Else", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, 1, "Highway to Hell", t0)
        .await
        .unwrap();
    testing::insert_track(db, 2, 2, "Not Theirs", t0)
        .await
        .unwrap();
    testing::insert_playlist(db, 1, 1, "Best Of", t0)
        .await
        .unwrap();
    testing::insert_group(db, 1, 1, "Rock Fans", t0)
        .await
        .unwrap();
    let running = start(db, data.path(), &bus);
    let other = EntityKey::new(EntityKind::User, 2);
    for key in [user, other, track(1), track(2), playlist, group] {
        let (rk, body) = event(Action::Create, key, t0);
        bus.publish(&rk, body);
    }
    running.settle().await;
    let owner_fields = ["owner_full_name", "creator_full_name"];
    assert_eq!(
        running.keys_matching(&owner_fields, "angus"),
        vec!["group:1", "playlist:1", "track:1"]
    );

    let t1 = later(t0, 1);
    testing::rename(db, user, "Bon Scott", t1).await.unwrap();
    // Before its event arrives, verify sees the user stale, and the track and playlist, at
    // their own (unchanged) versions, showing the old name in their display lines (a group's
    // do not show its creator).
    let report = indexer::verify::verify(db, &running.generations.live())
        .await
        .unwrap();
    let shown = |kind| report.kinds.get(&kind).map(|k| (k.stale, k.shown));
    assert_eq!(shown(EntityKind::User), Some((1, 0)), "{report}");
    assert_eq!(shown(EntityKind::Track), Some((0, 1)), "{report}");
    assert_eq!(shown(EntityKind::Playlist), Some((0, 1)), "{report}");
    assert_eq!(shown(EntityKind::Group), Some((0, 0)), "{report}");
    assert!(
        report.to_string().contains("shown differently track:1"),
        "{report}"
    );
    let (rk, body) = event(Action::Save, user, t1);
    bus.publish(&rk, body);
    running.settle().await;
    assert_eq!(
        running.keys_matching(&owner_fields, "scott"),
        vec!["group:1", "playlist:1", "track:1"]
    );
    assert!(running.keys_matching(&owner_fields, "angus").is_empty());

    // The track's own old create, and the user's, change nothing now.
    for key in [track(1), user] {
        let (rk, body) = event(Action::Create, key, t0);
        bus.publish(&rk, body);
    }
    running.settle().await;
    assert_eq!(
        running.keys_matching(&owner_fields, "scott"),
        vec!["group:1", "playlist:1", "track:1"]
    );
    let report = indexer::verify::verify(db, &running.generations.live())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");

    // The user's row is deleted outright, its entities left behind in the database: nothing
    // of theirs is searchable any more (schemas::searchable), another owner's track stays.
    testing::remove(db, user).await.unwrap();
    let (rk, body) = event(Action::Destroy, user, later(t0, 2));
    bus.publish(&rk, body);
    running.settle().await;
    assert!(running.keys_matching(&owner_fields, "scott").is_empty());
    assert!(running.keys_matching(&["title"], "highway").is_empty());
    let report = indexer::verify::verify(db, &running.generations.live())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        running.keys_matching(&owner_fields, "someone"),
        vec!["track:2"]
    );
    running.stop().await;
}

/// A batch reads a user, and a track of theirs whose row only shows on a later re-read (a
/// lagging replica). The track's own event is settled by that batch, so nothing would read the
/// user's count again: it must come from a read after the track's, not from the user's first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_read_after_its_uploader_in_one_batch_is_in_the_uploaders_count() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    let user = EntityKey::new(EntityKind::User, 1);
    testing::insert_user(db, 1, "uploader", "Up Loader", t0)
        .await
        .unwrap();
    let renamed = later(t0, 10);
    testing::rename(db, user, "Up Loader Again", renamed)
        .await
        .unwrap();
    let created = later(t0, 20);
    for (routing_key, body) in [
        event(Action::Save, user, renamed),
        event(Action::Create, track(1), created),
    ] {
        bus.publish(&routing_key, body);
    }
    // One batch with both; the track's row appears between its first re-read and its last.
    let mut config = fast_config();
    config.batch.max_wait = Duration::from_millis(30);
    config.lag_retries = vec![Duration::from_millis(5), Duration::from_millis(300)];
    let running = start_with(db, data.path(), &bus, config);
    tokio::time::sleep(Duration::from_millis(120)).await;
    testing::insert_track(db, 1, 1, "Late Song", created)
        .await
        .unwrap();
    running.settle().await;
    assert_eq!(running.tracks_titled("late"), vec![1]);
    let report = indexer::verify::verify(db, &running.generations.live())
        .await
        .unwrap();
    running.stop().await;
    assert!(report.is_clean() && report.counts_clean(), "{report}");
}

/// Under a steady stream the next batch starts a refresh interval after the last one started,
/// not as soon as it is committed: an event right behind another waits for the interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_under_a_stream_are_a_refresh_interval_apart() {
    let (site, data, bus, t0) = scene().await;
    let db = &site.db;
    testing::insert_user(db, 1, "pacer", "The Pacer", t0)
        .await
        .unwrap();
    for id in 1..=2 {
        testing::insert_track(db, id, 1, &format!("Paced{id} Song"), t0)
            .await
            .unwrap();
    }
    let interval = Duration::from_millis(300);
    let mut config = fast_config();
    config.refresh_interval = interval;
    let running = start_with(db, data.path(), &bus, config);

    let first_published = std::time::Instant::now();
    let (routing_key, body) = event(Action::Create, track(1), t0);
    bus.publish(&routing_key, body);
    running.settle().await;
    assert_eq!(running.tracks_titled("paced1"), vec![1]);
    let (routing_key, body) = event(Action::Create, track(2), t0);
    bus.publish(&routing_key, body);
    running.settle().await;
    assert_eq!(running.tracks_titled("paced2"), vec![2]);
    // The first batch started after its event was published; the second no sooner than the
    // interval after that.
    assert!(
        first_published.elapsed() >= interval,
        "the second batch came {:?} after the first event",
        first_published.elapsed()
    );
    running.stop().await;
}
