//! A seeded synthetic activity graph shaped like the site's: power-law in-degrees from
//! preferential attachment, power-law activity per user, passive listeners, and the same
//! entity kinds, edge directions and weights as the real rank graph ([`rank::load`]).
//!
//! Nodes are numbered like a [`rank::NodeTable`]: tracks first, then users, playlists,
//! groups. Edges (rows, before parallel ones are summed):
//!
//! - every track → its creator (`upload`), every playlist and group → its creator; who
//!   creates is itself preferential (a few users upload most tracks);
//! - user → track (`play` with a power-law count, `like`, `repost`, `comment`), user → user
//!   (`follow`), user → playlist, user → group, playlist → track, group → track.
//!
//! A target is chosen by the copying model: with probability [`COPY`] it is the target of an
//! earlier edge of the same pool (so a node is picked in proportion to the edges it already
//! has: preferential attachment, in-degree tail ≈ k^−(1+1/COPY)), otherwise uniformly. The
//! acting user is chosen the same way over earlier actors, among the three quarters of users
//! who act at all; the rest are passive listeners with no out-edge (dangling).
//!
//! [`ActivityGenerator::churn`] changes a fraction of the edges as the site does between two
//! rank runs: a random sample of existing activities disappears (unlikes, unfollows, removed
//! playlist entries: uniform over activity edges, so in proportion to in-degree; creator edges
//! stay, as the node set does) and as many new activities arrive from the same preferential
//! process, continuing where the base graph stopped.
//!
//! ```
//! use bench::synthetic_graph::ActivityGenerator;
//! let mut generator = ActivityGenerator::new(10_000, 7);
//! let mut edges = generator.edges(100_000);
//! assert!(edges.len() >= 100_000);
//! generator.churn(&mut edges, 0.01);
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use rank::Weights;

/// Probability that a target (or actor) copies an earlier edge's instead of a uniform pick.
pub const COPY: f64 = 0.8;

/// Kind ranges of the node numbering, as fractions of all nodes.
const TRACKS: f64 = 0.45;
const USERS: f64 = 0.45;
const PLAYLISTS: f64 = 0.08;

/// One weighted edge `(src, dst, weight)`.
pub type Edge = (u32, u32, f32);

/// Where one kind's nodes sit in the numbering.
#[derive(Debug, Clone, Copy)]
struct Range {
    first: u32,
    len: u32,
}

impl Range {
    fn pick(&self, rng: &mut ChaCha8Rng) -> u32 {
        self.first + rng.random_range(0..self.len)
    }
}

/// Earlier picks of one pool, for preferential choice.
#[derive(Debug, Default)]
struct Pool(Vec<u32>);

impl Pool {
    /// Copies an earlier pick with probability [`COPY`], else picks uniformly in `range` (only
    /// users who act, when `acting`); remembers the pick.
    fn pick(&mut self, rng: &mut ChaCha8Rng, range: Range, acting: bool) -> u32 {
        let node = if !self.0.is_empty() && rng.random::<f64>() < COPY {
            self.0[rng.random_range(0..self.0.len())]
        } else {
            loop {
                let node = range.pick(rng);
                if !acting || ActivityGenerator::acts(node) {
                    break node;
                }
            }
        };
        self.0.push(node);
        node
    }
}

/// Generates the activity graph and its churn, deterministically from a seed.
#[derive(Debug)]
pub struct ActivityGenerator {
    rng: ChaCha8Rng,
    weights: Weights,
    tracks: Range,
    users: Range,
    playlists: Range,
    groups: Range,
    track_pool: Pool,
    user_pool: Pool,
    playlist_pool: Pool,
    group_pool: Pool,
    actor_pool: Pool,
    creator_pool: Pool,
}

impl ActivityGenerator {
    /// A generator over `nodes` nodes (at least 10), seeded.
    pub fn new(nodes: u32, seed: u64) -> ActivityGenerator {
        let nodes = nodes.max(10);
        let share = |f: f64| ((nodes as f64 * f) as u32).max(1);
        let tracks = Range {
            first: 0,
            len: share(TRACKS),
        };
        let users = Range {
            first: tracks.len,
            len: share(USERS),
        };
        let playlists = Range {
            first: users.first + users.len,
            len: share(PLAYLISTS),
        };
        let first = playlists.first + playlists.len;
        let groups = Range {
            first,
            len: nodes - first,
        };
        ActivityGenerator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            weights: Weights::builtin(),
            tracks,
            users,
            playlists,
            groups,
            track_pool: Pool::default(),
            user_pool: Pool::default(),
            playlist_pool: Pool::default(),
            group_pool: Pool::default(),
            actor_pool: Pool::default(),
            creator_pool: Pool::default(),
        }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> u32 {
        self.groups.first + self.groups.len
    }

