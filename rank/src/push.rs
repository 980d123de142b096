//! Warm start by residual pushes: after a small change to the graph, carry the previous
//! version's scores most of the way to the new fixed point with local pushes, then let
//! Gauss-Seidel sweeps ([`crate::kernel`]) finish to the cold run's stopping rule.
//!
//! Opt-in ([`crate::WarmStrategy::Push`]); the default warm start is the plain one
//! (Gauss-Seidel sweeps from the previous scores). On the 1M-node activity graph (1% churn)
//! the pushes take 6.3 sweep-equivalents of edge work against the plain warm start's 10–11
//! sweeps, but more wall time (`rank/BENCH_NOTES.md`), and they need each out-edge's weight,
//! which the graph does not keep (12 bytes per edge at rest): the pushes build that array
//! ([`Graph::out_edge_weights`], 4 bytes per edge) after the residual pass and drop it before
//! the sweeps, so a warm start with pushes peaks at 16 bytes per edge.
//!
//! Why it pays: after 1% of random edges change, the PageRank vector moves by ~2e-2 in L1, and
//! a sweep removes the same share (~0.35 of it) of the error wherever it starts, so a plain
//! warm start still needs ~¾ of cold's sweeps. But the change in the *residual* is
//! concentrated on the few nodes whose edges changed and their small neighbourhoods: pushing
//! those nodes' residual to their successors removes most of it for a fraction of a sweep's
//! edge work.
//!
//! The system pushed: with dangling mass and teleport both following the personalization `p`
//! (the networkx conventions of [`crate::kernel`]), the PageRank vector is proportional to the
//! solution `y` of `y = α Pᵀ y + p` with `P` substochastic (`P(u,v) = w(u,v) / Σ w(u,·)`,
//! dangling rows zero). Starting from `y = s · x` for the old scores `x` (`s` makes `s · x`
//! exact when `x` is the answer), the residual `r = p + α Pᵀ y − y` obeys the invariant
//! `y + (I − α Pᵀ)⁻¹ r = y*` under a push of node `u`:
//!
//! ```text
//! y[u] += r[u];   r[v] += α · r[u] · w(u,v) / Σ w(u,·) for each out-edge u → v;   r[u] = 0
//! ```
//!
//! A push touches only `u`'s out-edges, and pushes are linear, so any order — including a
//! whole round of them at once, from the residuals as the round found them — keeps the
//! invariant. The final normalization removes the scale.
//!
//! The steps of [`pagerank_warm`]:
//!
//! 1. The residual, in one parallel pull over all in-edges (one sweep-equivalent). When its
//!    L1 (in the scores' units) is already under the tolerance — the graph did not change —
//!    this pass is the whole work: it is a power-iteration sweep meeting the stopping rule.
//! 2. Rounds of pushes (Gauss-Southwell by thresholds): a round pushes every node whose
//!    residual per out-edge is at least `θ`, in parallel; `θ` starts at the largest such
//!    density and halves each round ([`PushOptions::step`]). No round scans all nodes for its
//!    pushes: each patch of 512 nodes keeps its largest density, and a round reads only the
//!    patches that have something to push (one `f32` per node). A round has two halves without
//!    atomic read-modify-writes: one task per block of 16k nodes sends its pushes and files
//!    the amounts by the receiver's block; then one task per block adds what it received.
//!    Pushing stops after the round at [`PushOptions::density`] times the average residual per
//!    edge (below that, a sweep removes residual about as cheaply per edge touched) or when
//!    the [`PushOptions::budget`] is spent.
//! 3. Gauss-Seidel sweeps from the pushed scores, stopping as a cold start does (the out-edge
//!    weights are dropped by then).
//!
//! The work is reported in sweep-equivalents ([`PushWork`]): edges touched / |E| for the
//! residual pass and the pushes, plus the sweeps, so that a warm start's "iterations" never
//! hide the push work.
//!
//! ```
//! use rank::{GraphBuilder, NodeTable, PageRankOptions, pagerank, push::pagerank_warm};
//! let mut b = GraphBuilder::new(3);
//! b.push(0, 1, 1.0);
//! b.push(1, 2, 1.0);
//! b.push(2, 0, 1.0);
//! let g = b.build(NodeTable::anonymous(3)).unwrap();
//! let cold = pagerank(&g, &PageRankOptions::default(), None).unwrap();
//! let warm = pagerank_warm(&g, &PageRankOptions::default(), &[0.5, 0.3, 0.2]).unwrap();
//! assert!(rank::l1_distance(&cold.scores, &warm.result.scores) < 1e-8);
//! println!("{} sweep-equivalents", warm.work.sweep_equivalents());
//! ```

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::RankError;
use crate::graph::Graph;
use crate::kernel::{
    PageRankOptions, PageRankResult, check_alpha, check_arrays, gather, normalized, pagerank, scale,
};

