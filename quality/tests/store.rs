//! `quality::store`: judged query sets in the site's database (SQLite and a real PostgreSQL,
//! the same checks on both) and their JSON Lines form.

use chrono::{DateTime, Duration, TimeZone, Utc};
use quality::store::{self, ImportReport, JudgmentCounts, Replace};
use quality::{EvalQuery, Judgment, QualityError, QuerySet, Source};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

fn at(second: u32, micros: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, second).unwrap() + Duration::microseconds(micros)
}

fn key(kind: EntityKind, id: i64) -> EntityKey {
    EntityKey::new(kind, id)
}

fn judgment(
    entity: EntityKey,
    grade: u8,
    source: Source,
    who: &str,
    at: DateTime<Utc>,
) -> Judgment {
    Judgment {
        entity,
        grade,
        source,
        who: who.to_string(),
        at,
    }
}

/// Two known-item queries and one judged by a rater, with every optional part exercised:
/// an intended entity or none, judgments or none, several sources.
fn known_items() -> QuerySet {
    QuerySet {
        name: "known-items".to_string(),
        queries: vec![
            EvalQuery {
                text: "midnight city".to_string(),
                class: "title".to_string(),
                intended: Some(key(EntityKind::Track, 42)),
                judgments: vec![judgment(
                    key(EntityKind::Track, 42),
                    3,
                    Source::Generated,
                    "generate",
                    at(1, 123_456),
                )],
            },
            EvalQuery {
                text: "lo-fi \"beats\" to study to".to_string(),
                class: "topic".to_string(),
                intended: None,
                judgments: vec![
                    judgment(
                        key(EntityKind::Playlist, 7),
                        2,
                        Source::Rater,
                        "ana",
                        at(2, 0),
                    ),
                    judgment(
                        key(EntityKind::User, 9),
                        0,
                        Source::Clicks,
                        "clicks",
                        at(3, 1),
                    ),
                    judgment(
                        key(EntityKind::Group, 1),
                        1,
                        Source::Rater,
                        "bo",
                        at(4, 999_999),
                    ),
                ],
            },
            EvalQuery {
                text: "m83".to_string(),
                class: "artist".to_string(),
                intended: Some(key(EntityKind::User, 83)),
                judgments: vec![],
            },
        ],
    }
}

fn small(name: &str) -> QuerySet {
    QuerySet {
        name: name.to_string(),
        queries: vec![EvalQuery {
            text: "ambient".to_string(),
            class: "genre".to_string(),
            intended: None,
            judgments: vec![judgment(
                key(EntityKind::Track, 5),
                1,
                Source::Rater,
                "cy",
                at(5, 0),
            )],
        }],
    }
}

fn export(sets: &[&QuerySet]) -> String {
    let mut out = Vec::new();
    for set in sets {
        store::export_jsonl(set, &mut out).unwrap();
    }
    String::from_utf8(out).unwrap()
}

/// Rows of one of the eval tables, counted directly (the cascade is the database's doing).
async fn rows(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    let (n,): (i64,) = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
        }
    }
    .unwrap();
    n
}

async fn table_rows(db: &Db) -> [i64; 3] {
    [
        rows(db, "eval_query_sets").await,
        rows(db, "eval_queries").await,
        rows(db, "eval_judgments").await,
    ]
}

