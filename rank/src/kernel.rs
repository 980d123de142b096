//! Weighted PageRank with the networkx conventions, as a parallel pull over in-edges.
//!
//! With `P(u,v) = w(u,v) / Σ w(u,·)`, personalization `p` (uniform unless given) and damping
//! `α`, PageRank is the fixed point `x = G(x)` with `Σ x = 1` of
//!
//! ```text
//! G(x)[v] = α · Σ_{u→v} x[u] · P(u,v)  +  (α · Σ_{u dangling} x[u] + (1 − α) · Σ x) · p[v]
//! ```
//!
//! i.e. a dangling node's mass and the teleport both follow `p`, exactly as
//! `networkx.pagerank` does. Two sweeps compute it ([`Method`]):
//!
//! - [`Method::Power`] is networkx's power iteration `x ← G(x)`: every node reads the previous
//!   iteration's scores.
//! - [`Method::GaussSeidel`] (the default) updates scores in place, so a node already reads the
//!   new scores of the nodes swept before it; only the global dangling/teleport term lags one
//!   sweep. It is power iteration on a splitting of `G` with the same fixed point, and on the
//!   site's power-law graph takes about half the iterations. Because the rayon workers sweep
//!   different node ranges at once, which neighbours are already updated depends on timing:
//!   scores agree run to run to about the tolerance, not bit for bit.
//!
//! Both stop when the L1 change of one sweep (of the scores normalized to sum 1) falls below
//! `tolerance` (networkx stops at `N · tol`, so its `tol = t / N` is our `tolerance = t`) or
//! after `max_iterations`. All arithmetic is f64; edge weights are stored as f32. Each sweep is
//! a single pass over the in-edges: a node's new score, its share `x[v] / Σ w(v,·)` that the
//! next sweep gathers, the L1 change and the dangling mass come out of one rayon sweep over
//! chunks of nodes, with no allocation per iteration.
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

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RankError;
use crate::graph::{EdgeWeights, Graph};

/// Nodes per unit of parallel work: small enough to balance skewed in-degrees.
pub(crate) const CHUNK: usize = 4096;

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

/// How each iteration sweeps the nodes; both reach the same scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// In place: nodes read the scores already updated in this sweep.
    #[default]
    GaussSeidel,
    /// networkx's power iteration: nodes read the previous iteration's scores.
    Power,
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

/// Runs PageRank on `graph` with [`Method::GaussSeidel`], starting from `start` (normalized
/// here; `None` is uniform).
pub fn pagerank(
    graph: &Graph,
    options: &PageRankOptions,
    start: Option<&[f64]>,
) -> Result<PageRankResult, RankError> {
    pagerank_with(graph, options, start, Method::GaussSeidel)
}