/// How far pushes go before sweeps take over.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOptions {
    /// The most push work, in sweep-equivalents (edges touched / |E|); a round that would go
    /// over it is not started.
    pub budget: f64,
    /// Push a node only while its residual per out-edge is at least this many times the
    /// average residual per edge (‖r‖₁ / |E|): below that, a sweep removes residual about as
    /// cheaply per edge touched. On the activity graph (20k, 100k, 1M nodes;
    /// `examples/warm_push.rs`) 2 takes the fewest sweep-equivalents (5.6–5.7), 4 about 0.6
    /// more (6.2–6.3) but less wall time: an edge touched by a push costs several times one
    /// touched by a sweep, so the default is 4.
    pub density: f64,
    /// The threshold θ is divided by this after each round (> 1): 2 is closest to pushing the
    /// largest residuals first; larger steps take fewer rounds.
    pub step: f64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            budget: 1.0,
            density: 4.0,
            step: 2.0,
        }
    }
}

/// The work of one warm start, in sweep-equivalents (edges touched / |E|).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PushWork {
    /// The residual pass: one pull over every in-edge (1.0; 0 for an empty graph).
    pub residual_sweeps: f64,
    /// Out-edges touched by pushes / |E| (a dangling node's push counts as one edge).
    pub push_sweeps: f64,
    /// Gauss-Seidel sweeps after the pushes (the run's `iterations`).
    pub sweeps: u32,
    /// Rounds of parallel pushes.
    pub rounds: u32,
    /// Node pushes over all rounds.
    pub pushes: u64,
    /// Nodes examined to pick the pushes, over all rounds (node reads, no edge work): the
    /// nodes of the blocks that had something to push.
    pub checks: u64,
    /// L1 of the residual before the pushes, relative to the scores' sum: the L1 change that a
    /// power-iteration sweep from the old scores would make.
    pub residual_before: f64,
    /// The same after the pushes (as tracked by the pushes, up to rounding).
    pub residual_after: f64,
    /// Wall time of the residual pass, of the pushes (building the out-edge weights
    /// included), and of the sweeps (with their setup).
    #[serde(default)]
    pub seconds: [f64; 3],
    /// Of the pushes' seconds, those spent building the out-edge weights.
    #[serde(default)]
    pub out_weights_seconds: f64,
    /// Bytes of the out-edge weights held while pushing (4 per edge; 0 when nothing was
    /// pushed): memory on top of the graph's.
    #[serde(default)]
    pub out_weights_bytes: u64,
}

impl PushWork {
    /// All the work: residual pass + pushes + sweeps.
    pub fn sweep_equivalents(&self) -> f64 {
        self.residual_sweeps + self.push_sweeps + self.sweeps as f64
    }
}

/// A warm start's scores and its work.
#[derive(Debug, Clone)]
pub struct WarmPush {
    /// The scores, and the Gauss-Seidel sweeps after the pushes as `iterations`.
    pub result: PageRankResult,
    pub work: PushWork,
}

/// Runs PageRank on `graph` from `start` (the previous version's scores, normalized here) with
/// residual pushes before the sweeps, with the default [`PushOptions`].
pub fn pagerank_warm(
    graph: &Graph,
    options: &PageRankOptions,
    start: &[f64],
) -> Result<WarmPush, RankError> {
    pagerank_warm_with(graph, options, start, &PushOptions::default())
}

