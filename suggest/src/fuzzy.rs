//! Typo tolerance: which keys start with something within `max_edits` of what was typed.
//!
//! Distances are counted in characters with insertions, deletions, substitutions and swaps
//! of two neighbours (optimal string alignment: "teh" is one edit from "the"). The first
//! character is never edited — people rarely mistype it, and fixing it lets the walk start
//! one level down the FST instead of fanning out at the root.
//!
//! The walk goes down the FST byte by byte, decodes characters, and keeps one row of the
//! edit-distance table per character depth. It stops where no completion can come within
//! `max_edits`, and records a node when the text so far is within `max_edits` of the whole
//! query: every key below it matches, and [`crate::topk::TopK`] reads that key range by weight.

use std::ops::Range;

use fst::raw::{Fst, Node};

use crate::index::subtree_range;

/// Nodes visited by one walk at most, so a pathological query has a bounded cost.
const MAX_NODES: usize = 200_000;
/// Ranges recorded by one walk at most.
const MAX_RANGES: usize = 512;

/// Rows of the edit-distance table of a growing text against a fixed `pattern`, computed
/// only in the band of cells that can stay within `max_edits` (Ukkonen's cut-off): every
/// value above `max_edits` is stored as `max_edits + 1`, so a row costs O(max_edits), not
/// O(pattern length).
pub(crate) struct Rows<'p> {
    pattern: &'p [char],
    /// `max_edits + 1`: "too far".
    far: u8,
    /// Row `d` (of `pattern.len() + 1` cells) is the text's first `d` characters.
    cells: Vec<u8>,
    /// The text's characters, for swaps.
    text: Vec<char>,
}

impl<'p> Rows<'p> {
    pub fn new(pattern: &'p [char], max_edits: u8) -> Rows<'p> {
        let width = pattern.len() + 1;
        let far = max_edits.saturating_add(1);
        let mut cells = Vec::with_capacity(width * 16);
        cells.extend((0..width).map(|j| j.min(far as usize) as u8));
        Rows {
            pattern,
            far,
            cells,
            text: Vec::new(),
        }
    }

    /// Appends `c` to the text; returns (distance of the text to the whole pattern, the
    /// smallest distance any continuation of the text can still reach), both capped at
    /// `max_edits + 1`.
    pub fn push(&mut self, c: char) -> (u8, u8) {
        let width = self.pattern.len() + 1;
        let far = self.far;
        let depth = self.text.len();
        let i = depth + 1;
        let prev = depth * width;
        self.cells.resize(prev + width, 0);
        self.cells.resize(prev + 2 * width, far);
        let (before, row) = self.cells.split_at_mut(prev + width);
        let up = &before[prev..];
        row[0] = (i.min(far as usize)) as u8;
        let mut min = row[0];
        let lo = i.saturating_sub(far as usize).max(1);
        let hi = (i + far as usize).min(width - 1);
        for j in lo..=hi {
            let cost = u8::from(self.pattern[j - 1] != c);
            let mut d = (up[j - 1] + cost).min(up[j] + 1).min(row[j - 1] + 1);
            if depth >= 1
                && j >= 2
                && c == self.pattern[j - 2]
                && self.text[depth - 1] == self.pattern[j - 1]
            {
                d = d.min(before[prev - width + j - 2] + 1);
            }
            let d = d.min(far);
            row[j] = d;
            min = min.min(d);
        }
        self.text.push(c);
        (row[width - 1], min)
    }

    pub fn pop(&mut self) {
        self.text.pop();
        let width = self.pattern.len() + 1;
        self.cells.truncate((self.text.len() + 1) * width);
    }
}

/// The smallest distance between `query` (first char, rest) and a prefix of `key` whose
/// first character is the query's, when at most `max_edits`.
pub(crate) fn prefix_distance(key: &str, first: char, rest: &[char], max_edits: u8) -> Option<u8> {
    let mut chars = key.chars();
    if chars.next() != Some(first) {
        return None;
    }
    let mut rows = Rows::new(rest, max_edits);
    let mut best = (rest.len() as u8 <= max_edits).then_some(rest.len() as u8);
    for c in chars {
        let (last, min) = rows.push(c);
        if last <= max_edits {
            best = Some(best.map_or(last, |b| b.min(last)));
        }
        if min > max_edits || best.is_some_and(|b| min >= b) {
            break;
        }
    }
    best
}

/// A key range whose keys all start within `distance` edits of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub keys: Range<u32>,
    pub distance: u8,
}

/// The key ranges of `fst` that start within `max_edits` of `first` + `rest` (`first` is
/// matched exactly). Distance-0 ranges (the exact prefix) are left out: they are read apart.
pub(crate) fn walk(fst: &Fst<Vec<u8>>, first: char, rest: &[char], max_edits: u8) -> Vec<Hit> {
    let mut node = fst.root();
    let mut acc = 0u64;
    let mut buf = [0u8; 4];
    for &b in first.encode_utf8(&mut buf).as_bytes() {
        let Some(i) = node.find_input(b) else {
            return Vec::new();
        };
        let t = node.transition(i);
        acc += t.out.value();
        node = fst.node(t.addr);
    }
    let mut walker = Walker {
        fst,
        rows: Rows::new(rest, max_edits),
        max_edits,
        hits: Vec::new(),
        visited: 0,
    };
    walker.down(node, acc, Utf8::default());
    walker.hits
}

struct Walker<'f, 'p> {
    fst: &'f Fst<Vec<u8>>,
    rows: Rows<'p>,
    max_edits: u8,
    hits: Vec<Hit>,
    visited: usize,
}

