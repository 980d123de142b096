//! A rolling window of the query service's request latencies, per endpoint: the dashboard's
//! load panel (requests per second, p50 and p99 over the last minute, and ten-second slices for
//! its sparklines).
//!
//! `/metrics` histograms only ever grow, so "over the last minute" needs a scraper to subtract
//! two scrapes; this window answers it in-process instead. Memory is bounded: per endpoint, a
//! ring of [`WINDOW_SECONDS`] one-second buckets, each a request count and a fixed log-scale
//! histogram (four bins per doubling from 10 µs), so a quantile is the upper bound of its bin, at
//! most 19% above the true value. Endpoints are the router's route templates, a fixed set; past
//! [`MAX_ENDPOINTS`] the rest share one row, [`OTHER_ENDPOINT`]. Recording holds one short mutex:
//! a map lookup and three increments.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How far back the window reaches.
pub const WINDOW_SECONDS: u64 = 60;
/// The width of one point of [`EndpointLoad::series`].
pub const SLICE_SECONDS: u64 = 10;
/// Rows kept apart; a router has far fewer routes, so this only guards against misuse.
pub const MAX_ENDPOINTS: usize = 64;
/// The row of every endpoint past [`MAX_ENDPOINTS`].
pub const OTHER_ENDPOINT: &str = "other";

const SLICES: usize = (WINDOW_SECONDS / SLICE_SECONDS) as usize;
/// Bins of the latency histogram: 10 µs × 2^(87/4) ≈ 34 s at the top, past any timeout.
const BINS: usize = 88;
const FIRST_BOUND_MICROS: f64 = 10.0;
const BINS_PER_DOUBLING: f64 = 4.0;

/// Recent request latencies by endpoint. Shared by the `record` middleware and the dashboard.
pub struct LoadWindow {
    started: Instant,
    endpoints: Mutex<HashMap<String, Ring>>,
}

/// One endpoint's last [`WINDOW_SECONDS`] seconds, slot `second % WINDOW_SECONDS`.
struct Ring {
    seconds: Box<[Second]>,
}

/// The answers of one second, since the window started.
#[derive(Clone)]
struct Second {
    at: u64,
    requests: u32,
    errors: u32,
    bins: [u32; BINS],
}

/// Requests summed over several seconds.
struct Tally {
    requests: u64,
    errors: u64,
    bins: [u64; BINS],
}

