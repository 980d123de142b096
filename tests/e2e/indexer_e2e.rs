//! The indexer end to end on real PostgreSQL and RabbitMQ (issue 3, "Checked by"). Each test
//! has its own database, exchange, queue and data directory.

use crate::support::{Env, eventually, later, matching, track, until_verified, user};
use indexer::testing;
use schemas::envelope::Action;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_save_delete_private_and_takedown_reach_search() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "acdc", "AC/DC", t0)
        .await
        .unwrap();
    for (id, title) in [
        (1, "Highway to Hell"),
        (2, "Hells Bells"),
        (3, "Hell Aint a Bad Place"),
        (4, "Shoot to Thrill"),
    ] {
        testing::insert_track(db, id, 1, title, t0).await.unwrap();
    }
    let running = env.start().await;
    env.publish(Action::Create, user(1), t0).await;
    for id in 1..=4 {
        env.publish(Action::Create, track(id), t0).await;
    }
    eventually("four tracks searchable", || {
        matching(&running.catalog, "title", "hell hells highway thrill").len() == 4
    })
    .await;
    assert_eq!(matching(&running.catalog, "full_name", "ac/dc"), vec![1]);
    assert_eq!(
        matching(&running.catalog, "owner_full_name", "ac/dc"),
        vec![1, 2, 3, 4],
        "owner names joined in"
    );

    let t1 = later(t0, 1);
    testing::rename(db, track(1), "Thunderstruck", t1)
        .await
        .unwrap();
    env.publish(Action::Save, track(1), t1).await;
    eventually("new title found", || {
        matching(&running.catalog, "title", "thunderstruck") == vec![1]
    })
    .await;
    assert!(
        matching(&running.catalog, "title", "highway").is_empty(),
        "old title gone"
    );

    testing::remove(db, track(2)).await.unwrap();
    env.publish(Action::Destroy, track(2), later(t0, 2)).await;
    testing::set_sharing(db, track(3), "private", later(t0, 2))
        .await
        .unwrap();
    env.publish(Action::Save, track(3), later(t0, 2)).await;
    testing::take_down(db, track(4), true, later(t0, 2))
        .await
        .unwrap();
    env.publish(Action::Save, track(4), later(t0, 2)).await;
    eventually("deleted, private and taken down gone", || {
        matching(&running.catalog, "title", "hell bells thrill").is_empty()
    })
    .await;
    assert_eq!(
        matching(&running.catalog, "title", "thunderstruck"),
        vec![1]
    );
    until_verified(db, env.data.path()).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_reverse_order_and_late_old_events_never_regress_even_across_a_restart() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "band", "The Band", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, 1, "first take", t0)
        .await
        .unwrap();
    testing::insert_track(db, 2, 1, "doomed song", t0)
        .await
        .unwrap();
    testing::rename(db, track(1), "second take", later(t0, 1))
        .await
        .unwrap();
    testing::rename(db, track(1), "final take", later(t0, 2))
        .await
        .unwrap();
    testing::soft_delete(db, track(2), later(t0, 3))
        .await
        .unwrap();
    // Every event, newest first, each twice.
    let history = [
        (Action::Destroy, track(2), later(t0, 3)),
        (Action::Save, track(1), later(t0, 2)),
        (Action::Save, track(1), later(t0, 1)),
        (Action::Create, track(2), t0),
        (Action::Create, track(1), t0),
        (Action::Create, user(1), t0),
    ];
    for (action, key, at) in history.iter().chain(history.iter()) {
        env.publish(*action, *key, *at).await;
    }
    let running = env.start().await;
    eventually("final title", || {
        matching(&running.catalog, "title", "take") == vec![1]
    })
    .await;
    until_verified(db, env.data.path()).await;
    assert!(matching(&running.catalog, "title", "first second doomed").is_empty());
    running.stop().await;

    // A restart: versions and tombstones come back from the index; old events stay old.
    let running = env.start().await;
    for (action, key, at) in &history[2..] {
        env.publish(*action, *key, *at).await;
    }
    // A marker behind them: once it is searchable, the old events before it were handled.
    testing::insert_track(db, 3, 1, "marker", later(t0, 4))
        .await
        .unwrap();
    env.publish(Action::Create, track(3), later(t0, 4)).await;
    eventually("marker indexed", || {
        matching(&running.catalog, "title", "marker") == vec![3]
    })
    .await;
    assert!(
        matching(&running.catalog, "title", "first second doomed").is_empty(),
        "no regression, no resurrection"
    );
    assert_eq!(matching(&running.catalog, "title", "final"), vec![1]);
    until_verified(db, env.data.path()).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_ahead_of_its_row_is_retried_then_indexed() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "lag", "Lagging Replica", t0)
        .await
        .unwrap();
    env.publish(Action::Create, user(1), t0).await;
    let running = env.start().await;
    // Indexed before its tracks exist: its event writes no track (see the owner-rename test).
    eventually("owner indexed", || {
        matching(&running.catalog, "full_name", "replica") == vec![1]
    })
    .await;
    // The replica has not seen the row yet: the event must wait on the retry queue.
    env.publish(Action::Create, track(7), t0).await;
    testing::insert_track(db, 8, 1, "old version", t0)
        .await
        .unwrap();
    env.publish(Action::Save, track(8), later(t0, 5)).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        matching(&running.catalog, "title", "version").is_empty(),
        "an older row is never indexed as fresh"
    );
    testing::insert_track(db, 7, 1, "late arrival", t0)
        .await
        .unwrap();
    testing::rename(db, track(8), "new version", later(t0, 5))
        .await
        .unwrap();
    eventually("retried event indexed", || {
        matching(&running.catalog, "title", "arrival") == vec![7]
    })
    .await;
    eventually("lagging save indexed", || {
        matching(&running.catalog, "title", "new") == vec![8]
    })
    .await;
    until_verified(db, env.data.path()).await;
    running.stop().await;
}

