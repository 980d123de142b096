//! `disco-bench events-flood`: does a flood of click reports slow search or lose a search?
//! (issue #22: 10,000 events/s for 10 s must leave search p99 within 20% of its quiet figure
//! and lose no search.)
//!
//! Against a running service, it takes a pool of real answers (`query_id` and results) from
//! `/search`, measures search alone at a fixed rate, then the same search load while valid
//! `POST /events` reports about the pooled answers go out on a fixed schedule of their own, on
//! connections of their own. Both loads are [`http_load`]'s open-loop generator, so a stall of
//! the service is charged to every request due during it. The service's click-log counters are
//! scraped from `/metrics` before and after, since its answers alone cannot tell what the
//! writer did with what it accepted.
//!
//! ```text
//! disco-bench events-flood --base-url http://127.0.0.1:8090 --paths search.paths
//! ```

use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::http_load::http1::{Connection, Target};
use crate::http_load::{self, LoadOptions, LoadReport};

/// The issue's bound on flood p99 over quiet p99.
pub const P99_RATIO_TARGET: f64 = 1.20;
/// The most events the service takes in one report.
pub const MAX_EVENTS_PER_REPORT: usize = 50;

/// The flags of `disco-bench events-flood`.
#[derive(Debug, Clone, clap::Args)]
pub struct FloodArgs {
    /// The service, e.g. http://127.0.0.1:8090 (started by you; nothing is started here).
    #[arg(long)]
    pub base_url: String,
    /// A file of `/search?q=…` paths, one a line, as for `disco-bench http`: the search load,
    /// and the answers the reports are about.
    #[arg(long)]
    pub paths: PathBuf,
    /// Searches per second, in both phases.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Measured seconds of each phase.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of each phase sent first and not counted (the flood already runs during them).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Searches in flight at most.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Events per second during the flood.
    #[arg(long, default_value_t = 10_000.0)]
    pub events_per_second: f64,
    /// Events per report: one impression, then clicks on the same answer (1 to 50).
    #[arg(long, default_value_t = 10)]
    pub events_per_report: usize,
    /// Reports in flight at most: the flood's own connection pool.
    #[arg(long, default_value_t = 32)]
    pub event_connections: usize,
    /// Answers to take from `/search` for the reports to be about.
    #[arg(long, default_value_t = 300)]
    pub pool: usize,
    /// Seconds before an unanswered request counts as lost.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Seconds to let the click-log writer catch up before the last `/metrics` scrape.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The flood's fixed schedule: how often a report is due and how many go out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodSchedule {
    /// Reports per second.
    pub report_rate: f64,
    /// Reports due over the whole flood.
    pub reports: u64,
    /// Events in them.
    pub events: u64,
}

/// The flood lasts the search phase's warm-up and measured part, so every measured search
/// meets it; `events_per_second` is reached with reports of `events_per_report`.
pub fn schedule(
    events_per_second: f64,
    events_per_report: usize,
    seconds: f64,
) -> anyhow::Result<FloodSchedule> {
    anyhow::ensure!(
        events_per_second.is_finite() && events_per_second > 0.0,
        "--events-per-second must be above 0"
    );
    anyhow::ensure!(
        (1..=MAX_EVENTS_PER_REPORT).contains(&events_per_report),
        "--events-per-report must be 1 to {MAX_EVENTS_PER_REPORT} (the service's limit)"
    );
    let report_rate = events_per_second / events_per_report as f64;
    let reports = http_load::requests_in(seconds, report_rate);
    Ok(FloodSchedule {
        report_rate,
        reports,
        events: reports * events_per_report as u64,
    })
}

/// A `/search` answer the reports can be about: its id and what it showed, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledAnswer {
    pub query_id: String,
    /// `(kind, id)` of each result, position 1 first.
    pub shown: Vec<(String, i64)>,
}