/// Everything the store does, against one database; run on SQLite and on PostgreSQL.
async fn exercise(db: &Db) {
    let set = known_items();
    assert!(matches!(
        store::load_set(db, "known-items").await,
        Err(QualityError::UnknownSet(name)) if name == "known-items"
    ));
    assert!(store::list_sets(db).await.unwrap().is_empty());

    // Save and load: the same set back, microseconds included.
    let before = Utc::now() - Duration::seconds(5);
    store::save_set(db, &set, Replace::No).await.unwrap();
    assert_eq!(store::load_set(db, "known-items").await.unwrap(), set);
    assert_eq!(table_rows(db).await, [1, 3, 4]);

    // `Replace::No` refuses an existing name and leaves the stored set alone.
    let mut other = small("known-items");
    let err = store::save_set(db, &other, Replace::No).await.unwrap_err();
    assert!(
        matches!(&err, QualityError::Invalid(m) if m == "query set `known-items` exists; pass --replace"),
        "{err}"
    );
    assert_eq!(store::load_set(db, "known-items").await.unwrap(), set);

    // A set without queries is still a set.
    store::save_set(
        db,
        &QuerySet {
            name: "empty".into(),
            queries: vec![],
        },
        Replace::No,
    )
    .await
    .unwrap();
    assert!(
        store::load_set(db, "empty")
            .await
            .unwrap()
            .queries
            .is_empty()
    );

    // The listing, by name, with counts by source.
    let list = store::list_sets(db).await.unwrap();
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["empty", "known-items"]);
    assert_eq!((list[0].queries, list[0].judgments.total()), (0, 0));
    assert_eq!(list[1].queries, 3);
    assert_eq!(
        list[1].judgments,
        JudgmentCounts {
            rater: 2,
            generated: 1,
            clicks: 1
        }
    );
    assert_eq!(list[1].judgments.of(Source::Rater), 2);
    assert!(list[1].created_at > before && list[1].created_at <= Utc::now());

    // Adding a judgment appends it; a later one of the same entity supersedes at read time.
    let regraded = judgment(
        key(EntityKind::Playlist, 7),
        3,
        Source::Rater,
        "cy",
        at(9, 0),
    );
    store::add_judgment(db, "known-items", 1, &regraded)
        .await
        .unwrap();
    let fresh = judgment(
        key(EntityKind::Track, 8),
        2,
        Source::Clicks,
        "clicks",
        at(10, 0),
    );
    store::add_judgment(db, "known-items", 0, &fresh)
        .await
        .unwrap();
    let loaded = store::load_set(db, "known-items").await.unwrap();
    assert_eq!(loaded.queries[1].judgments.len(), 4);
    assert_eq!(
        loaded.queries[1].judgments[..3],
        set.queries[1].judgments[..]
    );
    assert_eq!(loaded.queries[1].judgments[3], regraded);
    assert_eq!(loaded.queries[0].judgments[1], fresh);
    let graded = loaded.queries[1].graded().unwrap();
    assert_eq!(graded.grade(key(EntityKind::Playlist, 7)), 3);
    assert_eq!(graded.grade(key(EntityKind::Group, 1)), 1);
    assert_eq!(graded.relevant_count(), 2);
    let list = store::list_sets(db).await.unwrap();
    assert_eq!(list[1].judgments.total(), 6);

    // Sub-microsecond time is dropped, the same in both dialects.
    let nanos = judgment(
        key(EntityKind::Track, 9),
        1,
        Source::Rater,
        "ana",
        at(11, 0) + Duration::nanoseconds(1_234_567),
    );
    store::add_judgment(db, "known-items", 2, &nanos)
        .await
        .unwrap();
    let loaded = store::load_set(db, "known-items").await.unwrap();
    assert_eq!(loaded.queries[2].judgments[0].at, at(11, 1_234));

    // Judgments to nowhere are refused with what is missing.
    assert!(matches!(
        store::add_judgment(db, "nope", 0, &fresh).await,
        Err(QualityError::UnknownSet(name)) if name == "nope"
    ));
    let err = store::add_judgment(db, "known-items", 3, &fresh)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no query at position 3"), "{err}");
    let err = store::add_judgment(db, "empty", 0, &fresh)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has no queries"), "{err}");
    let bad_grade = judgment(key(EntityKind::Track, 1), 4, Source::Rater, "ana", at(0, 0));
    let err = store::add_judgment(db, "known-items", 0, &bad_grade)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("grade 4 of track:1"), "{err}");
    other.queries[0].judgments.push(bad_grade);
    let err = store::save_set(db, &other, Replace::Yes).await.unwrap_err();
    assert!(matches!(err, QualityError::Invalid(_)), "{err}");
    assert_eq!(table_rows(db).await, [2, 3, 7]);

    // Replacing cascades: the old set's queries and judgments go with it.
    store::save_set(db, &small("known-items"), Replace::Yes)
        .await
        .unwrap();
    assert_eq!(
        store::load_set(db, "known-items").await.unwrap(),
        small("known-items")
    );
    assert_eq!(table_rows(db).await, [2, 1, 1]);

    // Deleting cascades too, and says whether there was anything to delete.
    assert!(store::delete_set(db, "known-items").await.unwrap());
    assert!(!store::delete_set(db, "known-items").await.unwrap());
    assert!(store::delete_set(db, "empty").await.unwrap());
    assert_eq!(table_rows(db).await, [0, 0, 0]);
    assert!(matches!(
        store::load_set(db, "known-items").await,
        Err(QualityError::UnknownSet(_))
    ));

    // Importing JSONL stores every set in one go, or none of them.
    let text = export(&[&known_items(), &small("genres")]);
    let report = store::import_jsonl(db, &text, "sets.jsonl", Replace::No)
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            sets: 2,
            queries: 4,
            judgments: 5
        }
    );
    assert_eq!(
        store::load_set(db, "known-items").await.unwrap(),
        known_items()
    );
    assert_eq!(
        store::load_set(db, "genres").await.unwrap(),
        small("genres")
    );
    store::delete_set(db, "known-items").await.unwrap();
    let err = store::import_jsonl(db, &text, "sets.jsonl", Replace::No)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`genres` exists"), "{err}");
    assert!(matches!(
        store::load_set(db, "known-items").await,
        Err(QualityError::UnknownSet(_))
    ));
    let report = store::import_jsonl(db, &text, "sets.jsonl", Replace::Yes)
        .await
        .unwrap();
    assert_eq!(report.sets, 2);
    assert_eq!(table_rows(db).await, [2, 4, 5]);
}

mod store_tests {
    use super::*;

