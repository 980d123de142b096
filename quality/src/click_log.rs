//! The click log in the site's database (`search_log`, `click_log`; migration `0004_clicks`):
//! every answer the query service gave, under the query id it handed out, and every impression
//! and click the page reported. The service writes it in batches off the request path
//! ([`write`]); reports, the dashboard and judgments from clicks read it back ([`load`],
//! [`summary`]); `disco events prune` bounds it ([`prune`]).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use schemas::EntityKey;
use schemas::db::Db;
use serde::Serialize;
use serde_json::{Value, json};

use crate::QualityError;
use crate::clicks::{Click, ServedQuery, Shown, normalise_query_text};
use crate::sql::{Param, Tx};

/// Which endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Search,
    Suggest,
    Explore,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Search => "search",
            Endpoint::Suggest => "suggest",
            Endpoint::Explore => "explore",
        }
    }
}

/// One row for the log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEntry {
    /// An answer, as it was shown.
    Served {
        endpoint: Endpoint,
        query: ServedQuery,
    },
    /// The page showed an answer's first `shown` results.
    Impression {
        query_id: String,
        session: String,
        shown: usize,
        at: DateTime<Utc>,
    },
    /// The page's visitor clicked a result.
    Click { session: String, click: Click },
}

/// Rows per INSERT statement: one statement carries many rows, so a batch of a thousand
/// entries is a dozen round trips to the database, not a thousand (at 10,000 events/s the
/// per-statement cost was the writer's).
const ROWS_PER_STATEMENT: usize = 100;

/// Appends `entries` in one transaction, a hundred rows per statement; the number written.
pub async fn write(db: &Db, entries: &[LogEntry]) -> Result<usize, QualityError> {
    let context = || format!("writing {} click-log entries", entries.len());
    let mut served: Vec<(Endpoint, &ServedQuery, String)> = Vec::new();
    let mut events: Vec<EventRow<'_>> = Vec::new();
    for entry in entries {
        match entry {
            LogEntry::Served { endpoint, query } => {
                served.push((*endpoint, query, shown_json(&query.shown)));
            }
            LogEntry::Impression {
                query_id,
                session,
                shown,
                at,
            } => events.push(EventRow {
                at: *at,
                query_id,
                session,
                event: "impression",
                position: None,
                entity: None,
                shown: Some(*shown as i64),
            }),
            LogEntry::Click { session, click } => events.push(EventRow {
                at: click.at,
                query_id: &click.query_id,
                session,
                event: "click",
                position: Some(click.position as i64),
                entity: Some(click.entity.to_string()),
                shown: None,
            }),
        }
    }
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    for chunk in served.chunks(ROWS_PER_STATEMENT) {
        let mut params = Vec::with_capacity(chunk.len() * 9);
        for (endpoint, query, shown) in chunk {
            params.extend([
                Param::Text(&query.query_id),
                Param::Time(query.at.trunc_subsecs(6)),
                Param::Text(&query.session),
                Param::Text(endpoint.as_str()),
                Param::Text(&query.text),
                Param::Int(i64::try_from(query.total).unwrap_or(i64::MAX)),
                Param::OptText(query.experiment.as_deref()),
                Param::OptText(query.arm.as_deref()),
                Param::Text(shown),
            ]);
        }
        let sql = format!(
            "INSERT INTO search_log (query_id, logged_at, session, endpoint, text, total, \
             experiment, arm, shown) VALUES {} ON CONFLICT (query_id) DO NOTHING",
            placeholders(chunk.len(), 9)
        );
        tx.execute_built(sql, &params)
            .await
            .map_err(QualityError::db(context()))?;
    }
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut params = Vec::with_capacity(chunk.len() * 7);
        for row in chunk {
            params.extend([
                Param::Time(row.at.trunc_subsecs(6)),
                Param::Text(row.query_id),
                Param::Text(row.session),
                Param::Text(row.event),
                Param::OptInt(row.position),
                Param::OptText(row.entity.as_deref()),
                Param::OptInt(row.shown),
            ]);
        }
        let sql = format!(
            "INSERT INTO click_log (logged_at, query_id, session, event, position, entity, shown) \
             VALUES {}",
            placeholders(chunk.len(), 7)
        );
        tx.execute_built(sql, &params)
            .await
            .map_err(QualityError::db(context()))?;
    }
    tx.commit().await.map_err(QualityError::db(context()))?;
    Ok(entries.len())
}

/// One `click_log` row, as bound.
struct EventRow<'a> {
    at: DateTime<Utc>,
    query_id: &'a str,
    session: &'a str,
    event: &'static str,
    position: Option<i64>,
    entity: Option<String>,
    shown: Option<i64>,
}

/// `($1, …, $columns), ($columns+1, …)` for `rows` rows.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=columns)
            .map(|c| format!("${}", r * columns + c))
            .collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

fn shown_json(shown: &[Shown]) -> String {
    let rows: Vec<Value> = shown
        .iter()
        .map(|s| json!({ "entity": s.entity.to_string(), "arm": s.arm }))
        .collect();
    Value::Array(rows).to_string()
}

