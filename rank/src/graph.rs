//! The rank graph in compressed sparse rows, both directions, built for a pull kernel.
//!
//! In-edges are what the kernel reads: for each node, the slice of its predecessors (`u32`)
//! and the weight of each edge. Out-edges keep the successor (`u32`) and, for the warm start's
//! residual pushes ([`crate::push`]), the weight of each out-edge; the kernel itself needs
//! just each node's total out-weight, kept per node in `f64`.
//!
//! Weights are stored as `u16` codes into a table of the graph's distinct edge weights
//! ([`EdgeWeights`]): parallel activities summed over a handful of activity weights give few
//! distinct values, so each direction spends 2 bytes an edge on them and a weight is still
//! exact. That makes 4 + 2 (in) + 4 + 2 (out) = 12 bytes per edge, out-edge weights included,
//! plus O(nodes). A graph with more than 65,536 distinct weights keeps `f32` in-weights and no
//! out-edge weights (still 12 bytes per edge); a warm start with pushes then builds the
//! out-edge weights while it pushes ([`Graph::out_edge_weights`], 4 more bytes per edge).
//!
//! A [`GraphBuilder`] takes edges in any order, with repeats: parallel edges between the same
//! two nodes (a user who liked and reposted and played a track) become one edge whose weight
//! is their sum.
//!
//! ```
//! use rank::{GraphBuilder, NodeTable};
//! let mut builder = GraphBuilder::new(3);
//! builder.push(0, 1, 1.0);
//! builder.push(0, 1, 2.0); // summed with the one above
//! builder.push(1, 2, 1.0);
//! let graph = builder.build(NodeTable::anonymous(3)).unwrap();
//! assert_eq!(graph.edge_count(), 2);
//! assert_eq!(graph.in_edges(1).collect::<Vec<_>>(), vec![(0, 3.0)]);
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;

use rayon::prelude::*;

use crate::RankError;
use crate::nodes::NodeTable;

/// One edge while building: 12 bytes, sorted by (dst, src).
#[derive(Debug, Clone, Copy)]
struct Edge {
    dst: u32,
    src: u32,
    weight: f32,
}

/// Most distinct edge weights a graph stores as `u16` codes.
const MAX_CODES: usize = 1 << 16;

/// The weights of one direction's edges.
#[derive(Debug, Clone)]
pub(crate) enum EdgeWeights {
    /// `table[codes[e]]` is edge `e`'s weight (the `f32` weight, widened).
    Coded { codes: Vec<u16>, table: Vec<f64> },
    /// Edge `e`'s weight.
    Plain(Vec<f32>),
    /// Not stored (out-edges of a graph whose weights do not fit the codes).
    Absent,
}

impl EdgeWeights {
    fn bytes(&self) -> usize {
        match self {
            EdgeWeights::Coded { codes, table } => codes.len() * 2 + table.len() * 8,
            EdgeWeights::Plain(w) => w.len() * 4,
            EdgeWeights::Absent => 0,
        }
    }

    fn per_edge_bytes(&self) -> usize {
        match self {
            EdgeWeights::Coded { codes, .. } => codes.len() * 2,
            EdgeWeights::Plain(w) => w.len() * 4,
            EdgeWeights::Absent => 0,
        }
    }

    /// Edge `e`'s weight; panics on an edge out of range or an absent array.
    pub(crate) fn get(&self, e: usize) -> f32 {
        match self {
            EdgeWeights::Coded { codes, table } => table[codes[e] as usize] as f32,
            EdgeWeights::Plain(w) => w[e],
            EdgeWeights::Absent => panic!("edge weights not stored"),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            EdgeWeights::Coded { codes, .. } => codes.len(),
            EdgeWeights::Plain(w) => w.len(),
            EdgeWeights::Absent => 0,
        }
    }
}

/// Collects edges, then sorts, merges and compresses them into a [`Graph`].
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: u32,
    edges: Vec<Edge>,
}

impl GraphBuilder {
    /// A builder for a graph of `nodes` nodes numbered `0..nodes`.
    pub fn new(nodes: u32) -> GraphBuilder {
        GraphBuilder {
            nodes,
            edges: Vec::new(),
        }
    }

    /// Like [`GraphBuilder::new`], with room for `edges` edges.
    pub fn with_capacity(nodes: u32, edges: usize) -> GraphBuilder {
        GraphBuilder {
            nodes,
            edges: Vec::with_capacity(edges),
        }
    }