/// Runs PageRank on `graph` with the given sweep, starting from `start` (normalized here;
/// `None` is uniform).
pub fn pagerank_with(
    graph: &Graph,
    options: &PageRankOptions,
    start: Option<&[f64]>,
    method: Method,
) -> Result<PageRankResult, RankError> {
    let n = graph.node_count();
    check_alpha(options.alpha)?;
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
    let x = match start {
        Some(s) => normalized(s, n, "start vector")?,
        None => vec![1.0 / n as f64; n],
    };
    let out_weight = graph.out_weights();
    // share[u] = x[u] / Σ w(u,·), what u sends per unit of edge weight; a dangling node sends
    // nothing (it is never a predecessor), so its slot holds x[u] itself.
    let share: Vec<AtomicU64> = x
        .par_iter()
        .zip(out_weight)
        .map(|(x, w)| AtomicU64::new((x / scale(*w)).to_bits()))
        .collect();
    let mut mass = Mass {
        total: 1.0,
        dangling: x
            .iter()
            .zip(out_weight)
            .filter(|(_, w)| **w == 0.0)
            .map(|(x, _)| x)
            .sum(),
    };
    drop(x);
    let previous: Vec<AtomicU64> = match method {
        Method::GaussSeidel => Vec::new(),
        Method::Power => (0..n).map(|_| AtomicU64::new(0)).collect(),
    };
    let (mut read, mut write) = (&share, &share);
    if method == Method::Power {
        write = &previous;
    }
    let sweep = Sweep::new(graph, options.alpha, p.as_deref())?;

    let mut iterations = 0;
    let mut residual = f64::INFINITY;
    while iterations < options.max_iterations {
        iterations += 1;
        let (change, next) = sweep.run(read, write, &mass);
        // The L1 change of the normalized scores is at most this (the sum of the stored scores
        // may drift in a Gauss-Seidel sweep; it does not in a power sweep).
        residual = (change + (next.total - mass.total).abs()) / mass.total;
        mass = next;
        tracing::debug!(iterations, residual, "pagerank sweep");
        if method == Method::Power {
            std::mem::swap(&mut read, &mut write);
        }
        if residual < options.tolerance {
            break;
        }
    }
    let total = mass.total;
    let scores = read
        .par_iter()
        .zip(out_weight)
        .map(|(s, w)| f64::from_bits(s.load(Relaxed)) * scale(*w) / total)
        .collect();
    Ok(PageRankResult {
        scores,
        iterations,
        residual,
        converged: residual < options.tolerance,
    })
}

/// Refuses a damping factor outside `[0, 1)`.
pub(crate) fn check_alpha(alpha: f64) -> Result<(), RankError> {
    if (0.0..1.0).contains(&alpha) {
        Ok(())
    } else {
        Err(RankError::Input(format!("alpha {alpha} is not in [0, 1)")))
    }
}

/// Checks once that the graph's arrays fit together, every predecessor number is a node and
/// every weight code is in its table, so that [`gather`] need not.
pub(crate) fn check_arrays(graph: &Graph) -> Result<(), RankError> {
    let n = graph.node_count();
    let (offsets, src, weight) = graph.in_arrays();
    let shaped = offsets.len() == n + 1
        && offsets.last().is_some_and(|&e| e as usize == src.len())
        && weight.len() == src.len()
        && !matches!(weight, EdgeWeights::Absent)
        && graph.out_weights().len() == n;
    let codes_fit = match weight {
        EdgeWeights::Coded { codes, table } => {
            !codes.par_iter().any(|&c| c as usize >= table.len())
        }
        _ => true,
    };
    if !shaped || !codes_fit || src.par_iter().any(|&u| u as usize >= n) {
        return Err(RankError::Input(
            "graph arrays are inconsistent (a predecessor outside the node range)".to_string(),
        ));
    }
    Ok(())
}

/// What a node's share is divided by: its out-weight, or 1 for a dangling node.
pub(crate) fn scale(out_weight: f64) -> f64 {
    if out_weight > 0.0 { out_weight } else { 1.0 }
}

/// Sums over the stored (not normalized) scores.
#[derive(Debug, Clone, Copy)]
struct Mass {
    total: f64,
    dangling: f64,
}

/// The fixed parts of one iteration.
struct Sweep<'a> {
    graph: &'a Graph,
    alpha: f64,
    personalization: Option<&'a [f64]>,
    uniform: f64,
}

