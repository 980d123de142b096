//! Search sessions and the click log on the service's side: every answer gets a query id and is
//! logged as it was shown; the page reports impressions and clicks to `POST /events`; both go
//! through one bounded in-memory queue to a writer task that appends them to the database in
//! batches ([`quality::click_log::write`]).
//!
//! The request path never waits for the database: it offers each entry to the queue and moves
//! on, and when the queue is full the entry is dropped and counted
//! (`disco_click_events_dropped_total`). A report is checked against the answers this process gave
//! (a bounded memory of recent query ids, [`RECENT_QUERIES`]): an unknown query id, a position
//! the answer did not have, or an entity that was not at that position is a 400 with the reason,
//! counted by reason (`disco_click_events_rejected_total`), and nothing of that report is kept.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use quality::click_log::{Endpoint, LogEntry};
use quality::clicks::{Click, ServedQuery, Shown};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::server::QueryState;

/// The session cookie the page sets: an anonymous random id, first-party.
pub const SESSION_COOKIE: &str = "disco_session";
/// The longest session id kept.
pub const MAX_SESSION_CHARS: usize = 64;
/// The largest `/events` body: a page's report of one answer is well under 2 KB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Events in one report.
pub const MAX_EVENTS: usize = 50;
/// Answers remembered to check reports against. A click on an answer older than the last
/// this many is refused as unknown.
pub const RECENT_QUERIES: usize = 200_000;
/// Entries the queue holds before new ones are dropped.
pub const QUEUE: usize = 20_000;
/// Entries written per transaction, and the longest an entry waits for its batch.
pub const BATCH: usize = 1_000;
pub const BATCH_WAIT: Duration = Duration::from_millis(250);

pub const ACCEPTED: &str = "disco_click_events_accepted_total";
pub const REJECTED: &str = "disco_click_events_rejected_total";
pub const DROPPED: &str = "disco_click_events_dropped_total";
pub const WRITTEN: &str = "disco_click_events_written_total";
pub const WRITE_FAILED: &str = "disco_click_events_write_failed_total";
/// Answers the page reported as shown.
pub const IMPRESSIONS: &str = "disco_impressions_total";
/// Clicks on results, labelled `position`.
pub const CLICKS: &str = "disco_clicks_total";

/// What the service remembers of an answer, to check reports.
#[derive(Debug, Clone)]
struct Recent {
    shown: Vec<EntityKey>,
}

/// The service's end of the click log. Cheap to share (`Arc`).
pub struct EventLog {
    queue: mpsc::Sender<LogEntry>,
    metrics: Metrics,
    recent: Mutex<RecentQueries>,
}

#[derive(Default)]
struct RecentQueries {
    by_id: HashMap<String, Recent>,
    order: VecDeque<String>,
}

impl RecentQueries {
    fn remember(&mut self, id: String, recent: Recent) {
        if self.order.len() >= RECENT_QUERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_id.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.by_id.insert(id, recent);
    }
}

/// Query ids: a per-process random key hashing a counter, so ids are unique in a process,
/// unguessable from one another and (64 bits) practically unique across replicas and restarts.
pub struct QueryIds {
    key: RandomState,
    next: AtomicU64,
}

impl Default for QueryIds {
    fn default() -> Self {
        QueryIds {
            key: RandomState::new(),
            next: AtomicU64::new(0),
        }
    }
}

impl QueryIds {
    /// A fresh id: 16 hex digits.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}", self.key.hash_one(n))
    }
}

/// The writer's end: give it to [`drain`].
pub struct EventWriter {
    receiver: mpsc::Receiver<LogEntry>,
    metrics: Metrics,
}