impl Walker<'_, '_> {
    fn down(&mut self, node: Node<'_>, acc: u64, pending: Utf8) {
        for t in node.transitions() {
            self.visited += 1;
            if self.visited > MAX_NODES || self.hits.len() >= MAX_RANGES {
                return;
            }
            let child = self.fst.node(t.addr);
            let acc = acc + t.out.value();
            let pending = pending.push(t.inp);
            let Some(c) = pending.char() else {
                self.down(child, acc, pending);
                continue;
            };
            let (last, min) = self.rows.push(c);
            if last <= self.max_edits {
                // Every key below matches: the range holds them all. Going further down
                // would only find keys of this range again, nearer (a lower tier has them).
                if last > 0 {
                    self.hits.push(Hit {
                        keys: subtree_range(self.fst, child, acc),
                        distance: last,
                    });
                }
            } else if min <= self.max_edits {
                // No match yet, but a continuation could still come within reach.
                self.down(child, acc, Utf8::default());
            }
            self.rows.pop();
        }
    }
}

/// The bytes of a character being read from the FST, one byte at a time.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8 {
    bytes: [u8; 4],
    len: u8,
}

impl Utf8 {
    fn push(mut self, b: u8) -> Utf8 {
        if self.len as usize == self.bytes.len() {
            self = Utf8::default(); // never on valid UTF-8 keys; resynchronise
        }
        self.bytes[self.len as usize] = b;
        self.len += 1;
        self
    }

    fn char(&self) -> Option<char> {
        let need = match self.bytes[0] {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if (self.len as usize) < need {
            return None;
        }
        std::str::from_utf8(&self.bytes[..self.len as usize])
            .ok()?
            .chars()
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Optimal string alignment distance, the plain way.
    fn osa(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d: Vec<Vec<usize>> = (0..=a.len())
            .map(|i| {
                (0..=b.len())
                    .map(|j| {
                        if i == 0 {
                            j
                        } else if j == 0 {
                            i
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }

    fn brute_prefix_distance(key: &str, query: &str) -> usize {
        let cut: Vec<usize> = key
            .char_indices()
            .map(|(i, _)| i)
            .chain([key.len()])
            .collect();
        cut.iter().map(|&i| osa(&key[..i], query)).min().unwrap()
    }

    #[test]
    fn rows_agree_with_the_textbook_table() {
        let words = [
            "the", "teh", "world", "wrold", "beyonce", "beyoncé", "abc", "acb", "a", "",
        ];
        for a in words {
            for b in words {
                let pattern: Vec<char> = b.chars().collect();
                for max in [1u8, 2, 3, 9] {
                    let mut rows = Rows::new(&pattern, max);
                    let mut last = pattern.len().min(max as usize + 1) as u8;
                    for c in a.chars() {
                        last = rows.push(c).0;
                    }
                    assert_eq!(
                        last as usize,
                        osa(a, b).min(max as usize + 1),
                        "{a} vs {b}, max {max}"
                    );
                }
            }
        }
    }

    #[test]
    fn prefix_distance_is_the_best_prefix() {
        for (key, query) in [
            ("around the world", "arund"),
            ("beatles", "beatels"),
            ("lose yourself", "loes"),
            ("abc", "xbc"),
        ] {
            let mut chars = query.chars();
            let first = chars.next().unwrap();
            let rest: Vec<char> = chars.collect();
            let expected = if key.starts_with(first) {
                Some(brute_prefix_distance(key, query))
            } else {
                None
            };
            let got = prefix_distance(key, first, &rest, 2).map(usize::from);
            assert_eq!(got, expected.filter(|&d| d <= 2), "{key} / {query}");
        }
    }

    #[test]
    fn walk_finds_every_key_within_reach_and_no_other() {
        let mut keys = vec![
            "beatles",
            "beat it",
            "beautiful day",
            "believe",
            "bestial",
            "beyonce",
            "bleach",
            "around the world",
            "arena",
            "aroma",
            "world",
            "wrold order",
            "would",
            "wonderwall",
            "naïve",
            "naive song",
            "nave",
        ];
        keys.sort();
        let map =
            fst::Map::from_iter(keys.iter().enumerate().map(|(i, k)| (*k, i as u64))).unwrap();
        for (query, max) in [
            ("beatels", 1u8),
            ("wrld", 1),
            ("arund", 1),
            ("beutiful", 2),
            ("naiev", 1),
            ("wonderwal", 2),
        ] {
            let mut chars = query.chars();
            let first = chars.next().unwrap();
            let rest: Vec<char> = chars.collect();
            let hits = walk(map.as_fst(), first, &rest, max);
            let mut found: Vec<&str> = hits
                .iter()
                .flat_map(|h| h.keys.clone())
                .map(|r| keys[r as usize])
                .collect();
            found.sort();
            found.dedup();
            let within = |lo: usize| -> Vec<&str> {
                keys.iter()
                    .copied()
                    .filter(|k| k.starts_with(first))
                    .filter(|k| (lo..=max as usize).contains(&brute_prefix_distance(k, query)))
                    .collect()
            };
            // Every typo match is found; nothing found is out of reach (an exact prefix may
            // sit inside a range recorded at distance 1).
            for k in within(1) {
                assert!(
                    found.contains(&k),
                    "query {query}: {k} missing from {found:?}"
                );
            }
            let reachable = within(0);
            for k in &found {
                assert!(reachable.contains(k), "query {query}: {k} is out of reach");
            }
            assert!(!found.is_empty(), "query {query}");
        }
    }
}