impl<'a> Sweep<'a> {
    /// Checks once that every predecessor number is a node, so that sweeps need not.
    fn new(
        graph: &'a Graph,
        alpha: f64,
        personalization: Option<&'a [f64]>,
    ) -> Result<Sweep<'a>, RankError> {
        check_arrays(graph)?;
        Ok(Sweep {
            graph,
            alpha,
            personalization,
            uniform: 1.0 / graph.node_count() as f64,
        })
    }

    /// One sweep reading shares from `read` and storing new shares to `write` (the same array
    /// for Gauss-Seidel). Returns the L1 change of the stored scores and their new sums.
    fn run(&self, read: &[AtomicU64], write: &[AtomicU64], mass: &Mass) -> (f64, Mass) {
        let (offsets, src, weight) = self.graph.in_arrays();
        let out_weight = self.graph.out_weights();
        let alpha = self.alpha;
        // The dangling mass and the teleport, spread by p: G(x) is homogeneous, so the stored
        // scores need not sum to 1.
        let base = alpha * mass.dangling + (1.0 - alpha) * mass.total;
        let n = out_weight.len();
        assert!(
            read.len() == n && write.len() == n,
            "score arrays of the wrong length"
        );
        let chunks = n.div_ceil(CHUNK);
        let (change, total, dangling) = (0..chunks)
            .into_par_iter()
            .map(|chunk| {
                let nodes = chunk * CHUNK..((chunk + 1) * CHUNK).min(n);
                let (mut change, mut total, mut dangling) = (0.0, 0.0, 0.0);
                for v in nodes {
                    let edges = offsets[v] as usize..offsets[v + 1] as usize;
                    // SAFETY: `check_arrays` checked every predecessor against the node count,
                    // which is `read.len()`.
                    let pulled = unsafe { gather(read, src, weight, edges) };
                    let teleport = match self.personalization {
                        Some(p) => p[v],
                        None => self.uniform,
                    };
                    let value = alpha * pulled + base * teleport;
                    let w = out_weight[v];
                    let old = f64::from_bits(read[v].load(Relaxed)) * scale(w);
                    write[v].store((value / scale(w)).to_bits(), Relaxed);
                    change += (value - old).abs();
                    total += value;
                    if w == 0.0 {
                        dangling += value;
                    }
                }
                (change, total, dangling)
            })
            .reduce(|| (0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        (change, Mass { total, dangling })
    }
}

/// Σ share[u] · w over the in-edges `edges` of one node (`src[edges]` and their weights), in
/// two independent sums so that consecutive additions do not wait on each other.
///
/// Safety: every `u` in `src` is below `share.len()`, the weights have an entry per edge and
/// every weight code is in its table (checked once per run by [`check_arrays`]).
#[inline]
pub(crate) unsafe fn gather(
    share: &[AtomicU64],
    src: &[u32],
    weights: &EdgeWeights,
    edges: Range<usize>,
) -> f64 {
    let src = &src[edges.clone()];
    // SAFETY (both arms): the caller guarantees an in-range weight for every edge of `edges`.
    match weights {
        EdgeWeights::Coded { codes, table } => {
            let codes = &codes[edges];
            unsafe {
                gather_with(share, src, |i| {
                    *table.get_unchecked(*codes.get_unchecked(i) as usize)
                })
            }
        }
        EdgeWeights::Plain(w) => {
            let w = &w[edges];
            unsafe { gather_with(share, src, |i| *w.get_unchecked(i) as f64) }
        }
        EdgeWeights::Absent => 0.0,
    }
}

/// [`gather`] with the `i`-th edge's weight from `weight(i)`.
///
/// Safety: every `u` in `src` is below `share.len()`, and `weight(i)` is safe for `i <
/// src.len()`.
#[inline(always)]
unsafe fn gather_with(share: &[AtomicU64], src: &[u32], weight: impl Fn(usize) -> f64) -> f64 {
    // SAFETY: the caller guarantees every predecessor number is in range.
    let load = |u: u32| f64::from_bits(unsafe { share.get_unchecked(u as usize) }.load(Relaxed));
    let (mut even, mut odd) = (0.0, 0.0);
    let mut pairs = src.chunks_exact(2);
    let mut i = 0;
    for s in &mut pairs {
        even += load(s[0]) * weight(i);
        odd += load(s[1]) * weight(i + 1);
        i += 2;
    }
    if let Some(&s) = pairs.remainder().first() {
        even += load(s) * weight(i);
    }
    even + odd
}

/// A copy of `values` scaled to sum 1; refuses wrong lengths, negatives and all-zero input.
pub(crate) fn normalized(values: &[f64], n: usize, what: &str) -> Result<Vec<f64>, RankError> {
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
