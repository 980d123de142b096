//! Running a query set against several variants side by side, in one process and one pass,
//! and comparing the figures with a saved baseline file.
//!
//! A variant is Disco's engine over one index generation with one prior and one set of
//! ranking settings, or the plain FTS5 [`Baseline`]. Each query is searched by every variant
//! (top 10), scored with [`engine::evaluation`] against the query's graded judgments, and
//! summed up per class. The report prints as a table per variant and serializes as JSON, the
//! form a baseline file keeps; [`Report::regressions`] names every class whose success@1 fell
//! below the saved figure by more than the tolerance, which is what the CI gate fails on.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use engine::cached::ClauseCache;
use engine::evaluation::{Metric, QueryMetrics, Summary};
use engine::layout::Layout;
use engine::prior::Prior;
use engine::search::{SearchRequest, SearchSettings, search};
use engine::source::Snapshot;
use schemas::EntityKey;
use serde_json::{Value, json};

use crate::baseline::Baseline;
use crate::{QualityError, QuerySet};

/// Results per query that the metrics look at.
pub const DEPTH: usize = 10;

/// What answers the queries.
pub enum Answerer {
    /// Disco's engine on one generation, with one prior and one set of settings.
    Disco {
        snapshot: Snapshot,
        layout: Arc<Layout>,
        prior: Option<Arc<dyn Prior>>,
        settings: SearchSettings,
        clauses: Arc<ClauseCache>,
    },
    /// SQLite FTS5 bm25 over names and owners' names.
    Baseline(Baseline),
}

impl Answerer {
    /// Disco's engine over `snapshot` (its layout worked out once here).
    pub fn disco(
        snapshot: Snapshot,
        prior: Option<Arc<dyn Prior>>,
        settings: SearchSettings,
    ) -> Result<Answerer, QualityError> {
        let layout = Layout::from_definitions(&snapshot.definitions)
            .map_err(|e| QualityError::Search(e.to_string()))?;
        Ok(Answerer::Disco {
            snapshot,
            layout: Arc::new(layout),
            prior,
            settings,
            clauses: Arc::new(ClauseCache::default()),
        })
    }

    async fn answer(&self, text: &str) -> Result<Vec<EntityKey>, QualityError> {
        match self {
            Answerer::Disco {
                snapshot,
                layout,
                prior,
                settings,
                clauses,
            } => {
                let request = SearchRequest {
                    text: text.to_string(),
                    limit: DEPTH,
                    ..SearchRequest::default()
                };
                let outcome = search(
                    &snapshot.searcher,
                    layout,
                    prior.clone(),
                    settings,
                    &request,
                    Some(clauses),
                )
                .map_err(|e| QualityError::Search(e.to_string()))?;
                Ok(outcome.hits.into_iter().map(|hit| hit.key).collect())
            }
            Answerer::Baseline(baseline) => Ok(baseline.search(text, DEPTH).await?.0),
        }
    }
}

/// One column of a run: a name people can read (`live`, `rank=none`, `gen=3`, `baseline`) and
/// what answers under it.
pub struct Variant {
    pub label: String,
    pub answerer: Answerer,
}

/// The figures of one run: a summary per variant, in the order the variants were given.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub set: String,
    pub variants: Vec<(String, Summary)>,
    /// Known-item queries whose intended entity was not first, per variant, in set order:
    /// where to look for the causes.
    pub misses: Vec<Miss>,
}

/// A known-item query a variant did not answer first.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub variant: String,
    pub class: String,
    pub text: String,
    pub intended: EntityKey,
    /// The intended entity's rank (1-based) within the top [`DEPTH`], if it was there.
    pub rank: Option<usize>,
    /// What came first instead (none: no result at all).
    pub first: Option<EntityKey>,
}

/// Searches every query of `set` with every variant.
pub async fn run(set: &QuerySet, variants: &[Variant]) -> Result<Report, QualityError> {
    let mut summaries: Vec<Summary> = variants.iter().map(|_| Summary::default()).collect();
    let mut misses = Vec::new();
    for query in &set.queries {
        let judgments = query.graded().map_err(|e| {
            QualityError::Invalid(format!("query `{}` of set {}: {e}", query.text, set.name))
        })?;
        for (variant, summary) in variants.iter().zip(&mut summaries) {
            let started = Instant::now();
            let results = variant.answerer.answer(&query.text).await?;
            let took = started.elapsed();
            summary.add(
                &query.class,
                &QueryMetrics::measure(&results, &judgments),
                took,
            );
            if let Some(intended) = query.intended
                && results.first() != Some(&intended)
            {
                misses.push(Miss {
                    variant: variant.label.clone(),
                    class: query.class.clone(),
                    text: query.text.clone(),
                    intended,
                    rank: results.iter().position(|k| *k == intended).map(|i| i + 1),
                    first: results.first().copied(),
                });
            }
        }
    }
    Ok(Report {
        set: set.name.clone(),
        variants: variants
            .iter()
            .map(|v| v.label.clone())
            .zip(summaries)
            .collect(),
        misses,
    })
}