    /// Whether `user` acts at all (a quarter of users only listen: dangling nodes).
    fn acts(user: u32) -> bool {
        // A fixed hash, so the passive quarter is scattered and the same in every run.
        (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 62 != 0
    }

    /// The base graph: creator edges of every track, playlist and group, then activities
    /// until there are at least `distinct` distinct edges. Parallel rows are summed.
    pub fn edges(&mut self, distinct: usize) -> Vec<Edge> {
        let mut rows: Vec<Edge> = Vec::with_capacity(distinct + distinct / 4);
        let (upload, group_creator) = (self.weights.upload, self.weights.group_creator);
        for (kind, weight) in [
            (self.tracks, upload),
            (self.playlists, upload),
            (self.groups, group_creator),
        ] {
            for node in kind.first..kind.first + kind.len {
                let creator = self.creator();
                rows.push((node, creator, weight as f32));
            }
        }
        let mut merged = merge(rows);
        while merged.len() < distinct {
            let missing = distinct - merged.len();
            // Parallel rows merge away, so ask for a little more than is missing.
            let batch = missing + missing / 8 + 16;
            merged.reserve(batch);
            for _ in 0..batch {
                let edge = self.activity();
                merged.push(edge);
            }
            merged = merge(merged);
        }
        merged
    }

    /// Replaces `fraction` of `edges` in place: half of that many activities removed uniformly
    /// (creator edges stay: they go only with their track, playlist or group), as many new
    /// activities added (merged into an existing edge when they repeat one).
    pub fn churn(&mut self, edges: &mut Vec<Edge>, fraction: f64) {
        let changed = ((edges.len() as f64 * fraction) as usize).max(2);
        let mut removed = 0;
        while removed < changed / 2 {
            let at = self.rng.random_range(0..edges.len());
            if !self.is_creator_edge(edges[at]) {
                edges.swap_remove(at);
                removed += 1;
            }
        }
        for _ in 0..changed - changed / 2 {
            let edge = self.activity();
            edges.push(edge);
        }
        let merged = merge(std::mem::take(edges));
        *edges = merged;
    }

    /// Whether `edge` links a track, playlist or group to its creator.
    fn is_creator_edge(&self, (src, dst, _): Edge) -> bool {
        let within = |r: Range, node: u32| (r.first..r.first + r.len).contains(&node);
        within(self.tracks, src)
            || (within(self.users, dst)
                && (within(self.playlists, src) || within(self.groups, src)))
    }

    /// A creator: preferential over earlier creators, among acting users.
    fn creator(&mut self) -> u32 {
        self.creator_pool.pick(&mut self.rng, self.users, true)
    }

    /// One activity row, its kind drawn from the site's mix.
    fn activity(&mut self) -> Edge {
        let w = self.weights;
        let roll: f64 = self.rng.random();
        if roll < 0.70 {
            let actor = self.actor();
            let track = self.track();
            let kind: f64 = self.rng.random();
            let weight = if kind < 0.70 {
                // Play counts are heavy-tailed too: 1 most of the time, now and then dozens.
                let u: f64 = self.rng.random();
                w.play * (1.0 / (1.0 - u * 0.98)).floor()
            } else if kind < 0.85 {
                w.like
            } else if kind < 0.92 {
                w.repost
            } else {
                w.comment
            };
            (actor, track, weight as f32)
        } else if roll < 0.88 {
            let actor = self.actor();
            let followee = self.user_pool.pick(&mut self.rng, self.users, false);
            (actor, followee, w.follow as f32)
        } else if roll < 0.92 {
            let actor = self.actor();
            let playlist = self
                .playlist_pool
                .pick(&mut self.rng, self.playlists, false);
            (actor, playlist, w.like as f32)
        } else if roll < 0.97 {
            let playlist = self.playlists.pick(&mut self.rng);
            let track = self.track();
            (playlist, track, w.playlist_contains as f32)
        } else if roll < 0.99 {
            let actor = self.actor();
            let group = self.group_pool.pick(&mut self.rng, self.groups, false);
            (actor, group, w.group_member as f32)
        } else {
            let group = self.groups.pick(&mut self.rng);
            let track = self.track();
            (group, track, w.group_track as f32)
        }
    }

    /// An acting user: preferential over earlier actors.
    fn actor(&mut self) -> u32 {
        self.actor_pool.pick(&mut self.rng, self.users, true)
    }

    /// A track: preferential over earlier activity on tracks.
    fn track(&mut self) -> u32 {
        self.track_pool.pick(&mut self.rng, self.tracks, false)
    }
}

/// Sorts by (src, dst) and sums parallel rows.
fn merge(mut rows: Vec<Edge>) -> Vec<Edge> {
    rows.par_sort_unstable_by_key(|&(s, d, _)| ((s as u64) << 32) | d as u64);
    let mut out: Vec<Edge> = Vec::with_capacity(rows.len());
    for (s, d, w) in rows {
        match out.last_mut() {
            Some(last) if last.0 == s && last.1 == d => last.2 += w,
            _ => out.push((s, d, w)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_is_deterministic_distinct_and_power_law() {
        let edges = ActivityGenerator::new(20_000, 1).edges(200_000);
        assert_eq!(edges, ActivityGenerator::new(20_000, 1).edges(200_000));
        assert!(edges.len() >= 200_000);
        assert!(
            edges
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        let mut in_degree = vec![0u32; 20_000];
        let mut out_degree = vec![0u32; 20_000];
        for &(s, d, w) in &edges {
            assert!(w > 0.0);
            in_degree[d as usize] += 1;
            out_degree[s as usize] += 1;
        }
        in_degree.sort_unstable_by(|a, b| b.cmp(a));
        // A heavy tail: the top 1% of nodes draw a large share of all edges.
        let top: u64 = in_degree[..200].iter().map(|&d| d as u64).sum();
        assert!(top * 5 > edges.len() as u64, "top 1% draw {top}");
        let dangling = out_degree.iter().filter(|&&d| d == 0).count();
        assert!((1_000..4_000).contains(&dangling), "{dangling} dangling");
    }

    #[test]
    fn churn_changes_about_the_asked_fraction() {
        let mut generator = ActivityGenerator::new(20_000, 2);
        let base = generator.edges(100_000);
        let mut churned = base.clone();
        generator.churn(&mut churned, 0.01);
        let gone = base
            .iter()
            .filter(|e| {
                churned
                    .binary_search_by_key(&(e.0, e.1), |c| (c.0, c.1))
                    .is_err()
            })
            .count();
        assert!((400..=500).contains(&gone), "{gone} removed");
        assert!(churned.len() > base.len() - 500);
    }
}
