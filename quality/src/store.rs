//! Judged query sets kept in the site's database (`eval_query_sets`, `eval_queries`,
//! `eval_judgments`; migration `0003_eval`), and their JSON Lines form for people and files.
//!
//! The database is where judgments live so raters, the known-item generator and the click
//! log all add to one place that every later run reads; JSONL is how a set travels (review,
//! version control, another site). Both dialects run the same statements: each is written
//! once with `$n` parameters, which SQLite (through sqlx) binds by number too.
//!
//! Judgments are only ever appended. A later judgment of an entity supersedes an earlier one
//! when a run reads the set ([`EvalQuery::graded`]), so changing one's mind loses no history.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use quality::store::{self, Replace};
//!
//! let db = schemas::db::Db::connect("sqlite://data/disco.db").await?;
//! db.migrate().await?;
//! let text = std::fs::read_to_string("known-items.jsonl")?;
//! let report = store::import_jsonl(&db, &text, "known-items.jsonl", Replace::No).await?;
//! println!("{} sets, {} queries, {} judgments", report.sets, report.queries, report.judgments);
//!
//! let set = store::load_set(&db, "known-items").await?;
//! store::export_jsonl(&set, &mut std::io::stdout().lock())?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::sql::{Param, Tx};
use crate::{EvalQuery, Judgment, QualityError, QuerySet, Source};

/// What saving a set does when one of the same name is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Delete the stored set (its queries and judgments with it) and store the new one.
    Yes,
    /// Refuse, so a set's judgments are never lost by accident (`--replace` opts in).
    No,
}

/// The database id of a stored query set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetId(pub i64);

/// How many judgments a set holds from each [`Source`]: stored rows, superseded ones included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JudgmentCounts {
    pub rater: usize,
    pub generated: usize,
    pub clicks: usize,
}

impl JudgmentCounts {
    /// The count from one source.
    pub fn of(&self, source: Source) -> usize {
        match source {
            Source::Rater => self.rater,
            Source::Generated => self.generated,
            Source::Clicks => self.clicks,
        }
    }

    /// Every judgment, whatever its source.
    pub fn total(&self) -> usize {
        self.rater + self.generated + self.clicks
    }
}

/// One line of `disco eval sets`: what a stored set holds, without reading it whole.
#[derive(Debug, Clone, PartialEq)]
pub struct SetSummary {
    pub name: String,
    pub queries: usize,
    pub judgments: JudgmentCounts,
    pub created_at: DateTime<Utc>,
}

/// What [`import_jsonl`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub sets: usize,
    pub queries: usize,
    pub judgments: usize,
}

/// Stores `set` under its name, its queries in order and each query's judgments, in one
/// transaction: a failure part way stores nothing. With [`Replace::No`] an existing set of that
/// name is refused; with [`Replace::Yes`] it is deleted first (its queries and judgments
/// cascade). Times are kept to the microsecond, PostgreSQL's precision, in both dialects.
pub async fn save_set(db: &Db, set: &QuerySet, replace: Replace) -> Result<SetId, QualityError> {
    validate(set)?;
    let context = || format!("saving query set `{}`", set.name);
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let id = save_in(&mut tx, set, replace, now()).await?;
    tx.commit().await.map_err(QualityError::db(context()))?;
    Ok(id)
}

/// The stored set `name`: queries in position order, each query's judgments in the order they
/// were added. [`QualityError::UnknownSet`] when there is none.
pub async fn load_set(db: &Db, name: &str) -> Result<QuerySet, QualityError> {
    let context = || format!("reading query set `{name}`");
    // One statement, so a set being replaced meanwhile is read wholly before or wholly after.
    // The LEFT JOINs keep a set without queries (one row of NULLs) apart from a missing set.
    const SQL: &str = "SELECT q.id AS query_id, q.text, q.class, q.intended_kind, q.intended_id, \
         j.entity_kind, j.entity_id, j.grade, j.source, j.who, j.judged_at \
         FROM eval_query_sets s \
         LEFT JOIN eval_queries q ON q.set_id = s.id \
         LEFT JOIN eval_judgments j ON j.query_id = q.id \
         WHERE s.name = $1 \
         ORDER BY q.position, j.id";
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let rows: Vec<LoadRow> = tx
        .fetch_all(SQL, &[Param::Text(name)])
        .await
        .map_err(QualityError::db(context()))?;
    tx.commit().await.map_err(QualityError::db(context()))?;
    if rows.is_empty() {
        return Err(QualityError::UnknownSet(name.to_string()));
    }

    let mut queries: Vec<EvalQuery> = Vec::new();
    let mut last_query = None;
    for row in rows {
        let Some(query_id) = row.query_id else {
            continue; // the set has no queries
        };
        if last_query != Some(query_id) {
            last_query = Some(query_id);
            let intended = match (row.intended_kind.as_deref(), row.intended_id) {
                (Some(kind), Some(id)) => Some(stored_key(name, kind, id)?),
                _ => None,
            };
            queries.push(EvalQuery {
                text: row.text.unwrap_or_default(),
                class: row.class.unwrap_or_default(),
                intended,
                judgments: Vec::new(),
            });
        }
        if let (Some(kind), Some(id), Some(grade), Some(source), Some(who), Some(at)) = (
            row.entity_kind.as_deref(),
            row.entity_id,
            row.grade,
            row.source.as_deref(),
            row.who,
            row.judged_at,
        ) {
            let judgment = Judgment {
                entity: stored_key(name, kind, id)?,
                grade: u8::try_from(grade).map_err(|_| corrupt(name, format!("grade {grade}")))?,
                source: Source::parse(source)
                    .ok_or_else(|| corrupt(name, format!("source `{source}`")))?,
                who,
                at,
            };
            if let Some(query) = queries.last_mut() {
                query.judgments.push(judgment);
            }
        }
    }
    Ok(QuerySet {
        name: name.to_string(),
        queries,
    })
}

