//! Weighted PageRank with the networkx conventions, as a parallel pull over in-edges.
//!
//! With `P(u,v) = w(u,v) / Σ w(u,·)`, personalization `p` (uniform unless given) and damping
//! `α`, one iteration is
//!
//! ```text
//! x'[v] = α · Σ_{u→v} x[u] · P(u,v)  +  (α · Σ_{u dangling} x[u] + (1 − α)) · p[v]
//! ```
//!
//! i.e. a dangling node's mass and the teleport both follow `p`, exactly as
//! `networkx.pagerank` does. Iteration stops when the L1 change `Σ |x' − x|` falls below
//! `tolerance` (networkx stops at `N · tol`, so its `tol = t / N` is our `tolerance = t`) or
//! after `max_iterations`. All arithmetic is f64; edge weights are stored as f32.
//!
//! Each iteration is a single pass: a node's new score, its share `x'[v] / Σ w(v,·)` for the
//! next pass, the L1 change and the dangling mass are all produced in one rayon sweep over
//! chunks of nodes, reading in-edges sequentially.
//!
//! ```
//! use rank::{GraphBuilder, NodeTable, PageRankOptions, pagerank};
//! let mut b = GraphBuilder::new(3);
//! b.push(0, 1, 1.0);
//! b.push(1, 2, 1.0);
//! b.push(2, 0, 1.0);
//! let g = b.build(NodeTable::anonymous(3)).unwrap();
//! let result = pagerank(&g, &PageRankOptions::default(), None).unwrap();
//! assert!(result.converged);
//! assert!((result.scores[0] - 1.0 / 3.0).abs() < 1e-9);
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RankError;
use crate::graph::Graph;

/// Nodes per unit of parallel work: small enough to balance skewed in-degrees.
const CHUNK: usize = 2048;

/// Settings of one PageRank computation.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRankOptions {
    /// Damping factor α (networkx `alpha`).
    pub alpha: f64,
    /// Stop when the L1 change of one iteration is below this.
    pub tolerance: f64,
    /// Give up after this many iterations (the result then says `converged: false`).
    pub max_iterations: u32,
    /// Teleport and dangling distribution, one non-negative value per node (normalized here);
    /// `None` is uniform.
    pub personalization: Option<Vec<f64>>,
}

impl Default for PageRankOptions {
    fn default() -> Self {
        PageRankOptions {
            alpha: 0.85,
            tolerance: 1e-9,
            max_iterations: 200,
            personalization: None,
        }
    }
}

/// Scores by node number, and how the iteration went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRankResult {
    #[serde(skip)]
    pub scores: Vec<f64>,
    pub iterations: u32,
    /// L1 change of the last iteration.
    pub residual: f64,
    pub converged: bool,
}

