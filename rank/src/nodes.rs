//! The rank graph's nodes: every searchable entity of every kind, numbered densely.
//!
//! Node numbers are `u32` (4 bytes per edge endpoint) and follow kind order, then id order:
//! all tracks first, then users, playlists and groups. A [`NodeTable`] turns an [`EntityKey`]
//! into its node number and back; ids of one kind are kept sorted, so a lookup is a binary
//! search, or a subtraction when the ids of a kind are contiguous (the common case).

use schemas::{EntityKey, EntityKind};

use crate::RankError;

/// The sorted ids of one kind; `dense` when they are exactly `first..=last`.
#[derive(Debug, Clone, Default, PartialEq)]
struct KindIds {
    ids: Vec<i64>,
    dense: bool,
}

impl KindIds {
    fn new(mut ids: Vec<i64>) -> KindIds {
        ids.sort_unstable();
        ids.dedup();
        let dense = match (ids.first(), ids.last()) {
            (Some(&first), Some(&last)) => (last as i128 - first as i128) + 1 == ids.len() as i128,
            _ => true,
        };
        KindIds { ids, dense }
    }

    fn position(&self, id: i64) -> Option<usize> {
        let first = *self.ids.first()?;
        if self.dense {
            let at = id.checked_sub(first)?;
            (at >= 0 && (at as u64) < self.ids.len() as u64).then_some(at as usize)
        } else {
            self.ids.binary_search(&id).ok()
        }
    }
}

/// Position of a kind in [`EntityKind::ALL`].
pub(crate) fn slot(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Track => 0,
        EntityKind::User => 1,
        EntityKind::Playlist => 2,
        EntityKind::Group => 3,
    }
}

/// Entity keys ↔ dense node numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeTable {
    kinds: [KindIds; 4],
    /// `offsets[k]` is the first node number of kind `k`; `offsets[4]` the node count.
    offsets: [u32; 5],
}

impl NodeTable {
    /// Builds the table from the ids of each kind, in [`EntityKind::ALL`] order (any order
    /// inside a kind; duplicates are merged).
    pub fn new(ids_by_kind: [Vec<i64>; 4]) -> Result<NodeTable, RankError> {
        let kinds = ids_by_kind.map(KindIds::new);
        let mut offsets = [0u32; 5];
        let mut total: u64 = 0;
        for (k, ids) in kinds.iter().enumerate() {
            offsets[k] = total as u32;
            total += ids.ids.len() as u64;
            if total >= u32::MAX as u64 {
                return Err(RankError::TooLarge(format!(
                    "{total} nodes exceed the u32 node space"
                )));
            }
        }
        offsets[4] = total as u32;
        Ok(NodeTable { kinds, offsets })
    }

    /// A table of `n` nodes of one kind with ids `0..n`: graphs that do not come from the
    /// site (reference graphs, benchmarks) use tracks as anonymous nodes.
    pub fn anonymous(n: u32) -> NodeTable {
        let ids = KindIds {
            ids: (0..n as i64).collect(),
            dense: true,
        };
        NodeTable {
            kinds: [
                ids,
                KindIds::default(),
                KindIds::default(),
                KindIds::default(),
            ],
            offsets: [0, n, n, n, n],
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.offsets[4] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of nodes of one kind.
    pub fn count(&self, kind: EntityKind) -> usize {
        self.kinds[slot(kind)].ids.len()
    }

    /// The node number of an entity, if it is a node.
    pub fn index(&self, key: EntityKey) -> Option<u32> {
        let k = slot(key.kind);
        let at = self.kinds[k].position(key.id)?;
        Some(self.offsets[k] + at as u32)
    }

    /// The entity of a node number. Panics when `node >= len()` (a caller's bug, not data).
    pub fn key(&self, node: u32) -> EntityKey {
        assert!(
            (node as usize) < self.len(),
            "node {node} out of {} nodes",
            self.len()
        );
        let k = (0..4)
            .rev()
            .find(|&k| self.offsets[k] <= node && !self.kinds[k].ids.is_empty());
        let k = k.unwrap_or(0);
        EntityKey::new(
            EntityKind::ALL[k],
            self.kinds[k].ids[(node - self.offsets[k]) as usize],
        )
    }

    /// The sorted ids of one kind; node numbers of that kind follow this order.
    pub fn ids(&self, kind: EntityKind) -> &[i64] {
        &self.kinds[slot(kind)].ids
    }

    /// Every node's key, in node order.
    pub fn keys(&self) -> impl Iterator<Item = EntityKey> + '_ {
        EntityKind::ALL.into_iter().flat_map(move |kind| {
            self.ids(kind)
                .iter()
                .map(move |&id| EntityKey::new(kind, id))
        })
    }

    /// Nodes by kind name (`track`, `user`, …), as manifests count them.
    pub fn counts_by_kind(&self) -> std::collections::BTreeMap<String, u64> {
        EntityKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), self.count(*k) as u64))
            .collect()
    }

    /// Bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        self.kinds.iter().map(|k| k.ids.capacity() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: EntityKind, id: i64) -> EntityKey {
        EntityKey::new(kind, id)
    }

    #[test]
    fn keys_and_numbers_round_trip_dense_and_sparse() {
        let table = NodeTable::new([vec![3, 1, 2, 2], vec![], vec![100, 7, 55], vec![9]]).unwrap();
        assert_eq!(table.len(), 7);
        assert_eq!(table.index(key(EntityKind::Track, 1)), Some(0));
        assert_eq!(table.index(key(EntityKind::Track, 3)), Some(2));
        assert_eq!(table.index(key(EntityKind::Track, 4)), None);
        assert_eq!(table.index(key(EntityKind::Track, 0)), None);
        assert_eq!(table.index(key(EntityKind::User, 1)), None);
        assert_eq!(table.index(key(EntityKind::Playlist, 55)), Some(4));
        assert_eq!(table.index(key(EntityKind::Playlist, 56)), None);
        assert_eq!(table.index(key(EntityKind::Group, 9)), Some(6));
        for (node, k) in table.keys().enumerate() {
            assert_eq!(table.key(node as u32), k);
            assert_eq!(table.index(k), Some(node as u32));
        }
        assert_eq!(table.count(EntityKind::Playlist), 3);
    }

    #[test]
    fn extreme_ids_do_not_overflow() {
        let table = NodeTable::new([vec![i64::MIN, i64::MAX], vec![], vec![], vec![]]).unwrap();
        assert_eq!(table.index(key(EntityKind::Track, i64::MAX)), Some(1));
        assert_eq!(table.index(key(EntityKind::Track, 0)), None);
        let dense = NodeTable::new([vec![i64::MAX - 1, i64::MAX], vec![], vec![], vec![]]).unwrap();
        assert_eq!(dense.index(key(EntityKind::Track, i64::MIN)), None);
        assert_eq!(dense.index(key(EntityKind::Track, i64::MAX)), Some(1));
    }
}
