//! The dashboard (issue #22, item 5): one page where a person sees load and quality together,
//! refreshed every few seconds, readable on a phone.
//!
//! Routes, behind the admin token exactly like the rater's page ([`crate::judge`]: bearer, or
//! `GET /dashboard?token=<token>` once, which sets the `HttpOnly`, `SameSite=Strict` cookie
//! `disco_dashboard` that opens these routes only), merged into [`crate::admin::router`]:
//! - `GET /dashboard`: the page (one inline file, `page/dashboard.html`), which polls
//! - `GET /admin/dashboard/data[?window=<minutes>]`: the figures. `window` is the span of the
//!   quality panels, 1 to 10080 minutes (a week), 60 by default; anything else is a 400.
//!
//! The answer. Each panel holds its figures or `{"error": "…"}`, so one failing source (the
//! database, a missing rank store) blanks its own panel and the rest still render:
//!
//! ```text
//! generated_at   "2025-06-01T12:00:00Z"
//! load           {window_seconds: 60, slice_seconds: 10, endpoints: [{endpoint: "/search",
//!                 requests, errors (5xx), per_second, p50_ms, p99_ms,
//!                 series: [{per_second, p99_ms}; 6, oldest first]}]}
//! indexer        {events: {"indexed": n, "stale": n, …},
//!                 time_to_searchable: {count, p50: {seconds, at_least} | null, p99: …}}
//! clicks         {accepted, written, dropped, write_failed, rejected: {"<reason>": n}}
//! broker         {backlog: n} | {backlog: null, note}
//! reindex        what GET /admin/reindex answers
//! generations    what GET /admin/generations answers (live, previous, every generation)
//! ranks          what GET /admin/ranks answers (active, running, versions)
//! quality        {window_minutes, searches, zero_result_rate, click_through_rate,
//!                 click_positions: [n; 10, then 11+], top_queries: [["text", n]],
//!                 top_zero_result: [["text", n]]}
//! experiments    {running: [{experiment: {name, mode, arms, traffic, created_at},
//!                 report: ExperimentReport | null, error?}]}
//! ```
//!
//! Where the figures come from, and how fresh they are:
//! - Load: the query service's rolling window ([`crate::load`]), the last minute.
//! - Indexer and click log: the process's Prometheus registry (what `/metrics` renders), so
//!   counts since the process started. Time-to-searchable quantiles are interpolated in the
//!   cumulative buckets as Prometheus's `histogram_quantile` does; `at_least` marks one that
//!   falls in the open top bucket, where only its lower bound is known. A process that runs no
//!   indexer has no indexer figures.
//! - Broker backlog: the gauge `disco_broker_backlog_messages`, which `serve` sets every 5 s
//!   from a passive declare of its queue when it consumes from RabbitMQ; `null` with a note
//!   otherwise (the embedded bus, or `serve --no-indexer`): the dashboard does not guess one.
//! - Reindex, generations and ranks: the admin state, read as their `/admin` routes read it.
//! - Quality and experiments: the click log in the site's database, recomputed at most every
//!   [`QUALITY_REFRESH`] per window and shared by every viewer, as each is a scan of the log
//!   and each experiment's report a bootstrap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::Utc;
use indexer::metrics::{EVENTS_TOTAL, REPAIRS_TOTAL, TIME_TO_SEARCHABLE};
use quality::{click_log, experiments};
use schemas::db::Db;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::admin::AdminState;
use crate::api::Params;
use crate::error::ApiError;
use crate::events::{ACCEPTED, DROPPED, REJECTED, WRITE_FAILED, WRITTEN};
use crate::judge::{self, PageGuard};

/// The page, with its CSS and JS inline, compiled into the binary like [`crate::page::HTML`].
pub const HTML: &str = include_str!("page/dashboard.html");

/// The quality panels' span when the page asks for none: an hour.
pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// The longest span: a week.
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;
/// How long computed quality panels are served before the click log is read again.
pub const QUALITY_REFRESH: Duration = Duration::from_secs(10);
/// Texts per list of the quality panel.
pub const TOP_QUERIES: usize = 10;

const PAGE_PATH: &str = "/dashboard";
const GUARD: PageGuard = PageGuard {
    path: PAGE_PATH,
    cookie: "disco_dashboard",
    refusal: "the dashboard needs the admin token: open /dashboard?token=<DISCO_ADMIN_TOKEN> \
              once, or send `Authorization: Bearer <DISCO_ADMIN_TOKEN>`",
};
const NO_SERVICE: &str = "this admin state watches no query service (AdminState::with_search)";
const BROKER_NOTE: &str = "no broker in this process: the embedded mode's in-process bus, or \
                           serve --no-indexer";

