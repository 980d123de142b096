//! Agreement with networkx: the committed reference scores in `rank/reference/` were made by
//! `rank/reference/make_reference.py` (networkx.pagerank, alpha 0.85, tol 1e-12/N; igraph's
//! PRPACK agrees with them to ~1e-12). Our kernel must land within L1 1e-6 of them.

use std::collections::BTreeMap;
use std::path::Path;

use rank::{Graph, GraphBuilder, NodeTable, PageRankOptions, l1_distance, pagerank};

const WIKI_VOTE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/wiki-vote.csv");
const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/reference");

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("{path} is missing ({e}); the rank reference tests need it (see rank/reference/make_reference.py)")
    })
}

/// `node score` TSV → node → score.
fn reference_scores(name: &str) -> BTreeMap<i64, f64> {
    let text = read(&format!("{REFERENCE}/{name}"));
    text.lines()
        .skip(1)
        .map(|line| {
            let (node, score) = line.split_once('\t').expect("node<TAB>score");
            (
                node.parse().expect("node id"),
                score.parse().expect("score"),
            )
        })
        .collect()
}

/// Builds a graph whose node numbers follow the sorted original ids of `reference`.
fn graph_over(reference: &BTreeMap<i64, f64>, edges: &[(i64, i64, f32)]) -> Graph {
    let ids: Vec<i64> = reference.keys().copied().collect();
    let nodes = NodeTable::new([ids.clone(), vec![], vec![], vec![]]).unwrap();
    let number = |id: i64| {
        ids.binary_search(&id)
            .unwrap_or_else(|_| panic!("node {id} not in reference")) as u32
    };
    let mut builder = GraphBuilder::new(ids.len() as u32);
    for &(s, d, w) in edges {
        builder.push(number(s), number(d), w);
    }
    builder.build(nodes).unwrap()
}

fn check(name: &str, graph: &Graph, reference: &BTreeMap<i64, f64>) {
    let options = PageRankOptions {
        tolerance: 1e-12,
        max_iterations: 1000,
        ..PageRankOptions::default()
    };
    let result = pagerank(graph, &options, None).unwrap();
    assert!(
        result.converged,
        "{name}: no convergence in {} iterations",
        result.iterations
    );
    let want: Vec<f64> = reference.values().copied().collect();
    let l1 = l1_distance(&result.scores, &want);
    println!(
        "{name}: {} nodes, {} edges, {} iterations, L1 vs networkx {l1:.3e}",
        graph.node_count(),
        graph.edge_count(),
        result.iterations
    );
    assert!(l1 <= 1e-6, "{name}: L1 {l1} from networkx");
}

#[test]
fn wiki_vote_matches_networkx() {
    assert!(
        Path::new(WIKI_VOTE).is_file(),
        "{WIKI_VOTE} is missing: the shared data folder must sit beside the project"
    );
    let edges: Vec<(i64, i64, f32)> = read(WIKI_VOTE)
        .lines()
        .skip(1)
        .map(|line| {
            let (from, to) = line.split_once(',').expect("from,to");
            (
                from.trim().parse().expect("from"),
                to.trim().parse().expect("to"),
                1.0,
            )
        })
        .collect();
    let reference = reference_scores("wiki-vote.scores.tsv");
    assert_eq!(reference.len(), 7115);
    let graph = graph_over(&reference, &edges);
    assert_eq!(graph.edge_count(), 103_688);
    check("wiki-vote", &graph, &reference);
}

#[test]
fn weighted_synthetic_graph_with_dangling_nodes_matches_networkx() {
    let text = read(&format!("{REFERENCE}/synthetic.edges.tsv"));
    let edges: Vec<(i64, i64, f32)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|line| {
            let mut f = line.split('\t');
            let mut next = || f.next().expect("src dst weight");
            (
                next().parse().unwrap(),
                next().parse().unwrap(),
                next().parse().unwrap(),
            )
        })
        .collect();
    let reference = reference_scores("synthetic.scores.tsv");
    let graph = graph_over(&reference, &edges);
    assert!(
        graph.dangling_count() >= 40,
        "the reference graph has dangling nodes"
    );
    check("synthetic", &graph, &reference);
}
