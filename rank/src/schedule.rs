//! The rank job inside a service: one run at a time per store ([`JobSlot`], shared by the
//! admin API's `POST /admin/rank` and the schedule) and a run every period ([`every`], what
//! `disco serve --rank-every 6h` starts).
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db, store: rank::RankStore) {
//! use std::time::Duration;
//! let slot = rank::schedule::JobSlot::default();
//! let stop = tokio::signal::ctrl_c();
//! let period = rank::schedule::parse_period("6h").unwrap();
//! rank::schedule::every(db, store, rank::JobOptions::default(), period, slot, async {
//!     let _ = stop.await;
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use schemas::db::Db;

use crate::{JobOptions, RankStore, run_job};

/// Whether a rank job is running: a service runs one at a time, whoever started it.
#[derive(Debug, Clone, Default)]
pub struct JobSlot(Arc<AtomicBool>);

impl JobSlot {
    /// Takes the slot for one run, or `None` when a run holds it; dropping the claim frees it.
    pub fn claim(&self) -> Option<JobClaim> {
        (!self.0.swap(true, Ordering::SeqCst)).then(|| JobClaim(self.0.clone()))
    }

    /// True while a claim is held.
    pub fn is_running(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One run's hold on a [`JobSlot`], freed when dropped (also when the run fails or panics).
#[derive(Debug)]
pub struct JobClaim(Arc<AtomicBool>);

impl Drop for JobClaim {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Runs the rank job once under `claim` (freed when it ends), logging the outcome with what
/// started it (`trigger`: `admin`, `schedule`). A failed run leaves the active version serving.
pub async fn run_claimed(
    db: &Db,
    store: &RankStore,
    options: &JobOptions,
    claim: JobClaim,
    trigger: &'static str,
) {
    match run_job(db, store, options).await {
        Ok(m) => tracing::info!(
            trigger,
            version = %m.version,
            nodes = m.nodes,
            iterations = m.iterations,
            seconds = m.duration.total_seconds,
            "rank job done"
        ),
        Err(e) => tracing::warn!(trigger, error = %e, "rank job failed"),
    }
    drop(claim);
}

/// Runs the rank job every `period` until `stop` completes (a run in progress then is dropped;
/// a version is only ever written whole). The first run is at once when the store has no
/// active version, otherwise one period after the start. A run that finds the slot taken (an
/// admin run) is skipped, and a failed run is logged and retried at the next period: the
/// active version keeps serving meanwhile.
pub async fn every(
    db: Db,
    store: RankStore,
    options: JobOptions,
    period: Duration,
    slot: JobSlot,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let period = period.max(Duration::from_secs(1));
    let first = match store.active() {
        Ok(Some(_)) => tokio::time::Instant::now() + period,
        _ => tokio::time::Instant::now(),
    };
    let mut ticks = tokio::time::interval_at(first, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {}
        }
        let Some(claim) = slot.claim() else {
            tracing::info!("scheduled rank job skipped: a run is in progress");
            continue;
        };
        tokio::select! {
            () = &mut stop => return,
            () = run_claimed(&db, &store, &options, claim, "schedule") => {}
        }
    }
}

/// A period such as `90s`, `30m`, `6h` or `1d` (a bare number is seconds); at least a second.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!("`{text}`: a period is a whole number and a unit (90s, 30m, 6h, 1d)")
    })?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    match number.checked_mul(seconds) {
        Some(0) => Err(format!("`{text}`: the period must be at least a second")),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Err(format!("`{text}`: too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_with_their_units() {
        assert_eq!(parse_period("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_period("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_period("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_period("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse_period("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "h", "0s", "1w", "-5m", "1.5h", "99999999999999999999d"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slot_holds_one_claim_until_it_is_dropped() {
        let slot = JobSlot::default();
        let claim = slot.claim().expect("free");
        assert!(slot.is_running());
        assert!(slot.clone().claim().is_none());
        drop(claim);
        assert!(!slot.is_running());
        assert!(slot.claim().is_some());
    }
}