/// Every stored set, by name, with its query count and judgment counts by source.
pub async fn list_sets(db: &Db) -> Result<Vec<SetSummary>, QualityError> {
    const CONTEXT: &str = "listing query sets";
    // One statement: the counts of a set agree with each other even while it is replaced.
    const SQL: &str = "SELECT s.name, s.created_at, \
         (SELECT count(*) FROM eval_queries q WHERE q.set_id = s.id) AS queries, \
         (SELECT count(*) FROM eval_judgments j JOIN eval_queries q ON q.id = j.query_id \
          WHERE q.set_id = s.id AND j.source = 'rater') AS rater, \
         (SELECT count(*) FROM eval_judgments j JOIN eval_queries q ON q.id = j.query_id \
          WHERE q.set_id = s.id AND j.source = 'generated') AS generated, \
         (SELECT count(*) FROM eval_judgments j JOIN eval_queries q ON q.id = j.query_id \
          WHERE q.set_id = s.id AND j.source = 'clicks') AS clicks \
         FROM eval_query_sets s ORDER BY s.name";
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(CONTEXT))?;
    let rows: Vec<SummaryRow> = tx
        .fetch_all(SQL, &[])
        .await
        .map_err(QualityError::db(CONTEXT))?;
    tx.commit().await.map_err(QualityError::db(CONTEXT))?;
    let count = |n: i64| usize::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .map(|row| SetSummary {
            name: row.name,
            queries: count(row.queries),
            judgments: JudgmentCounts {
                rater: count(row.rater),
                generated: count(row.generated),
                clicks: count(row.clicks),
            },
            created_at: row.created_at,
        })
        .collect())
}

/// Appends `judgment` to the query at `position` (0-based, the index into
/// [`QuerySet::queries`]) of set `set`. Earlier judgments stay: a later judgment of the same
/// entity supersedes them when the set is read ([`EvalQuery::graded`]), so a rater changing
/// their mind keeps the history.
pub async fn add_judgment(
    db: &Db,
    set: &str,
    position: usize,
    judgment: &Judgment,
) -> Result<(), QualityError> {
    check_grade(judgment)?;
    let context = || format!("adding a judgment to query set `{set}`");
    // Finding the query and appending are one statement: no query id goes stale in between.
    const INSERT: &str = "INSERT INTO eval_judgments \
         (query_id, entity_kind, entity_id, grade, source, who, judged_at) \
         SELECT q.id, $3, $4, $5, $6, $7, $8 \
         FROM eval_queries q JOIN eval_query_sets s ON s.id = q.set_id \
         WHERE s.name = $1 AND q.position = $2";
    let Ok(position_param) = i32::try_from(position) else {
        return Err(no_such_position(db, set, position).await?);
    };
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let added = tx
        .execute(
            INSERT,
            &[
                Param::Text(set),
                Param::Int32(position_param),
                Param::Text(judgment.entity.kind.as_str()),
                Param::Int(judgment.entity.id),
                Param::Int32(i32::from(judgment.grade)),
                Param::Text(judgment.source.as_str()),
                Param::Text(&judgment.who),
                Param::Time(judgment.at.trunc_subsecs(6)),
            ],
        )
        .await
        .map_err(QualityError::db(context()))?;
    tx.commit().await.map_err(QualityError::db(context()))?;
    if added == 0 {
        return Err(no_such_position(db, set, position).await?);
    }
    Ok(())
}

