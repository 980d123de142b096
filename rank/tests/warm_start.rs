//! Warm start: after 1% of the edges change, starting from the old scores reaches the same
//! answer as a cold start, in fewer iterations.
//!
//! The iteration count is asserted for power iteration, which is deterministic. Gauss-Seidel
//! sweeps (the default) read scores other threads are updating, so their iteration count can
//! differ by one or two between runs; for them the test checks the answer, not the count.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rank::{
    Graph, GraphBuilder, Method, NodeTable, PageRankOptions, RankScores, l1_distance,
    pagerank_with, warm_start_vector,
};

const WIKI_VOTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/wiki-vote.csv");

fn build(n: u32, edges: &[(u32, u32)]) -> Graph {
    let mut builder = GraphBuilder::new(n);
    for &(s, d) in edges {
        builder.push(s, d, 1.0 + (s % 3) as f32);
    }
    builder.build(NodeTable::anonymous(n)).unwrap()
}

#[test]
fn one_percent_churn_converges_to_the_cold_answer_in_fewer_iterations() {
    let text = std::fs::read_to_string(WIKI_VOTE).unwrap_or_else(|e| {
        panic!("{WIKI_VOTE} is missing ({e}): the shared data folder must sit beside the project")
    });
    let mut edges: Vec<(u32, u32)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(',').expect("from,to");
            (a.parse().expect("from"), b.parse().expect("to"))
        })
        .collect();
    let n = edges.iter().map(|&(a, b)| a.max(b)).max().unwrap() + 1;
    let options = PageRankOptions {
        tolerance: 1e-10,
        max_iterations: 1000,
        ..PageRankOptions::default()
    };
    let before = build(n, &edges);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let churn = edges.len() / 100;
    // 1% churn: half removed, half added between random nodes.
    edges.shuffle(&mut rng);
    edges.truncate(edges.len() - churn / 2);
    for _ in 0..churn - churn / 2 {
        edges.push((rng.random_range(0..n), rng.random_range(0..n)));
    }
    let after = build(n, &edges);

    for method in [Method::Power, Method::GaussSeidel] {
        let old = pagerank_with(&before, &options, None, method).unwrap();
        let old_scores = RankScores::new(before.nodes().clone(), old.scores).unwrap();
        let cold = pagerank_with(&after, &options, None, method).unwrap();
        let (start, carried) = warm_start_vector(&after, &old_scores);
        assert_eq!(carried, n as u64);
        let warm = pagerank_with(&after, &options, Some(&start), method).unwrap();

        let l1 = l1_distance(&cold.scores, &warm.scores);
        println!(
            "{method:?}: cold {} iterations, warm {} iterations, L1 {l1:.3e}",
            cold.iterations, warm.iterations
        );
        assert!(cold.converged && warm.converged);
        assert!(
            l1 <= 1e-6,
            "{method:?}: warm start landed {l1} away from cold"
        );
        if method == Method::Power {
            assert!(
                warm.iterations < cold.iterations,
                "warm {} vs cold {}",
                warm.iterations,
                cold.iterations
            );
        }
    }
}
