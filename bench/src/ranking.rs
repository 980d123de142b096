//! The rank benchmark: our kernel cold and warm on a generated weighted graph, side by side
//! with python-igraph (PRPACK) and networkx on the very same edge list.
//!
//! ```no_run
//! let options = bench::ranking::BenchOptions {
//!     python: Some("/tmp/rankref/bin/python".into()), // a venv with networkx, python-igraph
//!     ..bench::ranking::BenchOptions::default()           // 1M nodes, 10M edges, 1% churn
//! };
//! let report = bench::ranking::run(&options).unwrap();
//! println!("{report}"); // a Markdown table
//! ```
//!
//! The graph ([`GraphShape::Activity`], the default) is the site's activity graph as
//! [`crate::synthetic_graph`] generates it: tracks, users, playlists and groups with power-law
//! in-degrees (preferential attachment), power-law activity per user, a quarter of users passive
//! (dangling), the real edge kinds and weights, parallel activities summed, `edges` distinct
//! edges. The churned graph changes 1% of the edges: half of that removed uniformly, as many new
//! activities added by the same preferential process. [`GraphShape::Uniform`] is the earlier,
//! easier graph (uniform sources, skewed targets, uniform churn), kept for comparison.
//! "Cold" and "warm" both run on the churned graph with the same kernel and stopping rule;
//! "warm" starts from the base graph's scores (computed to the same tolerance). The Python
//! libraries run on the churned graph's merged edge list.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::synthetic_graph::{ActivityGenerator, Edge};
use anyhow::{Context, bail};
use rank::NodeTable;
use rank::pagerank_warm;
use rank::{Graph, GraphBuilder};
use rank::{Method, PageRankOptions, l1_distance, pagerank_with};

/// The Python half, shipped inside the crate.
const PYTHON_SCRIPT: &str = include_str!("../reference/bench_python.py");

/// Which generated graph to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphShape {
    /// The site's activity graph: power-law, preferential churn ([`crate::synthetic_graph`]).
    Activity,
    /// Uniform sources, skewed targets, uniform churn: mixes unusually fast.
    Uniform,
}

/// What to generate and whom to compare with.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub graph: GraphShape,
    pub nodes: u32,
    pub edges: usize,
    /// Fraction of edges replaced between the base and the churned graph.
    pub churn: f64,
    /// L1 threshold of our kernel (networkx gets `tolerance / N`, its convention).
    pub tolerance: f64,
    pub seed: u64,
    /// A Python with `numpy` and `python-igraph` (and `networkx`); `None` skips them.
    pub python: Option<PathBuf>,
    /// Also run networkx (slow: minutes and several GB at 10M edges).
    pub networkx: bool,
    /// Also run the PySpark job (`rank/spark/discorank.py`) in local mode on the same graph,
    /// exported as Parquet; by default when `DISCO_BENCH_SPARK` is set (the bench's flags are
    /// not this module's).
    pub spark: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            graph: GraphShape::Activity,
            nodes: 1_000_000,
            edges: 10_000_000,
            churn: 0.01,
            tolerance: 1e-6,
            seed: 42,
            python: None,
            networkx: true,
            spark: std::env::var_os("DISCO_BENCH_SPARK").is_some(),
        }
    }
}