impl EventLog {
    /// A log whose queue holds `capacity` entries, and the writer that empties it; both count
    /// into `metrics`.
    pub fn new(capacity: usize, metrics: Metrics) -> (EventLog, EventWriter) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let writer = EventWriter {
            receiver,
            metrics: metrics.clone(),
        };
        let log = EventLog {
            queue,
            metrics,
            recent: Mutex::default(),
        };
        (log, writer)
    }

    /// Logs an answer as shown and remembers it for the reports that follow.
    pub fn served(&self, endpoint: Endpoint, query: ServedQuery) {
        let shown = query.shown.iter().map(|s| s.entity).collect();
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remember(query.query_id.clone(), Recent { shown });
        self.offer(LogEntry::Served { endpoint, query });
    }

    fn recent(&self, query_id: &str) -> Option<Recent> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.by_id.get(query_id).cloned()
    }

    /// Queues an entry, or drops and counts it when the queue is full: never waits.
    fn offer(&self, entry: LogEntry) -> bool {
        match self.queue.try_send(entry) {
            Ok(()) => true,
            Err(_) => {
                self.metrics.count(DROPPED, None, 1);
                false
            }
        }
    }
}

/// Appends what the queue receives to the database in batches of up to [`BATCH`], each at
/// most [`BATCH_WAIT`] after its first entry, until every [`EventLog`] is gone. A batch the
/// database refuses is retried twice, then dropped with an error log and counted: the click
/// log is worth less than the search it follows.
pub async fn drain(db: Db, mut writer: EventWriter) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = writer.receiver.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, writer.receiver.recv()).await {
                Ok(Some(entry)) => batch.push(entry),
                Ok(None) | Err(_) => break,
            }
        }
        let mut attempt = 0;
        loop {
            match quality::click_log::write(&db, &batch).await {
                Ok(n) => {
                    writer.metrics.count(WRITTEN, None, n as u64);
                    break;
                }
                Err(e) if attempt < 2 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "click log batch not written; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, entries = batch.len(), "click log batch dropped");
                    writer.metrics.count(WRITE_FAILED, None, batch.len() as u64);
                    break;
                }
            }
        }
        batch.clear();
    }
}

/// The caller's session: the [`SESSION_COOKIE`] when it is a plausible id, else empty (an
/// anonymous caller, such as a script, takes part in no experiment).
pub fn session(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| valid_session(value))
        .unwrap_or_default()
        .to_string()
}

