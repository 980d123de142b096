//! Experiment (issue 6): can residual pushes seeded by the churn cut the warm start's sweeps
//! below half of cold? Generates the benchmark's activity graph, churns 1% of its edges,
//! then compares on the churned graph, all with the Gauss-Seidel kernel and the same stopping
//! rule (L1 change of one sweep < tolerance):
//!
//! - cold: from uniform;
//! - warm: from the base graph's scores;
//! - push + warm: from the base graph's scores after Gauss-Southwell style pushes of the
//!   residual (`x_u += r_u`, `r_v += α r_u w(u,v)/W_u` for each out-edge; mass that a dangling
//!   node would spread along the teleport vector is dropped, which only rescales the answer),
//!   pushing nodes whose `|r_u| / outdeg(u)` is above a threshold that halves each round.
//!
//! Work is counted in sweep-equivalents: edges touched / |E|. Computing the residual is
//! counted as one full sweep (an upper bound: it can be computed from the changed edges).
//!
//! `cargo run --release -p rank --example warm_push -- [nodes] [edges] [push budget in sweeps]`

use rank::synthetic::{ActivityGenerator, Edge};
use rank::{GraphBuilder, NodeTable, PageRankOptions};

const ALPHA: f64 = 0.85;

fn main() -> Result<(), rank::RankError> {
    let mut args = std::env::args().skip(1);
    let nodes: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let edges: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let budgets: Vec<f64> = args.filter_map(|a| a.parse().ok()).collect();
    let budgets = if budgets.is_empty() {
        vec![0.5, 1.0, 2.0, 4.0]
    } else {
        budgets
    };
    let mut generator = ActivityGenerator::new(nodes, 42);
    let mut list = generator.edges(edges);
    let options = PageRankOptions {
        tolerance: 1e-6,
        max_iterations: 1000,
        ..PageRankOptions::default()
    };
    let base = rank::pagerank(&build(nodes, &list)?, &options, None)?;
    generator.churn(&mut list, 0.01);
    let graph = build(nodes, &list)?;
    let m = graph.edge_count() as f64;
    let cold = rank::pagerank(&graph, &options, None)?;
    let warm = rank::pagerank(&graph, &options, Some(&base.scores))?;
    println!(
        "{} nodes, {} edges; churn moved the scores by L1 {:.2e}",
        graph.node_count(),
        graph.edge_count(),
        rank::kernel::l1_distance(&base.scores, &cold.scores)
    );
    println!("cold: {} sweeps", cold.iterations);
    println!(
        "warm: {} sweeps, L1 vs cold {:.2e}",
        warm.iterations,
        rank::kernel::l1_distance(&warm.scores, &cold.scores)
    );

    let out = OutEdges::new(nodes as usize, &list);
    for budget in budgets {
        let mut x = base.scores.clone();
        let mut r = residual(&out, &x);
        let r0: f64 = r.iter().map(|v| v.abs()).sum();
        let started = std::time::Instant::now();
        let (touched, rounds) = push(&out, &mut x, &mut r, budget * m);
        let push_seconds = started.elapsed().as_secs_f64();
        let r1: f64 = r.iter().map(|v| v.abs()).sum();
        let start: Vec<f64> = x.iter().map(|v| v.max(0.0)).collect();
        let started = std::time::Instant::now();
        let after = rank::pagerank(&graph, &options, Some(&start))?;
        let sweep_seconds = started.elapsed().as_secs_f64() / after.iterations.max(1) as f64;
        let pushes = touched / m;
        println!(
            "push budget {budget} sweeps: pushed {pushes:.2} sweep-eq, residual L1 {r0:.2e} → \
             {r1:.2e} in {rounds} rounds ({push_seconds:.3} s on one thread; a sweep on all \
             threads {sweep_seconds:.3} s); then {} sweeps; total {:.2} sweep-eq (1 for the \
             residual); L1 vs cold {:.2e}",
            after.iterations,
            1.0 + pushes + after.iterations as f64,
            rank::kernel::l1_distance(&after.scores, &cold.scores)
        );
    }
    Ok(())
}

fn build(n: u32, edges: &[Edge]) -> Result<rank::Graph, rank::RankError> {
    let mut builder = GraphBuilder::with_capacity(n, edges.len());
    for &(s, d, w) in edges {
        builder.push(s, d, w);
    }
    builder.build(NodeTable::anonymous(n))
}

/// Out-edges with their transition probabilities w(u,v) / W_u.
struct OutEdges {
    offsets: Vec<usize>,
    dst: Vec<u32>,
    p: Vec<f64>,
}

impl OutEdges {
    fn new(n: usize, edges: &[Edge]) -> OutEdges {
        let mut sorted = edges.to_vec();
        sorted.sort_unstable_by_key(|e| (e.0, e.1));
        let mut offsets = vec![0usize; n + 1];
        let mut total = vec![0f64; n];
        for &(s, _, w) in &sorted {
            offsets[s as usize + 1] += 1;
            total[s as usize] += w as f64;
        }
        for i in 1..=n {
            offsets[i] += offsets[i - 1];
        }
        let dst = sorted.iter().map(|e| e.1).collect();
        let p = sorted
            .iter()
            .map(|&(s, _, w)| w as f64 / total[s as usize])
            .collect();
        OutEdges { offsets, dst, p }
    }

    fn of(&self, u: usize) -> (&[u32], &[f64]) {
        let range = self.offsets[u]..self.offsets[u + 1];
        (&self.dst[range.clone()], &self.p[range])
    }
}

/// r = A x + (1 − α) p − x for x summing to 1, A = α Pᵀ + α p dᵀ, p uniform.
fn residual(out: &OutEdges, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut y = vec![0f64; n];
    let mut dangling = 0.0;
    for (u, &xu) in x.iter().enumerate() {
        let (dst, p) = out.of(u);
        if dst.is_empty() {
            dangling += xu;
        }
        for (&v, &q) in dst.iter().zip(p) {
            y[v as usize] += ALPHA * xu * q;
        }
    }
    let teleport = (ALPHA * dangling + 1.0 - ALPHA) / n as f64;
    y.iter().zip(x).map(|(y, x)| y + teleport - x).collect()
}

/// Threshold rounds of pushes until `budget` edges are touched; returns the edges touched and
/// the rounds (each also scans every node once to pick its nodes; not counted as edge work).
fn push(out: &OutEdges, x: &mut [f64], r: &mut [f64], budget: f64) -> (f64, u32) {
    let n = x.len();
    let cost = |u: usize| (out.offsets[u + 1] - out.offsets[u]).max(1) as f64;
    let mut theta = (0..n).map(|u| r[u].abs() / cost(u)).fold(0.0, f64::max) / 2.0;
    let (mut touched, mut rounds) = (0.0, 0);
    while touched < budget && theta > 1e-18 {
        rounds += 1;
        // One scan picks the round's nodes (scanning counts as no edge work: a real version
        // would keep a queue).
        let picked: Vec<usize> = (0..n).filter(|&u| r[u].abs() / cost(u) >= theta).collect();
        for u in picked {
            let delta = r[u];
            x[u] += delta;
            r[u] = 0.0;
            let (dst, p) = out.of(u);
            for (&v, &q) in dst.iter().zip(p) {
                r[v as usize] += ALPHA * delta * q;
            }
            touched += cost(u);
            if touched >= budget {
                break;
            }
        }
        theta /= 2.0;
    }
    (touched, rounds)
}