    /// Adds an edge `src → dst`. Edges of weight ≤ 0 (or NaN) carry nothing and are skipped.
    /// Panics when a node number is out of range: node numbers come from a [`NodeTable`].
    pub fn push(&mut self, src: u32, dst: u32, weight: f32) {
        assert!(
            src < self.nodes && dst < self.nodes,
            "edge {src} → {dst} outside {} nodes",
            self.nodes
        );
        if weight > 0.0 {
            self.edges.push(Edge { dst, src, weight });
        }
    }

    /// Edges pushed so far (before merging parallel ones).
    pub fn pushed(&self) -> usize {
        self.edges.len()
    }

    /// Sorts, merges parallel edges and builds both directions. Peak memory is the 12-byte
    /// edge list plus the 8-byte in-arrays; the edge list is freed before the out-arrays.
    pub fn build(self, nodes: NodeTable) -> Result<Graph, RankError> {
        if nodes.len() != self.nodes as usize {
            return Err(RankError::Input(format!(
                "node table has {} nodes, the builder {}",
                nodes.len(),
                self.nodes
            )));
        }
        let n = self.nodes as usize;
        let mut edges = self.edges;
        edges.par_sort_unstable_by_key(|e| ((e.dst as u64) << 32) | e.src as u64);
        let merged = merge_parallel(&mut edges);
        edges.truncate(merged);

        let mut in_offsets = vec![0u64; n + 1];
        let mut out_degree = vec![0u64; n + 1];
        let mut out_weight = vec![0f64; n];
        for e in &edges {
            in_offsets[e.dst as usize + 1] += 1;
            out_degree[e.src as usize + 1] += 1;
            out_weight[e.src as usize] += e.weight as f64;
        }
        prefix_sum(&mut in_offsets);
        prefix_sum(&mut out_degree);
        // The distinct weights, if few enough to code (a 4-byte temporary per edge while the
        // 12-byte edge list is still held: below the 20-byte peak further down).
        let mut distinct: Vec<u32> = edges.par_iter().map(|e| e.weight.to_bits()).collect();
        distinct.par_sort_unstable();
        distinct.dedup();
        let coded = distinct.len() <= MAX_CODES;
        if !coded {
            drop(distinct);
            distinct = Vec::new();
        }
        let in_src: Vec<u32> = edges.par_iter().map(|e| e.src).collect();
        let in_weight = if coded {
            // Positive f32 order as their bits do, so the table is sorted by value.
            let codes = edges
                .par_iter()
                .map(|e| distinct.binary_search(&e.weight.to_bits()).unwrap_or(0) as u16)
                .collect();
            let table = distinct.iter().map(|&b| f32::from_bits(b) as f64).collect();
            EdgeWeights::Coded { codes, table }
        } else {
            EdgeWeights::Plain(edges.par_iter().map(|e| e.weight).collect())
        };
        drop(edges);

        // Walking in-edges in dst order fills each out-list in dst order too.
        let out_offsets = out_degree;
        let mut cursor: Vec<u64> = out_offsets[..n].to_vec();
        let mut out_dst = vec![0u32; in_src.len()];
        let mut out_codes = vec![0u16; if coded { in_src.len() } else { 0 }];
        for dst in 0..n {
            for e in in_offsets[dst]..in_offsets[dst + 1] {
                let src = in_src[e as usize] as usize;
                let at = cursor[src] as usize;
                out_dst[at] = dst as u32;
                if let EdgeWeights::Coded { codes, .. } = &in_weight {
                    out_codes[at] = codes[e as usize];
                }
                cursor[src] += 1;
            }
        }
        let out_edge_weight = match &in_weight {
            EdgeWeights::Coded { table, .. } => EdgeWeights::Coded {
                codes: out_codes,
                table: table.clone(),
            },
            _ => EdgeWeights::Absent,
        };
        Ok(Graph {
            nodes,
            in_offsets,
            in_src,
            in_weight,
            out_offsets,
            out_dst,
            out_edge_weight,
            out_weight,
        })
    }
}