/// The indexer's queue depth as the broker last reported it (`disco_broker_backlog_messages`,
/// read every 5 s by `serve` when it consumes from RabbitMQ), or why there is none.
fn broker_figures(exposition: &Exposition) -> Value {
    match exposition.named(indexer::metrics::BROKER_BACKLOG).next() {
        Some(sample) => json!({ "backlog": whole(sample.value) }),
        None => json!({ "backlog": null, "note": BROKER_NOTE }),
    }
}

/// The page and its data under their own guard, for [`crate::admin::router`] to merge.
pub(crate) fn routes(state: AdminState) -> Router<AdminState> {
    Router::new()
        .route(PAGE_PATH, get(page))
        .route("/admin/dashboard/data", get(data))
        .layer(Extension(Arc::new(QualityCache::default())))
        .layer(middleware::from_fn_with_state(state, authorize))
}

async fn authorize(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    judge::admit_page(&GUARD, &state, request, next).await
}

/// `GET /dashboard`: the page. Not cached and no referrer, as its URL may hold the token.
async fn page() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(HTML),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct DataParams {
    /// Minutes, as text, so that a bad value gets this module's message.
    window: Option<String>,
}

/// `GET /admin/dashboard/data`: every panel's figures (the module doc has the shape).
async fn data(
    State(state): State<AdminState>,
    Extension(cache): Extension<Arc<QualityCache>>,
    Params(params): Params<DataParams>,
) -> Result<Json<Value>, ApiError> {
    let window_minutes = window_minutes(params.window.as_deref())?;
    let (load, indexer, clicks, broker) = match state.search() {
        Some(service) => {
            let exposition = Exposition::parse(&service.metrics().render());
            (
                json!(service.inner.load.snapshot()),
                indexer_figures(&exposition),
                click_figures(&exposition),
                broker_figures(&exposition),
            )
        }
        None => {
            let missing = unavailable(NO_SERVICE);
            (missing.clone(), missing.clone(), missing.clone(), missing)
        }
    };
    let quality = cache.panels(state.db(), window_minutes).await;
    Ok(Json(json!({
        "generated_at": Utc::now(),
        "load": load,
        "indexer": indexer,
        "clicks": clicks,
        "broker": broker,
        "reindex": state.progress().report(),
        "generations": state.generations_report(),
        "ranks": state.ranks_report().unwrap_or_else(|e| unavailable(&e.message)),
        "quality": quality.quality,
        "experiments": quality.experiments,
    })))
}

/// `window` in minutes, [`DEFAULT_WINDOW_MINUTES`] when absent.
fn window_minutes(text: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_WINDOW_MINUTES);
    };
    text.parse()
        .ok()
        .filter(|minutes| (1..=MAX_WINDOW_MINUTES).contains(minutes))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "window is in minutes, 1 to {MAX_WINDOW_MINUTES}, not `{text}`"
            ))
        })
}

/// A panel without figures, saying why; the page shows it in place of that panel only.
fn unavailable(why: &str) -> Value {
    json!({ "error": why })
}

fn indexer_figures(exposition: &Exposition) -> Value {
    let time_to_searchable = exposition.histogram(TIME_TO_SEARCHABLE);
    json!({
        "events": exposition.by_label(EVENTS_TOTAL, "outcome"),
        // Each repair is an event the site lost: operators should see them.
        "repairs": {
            "by_kind": exposition.by_label(REPAIRS_TOTAL, "kind"),
            "by_cause": exposition.by_label(REPAIRS_TOTAL, "cause"),
        },
        "time_to_searchable": {
            "count": time_to_searchable.as_ref().map_or(0, Buckets::count),
            "p50": time_to_searchable.as_ref().and_then(|h| h.quantile(0.5)),
            "p99": time_to_searchable.as_ref().and_then(|h| h.quantile(0.99)),
        },
    })
}

fn click_figures(exposition: &Exposition) -> Value {
    json!({
        "accepted": exposition.total(ACCEPTED),
        "written": exposition.total(WRITTEN),
        "dropped": exposition.total(DROPPED),
        "write_failed": exposition.total(WRITE_FAILED),
        "rejected": exposition.by_label(REJECTED, "reason"),
    })
}

/// The quality panels as last computed. Its lock is held while they are computed, so viewers
/// polling together wait for one read of the click log instead of each making their own.
#[derive(Default)]
struct QualityCache {
    last: tokio::sync::Mutex<Option<QualityPanels>>,
}

#[derive(Clone)]
struct QualityPanels {
    window_minutes: u32,
    computed: Instant,
    quality: Value,
    experiments: Value,
}

