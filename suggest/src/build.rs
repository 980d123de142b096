//! Building a [`SuggestIndex`] from records: fold every name, cut it at every word start,
//! sort the (key, entity) pairs, write the FST of distinct keys and one lane per kind.

use rayon::prelude::*;

use crate::index::{Entities, SuggestIndex, lane_of};
use crate::normalize::{MAX_KEY_BYTES, each_word_start, joined, key_at, push_key_text};
use crate::record::{KindFactors, Record};
use crate::topk::Lane;

/// Records folded and cut per rayon task: big enough that the arenas are few, small enough
/// that both cores stay busy to the end.
const CHUNK: usize = 8 * 1024;

/// One key of one entity: `arena[start..start + len]`, belonging to entity `ordinal`.
#[derive(Clone, Copy)]
struct Pair {
    /// The key's first 8 bytes, zero-padded, big-endian: sorting compares these first and
    /// reads the arena only on a tie, which keeps the sort in cache.
    head: u64,
    start: u32,
    ordinal: u32,
    /// The entity's weight, here so that ordering a key's postings reads no other table.
    weight: f32,
    len: u8,
}

impl Pair {
    fn key<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        &arena[self.start as usize..self.start as usize + self.len as usize]
    }

    /// Whether `self` and `other` hold the same key.
    fn same_key(&self, other: &Pair, arena: &[u8]) -> bool {
        self.head == other.head && self.len == other.len && self.key(arena) == other.key(arena)
    }
}

/// The folded names of a run of records and their keys; `start`s are offsets in `arena`.
struct Cut {
    arena: String,
    pairs: Vec<Pair>,
}

fn pair(key: &str, start: usize, ordinal: u32, weight: &[f32]) -> Pair {
    Pair {
        head: head(key.as_bytes()),
        start: start as u32,
        ordinal,
        weight: weight[ordinal as usize],
        len: key.len() as u8,
    }
}

