//! Warm start by residual pushes, the rank job's default ([`crate::WarmStrategy::Push`]):
//! after a small change to the graph, carry the previous version's scores most of the way to
//! the new fixed point with local pushes, then let Gauss-Seidel sweeps ([`crate::kernel`])
//! finish to the cold run's stopping rule.
//!
//! It does far less edge work than a cold or a plain warm start, though not less wall time:
//! the pushes run on one thread and wait on memory at every push. Memory: the pushes read each
//! out-edge's weight, which the graph keeps as a 2-byte code ([`crate::graph`]), so the graph
//! stays at 12 bytes per edge throughout.
//!
//! Why it pays: even a small random change moves the whole PageRank vector, and a sweep
//! removes the same share of the error wherever it starts, so a plain warm start still needs
//! most of cold's sweeps. But the change in the *residual* is concentrated on the few nodes
//! whose edges changed and their small neighbourhoods: pushing those nodes' residual to their
//! successors removes most of it for a fraction of a sweep's edge work, and pushing the densest
//! residual first keeps removing more residual per edge than a sweep does well below 1e-5.
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
//! A push touches only `u`'s out-edges, and pushes are linear, so any order keeps the
//! invariant. The final normalization removes the scale.
//!
//! The steps of [`pagerank_warm`]:
//!
//! 1. The residual, in one parallel pull over all in-edges (one sweep-equivalent). When its
//!    L1 (relative to Σ y) is already under a tenth of the tolerance — the graph did not
//!    change — this pass is the whole work.
//! 2. Gauss-Southwell pushes on one thread, in place: nodes are filed by the `f32` exponent
//!    of their residual per out-edge (their density class), and the densest non-empty class
//!    is pushed next, its nodes in node order; a push's amounts land in the receivers' residuals
//!    at once and file a receiver again when its density rises a class. No step scans all
//!    nodes. Pushing stops when, over the last [`PushOptions::window`] of push work, the
//!    residual removed per edge touched falls below [`PushOptions::efficiency`] times the
//!    average residual per edge (a sweep removes about 0.65 of that), when the
//!    [`PushOptions::budget`] is spent, or when the residual falls below a tenth of the
//!    tolerance (then `y + r` is the answer and no sweep runs).
//! 3. Gauss-Seidel sweeps from the pushed scores, stopping as a cold start does.
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
use crate::graph::{EdgeWeights, Graph};
use crate::kernel::{
    PageRankOptions, PageRankResult, check_alpha, check_arrays, gather, normalized, pagerank, scale,
};