/// Like [`pagerank_warm`], with the given push settings.
pub fn pagerank_warm_with(
    graph: &Graph,
    options: &PageRankOptions,
    start: &[f64],
    push: &PushOptions,
) -> Result<WarmPush, RankError> {
    check_alpha(options.alpha)?;
    if !(push.step > 1.0 && push.density >= 0.0 && push.budget >= 0.0) {
        return Err(RankError::Input(format!(
            "push options {push:?}: the step must be above 1, density and budget not negative"
        )));
    }
    let n = graph.node_count();
    if n == 0 {
        let result = pagerank(graph, options, Some(start))?;
        return Ok(WarmPush {
            result,
            work: PushWork::default(),
        });
    }
    let p = match &options.personalization {
        Some(p) => Some(normalized(p, n, "personalization")?),
        None => None,
    };
    let started = Instant::now();
    let x = normalized(start, n, "start vector")?;
    let mut state = Residual::compute(graph, options.alpha, p.as_deref(), x)?;
    let mut work = PushWork {
        residual_sweeps: 1.0,
        residual_before: state.total / state.scale,
        ..PushWork::default()
    };
    work.seconds[0] = started.elapsed().as_secs_f64();
    if work.residual_before < options.tolerance {
        // The residual pass was a power-iteration sweep that met the stopping rule: its
        // result, y + r, is the answer.
        let scores = state.scores(true);
        tracing::debug!(residual = work.residual_before, "warm start: nothing to do");
        let result = PageRankResult {
            scores,
            iterations: 0,
            residual: work.residual_before,
            converged: true,
        };
        return Ok(WarmPush { result, work });
    }
    let started = Instant::now();
    let out_edge_weight = graph.out_edge_weights();
    work.out_weights_seconds = started.elapsed().as_secs_f64();
    work.out_weights_bytes = (out_edge_weight.len() * std::mem::size_of::<f32>()) as u64;
    // On a pool thread, the rounds' parallel steps fork and join within the pool instead of
    // each being handed to it from outside and waited for (two thread wake-ups per step, a
    // real cost for ~25 rounds on a loaded machine).
    rayon::scope(|_| state.push(graph, &out_edge_weight, push, &mut work));
    drop(out_edge_weight);
    work.residual_after = state.total / state.y_sum().max(f64::MIN_POSITIVE);
    let pushed = state.scores(false);
    drop(state);
    work.seconds[1] = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let result = pagerank(graph, options, Some(&pushed))?;
    work.sweeps = result.iterations;
    work.seconds[2] = started.elapsed().as_secs_f64();
    tracing::debug!(?work, "warm start with pushes");
    Ok(WarmPush { result, work })
}

/// Nodes per block: a round's pushes are sent one task per block, and their amounts are added
/// by the receiver's block (2^14 nodes: 128 KB of residuals, so the adds stay in cache).
const BLOCK_SHIFT: u32 = 14;
const BLOCK: usize = 1 << BLOCK_SHIFT;

/// Nodes per patch: the unit whose largest residual density is kept, so that a round reads only
/// the patches with something to push.
const PATCH_SHIFT: u32 = 9;
const PATCH: usize = 1 << PATCH_SHIFT;
const PATCHES_PER_BLOCK: usize = BLOCK / PATCH;

/// The pushed estimate `y` and its residual `r`, with what the pushes need alongside.
struct Residual {
    alpha: f64,
    /// The scale `s` of `y = s · x` at the start.
    scale: f64,
    y: Vec<f64>,
    r: Vec<f64>,
    /// |r[u]| / cost(u), the residual density that picks the pushes, in `f32`: a round reads
    /// this array alone for the nodes it does not push (4 bytes a node instead of the 24 of
    /// `r`, `y` and the offsets; the rounds are bound by memory traffic).
    density: Vec<f32>,
    /// Per patch of [`PATCH`] nodes, the largest |r[u]| / cost(u) in it (or more): a round
    /// skips the patches with nothing to push.
    densest: Vec<f64>,
    /// Σ |r| as tracked through the pushes.
    total: f64,
}