fn head(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Folds every name of `records` (entities `first..`) into one arena and cuts it at every
/// word start.
fn cut_keys(records: &[Record], first: usize, weight: &[f32]) -> Cut {
    let mut arena = String::with_capacity(records.len() * 48);
    let mut pairs = Vec::with_capacity(records.len() * 6);
    let mut starts = Vec::with_capacity(16);
    for (i, record) in records.iter().enumerate() {
        let ordinal = (first + i) as u32;
        for name in record.names() {
            let base = arena.len();
            push_key_text(name, &mut arena);
            let end = arena.len();
            let joined = joined(&arena[base..end]);
            if let Some(joined) = &joined {
                arena.push_str(joined);
            }
            let folded = &arena[base..end];
            starts.clear();
            each_word_start(folded, |s| starts.push(s));
            for &s in &starts {
                let key = key_at(folded, s);
                debug_assert!(key.len() <= MAX_KEY_BYTES);
                if key.is_empty() {
                    continue;
                }
                pairs.push(pair(key, base + s, ordinal, weight));
            }
            if joined.is_none() {
                continue;
            }
            // The joined form's keys that the folded form does not already have.
            let variant = &arena[end..];
            let mut extra = Vec::with_capacity(4);
            each_word_start(variant, |s| extra.push(s));
            for s in extra {
                let key = key_at(variant, s);
                if key.is_empty() || starts.iter().any(|&f| key_at(folded, f) == key) {
                    continue;
                }
                pairs.push(pair(key, end + s, ordinal, weight));
            }
        }
        for key in record.owner_keys() {
            pairs.push(pair(&key, arena.len(), ordinal, weight));
            arena.push_str(&key);
        }
    }
    Cut { arena, pairs }
}

/// Keeps the last of each run of records with the same entity key, sorted by entity key.
fn dedup_keep_last(records: &mut Vec<Record>) {
    records.par_sort_by_key(|r| r.key); // stable: the last one given stays last in its run
    records.dedup_by(|later, kept| {
        let same = later.key == kept.key;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

impl SuggestIndex {
    /// Builds an index from `records` (any order; a key seen twice keeps its last record).
    /// CPU-bound and parallel (rayon): call it off the async runtime.
    ///
    /// ```
    /// use schemas::{EntityKey, EntityKind};
    /// use suggest::{Record, SuggestIndex, Suggester};
    ///
    /// let index = SuggestIndex::build(
    ///     vec![Record::new(EntityKey::new(EntityKind::Track, 1), "Around the World", 2.0)],
    ///     &Default::default(),
    /// );
    /// let suggester = Suggester::new(index);
    /// assert_eq!(suggester.suggest("wor", None, 5)[0].text, "Around the World");
    /// ```
    pub fn build(mut records: Vec<Record>, factors: &KindFactors) -> SuggestIndex {
        dedup_keep_last(&mut records);

        let mut entities = Entities::default();
        for record in &records {
            let weight = factors.weight(record.key.kind, record.prior.unwrap_or(0.0));
            entities.push(record.key, &record.text, weight);
        }

        // Fold and cut in parallel, each task into its own arena; then one arena.
        let cuts: Vec<Cut> = records
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| cut_keys(chunk, c * CHUNK, &entities.weight))
            .collect();
        drop(records);
        let mut arena = String::with_capacity(cuts.iter().map(|c| c.arena.len()).sum());
        let mut pairs = Vec::with_capacity(cuts.iter().map(|c| c.pairs.len()).sum());
        for cut in &cuts {
            let base = arena.len() as u32;
            arena.push_str(&cut.arena);
            pairs.extend(cut.pairs.iter().map(|p| Pair {
                start: p.start + base,
                ..*p
            }));
        }
        drop(cuts);

        // By key, then heaviest first (ties: first entity), so each key's postings come out
        // in the order the lanes want; an entity reaching one key twice keeps one posting.
        let bytes = arena.as_bytes();
        pairs.par_sort_unstable_by(|a, b| {
            a.head
                .cmp(&b.head)
                .then_with(|| a.key(bytes).cmp(b.key(bytes)))
                .then_with(|| b.weight.total_cmp(&a.weight))
                .then_with(|| a.ordinal.cmp(&b.ordinal))
        });
        pairs.dedup_by(|b, a| a.ordinal == b.ordinal && a.same_key(b, bytes));

        // The FST (one thread: its builder is sequential) beside the lanes.
        let (keys, lanes) = rayon::join(
            || distinct_keys(&pairs, bytes),
            || lanes(&pairs, bytes, &entities),
        );
        SuggestIndex {
            keys,
            entities,
            lanes,
        }
    }
}

/// The FST of the distinct keys of sorted `pairs`, each mapped to its rank.
fn distinct_keys(pairs: &[Pair], arena: &[u8]) -> fst::Map<Vec<u8>> {
    let mut builder = fst::MapBuilder::memory();
    let mut rank = 0u64;
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 && pair.same_key(&pairs[i - 1], arena) {
            continue;
        }
        // Keys arrive sorted and distinct, the only two ways inserting can fail.
        builder
            .insert(pair.key(arena), rank)
            .expect("sorted distinct keys");
        rank += 1;
    }
    builder.into_map()
}

/// One lane per kind of the sorted `pairs`: key rank, entity, weight, and the segment tree.
fn lanes(pairs: &[Pair], arena: &[u8], entities: &Entities) -> [Lane; 4] {
    let mut columns: [(Vec<u32>, Vec<u32>, Vec<f32>); 4] = Default::default();
    let mut rank = 0u32;
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 && !pair.same_key(&pairs[i - 1], arena) {
            rank += 1;
        }
        let lane = &mut columns[lane_of(entities.kind[pair.ordinal as usize])];
        lane.0.push(rank);
        lane.1.push(pair.ordinal);
        lane.2.push(pair.weight);
    }
    let lanes: Vec<Lane> = columns
        .into_par_iter()
        .map(|(k, e, w)| Lane::new(k, e, w))
        .collect();
    lanes
        .try_into()
        .unwrap_or_else(|_| unreachable!("four kinds"))
}