fn valid_session(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_SESSION_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A report from the page: `{"session", "events": [{"type": "impression", "query_id",
/// "shown": [{"kind", "id"}…]} | {"type": "click", "query_id", "position", "kind", "id"}]}`
/// (positions from 1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = EventsReport)]
#[serde(deny_unknown_fields)]
pub struct Report {
    session: String,
    events: Vec<Event>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Event {
    Impression {
        query_id: String,
        shown: Vec<ShownEntity>,
    },
    Click {
        query_id: String,
        position: usize,
        kind: String,
        id: i64,
    },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShownEntity {
    kind: String,
    id: i64,
}

/// Why a report was refused: the metric's `reason` label and the message.
struct Refusal {
    reason: &'static str,
    message: String,
}

fn refuse(reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        message: message.into(),
    }
}

fn entity(kind: &str, id: i64) -> Result<EntityKey, Refusal> {
    let kind: EntityKind = kind
        .parse()
        .map_err(|e: schemas::kind::UnknownKind| refuse("entity", e.to_string()))?;
    Ok(EntityKey::new(kind, id))
}

/// Checks a whole report against the answers given; its entries, or why it is refused.
fn check(log: &EventLog, body: &[u8]) -> Result<Vec<LogEntry>, Refusal> {
    if body.len() > MAX_BODY_BYTES {
        return Err(refuse(
            "oversized",
            format!(
                "a report is at most {MAX_BODY_BYTES} bytes, this one {}",
                body.len()
            ),
        ));
    }
    let report: Report = serde_json::from_slice(body)
        .map_err(|e| refuse("malformed", format!("not a report: {e}")))?;
    if !valid_session(&report.session) {
        return Err(refuse(
            "session",
            format!("session must be 1 to {MAX_SESSION_CHARS} letters, digits, `-` or `_`"),
        ));
    }
    if report.events.is_empty() || report.events.len() > MAX_EVENTS {
        return Err(refuse(
            "count",
            format!(
                "a report holds 1 to {MAX_EVENTS} events, not {}",
                report.events.len()
            ),
        ));
    }
    let at = Utc::now();
    let mut entries = Vec::with_capacity(report.events.len());
    for event in report.events {
        let query_id = match &event {
            Event::Impression { query_id, .. } | Event::Click { query_id, .. } => query_id,
        };
        let recent = log.recent(query_id).ok_or_else(|| {
            refuse(
                "unknown_query",
                format!("unknown query_id `{query_id}`: not an answer this service gave recently"),
            )
        })?;
        match event {
            Event::Impression { query_id, shown } => {
                if shown.len() > recent.shown.len() {
                    return Err(refuse(
                        "position",
                        format!(
                            "query {query_id} showed {} results, not {}",
                            recent.shown.len(),
                            shown.len()
                        ),
                    ));
                }
                for (i, s) in shown.iter().enumerate() {
                    let key = entity(&s.kind, s.id)?;
                    if recent.shown[i] != key {
                        return Err(refuse(
                            "entity",
                            format!(
                                "position {} of query {query_id} is {}, not {key}",
                                i + 1,
                                recent.shown[i]
                            ),
                        ));
                    }
                }
                entries.push(LogEntry::Impression {
                    query_id,
                    session: report.session.clone(),
                    shown: shown.len(),
                    at,
                });
            }
            Event::Click {
                query_id,
                position,
                kind,
                id,
            } => {
                let key = entity(&kind, id)?;
                let Some(&at_position) = position.checked_sub(1).and_then(|i| recent.shown.get(i))
                else {
                    return Err(refuse(
                        "position",
                        format!(
                            "position {position} is not in query {query_id}'s answer (1 to {})",
                            recent.shown.len()
                        ),
                    ));
                };
                if at_position != key {
                    return Err(refuse(
                        "entity",
                        format!(
                            "position {position} of query {query_id} is {at_position}, not {key}"
                        ),
                    ));
                }
                entries.push(LogEntry::Click {
                    session: report.session.clone(),
                    click: Click {
                        query_id,
                        position,
                        entity: key,
                        at,
                    },
                });
            }
        }
    }
    Ok(entries)
}

/// `POST /events`: impressions and clicks from the page (`navigator.sendBeacon`). 202 with
/// `{"accepted", "dropped"}`; 400 with the reason; 503 when this service keeps no click log.
#[utoipa::path(post, path = "/events", request_body(content = Report, description = "What the page showed and what was clicked, under the answers' query ids; at most 16 KB and 50 events"), responses(
    (status = 202, description = "Queued for the click log: `{\"accepted\": n, \"dropped\": m}` (dropped: the queue was full)"),
    (status = 400, description = "Malformed, oversized, an unknown query_id, or a position or entity the answer did not have", body = crate::error::ErrorBody),
    (status = 503, description = "This service keeps no click log", body = crate::error::ErrorBody),
))]
pub async fn report(
    State(state): State<QueryState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let log = state
        .inner
        .events
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this service keeps no click log"))?;
    let entries = match check(log, &body) {
        Ok(entries) => entries,
        Err(refusal) => {
            log.metrics
                .count(REJECTED, Some(("reason", refusal.reason)), 1);
            return Err(ApiError::bad_request(refusal.message));
        }
    };
    let offered = entries.len();
    for entry in &entries {
        count_for_grafana(&log.metrics, entry);
    }
    let accepted = entries.into_iter().filter(|e| log.offer(e.clone())).count();
    log.metrics.count(ACCEPTED, None, accepted as u64);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": accepted, "dropped": offered - accepted })),
    ))
}

/// The click-through series as Prometheus counters, for people who chart in Grafana what the
/// dashboard shows: impressions, and clicks by position (1 to 10, then `11+`).
fn count_for_grafana(metrics: &Metrics, entry: &LogEntry) {
    const POSITIONS: [&str; 11] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11+"];
    match entry {
        LogEntry::Impression { .. } => metrics.count(IMPRESSIONS, None, 1),
        LogEntry::Click { click, .. } => {
            let bucket = POSITIONS[click.position.clamp(1, POSITIONS.len()) - 1];
            metrics.count(CLICKS, Some(("position", bucket)), 1);
        }
        LogEntry::Served { .. } => {}
    }
}

