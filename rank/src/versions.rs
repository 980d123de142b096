//! Rank versions on disk: `ranks/v<N>/{scores.bin, manifest.json}` and the `active` pointer.
//!
//! A version directory is written under a temporary name and renamed into place, and the
//! `active` file (the version number as text) is replaced by rename, so a reader sees either
//! the old or the new state, never half of one. The newest `keep` versions are kept, and the
//! active one always, so a rollback has somewhere to go.
//!
//! ```no_run
//! # fn run() -> Result<(), rank::RankError> {
//! let store = rank::RankStore::open("data/ranks")?;
//! if let Some(version) = store.active()? {
//!     let scores = store.load(version)?; // hold this in memory; reload on activate
//!     println!("{version}: {} entities", scores.len());
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::RankError;
use crate::scores::RankScores;
use crate::weights::Weights;

/// A rank version number; written `v3` in paths and messages, parsed from `3` or `v3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RankVersion(pub u32);

impl fmt::Display for RankVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for RankVersion {
    type Err = RankError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('v').unwrap_or(s);
        digits.parse().map(RankVersion).map_err(|_| {
            RankError::Input(format!("rank version `{s}` is not a number like 3 or v3"))
        })
    }
}

/// What a run produced and how: `manifest.json` of a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: RankVersion,
    pub created: DateTime<Utc>,
    pub nodes: u64,
    /// Nodes by kind name (`track`, `user`, …).
    pub nodes_by_kind: std::collections::BTreeMap<String, u64>,
    /// Distinct weighted edges, after parallel activities were merged.
    pub edges: u64,
    /// Activity rows that became edges.
    pub activities: u64,
    pub dangling: u64,
    /// Gauss-Seidel sweeps over all edges. A warm start with pushes also did the work in
    /// [`WarmStart::push`] before them: read both (`PushWork::sweep_equivalents`).
    pub iterations: u32,
    /// L1 change of the last iteration.
    pub residual: f64,
    pub converged: bool,
    pub alpha: f64,
    pub tolerance: f64,
    /// Where the iteration started from; `None` for a cold start.
    pub warm_start: Option<WarmStart>,
    pub weights: Weights,
    pub duration: Durations,
    /// Memory of the compressed graph.
    pub graph_bytes: u64,
}

/// A warm start: the version it started from and how much of it still applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmStart {
    pub from: RankVersion,
    /// Nodes that had a score in `from`; the rest started at 1/N.
    pub carried: u64,
    /// Iterations a cold start needed on the same graph, when the job was asked to compare.
    pub cold_iterations: Option<u32>,
    /// The residual pass and pushes before the sweeps, in sweep-equivalents (edges touched /
    /// |E|), for a warm start with pushes ([`crate::WarmStrategy::Push`]); `None` for the
    /// plain warm start (the default) and in manifests written before warm starts pushed.
    #[serde(default)]
    pub push: Option<crate::push::PushWork>,
}

/// Seconds spent in each step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub load_seconds: f64,
    pub compute_seconds: f64,
    pub write_seconds: f64,
    pub total_seconds: f64,
}

/// The directory of rank versions.
#[derive(Debug, Clone)]
pub struct RankStore {
    dir: PathBuf,
}

const ACTIVE: &str = "active";
const MANIFEST: &str = "manifest.json";
const SCORES: &str = "scores.bin";

