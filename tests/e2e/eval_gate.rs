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

/// The embedded Chinook catalog in a fresh SQLite database, indexed into a live generation.
async fn chinook(dir: &std::path::Path) -> (schemas::db::Db, Arc<Generations>) {
    let url = format!("sqlite://{}", dir.join("site.db").display());
    let db = schemas::db::Db::connect(&url).await.expect("sqlite");
    db.migrate().await.expect("migrate");
    site::seed::seed(
        &db,
        &site::seed::SeedOptions::chinook(),
        &site::progress::ProgressMeter::hidden(),
    )
    .await
    .expect("seed the embedded Chinook catalog");
    let generations = Generations::open(&dir.join("data")).expect("generations");
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
    (db, generations)
}

/// Disco's engine over the live generation with the popularity prior and `settings`.
fn disco(generations: &Generations, settings: SearchSettings) -> Answerer {
    let live = generations.live();
    live.reload().expect("reload");
    let snapshot = Snapshot {
        searcher: live.searcher(),
        definitions: live.definitions(),
    };
    let prior = PopularitySource::default()
        .prior(RankChoice::Active)
        .expect("popularity prior");
    Answerer::disco(snapshot, prior, settings).expect("layout")
}

#[tokio::test]
async fn chinook_known_items_do_not_regress() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, generations) = chinook(dir.path()).await;
    let set = quality::generate::generate(&db, "chinook", &GenerateOptions::default())
        .await
        .expect("generate the known-item set");
    assert!(set.queries.len() > 1_000, "{} queries", set.queries.len());
    let (names, _) = quality::generate::catalog(&db).await.expect("names");
    let variants = [
        Variant {
            label: "live".into(),
            answerer: disco(&generations, SearchSettings::default()),
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

/// Raters' judgments imported as JSONL drive the figures, and a changed variant moves them:
/// without typo fill-ins a misspelled title finds nothing, so its class drops to 0.
#[tokio::test]
async fn imported_judgments_score_variants_and_a_changed_variant_moves_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, generations) = chinook(dir.path()).await;
    let jsonl = r#"
{"set": "raters", "text": "Smooth", "class": "title", "judgments": [{"entity": "track:574", "grade": 3, "source": "rater", "who": "ana", "at": "2026-12-06T10:00:00Z"}]}
{"set": "raters", "text": "Smoth", "class": "misspelled", "judgments": [{"entity": "track:574", "grade": 3, "source": "rater", "who": "ana", "at": "2026-12-06T10:00:00Z"}]}
{"set": "raters", "text": "Aces High", "class": "title", "judgments": [{"entity": "track:1288", "grade": 3, "source": "rater", "who": "ana", "at": "2026-12-06T10:00:00Z"}, {"entity": "track:1344", "grade": 3, "source": "rater", "who": "bo", "at": "2026-12-06T10:01:00Z"}]}
"#;
    let imported =
        quality::store::import_jsonl(&db, jsonl, "raters.jsonl", quality::store::Replace::No)
            .await
            .expect("import");
    assert_eq!(
        (imported.sets, imported.queries, imported.judgments),
        (1, 3, 4)
    );
    let set = quality::store::load_set(&db, "raters").await.expect("load");
    let no_fuzzy = SearchSettings::named("no-fuzzy").expect("a named setting");
    let variants = [
        Variant {
            label: "default".into(),
            answerer: disco(&generations, SearchSettings::default()),
        },
        Variant {
            label: "no-fuzzy".into(),
            answerer: disco(&generations, no_fuzzy),
        },
    ];
    let report = quality::run::run(&set, &variants).await.expect("run");
    let json = report.to_json();
    let success = |variant: &str, class: &str| {
        json["variants"][variant][class]["success@1"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    assert_eq!(success("default", "title"), 1.0, "{report}");
    assert_eq!(success("default", "misspelled"), 1.0, "{report}");
    assert_eq!(success("no-fuzzy", "title"), 1.0, "{report}");
    assert_eq!(success("no-fuzzy", "misspelled"), 0.0, "{report}");
    let moved = report.regressions(&json_with(&report, "no-fuzzy", "default"), 0.005);
    assert!(
        moved.iter().any(|r| r.class == "misspelled"),
        "comparing no-fuzzy with default's figures flags the misspelled class: {moved:?}"
    );
}

/// `report`'s JSON with `variant`'s figures saved under the name `as_variant`: what comparing
/// a changed variant with the saved report of another looks like.
fn json_with(report: &quality::run::Report, as_variant: &str, variant: &str) -> serde_json::Value {
    let json = report.to_json();
    serde_json::json!({
        "set": json["set"],
        "variants": { as_variant: json["variants"][variant] },
    })
}
