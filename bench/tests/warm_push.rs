//! Warm start with residual pushes ([`rank::push`]): after 1% of the edges change it reaches
//! the cold start's scores for less than half of cold's sweeps of work, counting the residual
//! pass and the pushes in sweep-equivalents.
//!
//! The runs that count work use a one-thread rayon pool: Gauss-Seidel sweeps read scores other
//! threads are updating, so with several threads their counts can differ by a sweep between
//! runs; on one thread they are deterministic (the pushes always run on one thread).

use bench::synthetic_graph::{ActivityGenerator, Edge};
use rank::{
    Graph, GraphBuilder, NodeTable, PageRankOptions, RankScores, l1_distance, pagerank,
    pagerank_warm, warm_start_vector,
};

fn build(nodes: NodeTable, edges: &[Edge]) -> Graph {
    let mut builder = GraphBuilder::new(nodes.len() as u32);
    for &(s, d, w) in edges {
        builder.push(s, d, w);
    }
    builder.build(nodes).expect("graph")
}

fn options(tolerance: f64) -> PageRankOptions {
    PageRankOptions {
        tolerance,
        max_iterations: 1000,
        ..PageRankOptions::default()
    }
}

fn one_thread<T: Send>(run: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("thread pool")
        .install(run)
}

#[test]
fn one_percent_churn_reaches_cold_in_under_half_its_sweeps() {
    // The benchmark's graph and seed at a tenth of its size (100k nodes, 1M edges).
    let n = 100_000;
    let mut generator = ActivityGenerator::new(n, 42);
    let mut edges = generator.edges(1_000_000);
    let options = options(1e-6);
    let (cold, warm) = one_thread(|| {
        let before = build(NodeTable::anonymous(n), &edges);
        let old = pagerank(&before, &options, None).expect("base");
        generator.churn(&mut edges, 0.01);
        let after = build(NodeTable::anonymous(n), &edges);
        assert!(
            after.dangling_count() > 10_000,
            "the graph has dangling nodes"
        );
        let cold = pagerank(&after, &options, None).expect("cold");
        let warm = pagerank_warm(&after, &options, &old.scores).expect("warm");
        (cold, warm)
    });
    let l1 = l1_distance(&cold.scores, &warm.result.scores);
    let work = warm.work;
    println!(
        "cold {} sweeps; warm + pushes {:.2} sweep-equivalents (1 + {:.2} + {} sweeps), L1 {l1:.2e}",
        cold.iterations,
        work.sweep_equivalents(),
        work.push_sweeps,
        work.sweeps
    );
    assert!(cold.converged && warm.result.converged);
    assert!(l1 <= 1e-6, "warm + pushes landed {l1} away from cold");
    assert_eq!(work.residual_sweeps, 1.0);
    assert_eq!(work.sweeps, warm.result.iterations);
    assert!(work.push_sweeps > 0.0 && work.pushes > 0);
    assert!(
        work.sweep_equivalents() < cold.iterations as f64 / 2.0,
        "{:.2} sweep-equivalents vs {} cold sweeps",
        work.sweep_equivalents(),
        cold.iterations
    );
}

#[test]
fn an_unchanged_graph_costs_the_residual_pass_alone() {
    let n = 5_000;
    let edges = ActivityGenerator::new(n, 3).edges(40_000);
    let graph = build(NodeTable::anonymous(n), &edges);
    let exact = pagerank(&graph, &options(1e-13), None).expect("exact");
    let warm = pagerank_warm(&graph, &options(1e-8), &exact.scores).expect("warm");
    assert_eq!(warm.work.residual_sweeps, 1.0);
    assert_eq!(warm.work.push_sweeps, 0.0);
    assert_eq!(warm.work.pushes, 0);
    assert_eq!(warm.work.sweeps, 0);
    assert_eq!(warm.work.sweep_equivalents(), 1.0);
    assert!(warm.result.converged);
    assert!(l1_distance(&warm.result.scores, &exact.scores) < 1e-8);
}

#[test]
fn nodes_that_appear_or_disappear_between_versions() {
    // Version 1: tracks 1..=300. Version 2: track 7 is gone, track 301 is new, and the node
    // numbers of every track after 7 shift by one.
    let ring = |ids: &[i64]| -> Vec<Edge> {
        let k = ids.len() as u32;
        (0..k)
            .flat_map(|i| {
                let hub = (ids[i as usize] % 10) as u32;
                [
                    (i, (i + 1) % k, 1.0),
                    (i, (i * 7 + 3) % k, 2.0),
                    (i, hub, 0.5),
                ]
            })
            .filter(|&(s, _, _)| ids[s as usize] % 13 != 0) // some dangling nodes
            .collect()
    };
    let old_ids: Vec<i64> = (1..=300).collect();
    let new_ids: Vec<i64> = (1..=301).filter(|&id| id != 7).collect();
    let nodes =
        |ids: &[i64]| NodeTable::new([ids.to_vec(), vec![], vec![], vec![]]).expect("nodes");
    let before = build(nodes(&old_ids), &ring(&old_ids));
    let mut after_edges = ring(&new_ids);
    after_edges.push((298, 299, 3.0)); // the new track gets a follower
    let after = build(nodes(&new_ids), &after_edges);
    let options = options(1e-10);
    let old = pagerank(&before, &options, None).expect("base");
    let old = RankScores::new(before.nodes().clone(), old.scores).expect("scores");
    let (start, carried) = warm_start_vector(&after, &old);
    assert_eq!(carried, 299);
    let warm = pagerank_warm(&after, &options, &start).expect("warm");
    let cold = pagerank(&after, &options, None).expect("cold");
    let l1 = l1_distance(&cold.scores, &warm.result.scores);
    assert!(warm.result.converged);
    assert!(l1 <= 1e-8, "{l1}");
    assert!(warm.work.push_sweeps > 0.0);
}