/// One implementation's figures.
#[derive(Debug, Clone)]
pub struct BenchRow {
    pub name: String,
    /// Time of the PageRank computation alone.
    pub seconds: f64,
    /// Time to build the library's graph from the edge list (not counted in `seconds`).
    pub build_seconds: Option<f64>,
    /// Sweeps over all edges (for a warm start with pushes: the sweeps after the pushes).
    pub iterations: Option<u32>,
    /// All the edge work in sweep-equivalents (edges touched / |E|): the sweeps, plus the
    /// residual pass and the pushes of a warm start with pushes.
    pub sweep_equivalents: Option<f64>,
    /// L1 distance from igraph PRPACK's scores (the most exact solver here), when it ran.
    pub l1_vs_prpack: Option<f64>,
    /// For a warm run: L1 distance from the cold run of the same kernel.
    pub l1_vs_cold: Option<f64>,
    /// Our kernel's graph memory per edge during the run: the graph's per-edge arrays, plus
    /// the out-edge weights a warm start with pushes builds and holds while it pushes.
    pub bytes_per_edge: Option<f64>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub nodes: usize,
    pub edges: usize,
    pub dangling: usize,
    pub threads: usize,
    pub generate_seconds: f64,
    pub build_seconds: f64,
    pub bytes_per_edge: f64,
    pub graph_megabytes: f64,
    pub tolerance: f64,
    pub rows: Vec<BenchRow>,
    /// Why a comparison is missing, if one is.
    pub notes: Vec<String>,
}

/// Turns the base graph's edges into the churned graph's.
type Churn = Box<dyn FnMut(&mut Vec<Edge>)>;

