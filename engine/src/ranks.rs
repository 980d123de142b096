//! DiscoRank as the prior: [`RankPriors`] serves the rank store's active version by default and
//! any kept version on request (`rank=<v>`, for A/B), loading each version once. The active
//! pointer is re-read at most once a second, so `disco rank activate` switches the service
//! without a restart. With no active version yet, the interim popularity prior serves.
//!
//! ```no_run
//! # fn run() -> Result<(), rank::RankError> {
//! use engine::prior::{PriorSource, RankChoice};
//! let store = rank::RankStore::in_data_dir("data")?;
//! let priors = engine::ranks::RankPriors::open(store);
//! let prior = priors.prior(RankChoice::Active); // what a request without `rank=` blends with
//! # drop(prior); Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rank::{RankError, RankScores, RankStore, RankVersion};
use schemas::EntityKey;

use crate::blend::saturate;
use crate::prior::{
    Memoized, PopularityPrior, Prior, PriorSource, RankChoice, SegmentMemo, UnknownRank,
};

/// How many versions stay loaded (the active one plus a few asked for by `rank=<v>`).
const LOADED_VERSIONS: usize = 4;
/// How often the active pointer is re-read.
const RECHECK: Duration = Duration::from_secs(1);

/// One version's scores as a prior: `relative / (relative + k)`, where `relative` is the
/// score × the number of entities (1 = an average entity). Entities newer than the run have no
/// score and fall back to the popularity prior.
pub struct RankPrior {
    pub version: RankVersion,
    scores: RankScores,
    /// The relative score that gets half the maximum strength.
    pub k: f64,
    fallback: PopularityPrior,
    memo: SegmentMemo,
}

impl RankPrior {
    pub fn new(version: RankVersion, scores: RankScores) -> RankPrior {
        RankPrior {
            version,
            scores,
            k: 2.0,
            fallback: PopularityPrior::default(),
            memo: SegmentMemo::default(),
        }
    }
}

impl Prior for RankPrior {
    fn strength(&self, key: EntityKey, popularity: f64) -> f32 {
        match self.scores.relative(key) {
            Some(relative) => saturate(relative, self.k),
            None => self.fallback.strength(key, popularity),
        }
    }

    fn memo(&self) -> Option<&SegmentMemo> {
        Some(&self.memo)
    }
}

struct Active {
    checked: Option<Instant>,
    version: Option<RankVersion>,
}

/// The [`PriorSource`] over a [`RankStore`].
pub struct RankPriors {
    store: RankStore,
    loaded: Mutex<BTreeMap<RankVersion, Arc<RankPrior>>>,
    active: Mutex<Active>,
    popularity: Arc<Memoized<PopularityPrior>>,
}

impl RankPriors {
    /// Serves `store`, loading the active version now (so the first search does not wait).
    pub fn open(store: RankStore) -> RankPriors {
        let priors = RankPriors {
            store,
            loaded: Mutex::new(BTreeMap::new()),
            active: Mutex::new(Active {
                checked: None,
                version: None,
            }),
            popularity: Arc::new(Memoized::new(PopularityPrior::default())),
        };
        if let Some(version) = priors.active_version()
            && let Err(e) = priors.load(version)
        {
            tracing::warn!(error = %e, "cannot load the active rank version; serving the popularity prior");
        }
        priors
    }