/// The load of every endpoint that answered within the window, by endpoint name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadSnapshot {
    pub window_seconds: u64,
    pub slice_seconds: u64,
    pub endpoints: Vec<EndpointLoad>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointLoad {
    /// The route template, e.g. `/search` or `/tracks/{id}`.
    pub endpoint: String,
    pub requests: u64,
    /// Answers with a 5xx status.
    pub errors: u64,
    /// Over the window, or over the process's life while it is younger.
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Oldest first, [`SLICE_SECONDS`] each.
    pub series: Vec<SliceLoad>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliceLoad {
    pub per_second: f64,
    pub p99_ms: Option<f64>,
}

impl Default for LoadWindow {
    fn default() -> Self {
        LoadWindow {
            started: Instant::now(),
            endpoints: Mutex::default(),
        }
    }
}

impl LoadWindow {
    /// Counts one answer of `endpoint`.
    pub fn record(&self, endpoint: &str, status: u16, took: Duration) {
        self.record_at(self.started.elapsed().as_secs(), endpoint, status, took);
    }

    /// The window as of now.
    pub fn snapshot(&self) -> LoadSnapshot {
        self.snapshot_at(self.started.elapsed())
    }

    fn record_at(&self, second: u64, endpoint: &str, status: u16, took: Duration) {
        let bin = bin_of(took);
        let mut endpoints = lock(&self.endpoints);
        let name = if endpoints.contains_key(endpoint) || endpoints.len() < MAX_ENDPOINTS {
            endpoint
        } else {
            OTHER_ENDPOINT
        };
        if !endpoints.contains_key(name) {
            endpoints.insert(name.to_string(), Ring::new());
        }
        if let Some(ring) = endpoints.get_mut(name) {
            ring.add(second, status >= 500, bin);
        }
    }

    /// The window as it stands `elapsed` after it started.
    fn snapshot_at(&self, elapsed: Duration) -> LoadSnapshot {
        let now = elapsed.as_secs();
        // A young process has not had a whole window yet: its rate is over its life.
        let covered = elapsed.as_secs_f64().clamp(1.0, WINDOW_SECONDS as f64);
        let mut endpoints: Vec<EndpointLoad> = lock(&self.endpoints)
            .iter()
            .filter_map(|(name, ring)| ring.load(name, now, covered))
            .collect();
        endpoints.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        LoadSnapshot {
            window_seconds: WINDOW_SECONDS,
            slice_seconds: SLICE_SECONDS,
            endpoints,
        }
    }
}

impl Ring {
    fn new() -> Ring {
        let empty = Second {
            at: 0,
            requests: 0,
            errors: 0,
            bins: [0; BINS],
        };
        Ring {
            seconds: vec![empty; WINDOW_SECONDS as usize].into_boxed_slice(),
        }
    }

    fn add(&mut self, second: u64, error: bool, bin: usize) {
        let slot = &mut self.seconds[(second % WINDOW_SECONDS) as usize];
        if slot.at != second {
            // The slot still holds a second that left the window: start it afresh.
            slot.at = second;
            slot.requests = 0;
            slot.errors = 0;
            slot.bins = [0; BINS];
        }
        slot.requests = slot.requests.saturating_add(1);
        slot.errors = slot.errors.saturating_add(u32::from(error));
        slot.bins[bin] = slot.bins[bin].saturating_add(1);
    }

    /// The endpoint's load at second `now`; `None` when it had no request in the window.
    fn load(&self, name: &str, now: u64, covered: f64) -> Option<EndpointLoad> {
        let mut total = Tally::new();
        let mut slices: Vec<Tally> = (0..SLICES).map(|_| Tally::new()).collect();
        for second in self.seconds.iter().filter(|s| s.requests > 0) {
            let Some(age) = now
                .checked_sub(second.at)
                .filter(|age| *age < WINDOW_SECONDS)
            else {
                continue;
            };
            let slice = ((WINDOW_SECONDS - 1 - age) / SLICE_SECONDS) as usize;
            total.add(second);
            slices[slice].add(second);
        }
        (total.requests > 0).then(|| EndpointLoad {
            endpoint: name.to_string(),
            requests: total.requests,
            errors: total.errors,
            per_second: total.requests as f64 / covered,
            p50_ms: total.quantile_ms(0.5),
            p99_ms: total.quantile_ms(0.99),
            series: slices
                .iter()
                .map(|slice| SliceLoad {
                    per_second: slice.requests as f64 / SLICE_SECONDS as f64,
                    p99_ms: slice.quantile_ms(0.99),
                })
                .collect(),
        })
    }
}

impl Tally {
    fn new() -> Tally {
        Tally {
            requests: 0,
            errors: 0,
            bins: [0; BINS],
        }
    }

    fn add(&mut self, second: &Second) {
        self.requests += u64::from(second.requests);
        self.errors += u64::from(second.errors);
        for (sum, n) in self.bins.iter_mut().zip(second.bins) {
            *sum += u64::from(n);
        }
    }

    /// The upper bound of the bin holding the `q`-quantile request, in milliseconds.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        let rank = ((q * self.requests as f64).ceil() as u64).clamp(1, self.requests);
        let mut seen = 0;
        let bin = self.bins.iter().position(|n| {
            seen += n;
            seen >= rank
        })?;
        Some(upper_bound_micros(bin) / 1000.0)
    }
}

/// The bin of a latency: bin `i` holds (bound(i − 1), bound(i)], bin 0 everything up to 10 µs.
fn bin_of(took: Duration) -> usize {
    let micros = took.as_secs_f64() * 1e6;
    if micros <= FIRST_BOUND_MICROS {
        return 0;
    }
    let bin = ((micros / FIRST_BOUND_MICROS).log2() * BINS_PER_DOUBLING).ceil();
    (bin as usize).min(BINS - 1)
}

fn upper_bound_micros(bin: usize) -> f64 {
    FIRST_BOUND_MICROS * (bin as f64 / BINS_PER_DOUBLING).exp2()
}