/// A class whose gated figure fell below its saved value by more than the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    pub variant: String,
    pub class: String,
    /// The figure compared (`success@1`, `within_3`).
    pub figure: String,
    pub saved: f64,
    pub now: f64,
}

impl fmt::Display for Regression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} / {}: {} {:.3} < saved {:.3}",
            self.variant, self.class, self.figure, self.now, self.saved
        )
    }
}

/// Every (variant, class) of the saved report `saved` whose `figure` is lower in `now` by more
/// than `tolerance`; a variant or class only one side has is not compared. Both reports have
/// the shape `{"variants": {label: {class: {figure: value}}}}`.
pub fn regressions(now: &Value, saved: &Value, figure: &str, tolerance: f64) -> Vec<Regression> {
    let mut found = Vec::new();
    let Some(saved_variants) = saved["variants"].as_object() else {
        return found;
    };
    for (variant, classes) in saved_variants {
        let Some(classes) = classes.as_object() else {
            continue;
        };
        for (class, row) in classes {
            let (Some(saved), Some(current)) = (
                row[figure].as_f64(),
                now["variants"][variant][class][figure].as_f64(),
            ) else {
                continue;
            };
            if current < saved - tolerance {
                found.push(Regression {
                    variant: variant.clone(),
                    class: class.clone(),
                    figure: figure.to_string(),
                    saved,
                    now: current,
                });
            }
        }
    }
    found
}

impl Report {
    /// The report as JSON: `{"set", "variants": {label: {class: {metric: value}}}}`; `overall`
    /// is a class of its own. This is also the form of a saved baseline file.
    pub fn to_json(&self) -> Value {
        let mut variants = serde_json::Map::new();
        for (label, summary) in &self.variants {
            let mut classes = serde_json::Map::new();
            let rows = summary
                .classes()
                .map(|(class, stats)| (class.to_string(), stats))
                .chain([("overall".to_string(), summary.overall())]);
            for (class, stats) in rows {
                let mut row = serde_json::Map::new();
                for metric in Metric::ALL {
                    row.insert(metric.label().to_string(), json!(stats.mean(metric)));
                }
                row.insert("zero_result_rate".into(), json!(stats.zero_result_rate()));
                for (name, p) in [("p50_ms", 50.0), ("p99_ms", 99.0)] {
                    let ms = stats.latency(p).map(|d| d.as_secs_f64() * 1e3);
                    row.insert(name.into(), json!(ms));
                }
                row.insert("n".into(), json!(stats.count()));
                classes.insert(class, Value::Object(row));
            }
            variants.insert(label.clone(), Value::Object(classes));
        }
        json!({ "set": self.set, "variants": variants })
    }

    /// Every (variant, class) of `saved` that this run also has and whose success@1 is lower
    /// now by more than `tolerance`. A variant or class the saved file lacks is not compared.
    pub fn regressions(&self, saved: &Value, tolerance: f64) -> Vec<Regression> {
        regressions(&self.to_json(), saved, Metric::Success1.label(), tolerance)
    }
}

/// success@1 per class with one column per variant, then each variant's full table.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut classes: BTreeMap<String, ()> = BTreeMap::new();
        for (_, summary) in &self.variants {
            for (class, _) in summary.classes() {
                classes.insert(class.to_string(), ());
            }
        }
        writeln!(f, "set {}: success@1 by class", self.set)?;
        write!(f, "{:<14}", "class")?;
        for (label, _) in &self.variants {
            write!(f, " {label:>12}")?;
        }
        writeln!(f)?;
        let rows = classes.keys().map(|c| c.as_str()).chain(["overall"]);
        for class in rows {
            write!(f, "{class:<14}")?;
            for (_, summary) in &self.variants {
                let stats = if class == "overall" {
                    Some(summary.overall())
                } else {
                    summary.class(class)
                };
                match stats.and_then(|s| s.mean(Metric::Success1)) {
                    Some(value) => write!(f, " {value:>12.3}")?,
                    None => write!(f, " {:>12}", "-")?,
                }
            }
            writeln!(f)?;
        }
        for (label, summary) in &self.variants {
            writeln!(f, "\n{label}\n{summary}")?;
        }
        Ok(())
    }
}
