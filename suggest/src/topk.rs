//! Top-k by weight over ranges of postings, without reading every posting in them.
//!
//! A [`Lane`] holds one kind's postings in key order (key rank, then weight descending) and a
//! segment tree that answers "which posting weighs most in `l..r`" in O(log n). [`TopK`] keeps a
//! heap of ranges, each with its heaviest posting; popping the top yields that posting and
//! pushes the two halves around it. The k heaviest postings of any set of ranges — a
//! one-letter prefix covering a million keys included — cost O(k log n).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Range;

/// One kind's postings: `key_rank[i]` (ascending) names the key, `entity[i]` the entity,
/// `weight[i]` its weight.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    pub key_rank: Vec<u32>,
    pub entity: Vec<u32>,
    pub weight: Vec<f32>,
    /// Implicit segment tree of posting indexes: `tree[n + i] = i`, `tree[j]` = the heavier
    /// of its two children. `tree[0]` is unused.
    tree: Vec<u32>,
}

impl Lane {
    /// A lane over postings already sorted by key rank.
    pub fn new(key_rank: Vec<u32>, entity: Vec<u32>, weight: Vec<f32>) -> Lane {
        debug_assert!(key_rank.windows(2).all(|w| w[0] <= w[1]));
        let n = key_rank.len();
        let mut lane = Lane {
            key_rank,
            entity,
            weight,
            tree: vec![0; 2 * n],
        };
        for i in 0..n {
            lane.tree[n + i] = i as u32;
        }
        for j in (1..n).rev() {
            lane.tree[j] = lane.heavier(lane.tree[2 * j], lane.tree[2 * j + 1]);
        }
        lane
    }

    pub fn len(&self) -> usize {
        self.key_rank.len()
    }

    /// The postings whose keys have ranks in `keys`.
    pub fn postings(&self, keys: Range<u32>) -> Range<u32> {
        self.postings_from(keys, 0)
    }

    /// [`Lane::postings`] for a `keys` range whose postings start at `from` or later: a
    /// galloping search from `from`, so reading many ranges in key order (a typo walk's)
    /// costs the log of the gaps between them rather than of the whole lane.
    pub fn postings_from(&self, keys: Range<u32>, from: u32) -> Range<u32> {
        let lo = gallop(&self.key_rank, from as usize, keys.start);
        let hi = gallop(&self.key_rank, lo, keys.end);
        lo as u32..hi as u32
    }

    /// The heavier of two postings; on a tie the earlier one (shorter, then alphabetical key).
    fn heavier(&self, a: u32, b: u32) -> u32 {
        match self.weight[a as usize].total_cmp(&self.weight[b as usize]) {
            Ordering::Greater => a,
            Ordering::Less => b,
            Ordering::Equal => a.min(b),
        }
    }