/// Merges runs of equal (dst, src) in a sorted slice, summing weights in f64; returns the
/// number of distinct edges, which now sit at the front of the slice.
fn merge_parallel(edges: &mut [Edge]) -> usize {
    let mut write = 0usize;
    let mut read = 0usize;
    while read < edges.len() {
        let (dst, src) = (edges[read].dst, edges[read].src);
        let mut sum = 0f64;
        while read < edges.len() && edges[read].dst == dst && edges[read].src == src {
            sum += edges[read].weight as f64;
            read += 1;
        }
        edges[write] = Edge {
            dst,
            src,
            weight: sum as f32,
        };
        write += 1;
    }
    write
}

fn prefix_sum(counts: &mut [u64]) {
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
}

/// A weighted directed graph over a [`NodeTable`], compressed in both directions.
#[derive(Debug, Clone)]
pub struct Graph {
    nodes: NodeTable,
    in_offsets: Vec<u64>,
    in_src: Vec<u32>,
    in_weight: EdgeWeights,
    out_offsets: Vec<u64>,
    out_dst: Vec<u32>,
    /// Parallel to `out_dst`; `Absent` when the weights are not coded.
    out_edge_weight: EdgeWeights,
    out_weight: Vec<f64>,
}

impl Graph {
    pub fn nodes(&self) -> &NodeTable {
        &self.nodes
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Distinct edges (parallel activities merged).
    pub fn edge_count(&self) -> usize {
        self.in_src.len()
    }

    /// Predecessors of `node` with the weight of each edge.
    pub fn in_edges(&self, node: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        self.in_range(node)
            .map(|e| (self.in_src[e], self.in_weight.get(e)))
    }

    /// Successors of `node`, in increasing node order.
    pub fn successors(&self, node: u32) -> &[u32] {
        let n = node as usize;
        &self.out_dst[self.out_offsets[n] as usize..self.out_offsets[n + 1] as usize]
    }

    /// Total weight leaving `node`; 0 for a dangling node.
    pub fn out_weight(&self, node: u32) -> f64 {
        self.out_weight[node as usize]
    }

    /// Nodes with no outgoing edge.
    pub fn dangling_count(&self) -> usize {
        self.out_weight.iter().filter(|w| **w == 0.0).count()
    }

    /// Every edge as (src, dst, weight), grouped by dst.
    pub fn edges(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        (0..self.node_count() as u32)
            .flat_map(move |dst| self.in_edges(dst).map(move |(src, w)| (src, dst, w)))
    }

    /// Bytes held by the edge arrays, the weight tables and the per-node arrays (not the node
    /// table).
    pub fn heap_bytes(&self) -> usize {
        self.in_offsets.len() * 8
            + self.in_src.len() * 4
            + self.in_weight.bytes()
            + self.out_offsets.len() * 8
            + self.out_dst.len() * 4
            + self.out_edge_weight.bytes()
            + self.out_weight.len() * 8
    }

    /// Bytes per edge of the per-edge arrays alone: 12 (4 + 2 + 4 + 2 with coded weights, or
    /// 4 + 4 + 4 without out-edge weights).
    pub fn bytes_per_edge(&self) -> f64 {
        let per_edge = self.in_src.len() * 4
            + self.in_weight.per_edge_bytes()
            + self.out_dst.len() * 4
            + self.out_edge_weight.per_edge_bytes();
        per_edge as f64 / self.edge_count().max(1) as f64
    }

    /// Distinct edge weights, when the graph stores them as codes (at most 65,536); `None`
    /// when it keeps `f32` weights and no out-edge weights.
    pub fn weight_codes(&self) -> Option<usize> {
        match &self.in_weight {
            EdgeWeights::Coded { table, .. } => Some(table.len()),
            _ => None,
        }
    }

    /// Whether the graph keeps each out-edge's weight (so that pushes need not build them).
    pub fn has_out_edge_weights(&self) -> bool {
        !matches!(self.out_edge_weight, EdgeWeights::Absent)
    }

    /// The weight of each out-edge, parallel to the successors ([`Graph::successors`]), as
    /// `f32`: decoded when the graph keeps them, else built from the in-edges (see
    /// [`Graph::build_out_edge_weights`]).
    pub fn out_edge_weights(&self) -> Vec<f32> {
        match &self.out_edge_weight {
            EdgeWeights::Absent => self.build_out_edge_weights(),
            w => (0..w.len()).into_par_iter().map(|e| w.get(e)).collect(),
        }
    }

    /// The weight of each out-edge, built from the in-edges (4 bytes per edge) for a graph that
    /// does not keep them (more than 65,536 distinct weights). The destinations
    /// are split into one range per rayon thread, of about equal in-edge counts; each range
    /// walks its in-edges in destination order, which fills each source's out-list in
    /// successor order as [`GraphBuilder::build`] filled the successors, from a cursor per
    /// node that starts at the source's first successor in the range (8 bytes per node per
    /// range while it runs).
    pub(crate) fn build_out_edge_weights(&self) -> Vec<f32> {
        let n = self.node_count();
        let m = self.out_dst.len();
        let parts = rayon::current_num_threads().clamp(1, 64);
        let mut bounds: Vec<usize> = (0..=parts)
            .map(|j| {
                let target = (m as u128 * j as u128 / parts as u128) as u64;
                self.in_offsets[..n].partition_point(|&o| o < target)
            })
            .collect();
        bounds[parts] = n;
        let weights: Vec<AtomicU32> = (0..m).into_par_iter().map(|_| AtomicU32::new(0)).collect();
        (0..parts).into_par_iter().for_each(|j| {
            let (first, end) = (bounds[j], bounds[j + 1]);
            if first >= end {
                return;
            }
            let mut cursor: Vec<u64> = (0..n)
                .map(|u| {
                    let (start, stop) = (self.out_offsets[u], self.out_offsets[u + 1]);
                    let successors = &self.out_dst[start as usize..stop as usize];
                    start + successors.partition_point(|&d| (d as usize) < first) as u64
                })
                .collect();
            for dst in first..end {
                for e in self.in_range(dst as u32) {
                    let src = self.in_src[e] as usize;
                    let w = self.in_weight.get(e);
                    weights[cursor[src] as usize].store(w.to_bits(), Relaxed);
                    cursor[src] += 1;
                }
            }
        });
        weights
            .into_iter()
            .map(|w| f32::from_bits(w.into_inner()))
            .collect()
    }

    /// Writes the weighted edge list as TSV `src dst weight`, nodes written `kind:id`.
    pub fn write_edges_tsv(&self, path: &Path) -> Result<(), RankError> {
        let io = |e| RankError::io(path, e);
        let file = std::fs::File::create(path).map_err(io)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "src\tdst\tweight").map_err(io)?;
        for (src, dst, w) in self.edges() {
            let (src, dst) = (self.nodes.key(src), self.nodes.key(dst));
            writeln!(out, "{src}\t{dst}\t{w}").map_err(io)?;
        }
        out.flush().map_err(io)
    }