/// The answer in a `/search` body, if it has a query id and at least one result (an empty
/// answer gives nothing to click).
pub fn pooled_answer(body: &[u8]) -> Option<PooledAnswer> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let query_id = answer.get("query_id")?.as_str()?.to_string();
    let shown: Vec<(String, i64)> = (answer.get("results")?.as_array()?.iter())
        .filter_map(|r| Some((r.get("kind")?.as_str()?.to_string(), r.get("id")?.as_i64()?)))
        .collect();
    (!query_id.is_empty() && !shown.is_empty()).then_some(PooledAnswer { query_id, shown })
}

/// What a page reports of one answer: the impression of everything it showed, then
/// `events - 1` clicks going down its positions (and round again on a short answer).
pub fn report_body(answer: &PooledAnswer, session: &str, events: usize) -> String {
    let shown: Vec<Value> = (answer.shown.iter())
        .map(|(kind, id)| json!({"kind": kind, "id": id}))
        .collect();
    let mut reported = vec![json!({
        "type": "impression",
        "query_id": answer.query_id,
        "shown": shown,
    })];
    for click in 0..events.saturating_sub(1) {
        let at = click % answer.shown.len();
        let (kind, id) = &answer.shown[at];
        reported.push(json!({
            "type": "click",
            "query_id": answer.query_id,
            "position": at + 1,
            "kind": kind,
            "id": id,
        }));
    }
    json!({"session": session, "events": reported}).to_string()
}

/// The service's click-log counters (`disco_click_events_*` in `/metrics`); absent ones are 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClickCounters {
    pub accepted: u64,
    /// By reason.
    pub rejected: BTreeMap<String, u64>,
    /// Log entries the full queue refused: events, and the answers' own "served" entries.
    pub dropped: u64,
    /// Log entries written: events, and the answers' "served" entries.
    pub written: u64,
    pub write_failed: u64,
}

impl ClickCounters {
    /// Reads the counters from a Prometheus text exposition.
    pub fn scrape(text: &str) -> ClickCounters {
        let mut counters = ClickCounters::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let value = value.max(0.0) as u64;
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            match name.trim() {
                "disco_click_events_accepted_total" => counters.accepted += value,
                "disco_click_events_dropped_total" => counters.dropped += value,
                "disco_click_events_written_total" => counters.written += value,
                "disco_click_events_write_failed_total" => counters.write_failed += value,
                "disco_click_events_rejected_total" => {
                    *counters
                        .rejected
                        .entry(label(labels, "reason"))
                        .or_default() += value;
                }
                _ => {}
            }
        }
        counters
    }

    /// What was counted between `before` and `self`.
    pub fn since(&self, before: &ClickCounters) -> ClickCounters {
        let mut rejected = self.rejected.clone();
        for (reason, n) in &mut rejected {
            *n = n.saturating_sub(before.rejected.get(reason).copied().unwrap_or(0));
        }
        rejected.retain(|_, n| *n > 0);
        ClickCounters {
            accepted: self.accepted.saturating_sub(before.accepted),
            rejected,
            dropped: self.dropped.saturating_sub(before.dropped),
            written: self.written.saturating_sub(before.written),
            write_failed: self.write_failed.saturating_sub(before.write_failed),
        }
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// The value of label `key` in `a="x",b="y"`, or empty.
fn label(labels: &str, key: &str) -> String {
    labels
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

/// One phase's search figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SearchPhase {
    pub due: u64,
    pub ok: u64,
    /// Due and not answered 2xx: other statuses, errors, timeouts, unfinished.
    pub lost: u64,
    pub achieved: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Due → on the wire: the generators' own lag (both share the machine), part of `p99`.
    pub sent_p99: Duration,
    /// On the wire → answer read: the service's part.
    pub answer_p99: Duration,
}

impl SearchPhase {
    pub fn of(load: &LoadReport) -> SearchPhase {
        SearchPhase {
            due: load.due,
            ok: load.ok,
            lost: load.due.saturating_sub(load.ok),
            achieved: load.achieved,
            p50: load.p50,
            p99: load.p99,
            sent_p99: load.sent_p99,
            answer_p99: load.answer_p99,
        }
    }
}

/// The flood's figures from the `/events` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventsTally {
    pub reports_due: u64,
    pub events_per_report: usize,
    /// Reports answered 202, 400, or otherwise.
    pub accepted_reports: u64,
    pub rejected_reports: u64,
    pub other_reports: u64,
    /// Reports with no answer: errors, timeouts, unfinished.
    pub unanswered_reports: u64,
    /// Events in the 202 answers' `accepted` and `dropped`.
    pub accepted: u64,
    pub dropped: u64,
    /// Events per second in reports the service answered.
    pub achieved_rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl EventsTally {
    /// Sums up the flood's load report (run with [`LoadOptions::keep_answers`]).
    pub fn of(load: &LoadReport, events_per_report: usize) -> EventsTally {
        let mut tally = EventsTally {
            reports_due: load.due,
            events_per_report,
            unanswered_reports: load.errors + load.unfinished,
            p50: load.p50,
            p99: load.p99,
            ..EventsTally::default()
        };
        for (status, body) in &load.answers {
            match status {
                202 => {
                    tally.accepted_reports += 1;
                    let answer: Value = serde_json::from_slice(body).unwrap_or_default();
                    let count = |key: &str| answer.get(key).and_then(Value::as_u64).unwrap_or(0);
                    tally.accepted += count("accepted");
                    tally.dropped += count("dropped");
                }
                400 => tally.rejected_reports += 1,
                _ => tally.other_reports += 1,
            }
        }
        // `achieved` counts every finished request, answered or not, per second of the run.
        let finished = load.due.saturating_sub(load.unfinished);
        let answered = load.answers.len() as u64;
        if finished > 0 {
            tally.achieved_rate =
                load.achieved * answered as f64 / finished as f64 * events_per_report as f64;
        }
        tally
    }

    pub fn events_due(&self) -> u64 {
        self.reports_due * self.events_per_report as u64
    }

    pub fn events_rejected(&self) -> u64 {
        self.rejected_reports * self.events_per_report as u64
    }
}

/// What `events-flood` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodReport {
    pub base_url: String,
    pub search_rate: f64,
    pub seconds: f64,
    pub warmup: f64,
    pub events_per_second: f64,
    pub pool: usize,
    pub quiet: SearchPhase,
    pub flood: SearchPhase,
    pub events: EventsTally,
    /// The service's counters over the flood (scraped after `settle`).
    pub counters: ClickCounters,
}

