//! The raw search time of a realistic query mix, in process (no HTTP): the number to set beside
//! the HTTP load test's. The mix comes from the index's own titles and names — whole titles,
//! single words, two-word fragments, owner + title, and titles with a typo — so it needs no
//! outside data.
//!
//! ```no_run
//! # fn run(snapshot: &engine::Snapshot) -> Result<(), Box<dyn std::error::Error>> {
//! let queries = bench::searching::query_mix(snapshot, 2_000, 42)?;
//! let report = bench::searching::run(snapshot, &queries, 3, true, false)?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::query::AllQuery;
use tantivy::schema::Value;
use tantivy::{DocAddress, TantivyDocument};

use engine::cached::ClauseCache;
use engine::layout::{Layout, LayoutError};
use engine::prior::{Memoized, PopularityPrior, Prior};
use engine::search::{self, SearchRequest, SearchSettings};
use engine::source::Snapshot;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("the index has no documents to take queries from")]
    Empty,
}

/// Latency figures of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub queries: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
    /// Searches per second on one thread.
    pub per_second: f64,
    /// Share of searches that needed fuzzy fill-ins.
    pub fuzzy_share: f64,
    pub zero_results: usize,
    /// The slowest searches of the run: time, query, whether it needed fuzzy fill-ins.
    pub slowest: Vec<(Duration, String, bool)>,
    /// Queries of the mix that found nothing (each once).
    pub found_nothing: Vec<String>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{} searches: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms, \
             {:.0} searches/s on one thread; {:.0}% needed fuzzy fill-ins, {} found nothing",
            self.queries,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            ms(self.mean),
            self.per_second,
            self.fuzzy_share * 100.0,
            self.zero_results
        )?;
        if !self.found_nothing.is_empty() {
            write!(f, "\n  found nothing: {:?}", self.found_nothing)?;
        }
        for (time, query, fuzzy) in &self.slowest {
            let tier = if *fuzzy { "fuzzy" } else { "exact" };
            write!(f, "\n  {:8.3} ms  {tier}  {query:?}", ms(*time))?;
        }
        Ok(())
    }
}

/// How many of the slowest searches a report lists.
const SLOWEST: usize = 25;

/// A small deterministic generator, so a mix is the same on every run with the same seed.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `n` queries drawn from the index's display titles and subtitles (seeded, repeatable).
pub fn query_mix(snapshot: &Snapshot, n: usize, seed: u64) -> Result<Vec<String>, BenchError> {
    let searcher = &snapshot.searcher;
    let layout = Layout::from_definitions(&snapshot.definitions)?;
    let sample: Vec<(f32, DocAddress)> =
        searcher.search(&AllQuery, &TopDocs::with_limit(20_000).order_by_score())?;
    let mut names: Vec<(String, String)> = Vec::new();
    for (_, address) in sample {
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let title = text(layout.display_title);
        if !title.trim().is_empty() {
            names.push((title, text(layout.display_subtitle)));
        }
    }
    if names.is_empty() {
        return Err(BenchError::Empty);
    }
    let mut mix = Mix(seed | 1);
    let mut queries = Vec::with_capacity(n);
    while queries.len() < n {
        let (title, subtitle) = &names[mix.below(names.len())];
        let words: Vec<&str> = title.split_whitespace().collect();
        let query = match mix.below(10) {
            0..=2 => title.clone(),
            3..=4 => words[mix.below(words.len())].to_string(),
            5 if words.len() >= 2 => {
                let i = mix.below(words.len() - 1);
                format!("{} {}", words[i], words[i + 1])
            }
            6 if !subtitle.is_empty() && !subtitle.starts_with('@') => {
                format!("{subtitle} {title}")
            }
            _ => typo(title, &mut mix),
        };
        queries.push(query.chars().take(256).collect());
    }
    Ok(queries)
}

/// `text` with two neighbouring letters of one longer word swapped.
fn typo(text: &str, mix: &mut Mix) -> String {
    let mut words: Vec<Vec<char>> = text
        .split_whitespace()
        .map(|w| w.chars().collect())
        .collect();
    let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].len() >= 5).collect();
    if let Some(&i) = long.get(mix.below(long.len().max(1))) {
        let j = 1 + mix.below(words[i].len() - 2);
        words[i].swap(j, j + 1);
    }
    words
        .iter()
        .map(|w| w.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Searches every query `rounds` times (after one warm-up round) and reports latency, with
/// the popularity prior and default settings, 20 results per search as the page asks; with
/// `clause_cache`, frequent words are read from a [`ClauseCache`] as the service does; with
/// `exhaustive`, every match is scored (no pruning of what cannot make the page).
pub fn run(
    snapshot: &Snapshot,
    queries: &[String],
    rounds: usize,
    clause_cache: bool,
    exhaustive: bool,
) -> Result<BenchReport, BenchError> {
    let layout = Layout::from_definitions(&snapshot.definitions)?;
    let settings = SearchSettings {
        exhaustive,
        ..SearchSettings::default()
    };
    let prior: Arc<dyn Prior> = Arc::new(Memoized::new(PopularityPrior::default()));
    // As in the service: one clause cache for every search (the warm-up round fills it).
    let clauses = Arc::new(ClauseCache::default());
    let request = |text: &str| SearchRequest {
        text: text.to_string(),
        limit: 20,
        ..SearchRequest::default()
    };
    let one = |q: &str| {
        let prior = Some(prior.clone());
        let cache = clause_cache.then_some(&clauses);
        search::search(
            &snapshot.searcher,
            &layout,
            prior,
            &settings,
            &request(q),
            cache,
        )
    };
    for q in queries {
        one(q)?;
    }
    let mut times = Vec::with_capacity(queries.len() * rounds.max(1));
    let mut each: Vec<(Duration, &str, bool)> = Vec::with_capacity(times.capacity());
    let (mut fuzzy, mut zero) = (0usize, 0usize);
    let mut found_nothing: Vec<String> = Vec::new();
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        for q in queries {
            let t = Instant::now();
            let outcome = one(q)?;
            times.push(t.elapsed());
            each.push((t.elapsed(), q, outcome.fuzzy));
            fuzzy += usize::from(outcome.fuzzy);
            zero += usize::from(outcome.total == 0);
            if outcome.total == 0 && !found_nothing.iter().any(|n| n == q) {
                found_nothing.push(q.clone());
            }
        }
    }
    let wall = started.elapsed();
    times.sort_unstable();
    let at = |p: f64| {
        times
            .get(((times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let count = times.len();
    each.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    let slowest = each
        .into_iter()
        .take(SLOWEST)
        .map(|(t, q, fuzzy)| (t, q.to_string(), fuzzy))
        .collect();
    Ok(BenchReport {
        queries: count,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: times.last().copied().unwrap_or_default(),
        mean: wall / count.max(1) as u32,
        per_second: count as f64 / wall.as_secs_f64().max(1e-9),
        fuzzy_share: fuzzy as f64 / count.max(1) as f64,
        zero_results: zero,
        slowest,
        found_nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_swap_letters_inside_long_words() {
        let mut mix = Mix(7);
        let t = typo("Enter Sandman", &mut mix);
        assert_ne!(t, "Enter Sandman");
        assert_eq!(t.len(), "Enter Sandman".len());
        assert_eq!(typo("a b", &mut mix), "a b");
    }
}