impl Residual {
    /// `y = s · x` and `r = p + α Pᵀ y − y`, in one parallel pull over the in-edges.
    fn compute(
        graph: &Graph,
        alpha: f64,
        personalization: Option<&[f64]>,
        x: Vec<f64>,
    ) -> Result<Residual, RankError> {
        check_arrays(graph)?;
        let n = graph.node_count();
        let out_weight = graph.out_weights();
        let dangling: f64 = x
            .par_iter()
            .zip(out_weight)
            .filter(|(_, w)| **w == 0.0)
            .map(|(x, _)| x)
            .sum();
        // Makes y exact when x is the answer: x* = α Pᵀ x* + (α d·x* + 1 − α) p.
        let s = 1.0 / (alpha * dangling + 1.0 - alpha);
        // y[u] / Σ w(u,·), what u sends per unit of edge weight, as the kernel's pull reads it.
        let share: Vec<AtomicU64> = x
            .par_iter()
            .zip(out_weight)
            .map(|(x, w)| AtomicU64::new((s * x / scale(*w)).to_bits()))
            .collect();
        let y: Vec<f64> = x.par_iter().map(|x| s * x).collect();
        drop(x);
        let (offsets, src, weight) = graph.in_arrays();
        let uniform = 1.0 / n as f64;
        let mut r = vec![0f64; n];
        let mut density = vec![0f32; n];
        let mut densest = vec![0f64; n.div_ceil(PATCH)];
        let total = r
            .par_chunks_mut(PATCH)
            .zip(density.par_chunks_mut(PATCH))
            .zip(densest.par_iter_mut())
            .enumerate()
            .map(|(patch, ((r, density), densest))| {
                let first = patch * PATCH;
                let mut total = 0.0f64;
                for (i, (r, density)) in r.iter_mut().zip(density).enumerate() {
                    let v = first + i;
                    let edges = offsets[v] as usize..offsets[v + 1] as usize;
                    // SAFETY: `check_arrays` checked every predecessor against the node count,
                    // which is `share.len()`.
                    let pulled = unsafe { gather(&share, &src[edges.clone()], &weight[edges]) };
                    let teleport = personalization.map_or(uniform, |p| p[v]);
                    *r = teleport + alpha * pulled - y[v];
                    total += r.abs();
                    *density = (r.abs() / cost(graph, v)) as f32;
                    *densest = densest.max(*density as f64);
                }
                total
            })
            .sum();
        Ok(Residual {
            alpha,
            scale: s,
            y,
            r,
            density,
            total,
            densest,
        })
    }

    /// Rounds of parallel pushes, as the module doc describes; adds their work to `work`.
    /// `weight` is each out-edge's weight ([`Graph::out_edge_weights`]).
    fn push(&mut self, graph: &Graph, weight: &[f32], options: &PushOptions, work: &mut PushWork) {
        let edges = graph.edge_count().max(1) as f64;
        let budget = options.budget * edges;
        let blocks = self.r.len().div_ceil(BLOCK);
        // outbox[from][to]: (receiver, amount) sent by block `from` to block `to` this round.
        let mut outbox: Vec<Vec<Vec<(u32, f64)>>> = vec![vec![Vec::new(); blocks]; blocks];
        let stop = |total: f64| options.density * total / edges;
        let mut theta = self.densest.iter().copied().fold(0.0, f64::max);
        let mut touched = 0.0;
        let mut last = false;
        while theta > 0.0 && !last && touched < budget {
            let sent = self.send(graph, weight, theta, &mut outbox);
            let received = self.receive(graph, &outbox);
            self.total += received - sent.taken;
            touched += sent.cost;
            work.rounds += 1;
            work.pushes += sent.pushes;
            work.checks += sent.checks;
            // The last round pushes down to the stopping density itself, whatever the step.
            let next = stop(self.total);
            last = theta / options.step <= next;
            theta = (theta / options.step).max(next);
        }
        // Rounding in the tracked total must not make it negative.
        self.total = self.total.max(0.0);
        work.push_sweeps = touched / edges;
    }

