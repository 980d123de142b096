//! One search, start to end: understand the text, match exactly, fill in with fuzzy matches when
//! exact finds few, blend each text score with the prior, page, and read the hits for display.
//! Exact matches always rank above fuzzy fill-ins; within each tier the blend orders.

use std::collections::BTreeMap;
use std::sync::Arc;

use tantivy::Searcher;

use schemas::{EntityKey, EntityKind};

use crate::blend::Blend;
use crate::collect::{self, CountByKind, KindCounts};
use crate::compile::{self, Filters, Matching};
use crate::highlight::highlight;
use crate::language::{self, UserQuery};
use crate::layout::Layout;
use crate::prior::Prior;

/// What to search for (already validated against the contract's limits).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub kind: Option<EntityKind>,
    pub genre: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// How a search behaves; part of the service's configuration.
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    pub blend: Blend,
    /// Fuzzy matching fills in when exact matching finds fewer results than this.
    pub fuzzy_below: usize,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            blend: Blend::default(),
            fuzzy_below: 10,
        }
    }
}

/// One result, ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: EntityKey,
    pub title: String,
    pub subtitle: String,
    pub score: f32,
    /// HTML: escaped text with `<mark>` around matched words.
    pub highlight: String,
    /// Found only by typo-tolerant matching.
    pub fuzzy: bool,
}

/// The answer to one search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchOutcome {
    /// Matches of the request's scope (its kind, or all kinds).
    pub total: u64,
    /// Matches per kind for the same text and genre, whatever the kind filter.
    pub counts: BTreeMap<EntityKind, u64>,
    pub hits: Vec<Hit>,
    /// Whether fuzzy fill-ins were searched for.
    pub fuzzy: bool,
}

/// Runs `request` on `searcher`. Errors are the index's own (I/O, corruption), never the text's.
pub fn search(
    searcher: &Searcher,
    layout: &Layout,
    prior: Option<Arc<dyn Prior>>,
    settings: &SearchSettings,
    request: &SearchRequest,
) -> tantivy::Result<SearchOutcome> {
    let user = language::parse(&request.text);
    let mut outcome = SearchOutcome {
        counts: EntityKind::ALL.iter().map(|k| (*k, 0)).collect(),
        ..SearchOutcome::default()
    };
    if user.is_empty() {
        return Ok(outcome);
    }
    let everywhere = Filters {
        kind: None,
        genre: request.genre.as_deref(),
    };
    let scoped = Filters {
        kind: request.kind,
        ..everywhere
    };
    let Some(exact_all) = compile::compile(&user, layout, everywhere, Matching::Exact) else {
        return Ok(outcome);
    };
    let mut counts = searcher.search(&*exact_all, &CountByKind)?;
    let exact_total = scope_total(&counts, request.kind);

    let wanted = request.offset + request.limit;
    let blend = settings.blend;
    let scorer = move |facts: &collect::SegmentFacts, doc, text| {
        blend.score(text, facts.strength(prior.as_deref(), doc))
    };
    let mut ranked: Vec<(f32, tantivy::DocAddress, bool)> = Vec::new();
    if let Some(exact) = compile::compile(&user, layout, scoped, Matching::Exact) {
        let top = collect::top(
            searcher,
            &*exact,
            wanted.min(exact_total as usize),
            scorer.clone(),
        )?;
        ranked.extend(top.into_iter().map(|(s, a)| (s, a, false)));
    }

    if exact_total < settings.fuzzy_below as u64 {
        outcome.fuzzy = true;
        if let Some(fuzzy_all) = compile::compile(&user, layout, everywhere, Matching::Fuzzy) {
            let fill_all = compile::minus(fuzzy_all, exact_all.box_clone());
            let fill_counts = searcher.search(&*fill_all, &CountByKind)?;
            add(&mut counts, &fill_counts);
            let still_wanted = wanted.saturating_sub(ranked.len());
            if still_wanted > 0
                && let (Some(fuzzy), Some(exact)) = (
                    compile::compile(&user, layout, scoped, Matching::Fuzzy),
                    compile::compile(&user, layout, scoped, Matching::Exact),
                )
            {
                let fill = compile::minus(fuzzy, exact);
                let top = collect::top(searcher, &*fill, still_wanted, scorer)?;
                ranked.extend(top.into_iter().map(|(s, a)| (s, a, true)));
            }
        }
    }

    outcome.total = scope_total(&counts, request.kind);
    outcome.counts = EntityKind::ALL
        .iter()
        .zip(counts)
        .map(|(k, n)| (*k, n))
        .collect();
    for (score, address, fuzzy) in ranked.into_iter().skip(request.offset).take(request.limit) {
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            let highlight = highlight(layout, &user, &stored, fuzzy);
            outcome.hits.push(Hit {
                key: stored.key,
                title: stored.title,
                subtitle: stored.subtitle,
                score,
                highlight,
                fuzzy,
            });
        }
    }
    Ok(outcome)
}

/// Parses and returns the query as the service understood it (for logs and tests).
pub fn understand(text: &str) -> UserQuery {
    language::parse(text)
}

fn scope_total(counts: &KindCounts, kind: Option<EntityKind>) -> u64 {
    match kind {
        Some(kind) => EntityKind::ALL
            .iter()
            .zip(counts)
            .find(|(k, _)| **k == kind)
            .map_or(0, |(_, n)| *n),
        None => counts.iter().sum(),
    }
}

fn add(total: &mut KindCounts, more: &KindCounts) {
    for (t, n) in total.iter_mut().zip(more) {
        *t += n;
    }
}