/// Deletes set `name` with its queries and judgments. `false` when there was none.
pub async fn delete_set(db: &Db, name: &str) -> Result<bool, QualityError> {
    let context = || format!("deleting query set `{name}`");
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let deleted = tx
        .execute(
            "DELETE FROM eval_query_sets WHERE name = $1",
            &[Param::Text(name)],
        )
        .await
        .map_err(QualityError::db(context()))?;
    tx.commit().await.map_err(QualityError::db(context()))?;
    Ok(deleted > 0)
}

/// Writes `set` as JSON Lines, one query a line:
/// `{"set":"…","text":"…","class":"…","intended":"track:42","judgments":[…]}` (`intended` only
/// when there is one). A line carries its set's name so files can be concatenated, grepped and
/// edited line by line; [`parse_jsonl`] reads it back.
pub fn export_jsonl(set: &QuerySet, out: &mut impl std::io::Write) -> std::io::Result<()> {
    for query in &set.queries {
        let line = LineOut {
            set: &set.name,
            query,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Reads JSON Lines written by [`export_jsonl`] (or by hand): sets in the order their names
/// first appear, each set's queries in line order wherever its lines are. Blank lines are
/// skipped. The first bad line is reported as [`QualityError::Jsonl`] with `origin` (a file
/// name, for the message) and its 1-based line number, so nothing of a bad file is stored.
pub fn parse_jsonl(text: &str, origin: &str) -> Result<Vec<QuerySet>, QualityError> {
    let mut sets: Vec<QuerySet> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| QualityError::Jsonl {
            origin: origin.to_string(),
            line: number + 1,
            reason,
        };
        let parsed: LineIn = serde_json::from_str(line).map_err(|e| bad(json_reason(&e)))?;
        if parsed.set.trim().is_empty() {
            return Err(bad("`set` is empty".to_string()));
        }
        if parsed.query.text.trim().is_empty() {
            return Err(bad("`text` is empty".to_string()));
        }
        if let Some(judgment) = parsed.query.judgments.iter().find(|j| j.grade > MAX_GRADE) {
            return Err(bad(grade_reason(judgment)));
        }
        let at = *index.entry(parsed.set.clone()).or_insert_with(|| {
            sets.push(QuerySet {
                name: parsed.set.clone(),
                queries: Vec::new(),
            });
            sets.len() - 1
        });
        sets[at].queries.push(parsed.query);
    }
    Ok(sets)
}

/// Parses `text` ([`parse_jsonl`]) and stores every set in it ([`save_set`]), all in one
/// transaction: a bad line, or with [`Replace::No`] one set that already exists, stores nothing.
pub async fn import_jsonl(
    db: &Db,
    text: &str,
    origin: &str,
    replace: Replace,
) -> Result<ImportReport, QualityError> {
    let sets = parse_jsonl(text, origin)?;
    for set in &sets {
        validate(set)?;
    }
    let context = || format!("importing query sets from {origin}");
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let created_at = now();
    let mut report = ImportReport::default();
    for set in &sets {
        save_in(&mut tx, set, replace, created_at).await?;
        report.sets += 1;
        report.queries += set.queries.len();
        report.judgments += set.queries.iter().map(|q| q.judgments.len()).sum::<usize>();
    }
    tx.commit().await.map_err(QualityError::db(context()))?;
    Ok(report)
}

/// The highest grade: the answer itself. The tables' CHECK says the same.
const MAX_GRADE: u8 = 3;

/// Stores one set inside `tx` (see [`save_set`]).
async fn save_in(
    tx: &mut Tx,
    set: &QuerySet,
    replace: Replace,
    created_at: DateTime<Utc>,
) -> Result<SetId, QualityError> {
    let name = set.name.as_str();
    let context = || format!("saving query set `{name}`");
    match replace {
        Replace::Yes => {
            tx.execute(
                "DELETE FROM eval_query_sets WHERE name = $1",
                &[Param::Text(name)],
            )
            .await
            .map_err(QualityError::db(context()))?;
        }
        Replace::No => {
            let existing: Option<(i64,)> = tx
                .fetch_optional(
                    "SELECT id FROM eval_query_sets WHERE name = $1",
                    &[Param::Text(name)],
                )
                .await
                .map_err(QualityError::db(context()))?;
            if existing.is_some() {
                return Err(exists(name));
            }
        }
    }
    let (set_id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO eval_query_sets (name, created_at) VALUES ($1, $2) RETURNING id",
            &[Param::Text(name), Param::Time(created_at)],
        )
        .await
        .map_err(|e| match &e {
            // Another writer stored the name between our check and our insert.
            sqlx::Error::Database(db) if db.is_unique_violation() => exists(name),
            _ => QualityError::db(context())(e),
        })?;
    for (position, query) in set.queries.iter().enumerate() {
        let position = i32::try_from(position)
            .map_err(|_| QualityError::Invalid(format!("query set `{name}` is too large")))?;
        let (query_id,): (i64,) = tx
            .fetch_one(
                "INSERT INTO eval_queries \
                 (set_id, position, text, class, intended_kind, intended_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    Param::Int(set_id),
                    Param::Int32(position),
                    Param::Text(&query.text),
                    Param::Text(&query.class),
                    Param::OptText(query.intended.map(|k| k.kind.as_str())),
                    Param::OptInt(query.intended.map(|k| k.id)),
                ],
            )
            .await
            .map_err(QualityError::db(context()))?;
        for judgment in &query.judgments {
            tx.execute(
                "INSERT INTO eval_judgments \
                 (query_id, entity_kind, entity_id, grade, source, who, judged_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Param::Int(query_id),
                    Param::Text(judgment.entity.kind.as_str()),
                    Param::Int(judgment.entity.id),
                    Param::Int32(i32::from(judgment.grade)),
                    Param::Text(judgment.source.as_str()),
                    Param::Text(&judgment.who),
                    Param::Time(judgment.at.trunc_subsecs(6)),
                ],
            )
            .await
            .map_err(QualityError::db(context()))?;
        }
    }
    Ok(SetId(set_id))
}