    /// The active version, re-reading the pointer at most once per [`RECHECK`].
    pub fn active_version(&self) -> Option<RankVersion> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.checked.is_none_or(|t| t.elapsed() >= RECHECK) {
            match self.store.active() {
                Ok(version) => active.version = version,
                Err(e) => tracing::warn!(error = %e, "cannot read the active rank version"),
            }
            active.checked = Some(Instant::now());
        }
        active.version
    }

    /// `version`'s prior, from memory or loaded from the store.
    pub fn load(&self, version: RankVersion) -> Result<Arc<RankPrior>, RankError> {
        if let Some(prior) = self.lock_loaded().get(&version) {
            return Ok(prior.clone());
        }
        let prior = Arc::new(RankPrior::new(version, self.store.load(version)?));
        let active = self.active_version();
        let mut loaded = self.lock_loaded();
        loaded.insert(version, prior.clone());
        while loaded.len() > LOADED_VERSIONS {
            let Some(oldest) = loaded.keys().copied().find(|v| Some(*v) != active) else {
                break;
            };
            loaded.remove(&oldest);
        }
        Ok(prior)
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, BTreeMap<RankVersion, Arc<RankPrior>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PriorSource for RankPriors {
    fn prior(&self, choice: RankChoice) -> Result<Option<Arc<dyn Prior>>, UnknownRank> {
        match choice {
            RankChoice::None => Ok(None),
            RankChoice::Version(v) => match self.load(RankVersion(v)) {
                Ok(prior) => Ok(Some(prior)),
                Err(RankError::UnknownVersion(_)) => Err(UnknownRank(v)),
                Err(e) => {
                    tracing::warn!(error = %e, "rank version {v} cannot be loaded");
                    Err(UnknownRank(v))
                }
            },
            RankChoice::Active => {
                let Some(version) = self.active_version() else {
                    return Ok(Some(self.popularity.clone()));
                };
                match self.load(version) {
                    Ok(prior) => Ok(Some(prior)),
                    Err(e) => {
                        tracing::warn!(error = %e, "active rank {version} cannot be loaded; using popularity");
                        Ok(Some(self.popularity.clone()))
                    }
                }
            }
        }
    }

    /// Ready when the active version (if any) is loaded; with none active, popularity serves.
    fn ready(&self) -> bool {
        match self.active_version() {
            None => true,
            Some(version) => {
                self.lock_loaded().contains_key(&version) || self.load(version).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rank::{Durations, Manifest, NodeTable, Weights};
    use schemas::EntityKind;

    fn write_version(store: &RankStore, version: u32, scores: &[(i64, f64)]) {
        let ids: Vec<i64> = scores.iter().map(|(id, _)| *id).collect();
        let nodes = NodeTable::new([ids, vec![], vec![], vec![]]).expect("node table");
        let mut by_node = vec![0.0; scores.len()];
        for (id, score) in scores {
            let node = nodes
                .index(EntityKey::new(EntityKind::Track, *id))
                .expect("node");
            by_node[node as usize] = *score;
        }
        let scores = RankScores::new(nodes, by_node).expect("scores");
        let manifest = Manifest {
            version: RankVersion(version),
            created: chrono::Utc::now(),
            nodes: scores.len() as u64,
            nodes_by_kind: BTreeMap::new(),
            edges: 0,
            activities: 0,
            dangling: 0,
            iterations: 1,
            residual: 0.0,
            converged: true,
            alpha: 0.85,
            tolerance: 1e-9,
            warm_start: None,
            weights: Weights::default(),
            duration: Durations {
                load_seconds: 0.0,
                compute_seconds: 0.0,
                write_seconds: 0.0,
                total_seconds: 0.0,
            },
            graph_bytes: 0,
        };
        store.write(&manifest, &scores).expect("write version");
    }

    fn strength(priors: &RankPriors, choice: RankChoice, id: i64) -> Option<f32> {
        let prior = priors.prior(choice).ok()??;
        Some(prior.strength(EntityKey::new(EntityKind::Track, id), 0.0))
    }

    #[test]
    fn active_and_kept_versions_are_served_and_switch_without_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RankStore::open(dir.path()).expect("store");
        let priors = RankPriors::open(store.clone());
        assert!(priors.ready(), "no version yet: popularity serves");
        assert!(strength(&priors, RankChoice::Active, 1).is_some());
        assert_eq!(
            priors.prior(RankChoice::Version(1)).err(),
            Some(UnknownRank(1))
        );

        write_version(&store, 1, &[(1, 0.9), (2, 0.1)]);
        write_version(&store, 2, &[(1, 0.1), (2, 0.9)]);
        store.activate(RankVersion(1)).expect("activate");
        let fresh = RankPriors::open(store.clone());
        let (a, b) = (
            strength(&fresh, RankChoice::Active, 1),
            strength(&fresh, RankChoice::Active, 2),
        );
        assert!(a > b, "v1 favours track 1: {a:?} {b:?}");
        let (a, b) = (
            strength(&fresh, RankChoice::Version(2), 1),
            strength(&fresh, RankChoice::Version(2), 2),
        );
        assert!(a < b, "v2 favours track 2");
        assert!(fresh.prior(RankChoice::None).is_ok_and(|p| p.is_none()));

        store.activate(RankVersion(2)).expect("activate");
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        let (a, b) = (
            strength(&fresh, RankChoice::Active, 1),
            strength(&fresh, RankChoice::Active, 2),
        );
        assert!(a < b, "the new active version is served without a restart");
        assert!(fresh.ready());
    }
}