/// Generates the graphs, runs every implementation and compares them.
pub fn run(options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let n = options.nodes;
    if n < 10 || options.edges == 0 {
        bail!("need at least 10 nodes and 1 edge");
    }
    let started = Instant::now();
    let (mut edges, mut churn): (Vec<Edge>, Churn) = match options.graph {
        GraphShape::Activity => {
            let mut generator = ActivityGenerator::new(n, options.seed);
            let edges = generator.edges(options.edges);
            let fraction = options.churn;
            (
                edges,
                Box::new(move |edges| generator.churn(edges, fraction)),
            )
        }
        GraphShape::Uniform => {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            let edges = (0..options.edges)
                .map(|_| random_edge(&mut rng, n))
                .collect();
            let fraction = options.churn;
            (
                edges,
                Box::new(move |edges| uniform_churn(&mut rng, edges, n, fraction)),
            )
        }
    };
    let generate_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let base = build(n, &edges)?;
    let build_seconds = started.elapsed().as_secs_f64();
    let kernel = PageRankOptions {
        tolerance: options.tolerance,
        max_iterations: 1000,
        ..PageRankOptions::default()
    };
    let methods = [
        (Method::GaussSeidel, "disco kernel (Gauss-Seidel)"),
        (Method::Power, "disco kernel (power iteration)"),
    ];
    let mut base_scores = Vec::new();
    for (method, _) in methods {
        base_scores.push(pagerank_with(&base, &kernel, None, method)?.scores);
    }
    drop(base);

    churn(&mut edges);
    let graph = build(n, &edges)?;
    drop(edges);

    let mut report = BenchReport {
        nodes: graph.node_count(),
        edges: graph.edge_count(),
        dangling: graph.dangling_count(),
        threads: rayon::current_num_threads(),
        generate_seconds,
        build_seconds,
        bytes_per_edge: graph.bytes_per_edge(),
        graph_megabytes: graph.heap_bytes() as f64 / 1e6,
        tolerance: options.tolerance,
        rows: Vec::new(),
        notes: Vec::new(),
    };
    let mut ours_scores = Vec::new();
    for ((method, name), base) in methods.into_iter().zip(&base_scores) {
        let row = |what: &str, seconds, iterations: u32, l1_vs_cold| BenchRow {
            name: format!("{name}, {what}"),
            seconds,
            build_seconds: Some(build_seconds),
            iterations: Some(iterations),
            sweep_equivalents: Some(iterations as f64),
            l1_vs_prpack: None,
            l1_vs_cold,
            bytes_per_edge: Some(graph.bytes_per_edge()),
        };
        let started = Instant::now();
        let cold = pagerank_with(&graph, &kernel, None, method)?;
        let cold_seconds = started.elapsed().as_secs_f64();
        report
            .rows
            .push(row("cold", cold_seconds, cold.iterations, None));
        let started = Instant::now();
        let warm = pagerank_with(&graph, &kernel, Some(base), method)?;
        let warm_seconds = started.elapsed().as_secs_f64();
        let warm_vs_cold = l1_distance(&cold.scores, &warm.scores);
        let plain = if method == Method::GaussSeidel {
            "warm, sweeps alone (1% churn)"
        } else {
            "warm (1% churn)"
        };
        report.rows.push(row(
            plain,
            warm_seconds,
            warm.iterations,
            Some(warm_vs_cold),
        ));
        if method == Method::GaussSeidel {
            report.notes.push(format!(
                "the churn moved the PageRank vector by L1 {:.2e} (base graph's scores vs churned graph's)",
                l1_distance(base, &cold.scores)
            ));
            let started = Instant::now();
            let pushed = pagerank_warm(&graph, &kernel, base)?;
            let pushed_seconds = started.elapsed().as_secs_f64();
            let work = pushed.work;
            let peak = graph.bytes_per_edge()
                + work.out_weights_bytes as f64 / graph.edge_count().max(1) as f64;
            report.rows.push(BenchRow {
                sweep_equivalents: Some(work.sweep_equivalents()),
                bytes_per_edge: Some(peak),
                ..row(
                    "warm, pushes + sweeps (default, 1% churn)",
                    pushed_seconds,
                    pushed.result.iterations,
                    Some(l1_distance(&cold.scores, &pushed.result.scores)),
                )
            });
            report.notes.push(format!(
                "warm, pushes + sweeps: {:.2} sweep-equivalents = residual pass {:.0} + pushes \
                 {:.2} ({} class passes, {} node pushes, {} worklist entries examined) + {} \
                 sweeps; residual L1 {:.2e} → {:.2e}; {:.3} s = residual {:.3} + pushes {:.3} (of \
                 which building out-edge weights, {:.0} MB, {:.3}) + sweeps {:.3}",
                work.sweep_equivalents(),
                work.residual_sweeps,
                work.push_sweeps,
                work.rounds,
                work.pushes,
                work.checks,
                work.sweeps,
                work.residual_before,
                work.residual_after,
                pushed_seconds,
                work.seconds[0],
                work.seconds[1],
                work.out_weights_bytes as f64 / 1e6,
                work.out_weights_seconds,
                work.seconds[2],
            ));
            ours_scores.push(cold.scores);
            ours_scores.push(warm.scores);
            ours_scores.push(pushed.result.scores);
        } else {
            ours_scores.push(cold.scores);
            ours_scores.push(warm.scores);
        }
    }

    if options.spark {
        let (row, scores, notes) = run_spark(&graph, options, &ours_scores[0])?;
        report.rows.push(row);
        report.notes.extend(notes);
        ours_scores.push(scores);
    }

    match &options.python {
        None => report
            .notes
            .push("Python comparisons skipped (no python given)".to_string()),
        Some(python) => {
            let others = run_python(python, &graph, options)?;
            let prpack = others
                .iter()
                .find(|(row, _)| row.name == "igraph prpack")
                .map(|(_, s)| s.clone());
            if let Some(prpack) = &prpack {
                for (row, scores) in report.rows.iter_mut().zip(&ours_scores) {
                    row.l1_vs_prpack = Some(l1_distance(scores, prpack));
                }
            }
            for (mut row, scores) in others {
                row.l1_vs_prpack = prpack.as_ref().map(|p| l1_distance(&scores, p));
                report.rows.push(row);
            }
        }
    }
    Ok(report)
}

/// Figures of one graph load from the site's database.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub nodes: usize,
    pub edges: usize,
    pub activities: u64,
    pub skipped: u64,
    pub seconds: f64,
    pub graph_megabytes: f64,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rank graph load: {} nodes, {} edges from {} activity rows ({} skipped) in {:.2} s \
             ({:.0} rows/s), graph {:.0} MB",
            self.nodes,
            self.edges,
            self.activities,
            self.skipped,
            self.seconds,
            (self.activities + self.skipped) as f64 / self.seconds.max(1e-9),
            self.graph_megabytes
        )
    }
}

