//! The rank job: load the graph, start from the active version, iterate, write a version.
//!
//! With an active version the run is a warm start: the old scores carried over by entity
//! ([`warm_start_vector`]), then residual pushes and Gauss-Seidel sweeps
//! ([`WarmStrategy::Push`], the default, [`crate::push`]): the least edge work after a small
//! change, at 12 bytes per edge, though sweeps alone can take less wall time; the manifest
//! records the residual pass and pushes beside the sweeps. [`WarmStrategy::Plain`]
//! ([`run_job_with`]) is sweeps alone.
//!
//! ```no_run
//! # async fn run(db: &schemas::db::Db) -> Result<(), rank::RankError> {
//! let store = rank::RankStore::in_data_dir("data")?;
//! let manifest = rank::run_job(db, &store, &rank::JobOptions::default()).await?;
//! println!("{}: {} nodes in {} iterations", manifest.version, manifest.nodes, manifest.iterations);
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use schemas::db::Db;

use crate::RankError;
use crate::graph::Graph;
use crate::kernel::{PageRankOptions, PageRankResult, pagerank};
use crate::load::load_graph;
use crate::progress::ProgressMode;
use serde::{Deserialize, Serialize};

use crate::push::{WarmPush, pagerank_warm};
use crate::scores::RankScores;
use crate::versions::{Durations, Manifest, RankStore, RankVersion, WarmStart};
use crate::weights::Weights;

/// How a run with a previous version starts from its scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmStrategy {
    /// Gauss-Seidel sweeps from the previous scores.
    Plain,
    /// Residual pushes, then sweeps ([`crate::push`]): far less edge work than `Plain` after a
    /// small change, though not less wall time. Needs no memory beyond the graph's 12 bytes
    /// per edge, unless the graph has more than 65,536 distinct edge weights (then 4 more per
    /// edge while pushing).
    #[default]
    Push,
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub weights: Weights,
    /// Damping, tolerance and iteration cap (no personalization: uniform teleport).
    pub pagerank: PageRankOptions,
    /// Start from the active version's scores when there is one.
    pub warm_start: bool,
    /// Also run a cold start on the same graph and record its iterations (costs a second run).
    pub compare_cold: bool,
    /// Make the new version the active one.
    pub activate: bool,
    /// Versions to keep (the active one is always kept).
    pub keep: usize,
    /// Also write the weighted edge list here (TSV `src dst weight`, nodes as `kind:id`).
    pub edges_out: Option<PathBuf>,
    pub progress: ProgressMode,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            weights: Weights::builtin(),
            pagerank: PageRankOptions {
                tolerance: 1e-9,
                ..PageRankOptions::default()
            },
            warm_start: true,
            compare_cold: false,
            activate: true,
            keep: 5,
            edges_out: None,
            progress: ProgressMode::Auto,
        }
    }
}

/// Runs the rank job once and returns the new version's manifest. A warm start uses residual
/// pushes ([`WarmStrategy::Push`]); [`run_job_with`] chooses.
pub async fn run_job(
    db: &Db,
    store: &RankStore,
    options: &JobOptions,
) -> Result<Manifest, RankError> {
    run_job_with(db, store, options, WarmStrategy::default()).await
}