/// A poisoned lock only means a panic elsewhere mid-increment; the counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn only(snapshot: &LoadSnapshot) -> &EndpointLoad {
        assert_eq!(snapshot.endpoints.len(), 1, "{snapshot:?}");
        &snapshot.endpoints[0]
    }

    #[test]
    fn counts_rates_and_errors_over_the_window() {
        let window = LoadWindow::default();
        for second in 1..=60 {
            window.record_at(second, "/search", 200, ms(2));
        }
        window.record_at(60, "/search", 503, ms(2));
        window.record_at(60, "/suggest", 200, ms(1));
        let snapshot = window.snapshot_at(Duration::from_secs(60));
        let names: Vec<&str> = snapshot
            .endpoints
            .iter()
            .map(|e| e.endpoint.as_str())
            .collect();
        assert_eq!(names, ["/search", "/suggest"]);
        let search = &snapshot.endpoints[0];
        assert_eq!(search.requests, 61);
        assert_eq!(search.errors, 1);
        assert!((search.per_second - 61.0 / 60.0).abs() < 1e-9);
        assert_eq!(search.series.len(), 6);
        assert!(
            (search.series[5].per_second - 1.1).abs() < 1e-9,
            "{:?}",
            search.series
        );
        assert!((search.series[0].per_second - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_young_window_rates_over_its_life() {
        let window = LoadWindow::default();
        for _ in 0..10 {
            window.record_at(1, "/search", 200, ms(1));
        }
        let snapshot = window.snapshot_at(Duration::from_secs(2));
        assert!((only(&snapshot).per_second - 5.0).abs() < 1e-9);
        // The two seconds lived are the newest slice; the older ones are empty.
        assert_eq!(only(&snapshot).series[5].per_second, 1.0);
        assert_eq!(only(&snapshot).series[0].p99_ms, None);
    }

    #[test]
    fn quantiles_are_the_upper_bound_of_their_bin() {
        let window = LoadWindow::default();
        for n in 1..=100 {
            window.record_at(5, "/search", 200, ms(n));
        }
        let load = window.snapshot_at(Duration::from_secs(5)).endpoints[0].clone();
        let (p50, p99) = (load.p50_ms.unwrap(), load.p99_ms.unwrap());
        // The 50th request took 50 ms; its bin ends at 10 µs × 2^(ceil(4·log2 5000)/4).
        assert!((50.0..=50.0 * 1.19).contains(&p50), "p50 {p50}");
        assert!((99.0..=99.0 * 1.19).contains(&p99), "p99 {p99}");
        assert!(p50 < p99);
    }

    #[test]
    fn bins_cover_the_range_and_clamp_at_both_ends() {
        assert_eq!(bin_of(Duration::ZERO), 0);
        assert_eq!(bin_of(Duration::from_micros(10)), 0);
        assert_eq!(bin_of(Duration::from_micros(20)), 4);
        assert_eq!(bin_of(Duration::from_secs(3600)), BINS - 1);
        for micros in [11, 97, 1_500, 250_000, 4_000_000] {
            let bin = bin_of(Duration::from_micros(micros));
            assert!(upper_bound_micros(bin) >= micros as f64 - 1e-6);
            assert!(upper_bound_micros(bin - 1) < micros as f64);
        }
    }

    #[test]
    fn seconds_leave_the_window_and_their_slots_are_reused() {
        let window = LoadWindow::default();
        window.record_at(0, "/search", 200, ms(500));
        window.record_at(30, "/search", 200, ms(1));
        let at_59 = window.snapshot_at(Duration::from_secs(59));
        assert_eq!(only(&at_59).requests, 2);
        let at_60 = window.snapshot_at(Duration::from_secs(60));
        assert_eq!(only(&at_60).requests, 1, "second 0 has left the window");
        assert!(
            only(&at_60).p99_ms.unwrap() < 2.0,
            "so has its slow request"
        );
        assert!(
            window
                .snapshot_at(Duration::from_secs(90))
                .endpoints
                .is_empty()
        );

        // Second 60 takes second 0's slot: only its own request counts.
        window.record_at(60, "/search", 200, ms(1));
        let at_61 = window.snapshot_at(Duration::from_secs(61));
        assert_eq!(only(&at_61).requests, 2);
    }

    #[test]
    fn endpoints_past_the_limit_share_one_row() {
        let window = LoadWindow::default();
        for n in 0..MAX_ENDPOINTS + 3 {
            window.record_at(0, &format!("/e{n}"), 200, ms(1));
        }
        window.record_at(0, "/e0", 200, ms(1));
        let snapshot = window.snapshot_at(Duration::from_secs(1));
        assert_eq!(snapshot.endpoints.len(), MAX_ENDPOINTS + 1);
        let requests = |name: &str| {
            snapshot
                .endpoints
                .iter()
                .find(|e| e.endpoint == name)
                .map(|e| e.requests)
        };
        assert_eq!(requests(OTHER_ENDPOINT), Some(3));
        assert_eq!(requests("/e0"), Some(2), "a known endpoint keeps its row");
    }
}