/// Times loading the graph from `db` (e.g. PostgreSQL holding the 1M-track synthetic catalog).
pub async fn graph_load(
    db: &schemas::db::Db,
    weights: &rank::Weights,
) -> anyhow::Result<LoadReport> {
    let loaded = rank::load_graph(db, weights, rank::ProgressMode::Quiet).await?;
    Ok(LoadReport {
        nodes: loaded.graph.node_count(),
        edges: loaded.graph.edge_count(),
        activities: loaded.activities,
        skipped: loaded.skipped,
        seconds: loaded.seconds,
        graph_megabytes: (loaded.graph.heap_bytes() + loaded.graph.nodes().heap_bytes()) as f64
            / 1e6,
    })
}

/// A uniform source that is not dangling (every tenth node is), a skewed target scattered
/// over the node range, and an integer weight 1–5.
fn random_edge(rng: &mut ChaCha8Rng, n: u32) -> (u32, u32, f32) {
    let src = loop {
        let s = rng.random_range(0..n);
        if s % 10 != 9 {
            break s;
        }
    };
    let u: f64 = rng.random();
    let rank = ((n as f64) * u * u * u) as u64 % n as u64;
    // Scatter popular targets over the range (a bijection when n is not a multiple of the prime).
    let dst = ((rank * 2_654_435_761) % n as u64) as u32;
    (src, dst, rng.random_range(1..=5) as f32)
}

/// Replaces `fraction` of the edges: half of that removed, as many added by [`random_edge`].
fn uniform_churn(rng: &mut ChaCha8Rng, edges: &mut Vec<Edge>, n: u32, fraction: f64) {
    let churn = ((edges.len() as f64 * fraction) as usize).max(2);
    for _ in 0..churn / 2 {
        let at = rng.random_range(0..edges.len());
        edges.swap_remove(at);
    }
    for _ in 0..churn - churn / 2 {
        edges.push(random_edge(rng, n));
    }
}

fn build(n: u32, edges: &[Edge]) -> anyhow::Result<Graph> {
    let mut builder = GraphBuilder::with_capacity(n, edges.len());
    for &(s, d, w) in edges {
        builder.push(s, d, w);
    }
    Ok(builder.build(NodeTable::anonymous(n))?)
}