/// How far pushes go before sweeps take over.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOptions {
    /// The most push work, in sweep-equivalents (edges touched / |E|; checked at the end of
    /// each [`PushOptions::window`], so the pushes may go over it by up to one window).
    pub budget: f64,
    /// Keep pushing while the residual the pushes removed per edge touched, over the last
    /// [`PushOptions::window`] of push work, is at least this many times the average residual
    /// per edge (‖r‖₁ / |E|). A Gauss-Seidel sweep removes about 0.65 of the residual for |E|
    /// edges, i.e. 0.65 × the average per edge, so at 0.65 pushes would go on while they beat
    /// a sweep per edge; but an edge touched by a push costs several times the wall time of
    /// one touched by a sweep. The default, 4, trades a little more edge work than lower
    /// settings for less wall time.
    pub efficiency: f64,
    /// The stretch of push work, in sweep-equivalents, over which the efficiency is measured.
    pub window: f64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            budget: 2.0,
            efficiency: 4.0,
            window: 0.05,
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
    /// Passes over a density class's worklist.
    pub rounds: u32,
    /// Node pushes.
    pub pushes: u64,
    /// Worklist entries examined to pick the pushes (node reads, no edge work).
    pub checks: u64,
    /// L1 of the residual before the pushes, relative to the scores' sum: the L1 change that a
    /// power-iteration sweep from the old scores would make.
    pub residual_before: f64,
    /// The same after the pushes (recounted from the residuals the pushes kept).
    pub residual_after: f64,
    /// Wall time of the residual pass, of the pushes (building the out-edge weights
    /// included), and of the sweeps (with their setup).
    #[serde(default)]
    pub seconds: [f64; 3],
    /// Of the pushes' seconds, those spent building the out-edge weights.
    #[serde(default)]
    pub out_weights_seconds: f64,
    /// Bytes of out-edge weights built for the pushes and held while they run, on top of the
    /// graph's: 0 when the graph keeps them as codes (the usual case), 4 per edge for a graph
    /// with more than 65,536 distinct edge weights.
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
    if !(push.window > 0.0 && push.efficiency >= 0.0 && push.budget >= 0.0) {
        return Err(RankError::Input(format!(
            "push options {push:?}: the window must be above 0, efficiency and budget not \
             negative"
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
    let certify = options.tolerance * CERTIFY;
    if work.residual_before < certify {
        // The old scores' residual on this graph already certifies them (see `CERTIFY`):
        // y + r, a power-iteration sweep from them, is the answer.
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
    // A graph with coded weights keeps its out-edge weights; otherwise build them for the
    // pushes (4 bytes per edge, dropped before the sweeps).
    let built = if graph.has_out_edge_weights() {
        None
    } else {
        Some(EdgeWeights::Plain(graph.build_out_edge_weights()))
    };
    let out_edge_weight = built.as_ref().unwrap_or(graph.out_edge_weight_array());
    work.out_weights_seconds = started.elapsed().as_secs_f64();
    work.out_weights_bytes = built.as_ref().map_or(0, |w| (w.len() * 4) as u64);
    // One thread, in place: a push's amounts land at once (no rounds to synchronize, no
    // outbox), and later pushes see them (Gauss-Southwell proper).
    state.push(graph, out_edge_weight, push, certify, &mut work);
    drop(built);
    work.residual_after = state.total / state.y_sum.max(f64::MIN_POSITIVE);
    work.seconds[1] = started.elapsed().as_secs_f64();
    if work.residual_after < certify {
        // The pushes' residual certifies the scores (see `CERTIFY`): no sweep is needed.
        let result = PageRankResult {
            scores: state.scores(true),
            iterations: 0,
            residual: work.residual_after,
            converged: true,
        };
        tracing::debug!(?work, "warm start with pushes, no sweeps");
        return Ok(WarmPush { result, work });
    }
    let pushed = state.scores(false);
    drop(state);
    let started = Instant::now();
    let result = pagerank(graph, options, Some(&pushed))?;
    work.sweeps = result.iterations;
    work.seconds[2] = started.elapsed().as_secs_f64();
    tracing::debug!(?work, "warm start with pushes");
    Ok(WarmPush { result, work })
}

/// The pushes stop without sweeps when the residual, ‖r‖₁ / Σ y, falls below the tolerance
/// times this. A residual `r` leaves `y` off the answer by `(I − α Pᵀ)⁻¹ r`, up to
/// ‖r‖ (1 + α) / (1 − α) ≈ 12 ‖r‖ relative; on the activity graph about 1 × ‖r‖ (pushes to
/// ‖r‖ = 1e-6 landed 1.09e-6 from the cold scores). A tenth of the tolerance keeps the error
/// at or below the cold run's (2–3e-7 at a tolerance of 1e-6).
const CERTIFY: f64 = 0.1;

/// Nodes per unit of parallel work in the residual pass.
const PATCH: usize = 4096;

/// Density classes: the `f32` exponent of a density (0 for zero and subnormals).
const KEYS: usize = 256;

/// The class of a density (not negative): its `f32` exponent bits, so that a higher class
/// means a density at least twice as large.
#[inline]
fn key(density: f32) -> usize {
    (density.to_bits() >> 23) as usize
}

/// One node's residual and what a push of it reads, together (32 bytes): adding to a node's
/// residual touches one cache line, and so does finding its out-edges.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    r: f64,
    /// α / Σ w(u,·), or 0 for a dangling node (its row of P is zero).
    factor: f64,
    /// The node's first out-edge.
    start: u64,
    /// Its out-degree.
    degree: u32,
    /// |r| / cost, the residual per edge a push of the node touches.
    density: f32,
}

impl Slot {
    /// Edges a push touches: the out-degree, at least 1.
    fn cost(&self) -> f64 {
        self.degree.max(1) as f64
    }
}

/// The pushed estimate `y` and its residual `r`, with what the pushes need alongside.
struct Residual {
    /// The scale `s` of `y = s · x` at the start.
    scale: f64,
    y: Vec<f64>,
    /// Σ y, kept up to date by the pushes.
    y_sum: f64,
    slots: Vec<Slot>,
    /// For each density class, nodes whose density may be in it. Every node with a positive
    /// density has an entry in its class or a higher one: an entry is added when a node's
    /// density rises to a higher class, and a pass over a class files the entries of nodes
    /// whose density has fallen below it again under their class. Pushes read these lists,
    /// never the whole node range.
    buckets: Vec<Vec<u32>>,
    /// Σ |r|, kept up to date by the pushes.
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
        let (out_offsets, _) = graph.out_arrays();
        if out_offsets
            .windows(2)
            .any(|w| w[1] - w[0] > u32::MAX as u64)
        {
            return Err(RankError::TooLarge(
                "a node with more than 2^32 out-edges".to_string(),
            ));
        }
        let uniform = 1.0 / n as f64;
        let mut slots = vec![Slot::default(); n];
        let total = slots
            .par_chunks_mut(PATCH)
            .enumerate()
            .map(|(patch, slots)| {
                let first = patch * PATCH;
                let mut total = 0.0f64;
                for (i, slot) in slots.iter_mut().enumerate() {
                    let v = first + i;
                    let edges = offsets[v] as usize..offsets[v + 1] as usize;
                    // SAFETY: `check_arrays` checked every predecessor against the node count,
                    // which is `share.len()`, and the weights.
                    let pulled = unsafe { gather(&share, src, weight, edges) };
                    let teleport = personalization.map_or(uniform, |p| p[v]);
                    let r = teleport + alpha * pulled - y[v];
                    total += r.abs();
                    let w = out_weight[v];
                    *slot = Slot {
                        r,
                        factor: if w > 0.0 { alpha / w } else { 0.0 },
                        start: out_offsets[v],
                        degree: (out_offsets[v + 1] - out_offsets[v]) as u32,
                        density: 0.0,
                    };
                    slot.density = (r.abs() / slot.cost()) as f32;
                }
                total
            })
            .sum();
        drop(share);
        let mut buckets = vec![Vec::new(); KEYS];
        for (v, slot) in slots.iter().enumerate() {
            if key(slot.density) > 0 {
                buckets[key(slot.density)].push(v as u32);
            }
        }
        let y_sum = y.par_iter().sum();
        Ok(Residual {
            scale: s,
            y,
            y_sum,
            slots,
            buckets,
            total,
        })
    }

    /// Gauss-Southwell pushes, densest class first, as the module doc describes; adds their
    /// work to `work`. `weight` is each out-edge's weight.
    fn push(
        &mut self,
        graph: &Graph,
        weight: &EdgeWeights,
        options: &PushOptions,
        certify: f64,
        work: &mut PushWork,
    ) {
        let edges = graph.edge_count().max(1) as f64;
        let budget = options.budget * edges;
        let (_, dst) = graph.out_arrays();
        let Residual {
            y,
            y_sum,
            slots,
            buckets,
            total,
            ..
        } = self;
        let window = (options.window * edges).max(1.0);
        let mut touched = 0.0;
        // Where the current efficiency window started: edges touched, Σ |r|.
        let (mut mark, mut mark_total) = (0.0, *total);
        let mut kept = Vec::new();
        'classes: while touched < budget {
            let Some(top) = (1..KEYS).rev().find(|&k| !buckets[k].is_empty()) else {
                break;
            };
            let mut list = std::mem::take(&mut buckets[top]);
            // In node order, the slots and out-lists of the pushed nodes are read front to back
            // instead of at random.
            list.sort_unstable();
            work.rounds += 1;
            work.checks += list.len() as u64;
            for (at, &u) in list.iter().enumerate() {
                // Each push waits on three loads in a row (the slot, then the out-list's
                // successors and weights, then the successors' slots); asking for each a
                // stage of pushes ahead overlaps them.
                if let Some(&ahead) = list.get(at + 3 * LOOKAHEAD) {
                    prefetch(&slots[ahead as usize]);
                }
                if let Some(&ahead) = list.get(at + 2 * LOOKAHEAD) {
                    let next = &slots[ahead as usize];
                    if next.degree > 0 && next.density > 0.0 {
                        prefetch(&dst[next.start as usize]);
                        if let EdgeWeights::Coded { codes, .. } = weight {
                            prefetch(&codes[next.start as usize]);
                        }
                    }
                }
                if let Some(&ahead) = list.get(at + LOOKAHEAD) {
                    let next = &slots[ahead as usize];
                    if next.density > 0.0 && next.factor != 0.0 {
                        let start = next.start as usize;
                        let count = (next.degree as usize).min(PREFETCH_TARGETS);
                        for &v in &dst[start..start + count] {
                            prefetch(&slots[v as usize]);
                        }
                    }
                }
                let Slot { r, density, .. } = slots[u as usize];
                if key(density) < top {
                    // Fallen below this class since it was filed: file it under its own.
                    if key(density) > 0 {
                        buckets[key(density)].push(u);
                    }
                    continue;
                }
                let slot = &mut slots[u as usize];
                slot.r = 0.0;
                slot.density = 0.0;
                let Slot {
                    factor,
                    start,
                    degree,
                    ..
                } = *slot;
                y[u as usize] += r;
                *y_sum += r;
                *total -= r.abs();
                touched += slot.cost();
                work.pushes += 1;
                if factor != 0.0 {
                    let factor = factor * r;
                    let edges = start as usize..start as usize + degree as usize;
                    let targets = &dst[edges.clone()];
                    match weight {
                        EdgeWeights::Coded { codes, table } => {
                            for (&v, &c) in targets.iter().zip(&codes[edges]) {
                                add(slots, buckets, total, v, factor * table[c as usize]);
                            }
                        }
                        EdgeWeights::Plain(w) => {
                            for (&v, &w) in targets.iter().zip(&w[edges]) {
                                add(slots, buckets, total, v, factor * w as f64);
                            }
                        }
                        EdgeWeights::Absent => {}
                    }
                }
                if *total < certify * *y_sum {
                    // The residual meets the stopping rule: done, no sweeps needed.
                    break 'classes;
                }
                if touched - mark >= window {
                    let removed = (mark_total - *total) / (touched - mark);
                    tracing::trace!(
                        push_sweeps = touched / edges,
                        residual = *total / *y_sum,
                        removed_per_edge = removed / (*total / edges),
                        "pushes"
                    );
                    if removed < options.efficiency * *total / edges || touched >= budget {
                        kept.extend_from_slice(&list[at + 1..]);
                        break 'classes;
                    }
                    (mark, mark_total) = (touched, *total);
                }
            }
        }
        drop(kept);
        // The running sums drift by rounding: recount them.
        *total = slots.par_iter().map(|s| s.r.abs()).sum();
        *y_sum = y.par_iter().sum();
        work.push_sweeps = touched / edges;
    }

    /// The estimate as a start vector (`y`, or `y + r` with `with_residual`), negatives
    /// clipped, normalized to sum 1.
    fn scores(&self, with_residual: bool) -> Vec<f64> {
        let mut scores: Vec<f64> = self
            .y
            .par_iter()
            .zip(&self.slots)
            .map(|(y, s)| (y + if with_residual { s.r } else { 0.0 }).max(0.0))
            .collect();
        let sum: f64 = scores.par_iter().sum();
        if sum > 0.0 {
            scores.par_iter_mut().for_each(|s| *s /= sum);
        }
        scores
    }
}

/// How many entries ahead of a push its memory is asked for: its successors' slots this
/// far ahead, its out-list twice and its own slot three times as far.
const LOOKAHEAD: usize = 4;

/// The most successors' slots asked for ahead of one push (a hub's out-list would flush
/// what the pushes before it asked for).
const PREFETCH_TARGETS: usize = 16;

/// Asks the CPU to bring `value`'s cache line in (a hint: no effect on the result).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees; the pointer comes
    // from a reference.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Adds `amount` to v's residual, filing v again when its density rises a class.
#[inline]
fn add(slots: &mut [Slot], buckets: &mut [Vec<u32>], total: &mut f64, v: u32, amount: f64) {
    let slot = &mut slots[v as usize];
    let old = slot.r;
    let new = old + amount;
    slot.r = new;
    *total += new.abs() - old.abs();
    let was = slot.density;
    let now = (new.abs() / slot.cost()) as f32;
    slot.density = now;
    if key(now) > key(was) {
        buckets[key(now)].push(v);
    }
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
            efficiency: 0.0,
            budget: 50.0,
            ..PushOptions::default()
        };
        let warm = pagerank_warm_with(&g, &options, &start, &push).unwrap();
        assert!(warm.work.pushes > 0);
        assert!(warm.work.residual_after < warm.work.residual_before);
        // The graph keeps the out-edge weights as codes: nothing built, 12 bytes per edge.
        assert_eq!(warm.work.out_weights_bytes, 0);
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
        // must already be close to the answer when pushing down to a tiny residual.
        let g = graph(7, &edges());
        let cold = pagerank(&g, &tight(), None).unwrap();
        let x = normalized(&[1.0; 7], 7, "start").unwrap();
        let mut state = Residual::compute(&g, 0.85, None, x).unwrap();
        let mut work = PushWork::default();
        let push = PushOptions {
            efficiency: 0.0,
            budget: 1e6,
            window: 0.5,
        };
        let weights = EdgeWeights::Plain(g.out_edge_weights());
        state.push(&g, &weights, &push, 1e-12, &mut work);
        let l1 = l1_distance(&state.scores(false), &cold.scores);
        assert!(l1 < 1e-6, "{l1} after {} pushes", work.pushes);
    }

    #[test]
    fn bad_push_options_are_errors() {
        let g = graph(7, &edges());
        let start = [1.0; 7];
        for push in [
            PushOptions {
                window: 0.0,
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
