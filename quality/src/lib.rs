//! Knowing whether Disco's ranking is better, offline: judged query sets kept in the site's
//! database ([`store`]), known-item sets drawn from the catalog ([`generate`]), and runs of a
//! set against several variants side by side — rank versions, `rank=none`, named ranking
//! settings, index generations and a plain SQLite FTS5 baseline ([`run`], [`baseline`]) —
//! scored with [`engine::evaluation`] per class of query and gated against a saved baseline.
//! Typeahead is measured the same way ([`typeahead`]): each known-item query typed key by key
//! into the suggester, beside a plain prefix trie and a plain fuzzy scan.
//!
//! It never writes an index and never changes the site's own tables; it reads them to draw
//! queries and writes only its own (`eval_*`).

pub mod baseline;
pub mod click_log;
pub mod clicks;
pub mod experiments;
pub mod generate;
pub mod interleave;
pub mod run;
mod sql;
pub mod store;
pub mod typeahead;
pub mod variant;

use schemas::EntityKey;
use serde::{Deserialize, Serialize};

/// Where a judgment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A person's thumbs up or down.
    Rater,
    /// Drawn from the catalog with its answer known (a known-item query).
    Generated,
    /// Derived from the click log.
    Clicks,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rater => "rater",
            Source::Generated => "generated",
            Source::Clicks => "clicks",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        match text {
            "rater" => Some(Source::Rater),
            "generated" => Some(Source::Generated),
            "clicks" => Some(Source::Clicks),
            _ => None,
        }
    }
}

/// One graded judgment: how well `entity` answers a query (0 = not at all, 3 = the answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    #[serde(with = "key_text")]
    pub entity: EntityKey,
    pub grade: u8,
    pub source: Source,
    /// Who judged (a rater's name, `generate`, `clicks`).
    pub who: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// One query of a set: the text as a person would type it, its class (what kind of query it
/// is, for per-class figures) and, for a known-item query, the entity it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalQuery {
    pub text: String,
    pub class: String,
    #[serde(
        default,
        with = "key_text::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub intended: Option<EntityKey>,
    #[serde(default)]
    pub judgments: Vec<Judgment>,
}

impl EvalQuery {
    /// The graded judgments as the metrics take them: every judgment, and the intended entity
    /// at grade 3 when nobody judged it. When one entity was judged more than once, the latest
    /// judgment counts.
    pub fn graded(
        &self,
    ) -> Result<engine::evaluation::Judgments, engine::evaluation::JudgmentError> {
        let mut latest: std::collections::BTreeMap<EntityKey, &Judgment> = Default::default();
        for judgment in &self.judgments {
            let entry = latest.entry(judgment.entity).or_insert(judgment);
            if judgment.at >= entry.at {
                *entry = judgment;
            }
        }
        let mut grades: Vec<(EntityKey, u8)> =
            latest.values().map(|j| (j.entity, j.grade)).collect();
        if let Some(intended) = self.intended
            && !latest.contains_key(&intended)
        {
            grades.push((intended, engine::evaluation::MAX_GRADE));
        }
        engine::evaluation::Judgments::new(grades)
    }
}

/// A named set of queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySet {
    pub name: String,
    pub queries: Vec<EvalQuery>,
}

/// Everything that can go wrong keeping, drawing or running query sets.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("{context}: {source}")]
    Database {
        context: String,
        source: sqlx::Error,
    },
    #[error("no query set named `{0}` (see `disco eval sets`)")]
    UnknownSet(String),
    #[error("{origin}: line {line}: {reason}")]
    Jsonl {
        origin: String,
        line: usize,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("searching: {0}")]
    Search(String),
    #[error("the baseline index: {0}")]
    Baseline(String),
    #[error("{0}")]
    Invalid(String),
}

impl QualityError {
    /// Wraps a database error with what we were doing, for `map_err`.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> QualityError {
        let context = context.into();
        move |source| QualityError::Database { context, source }
    }
}

/// Entity keys as `kind:id` text in JSON (`"track:42"`), the form people read and write.
mod key_text {
    use schemas::EntityKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &EntityKey, out: S) -> Result<S::Ok, S::Error> {
        out.collect_str(key)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<EntityKey, D::Error> {
        let text = String::deserialize(input)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    pub mod optional {
        use schemas::EntityKey;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            key: &Option<EntityKey>,
            out: S,
        ) -> Result<S::Ok, S::Error> {
            match key {
                Some(key) => out.collect_str(key),
                None => out.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            input: D,
        ) -> Result<Option<EntityKey>, D::Error> {
            match Option::<String>::deserialize(input)? {
                Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}
