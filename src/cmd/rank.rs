//! `disco rank`: run the DiscoRank job, list, activate or export versions.
//!
//! ```text
//! disco rank                        # run: load graph, warm start, write + activate v<N>
//! disco rank --plain                # warm start by sweeps alone (no residual pushes)
//! disco rank --edges-out edges.tsv  # run, and also write the weighted edge list
//! disco rank list                   # versions, newest last, `*` marks the active one
//! disco rank activate 3             # serve v3 by default (rollback = activate an older one)
//! disco rank export 3 > v3.tsv      # TSV kind, id, score (default: the active version)
//! disco rank export-graph --format parquet DIR   # the graph for Spark (rank/spark/discorank.py)
//! disco rank import OUT              # the Spark job's scores as the next version, activated
//! ```

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use rank::{
    JobOptions, PageRankOptions, ProgressMode, RankStore, RankVersion, WarmStrategy, Weights,
};

use super::common::Globals;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RankArgs {
    #[command(subcommand)]
    command: Option<RankCommand>,
    /// Also write the weighted edge list the job computed on (TSV src, dst, weight; nodes as kind:id).
    #[arg(long, value_name = "FILE")]
    edges_out: Option<PathBuf>,
    /// Edge weights per activity kind, JSON [default: the built-in rank/weights.json].
    #[arg(long, env = "DISCO_RANK_WEIGHTS", value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Damping factor.
    #[arg(long, default_value_t = 0.85)]
    alpha: f64,
    /// Stop when one iteration changes the scores by less than this (L1).
    #[arg(long, default_value_t = 1e-9)]
    tolerance: f64,
    /// Give up after this many iterations.
    #[arg(long, default_value_t = 200)]
    max_iterations: u32,
    /// Start from uniform scores instead of the active version's.
    #[arg(long)]
    cold: bool,
    /// Warm start with residual pushes before the sweeps: the default (kept so that scripts
    /// that ask for it keep working).
    #[arg(long, conflicts_with_all = ["cold", "plain"])]
    push: bool,
    /// Warm start with Gauss-Seidel sweeps alone, no residual pass or pushes (more sweeps;
    /// no out-edge weights built while it runs).
    #[arg(long, conflicts_with = "cold")]
    plain: bool,
    /// Also run a cold start on the same graph and report both iteration counts.
    #[arg(long)]
    compare_cold: bool,
    /// Write the new version without making it active.
    #[arg(long)]
    no_activate: bool,
    /// Versions to keep (the active one is always kept).
    #[arg(long, env = "DISCO_RANK_KEEP", default_value_t = 5)]
    keep: usize,
}

#[derive(Debug, Subcommand)]
enum RankCommand {
    /// List kept versions (`*` = active).
    List,
    /// Make a kept version the one served by default.
    Activate {
        /// Version number, `3` or `v3`.
        version: RankVersion,
    },
    /// Print a version's scores as TSV (kind, id, score).
    Export {
        /// Version number [default: the active version].
        version: Option<RankVersion>,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write the weighted graph the job runs on for the Spark job (rank/spark/discorank.py):
    /// edges, nodes, personalization and, from the active version, a start vector.
    ExportGraph {
        /// Output format (Parquet is the only one).
        #[arg(long, value_enum, default_value_t = GraphFormat::Parquet)]
        format: GraphFormat,
        /// Directory to write (created if missing).
        dir: PathBuf,
        /// Edge weights per activity kind, JSON [default: the built-in rank/weights.json].
        #[arg(long, env = "DISCO_RANK_WEIGHTS", value_name = "FILE")]
        weights: Option<PathBuf>,
        /// Write no start vector (start.parquet), even when a version is active.
        #[arg(long)]
        cold: bool,
    },
    /// Turn the Spark job's output (OUT/scores, OUT/run.json) into the next rank version.
    Import {
        /// The job's --out directory.
        out: PathBuf,
        /// The graph directory it ran on [default: the one its run.json names].
        #[arg(long, value_name = "DIR")]
        graph: Option<PathBuf>,
        /// Write the new version without making it active.
        #[arg(long)]
        no_activate: bool,
        /// Versions to keep (the active one is always kept).
        #[arg(long, env = "DISCO_RANK_KEEP", default_value_t = 5)]
        keep: usize,
    },
}

/// Formats `disco rank export-graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum GraphFormat {
    Parquet,
}