    /// The first half of a round, one task per block: each node with |r[u]| ≥ θ · cost(u),
    /// in the patches that have one, moves its residual into its score and files
    /// α r[u] w(u,v) / Σ w(u,·) for each out-edge into `outbox[its block][v's block]`.
    fn send(
        &mut self,
        graph: &Graph,
        weight: &[f32],
        theta: f64,
        outbox: &mut [Vec<Vec<(u32, f64)>>],
    ) -> Sent {
        let (offsets, dst) = graph.out_arrays();
        let out_weight = graph.out_weights();
        let alpha = self.alpha;
        let threshold = (theta as f32).to_bits();
        self.r
            .par_chunks_mut(BLOCK)
            .zip(self.y.par_chunks_mut(BLOCK))
            .zip(self.density.par_chunks_mut(BLOCK))
            .zip(self.densest.par_chunks_mut(PATCHES_PER_BLOCK))
            .zip(outbox.par_iter_mut())
            .enumerate()
            .map(|(block, ((((r, y), density), densest), out))| {
                // What this block filed last round has been received.
                out.iter_mut().for_each(Vec::clear);
                let mut sent = Sent::default();
                for (patch, densest) in densest.iter_mut().enumerate() {
                    if *densest < theta {
                        continue;
                    }
                    let nodes = patch * PATCH..((patch + 1) * PATCH).min(r.len());
                    sent.checks += nodes.len() as u64;
                    for i in nodes.clone() {
                        // Densities are not negative, so their bits order as they do.
                        if density[i].to_bits() < threshold {
                            continue;
                        }
                        density[i] = 0.0;
                        let u = block * BLOCK + i;
                        let delta = std::mem::take(&mut r[i]);
                        y[i] += delta;
                        sent.taken += delta.abs();
                        sent.cost += cost(graph, u);
                        sent.pushes += 1;
                        // A dangling node's row of P is zero: its residual only enters y.
                        if out_weight[u] == 0.0 {
                            continue;
                        }
                        let factor = alpha * delta / out_weight[u];
                        let edges = offsets[u] as usize..offsets[u + 1] as usize;
                        for (&v, &w) in dst[edges.clone()].iter().zip(&weight[edges]) {
                            out[(v >> BLOCK_SHIFT) as usize].push((v, factor * w as f64));
                        }
                    }
                    let left = density[nodes].iter().map(|d| d.to_bits()).max();
                    *densest = f32::from_bits(left.unwrap_or(0)) as f64;
                }
                sent
            })
            .reduce(Sent::default, Sent::add)
    }

    /// The second half of a round, one task per receiving block: adds what every block filed
    /// for it. Returns the change of Σ |r| over the receivers.
    fn receive(&mut self, graph: &Graph, outbox: &[Vec<Vec<(u32, f64)>>]) -> f64 {
        self.r
            .par_chunks_mut(BLOCK)
            .zip(self.density.par_chunks_mut(BLOCK))
            .zip(self.densest.par_chunks_mut(PATCHES_PER_BLOCK))
            .enumerate()
            .map(|(block, ((r, density), densest))| {
                let first = block * BLOCK;
                let mut change = 0.0;
                for from in outbox {
                    for &(v, amount) in &from[block] {
                        let i = v as usize - first;
                        let old = r[i];
                        let new = old + amount;
                        r[i] = new;
                        change += new.abs() - old.abs();
                        density[i] = (new.abs() / cost(graph, v as usize)) as f32;
                        let patch = &mut densest[i >> PATCH_SHIFT];
                        *patch = patch.max(density[i] as f64);
                    }
                }
                change
            })
            .sum()
    }

    fn y_sum(&self) -> f64 {
        self.y.par_iter().sum()
    }

    /// The estimate as a start vector (`y`, or `y + r` with `with_residual`), negatives
    /// clipped, normalized to sum 1.
    fn scores(&self, with_residual: bool) -> Vec<f64> {
        let mut scores: Vec<f64> = self
            .y
            .par_iter()
            .zip(&self.r)
            .map(|(y, r)| (y + if with_residual { *r } else { 0.0 }).max(0.0))
            .collect();
        let sum: f64 = scores.par_iter().sum();
        if sum > 0.0 {
            scores.par_iter_mut().for_each(|s| *s /= sum);
        }
        scores
    }
}

