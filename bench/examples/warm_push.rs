//! Tuning tool for the warm start's residual pushes ([`rank::push`]): generates the
//! benchmark's activity graph, churns 1% of its edges, and runs on the churned graph a cold
//! start, a plain warm start and warm starts with pushes for each given push efficiency (the
//! stopping threshold in multiples of the average residual per edge), all with the
//! Gauss-Seidel kernel and the same stopping rule. Prints sweeps, sweep-equivalents (edges
//! touched / |E|), the time of each phase and the L1 distance from cold.
//!
//! `cargo run --release -p bench --example warm_push -- [nodes] [edges] [budget] [window]
//! [efficiency…]` (tolerance 1e-6, or `RANK_TOLERANCE` from the environment)

use std::time::Instant;

use bench::synthetic_graph::{ActivityGenerator, Edge};
use rank::{GraphBuilder, NodeTable, PageRankOptions, PushOptions, l1_distance};

fn main() -> Result<(), rank::RankError> {
    let mut args = std::env::args().skip(1);
    let mut number = |default: f64| {
        args.next()
            .and_then(|a| a.parse::<f64>().ok())
            .unwrap_or(default)
    };
    let nodes = number(1e6) as u32;
    let edges = number(1e7) as usize;
    let budget = number(PushOptions::default().budget);
    let window = number(PushOptions::default().window);
    let densities: Vec<f64> = std::env::args()
        .skip(5)
        .filter_map(|a| a.parse().ok())
        .collect();
    let densities = if densities.is_empty() {
        vec![PushOptions::default().efficiency]
    } else {
        densities
    };
    let mut generator = ActivityGenerator::new(nodes, 42);
    let mut list = generator.edges(edges);
    let tolerance = std::env::var("RANK_TOLERANCE")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1e-6);
    let options = PageRankOptions {
        tolerance,
        max_iterations: 1000,
        ..PageRankOptions::default()
    };
    let base = rank::pagerank(&build(nodes, &list)?, &options, None)?;
    generator.churn(&mut list, 0.01);
    let graph = build(nodes, &list)?;
    drop(list);
    let started = Instant::now();
    let cold = rank::pagerank(&graph, &options, None)?;
    let cold_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let warm = rank::pagerank(&graph, &options, Some(&base.scores))?;
    let warm_seconds = started.elapsed().as_secs_f64();
    println!(
        "weights: {:?} distinct (codes), {:.1} bytes/edge; tolerance {tolerance:e}",
        graph.weight_codes(),
        graph.bytes_per_edge()
    );
    println!(
        "{} nodes, {} edges; cold {} sweeps {cold_seconds:.3} s; warm {} sweeps \
         {warm_seconds:.3} s, L1 vs cold {:.2e}",
        graph.node_count(),
        graph.edge_count(),
        cold.iterations,
        warm.iterations,
        l1_distance(&warm.scores, &cold.scores)
    );
    for efficiency in densities {
        let push = PushOptions {
            budget,
            efficiency,
            window,
        };
        let started = Instant::now();
        let run = rank::pagerank_warm_with(&graph, &options, &base.scores, &push)?;
        let seconds = started.elapsed().as_secs_f64();
        let w = run.work;
        println!(
            "efficiency {efficiency} window {window}: {:.2} sweep-eq = 1 + pushes {:.2} ({} rounds, {} pushes, {} \
             checks) + {} sweeps; residual {:.2e} → {:.2e}; {seconds:.3} s = residual {:.3} + \
             pushes {:.3} (out-edge weights {:.3}) + sweeps {:.3}; L1 vs cold {:.2e}",
            w.sweep_equivalents(),
            w.push_sweeps,
            w.rounds,
            w.pushes,
            w.checks,
            w.sweeps,
            w.residual_before,
            w.residual_after,
            w.seconds[0],
            w.seconds[1],
            w.out_weights_seconds,
            w.seconds[2],
            l1_distance(&run.result.scores, &cold.scores)
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