pub async fn run(globals: Globals, args: RankArgs) -> anyhow::Result<()> {
    let store = RankStore::in_data_dir(&globals.data_dir)?;
    match args.command {
        None => run_job(&globals, &store, &args).await,
        Some(RankCommand::List) => list(&store),
        Some(RankCommand::Activate { version }) => {
            store.activate(version)?;
            println!("active rank version: {version}");
            Ok(())
        }
        Some(RankCommand::Export { version, out }) => {
            let version = match version {
                Some(v) => v,
                None => store
                    .active()?
                    .context("no active rank version; run `disco rank` first")?,
            };
            let scores = store.load(version)?;
            match out {
                Some(path) => {
                    let file =
                        std::fs::File::create(&path).with_context(|| path.display().to_string())?;
                    scores.write_tsv(&mut std::io::BufWriter::new(file))?;
                }
                None => scores.write_tsv(&mut std::io::BufWriter::new(std::io::stdout().lock()))?,
            }
            Ok(())
        }
        Some(RankCommand::ExportGraph {
            format: GraphFormat::Parquet,
            dir,
            weights,
            cold,
        }) => {
            let weights = weights_from(weights.as_deref())?;
            let db = globals.database().await?;
            let export =
                rank::spark::export_from_db(&db, &store, &weights, !cold, &dir, ProgressMode::Auto)
                    .await;
            db.close().await;
            let export = export?;
            let start = export.start.as_ref().map_or(String::new(), |s| {
                format!(
                    "; start vector from {} ({} nodes carried)",
                    s.from, s.carried
                )
            });
            println!(
                "graph for Spark in {}: {} nodes, {} edges ({} activities){start}",
                dir.display(),
                export.nodes,
                export.edges,
                export.activities
            );
            Ok(())
        }
        Some(RankCommand::Import {
            out,
            graph,
            no_activate,
            keep,
        }) => {
            let m = rank::spark::import(&store, &out, graph.as_deref(), !no_activate)?;
            store.prune(keep)?;
            println!(
                "rank {} from Spark: {} nodes, {} edges; {} iterations, residual {:.2e}{}; {}",
                m.version,
                m.nodes,
                m.edges,
                m.iterations,
                m.residual,
                if m.converged { "" } else { " (NOT converged)" },
                if no_activate {
                    "not activated"
                } else {
                    "active"
                }
            );
            Ok(())
        }
    }
}

async fn run_job(globals: &Globals, store: &RankStore, args: &RankArgs) -> anyhow::Result<()> {
    let weights = weights_from(args.weights.as_deref())?;
    let options = JobOptions {
        weights,
        pagerank: PageRankOptions {
            alpha: args.alpha,
            tolerance: args.tolerance,
            max_iterations: args.max_iterations,
            personalization: None,
        },
        warm_start: !args.cold,
        compare_cold: args.compare_cold,
        activate: !args.no_activate,
        keep: args.keep,
        edges_out: args.edges_out.clone(),
        progress: ProgressMode::Auto,
    };
    let db = globals.database().await?;
    let strategy = if args.plain {
        WarmStrategy::Plain
    } else {
        WarmStrategy::Push
    };
    let manifest = rank::run_job_with(&db, store, &options, strategy).await;
    db.close().await;
    let m = manifest?;
    let start = match &m.warm_start {
        Some(w) => {
            let cold = w
                .cold_iterations
                .map_or(String::new(), |c| format!(", cold start needs {c}"));
            let pushed = w.push.as_ref().map_or(String::new(), |p| {
                format!(
                    "; residual pass {:.2} + pushes {:.2} sweep-equivalents before the sweeps",
                    p.residual_sweeps, p.push_sweeps
                )
            });
            format!(
                "warm from {} ({} nodes carried{cold}{pushed})",
                w.from, w.carried
            )
        }
        None => "cold start".to_string(),
    };
    println!(
        "rank {}: {} nodes, {} edges ({} activities); {} iterations, residual {:.2e}{}; {start}",
        m.version,
        m.nodes,
        m.edges,
        m.activities,
        m.iterations,
        m.residual,
        if m.converged { "" } else { " (NOT converged)" },
    );
    println!(
        "load {:.2} s, compute {:.2} s, total {:.2} s; {}",
        m.duration.load_seconds,
        m.duration.compute_seconds,
        m.duration.total_seconds,
        if options.activate {
            "active"
        } else {
            "not activated"
        }
    );
    if let Some(path) = &args.edges_out {
        println!("edge list: {}", path.display());
    }
    Ok(())
}

/// The weights of `--weights FILE`, or the built-in ones.
fn weights_from(path: Option<&std::path::Path>) -> anyhow::Result<Weights> {
    Ok(match path {
        Some(path) => Weights::from_file(path)?,
        None => Weights::builtin(),
    })
}

fn list(store: &RankStore) -> anyhow::Result<()> {
    let active = store.active()?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "  version  created                    nodes      edges  iter  residual  start     seconds"
    )?;
    for m in store.list()? {
        let mark = if Some(m.version) == active { '*' } else { ' ' };
        let start = m
            .warm_start
            .as_ref()
            .map_or("cold".to_string(), |w| format!("warm {}", w.from));
        writeln!(
            out,
            "{mark} {:<8} {:<26} {:>9} {:>10} {:>5}  {:.2e}  {:<8} {:>7.2}",
            m.version.to_string(),
            m.created.format("%Y-%m-%d %H:%M:%S UTC"),
            m.nodes,
            m.edges,
            m.iterations,
            m.residual,
            start,
            m.duration.total_seconds
        )?;
    }
    Ok(())
}
