//! Building a [`SuggestIndex`] from records: fold every name, cut it at every word start,
//! sort the (key, entity) pairs, write the FST of distinct keys and one lane per kind.

use rayon::prelude::*;

use crate::index::{Entities, SuggestIndex, lane_of};
use crate::normalize::{key_at, key_text, word_starts};
use crate::record::{KindFactors, Record};
use crate::topk::Lane;

/// One key of one entity: `arena[start..end]`, belonging to entity `ordinal`.
#[derive(Clone, Copy)]
struct Pair {
    /// The key's first 8 bytes, zero-padded, big-endian: sorting compares these first and
    /// reads the arena only on a tie, which keeps the sort in cache.
    head: u64,
    start: u32,
    end: u32,
    ordinal: u32,
}

/// A folded name and the byte spans of its keys.
type FoldedName = (String, Vec<(u16, u16)>);

fn head(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
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
        records.sort_by_key(|r| r.key);
        records.reverse();
        records.dedup_by_key(|r| r.key); // keeps the first of a run: the last one given
        records.reverse();

        // Fold and cut in parallel: each name with the spans of its keys.
        let folded: Vec<Vec<FoldedName>> = records
            .par_iter()
            .map(|r| {
                let mut names: Vec<String> =
                    r.names().map(key_text).filter(|k| !k.is_empty()).collect();
                names.dedup();
                names
                    .into_iter()
                    .map(|name| {
                        let spans = word_starts(&name)
                            .into_iter()
                            .map(|s| (s as u16, (s + key_at(&name, s).len()) as u16))
                            .collect();
                        (name, spans)
                    })
                    .collect()
            })
            .collect();

        let mut entities = Entities::default();
        let mut arena = String::new();
        let mut pairs = Vec::with_capacity(records.len() * 4);
        for (ordinal, (record, names)) in records.iter().zip(&folded).enumerate() {
            let weight = factors.weight(record.key.kind, record.prior.unwrap_or(0.0));
            entities.push(record.key, &record.text, weight);
            for (name, spans) in names {
                let base = arena.len();
                arena.push_str(name);
                for &(start, end) in spans {
                    let key = &name.as_bytes()[start as usize..end as usize];
                    pairs.push(Pair {
                        head: head(key),
                        start: (base + start as usize) as u32,
                        end: (base + end as usize) as u32,
                        ordinal: ordinal as u32,
                    });
                }
            }
        }
        drop(folded);

        let bytes = arena.as_bytes();
        let key = |p: &Pair| &bytes[p.start as usize..p.end as usize];
        let weight = &entities.weight;
        pairs.par_sort_unstable_by(|a, b| {
            a.head
                .cmp(&b.head)
                .then_with(|| key(a).cmp(key(b)))
                .then_with(|| weight[b.ordinal as usize].total_cmp(&weight[a.ordinal as usize]))
                .then_with(|| a.ordinal.cmp(&b.ordinal))
        });
        pairs.dedup_by(|b, a| a.ordinal == b.ordinal && key(a) == key(b));

        let mut builder = fst::MapBuilder::memory();
        let mut lanes: [(Vec<u32>, Vec<u32>, Vec<f32>); 4] = Default::default();
        let mut rank: u32 = 0;
        let mut previous: Option<&[u8]> = None;
        for pair in &pairs {
            let k = key(pair);
            if previous != Some(k) {
                if previous.is_some() {
                    rank += 1;
                }
                // Keys arrive sorted and distinct, the only two ways inserting can fail.
                builder
                    .insert(k, rank as u64)
                    .expect("sorted distinct keys");
                previous = Some(k);
            }
            let lane = &mut lanes[lane_of(entities.kind[pair.ordinal as usize])];
            lane.0.push(rank);
            lane.1.push(pair.ordinal);
            lane.2.push(weight[pair.ordinal as usize]);
        }
        drop(pairs);
        let keys = builder.into_map();

        let lanes: Vec<Lane> = lanes
            .into_par_iter()
            .map(|(k, e, w)| Lane::new(k, e, w))
            .collect();
        let lanes: [Lane; 4] = lanes
            .try_into()
            .unwrap_or_else(|_| unreachable!("four kinds"));
        SuggestIndex {
            keys,
            entities,
            lanes,
        }
    }
}