    #[test]
    fn store_jsonl_round_trips() {
        let sets = [known_items(), small("genres")];
        let text = export(&[&sets[0], &sets[1]]);
        assert_eq!(text.lines().count(), 4);
        assert!(
            text.starts_with(r#"{"set":"known-items","text":"midnight city","class":"title","intended":"track:42","judgments":[{"entity":"track:42","grade":3,"source":"generated","who":"generate","at":"#),
            "{text}"
        );
        // No `intended` key when there is none.
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .contains(r#""class":"topic","judgments""#)
        );
        assert_eq!(store::parse_jsonl(&text, "x.jsonl").unwrap(), sets);
    }

    #[test]
    fn store_jsonl_groups_lines_by_set_in_order_of_first_appearance() {
        let text = concat!(
            r#"{"set":"b","text":"one","class":"c"}"#,
            "\n\n   \n",
            r#"{"set":"a","text":"two","class":"c","intended":"user:3"}"#,
            "\r\n",
            r#"{"set":"b","text":"three","class":"c","judgments":[]}"#,
        );
        let sets = store::parse_jsonl(text, "x.jsonl").unwrap();
        let shape: Vec<(&str, Vec<&str>)> = sets
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.queries.iter().map(|q| q.text.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(shape, [("b", vec!["one", "three"]), ("a", vec!["two"])]);
        assert_eq!(sets[1].queries[0].intended, Some(key(EntityKind::User, 3)));
        assert!(store::parse_jsonl("\n \n", "x.jsonl").unwrap().is_empty());
    }

    #[test]
    fn store_jsonl_reports_the_first_bad_line() {
        let good = r#"{"set":"s","text":"ok","class":"c"}"#;
        let judged = |judgment: &str| {
            format!(r#"{{"set":"s","text":"q","class":"c","judgments":[{judgment}]}}"#)
        };
        let cases: Vec<(String, &str)> = vec![
            (
                r#"{"set":"s","text":"q","class":"c""#.to_string(),
                "EOF while parsing",
            ),
            ("not json".to_string(), "expected"),
            (
                r#"{"set":"s","class":"c"}"#.to_string(),
                "missing field `text`",
            ),
            (
                r#"{"text":"q","class":"c"}"#.to_string(),
                "missing field `set`",
            ),
            (
                r#"{"set":"s","text":"q"}"#.to_string(),
                "missing field `class`",
            ),
            (
                r#"{"set":" ","text":"q","class":"c"}"#.to_string(),
                "`set` is empty",
            ),
            (
                r#"{"set":"s","text":"","class":"c"}"#.to_string(),
                "`text` is empty",
            ),
            (
                judged(
                    r#"{"entity":"track:1","grade":4,"source":"rater","who":"a","at":"2025-03-01T12:00:00Z"}"#,
                ),
                "grade 4 of track:1 is out of range",
            ),
            (
                judged(
                    r#"{"entity":"track:1","grade":300,"source":"rater","who":"a","at":"2025-03-01T12:00:00Z"}"#,
                ),
                "invalid value: integer `300`",
            ),
            (
                judged(
                    r#"{"entity":"song:1","grade":1,"source":"rater","who":"a","at":"2025-03-01T12:00:00Z"}"#,
                ),
                "unknown entity kind `song`",
            ),
            (
                judged(
                    r#"{"entity":"track","grade":1,"source":"rater","who":"a","at":"2025-03-01T12:00:00Z"}"#,
                ),
                "not of the form kind:id",
            ),
            (
                judged(
                    r#"{"entity":"track:1","grade":1,"source":"vibes","who":"a","at":"2025-03-01T12:00:00Z"}"#,
                ),
                "unknown variant `vibes`",
            ),
            (
                judged(r#"{"entity":"track:1","grade":1,"source":"rater","who":"a"}"#),
                "missing field `at`",
            ),
            (
                r#"{"set":"s","text":"q","class":"c","intended":"track:x"}"#.to_string(),
                "id that is not an integer",
            ),
        ];
        for (bad, reason) in cases {
            // Line 4: a good line, a blank one, a good one, then the bad one, then another bad.
            let text = format!("{good}\n\n{good}\n{bad}\nnot json either\n");
            match store::parse_jsonl(&text, "sets.jsonl") {
                Err(QualityError::Jsonl {
                    origin,
                    line,
                    reason: got,
                }) => {
                    assert_eq!((origin.as_str(), line), ("sets.jsonl", 4), "{bad}: {got}");
                    assert!(got.contains(reason), "{bad}: `{got}` lacks `{reason}`");
                    assert!(!got.contains("line 1"), "{got}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let err = store::parse_jsonl("{\"set\":", "f.jsonl").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.jsonl: line 1: EOF while parsing a value (column 7)"
        );
    }

    #[tokio::test]
    async fn store_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("site.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        exercise(&db).await;
        db.close().await;
    }

    #[tokio::test]
    async fn store_on_postgres() {
        let pg = testkit::FreshPostgres::create().await;
        exercise(&pg.db).await;
        pg.db.close().await;
    }
}