/// Runs PageRank on `graph`, starting from `start` (normalized here; `None` is uniform).
pub fn pagerank(
    graph: &Graph,
    options: &PageRankOptions,
    start: Option<&[f64]>,
) -> Result<PageRankResult, RankError> {
    let n = graph.node_count();
    if !(0.0..1.0).contains(&options.alpha) {
        return Err(RankError::Input(format!(
            "alpha {} is not in [0, 1)",
            options.alpha
        )));
    }
    if n == 0 {
        return Ok(PageRankResult {
            scores: Vec::new(),
            iterations: 0,
            residual: 0.0,
            converged: true,
        });
    }
    let p = match &options.personalization {
        Some(p) => Some(normalized(p, n, "personalization")?),
        None => None,
    };
    let uniform = 1.0 / n as f64;
    let mut x = match start {
        Some(s) => normalized(s, n, "start vector")?,
        None => vec![uniform; n],
    };

    let inv_out: Vec<f64> = graph
        .out_weights()
        .par_iter()
        .map(|&w| if w > 0.0 { 1.0 / w } else { 0.0 })
        .collect();
    // share[u] = x[u] / Σ w(u,·): what u sends per unit of edge weight.
    let mut share: Vec<f64> = x.par_iter().zip(&inv_out).map(|(x, inv)| x * inv).collect();
    let mut dangling: f64 = x
        .par_iter()
        .zip(&inv_out)
        .filter(|(_, inv)| **inv == 0.0)
        .map(|(x, _)| *x)
        .sum();
    let mut next = vec![0f64; n];
    let mut next_share = vec![0f64; n];
    let (offsets, src, weight) = graph.in_arrays();
    let alpha = options.alpha;

    let mut iterations = 0;
    let mut residual = f64::INFINITY;
    while iterations < options.max_iterations {
        iterations += 1;
        let base = alpha * dangling + (1.0 - alpha);
        let (change, new_dangling) = next
            .par_chunks_mut(CHUNK)
            .zip(next_share.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(chunk, (next, next_share))| {
                let first = chunk * CHUNK;
                let mut change = 0.0;
                let mut dangling = 0.0;
                for (i, (xv, sv)) in next.iter_mut().zip(next_share.iter_mut()).enumerate() {
                    let v = first + i;
                    let range = offsets[v] as usize..offsets[v + 1] as usize;
                    let mut pulled = 0.0;
                    for (&u, &w) in src[range.clone()].iter().zip(&weight[range]) {
                        pulled += share[u as usize] * w as f64;
                    }
                    let teleport = match &p {
                        Some(p) => p[v],
                        None => uniform,
                    };
                    let value = alpha * pulled + base * teleport;
                    change += (value - x[v]).abs();
                    *xv = value;
                    let inv = inv_out[v];
                    *sv = value * inv;
                    if inv == 0.0 {
                        dangling += value;
                    }
                }
                (change, dangling)
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        std::mem::swap(&mut x, &mut next);
        std::mem::swap(&mut share, &mut next_share);
        dangling = new_dangling;
        residual = change;
        if residual < options.tolerance {
            break;
        }
    }
    Ok(PageRankResult {
        scores: x,
        iterations,
        residual,
        converged: residual < options.tolerance,
    })
}

/// A copy of `values` scaled to sum 1; refuses wrong lengths, negatives and all-zero input.
fn normalized(values: &[f64], n: usize, what: &str) -> Result<Vec<f64>, RankError> {
    if values.len() != n {
        return Err(RankError::Input(format!(
            "{what} has {} values for {n} nodes",
            values.len()
        )));
    }
    if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(RankError::Input(format!(
            "{what} has a negative or non-finite value"
        )));
    }
    let sum: f64 = values.iter().sum();
    if sum <= 0.0 {
        return Err(RankError::Input(format!("{what} sums to 0")));
    }
    Ok(values.iter().map(|v| v / sum).collect())
}

/// Σ |a − b|, the distance every agreement check in this crate uses.
pub fn l1_distance(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "comparing score vectors of different lengths"
    );
    a.par_iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_graph as graph;

    fn tight() -> PageRankOptions {
        PageRankOptions {
            tolerance: 1e-14,
            max_iterations: 1000,
            ..PageRankOptions::default()
        }
    }

    /// Dense power iteration on the networkx definition, as an oracle for small graphs.
    fn dense(n: usize, edges: &[(u32, u32, f32)], alpha: f64, p: &[f64]) -> Vec<f64> {
        let mut w = vec![vec![0f64; n]; n];
        for &(s, d, x) in edges {
            w[s as usize][d as usize] += x as f64;
        }
        let mut x = vec![1.0 / n as f64; n];
        for _ in 0..2000 {
            let mut next = vec![0f64; n];
            let mut dangling = 0.0;
            for u in 0..n {
                let total: f64 = w[u].iter().sum();
                if total == 0.0 {
                    dangling += x[u];
                    continue;
                }
                for v in 0..n {
                    next[v] += alpha * x[u] * w[u][v] / total;
                }
            }
            for v in 0..n {
                next[v] += (alpha * dangling + 1.0 - alpha) * p[v];
            }
            x = next;
        }
        x
    }

    #[test]
    fn matches_the_dense_definition_with_weights_dangling_nodes_and_self_loops() {
        let edges = [
            (0, 1, 2.0),
            (0, 2, 1.0),
            (1, 2, 0.5),
            (2, 0, 1.0),
            (2, 2, 3.0),
            (3, 0, 1.0),
            (0, 1, 1.0),
        ];
        let g = graph(5, &edges);
        let got = pagerank(&g, &tight(), None).unwrap();
        let want = dense(5, &edges, 0.85, &[0.2; 5]);
        assert!(got.converged);
        assert!(
            l1_distance(&got.scores, &want) < 1e-12,
            "{:?} vs {want:?}",
            got.scores
        );
        assert!((got.scores.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn personalization_steers_teleport_and_dangling_mass() {
        let edges = [(0, 1, 1.0), (1, 2, 1.0), (3, 1, 1.0)];
        let g = graph(4, &edges);
        let p = vec![1.0, 0.0, 0.0, 3.0];
        let options = PageRankOptions {
            personalization: Some(p.clone()),
            ..tight()
        };
        let got = pagerank(&g, &options, None).unwrap();
        let want = dense(4, &edges, 0.85, &[0.25, 0.0, 0.0, 0.75]);
        assert!(
            l1_distance(&got.scores, &want) < 1e-12,
            "{:?} vs {want:?}",
            got.scores
        );
    }

    #[test]
    fn a_start_near_the_answer_converges_sooner() {
        let edges: Vec<(u32, u32, f32)> = (0..200u32)
            .flat_map(|u| [(u, (u * u + 1) % 200, 1.0), (u, u / 3, 2.0)])
            .collect();
        let g = graph(200, &edges);
        let cold = pagerank(&g, &PageRankOptions::default(), None).unwrap();
        let warm = pagerank(&g, &PageRankOptions::default(), Some(&cold.scores)).unwrap();
        assert!(
            warm.iterations < cold.iterations,
            "{} vs {}",
            warm.iterations,
            cold.iterations
        );
        assert!(l1_distance(&cold.scores, &warm.scores) < 1e-8);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let g = graph(2, &[(0, 1, 1.0)]);
        assert!(pagerank(&g, &PageRankOptions::default(), Some(&[1.0])).is_err());
        assert!(pagerank(&g, &PageRankOptions::default(), Some(&[0.0, 0.0])).is_err());
        let bad_alpha = PageRankOptions {
            alpha: 1.0,
            ..PageRankOptions::default()
        };
        assert!(pagerank(&g, &bad_alpha, None).is_err());
        let empty = graph(0, &[]);
        assert!(
            pagerank(&empty, &PageRankOptions::default(), None)
                .unwrap()
                .scores
                .is_empty()
        );
    }

    #[test]
    fn max_iterations_is_reported_as_not_converged() {
        let g = graph(3, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 5.0), (2, 1, 1.0)]);
        let options = PageRankOptions {
            max_iterations: 2,
            tolerance: 1e-15,
            ..PageRankOptions::default()
        };
        let r = pagerank(&g, &options, None).unwrap();
        assert_eq!(r.iterations, 2);
        assert!(!r.converged);
    }
}