    pub(crate) fn in_range(&self, node: u32) -> std::ops::Range<usize> {
        let n = node as usize;
        self.in_offsets[n] as usize..self.in_offsets[n + 1] as usize
    }

    pub(crate) fn in_arrays(&self) -> (&[u64], &[u32], &EdgeWeights) {
        (&self.in_offsets, &self.in_src, &self.in_weight)
    }

    /// Each out-edge's weight, parallel to `out_arrays().1` (`Absent` when not kept).
    pub(crate) fn out_edge_weight_array(&self) -> &EdgeWeights {
        &self.out_edge_weight
    }

    pub(crate) fn out_weights(&self) -> &[f64] {
        &self.out_weight
    }

    /// Out-edge offsets and successors (each node's out-list sorted by successor).
    pub(crate) fn out_arrays(&self) -> (&[u64], &[u32]) {
        (&self.out_offsets, &self.out_dst)
    }
}

/// A graph of anonymous nodes from an edge list, for the crate's unit tests.
#[cfg(test)]
pub(crate) fn test_graph(n: u32, edges: &[(u32, u32, f32)]) -> Graph {
    let mut b = GraphBuilder::new(n);
    for &(s, d, w) in edges {
        b.push(s, d, w);
    }
    b.build(NodeTable::anonymous(n)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_graph as graph;

    #[test]
    fn parallel_edges_are_summed_and_both_directions_agree() {
        let g = graph(
            4,
            &[
                (2, 1, 1.0),
                (0, 1, 0.5),
                (0, 1, 0.25),
                (1, 3, 2.0),
                (0, 3, 1.0),
                (3, 3, 1.0),
            ],
        );
        assert_eq!(g.edge_count(), 5);
        assert_eq!(g.in_edges(1).collect::<Vec<_>>(), vec![(0, 0.75), (2, 1.0)]);
        assert_eq!(
            g.in_edges(3).collect::<Vec<_>>(),
            vec![(0, 1.0), (1, 2.0), (3, 1.0)]
        );
        assert_eq!(g.successors(0), &[1, 3]);
        assert_eq!(g.successors(3), &[3]);
        assert_eq!(g.out_weight(0), 1.75);
        assert_eq!(g.out_weight(2), 1.0);
        assert_eq!(g.dangling_count(), 0);
        let mut forward: Vec<(u32, u32)> = (0..4)
            .flat_map(|s| g.successors(s).iter().map(move |&d| (s, d)))
            .collect();
        let mut backward: Vec<(u32, u32)> = g.edges().map(|(s, d, _)| (s, d)).collect();
        forward.sort();
        backward.sort();
        assert_eq!(forward, backward);
        // Out-edge weights exist only on demand, parallel to the successors.
        let out_weight = g.out_edge_weights();
        let (offsets, _) = g.out_arrays();
        let from_zero = &out_weight[offsets[0] as usize..offsets[1] as usize];
        assert_eq!(from_zero, &[0.75, 1.0]);
        assert_eq!(out_weight, vec![0.75, 1.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn the_graph_takes_at_most_12_bytes_per_edge_out_edge_weights_included() {
        // Issue #6's memory target: 12 bytes per edge plus O(nodes), whatever the warm start
        // (the pushes read the out-edge weights the graph keeps as codes).
        let edges: Vec<(u32, u32, f32)> = (0..1000u32)
            .flat_map(|u| (1..=7).map(move |k| (u, (u * 31 + k * 97) % 1000, k as f32)))
            .collect();
        let g = graph(1000, &edges);
        assert_eq!(g.bytes_per_edge(), 12.0);
        assert!(g.has_out_edge_weights());
        let per_node = 8 + 8 + 8; // both offsets and the out-weight, per node
        let tables = 2 * 8 * g.weight_codes().unwrap_or(0); // one f64 per distinct weight
        let bound = 12 * g.edge_count() + per_node * (g.node_count() + 1) + tables;
        assert!(g.heap_bytes() <= bound, "{} > {bound}", g.heap_bytes());
    }

    #[test]
    fn more_distinct_weights_than_codes_keep_f32_and_no_out_edge_weights() {
        // 70,000 distinct weights: the in-weights stay f32, the out-edge weights are built on
        // demand, and the graph is still 12 bytes per edge.
        let n = 1000u32;
        let edges: Vec<(u32, u32, f32)> = (0..70_000u32)
            .map(|i| (i % n, (i / n + i % n + 1) % n, 1.0 + i as f32 / 1024.0))
            .collect();
        let g = graph(n, &edges);
        assert_eq!(g.edge_count(), 70_000);
        assert_eq!(g.weight_codes(), None);
        assert!(!g.has_out_edge_weights());
        assert_eq!(g.bytes_per_edge(), 12.0);
        let out_weight = g.out_edge_weights();
        let (offsets, dst) = g.out_arrays();
        for u in 0..n as usize {
            for k in offsets[u] as usize..offsets[u + 1] as usize {
                let v = dst[k];
                let w = g
                    .in_edges(v)
                    .find(|&(s, _)| s as usize == u)
                    .map(|(_, w)| w);
                assert_eq!(w, Some(out_weight[k]));
            }
        }
        let coded = graph(3, &[(0, 1, 0.25), (1, 2, 3.0), (2, 0, 0.25)]);
        assert_eq!(coded.weight_codes(), Some(2));
        assert!(coded.has_out_edge_weights());
    }

    #[test]
    fn zero_weights_and_isolated_nodes() {
        let g = graph(3, &[(0, 1, 0.0), (1, 0, 1.0)]);
        assert_eq!(g.edge_count(), 1);
        assert_eq!(g.dangling_count(), 2);
        assert!(g.successors(2).is_empty());
        assert_eq!(g.in_edges(2).count(), 0);
    }

    #[test]
    fn the_edge_list_is_written_with_entity_keys() {
        let nodes = NodeTable::new([vec![42], vec![7], vec![], vec![]]).unwrap();
        let mut b = GraphBuilder::new(2);
        b.push(1, 0, 3.0);
        let g = b.build(nodes).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edges.tsv");
        g.write_edges_tsv(&path).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(text, "src\tdst\tweight\nuser:7\ttrack:42\t3\n");
    }
}