impl QualityCache {
    async fn panels(&self, db: &Db, window_minutes: u32) -> QualityPanels {
        let mut last = self.last.lock().await;
        if let Some(panels) = last.as_ref().filter(|p| {
            p.window_minutes == window_minutes && p.computed.elapsed() < QUALITY_REFRESH
        }) {
            return panels.clone();
        }
        let panels = QualityPanels {
            window_minutes,
            computed: Instant::now(),
            quality: quality_panel(db, window_minutes).await,
            experiments: experiments_panel(db).await,
        };
        *last = Some(panels.clone());
        panels
    }
}

async fn quality_panel(db: &Db, window_minutes: u32) -> Value {
    let since = Utc::now() - chrono::Duration::minutes(i64::from(window_minutes));
    match click_log::summary(db, since, TOP_QUERIES).await {
        Ok(summary) => {
            let mut figures = json!(summary);
            figures["window_minutes"] = json!(window_minutes);
            figures
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: reading the click log failed");
            unavailable(&e.to_string())
        }
    }
}

/// Every running experiment with its report; a report that fails leaves its row's `report`
/// null and says why, and the other rows stand.
async fn experiments_panel(db: &Db) -> Value {
    let running = match experiments::running(db).await {
        Ok(running) => running,
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: reading the running experiments failed");
            return unavailable(&e.to_string());
        }
    };
    let mut rows = Vec::with_capacity(running.len());
    for experiment in running {
        let row = match crate::experiments::experiment_report(db, &experiment.name).await {
            Ok(report) => json!({ "experiment": experiment, "report": report }),
            Err(e) => {
                tracing::warn!(error = %e, experiment = %experiment.name,
                    "dashboard: an experiment's report failed");
                json!({ "experiment": experiment, "report": null, "error": e.to_string() })
            }
        };
        rows.push(row);
    }
    json!({ "running": rows })
}

/// The Prometheus text exposition, as far as the dashboard reads it: its samples, with the
/// comments and anything unreadable left out.
#[derive(Debug)]
struct Exposition {
    samples: Vec<Sample>,
}

/// One line `name{label="value",…} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A histogram's cumulative counts by upper bound (`le`), ascending; the last is `+Inf`.
#[derive(Debug, Clone, PartialEq)]
struct Buckets(Vec<(f64, f64)>);

/// A quantile read from buckets. `at_least`: it fell in the open top bucket, so `seconds` is
/// only its lower bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Estimate {
    seconds: f64,
    at_least: bool,
}

impl Exposition {
    fn parse(text: &str) -> Exposition {
        Exposition {
            samples: text.lines().filter_map(parse_sample).collect(),
        }
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// A counter summed over its labels; 0 when it was never counted (nor registered).
    fn total(&self, name: &str) -> u64 {
        self.named(name).map(|s| whole(s.value)).sum()
    }

    /// A counter by the value of one of its labels.
    fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for sample in self.named(name) {
            if let Some(value) = sample.label(label) {
                *counts.entry(value.to_string()).or_default() += whole(sample.value);
            }
        }
        counts
    }