/// Exports the graph as Parquet, runs the PySpark job in Spark's local mode (power iteration,
/// the kernel's stopping rule, the scores co-partitioned with the edges as on a cluster) and
/// reads its scores back; `gauss_seidel` is our cold answer, for the agreement.
fn run_spark(
    graph: &Graph,
    options: &BenchOptions,
    gauss_seidel: &[f64],
) -> anyhow::Result<(BenchRow, Vec<f64>, Vec<String>)> {
    let dir = std::env::temp_dir().join(format!("disco-rank-spark-{}", std::process::id()));
    let result = (|| {
        let (graph_dir, out) = (dir.join("graph"), dir.join("out"));
        let started = Instant::now();
        rank::spark::Export::new(graph, rank::Weights::builtin()).write(&graph_dir)?;
        let export_seconds = started.elapsed().as_secs_f64();
        let mut spark = rank::spark::LocalSpark::new(rank::spark::spark_python()?);
        spark.driver_memory = "8g".to_string();
        let tolerance = options.tolerance.to_string();
        let args = [
            "--tolerance",
            &tolerance,
            "--broadcast-max",
            "0",
            "--metrics",
        ];
        let started = Instant::now();
        let run = spark.run(&graph_dir, &out, &args)?;
        let wall = started.elapsed().as_secs_f64();
        let scores =
            rank::spark::read_vector(&out.join(rank::spark::SCORES), "score", graph.node_count())?;
        let path = out.join(rank::spark::RUN_JSON);
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
        )?;
        let field = |name: &str| json.get(name).and_then(|v| v.as_f64());
        let mut per_iteration: Vec<f64> = json
            .get("iteration_seconds")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_f64()).collect())
            .unwrap_or_default();
        let iterating: f64 = per_iteration.iter().sum();
        per_iteration.sort_by(f64::total_cmp);
        let median = per_iteration.get(per_iteration.len() / 2).copied();
        let edges = graph.edge_count().max(1) as f64;
        let cached = field("cached_edge_bytes").map(|b| b / edges);
        let shuffle = |what: &str| {
            json.get("shuffle")
                .and_then(|s| s.get(what))
                .and_then(|v| v.as_f64())
        };
        let row = BenchRow {
            name: format!(
                "Spark {} local[{}] DataFrame (power iteration), cold",
                json.get("spark").and_then(|v| v.as_str()).unwrap_or("?"),
                spark.threads
            ),
            seconds: iterating,
            build_seconds: field("setup_seconds"),
            iterations: Some(run.iterations),
            sweep_equivalents: Some(run.iterations as f64),
            l1_vs_prpack: None,
            l1_vs_cold: None,
            bytes_per_edge: cached,
        };
        let notes = vec![
            format!(
                "Spark: {} iterations in {iterating:.1} s ({:.2} s each on average, median {:.2} s, \
                 {:.0} ns per edge per iteration); setup (JVM, read, out-weights, cache the edges) \
                 {:.1} s; write {:.1} s; {wall:.1} s in all, plus the Parquet export {export_seconds:.1} s; \
                 L1 vs our Gauss-Seidel cold {:.2e}; converged {}",
                run.iterations,
                iterating / run.iterations.max(1) as f64,
                median.unwrap_or(f64::NAN),
                iterating / run.iterations.max(1) as f64 / edges * 1e9,
                field("setup_seconds").unwrap_or(f64::NAN),
                field("write_seconds").unwrap_or(f64::NAN),
                l1_distance(&scores, gauss_seidel),
                run.converged,
            ),
            format!(
                "Spark: shuffle per iteration {:.1} MB in {:.0} records ({:.2} B and {:.3} records \
                 per edge); cached edges {:.1} B/edge; {} partitions, driver memory {}",
                shuffle("bytes_per_iteration").unwrap_or(f64::NAN) / 1e6,
                shuffle("records_per_iteration").unwrap_or(f64::NAN),
                shuffle("bytes_per_iteration").unwrap_or(f64::NAN) / edges,
                shuffle("records_per_iteration").unwrap_or(f64::NAN) / edges,
                cached.unwrap_or(f64::NAN),
                spark.shuffle_partitions,
                spark.driver_memory,
            ),
        ];
        Ok((row, scores, notes))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes the edge list as raw arrays, runs the Python script, reads its scores back.