    /// The heaviest posting in the non-empty range `l..r`.
    pub fn heaviest(&self, l: u32, r: u32) -> u32 {
        debug_assert!(l < r && r as usize <= self.len());
        if r - l <= 8 {
            // A few neighbours: one cache line to scan beats a walk up the tree.
            return (l + 1..r).fold(l, |best, i| self.heavier(best, i));
        }
        let n = self.len();
        let (mut l, mut r) = (l as usize + n, r as usize + n);
        let mut best = self.tree[l];
        while l < r {
            if l & 1 == 1 {
                best = self.heavier(best, self.tree[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                best = self.heavier(best, self.tree[r]);
            }
            l >>= 1;
            r >>= 1;
        }
        best
    }

    /// Bytes held, for build reports.
    pub fn heap_bytes(&self) -> usize {
        self.key_rank.len() * 4
            + self.entity.len() * 4
            + self.weight.len() * 4
            + self.tree.len() * 4
    }
}

/// The first index at or after `from` whose rank is at least `rank` (ranks ascending).
fn gallop(ranks: &[u32], from: usize, rank: u32) -> usize {
    let (mut lo, mut step) = (from.min(ranks.len()), 1);
    // Double the stride until it passes `rank`, then search the last stride.
    while lo + step <= ranks.len() && ranks[lo + step - 1] < rank {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(ranks.len());
    lo + ranks[lo..hi].partition_point(|&k| k < rank)
}

/// A range of one lane's postings, with its heaviest posting.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    weight: f32,
    best: u32,
    lane: u8,
    l: u32,
    r: u32,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.weight
            .total_cmp(&other.weight)
            .then_with(|| other.best.cmp(&self.best))
            .then_with(|| other.lane.cmp(&self.lane))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// The postings of a set of key ranges, heaviest first, read lazily: `(weight, entity)`.
/// An entity with several matching keys comes once per key; the caller keeps one.
pub(crate) struct TopK<'a> {
    lanes: &'a [Lane],
    heap: BinaryHeap<Candidate>,
}

impl<'a> TopK<'a> {
    pub fn new(lanes: &'a [Lane]) -> TopK<'a> {
        TopK {
            lanes,
            heap: BinaryHeap::new(),
        }
    }

    /// Adds the postings of `lane` whose key ranks are in `keys`.
    pub fn add(&mut self, lane: usize, keys: Range<u32>) {
        let postings = self.lanes[lane].postings(keys);
        self.push(lane as u8, postings.start, postings.end);
    }

    /// Adds the postings of `lane` under each of `keys`, ranges in ascending key order.
    pub fn add_all(&mut self, lane: usize, keys: impl Iterator<Item = Range<u32>>) {
        let mut from = 0;
        for range in keys {
            let postings = self.lanes[lane].postings_from(range, from);
            from = postings.end;
            self.push(lane as u8, postings.start, postings.end);
        }
    }

    fn push(&mut self, lane: u8, l: u32, r: u32) {
        if l < r {
            let posting = &self.lanes[lane as usize];
            let best = posting.heaviest(l, r);
            let weight = posting.weight[best as usize];
            self.heap.push(Candidate {
                weight,
                best,
                lane,
                l,
                r,
            });
        }
    }
}

impl Iterator for TopK<'_> {
    type Item = (f32, u32);

    fn next(&mut self) -> Option<(f32, u32)> {
        let c = self.heap.pop()?;
        self.push(c.lane, c.l, c.best);
        self.push(c.lane, c.best + 1, c.r);
        Some((
            c.weight,
            self.lanes[c.lane as usize].entity[c.best as usize],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(weights: &[f32]) -> Lane {
        let n = weights.len() as u32;
        Lane::new((0..n).collect(), (0..n).collect(), weights.to_vec())
    }

    #[test]
    fn heaviest_matches_a_scan_on_every_range() {
        let weights: Vec<f32> = (0..37u32).map(|i| ((i * 7919) % 23) as f32).collect();
        let lane = lane(&weights);
        for l in 0..37u32 {
            for r in l + 1..=37 {
                let scan = (l..r)
                    .max_by(|&a, &b| {
                        weights[a as usize]
                            .total_cmp(&weights[b as usize])
                            .then(b.cmp(&a))
                    })
                    .unwrap();
                assert_eq!(lane.heaviest(l, r), scan, "range {l}..{r}");
            }
        }
    }

    #[test]
    fn ranges_come_out_heaviest_first_across_lanes() {
        let a = lane(&[1.0, 5.0, 3.0, 9.0]);
        let b = lane(&[4.0, 8.0]);
        let lanes = [a, b];
        let mut top = TopK::new(&lanes);
        top.add(0, 0..3); // 1, 5, 3
        top.add(1, 0..2); // 4, 8
        let weights: Vec<f32> = top.map(|(w, _)| w).collect();
        assert_eq!(weights, [8.0, 5.0, 4.0, 3.0, 1.0]);
    }

    #[test]
    fn galloping_agrees_with_a_binary_search() {
        let ranks: Vec<u32> = (0..300u32).map(|i| i / 3 + i / 50).collect();
        for from in [0usize, 1, 7, 64, 299, 300] {
            for rank in 0..=110u32 {
                let expected = from.max(ranks.partition_point(|&k| k < rank));
                assert_eq!(
                    gallop(&ranks, from, rank),
                    expected,
                    "from {from} rank {rank}"
                );
            }
        }
    }

    #[test]
    fn postings_of_a_key_range_are_found_by_rank() {
        let lane = Lane::new(vec![0, 0, 2, 5, 5, 5, 9], vec![0; 7], vec![0.0; 7]);
        assert_eq!(lane.postings(0..1), 0..2);
        assert_eq!(lane.postings(1..5), 2..3);
        assert_eq!(lane.postings(3..4), 3..3);
        assert_eq!(lane.postings(5..10), 3..7);
        assert_eq!(lane.postings(10..12), 7..7);
    }
}
