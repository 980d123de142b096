//! Where the prior comes from: an injectable [`PriorSource`] answers, per request, which
//! [`Prior`] to blend with (`rank` absent = the active one, `rank=none` = none, `rank=<v>` =
//! a kept version). Until DiscoRank is wired, [`PopularityPrior`] reads the index's
//! `popularity` fast field, so the blend is real and tested now.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use schemas::EntityKey;
use tantivy::index::SegmentId;

use crate::blend::saturate;

/// Which prior a request asked for (the `rank` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RankChoice {
    /// No `rank` parameter: the active version.
    #[default]
    Active,
    /// `rank=none`: pure text relevance.
    None,
    /// `rank=<v>` or `rank=v<v>`: one kept version.
    Version(u32),
}

/// The `rank` parameter was neither `none` nor a version number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rank must be `none` or a version number like `3`, not `{0}`")]
pub struct BadRankChoice(pub String);

impl FromStr for RankChoice {
    type Err = BadRankChoice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(RankChoice::None);
        }
        let digits = t.strip_prefix(['v', 'V']).unwrap_or(t);
        digits
            .parse::<u32>()
            .map(RankChoice::Version)
            .map_err(|_| BadRankChoice(s.chars().take(40).collect()))
    }
}

impl fmt::Display for RankChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RankChoice::Active => f.write_str("active"),
            RankChoice::None => f.write_str("none"),
            RankChoice::Version(v) => write!(f, "v{v}"),
        }
    }
}

/// One prior: how strongly the world vouches for an entity, already saturated into `[0, 1)`.
pub trait Prior: Send + Sync {
    /// The entity's strength. `popularity` is the index's interim prior for the document, for
    /// priors that use it; others look the key up.
    fn strength(&self, key: EntityKey, popularity: f64) -> f32;

    /// Where this prior keeps every segment's strengths once computed, if it does. A prior
    /// that is shared across requests should: the lookup per matching document then becomes
    /// one array read.
    fn memo(&self) -> Option<&SegmentMemo> {
        None
    }
}

/// Segments remembered before the memo forgets them all (segments come and go with merges;
/// a forgotten one is recomputed on its next search).
const MEMO_SEGMENTS: usize = 256;

/// Values computed once per key and kept until `capacity` keys are held, when it forgets them
/// all. A key's value is computed by the first caller that needs it, outside the map's lock,
/// so other keys need not wait; callers for the same key meanwhile wait for that one
/// computation instead of each doing it (after a merge, many requests meet the same new
/// segment at once).
pub(crate) struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<Mutex<Option<V>>>>>,
    capacity: usize,
}

impl<K: Eq + std::hash::Hash + Clone, V: Clone> Memo<K, V> {
    pub(crate) fn new(capacity: usize) -> Memo<K, V> {
        Memo {
            cells: Mutex::default(),
            capacity,
        }
    }

    /// The key's value, computing it with `compute` the first time (a failure is not kept).
    pub(crate) fn get_or_try_compute<E>(
        &self,
        key: &K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let cell = {
            let mut cells = self.lock();
            if cells.len() >= self.capacity && !cells.contains_key(key) {
                cells.clear();
            }
            cells.entry(key.clone()).or_default().clone()
        };
        let mut value = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(value) = value.as_ref() {
            return Ok(value.clone());
        }
        let computed = compute()?;
        *value = Some(computed.clone());
        Ok(computed)
    }

