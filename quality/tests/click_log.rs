//! The click log and the experiments table on both dialects: written in a batch, read back
//! per experiment and by age, summarised, pruned; experiments created once, listed, stopped.

use chrono::{DateTime, Duration, Utc};
use quality::click_log::{self, Endpoint, LogEntry};
use quality::clicks::{Click, Mode, ServedQuery, Shown};
use quality::experiments::{self, Arm, Experiment};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

fn track(id: i64) -> EntityKey {
    EntityKey::new(EntityKind::Track, id)
}

fn served(
    id: &str,
    text: &str,
    total: u64,
    experiment: Option<&str>,
    at: DateTime<Utc>,
) -> ServedQuery {
    ServedQuery {
        query_id: id.to_string(),
        session: "s1".to_string(),
        text: text.to_string(),
        total,
        experiment: experiment.map(str::to_string),
        arm: None,
        shown: (1..=total.min(3) as i64)
            .map(|i| Shown {
                entity: track(i),
                arm: experiment.map(|_| {
                    if i % 2 == 1 {
                        "a".to_string()
                    } else {
                        "b".to_string()
                    }
                }),
            })
            .collect(),
        at,
    }
}

async fn exercise(db: &Db) {
    let now = Utc::now();
    let old = now - Duration::days(40);
    let entries = vec![
        LogEntry::Served {
            endpoint: Endpoint::Search,
            query: served("q1", "Love", 3, Some("mix"), now),
        },
        LogEntry::Served {
            endpoint: Endpoint::Search,
            query: served("q2", "nothing here", 0, None, now),
        },
        LogEntry::Served {
            endpoint: Endpoint::Suggest,
            query: served("q3", "lo", 3, None, now),
        },
        LogEntry::Served {
            endpoint: Endpoint::Search,
            query: served("q4", "love", 3, None, old),
        },
        LogEntry::Impression {
            query_id: "q1".into(),
            session: "s1".into(),
            shown: 3,
            at: now,
        },
        LogEntry::Click {
            session: "s1".into(),
            click: Click {
                query_id: "q1".into(),
                position: 2,
                entity: track(2),
                at: now,
            },
        },
        LogEntry::Click {
            session: "s1".into(),
            click: Click {
                query_id: "q4".into(),
                position: 1,
                entity: track(1),
                at: old,
            },
        },
    ];
    assert_eq!(click_log::write(db, &entries).await.unwrap(), entries.len());
    // A query id logged twice (a retried batch) is kept once.
    click_log::write(db, &entries[..1]).await.unwrap();

    let (searches, clicks) = click_log::load(db, None, None).await.unwrap();
    let ids: Vec<&str> = searches.iter().map(|s| s.query_id.as_str()).collect();
    assert_eq!(ids, ["q4", "q1", "q2"], "searches only, oldest first");
    let q1 = &searches[1];
    assert_eq!(
        q1.shown[1],
        Shown {
            entity: track(2),
            arm: Some("b".into())
        }
    );
    assert_eq!(q1.experiment.as_deref(), Some("mix"));
    assert_eq!(clicks.len(), 2);

    let (mix, mix_clicks) = click_log::load(db, Some("mix"), None).await.unwrap();
    assert_eq!((mix.len(), mix_clicks.len()), (1, 1));
    assert_eq!(
        (mix_clicks[0].position, mix_clicks[0].entity),
        (2, track(2))
    );

    let summary = click_log::summary(db, now - Duration::hours(1), 10)
        .await
        .unwrap();
    assert_eq!(summary.searches, 2);
    assert_eq!(summary.zero_result_rate, Some(0.5));
    assert_eq!(summary.click_through_rate, Some(0.5));
    assert_eq!(summary.click_positions[1], 1);
    assert_eq!(summary.top_zero_result, [("nothing here".to_string(), 1)]);

    let pruned = click_log::prune(db, now - Duration::days(30))
        .await
        .unwrap();
    assert_eq!((pruned.searches, pruned.events), (1, 1));
    let (left, _) = click_log::load(db, None, None).await.unwrap();
    assert_eq!(left.len(), 2);

    // A batch larger than one statement's rows.
    let many: Vec<LogEntry> = (0..250)
        .flat_map(|i| {
            let id = format!("m{i}");
            [
                LogEntry::Served {
                    endpoint: Endpoint::Search,
                    query: served(&id, "many", 3, None, now),
                },
                LogEntry::Click {
                    session: "s2".into(),
                    click: Click {
                        query_id: id,
                        position: 1,
                        entity: track(1),
                        at: now,
                    },
                },
            ]
        })
        .collect();
    assert_eq!(click_log::write(db, &many).await.unwrap(), 500);
    let (all, all_clicks) = click_log::load(db, None, None).await.unwrap();
    assert_eq!((all.len(), all_clicks.len()), (252, 251));

    // Experiments: made once, listed, stopped once.
    let arms = vec![
        Arm::parse("a:rank=active").unwrap(),
        Arm::parse("b:rank=none").unwrap(),
    ];
    let made = Experiment::new("mix", Mode::Interleave, arms, 0.25, now).unwrap();
    experiments::create(db, &made).await.unwrap();
    assert!(
        experiments::create(db, &made).await.is_err(),
        "names are never reused"
    );
    assert_eq!(
        experiments::running(db).await.unwrap(),
        std::slice::from_ref(&made)
    );
    let stopped = experiments::stop(db, "mix", now).await.unwrap();
    assert!(stopped.stopped_at.is_some());
    assert!(experiments::running(db).await.unwrap().is_empty());
    assert!(experiments::stop(db, "mix", now).await.is_err());
    assert_eq!(experiments::list(db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn click_log_and_experiments_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("site.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    exercise(&db).await;
    db.close().await;
}

#[tokio::test]
async fn click_log_and_experiments_on_postgres() {
    let pg = testkit::FreshPostgres::create().await;
    exercise(&pg.db).await;
    pg.db.close().await;
}
