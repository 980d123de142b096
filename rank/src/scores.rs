//! One rank version's scores, looked up by entity, and their compact file format.
//!
//! The file (`scores.bin`) is little-endian: the magic `DRANKv01`, four `u64` counts (tracks,
//! users, playlists, groups), every kind's sorted ids (`i64`), then every score (`f64`) in the
//! same order — 16 bytes per entity, read back with no parsing beyond a length check.
//!
//! ```
//! use rank::{NodeTable, RankScores};
//! use schemas::{EntityKey, EntityKind};
//! let nodes = NodeTable::new([vec![1, 2], vec![7], vec![], vec![]]).unwrap();
//! let scores = RankScores::new(nodes, vec![0.5, 0.25, 0.25]).unwrap();
//! assert_eq!(scores.get(EntityKey::new(EntityKind::User, 7)), Some(0.25));
//! assert_eq!(scores.relative(EntityKey::new(EntityKind::Track, 1)), Some(1.5));
//! ```

use std::io::Write;
use std::path::Path;

use schemas::{EntityKey, EntityKind};

use crate::RankError;
use crate::nodes::NodeTable;

const MAGIC: &[u8; 8] = b"DRANKv01";

/// Scores by entity: what the query service holds in memory and blends with text relevance.
#[derive(Debug, Clone, PartialEq)]
pub struct RankScores {
    nodes: NodeTable,
    scores: Vec<f64>,
}

impl RankScores {
    /// Scores in node order of `nodes`.
    pub fn new(nodes: NodeTable, scores: Vec<f64>) -> Result<RankScores, RankError> {
        if nodes.len() != scores.len() {
            return Err(RankError::Input(format!(
                "{} scores for {} nodes",
                scores.len(),
                nodes.len()
            )));
        }
        Ok(RankScores { nodes, scores })
    }

    /// The entity's DiscoRank (sums to 1 over all entities); `None` when it was not ranked
    /// (not searchable at the time of the run, or newer than it).
    pub fn get(&self, key: EntityKey) -> Option<f64> {
        self.nodes.index(key).map(|i| self.scores[i as usize])
    }

    /// The score relative to the average entity (`score × N`): 1.0 is average, 10.0 ten times
    /// the average. Independent of the catalog's size, so it blends the same at 1k or 1M entities.
    pub fn relative(&self, key: EntityKey) -> Option<f64> {
        self.get(key).map(|s| s * self.scores.len() as f64)
    }

    /// Number of ranked entities.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Every (entity, score), tracks first, ids ascending within a kind.
    pub fn iter(&self) -> impl Iterator<Item = (EntityKey, f64)> + '_ {
        self.nodes.keys().zip(self.scores.iter().copied())
    }

    /// The `k` best-ranked entities, best first.
    pub fn top(&self, k: usize) -> Vec<(EntityKey, f64)> {
        let mut all: Vec<(EntityKey, f64)> = self.iter().collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    pub fn nodes(&self) -> &NodeTable {
        &self.nodes
    }

    /// Scores in node order.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// Writes TSV `kind id score` (17 significant digits).
    pub fn write_tsv(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "kind\tid\tscore")?;
        for (key, score) in self.iter() {
            writeln!(out, "{}\t{}\t{score:.16e}", key.kind, key.id)?;
        }
        out.flush()
    }

    /// Writes the binary file.
    pub fn write_file(&self, path: &Path) -> Result<(), RankError> {
        let io = |e| RankError::io(path, e);
        let mut bytes = Vec::with_capacity(8 + 32 + 16 * self.len());
        bytes.extend_from_slice(MAGIC);
        for kind in EntityKind::ALL {
            bytes.extend_from_slice(&(self.nodes.count(kind) as u64).to_le_bytes());
        }
        for kind in EntityKind::ALL {
            for id in self.nodes.ids(kind) {
                bytes.extend_from_slice(&id.to_le_bytes());
            }
        }
        for score in &self.scores {
            bytes.extend_from_slice(&score.to_le_bytes());
        }
        let mut file = std::fs::File::create(path).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a binary file written by [`RankScores::write_file`].
    pub fn read_file(path: &Path) -> Result<RankScores, RankError> {
        let bytes = std::fs::read(path).map_err(|e| RankError::io(path, e))?;
        let corrupt = |why: &str| RankError::Corrupt {
            path: path.to_path_buf(),
            reason: why.to_string(),
        };
        if bytes.len() < 40 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a DiscoRank scores file (bad magic)"));
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let counts: Vec<u64> = (0..4).map(|k| word(8 + 8 * k)).collect();
        let total: u64 = counts
            .iter()
            .try_fold(0u64, |a, c| a.checked_add(*c))
            .ok_or_else(|| corrupt("counts overflow"))?;
        if Some(bytes.len() as u64) != total.checked_mul(16).and_then(|b| b.checked_add(40)) {
            return Err(corrupt(&format!(
                "{} bytes for {total} entities",
                bytes.len()
            )));
        }
        let mut at = 40;
        let mut ids: [Vec<i64>; 4] = Default::default();
        for (k, count) in counts.iter().enumerate() {
            ids[k] = bytes[at..at + 8 * *count as usize]
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            at += 8 * *count as usize;
            if ids[k].windows(2).any(|w| w[0] >= w[1]) {
                return Err(corrupt("ids are not sorted and unique"));
            }
        }
        let scores: Vec<f64> = bytes[at..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        RankScores::new(NodeTable::new(ids)?, scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_file_round_trips_and_refuses_damage() {
        let nodes = NodeTable::new([vec![5, 1], vec![], vec![9], vec![-3]]).unwrap();
        let scores = RankScores::new(nodes, vec![0.1, 0.2, 0.3, 0.4]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scores.bin");
        scores.write_file(&path).unwrap();
        let again = RankScores::read_file(&path).unwrap();
        assert_eq!(again, scores);
        assert_eq!(again.get(EntityKey::new(EntityKind::Track, 5)), Some(0.2));
        assert_eq!(again.get(EntityKey::new(EntityKind::Group, -3)), Some(0.4));
        assert_eq!(again.top(2)[0].0, EntityKey::new(EntityKind::Group, -3));

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let err = RankScores::read_file(&path).unwrap_err();
        assert!(err.to_string().contains("bytes for 4 entities"), "{err}");
        std::fs::write(&path, b"hello").unwrap();
        assert!(RankScores::read_file(&path).is_err());
    }

    #[test]
    fn tsv_export_names_kind_and_id() {
        let nodes = NodeTable::new([vec![42], vec![7], vec![], vec![]]).unwrap();
        let scores = RankScores::new(nodes, vec![0.75, 0.25]).unwrap();
        let mut out = Vec::new();
        scores.write_tsv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "kind\tid\tscore\ntrack\t42\t7.5000000000000000e-1\nuser\t7\t2.5000000000000000e-1\n"
        );
    }
}