/// The shown entities of an answer, each credited to `arm` (interleaving) or to none.
pub fn shown(entities: impl IntoIterator<Item = (EntityKey, Option<String>)>) -> Vec<Shown> {
    entities
        .into_iter()
        .map(|(entity, arm)| Shown { entity, arm })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn served(log: &EventLog, shown: &[EntityKey]) -> String {
        let id = QueryIds::default().next();
        log.served(
            Endpoint::Search,
            ServedQuery {
                query_id: id.clone(),
                session: "s1".into(),
                text: "love".into(),
                total: shown.len() as u64,
                experiment: None,
                arm: None,
                shown: self::shown(shown.iter().map(|k| (*k, None))),
                at: Utc::now(),
            },
        );
        id
    }

    fn track(id: i64) -> EntityKey {
        EntityKey::new(EntityKind::Track, id)
    }

    #[test]
    fn reports_are_checked_against_the_answers_given() {
        let (log, _writer) = EventLog::new(100, Metrics::local());
        let id = served(&log, &[track(1), track(2)]);
        let good = json!({"session": "s1", "events": [
            {"type": "impression", "query_id": id, "shown": [{"kind": "track", "id": 1}, {"kind": "track", "id": 2}]},
            {"type": "click", "query_id": id, "position": 2, "kind": "track", "id": 2},
        ]});
        let entries = check(&log, good.to_string().as_bytes())
            .map_err(|r| r.message)
            .unwrap();
        assert_eq!(entries.len(), 2);
        assert!(
            matches!(&entries[1], LogEntry::Click { click, .. } if click.position == 2 && click.entity == track(2))
        );

        let cases = [
            (
                json!({"session": "s1", "events": [{"type": "click", "query_id": "nope", "position": 1, "kind": "track", "id": 1}]}),
                "unknown_query",
            ),
            (
                json!({"session": "s1", "events": [{"type": "click", "query_id": id, "position": 3, "kind": "track", "id": 1}]}),
                "position",
            ),
            (
                json!({"session": "s1", "events": [{"type": "click", "query_id": id, "position": 0, "kind": "track", "id": 1}]}),
                "position",
            ),
            (
                json!({"session": "s1", "events": [{"type": "click", "query_id": id, "position": 1, "kind": "track", "id": 2}]}),
                "entity",
            ),
            (
                json!({"session": "s1", "events": [{"type": "click", "query_id": id, "position": 1, "kind": "song", "id": 1}]}),
                "entity",
            ),
            (
                json!({"session": "s 1", "events": [{"type": "click", "query_id": id, "position": 1, "kind": "track", "id": 1}]}),
                "session",
            ),
            (json!({"session": "s1", "events": []}), "count"),
            (
                json!({"session": "s1", "events": [{"type": "hover", "query_id": id}]}),
                "malformed",
            ),
        ];
        for (body, reason) in cases {
            let refusal = check(&log, body.to_string().as_bytes())
                .err()
                .map(|r| r.reason);
            assert_eq!(refusal, Some(reason), "{body}");
        }
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(check(&log, &big).err().map(|r| r.reason), Some("oversized"));
        assert_eq!(
            check(&log, b"{not json").err().map(|r| r.reason),
            Some("malformed")
        );
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let (log, _writer) = EventLog::new(1, Metrics::local());
        let id = served(&log, &[track(1)]); // fills the queue
        let click = json!({"session": "s1", "events": [{"type": "click", "query_id": id, "position": 1, "kind": "track", "id": 1}]});
        let entries = check(&log, click.to_string().as_bytes())
            .map_err(|r| r.message)
            .unwrap();
        assert!(!log.offer(entries[0].clone()), "dropped, not blocked");
    }

    #[test]
    fn query_ids_are_distinct_and_sessions_come_from_the_cookie() {
        let query_ids = QueryIds::default();
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| query_ids.next()).collect();
        assert_eq!(ids.len(), 10_000);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; disco_session=abc-123_x; b=2"),
        );
        assert_eq!(session(&headers), "abc-123_x");
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("disco_session=bad value!"),
        );
        assert_eq!(session(&headers), "");
        assert_eq!(session(&HeaderMap::new()), "");
    }
}
