//! `disco eval`: judged query sets and offline evaluation — draw a known-item set from the
//! catalog, import and export sets as JSONL, and run a set against variants side by side with
//! a plain FTS5 baseline, failing when a class falls below a saved baseline file; and type a
//! set key by key into typeahead (`eval suggest`) beside a plain prefix trie and fuzzy scan.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::prior::PriorSource;
use engine::ranks::RankPriors;
use engine::source::Snapshot;
use indexer::{Generation, Generations};
use quality::baseline::Baseline;
use quality::run::{Answerer, Variant};
use quality::store::{self, Replace};
use quality::variant::VariantSpec;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: EvalCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run a query set against variants side by side (default: `live` and `baseline`).
    Run(RunArgs),
    /// Type each known-item query key by key into the suggester (as `serve` builds it), beside
    /// a plain prefix trie and a plain fuzzy scan.
    Suggest(SuggestArgs),
    /// Draw a known-item set from the catalog and save it.
    Generate(GenerateArgs),
    /// List the saved query sets.
    Sets,
    /// Import query sets (queries and judgments) from a JSONL file.
    Import {
        file: PathBuf,
        /// Replace sets that already exist.
        #[arg(long)]
        replace: bool,
    },
    /// Turn the click log into graded judgments (clicks over expected clicks at each position)
    /// and save them as a query set that `disco eval run --set <name>` scores against.
    JudgmentsFromClicks {
        /// The set to write (replaced: it is derived from the log each time).
        #[arg(long, default_value = "clicks")]
        set: String,
        /// Only searches logged in the last this many days.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// A (query, result) pair is judged once shown this many times.
        #[arg(long, default_value_t = quality::clicks::DEFAULT_MIN_IMPRESSIONS)]
        min_impressions: usize,
    },
    /// Export a query set as JSONL (to standard output without --out).
    Export {
        #[arg(long)]
        set: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The set's name.
    #[arg(long, default_value = "known-items")]
    pub set: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// At most this many queries per class.
    #[arg(long, default_value_t = 200)]
    pub per_class: usize,
    /// Replace a set of the same name.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The set to run.
    #[arg(long, default_value = "known-items")]
    pub set: String,
    /// A variant, repeatable: `baseline` (SQLite FTS5 bm25), or comma-separated choices of
    /// `gen=<n>` (default: the live generation), `rank=<v>|none` (default: the active
    /// version), `setting=<name>` (named ranking settings: default, no-fuzzy).
    #[arg(long = "variant", default_values = ["live", "baseline"])]
    pub variants: Vec<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// The set to type (its known-item queries).
    #[arg(long, default_value = "known-items")]
    pub set: String,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// How `eval run` and `eval suggest` show, keep and gate their report.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// A saved report (JSON) to compare with: exit non-zero when a class's gated figure
    /// (success@1 for `run`, the share found within 3 keys for `suggest`) is lower by more
    /// than --tolerance.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    #[arg(long, default_value_t = 0.005)]
    pub tolerance: f64,
    /// Also print up to this many known-item queries per variant that were missed (`run`: not
    /// first; `suggest`: not found at the full text).
    #[arg(long, default_value_t = 0)]
    pub misses: usize,
    /// Write this report (JSON) here, to serve as a baseline later.
    #[arg(long)]
    pub save: Option<PathBuf>,
}

pub async fn run(globals: Globals, args: EvalArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    match args.command {
        EvalCommand::Run(args) => run_set(&globals, &db, args).await?,
        EvalCommand::Suggest(args) => suggest_set(&globals, &db, args).await?,
        EvalCommand::Generate(args) => {
            let options = quality::generate::GenerateOptions {
                seed: args.seed,
                per_class: args.per_class,
            };
            let set = quality::generate::generate(&db, &args.set, &options).await?;
            let replace = if args.replace {
                Replace::Yes
            } else {
                Replace::No
            };
            store::save_set(&db, &set, replace).await?;
            println!("query set {}: {} queries", set.name, set.queries.len());
        }
        EvalCommand::Sets => {
            for set in store::list_sets(&db).await? {
                let j = &set.judgments;
                println!(
                    "{}\t{} queries\tjudgments: {} rater, {} generated, {} clicks\tcreated {}",
                    set.name, set.queries, j.rater, j.generated, j.clicks, set.created_at
                );
            }
        }
        EvalCommand::Import { file, replace } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let replace = if replace { Replace::Yes } else { Replace::No };
            let origin = file.display().to_string();
            let report = store::import_jsonl(&db, &text, &origin, replace).await?;
            println!(
                "imported {} set(s), {} queries, {} judgments",
                report.sets, report.queries, report.judgments
            );
        }
        EvalCommand::JudgmentsFromClicks {
            set,
            days,
            min_impressions,
        } => {
            let since = chrono::Utc::now() - chrono::Duration::days(days);
            let (queries, clicks) = quality::click_log::load(&db, None, Some(since)).await?;
            let options = quality::clicks::ClickJudgmentOptions { min_impressions };
            let judged = quality::clicks::judgments_from_clicks(&queries, &clicks, &options);
            let derived = quality::clicks::judged_set(&set, &judged, chrono::Utc::now());
            store::save_set(&db, &derived, Replace::Yes).await?;
            println!(
                "query set {set}: {} queries, {} judgments from {} searches and {} clicks",
                derived.queries.len(),
                judged.len(),
                queries.len(),
                clicks.len()
            );
        }
        EvalCommand::Export { set, out } => {
            let set = store::load_set(&db, &set).await?;
            match out {
                Some(path) => {
                    let mut file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    store::export_jsonl(&set, &mut file)?;
                }
                None => store::export_jsonl(&set, &mut std::io::stdout().lock())?,
            }
        }
    }
    db.close().await;
    Ok(())
}

