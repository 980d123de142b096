//! One immutable build of the suggest data: the FST of keys, the entity table and one lane of
//! postings per kind. Built by [`SuggestIndex::build`], saved and opened by [`crate::store`],
//! swapped whole inside a [`crate::Suggester`].
//!
//! The FST maps every key to its rank in key order (0, 1, 2, …), so the keys under a prefix
//! are a contiguous range of ranks, and a lane maps that range to its postings.

use std::ops::Range;

use fst::raw::{Fst, Node};
use schemas::{EntityKey, EntityKind};

use crate::topk::Lane;

/// A built, immutable suggest index.
pub struct SuggestIndex {
    pub(crate) keys: fst::Map<Vec<u8>>,
    pub(crate) entities: Entities,
    /// One lane per kind, in [`EntityKind::ALL`] order.
    pub(crate) lanes: [Lane; 4],
}

/// Every entity of a build, sorted by key, so an entity's ordinal is found by binary search.
#[derive(Debug, Default)]
pub(crate) struct Entities {
    pub kind: Vec<EntityKind>,
    pub id: Vec<i64>,
    pub weight: Vec<f32>,
    /// `text[text_end[i - 1]..text_end[i]]` is entity `i`'s display name.
    pub text_end: Vec<u32>,
    pub text: String,
}

impl Entities {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn key(&self, ordinal: u32) -> EntityKey {
        let i = ordinal as usize;
        EntityKey::new(self.kind[i], self.id[i])
    }

    pub fn text(&self, ordinal: u32) -> &str {
        let i = ordinal as usize;
        let start = if i == 0 {
            0
        } else {
            self.text_end[i - 1] as usize
        };
        &self.text[start..self.text_end[i] as usize]
    }

    pub fn push(&mut self, key: EntityKey, text: &str, weight: f32) {
        self.kind.push(key.kind);
        self.id.push(key.id);
        self.weight.push(weight);
        self.text.push_str(text);
        self.text_end.push(self.text.len() as u32);
    }

    /// The ordinal of `key`, when this build holds it.
    pub fn find(&self, key: EntityKey) -> Option<u32> {
        let i = self.kind_id_partition(key);
        (i < self.len() && self.kind[i] == key.kind && self.id[i] == key.id).then_some(i as u32)
    }

    fn kind_id_partition(&self, key: EntityKey) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if (self.kind[mid], self.id[mid]) < (key.kind, key.id) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn heap_bytes(&self) -> usize {
        self.len() * (1 + 8 + 4 + 4) + self.text.len()
    }
}

/// Sizes of a build, for reports and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    pub entities: usize,
    pub keys: usize,
    pub postings: usize,
    pub fst_bytes: usize,
    pub total_bytes: usize,
}

impl SuggestIndex {
    /// An index with nothing in it (before the first build).
    pub fn empty() -> SuggestIndex {
        SuggestIndex::build(Vec::new(), &Default::default())
    }

    pub fn stats(&self) -> IndexStats {
        let fst_bytes = self.keys.as_fst().size();
        let lanes: usize = self.lanes.iter().map(Lane::heap_bytes).sum();
        IndexStats {
            entities: self.entities.len(),
            keys: self.keys.len(),
            postings: self.lanes.iter().map(Lane::len).sum(),
            fst_bytes,
            total_bytes: fst_bytes + lanes + self.entities.heap_bytes(),
        }
    }

    /// Whether this build holds `key` (it may still be hidden by the delta).
    pub fn contains(&self, key: EntityKey) -> bool {
        self.entities.find(key).is_some()
    }

    /// The ranks of the keys that start with `prefix`.
    pub(crate) fn prefix_range(&self, prefix: &[u8]) -> Range<u32> {
        let fst = self.keys.as_fst();
        let mut node = fst.root();
        let mut acc = 0u64;
        for &b in prefix {
            match node.find_input(b) {
                Some(i) => {
                    let t = node.transition(i);
                    acc += t.out.value();
                    node = fst.node(t.addr);
                }
                None => return 0..0,
            }
        }
        subtree_range(fst, node, acc)
    }
}

/// The ranks of the keys below `node`, reached with output `acc`. Ranks grow with keys and
/// the builder pushes the smaller output towards the root, so the output along the path is
/// the first key's rank; the last key's rank is found by always taking the last transition.
pub(crate) fn subtree_range(fst: &Fst<Vec<u8>>, node: Node<'_>, acc: u64) -> Range<u32> {
    if node.is_empty() && !node.is_final() {
        return 0..0; // only the root of an empty FST
    }
    let first = acc
        + if node.is_final() {
            node.final_output().value()
        } else {
            0
        };
    let mut last = acc;
    let mut node = node;
    while !node.is_empty() {
        let t = node.transition(node.len() - 1);
        last += t.out.value();
        node = fst.node(t.addr);
    }
    last += node.final_output().value();
    first as u32..last as u32 + 1
}

/// The kind's lane number.
pub(crate) fn lane_of(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Track => 0,
        EntityKind::User => 1,
        EntityKind::Playlist => 2,
        EntityKind::Group => 3,
    }
}