/// What the first half of a round did.
#[derive(Debug, Default)]
struct Sent {
    /// Σ |r| moved into the scores.
    taken: f64,
    /// Edges touched (pushes' costs).
    cost: f64,
    pushes: u64,
    /// Nodes examined.
    checks: u64,
}

impl Sent {
    fn add(self, other: Sent) -> Sent {
        Sent {
            taken: self.taken + other.taken,
            cost: self.cost + other.cost,
            pushes: self.pushes + other.pushes,
            checks: self.checks + other.checks,
        }
    }
}

/// Edges a push of `u` touches: its out-degree, at least 1.
fn cost(graph: &Graph, u: usize) -> f64 {
    let (offsets, _) = graph.out_arrays();
    (offsets[u + 1] - offsets[u]).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_graph as graph;
    use crate::kernel::l1_distance;

    fn tight() -> PageRankOptions {
        PageRankOptions {
            tolerance: 1e-12,
            max_iterations: 1000,
            ..PageRankOptions::default()
        }
    }

    fn edges() -> Vec<(u32, u32, f32)> {
        // Node 5 dangling, 6 isolated, a self-loop on 2.
        vec![
            (0, 1, 2.0),
            (0, 2, 1.0),
            (1, 2, 0.5),
            (1, 5, 1.0),
            (2, 0, 1.0),
            (2, 2, 3.0),
            (3, 0, 1.0),
            (3, 4, 4.0),
            (4, 3, 1.0),
            (4, 5, 1.0),
        ]
    }

    #[test]
    fn a_far_start_with_personalization_reaches_the_cold_answer() {
        let g = graph(7, &edges());
        let options = PageRankOptions {
            personalization: Some(vec![1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 1.0]),
            ..tight()
        };
        let cold = pagerank(&g, &options, None).unwrap();
        let start = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let push = PushOptions {
            density: 0.0,
            budget: 50.0,
            ..PushOptions::default()
        };
        let warm = pagerank_warm_with(&g, &options, &start, &push).unwrap();
        assert!(warm.work.pushes > 0);
        assert!(warm.work.residual_after < warm.work.residual_before);
        // The out-edge weights were built for the pushes: 4 bytes per edge on top of the graph.
        assert_eq!(warm.work.out_weights_bytes, 4 * g.edge_count() as u64);
        assert_eq!(g.bytes_per_edge(), 12.0);
        let l1 = l1_distance(&cold.scores, &warm.result.scores);
        assert!(
            l1 < 1e-10,
            "{l1}: {:?} vs {:?}",
            warm.result.scores,
            cold.scores
        );
    }

    #[test]
    fn pushes_alone_keep_the_invariant() {
        // With sweeps left out (max 0 iterations would stop them), the pushed start vector
        // must already be close to the answer when pushing down to a tiny density.
        let g = graph(7, &edges());
        let cold = pagerank(&g, &tight(), None).unwrap();
        let x = normalized(&[1.0; 7], 7, "start").unwrap();
        let mut state = Residual::compute(&g, 0.85, None, x).unwrap();
        let mut work = PushWork::default();
        let push = PushOptions {
            density: 1e-9,
            budget: 1e6,
            step: 2.0,
        };
        state.push(&g, &g.out_edge_weights(), &push, &mut work);
        let l1 = l1_distance(&state.scores(false), &cold.scores);
        assert!(l1 < 1e-6, "{l1} after {} pushes", work.pushes);
    }

    #[test]
    fn bad_push_options_are_errors() {
        let g = graph(7, &edges());
        let start = [1.0; 7];
        for push in [
            PushOptions {
                step: 1.0,
                ..PushOptions::default()
            },
            PushOptions {
                budget: -1.0,
                ..PushOptions::default()
            },
        ] {
            assert!(pagerank_warm_with(&g, &tight(), &start, &push).is_err());
        }
        assert!(pagerank_warm(&g, &tight(), &[1.0; 3]).is_err());
    }
}