async fn run_set(globals: &Globals, db: &schemas::db::Db, args: RunArgs) -> anyhow::Result<()> {
    let set = store::load_set(db, &args.set).await?;
    let generations = Generations::open(&globals.data_dir)?;
    let priors = RankPriors::open(rank::RankStore::in_data_dir(&globals.data_dir)?);
    let mut variants = Vec::new();
    for spec in &args.variants {
        let answerer = if spec == "baseline" {
            let (names, _) = quality::generate::catalog(db).await?;
            Answerer::Baseline(Baseline::build(&names).await?)
        } else {
            let choice = VariantSpec::parse(spec)?;
            let handle = match choice.generation.map(Generation) {
                Some(g) => generations
                    .get(g)
                    .with_context(|| format!("variant {spec}: no generation {g}"))?,
                None => generations.live(),
            };
            handle.reload()?;
            let snapshot = Snapshot {
                searcher: handle.searcher(),
                definitions: handle.definitions(),
            };
            let prior = priors
                .prior(choice.rank)
                .with_context(|| format!("variant {spec}"))?;
            Answerer::disco(snapshot, prior, choice.settings)?
        };
        variants.push(Variant {
            label: spec.clone(),
            answerer,
        });
    }
    let report = quality::run::run(&set, &variants).await?;
    let json = report.to_json();
    if args.report.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{report}");
    }
    for (label, _) in &report.variants {
        let shown = report.misses.iter().filter(|m| &m.variant == label);
        for miss in shown.take(args.report.misses) {
            let rank = miss.rank.map_or("-".to_string(), |r| r.to_string());
            let first = miss.first.map_or("nothing".to_string(), |k| k.to_string());
            println!(
                "miss {label} [{}] {:?}: wanted {} at {rank}, first {first}",
                miss.class, miss.text, miss.intended
            );
        }
    }
    save_and_gate(
        &json,
        args.report.save.as_deref(),
        args.report.baseline.as_deref(),
        |saved| report.regressions(saved, args.report.tolerance),
    )
}

/// `disco eval suggest`: builds the suggester as `serve` does (DiscoRank's active version where
/// scored, popularity otherwise), reads the same names and weights for the plain baselines,
/// types the set, prints, saves and gates.
async fn suggest_set(
    globals: &Globals,
    db: &schemas::db::Db,
    args: SuggestArgs,
) -> anyhow::Result<()> {
    use quality::typeahead::{self, Names};

    let set = store::load_set(db, &args.set).await?;
    let ranks = rank::RankStore::in_data_dir(&globals.data_dir)?;
    let active = ranks.load_active()?;
    match &active {
        Some((version, _)) => {
            eprintln!("suggest prior: DiscoRank {version}, popularity where unscored")
        }
        None => eprintln!("suggest prior: popularity (no active DiscoRank version)"),
    }
    let scores = active.map(|(_, scores)| std::sync::Arc::new(scores));
    let prior = suggest::SuggestPrior::new(move |key, popularity| {
        scores
            .as_ref()
            .and_then(|s| s.relative(key))
            .unwrap_or(popularity)
    });
    let suggester = suggest::Suggester::new(suggest::SuggestIndex::empty());
    let built = suggest::rebuild(&suggester, db, &prior, None).await?;
    eprintln!("suggest: {built}");
    let records = suggest::names_db::load(db, &prior).await?;
    let names = Names::from_records(&records, &suggester.factors());
    let report = typeahead::measure(&set, &suggester, &names);
    let json = report.to_json();
    if args.report.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{report}");
    }
    for (label, _) in &report.variants {
        for miss in report.misses(label).take(args.report.misses) {
            let keys = miss
                .found
                .map_or("never while typing".to_string(), |(k, r)| {
                    format!("at key {k} (rank {r}) while typing")
                });
            let first = miss
                .full_first
                .map_or("nothing".to_string(), |k| k.to_string());
            println!(
                "miss {label} [{}] {:?}: wanted {}, found {keys}; full text first {first}",
                miss.class, miss.text, miss.intended
            );
        }
    }
    save_and_gate(
        &json,
        args.report.save.as_deref(),
        args.report.baseline.as_deref(),
        |saved| report.regressions(saved, args.report.tolerance),
    )
}

/// Writes `json` to `save`, and fails when `regressions` finds any against the report saved
/// at `baseline`: the gate of `eval run` and `eval suggest`.
fn save_and_gate<R: std::fmt::Display>(
    json: &serde_json::Value,
    save: Option<&std::path::Path>,
    baseline: Option<&std::path::Path>,
    regressions: impl FnOnce(&serde_json::Value) -> Vec<R>,
) -> anyhow::Result<()> {
    if let Some(path) = save {
        std::fs::write(path, serde_json::to_string_pretty(json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let Some(path) = baseline else {
        return Ok(());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the baseline {}", path.display()))?;
    let saved: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a saved report", path.display()))?;
    let found = regressions(&saved);
    for regression in &found {
        eprintln!("regression: {regression}");
    }
    if !found.is_empty() {
        anyhow::bail!(
            "{} class(es) fell below {} beyond the tolerance",
            found.len(),
            path.display()
        );
    }
    Ok(())
}
