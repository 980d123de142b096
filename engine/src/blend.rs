//! How text relevance and the prior combine into one score.
//!
//! `score = text × (1 + β · strength)`, where `strength ∈ [0, 1)` is the prior passed through a
//! saturating function (`x / (x + k)`). The factor is capped at `1 + β`, so the prior decides
//! between results whose text scores are equal or close, and never lifts a weak text match over
//! a strong one (an exact title match scores several times a description match through the
//! field boosts, far more than `1 + β`).
//!
//! Explore has no text score: there `score = (floor + strength) × 0.5^(age / half_life)`.

use std::time::Duration;

/// The knobs of the blend. Defaults are the ones the relevance tests were run with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blend {
    /// The most the prior can multiply a text score by, minus one.
    pub beta: f32,
}

impl Default for Blend {
    fn default() -> Self {
        Blend { beta: 0.5 }
    }
}

impl Blend {
    /// The most [`Blend::score`] multiplies a (non-negative) text score by.
    pub fn cap(&self) -> f32 {
        1.0 + self.beta.max(0.0)
    }

    /// The blended score of a document with text score `text` and prior strength `strength`.
    pub fn score(&self, text: f32, strength: f32) -> f32 {
        let strength = if strength.is_finite() {
            strength.clamp(0.0, 1.0)
        } else {
            0.0
        };
        text * (1.0 + self.beta * strength)
    }
}

/// `x / (x + k)`: 0 at 0, ½ at `k`, approaching 1; negative or non-finite inputs count as 0.
pub fn saturate(x: f64, k: f64) -> f32 {
    if !x.is_finite() || x <= 0.0 || k <= 0.0 {
        return 0.0;
    }
    (x / (x + k)) as f32
}

/// Recency for Explore: how much a track of age `age` still counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recency {
    /// After this long a track counts half as much as a brand new one.
    pub half_life: Duration,
    /// What a track with no prior at all still gets, so new uploads can surface.
    pub floor: f32,
}

impl Default for Recency {
    fn default() -> Self {
        Recency {
            half_life: Duration::from_secs(7 * 24 * 3600),
            floor: 0.1,
        }
    }
}

impl Recency {
    /// `(floor + strength) × 0.5^(age / half_life)`; a future date counts as age zero.
    pub fn score(&self, strength: f32, age: Duration) -> f32 {
        let half_lives = age.as_secs_f64() / self.half_life.as_secs_f64().max(1e-9);
        let decay = 0.5f64.powf(half_lives) as f32;
        (self.floor + strength.clamp(0.0, 1.0)) * decay
    }

    /// A document's place in Explore's order, the same at every moment: the log2 of its score
    /// at the epoch, `log2(floor + strength) + created / half_life`. A score at time `now` is
    /// `2^(key - now / half_life)` for every document not created in the future (those count
    /// as age zero and score less), so [`Recency::bound`] never falls below the score. A
    /// document without a creation time scores 0 and sorts last.
    pub fn order_key(&self, strength: f32, created_micros: Option<i64>) -> f64 {
        let Some(created) = created_micros else {
            return f64::NEG_INFINITY;
        };
        f64::from(self.floor + strength.clamp(0.0, 1.0)).log2()
            + created as f64 / 1e6 / self.half_life_secs()
    }

    /// The most [`Recency::score`] can be at `now_micros` for a document of order `key`,
    /// with room for the score's f32 rounding.
    pub fn bound(&self, key: f64, now_micros: i64) -> f32 {
        let exact = (key - now_micros as f64 / 1e6 / self.half_life_secs()).exp2();
        (exact * (1.0 + 1e-5)) as f32
    }

    fn half_life_secs(&self) -> f64 {
        self.half_life.as_secs_f64().max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds for every age and strength, including documents from the future, and is
    /// tight for documents of the past.
    #[test]
    fn explore_bound_is_never_below_the_score() {
        let recency = Recency::default();
        let now = 1_764_000_000_000_000_i64;
        for strength in [0.0f32, 0.003, 0.25, 0.5, 0.999, 1.0, 3.0, -1.0] {
            for age_secs in [
                -86_400i64,
                -1,
                0,
                1,
                3600,
                86_400,
                604_800,
                30 * 86_400,
                400 * 86_400,
            ] {
                let created = now - age_secs * 1_000_000;
                let age = Duration::from_secs(age_secs.max(0).unsigned_abs());
                let score = recency.score(strength, age);
                let bound = recency.bound(recency.order_key(strength, Some(created)), now);
                assert!(
                    bound >= score,
                    "strength {strength}, age {age_secs} s: {bound} < {score}"
                );
                if age_secs >= 0 {
                    assert!(
                        bound <= score * 1.001 + f32::MIN_POSITIVE,
                        "{bound} vs {score}"
                    );
                }
            }
        }
        let undated = recency.order_key(0.5, None);
        assert_eq!(recency.bound(undated, now), 0.0);
        assert!(undated < recency.order_key(0.0, Some(0)));
    }

    #[test]
    fn prior_breaks_ties_but_is_capped() {
        let blend = Blend::default();
        assert!(blend.score(2.0, 0.9) > blend.score(2.0, 0.1));
        assert!(blend.score(2.0, 1.0) <= 2.0 * 1.5);
        // A strong text match keeps its lead over a weak one however popular the weak one is.
        assert!(blend.score(4.0, 0.0) > blend.score(2.0, 1.0));
        assert_eq!(blend.score(1.0, f32::NAN), 1.0);
    }

    #[test]
    fn saturation_is_half_at_k_and_bounded() {
        assert_eq!(saturate(10.0, 10.0), 0.5);
        assert!(saturate(1e12, 10.0) <= 1.0);
        assert!(saturate(1e3, 10.0) < saturate(1e4, 10.0));
        assert_eq!(saturate(-3.0, 10.0), 0.0);
        assert_eq!(saturate(f64::INFINITY, 10.0), 0.0);
    }

    #[test]
    fn recency_halves_every_half_life() {
        let r = Recency {
            half_life: Duration::from_secs(100),
            floor: 0.0,
        };
        let fresh = r.score(1.0, Duration::ZERO);
        let old = r.score(1.0, Duration::from_secs(100));
        assert!((old - fresh / 2.0).abs() < 1e-6);
    }
}
