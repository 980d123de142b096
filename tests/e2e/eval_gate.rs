//! The relevance gate: the known-item set `disco eval generate` draws from the embedded Chinook
//! catalog (seed 42), searched by Disco's engine (popularity prior) and by the plain FTS5
//! baseline, compared with the committed report `quality/baselines/chinook.json`. A class whose
//! success@1 falls by more than 0.005 fails the build.
//!
//! After a ranking change that is meant to move the figures, write the new report with
//! `DISCO_EVAL_SAVE=quality/baselines/chinook.json cargo test --test e2e eval_gate` and commit it
//! with the change that moved it.

use std::sync::Arc;

use engine::prior::{PopularitySource, PriorSource, RankChoice};
use engine::search::SearchSettings;
use engine::source::Snapshot;
use indexer::reindex::{self, ReindexOptions, ReindexProgress, Sink};
use indexer::{CancellationToken, Generations};
use quality::baseline::Baseline;
use quality::generate::GenerateOptions;
use quality::run::{Answerer, Variant};

/// The committed report this run must not fall below.
const SAVED: &str = include_str!("../../quality/baselines/chinook.json");
const TOLERANCE: f64 = 0.005;

#[tokio::test]
async fn chinook_known_items_do_not_regress() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("site.db").display());
    let db = schemas::db::Db::connect(&url).await.expect("sqlite");
    db.migrate().await.expect("migrate");
    site::seed::seed(
        &db,
        &site::seed::SeedOptions::chinook(),
        &site::progress::ProgressMeter::hidden(),
    )
    .await
    .expect("seed the embedded Chinook catalog");
    let generations: Arc<Generations> =
        Generations::open(&dir.path().join("data")).expect("generations");
    let built = reindex::run(
        &db,
        &generations,
        &ReindexOptions::default(),
        &ReindexProgress::default(),
        Sink::Own,
        &CancellationToken::new(),
    )
    .await
    .expect("index the catalog");
    generations.swap(built.generation).expect("swap");

    let set = quality::generate::generate(&db, "chinook", &GenerateOptions::default())
        .await
        .expect("generate the known-item set");
    assert!(set.queries.len() > 1_000, "{} queries", set.queries.len());
    let live = generations.live();
    live.reload().expect("reload");
    let snapshot = Snapshot {
        searcher: live.searcher(),
        definitions: live.definitions(),
    };
    let prior = PopularitySource::default()
        .prior(RankChoice::Active)
        .expect("popularity prior");
    let (names, _) = quality::generate::catalog(&db).await.expect("names");
    let variants = [
        Variant {
            label: "live".into(),
            answerer: Answerer::disco(snapshot, prior, SearchSettings::default()).expect("layout"),
        },
        Variant {
            label: "baseline".into(),
            answerer: Answerer::Baseline(Baseline::build(&names).await.expect("fts5")),
        },
    ];
    let report = quality::run::run(&set, &variants).await.expect("run");
    let json = report.to_json();
    if let Ok(path) = std::env::var("DISCO_EVAL_SAVE") {
        let text = serde_json::to_string_pretty(&json).expect("json") + "\n";
        std::fs::write(&path, text).expect("write the report");
    }

    let saved: serde_json::Value = serde_json::from_str(SAVED).expect("the committed report");
    let regressions = report.regressions(&saved, TOLERANCE);
    assert!(
        regressions.is_empty(),
        "success@1 fell below quality/baselines/chinook.json:\n{}\n\n{report}",
        regressions
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let overall = |variant: &str| json["variants"][variant]["overall"]["success@1"].as_f64();
    assert!(
        overall("live") >= overall("baseline"),
        "Disco behind the plain baseline overall:\n{report}"
    );
}