    /// Histogram `name`'s buckets, summed over its other labels.
    fn histogram(&self, name: &str) -> Option<Buckets> {
        let bucket = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for sample in self.named(&bucket) {
            let Some(bound) = sample.label("le").and_then(|le| le.parse::<f64>().ok()) else {
                continue;
            };
            match buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some((_, count)) => *count += sample.value,
                None => buckets.push((bound, sample.value)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        (!buckets.is_empty()).then_some(Buckets(buckets))
    }
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Buckets {
    fn count(&self) -> u64 {
        self.0.last().map_or(0, |(_, count)| whole(*count))
    }

    /// The `q`-quantile, linear within the bucket it falls in (Prometheus's
    /// `histogram_quantile`); `None` without observations.
    fn quantile(&self, q: f64) -> Option<Estimate> {
        let total = self.0.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut below: Option<(f64, f64)> = None;
        for &(bound, count) in &self.0 {
            if count >= rank {
                let (lower, count_below) = below.unwrap_or((0.0, 0.0));
                if bound.is_infinite() {
                    return below.map(|(lower, _)| Estimate {
                        seconds: lower,
                        at_least: true,
                    });
                }
                let share = if count > count_below {
                    (rank - count_below) / (count - count_below)
                } else {
                    1.0
                };
                return Some(Estimate {
                    seconds: lower + (bound - lower) * share,
                    at_least: false,
                });
            }
            below = Some((bound, count));
        }
        None
    }
}

/// A counter's value as the whole number it is.
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let (name, rest) = line.split_at(name_end);
    let (labels, rest) = match rest.strip_prefix('{') {
        Some(inside) => parse_labels(inside)?,
        None => (Vec::new(), rest),
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `key="value",…}` and what follows the brace; values may escape `\\`, `\"` and `\n`.
fn parse_labels(text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once('=')?;
        let quoted = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_string(), value));
        rest = &quoted[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
# HELP disco_events_total Entity events consumed by the indexer, by outcome.
# TYPE disco_events_total counter
disco_events_total{outcome="indexed"} 40
disco_events_total{outcome="stale"} 2
disco_events_total{outcome="indexed",shard="b"} 2
disco_click_events_rejected_total{reason="unknown_query"} 3
disco_click_events_dropped_total 5 1717000000000
disco_odd{path="a \"quoted\", back\\slash\nline",le="x"} 1.5
# TYPE disco_time_to_searchable_seconds histogram
disco_time_to_searchable_seconds_bucket{le="0.1"} 2
disco_time_to_searchable_seconds_bucket{le="0.5"} 6
disco_time_to_searchable_seconds_bucket{le="1"} 9
disco_time_to_searchable_seconds_bucket{le="2.5"} 10
disco_time_to_searchable_seconds_bucket{le="+Inf"} 10
disco_time_to_searchable_seconds_sum 7.2
disco_time_to_searchable_seconds_count 10
not a sample
"#;

    #[test]
    fn samples_parse_with_labels_escapes_and_timestamps() {
        let exposition = Exposition::parse(TEXT);
        let odd = exposition.named("disco_odd").next().expect("disco_odd");
        assert_eq!(odd.label("path"), Some("a \"quoted\", back\\slash\nline"));
        assert_eq!(odd.label("le"), Some("x"));
        assert_eq!(odd.value, 1.5);
        assert_eq!(exposition.total("disco_click_events_dropped_total"), 5);
        assert_eq!(exposition.total("disco_click_events_written_total"), 0);
        assert_eq!(parse_sample("name{unclosed=\"x} 1"), None);
        assert_eq!(parse_sample("# TYPE x counter"), None);
    }

    #[test]
    fn counters_sum_by_label() {
        let exposition = Exposition::parse(TEXT);
        let events = exposition.by_label(EVENTS_TOTAL, "outcome");
        assert_eq!(
            events.into_iter().collect::<Vec<_>>(),
            [("indexed".to_string(), 42), ("stale".to_string(), 2)]
        );
        assert_eq!(exposition.total(EVENTS_TOTAL), 44);
        let figures = click_figures(&exposition);
        assert_eq!(figures["rejected"], json!({ "unknown_query": 3 }));
        assert_eq!(figures["dropped"], 5);
    }

    #[test]
    fn quantiles_interpolate_within_their_bucket() {
        let buckets = Exposition::parse(TEXT)
            .histogram(TIME_TO_SEARCHABLE)
            .expect("histogram");
        assert_eq!(buckets.count(), 10);
        // p50: rank 5 of 10 falls in (0.1, 0.5], which holds requests 3 to 6:
        // 0.1 + 0.4 × (5 − 2) / (6 − 2) = 0.4.
        let p50 = buckets.quantile(0.5).expect("p50");
        assert!((p50.seconds - 0.4).abs() < 1e-9 && !p50.at_least, "{p50:?}");
        // p99: rank 9.9 falls in (1, 2.5], which holds the 10th: 1 + 1.5 × 0.9 = 2.35.
        let p99 = buckets.quantile(0.99).expect("p99");
        assert!((p99.seconds - 2.35).abs() < 1e-9, "{p99:?}");
        // p10: rank 1 in the first bucket, from 0: 0.1 × 1 / 2.
        let p10 = buckets.quantile(0.1).expect("p10");
        assert!((p10.seconds - 0.05).abs() < 1e-9, "{p10:?}");
    }

    #[test]
    fn a_quantile_in_the_open_top_bucket_is_a_lower_bound() {
        let text = "t_bucket{le=\"1\"} 5\nt_bucket{le=\"+Inf\"} 10\n";
        let buckets = Exposition::parse(text).histogram("t").expect("histogram");
        assert_eq!(
            buckets.quantile(0.99),
            Some(Estimate {
                seconds: 1.0,
                at_least: true
            })
        );
        let empty = Exposition::parse("t_bucket{le=\"1\"} 0\nt_bucket{le=\"+Inf\"} 0\n");
        assert_eq!(empty.histogram("t").expect("histogram").quantile(0.5), None);
        assert_eq!(Exposition::parse("").histogram("t"), None);
    }

    #[test]
    fn windows_are_minutes_within_a_week() {
        assert_eq!(window_minutes(None).unwrap(), DEFAULT_WINDOW_MINUTES);
        assert_eq!(window_minutes(Some(" ")).unwrap(), DEFAULT_WINDOW_MINUTES);
        assert_eq!(window_minutes(Some("1440")).unwrap(), 1440);
        for bad in ["0", "10081", "-5", "1h", "1.5"] {
            let error = window_minutes(Some(bad)).unwrap_err();
            assert!(
                error.message.contains("1 to 10080"),
                "{bad}: {}",
                error.message
            );
        }
    }
}