fn run_python(
    python: &PathBuf,
    graph: &Graph,
    options: &BenchOptions,
) -> anyhow::Result<Vec<(BenchRow, Vec<f64>)>> {
    let dir = std::env::temp_dir().join(format!("disco-rank-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let result = (|| {
        let mut src = Vec::with_capacity(graph.edge_count() * 4);
        let mut dst = Vec::with_capacity(graph.edge_count() * 4);
        let mut weight = Vec::with_capacity(graph.edge_count() * 4);
        for (s, d, w) in graph.edges() {
            src.extend_from_slice(&s.to_le_bytes());
            dst.extend_from_slice(&d.to_le_bytes());
            weight.extend_from_slice(&w.to_le_bytes());
        }
        for (name, bytes) in [("src.u32", src), ("dst.u32", dst), ("weight.f32", weight)] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).with_context(|| path.display().to_string())?;
        }
        let script = dir.join("bench_python.py");
        std::fs::write(&script, PYTHON_SCRIPT).with_context(|| script.display().to_string())?;
        let mut command = Command::new(python);
        command
            .arg(&script)
            .arg(&dir)
            .arg(graph.node_count().to_string())
            .arg(options.tolerance.to_string());
        if options.networkx {
            command.arg("networkx");
        }
        let output = command
            .output()
            .with_context(|| format!("cannot run {}", python.display()))?;
        if !output.status.success() {
            bail!(
                "{} failed: {}",
                python.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let mut rows = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let value: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("python said `{line}`"))?;
            let field = |name: &str| value.get(name).and_then(|v| v.as_f64());
            let scores_path = PathBuf::from(
                value
                    .get("scores")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default(),
            );
            let bytes =
                std::fs::read(&scores_path).with_context(|| scores_path.display().to_string())?;
            let scores: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            if scores.len() != graph.node_count() {
                bail!("{} has {} scores", scores_path.display(), scores.len());
            }
            rows.push((
                BenchRow {
                    name: value
                        .get("name")
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                        .to_string(),
                    seconds: field("seconds").unwrap_or(f64::NAN),
                    build_seconds: field("build_seconds"),
                    iterations: None,
                    sweep_equivalents: None,
                    l1_vs_prpack: None,
                    l1_vs_cold: None,
                    bytes_per_edge: None,
                },
                scores,
            ));
        }
        Ok(rows)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "DiscoRank benchmark: {} nodes ({} dangling), {} weighted edges, tolerance L1 < {:e}, {} rayon threads",
            self.nodes, self.dangling, self.edges, self.tolerance, self.threads
        )?;
        writeln!(
            f,
            "graph: generated in {:.2} s, built (sort + merge + CSR both ways) in {:.2} s, {:.1} bytes/edge at rest, {:.0} MB",
            self.generate_seconds, self.build_seconds, self.bytes_per_edge, self.graph_megabytes
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| implementation | PageRank s | graph build s | sweeps | sweep-equivalents | graph B/edge | L1 vs igraph PRPACK | warm: L1 vs cold |"
        )?;
        writeln!(
            f,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )?;
        for row in &self.rows {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
            writeln!(
                f,
                "| {} | {:.3} | {} | {} | {} | {} | {} | {} |",
                row.name,
                row.seconds,
                opt(row.build_seconds.map(|s| format!("{s:.2}"))),
                opt(row.iterations.map(|i| i.to_string())),
                opt(row.sweep_equivalents.map(|w| format!("{w:.2}"))),
                opt(row.bytes_per_edge.map(|b| format!("{b:.1}"))),
                opt(row.l1_vs_prpack.map(|l| format!("{l:.2e}"))),
                opt(row.l1_vs_cold.map(|l| format!("{l:.2e}"))),
            )?;
        }
        writeln!(f)?;
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_benchmark_runs_and_warm_beats_cold() {
        let options = BenchOptions {
            nodes: 5_000,
            edges: 50_000,
            tolerance: 1e-8,
            python: None,
            spark: false,
            ..BenchOptions::default()
        };
        let report = run(&options).unwrap();
        let (cold, warm, pushed) = (&report.rows[0], &report.rows[1], &report.rows[2]);
        assert!(warm.iterations < cold.iterations, "{report}");
        assert!(warm.l1_vs_cold.is_some_and(|l1| l1 < 1e-6), "{report}");
        assert!(pushed.l1_vs_cold.is_some_and(|l1| l1 < 1e-6), "{report}");
        assert!(
            pushed.sweep_equivalents > pushed.iterations.map(f64::from),
            "{report}"
        );
        assert!(report.dangling >= 500);
        // 12 bytes per edge at rest and in every run, the pushes' included (coded weights).
        assert_eq!(report.bytes_per_edge, 12.0);
        assert_eq!(
            (cold.bytes_per_edge, warm.bytes_per_edge),
            (Some(12.0), Some(12.0))
        );
        assert_eq!(pushed.bytes_per_edge, Some(12.0));
        assert!(
            report
                .to_string()
                .contains("| disco kernel (Gauss-Seidel), cold |")
        );
    }
}