impl FloodReport {
    /// Flood p99 over quiet p99; `None` when the quiet phase timed nothing.
    pub fn p99_ratio(&self) -> Option<f64> {
        (!self.quiet.p99.is_zero())
            .then(|| self.flood.p99.as_secs_f64() / self.quiet.p99.as_secs_f64())
    }

    pub fn p99_met(&self) -> bool {
        self.p99_ratio().is_some_and(|r| r <= P99_RATIO_TARGET)
    }

    /// No search lost under the flood (nor in the quiet phase, which would make it no baseline).
    pub fn lost_met(&self) -> bool {
        self.quiet.lost == 0 && self.flood.lost == 0
    }

    pub fn to_json(&self) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let phase = |p: &SearchPhase| {
            json!({"due": p.due, "ok": p.ok, "lost": p.lost, "achieved_per_s": p.achieved,
                   "p50_ms": ms(p.p50), "p99_ms": ms(p.p99), "sent_p99_ms": ms(p.sent_p99),
                   "answer_p99_ms": ms(p.answer_p99)})
        };
        let e = &self.events;
        let c = &self.counters;
        json!({
            "base_url": self.base_url,
            "search_rate": self.search_rate,
            "seconds": self.seconds,
            "warmup": self.warmup,
            "pool": self.pool,
            "quiet": phase(&self.quiet),
            "flood": phase(&self.flood),
            "p99_ratio": self.p99_ratio(),
            "p99_ratio_target": P99_RATIO_TARGET,
            "p99_met": self.p99_met(),
            "searches_lost": self.flood.lost,
            "lost_met": self.lost_met(),
            "events": {
                "target_per_s": self.events_per_second,
                "per_report": e.events_per_report,
                "reports_due": e.reports_due,
                "events_due": e.events_due(),
                "reports_202": e.accepted_reports,
                "reports_400": e.rejected_reports,
                "reports_other": e.other_reports,
                "reports_unanswered": e.unanswered_reports,
                "accepted": e.accepted,
                "dropped": e.dropped,
                "rejected": e.events_rejected(),
                "achieved_per_s": e.achieved_rate,
                "report_p50_ms": ms(e.p50),
                "report_p99_ms": ms(e.p99),
            },
            "service_counters": {
                "accepted": c.accepted,
                "rejected": c.rejected,
                "dropped": c.dropped,
                "written": c.written,
                "write_failed": c.write_failed,
            },
        })
    }
}

