//! The rank graph in compressed sparse rows, both directions, built for a pull kernel.
//!
//! In-edges are what the kernel reads: for each node, the slice of its predecessors (`u32`)
//! and the summed weight of each edge (`f32`) — 8 bytes per edge, read sequentially. Out-edges
//! keep only the successor (`u32`, 4 bytes per edge): the kernel needs just each node's total
//! out-weight, which is kept per node in `f64`. That makes 12 bytes per edge plus O(nodes).
//!
//! A warm start with residual pushes ([`crate::push`], opt-in) also needs each out-edge's
//! weight; [`Graph::out_edge_weights`] builds that array (4 more bytes per edge) from the
//! in-edges when asked, and the push path drops it before its sweeps.
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
        let in_src: Vec<u32> = edges.par_iter().map(|e| e.src).collect();
        let in_weight: Vec<f32> = edges.par_iter().map(|e| e.weight).collect();
        drop(edges);

        // Walking in-edges in dst order fills each out-list in dst order too.
        let out_offsets = out_degree;
        let mut cursor: Vec<u64> = out_offsets[..n].to_vec();
        let mut out_dst = vec![0u32; in_src.len()];
        for dst in 0..n {
            for e in in_offsets[dst]..in_offsets[dst + 1] {
                let src = in_src[e as usize] as usize;
                out_dst[cursor[src] as usize] = dst as u32;
                cursor[src] += 1;
            }
        }
        Ok(Graph {
            nodes,
            in_offsets,
            in_src,
            in_weight,
            out_offsets,
            out_dst,
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
    in_weight: Vec<f32>,
    out_offsets: Vec<u64>,
    out_dst: Vec<u32>,
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
        let range = self.in_range(node);
        self.in_src[range.clone()]
            .iter()
            .copied()
            .zip(self.in_weight[range].iter().copied())
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

    /// Bytes held by the edge arrays and the per-node arrays (not the node table).
    pub fn heap_bytes(&self) -> usize {
        self.in_offsets.len() * 8
            + self.in_src.len() * 4
            + self.in_weight.len() * 4
            + self.out_offsets.len() * 8
            + self.out_dst.len() * 4
            + self.out_weight.len() * 8
    }

    /// Bytes per edge of the per-edge arrays alone (12 by construction). A warm start with
    /// pushes holds 4 more per edge while it pushes ([`Graph::out_edge_weights`]).
    pub fn bytes_per_edge(&self) -> f64 {
        let per_edge = self.in_src.len() * 4 + self.in_weight.len() * 4 + self.out_dst.len() * 4;
        per_edge as f64 / self.edge_count().max(1) as f64
    }

    /// The weight of each out-edge, parallel to the successors ([`Graph::successors`]): built
    /// on demand from the in-edges (4 bytes per edge, not kept by the graph), in one pass over
    /// them in destination order, which fills each out-list in successor order as
    /// [`GraphBuilder::build`] filled the successors (plus a cursor per node while it runs).
    pub fn out_edge_weights(&self) -> Vec<f32> {
        let n = self.node_count();
        let mut cursor: Vec<u64> = self.out_offsets[..n].to_vec();
        let mut weights = vec![0f32; self.out_dst.len()];
        for dst in 0..n {
            for e in self.in_range(dst as u32) {
                let src = self.in_src[e] as usize;
                weights[cursor[src] as usize] = self.in_weight[e];
                cursor[src] += 1;
            }
        }
        weights
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

    pub(crate) fn in_arrays(&self) -> (&[u64], &[u32], &[f32]) {
        (&self.in_offsets, &self.in_src, &self.in_weight)
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
    fn the_graph_at_rest_takes_at_most_12_bytes_per_edge() {
        // Issue #6's memory target: 12 bytes per edge plus O(nodes), whatever the warm start.
        let edges: Vec<(u32, u32, f32)> = (0..1000u32)
            .flat_map(|u| (1..=7).map(move |k| (u, (u * 31 + k * 97) % 1000, k as f32)))
            .collect();
        let g = graph(1000, &edges);
        assert_eq!(g.bytes_per_edge(), 12.0);
        let per_node = 8 + 8 + 8; // both offsets and the out-weight, per node
        assert!(g.heap_bytes() <= 12 * g.edge_count() + per_node * (g.node_count() + 1));
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