/// [`run_job`] with the given warm start strategy (used only when there is a version to start
/// from and `options.warm_start` is set).
pub async fn run_job_with(
    db: &Db,
    store: &RankStore,
    options: &JobOptions,
    strategy: WarmStrategy,
) -> Result<Manifest, RankError> {
    let started = Instant::now();
    let loaded = load_graph(db, &options.weights, options.progress).await?;
    let graph = loaded.graph;
    tracing::info!(
        nodes = graph.node_count(),
        edges = graph.edge_count(),
        activities = loaded.activities,
        skipped = loaded.skipped,
        seconds = loaded.seconds,
        "rank graph loaded"
    );
    if let Some(path) = &options.edges_out {
        graph.write_edges_tsv(path)?;
    }

    let previous = match (options.warm_start, store.active()?) {
        (true, Some(v)) => Some((v, store.load(v)?)),
        _ => None,
    };
    let compute_started = Instant::now();
    let pagerank_options = options.pagerank.clone();
    let compare_cold = options.compare_cold;
    let (graph, run, warm_start) = tokio::task::spawn_blocking(move || {
        compute(graph, &pagerank_options, previous, strategy, compare_cold)
    })
    .await
    .map_err(|e| RankError::Input(format!("rank computation panicked: {e}")))??;
    let compute_seconds = compute_started.elapsed().as_secs_f64();

    let write_started = Instant::now();
    let version = store.next_version()?;
    let nodes_by_kind = graph.nodes().counts_by_kind();
    let mut manifest = Manifest {
        version,
        created: Utc::now(),
        nodes: graph.node_count() as u64,
        nodes_by_kind,
        edges: graph.edge_count() as u64,
        activities: loaded.activities,
        dangling: graph.dangling_count() as u64,
        iterations: run.iterations,
        residual: run.residual,
        converged: run.converged,
        alpha: options.pagerank.alpha,
        tolerance: options.pagerank.tolerance,
        warm_start,
        weights: options.weights,
        duration: Durations {
            load_seconds: loaded.seconds,
            compute_seconds,
            write_seconds: 0.0,
            total_seconds: 0.0,
        },
        graph_bytes: (graph.heap_bytes() + graph.nodes().heap_bytes()) as u64,
    };
    let nodes = graph.nodes().clone();
    drop(graph);
    let scores = RankScores::new(nodes, run.scores)?;
    manifest.duration.write_seconds = write_started.elapsed().as_secs_f64();
    manifest.duration.total_seconds = started.elapsed().as_secs_f64();
    store.write(&manifest, &scores)?;
    if options.activate {
        store.activate(version)?;
    }
    let removed = store.prune(options.keep)?;
    tracing::info!(
        %version,
        iterations = manifest.iterations,
        residual = manifest.residual,
        warm = manifest.warm_start.is_some(),
        pruned = removed.len(),
        "rank version written"
    );
    Ok(manifest)
}

/// The start vector carried over from `previous`: each node's old score where it had one, 1/N
/// for new nodes (the kernel renormalizes). Returns the vector and how many nodes were carried.
pub fn warm_start_vector(graph: &Graph, previous: &RankScores) -> (Vec<f64>, u64) {
    let fresh = 1.0 / graph.node_count().max(1) as f64;
    let mut carried = 0u64;
    let start = graph
        .nodes()
        .keys()
        .map(|key| match previous.get(key) {
            Some(score) if score > 0.0 => {
                carried += 1;
                score
            }
            _ => fresh,
        })
        .collect();
    (start, carried)
}

type Computed = (Graph, PageRankResult, Option<WarmStart>);

fn compute(
    graph: Graph,
    options: &PageRankOptions,
    previous: Option<(RankVersion, RankScores)>,
    strategy: WarmStrategy,
    compare_cold: bool,
) -> Result<Computed, RankError> {
    let Some((from, previous)) = previous else {
        let run = pagerank(&graph, options, None)?;
        return Ok((graph, run, None));
    };
    let (start, carried) = warm_start_vector(&graph, &previous);
    drop(previous);
    let (run, push) = match strategy {
        WarmStrategy::Plain => (pagerank(&graph, options, Some(&start))?, None),
        WarmStrategy::Push => {
            let WarmPush { result, work } = pagerank_warm(&graph, options, &start)?;
            tracing::info!(
                sweeps = work.sweeps,
                push_sweeps = work.push_sweeps,
                sweep_equivalents = work.sweep_equivalents(),
                residual_before = work.residual_before,
                out_weights_bytes = work.out_weights_bytes,
                "warm start with residual pushes"
            );
            (result, Some(work))
        }
    };
    let cold_iterations = if compare_cold {
        Some(pagerank(&graph, options, None)?.iterations)
    } else {
        None
    };
    let warm = WarmStart {
        from,
        carried,
        cold_iterations,
        push,
    };
    Ok((graph, run, Some(warm)))
}