/// PostgreSQL + RabbitMQ: one event for a renamed user re-renders the user's tracks, which show
/// the name (the embedded suite checks playlists and groups too, and old events after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_rename_reaches_the_owners_tracks() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "angus", "Angus Young", t0)
        .await
        .unwrap();
    for id in 1..=3 {
        testing::insert_track(db, id, 1, &format!("riff {id}"), t0)
            .await
            .unwrap();
        env.publish(Action::Create, track(id), t0).await;
    }
    env.publish(Action::Create, user(1), t0).await;
    let running = env.start().await;
    eventually("tracks indexed with the owner's name", || {
        matching(&running.catalog, "owner_full_name", "angus") == vec![1, 2, 3]
    })
    .await;
    testing::rename(db, user(1), "Bon Scott", later(t0, 1))
        .await
        .unwrap();
    env.publish(Action::Save, user(1), later(t0, 1)).await;
    eventually("tracks show the new name", || {
        matching(&running.catalog, "owner_full_name", "scott") == vec![1, 2, 3]
    })
    .await;
    assert!(matching(&running.catalog, "owner_full_name", "angus").is_empty());
    until_verified(db, env.data.path()).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_envelopes_are_dead_lettered_with_a_reason_and_good_ones_around_them_index() {
    let env = Env::new().await;
    let db = env.db();
    let t0 = testing::now();
    testing::insert_user(db, 1, "good", "Good Events", t0)
        .await
        .unwrap();
    testing::insert_track(db, 1, 1, "before the junk", t0)
        .await
        .unwrap();
    testing::insert_track(db, 2, 1, "after the junk", t0)
        .await
        .unwrap();
    let running = env.start().await;
    env.publish(Action::Create, user(1), t0).await;
    env.publish(Action::Create, track(1), t0).await;
    env.publish_raw("create.track", b"not json at all").await;
    env.publish_raw("save.track", br#"{"occurred_at": "2026-01-01T00:00:00Z"}"#)
        .await;
    env.publish_raw("save.track", br#"{"id": 3, "occurred_at": "yesterday"}"#)
        .await;
    env.publish_raw(
        "update.track",
        br#"{"id": 3, "occurred_at": "2026-01-01T00:00:00Z"}"#,
    )
    .await;
    let mut huge = br#"{"id": 3, "occurred_at": "2026-01-01T00:00:00Z", "pad": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 5 * 1024 * 1024));
    huge.extend(br#""}"#);
    env.publish_raw("save.track", &huge).await;
    // Not ours: activity events are not even bound to the indexer's queue.
    env.publish_raw(
        "create.like",
        br#"{"id": 1, "occurred_at": "2026-01-01T00:00:00Z"}"#,
    )
    .await;
    env.publish(Action::Create, track(2), t0).await;
    eventually("good events indexed", || {
        matching(&running.catalog, "title", "junk") == vec![1, 2]
    })
    .await;
    let mut labels: Vec<String> = env
        .dead_letters(5)
        .await
        .into_iter()
        .map(|(_, label, reason)| {
            assert!(!reason.is_empty());
            label
        })
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        vec![
            "bad_time",
            "no_id",
            "not_json",
            "too_large",
            "unknown_action"
        ]
    );
    until_verified(db, env.data.path()).await;
    running.stop().await;
}

/// People's events have a queue of their own (`<queue>.owners`, the owner lane at the broker),
/// and a replica declared before it existed, with `*.user` bound to its main queue, loses that
/// binding when it declares again: each event lands in exactly one of the two queues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peoples_events_take_the_owner_queue_and_an_old_binding_moves_there() {
    use indexer::broker::AmqpSource;
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties};

    let env = Env::new().await;
    let connection = Connection::connect(&env.amqp.url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    // The topology as replicas declared it before the owner queue.
    channel
        .queue_bind(
            env.amqp.queue.as_str().into(),
            env.amqp.exchange.as_str().into(),
            "*.user".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    AmqpSource::declare(&env.amqp).await.unwrap();

    let t0 = testing::now();
    env.publish(Action::Save, user(1), t0).await;
    env.publish(Action::Save, user(2), t0).await;
    env.publish(Action::Save, track(1), t0).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut ready = Vec::new();
    for queue in [env.amqp.queue.clone(), env.amqp.owners_name()] {
        let declared = channel
            .queue_declare(queue.as_str().into(), passive, FieldTable::default())
            .await
            .unwrap();
        ready.push(declared.message_count());
    }
    assert_eq!(
        ready,
        vec![1, 2],
        "(main, owners): the track, then both people"
    );
}