fn met(yes: bool) -> &'static str {
    if yes { "MET" } else { "NOT MET" }
}

impl std::fmt::Display for FloodReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (q, fl, e, c) = (&self.quiet, &self.flood, &self.events, &self.counters);
        writeln!(
            f,
            "events-flood against {}: search at {}/s for {} s (after {} s warm-up) per phase; \
             {} pooled answers",
            self.base_url, self.search_rate, self.seconds, self.warmup, self.pool
        )?;
        for (name, p) in [("quiet", q), ("flood", fl)] {
            writeln!(
                f,
                "  search {name}: {} due, {} ok, {} lost, {:.1}/s; p50 {:.3} ms, p99 {:.3} ms \
                 (due → on the wire p99 {:.3} ms, on the wire → answer p99 {:.3} ms)",
                p.due,
                p.ok,
                p.lost,
                p.achieved,
                ms(p.p50),
                ms(p.p99),
                ms(p.sent_p99),
                ms(p.answer_p99)
            )?;
        }
        match self.p99_ratio() {
            Some(r) => writeln!(
                f,
                "  p99 flood/quiet {r:.3} (target ≤ {P99_RATIO_TARGET:.2}): {}",
                met(self.p99_met())
            )?,
            None => writeln!(f, "  p99 flood/quiet: no quiet figure: NOT MET")?,
        }
        writeln!(
            f,
            "  searches lost under the flood {} (quiet {}; target 0): {}",
            fl.lost,
            q.lost,
            met(self.lost_met())
        )?;
        writeln!(
            f,
            "  events: {} due at {}/s in {} reports of {}; answered at {:.0} events/s; \
             report p50 {:.3} ms, p99 {:.3} ms",
            e.events_due(),
            self.events_per_second,
            e.reports_due,
            e.events_per_report,
            e.achieved_rate,
            ms(e.p50),
            ms(e.p99)
        )?;
        writeln!(
            f,
            "  reports: 202 {}, 400 {}, other {}, unanswered {}; events accepted {}, \
             dropped {}, rejected {}",
            e.accepted_reports,
            e.rejected_reports,
            e.other_reports,
            e.unanswered_reports,
            e.accepted,
            e.dropped,
            e.events_rejected()
        )?;
        write!(
            f,
            "  service counters over the flood: accepted {}, rejected {} {:?}, dropped {} \
             (answers' log entries included), written {}, write failed {}",
            c.accepted,
            c.rejected_total(),
            c.rejected,
            c.dropped,
            c.written,
            c.write_failed
        )
    }
}

/// One request on a connection of its own: the status and body (for the pool, the probe and
/// `/metrics`, which are not timed).
async fn fetch(
    target: &Target,
    connection: &mut Connection,
    request: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    connection.send(request).await?;
    let answer = tokio::time::timeout(Duration::from_secs(10), connection.receive_body())
        .await
        .with_context(|| format!("{} did not answer within 10 s", target.authority))??;
    Ok(answer)
}

/// Scrapes the click-log counters.
async fn counters(target: &Target, connection: &mut Connection) -> anyhow::Result<ClickCounters> {
    let (status, body) = fetch(target, connection, &target.get("/metrics")).await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    Ok(ClickCounters::scrape(&String::from_utf8_lossy(&body)))
}