/// Refuses what the tables would refuse, with a message that says which query is at fault
/// rather than which constraint failed.
fn validate(set: &QuerySet) -> Result<(), QualityError> {
    if set.name.trim().is_empty() {
        return Err(QualityError::Invalid(
            "a query set needs a name".to_string(),
        ));
    }
    for (position, query) in set.queries.iter().enumerate() {
        for judgment in &query.judgments {
            check_grade(judgment).map_err(|e| {
                QualityError::Invalid(format!(
                    "query set `{}`, query {position} (`{}`): {e}",
                    set.name, query.text
                ))
            })?;
        }
    }
    Ok(())
}

fn check_grade(judgment: &Judgment) -> Result<(), QualityError> {
    if judgment.grade > MAX_GRADE {
        return Err(QualityError::Invalid(grade_reason(judgment)));
    }
    Ok(())
}

fn grade_reason(judgment: &Judgment) -> String {
    format!(
        "grade {} of {} is out of range (grades run 0 to {MAX_GRADE})",
        judgment.grade, judgment.entity
    )
}

fn exists(name: &str) -> QualityError {
    QualityError::Invalid(format!("query set `{name}` exists; pass --replace"))
}

/// Why `add_judgment` found no query: no such set, or no such position in it.
async fn no_such_position(
    db: &Db,
    set: &str,
    position: usize,
) -> Result<QualityError, QualityError> {
    let summary = list_sets(db).await?.into_iter().find(|s| s.name == set);
    Ok(match summary {
        None => QualityError::UnknownSet(set.to_string()),
        Some(summary) if summary.queries == 0 => {
            QualityError::Invalid(format!("query set `{set}` has no queries"))
        }
        Some(summary) => QualityError::Invalid(format!(
            "query set `{set}` has no query at position {position} (positions run 0 to {})",
            summary.queries - 1
        )),
    })
}

/// A key read back from the tables, which only ever hold keys this module wrote.
fn stored_key(set: &str, kind: &str, id: i64) -> Result<EntityKey, QualityError> {
    let kind: EntityKind = kind
        .parse()
        .map_err(|_| corrupt(set, format!("entity kind `{kind}`")))?;
    Ok(EntityKey::new(kind, id))
}

fn corrupt(set: &str, what: String) -> QualityError {
    QualityError::Invalid(format!("query set `{set}` holds an unreadable {what}"))
}

/// Now, to the microsecond (see [`save_set`]).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// serde_json's message without its position: every line is parsed alone, so its "line 1"
/// would mislead; the column still helps.
fn json_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(bare) => format!("{bare} (column {})", error.column()),
        None => message,
    }
}

/// One JSONL line as written: the set's name, then the query's own fields.
#[derive(Serialize)]
struct LineOut<'a> {
    set: &'a str,
    #[serde(flatten)]
    query: &'a EvalQuery,
}

/// One JSONL line as read.
#[derive(Deserialize)]
struct LineIn {
    set: String,
    #[serde(flatten)]
    query: EvalQuery,
}

/// A row of [`load_set`]'s statement: a query and one of its judgments, either possibly NULL.
#[derive(FromRow)]
struct LoadRow {
    query_id: Option<i64>,
    text: Option<String>,
    class: Option<String>,
    intended_kind: Option<String>,
    intended_id: Option<i64>,
    entity_kind: Option<String>,
    entity_id: Option<i64>,
    grade: Option<i32>,
    source: Option<String>,
    who: Option<String>,
    judged_at: Option<DateTime<Utc>>,
}

/// A row of [`list_sets`]'s statement.
#[derive(FromRow)]
struct SummaryRow {
    name: String,
    created_at: DateTime<Utc>,
    queries: i64,
    rater: i64,
    generated: i64,
    clicks: i64,
}