    /// Drops the key's value, so it is computed again when next asked for.
    pub(crate) fn forget(&self, key: &K) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<Mutex<Option<V>>>>> {
        self.cells
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One prior's strength for every document of a segment, computed on the first search that
/// reads the segment. Segments never change (deletes only hide documents), so an entry is
/// valid as long as its segment exists.
pub struct SegmentMemo<T = f32>(Memo<SegmentId, Arc<[T]>>);

impl<T> Default for SegmentMemo<T> {
    fn default() -> Self {
        SegmentMemo(Memo::new(MEMO_SEGMENTS))
    }
}

impl<T> SegmentMemo<T> {
    /// The segment's values, computing them with `compute` the first time.
    pub(crate) fn get_or_compute(
        &self,
        segment: SegmentId,
        compute: impl FnOnce() -> Arc<[T]>,
    ) -> Arc<[T]> {
        let computed = self
            .0
            .get_or_try_compute(&segment, || Ok::<_, std::convert::Infallible>(compute()));
        match computed {
            Ok(values) => values,
            Err(never) => match never {},
        }
    }

    /// Drops the segment's values (made from a failed read), so they are computed again.
    pub(crate) fn forget(&self, segment: SegmentId) {
        self.0.forget(&segment);
    }
}

/// A prior with a [`SegmentMemo`]: what a service hands out for every request.
pub struct Memoized<P> {
    pub prior: P,
    memo: SegmentMemo,
}

impl<P: Prior> Memoized<P> {
    pub fn new(prior: P) -> Memoized<P> {
        Memoized {
            prior,
            memo: SegmentMemo::default(),
        }
    }
}

impl<P: Prior> Prior for Memoized<P> {
    fn strength(&self, key: EntityKey, popularity: f64) -> f32 {
        self.prior.strength(key, popularity)
    }

    fn memo(&self) -> Option<&SegmentMemo> {
        Some(&self.memo)
    }
}

/// The asked-for rank version is not kept (answered as a 400 to the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rank version {0} is not available")]
pub struct UnknownRank(pub u32);

/// Where priors come from. The lead adapts the rank job's store to this; tests and the interim
/// service use [`PopularitySource`].
pub trait PriorSource: Send + Sync + 'static {
    /// The prior for `choice`; `Ok(None)` means "blend with nothing" (pure text relevance).
    fn prior(&self, choice: RankChoice) -> Result<Option<Arc<dyn Prior>>, UnknownRank>;

    /// Whether the default prior is loaded (part of `/readyz`).
    fn ready(&self) -> bool {
        true
    }
}

/// The interim prior: `popularity / (popularity + k)` from the index's `popularity` field.
#[derive(Debug, Clone, Copy)]
pub struct PopularityPrior {
    /// The popularity at which an entity gets half the maximum strength.
    pub k: f64,
}

impl Default for PopularityPrior {
    fn default() -> Self {
        PopularityPrior { k: 20.0 }
    }
}

impl Prior for PopularityPrior {
    fn strength(&self, _key: EntityKey, popularity: f64) -> f32 {
        saturate(popularity, self.k)
    }
}

/// A [`PriorSource`] with only the popularity prior: no rank versions exist.
#[derive(Clone)]
pub struct PopularitySource {
    prior: Arc<Memoized<PopularityPrior>>,
}

impl Default for PopularitySource {
    fn default() -> Self {
        PopularitySource::new(PopularityPrior::default())
    }
}

impl PopularitySource {
    pub fn new(prior: PopularityPrior) -> Self {
        PopularitySource {
            prior: Arc::new(Memoized::new(prior)),
        }
    }
}

impl PriorSource for PopularitySource {
    fn prior(&self, choice: RankChoice) -> Result<Option<Arc<dyn Prior>>, UnknownRank> {
        match choice {
            RankChoice::Active => Ok(Some(self.prior.clone())),
            RankChoice::None => Ok(None),
            RankChoice::Version(v) => Err(UnknownRank(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EntityKind;

    /// Requests that need the same segment at once compute it once; the others wait for it.
    #[test]
    fn a_segment_is_computed_once_however_many_ask_at_once() {
        let memo: SegmentMemo<u32> = SegmentMemo::default();
        let segment = SegmentId::generate_random();
        let computed = std::sync::atomic::AtomicUsize::new(0);
        let values: Vec<Arc<[u32]>> = std::thread::scope(|scope| {
            let asks: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        memo.get_or_compute(segment, || {
                            computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            vec![7; 3].into()
                        })
                    })
                })
                .collect();
            asks.into_iter()
                .map(|a| a.join().expect("no panic"))
                .collect()
        });
        assert_eq!(computed.into_inner(), 1);
        assert!(values.iter().all(|v| v[..] == [7, 7, 7]));
        memo.forget(segment);
        memo.get_or_compute(segment, || vec![8].into());
        assert_eq!(memo.get_or_compute(segment, || vec![9].into())[..], [8]);
    }

    #[test]
    fn rank_parameter_parses() {
        assert_eq!("none".parse(), Ok(RankChoice::None));
        assert_eq!("NONE".parse(), Ok(RankChoice::None));
        assert_eq!("3".parse(), Ok(RankChoice::Version(3)));
        assert_eq!("v12".parse(), Ok(RankChoice::Version(12)));
        assert!("latest".parse::<RankChoice>().is_err());
        assert!("-1".parse::<RankChoice>().is_err());
    }

    #[test]
    fn popularity_source_has_no_versions() {
        let source = PopularitySource::default();
        let key = EntityKey::new(EntityKind::Track, 1);
        let prior = source.prior(RankChoice::Active).ok().flatten();
        assert!(prior.is_some_and(|p| p.strength(key, 100.0) > p.strength(key, 1.0)));
        assert!(matches!(source.prior(RankChoice::None), Ok(None)));
        assert_eq!(
            source.prior(RankChoice::Version(2)).err(),
            Some(UnknownRank(2))
        );
    }
}
