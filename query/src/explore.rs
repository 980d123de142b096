//! Explore: recent public tracks worth a look, optionally of one genre, when nobody typed
//! anything. Score = (floor + prior strength) × ½^(age / half-life).

use std::sync::Arc;
use std::time::Duration;

use tantivy::Searcher;

use schemas::EntityKind;

use crate::blend::Recency;
use crate::collect::{self, CountByKind};
use crate::compile;
use crate::highlight::escape;
use crate::layout::Layout;
use crate::prior::Prior;
use crate::search::{Hit, SearchOutcome};

/// Explore's `limit` tracks at time `now_micros` (µs since the epoch).
pub fn explore(
    searcher: &Searcher,
    layout: &Layout,
    prior: Option<Arc<dyn Prior>>,
    recency: Recency,
    genre: Option<&str>,
    limit: usize,
    now_micros: i64,
) -> tantivy::Result<SearchOutcome> {
    let mut outcome = SearchOutcome {
        counts: EntityKind::ALL.iter().map(|k| (*k, 0)).collect(),
        ..SearchOutcome::default()
    };
    let Some(query) = compile::every(layout, EntityKind::Track, genre) else {
        return Ok(outcome);
    };
    let counts = searcher.search(&*query, &CountByKind)?;
    outcome.total = counts.iter().sum();
    outcome.counts = EntityKind::ALL
        .iter()
        .zip(counts)
        .map(|(k, n)| (*k, n))
        .collect();
    let top = collect::top(searcher, &*query, limit, prior, move |facts, doc, _| {
        let age_micros = facts
            .created_micros(doc)
            .map_or(i64::MAX, |t| now_micros.saturating_sub(t));
        let age = Duration::from_micros(age_micros.max(0).unsigned_abs());
        recency.score(facts.strength(doc), age)
    })?;
    for (score, address) in top {
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            outcome.hits.push(Hit {
                key: stored.key,
                highlight: escape(&stored.title),
                title: stored.title,
                subtitle: stored.subtitle,
                score,
                fuzzy: false,
            });
        }
    }
    Ok(outcome)
}