fn shown_of(text: &str) -> Vec<Shown> {
    let rows: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
    rows.iter()
        .filter_map(|row| {
            let entity: EntityKey = row.get("entity")?.as_str()?.parse().ok()?;
            let arm = row.get("arm").and_then(Value::as_str).map(str::to_string);
            Some(Shown { entity, arm })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct ServedRow {
    query_id: String,
    logged_at: DateTime<Utc>,
    session: String,
    text: String,
    total: i64,
    experiment: Option<String>,
    arm: Option<String>,
    shown: String,
}

#[derive(sqlx::FromRow)]
struct ClickRow {
    query_id: String,
    logged_at: DateTime<Utc>,
    position: i64,
    entity: String,
}

/// The searches of the log since `since` (all of them for `None`), only those of `experiment`
/// when given, with their clicks. Suggest and Explore answers are not searches here.
pub async fn load(
    db: &Db,
    experiment: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> Result<(Vec<ServedQuery>, Vec<Click>), QualityError> {
    let context = "reading the click log";
    // The epoch, not `MIN_UTC`: PostgreSQL's timestamps start in 4713 BC.
    let since = since.unwrap_or(DateTime::UNIX_EPOCH).trunc_subsecs(6);
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context))?;
    let served: Vec<ServedRow> = tx
        .fetch_all(
            "SELECT query_id, logged_at, session, text, total, experiment, arm, shown \
             FROM search_log WHERE endpoint = 'search' AND logged_at >= $1 \
             AND ($2 IS NULL OR experiment = $2) ORDER BY logged_at, query_id",
            &[Param::Time(since), Param::OptText(experiment)],
        )
        .await
        .map_err(QualityError::db(context))?;
    let clicks: Vec<ClickRow> = tx
        .fetch_all(
            "SELECT c.query_id, c.logged_at, CAST(c.position AS BIGINT) AS position, c.entity \
             FROM click_log c JOIN search_log s ON s.query_id = c.query_id \
             WHERE c.event = 'click' AND s.endpoint = 'search' AND s.logged_at >= $1 \
             AND ($2 IS NULL OR s.experiment = $2) ORDER BY c.logged_at, c.id",
            &[Param::Time(since), Param::OptText(experiment)],
        )
        .await
        .map_err(QualityError::db(context))?;
    tx.commit().await.map_err(QualityError::db(context))?;
    let served = served
        .into_iter()
        .map(|row| ServedQuery {
            shown: shown_of(&row.shown),
            query_id: row.query_id,
            session: row.session,
            text: row.text,
            total: u64::try_from(row.total).unwrap_or(0),
            experiment: row.experiment,
            arm: row.arm,
            at: row.logged_at,
        })
        .collect();
    let clicks = clicks
        .into_iter()
        .filter_map(|row| {
            Some(Click {
                entity: row.entity.parse().ok()?,
                position: usize::try_from(row.position).ok()?,
                query_id: row.query_id,
                at: row.logged_at,
            })
        })
        .collect();
    Ok((served, clicks))
}

/// What a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub searches: u64,
    pub events: u64,
}

impl fmt::Display for Pruned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pruned {} logged answers and {} impressions and clicks",
            self.searches, self.events
        )
    }
}

/// Deletes everything logged before `before`.
pub async fn prune(db: &Db, before: DateTime<Utc>) -> Result<Pruned, QualityError> {
    let context = "pruning the click log";
    let before = before.trunc_subsecs(6);
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context))?;
    let events = tx
        .execute(
            "DELETE FROM click_log WHERE logged_at < $1",
            &[Param::Time(before)],
        )
        .await
        .map_err(QualityError::db(context))?;
    let searches = tx
        .execute(
            "DELETE FROM search_log WHERE logged_at < $1",
            &[Param::Time(before)],
        )
        .await
        .map_err(QualityError::db(context))?;
    tx.commit().await.map_err(QualityError::db(context))?;
    Ok(Pruned { searches, events })
}

/// Positions counted one by one in [`Summary::click_positions`]; later ones share the last
/// bucket.
pub const POSITION_BUCKETS: usize = 10;

/// The quality half of the dashboard, over a window of the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub searches: usize,
    pub zero_result_rate: Option<f64>,
    pub click_through_rate: Option<f64>,
    /// Clicks at positions 1..=10, then one bucket for 11 and later.
    pub click_positions: Vec<usize>,
    /// The most frequent search texts (normalised) with their count.
    pub top_queries: Vec<(String, usize)>,
    /// The most frequent texts that found nothing.
    pub top_zero_result: Vec<(String, usize)>,
}

/// The [`Summary`] of the searches since `since`, with `top` texts per list.
pub async fn summary(db: &Db, since: DateTime<Utc>, top: usize) -> Result<Summary, QualityError> {
    let (served, clicks) = load(db, None, Some(since)).await?;
    Ok(summarize(&served, &clicks, top))
}

/// [`summary`]'s arithmetic.
pub fn summarize(served: &[ServedQuery], clicks: &[Click], top: usize) -> Summary {
    let mut positions = vec![0usize; POSITION_BUCKETS + 1];
    let mut clicked: HashMap<&str, ()> = HashMap::new();
    for click in clicks {
        positions[click.position.clamp(1, POSITION_BUCKETS + 1) - 1] += 1;
        clicked.insert(&click.query_id, ());
    }
    let mut texts: HashMap<String, usize> = HashMap::new();
    let mut zero: HashMap<String, usize> = HashMap::new();
    let mut zero_results = 0;
    let mut with_clicks = 0;
    for query in served {
        let text = normalise_query_text(&query.text);
        if text.is_empty() {
            continue;
        }
        *texts.entry(text.clone()).or_default() += 1;
        if query.total == 0 {
            zero_results += 1;
            *zero.entry(text).or_default() += 1;
        }
        with_clicks += usize::from(clicked.contains_key(query.query_id.as_str()));
    }
    let searches = served.len();
    let share = |n: usize| (searches > 0).then(|| n as f64 / searches as f64);
    Summary {
        searches,
        zero_result_rate: share(zero_results),
        click_through_rate: share(with_clicks),
        click_positions: positions,
        top_queries: most(texts, top),
        top_zero_result: most(zero, top),
    }
}

fn most(counts: HashMap<String, usize>, top: usize) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(top);
    counts
}