/// Runs the quiet phase, then the flood, and sums them up.
pub async fn run(args: FloodArgs) -> anyhow::Result<FloodReport> {
    anyhow::ensure!(
        args.timeout.is_finite() && args.timeout > 0.0,
        "--timeout must be above 0"
    );
    anyhow::ensure!(args.pool > 0, "--pool must be at least 1");
    let flood_seconds = args.warmup + args.seconds;
    let plan = schedule(
        args.events_per_second,
        args.events_per_report,
        flood_seconds,
    )?;
    let paths = http_load::read_paths(&args.paths)?;
    let target = Target::parse(&args.base_url)?;
    let addr = (target.authority.to_socket_addrs())
        .with_context(|| format!("resolving {}", target.authority))?
        .next()
        .with_context(|| format!("{} resolves to no address", target.authority))?;
    let mut connection = Connection::open(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;

    // A first pass warms the service's caches; the second's answers are the pool.
    let pool_paths: Vec<&String> = paths.iter().take(args.pool).collect();
    let mut pool = Vec::new();
    for pass in 0..2 {
        for path in &pool_paths {
            let (status, body) = fetch(&target, &mut connection, &target.get(path)).await?;
            if pass == 1 && status == 200 {
                pool.extend(pooled_answer(&body));
            }
        }
    }
    anyhow::ensure!(
        !pool.is_empty(),
        "none of the first {} paths gave a /search answer with results",
        pool_paths.len()
    );
    tracing::info!(answers = pool.len(), "pooled answers to report on");
    let bodies: Vec<String> = (0..plan.reports as usize)
        .map(|i| {
            report_body(
                &pool[i % pool.len()],
                &format!("flood-{i}"),
                args.events_per_report,
            )
        })
        .collect();
    let probe = target.post_json("/events", &bodies[0]);
    let (status, body) = fetch(&target, &mut connection, &probe).await?;
    anyhow::ensure!(
        status == 202,
        "POST /events answered {status} {} to a valid report{}",
        String::from_utf8_lossy(&body),
        if status == 503 {
            " (this service keeps no click log: a binary built before it was wired?)"
        } else {
            ""
        }
    );

    let search = LoadOptions {
        base_url: args.base_url.clone(),
        paths,
        rate: args.rate,
        seconds: args.seconds,
        warmup: args.warmup,
        connections: args.connections,
        timeout: Duration::from_secs_f64(args.timeout),
        spin: false,
        bodies: Vec::new(),
        keep_answers: false,
    };
    tracing::info!(rate = args.rate, seconds = args.seconds, "quiet phase");
    let quiet = http_load::run(search.clone()).await?;

    let events = LoadOptions {
        paths: vec!["/events".into()],
        rate: plan.report_rate,
        seconds: flood_seconds,
        warmup: 0.0,
        connections: args.event_connections,
        bodies,
        keep_answers: true,
        ..search.clone()
    };
    let before = counters(&target, &mut connection).await?;
    tracing::info!(
        reports_per_s = plan.report_rate,
        events = plan.events,
        "flood phase"
    );
    let (flood, flooded) = tokio::join!(http_load::run(search), http_load::run(events));
    let (flood, flooded) = (flood?, flooded?);
    tokio::time::sleep(Duration::from_secs_f64(args.settle.max(0.0))).await;
    // The flood may have closed the idle connection: a fresh one for the last scrape.
    let mut connection = Connection::open(addr).await?;
    let after = counters(&target, &mut connection).await?;

    Ok(FloodReport {
        base_url: args.base_url,
        search_rate: args.rate,
        seconds: args.seconds,
        warmup: args.warmup,
        events_per_second: args.events_per_second,
        pool: pool.len(),
        quiet: SearchPhase::of(&quiet),
        flood: SearchPhase::of(&flood),
        events: EventsTally::of(&flooded, args.events_per_report),
        counters: after.since(&before),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_flood_reaches_its_event_rate_with_whole_reports() {
        let plan = schedule(10_000.0, 10, 12.0).unwrap();
        assert_eq!(
            plan,
            FloodSchedule {
                report_rate: 1_000.0,
                reports: 12_000,
                events: 120_000
            }
        );
        // Report i is due at i / 1000 s: a fixed schedule, whatever the answers.
        assert_eq!(http_load::due(500, plan.report_rate), ms(500));
        let odd = schedule(100.0, 3, 1.0).unwrap();
        assert_eq!((odd.reports, odd.events), (34, 102));
        assert!(schedule(10_000.0, 0, 10.0).is_err());
        assert!(schedule(10_000.0, 51, 10.0).is_err());
        assert!(schedule(0.0, 10, 10.0).is_err());
    }

    #[test]
    fn reports_are_an_impression_then_clicks_on_what_was_shown() {
        let body = br#"{"query":"love","query_id":"00ff","total":2,"results":[
            {"kind":"track","id":42,"title":"a"},{"kind":"user","id":7,"title":"b"}]}"#;
        let answer = pooled_answer(body).unwrap();
        assert_eq!(
            answer,
            PooledAnswer {
                query_id: "00ff".into(),
                shown: vec![("track".into(), 42), ("user".into(), 7)]
            }
        );
        let report: Value = serde_json::from_str(&report_body(&answer, "flood-1", 4)).unwrap();
        let events = report["events"].as_array().unwrap();
        assert_eq!(report["session"], "flood-1");
        assert_eq!(events.len(), 4);
        assert_eq!(events[0]["type"], "impression");
        assert_eq!(events[0]["shown"][1], json!({"kind": "user", "id": 7}));
        // Clicks go down the answer and round again: positions 1, 2, 1.
        let clicks: Vec<(u64, i64)> = (events[1..].iter())
            .map(|e| (e["position"].as_u64().unwrap(), e["id"].as_i64().unwrap()))
            .collect();
        assert_eq!(clicks, [(1, 42), (2, 7), (1, 42)]);
        assert!(events.iter().all(|e| e["query_id"] == "00ff"));
        assert!(pooled_answer(br#"{"query_id":"1","results":[]}"#).is_none());
        assert!(pooled_answer(b"not json").is_none());
    }

    #[test]
    fn metrics_give_the_click_counters_summed_over_labels() {
        let text = "# TYPE disco_click_events_accepted_total counter\n\
            disco_click_events_accepted_total 1200\n\
            disco_click_events_rejected_total{reason=\"unknown_query\"} 3\n\
            disco_click_events_rejected_total{reason=\"entity\"} 1\n\
            disco_click_events_dropped_total 40\n\
            disco_click_events_written_total 900\n\
            disco_http_requests_total{endpoint=\"/events\",status=\"202\"} 77\n";
        let after = ClickCounters::scrape(text);
        assert_eq!(
            (
                after.accepted,
                after.dropped,
                after.written,
                after.write_failed
            ),
            (1200, 40, 900, 0)
        );
        assert_eq!(after.rejected_total(), 4);
        let before = ClickCounters::scrape(
            "disco_click_events_accepted_total 200\n\
             disco_click_events_rejected_total{reason=\"entity\"} 1\n",
        );
        let flood = after.since(&before);
        assert_eq!((flood.accepted, flood.dropped), (1000, 40));
        assert_eq!(
            flood.rejected,
            BTreeMap::from([("unknown_query".to_string(), 3)])
        );
        // Before the first event, the service shows no such counter at all.
        assert_eq!(ClickCounters::scrape(""), ClickCounters::default());
    }

    fn load(due: u64, ok: u64, p99: u64) -> LoadReport {
        LoadReport {
            due,
            ok,
            achieved: due as f64 / 10.0,
            p50: ms(1),
            p99: ms(p99),
            ..LoadReport::default()
        }
    }

    #[test]
    fn the_report_judges_the_targets_from_both_phases() {
        let flooded = LoadReport {
            due: 4,
            errors: 1,
            achieved: 0.4,
            answers: vec![
                (202, br#"{"accepted":10,"dropped":0}"#.to_vec()),
                (202, br#"{"accepted":6,"dropped":4}"#.to_vec()),
                (400, br#"{"error":"unknown query_id"}"#.to_vec()),
            ],
            ..LoadReport::default()
        };
        let events = EventsTally::of(&flooded, 10);
        assert_eq!(
            (
                events.accepted_reports,
                events.rejected_reports,
                events.unanswered_reports
            ),
            (2, 1, 1)
        );
        assert_eq!((events.accepted, events.dropped), (16, 4));
        assert_eq!((events.events_due(), events.events_rejected()), (40, 10));
        // 3 of the 4 finished reports were answered: 0.3 reports/s, 3 events/s.
        assert!((events.achieved_rate - 3.0).abs() < 1e-9);

        let mut report = FloodReport {
            base_url: "http://x".into(),
            search_rate: 500.0,
            seconds: 10.0,
            warmup: 2.0,
            events_per_second: 10_000.0,
            pool: 300,
            quiet: SearchPhase::of(&load(5000, 5000, 10)),
            flood: SearchPhase::of(&load(5000, 5000, 12)),
            events,
            counters: ClickCounters::default(),
        };
        assert!((report.p99_ratio().unwrap() - 1.2).abs() < 1e-9);
        assert!(report.p99_met() && report.lost_met());
        let text = report.to_string();
        assert!(text.contains("1.200 (target ≤ 1.20): MET"), "{text}");

        report.flood = SearchPhase::of(&load(5000, 4998, 13));
        assert!(!report.p99_met() && !report.lost_met());
        assert_eq!(report.flood.lost, 2);
        let machine = report.to_json();
        assert_eq!(
            (&machine["p99_met"], &machine["searches_lost"]),
            (&json!(false), &json!(2))
        );
        assert_eq!(machine["events"]["accepted"], 16);
        assert!(report.to_string().contains("NOT MET"));

        report.quiet = SearchPhase::of(&load(5000, 5000, 0));
        assert_eq!(report.p99_ratio(), None);
        assert!(!report.p99_met());
    }

    #[tokio::test]
    async fn a_run_pools_answers_floods_and_reads_the_counters() {
        use axum::routing::{get, post};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        let accepted = Arc::new(AtomicU64::new(0));
        let counted = accepted.clone();
        let app = axum::Router::new()
            .route(
                "/search",
                get(|| async {
                    axum::Json(json!({"query_id": "q1", "results": [{"kind": "track", "id": 1}]}))
                }),
            )
            .route(
                "/events",
                post(move |body: axum::body::Bytes| async move {
                    let report: Value = serde_json::from_slice(&body).unwrap();
                    let n = report["events"].as_array().unwrap().len() as u64;
                    counted.fetch_add(n, Ordering::Relaxed);
                    (
                        axum::http::StatusCode::ACCEPTED,
                        axum::Json(json!({"accepted": n, "dropped": 0})),
                    )
                }),
            )
            .route(
                "/metrics",
                get(move || async move {
                    let n = accepted.load(Ordering::Relaxed);
                    format!("disco_click_events_accepted_total {n}\n")
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let paths = dir.path().join("search.paths");
        std::fs::write(&paths, "/search?q=a&limit=10\n").unwrap();
        let report = run(FloodArgs {
            base_url: format!("http://{addr}"),
            paths,
            rate: 100.0,
            seconds: 0.3,
            warmup: 0.1,
            connections: 2,
            events_per_second: 200.0,
            events_per_report: 2,
            event_connections: 2,
            pool: 5,
            timeout: 5.0,
            settle: 0.0,
            json: false,
        })
        .await
        .unwrap();
        assert_eq!(
            (report.pool, report.quiet.lost, report.flood.lost),
            (1, 0, 0)
        );
        // 0.4 s of flood at 100 reports/s, every one accepted whole.
        assert_eq!(
            (report.events.reports_due, report.events.accepted_reports),
            (40, 40),
            "{report}"
        );
        assert_eq!(report.events.accepted, 80);
        assert_eq!(
            report.counters.accepted, 80,
            "the probe came before the first scrape"
        );
    }
}