impl RankStore {
    /// Opens (creating if needed) the versions directory, usually `<data_dir>/ranks`.
    pub fn open(dir: impl AsRef<Path>) -> Result<RankStore, RankError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| RankError::io(&dir, e))?;
        Ok(RankStore { dir })
    }

    /// The store of a data directory: `<data_dir>/ranks`.
    pub fn in_data_dir(data_dir: impl AsRef<Path>) -> Result<RankStore, RankError> {
        RankStore::open(data_dir.as_ref().join("ranks"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn version_dir(&self, version: RankVersion) -> PathBuf {
        self.dir.join(version.to_string())
    }

    /// Every complete version, oldest first.
    pub fn versions(&self) -> Result<Vec<RankVersion>, RankError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| RankError::io(&self.dir, e))?;
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| RankError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(number) = name.to_str().and_then(|n| n.strip_prefix('v')) else {
                continue;
            };
            if let Ok(n) = number.parse::<u32>()
                && entry.path().join(MANIFEST).is_file()
            {
                versions.push(RankVersion(n));
            }
        }
        versions.sort();
        Ok(versions)
    }

    /// The manifests of every kept version, oldest first.
    pub fn list(&self) -> Result<Vec<Manifest>, RankError> {
        self.versions()?
            .into_iter()
            .map(|v| self.manifest(v))
            .collect()
    }

    /// One version's manifest.
    pub fn manifest(&self, version: RankVersion) -> Result<Manifest, RankError> {
        let path = self.version_dir(version).join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RankError::UnknownVersion(version),
            _ => RankError::io(&path, e),
        })?;
        serde_json::from_str(&text).map_err(|e| RankError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// The version the query service serves by default, if any was activated.
    pub fn active(&self) -> Result<Option<RankVersion>, RankError> {
        let path = self.dir.join(ACTIVE);
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| RankError::Corrupt {
                    path,
                    reason: format!("`{}` is not a version", text.trim()),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RankError::io(&path, e)),
        }
    }

    /// Makes `version` the active one (atomic rename of the pointer file).
    pub fn activate(&self, version: RankVersion) -> Result<(), RankError> {
        self.manifest(version)?;
        let tmp = self
            .dir
            .join(format!(".{ACTIVE}.{}.tmp", std::process::id()));
        let path = self.dir.join(ACTIVE);
        std::fs::write(&tmp, format!("{version}\n")).map_err(|e| RankError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| RankError::io(&path, e))
    }

    /// A version's scores.
    pub fn load(&self, version: RankVersion) -> Result<RankScores, RankError> {
        let dir = self.version_dir(version);
        if !dir.join(MANIFEST).is_file() {
            return Err(RankError::UnknownVersion(version));
        }
        RankScores::read_file(&dir.join(SCORES))
    }

    /// The active version and its scores, if a version is active.
    pub fn load_active(&self) -> Result<Option<(RankVersion, RankScores)>, RankError> {
        match self.active()? {
            Some(v) => Ok(Some((v, self.load(v)?))),
            None => Ok(None),
        }
    }

    /// The number the next version gets.
    pub fn next_version(&self) -> Result<RankVersion, RankError> {
        let last = self.versions()?.last().map_or(0, |v| v.0);
        Ok(RankVersion(last + 1))
    }

    /// Writes a new version (scores then manifest, in a temporary directory renamed into
    /// place). Fails, writing nothing, if the version already exists.
    pub fn write(&self, manifest: &Manifest, scores: &RankScores) -> Result<(), RankError> {
        let target = self.version_dir(manifest.version);
        if target.exists() {
            return Err(RankError::Input(format!(
                "{} already exists",
                target.display()
            )));
        }
        let tmp = self
            .dir
            .join(format!(".{}.{}.tmp", manifest.version, std::process::id()));
        std::fs::create_dir(&tmp).map_err(|e| RankError::io(&tmp, e))?;
        let result = (|| {
            scores.write_file(&tmp.join(SCORES))?;
            let json = serde_json::to_string_pretty(manifest)
                .map_err(|e| RankError::Input(format!("manifest: {e}")))?;
            let path = tmp.join(MANIFEST);
            std::fs::write(&path, json).map_err(|e| RankError::io(&path, e))?;
            std::fs::rename(&tmp, &target).map_err(|e| RankError::io(&target, e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Deletes all but the newest `keep` versions, never the active one; returns the deleted.
    pub fn prune(&self, keep: usize) -> Result<Vec<RankVersion>, RankError> {
        let active = self.active()?;
        let versions = self.versions()?;
        let cut = versions.len().saturating_sub(keep.max(1));
        let mut removed = Vec::new();
        for version in versions.into_iter().take(cut) {
            if Some(version) == active {
                continue;
            }
            let dir = self.version_dir(version);
            std::fs::remove_dir_all(&dir).map_err(|e| RankError::io(&dir, e))?;
            removed.push(version);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::NodeTable;
    use schemas::{EntityKey, EntityKind};

    fn manifest(version: u32) -> Manifest {
        Manifest {
            version: RankVersion(version),
            created: Utc::now(),
            nodes: 2,
            nodes_by_kind: [("track".to_string(), 2)].into(),
            edges: 1,
            activities: 1,
            dangling: 1,
            iterations: 3,
            residual: 1e-10,
            converged: true,
            alpha: 0.85,
            tolerance: 1e-9,
            warm_start: None,
            weights: Weights::builtin(),
            duration: Durations {
                load_seconds: 0.0,
                compute_seconds: 0.0,
                write_seconds: 0.0,
                total_seconds: 0.0,
            },
            graph_bytes: 0,
        }
    }

    fn scores(first: f64) -> RankScores {
        RankScores::new(NodeTable::anonymous(2), vec![first, 1.0 - first]).unwrap()
    }

    #[test]
    fn write_activate_load_roll_back_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let store = RankStore::open(dir.path().join("ranks")).unwrap();
        assert_eq!(store.active().unwrap(), None);
        assert_eq!(store.next_version().unwrap(), RankVersion(1));
        for v in 1..=4 {
            store.write(&manifest(v), &scores(v as f64 / 10.0)).unwrap();
            store.activate(RankVersion(v)).unwrap();
        }
        assert!(store.write(&manifest(4), &scores(0.5)).is_err());
        assert_eq!(store.active().unwrap(), Some(RankVersion(4)));
        let track0 = EntityKey::new(EntityKind::Track, 0);
        assert_eq!(store.load(RankVersion(4)).unwrap().get(track0), Some(0.4));

        store.activate(RankVersion(2)).unwrap();
        let (v, active) = store.load_active().unwrap().unwrap();
        assert_eq!((v, active.get(track0)), (RankVersion(2), Some(0.2)));

        let removed = store.prune(2).unwrap();
        assert_eq!(removed, vec![RankVersion(1)]);
        assert_eq!(
            store.versions().unwrap(),
            vec![RankVersion(2), RankVersion(3), RankVersion(4)]
        );
        assert_eq!(store.list().unwrap()[0].version, RankVersion(2));
        assert!(matches!(
            store.activate(RankVersion(1)),
            Err(RankError::UnknownVersion(_))
        ));
        assert!(matches!(
            store.load(RankVersion(9)),
            Err(RankError::UnknownVersion(_))
        ));
        assert_eq!(store.next_version().unwrap(), RankVersion(5));
        assert_eq!("v7".parse::<RankVersion>().unwrap(), RankVersion(7));
        assert_eq!("7".parse::<RankVersion>().unwrap(), RankVersion(7));
        assert!("seven".parse::<RankVersion>().is_err());
    }
}
