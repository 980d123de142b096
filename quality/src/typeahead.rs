//! Typeahead, measured the same way as search: each known-item query of a set is typed
//! keystroke by keystroke against the suggest engine, and for each query we record the first
//! keystroke at which the intended entity is among the top [`DEPTH`] suggestions (and at which
//! rank), and whether the full text finds it. Every lookup is timed.
//!
//! Two plain baselines answer the same keystrokes in the same run:
//!
//! - `prefix-trie`: every searchable name (a user's full name and username), folded like the
//!   suggest keys, in one sorted list; a prefix is answered with the heaviest entities whose
//!   whole name starts with it. No word starts inside names, no typo tolerance.
//! - `fuzzy-scan`: the full text only, against every name: the entities with the smallest
//!   edit distance (optimal string alignment, [`engine::search::edit_distance`], on folded
//!   text) to one of their whole names, ties by weight. It answers no keystrokes.
//!
//! Both order by the weight the suggester's build gives an entity (its prior × its kind's
//! factor), so the three differ in matching, not in popularity.
//!
//! Figures per class and overall ([`KeystrokeStats`]): the share found within 1, 3 and 5 keys
//! and at the full text (for the `misspelled` and `slip` classes the full text is misspelled,
//! so that share is "misspelled full names found"), the share ever found while typing, the
//! mean keys needed and the mean share of the text typed (over the queries found), and lookup
//! latency p50/p99. [`Report`] prints as a table and serializes as JSON, the form a baseline
//! file keeps; [`Report::regressions`] compares the within-3-keys share with a saved file, for
//! the CI gate.

use std::fmt;
use std::time::{Duration, Instant};

use engine::evaluation::percentile;
use schemas::EntityKey;
use serde_json::{Value, json};
use suggest::normalize::key_text;
use suggest::{KindFactors, Record, Suggester};

use crate::QuerySet;
use crate::run::Regression;

/// Suggestions per lookup that count, as a dropdown shows them.
pub const DEPTH: usize = 10;

/// The keystroke counts reported: found within 1, 3 and 5 keys.
pub const WITHIN: [usize; 3] = [1, 3, 5];

/// The keystroke count the CI gate watches ([`Report::regressions`]).
pub const GATED: usize = 3;

/// Every searchable entity's names and weight, for the two plain baselines.
#[derive(Debug, Clone, Default)]
pub struct Names {
    entities: Vec<Entity>,
    /// (folded name, entity ordinal) for every name, sorted by name: the prefix trie.
    sorted: Vec<(String, u32)>,
}

#[derive(Debug, Clone)]
struct Entity {
    key: EntityKey,
    weight: f32,
    /// Folded names, as characters.
    names: Vec<Vec<char>>,
}

impl Names {
    /// From `(entity, its names, its weight)`; names are folded like the suggest keys
    /// ([`suggest::normalize::key_text`]), and names that fold to nothing are left out.
    pub fn new<N: AsRef<str>>(
        entries: impl IntoIterator<Item = (EntityKey, Vec<N>, f32)>,
    ) -> Names {
        let mut entities = Vec::new();
        let mut sorted = Vec::new();
        for (key, names, weight) in entries {
            let ordinal = entities.len() as u32;
            let mut folded: Vec<Vec<char>> = Vec::new();
            for name in &names {
                let name = key_text(name.as_ref());
                let chars: Vec<char> = name.chars().collect();
                if !name.is_empty() && !folded.contains(&chars) {
                    sorted.push((name, ordinal));
                    folded.push(chars);
                }
            }
            entities.push(Entity {
                key,
                weight,
                names: folded,
            });
        }
        sorted.sort_unstable();
        Names { entities, sorted }
    }

    /// From the records a suggest build reads ([`suggest::names_db::load`]), each weighed as
    /// the build weighs it: its prior × its kind's factor (give the suggester's factors).
    pub fn from_records(records: &[Record], factors: &KindFactors) -> Names {
        Names::new(records.iter().map(|record| {
            let weight = factors.weight(record.key.kind, record.prior.unwrap_or(0.0));
            (record.key, record.names().collect::<Vec<_>>(), weight)
        }))
    }

    /// Entities held.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The plain prefix trie: up to `limit` entities one of whose whole folded names starts
    /// with the folded `typed`, heaviest first (ties by key).
    pub fn prefix(&self, typed: &str, limit: usize) -> Vec<EntityKey> {
        let typed = key_text(typed);
        if typed.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut found = self.starting(&typed);
        found.sort_by(|&a, &b| self.heavier_first(a, b));
        found.truncate(limit);
        found
            .into_iter()
            .map(|o| self.entities[o as usize].key)
            .collect()
    }

    /// The plain fuzzy scan: up to `limit` entities by the smallest edit distance of the
    /// folded `typed` to one of their whole folded names, then heaviest first (ties by key).
    pub fn fuzzy(&self, typed: &str, limit: usize) -> Vec<EntityKey> {
        let typed = key_text(typed);
        if typed.is_empty() || limit == 0 {
            return Vec::new();
        }
        let typed: Vec<char> = typed.chars().collect();
        let mut rows = Osa::default();
        // (distance, ordinal), kept in answer order, at most `limit`.
        let mut best: Vec<(usize, u32)> = Vec::with_capacity(limit + 1);
        for (ordinal, entity) in self.entities.iter().enumerate() {
            // A name can enter only at a distance no greater than the last one kept, so the
            // distance is computed only that far.
            let bound = if best.len() == limit {
                best[limit - 1].0
            } else {
                usize::MAX
            };
            let mut nearest = None;
            for name in &entity.names {
                let within = nearest.map_or(bound, |n: usize| n.min(bound));
                if let Some(d) = rows.distance(&typed, name, within) {
                    nearest = Some(d);
                }
            }
            let Some(nearest) = nearest else {
                continue;
            };
            let candidate = (nearest, ordinal as u32);
            let at = best.partition_point(|&kept| {
                kept.0
                    .cmp(&candidate.0)
                    .then_with(|| self.heavier_first(kept.1, candidate.1))
                    .is_lt()
            });
            best.insert(at, candidate);
            best.truncate(limit);
        }
        best.into_iter()
            .map(|(_, o)| self.entities[o as usize].key)
            .collect()
    }

    /// How well any ranking can do within [`GATED`] keys when it cannot tell which of the
    /// names that start the same way is wanted: each of the first [`GATED`] keystrokes shows
    /// [`DEPTH`] entities, all of which start with what was typed by then, so at most
    /// `GATED × DEPTH` of the `n` entities whose name starts with the first [`GATED`] keys
    /// can have been shown, and the wanted one is among them with a chance of at most
    /// `min(1, GATED × DEPTH / n)`. `None` when no name of `intended` starts with those keys
    /// (an owner-led or misspelled start), where the bound says nothing.
    ///
    /// Only a ranking that knows what people look for (popularity, the kind they ask for)
    /// can beat it; on a set drawn uniformly from the catalog, it is the ceiling.
    pub fn blind_ceiling(&self, text: &str, intended: EntityKey) -> Option<f64> {
        let start: String = key_text(text).chars().take(GATED).collect();
        if start.is_empty() {
            return None;
        }
        let entity = self.entities.iter().find(|e| e.key == intended)?;
        let start_chars: Vec<char> = start.chars().collect();
        if !entity.names.iter().any(|n| n.starts_with(&start_chars)) {
            return None;
        }
        let crowd = self.starting(&start).len().max(1);
        Some(((GATED * DEPTH) as f64 / crowd as f64).min(1.0))
    }

    /// The entities (ordinals, ascending) one of whose folded names starts with `folded`.
    fn starting(&self, folded: &str) -> Vec<u32> {
        let from = self
            .sorted
            .partition_point(|(name, _)| name.as_str() < folded);
        let mut found: Vec<u32> = self.sorted[from..]
            .iter()
            .take_while(|(name, _)| name.starts_with(folded))
            .map(|&(_, ordinal)| ordinal)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    fn heavier_first(&self, a: u32, b: u32) -> std::cmp::Ordering {
        let (a, b) = (&self.entities[a as usize], &self.entities[b as usize]);
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.key.cmp(&b.key))
    }
}

/// Optimal string alignment distance (insertions, deletions, substitutions and swaps of two
/// neighbours, in characters: [`engine::search::edit_distance`]'s), computed row by row in
/// buffers kept between calls, and given up as soon as it must exceed a bound.
#[derive(Debug, Default)]
struct Osa {
    rows: [Vec<usize>; 3],
}

impl Osa {
    /// The distance of `a` to `b` when it is at most `max`, else `None`.
    fn distance(&mut self, a: &[char], b: &[char], max: usize) -> Option<usize> {
        if a.len().abs_diff(b.len()) > max {
            return None;
        }
        let width = b.len() + 1;
        for row in &mut self.rows {
            row.clear();
            row.resize(width, 0);
        }
        let [before, previous, current] = &mut self.rows;
        for (j, cell) in previous.iter_mut().enumerate() {
            *cell = j;
        }
        // Row i is never below the smaller of row i - 1 and row i - 2 plus one, so once two
        // rows in a row are past `max`, every later one is too.
        let mut previous_past = false;
        for i in 1..=a.len() {
            current[0] = i;
            let mut smallest = i;
            for j in 1..width {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut cell = (previous[j] + 1)
                    .min(current[j - 1] + 1)
                    .min(previous[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    cell = cell.min(before[j - 2] + 1);
                }
                current[j] = cell;
                smallest = smallest.min(cell);
            }
            let past = smallest > max;
            if past && previous_past {
                return None;
            }
            previous_past = past;
            std::mem::swap(before, previous);
            std::mem::swap(previous, current);
        }
        Some(previous[b.len()]).filter(|&d| d <= max)
    }
}

/// What answers the keystrokes.
#[derive(Clone, Copy)]
pub enum Engine<'a> {
    /// Disco's suggester, as `GET /suggest` answers (all kinds, top [`DEPTH`]).
    Disco(&'a Suggester),
    /// [`Names::prefix`], on every keystroke.
    PrefixTrie(&'a Names),
    /// [`Names::fuzzy`], on the full text only.
    FuzzyScan(&'a Names),
}

impl Engine<'_> {
    /// Whether it answers every keystroke (else only the full text).
    pub fn keystrokes(&self) -> bool {
        !matches!(self, Engine::FuzzyScan(_))
    }

    /// The top [`DEPTH`] entities for `text`.
    pub fn lookup(&self, text: &str) -> Vec<EntityKey> {
        match self {
            Engine::Disco(suggester) => suggester
                .suggest(text, None, DEPTH)
                .iter()
                .map(suggest::Suggestion::key)
                .collect(),
            Engine::PrefixTrie(names) => names.prefix(text, DEPTH),
            Engine::FuzzyScan(names) => names.fuzzy(text, DEPTH),
        }
    }
}

/// One column of a run: a label and what answers under it.
#[derive(Clone, Copy)]
pub struct Variant<'a> {
    pub label: &'a str,
    pub engine: Engine<'a>,
}

/// Disco's suggester and the two plain baselines, labelled `disco`, `prefix-trie` and
/// `fuzzy-scan`.
pub fn variants<'a>(suggester: &'a Suggester, names: &'a Names) -> [Variant<'a>; 3] {
    [
        Variant {
            label: "disco",
            engine: Engine::Disco(suggester),
        },
        Variant {
            label: "prefix-trie",
            engine: Engine::PrefixTrie(names),
        },
        Variant {
            label: "fuzzy-scan",
            engine: Engine::FuzzyScan(names),
        },
    ]
}

/// How one known-item query went under one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub variant: String,
    pub class: String,
    pub text: String,
    pub intended: EntityKey,
    /// The text's length in characters (keystrokes).
    pub length: usize,
    /// Whether the variant was asked at every keystroke (else only at the full text).
    pub keystrokes: bool,
    /// The first keystroke count at which the intended entity was in the top [`DEPTH`], with
    /// its rank (1-based) then; `None` when it never was (or keystrokes were not asked).
    pub found: Option<(usize, usize)>,
    /// Its rank at the full text, if it was in the top [`DEPTH`].
    pub full_rank: Option<usize>,
    /// What came first at the full text (none: nothing at all).
    pub full_first: Option<EntityKey>,
}

impl Typed {
    /// Keystrokes needed, when found while typing.
    pub fn keys(&self) -> Option<usize> {
        self.found.map(|(keys, _)| keys)
    }
}

/// Types `text` into `engine` (each prefix of 1, 2, … characters, or only the whole text for
/// an engine that answers no keystrokes), timing each lookup.
fn type_text(
    variant: &Variant<'_>,
    class: &str,
    text: &str,
    intended: EntityKey,
) -> (Typed, Vec<Duration>) {
    let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    let keystrokes = variant.engine.keystrokes();
    let mut typed = Typed {
        variant: variant.label.to_string(),
        class: class.to_string(),
        text: text.to_string(),
        intended,
        length: ends.len(),
        keystrokes,
        found: None,
        full_rank: None,
        full_first: None,
    };
    let from = if keystrokes {
        0
    } else {
        ends.len().saturating_sub(1)
    };
    let mut latencies = Vec::with_capacity(ends.len() - from);
    for (k, &end) in ends.iter().enumerate().skip(from) {
        let started = Instant::now();
        let answer = variant.engine.lookup(&text[..end]);
        latencies.push(started.elapsed());
        let rank = answer
            .iter()
            .position(|key| *key == intended)
            .map(|i| i + 1);
        if keystrokes && typed.found.is_none() {
            typed.found = rank.map(|rank| (k + 1, rank));
        }
        if k + 1 == ends.len() {
            typed.full_rank = rank;
            typed.full_first = answer.first().copied();
        }
    }
    (typed, latencies)
}

/// The queries of one class (or all of them) under one variant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeystrokeStats {
    keystrokes: bool,
    /// Per query: keystrokes needed (none: never found) and the text's length.
    needed: Vec<(Option<usize>, usize)>,
    found_full: usize,
    latencies: Vec<Duration>,
}

impl KeystrokeStats {
    fn add(&mut self, typed: &Typed, latencies: &[Duration]) {
        self.keystrokes = typed.keystrokes;
        self.needed.push((typed.keys(), typed.length));
        self.found_full += usize::from(typed.full_rank.is_some());
        self.latencies.extend_from_slice(latencies);
    }

    /// Queries.
    pub fn count(&self) -> usize {
        self.needed.len()
    }

    /// Lookups timed.
    pub fn lookups(&self) -> usize {
        self.latencies.len()
    }

    /// The share found in the top [`DEPTH`] within `keys` keystrokes; `None` when the variant
    /// answers no keystrokes or there are no queries.
    pub fn within(&self, keys: usize) -> Option<f64> {
        self.share_keyed(|needed| needed.is_some_and(|n| n <= keys))
    }

    /// The share found at some keystroke (`None` as for [`within`](Self::within)).
    pub fn ever(&self) -> Option<f64> {
        self.share_keyed(|needed| needed.is_some())
    }

    /// The share found in the top [`DEPTH`] at the full text.
    pub fn full(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.found_full as f64 / self.count() as f64)
    }

    /// Mean keystrokes needed, over the queries found while typing.
    pub fn mean_keys(&self) -> Option<f64> {
        self.mean_found(|keys, _| keys as f64)
    }

    /// Mean share of the text typed when found, over the queries found while typing.
    pub fn typed(&self) -> Option<f64> {
        self.mean_found(|keys, length| keys as f64 / length.max(1) as f64)
    }

    /// Nearest-rank latency percentile of one lookup, e.g. `latency(99.0)`.
    pub fn latency(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }

    fn share_keyed(&self, hit: impl Fn(Option<usize>) -> bool) -> Option<f64> {
        if !self.keystrokes || self.needed.is_empty() {
            return None;
        }
        let hits = self.needed.iter().filter(|(n, _)| hit(*n)).count();
        Some(hits as f64 / self.needed.len() as f64)
    }

    fn mean_found(&self, value: impl Fn(usize, usize) -> f64) -> Option<f64> {
        let found: Vec<f64> = (self.needed.iter())
            .filter_map(|&(keys, length)| keys.map(|k| value(k, length)))
            .collect();
        (!found.is_empty()).then(|| found.iter().sum::<f64>() / found.len() as f64)
    }
}

/// Per-class and overall figures of one variant; classes in the order the set first names them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeystrokeSummary {
    classes: Vec<(String, KeystrokeStats)>,
    overall: KeystrokeStats,
}

impl KeystrokeSummary {
    fn add(&mut self, typed: &Typed, latencies: &[Duration]) {
        let at = match self.classes.iter().position(|(c, _)| *c == typed.class) {
            Some(at) => at,
            None => {
                self.classes
                    .push((typed.class.clone(), KeystrokeStats::default()));
                self.classes.len() - 1
            }
        };
        self.classes[at].1.add(typed, latencies);
        self.overall.add(typed, latencies);
    }

    pub fn class(&self, class: &str) -> Option<&KeystrokeStats> {
        if class == "overall" {
            return Some(&self.overall);
        }
        self.classes
            .iter()
            .find(|(c, _)| c == class)
            .map(|(_, s)| s)
    }

    pub fn classes(&self) -> impl Iterator<Item = (&str, &KeystrokeStats)> {
        self.classes.iter().map(|(c, s)| (c.as_str(), s))
    }

    pub fn overall(&self) -> &KeystrokeStats {
        &self.overall
    }

    /// The classes, then `overall`.
    fn rows(&self) -> impl Iterator<Item = (&str, &KeystrokeStats)> {
        self.classes().chain([("overall", &self.overall)])
    }
}

/// The figures of one run: a summary per variant, in the order the variants were given.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub set: String,
    pub variants: Vec<(String, KeystrokeSummary)>,
    /// Every known-item query under every variant, in set order.
    pub typed: Vec<Typed>,
    /// Queries of the set without an intended entity (not typeahead's to find).
    pub skipped: usize,
    /// Per class, then `overall`: the mean [`Names::blind_ceiling`] of the queries where it
    /// is defined, and how many those are (empty when the run was given no names).
    pub ceiling: Vec<(String, f64, usize)>,
}

/// Types every known-item query of `set` into every variant.
pub fn run(set: &QuerySet, variants: &[Variant<'_>]) -> Report {
    let mut summaries: Vec<KeystrokeSummary> = vec![KeystrokeSummary::default(); variants.len()];
    let mut typed = Vec::new();
    let mut skipped = 0;
    for query in &set.queries {
        let Some(intended) = query.intended else {
            skipped += 1;
            continue;
        };
        for (variant, summary) in variants.iter().zip(&mut summaries) {
            let (outcome, latencies) = type_text(variant, &query.class, &query.text, intended);
            summary.add(&outcome, &latencies);
            typed.push(outcome);
        }
    }
    Report {
        set: set.name.clone(),
        variants: variants
            .iter()
            .map(|v| v.label.to_string())
            .zip(summaries)
            .collect(),
        typed,
        skipped,
        ceiling: Vec::new(),
    }
}

/// [`run`] with Disco's suggester and the two plain baselines over `names` ([`variants`]),
/// with the [`Names::blind_ceiling`] of each class.
pub fn measure(set: &QuerySet, suggester: &Suggester, names: &Names) -> Report {
    let mut report = run(set, &variants(suggester, names));
    report.ceiling = ceiling(set, names);
    report
}

/// The mean [`Names::blind_ceiling`] per class (in set order), then `overall`.
pub fn ceiling(set: &QuerySet, names: &Names) -> Vec<(String, f64, usize)> {
    let mut classes: Vec<(String, f64, usize)> = Vec::new();
    let mut overall = (0.0, 0);
    for query in &set.queries {
        let Some(bound) = query
            .intended
            .and_then(|intended| names.blind_ceiling(&query.text, intended))
        else {
            continue;
        };
        let at = match classes.iter().position(|(c, _, _)| *c == query.class) {
            Some(at) => at,
            None => {
                classes.push((query.class.clone(), 0.0, 0));
                classes.len() - 1
            }
        };
        classes[at].1 += bound;
        classes[at].2 += 1;
        overall.0 += bound;
        overall.1 += 1;
    }
    classes.push(("overall".to_string(), overall.0, overall.1));
    classes
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(class, sum, n)| (class, sum / n as f64, n))
        .collect()
}

fn within_label(keys: usize) -> String {
    format!("within_{keys}")
}

impl Report {
    /// The report as JSON: `{"set", "depth", "variants": {label: {class: {figure: value}}}}`,
    /// `overall` a class of its own; figures `within_1`, `within_3`, `within_5`, `full`,
    /// `ever`, `mean_keys`, `typed`, `p50_ms`, `p99_ms`, `n`, `lookups` (null where undefined);
    /// `blind_ceiling`: `{class: {"within_3", "n"}}`. This is also the form of a saved
    /// baseline file.
    pub fn to_json(&self) -> Value {
        let mut variants = serde_json::Map::new();
        for (label, summary) in &self.variants {
            let mut classes = serde_json::Map::new();
            for (class, stats) in summary.rows() {
                let mut row = serde_json::Map::new();
                for keys in WITHIN {
                    row.insert(within_label(keys), json!(stats.within(keys)));
                }
                row.insert("full".into(), json!(stats.full()));
                row.insert("ever".into(), json!(stats.ever()));
                row.insert("mean_keys".into(), json!(stats.mean_keys()));
                row.insert("typed".into(), json!(stats.typed()));
                for (name, p) in [("p50_ms", 50.0), ("p99_ms", 99.0)] {
                    let ms = stats.latency(p).map(|d| d.as_secs_f64() * 1e3);
                    row.insert(name.into(), json!(ms));
                }
                row.insert("n".into(), json!(stats.count()));
                row.insert("lookups".into(), json!(stats.lookups()));
                classes.insert(class.to_string(), Value::Object(row));
            }
            variants.insert(label.clone(), Value::Object(classes));
        }
        let ceiling: serde_json::Map<String, Value> = (self.ceiling.iter())
            .map(|(class, share, n)| (class.clone(), json!({ "within_3": share, "n": n })))
            .collect();
        json!({ "set": self.set, "depth": DEPTH, "variants": variants, "blind_ceiling": ceiling })
    }

    /// Every (variant, class) of `saved` that this run also has and whose within-3-keys share
    /// is lower now by more than `tolerance`. A variant or class the saved file lacks, or one
    /// without the figure (the fuzzy scan), is not compared.
    pub fn regressions(&self, saved: &Value, tolerance: f64) -> Vec<Regression> {
        crate::run::regressions(&self.to_json(), saved, &within_label(GATED), tolerance)
    }

    /// The queries `variant` did not find at the full text, in set order.
    pub fn misses<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a Typed> + 'a {
        self.typed
            .iter()
            .filter(move |t| t.variant == variant && t.full_rank.is_none())
    }

    /// Every class any variant has, in order of first appearance, then `overall`.
    fn class_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (_, summary) in &self.variants {
            for (class, _) in summary.classes() {
                if !names.contains(&class) {
                    names.push(class);
                }
            }
        }
        names.push("overall");
        names
    }

    /// One figure by class, one column per variant.
    fn side_by_side(
        &self,
        f: &mut fmt::Formatter<'_>,
        title: &str,
        figure: impl Fn(&KeystrokeStats) -> Option<f64>,
    ) -> fmt::Result {
        let names = self.class_names();
        let width = names.iter().map(|c| c.len()).fold(7, usize::max);
        writeln!(f, "{title}")?;
        write!(f, "{:<width$}", "class")?;
        for (label, _) in &self.variants {
            write!(f, "  {label:>11}")?;
        }
        writeln!(f)?;
        for class in names {
            write!(f, "{class:<width$}")?;
            for (_, summary) in &self.variants {
                match summary.class(class).and_then(&figure) {
                    Some(value) => write!(f, "  {value:>11.3}")?,
                    None => write!(f, "  {:>11}", "-")?,
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The within-3-keys and full-text shares by class with one column per variant, then each
/// variant's full table.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queries = self
            .variants
            .first()
            .map_or(0, |(_, s)| s.overall().count());
        write!(
            f,
            "set {}: typeahead, {queries} known-item queries typed key by key, top {DEPTH}",
            self.set
        )?;
        if self.skipped > 0 {
            write!(f, " ({} without an intended entity skipped)", self.skipped)?;
        }
        writeln!(f, "\n")?;
        self.side_by_side(f, &format!("found within {GATED} keys"), |s| {
            s.within(GATED)
        })?;
        if !self.ceiling.is_empty() {
            write!(
                f,
                "ceiling for a ranking blind to which same-start name is wanted:"
            )?;
            for (class, share, _) in &self.ceiling {
                write!(f, " {class} {share:.3}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        self.side_by_side(
            f,
            "found at the full text (misspelled, slip: the misspelled full name)",
            KeystrokeStats::full,
        )?;
        const LABELS: [&str; 10] = [
            "1 key", "3 keys", "5 keys", "full", "ever", "keys", "typed", "p50 µs", "p99 µs", "n",
        ];
        let names = self.class_names();
        let width = names.iter().map(|c| c.len()).fold(7, usize::max);
        for (label, summary) in &self.variants {
            writeln!(f, "\n{label}")?;
            write!(f, "{:<width$}", "class")?;
            for column in LABELS {
                write!(f, "  {column:>8}")?;
            }
            writeln!(f)?;
            for (class, stats) in summary.rows() {
                let us = |p| stats.latency(p).map(|d| d.as_secs_f64() * 1e6);
                let figures = [
                    (stats.within(WITHIN[0]), 3),
                    (stats.within(WITHIN[1]), 3),
                    (stats.within(WITHIN[2]), 3),
                    (stats.full(), 3),
                    (stats.ever(), 3),
                    (stats.mean_keys(), 2),
                    (stats.typed(), 3),
                    (us(50.0), 1),
                    (us(99.0), 1),
                    (Some(stats.count() as f64), 0),
                ];
                write!(f, "{class:<width$}")?;
                for (value, decimals) in figures {
                    match value {
                        Some(v) => write!(f, "  {v:>8.decimals$}")?,
                        None => write!(f, "  {:>8}", "-")?,
                    }
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvalQuery;
    use schemas::EntityKind;
    use suggest::SuggestIndex;

    fn track(id: i64) -> EntityKey {
        EntityKey::new(EntityKind::Track, id)
    }

    /// Twelve heavy tracks "Arena 1" … "Arena 12" (weight 100 + i) crowd the letters `a` and
    /// `ar`; "Arowana" (50) and "Around the World" (5) share `aro`; "Blue Moon" (1) is alone.
    fn records() -> Vec<Record> {
        let mut records: Vec<Record> = (1..=12)
            .map(|i| Record::new(track(100 + i), format!("Arena {i}"), 100.0 + i as f64))
            .collect();
        records.push(Record::new(track(1), "Around the World", 5.0));
        records.push(Record::new(track(2), "Arowana", 50.0));
        records.push(Record::new(track(3), "Blue Moon", 1.0));
        records
    }

    fn query(text: &str, class: &str, intended: Option<EntityKey>) -> EvalQuery {
        EvalQuery {
            text: text.to_string(),
            class: class.to_string(),
            intended,
            judgments: Vec::new(),
        }
    }

    fn set() -> QuerySet {
        QuerySet {
            name: "t".to_string(),
            queries: vec![
                query("Around the World", "track", Some(track(1))),
                query("Arena 7", "track", Some(track(107))),
                // Right up to the typo: "arund" is one edit from "around", and the arenas
                // that "arun" is one edit from ("aren") are left behind at the fifth key.
                query("Arund the World", "misspelled", Some(track(1))),
                // The first letter is never taken for a typo: suggest cannot find it.
                query("Xlue Moon", "slip", Some(track(3))),
                query("rock", "judged", None),
            ],
        }
    }

    fn report() -> Report {
        let records = records();
        let names = Names::from_records(&records, &KindFactors::default());
        let suggester = Suggester::new(SuggestIndex::build(records, &Default::default()));
        measure(&set(), &suggester, &names)
    }

    fn typed<'a>(report: &'a Report, variant: &str, text: &str) -> &'a Typed {
        (report.typed.iter())
            .find(|t| t.variant == variant && t.text == text)
            .expect("typed")
    }

    fn close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a figure");
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn keys_needed_and_rank_then_per_query() {
        let report = report();
        // "a", "ar": ten arenas fill the dropdown; "aro": Arowana (50), then the world (5).
        let world = typed(&report, "disco", "Around the World");
        assert_eq!((world.found, world.full_rank), (Some((3, 2)), Some(1)));
        assert_eq!(world.length, 16);
        // Arena 7 is the sixth heaviest of everything under "a".
        let arena = typed(&report, "disco", "Arena 7");
        assert_eq!((arena.found, arena.full_rank), (Some((1, 6)), Some(1)));
        // Found by the typo lookup from the fifth key, and at the misspelled full text.
        let typo = typed(&report, "disco", "Arund the World");
        assert_eq!(typo.found, Some((5, 1)));
        assert_eq!(typo.full_rank, Some(1));
        let slip = typed(&report, "disco", "Xlue Moon");
        assert_eq!(
            (slip.found, slip.full_rank, slip.full_first),
            (None, None, None)
        );

        // The plain prefix trie: the same where names start as typed, nothing past a typo.
        let trie = |text| {
            let t = typed(&report, "prefix-trie", text);
            (t.found, t.full_rank)
        };
        assert_eq!(trie("Around the World"), (Some((3, 2)), Some(1)));
        assert_eq!(trie("Arena 7"), (Some((1, 6)), Some(1)));
        assert_eq!(trie("Arund the World"), (None, None));
        assert_eq!(trie("Xlue Moon"), (None, None));

        // The fuzzy scan answers the full text only, and finds all four one edit away or less.
        for text in [
            "Around the World",
            "Arena 7",
            "Arund the World",
            "Xlue Moon",
        ] {
            let t = typed(&report, "fuzzy-scan", text);
            assert_eq!((t.found, t.full_rank), (None, Some(1)), "{text}");
            assert!(!t.keystrokes);
        }
        assert_eq!(report.skipped, 1, "a query without an intended entity");
        assert_eq!(report.typed.len(), 4 * 3);
    }

    #[test]
    fn shares_per_class_and_overall() {
        let report = report();
        let disco = &report.variants[0].1;
        assert_eq!(report.variants[0].0, "disco");
        let track = disco.class("track").unwrap();
        close(track.within(1), 0.5);
        close(track.within(3), 1.0);
        close(track.full(), 1.0);
        close(track.mean_keys(), 2.0); // 3 and 1
        close(track.typed(), (3.0 / 16.0 + 1.0 / 7.0) / 2.0);
        let misspelled = disco.class("misspelled").unwrap();
        close(misspelled.within(3), 0.0);
        close(misspelled.within(5), 1.0);
        close(misspelled.full(), 1.0);
        let slip = disco.class("slip").unwrap();
        close(slip.full(), 0.0);
        close(slip.ever(), 0.0);
        assert_eq!(slip.mean_keys(), None);
        let overall = disco.overall();
        assert_eq!(overall.count(), 4);
        close(overall.within(1), 0.25);
        close(overall.within(3), 0.5);
        close(overall.within(5), 0.75);
        close(overall.full(), 0.75);
        close(overall.ever(), 0.75);
        close(overall.mean_keys(), 3.0); // 3, 1, 5
        // Every keystroke of every known-item query is one timed lookup.
        assert_eq!(overall.lookups(), 16 + 7 + 15 + 9);
        assert!(overall.latency(99.0).is_some());

        let trie = report.variants[1].1.overall();
        close(trie.within(3), 0.5);
        close(trie.full(), 0.5);
        let fuzzy = report.variants[2].1.overall();
        assert_eq!(fuzzy.within(3), None, "no keystrokes asked");
        assert_eq!(fuzzy.mean_keys(), None);
        close(fuzzy.full(), 1.0);
        assert_eq!(fuzzy.lookups(), 4);

        let misses: Vec<&str> = report.misses("disco").map(|t| t.text.as_str()).collect();
        assert_eq!(misses, ["Xlue Moon"]);
    }

    #[test]
    fn json_table_and_the_gate() {
        let report = report();
        let json = report.to_json();
        assert_eq!(json["variants"]["disco"]["track"]["within_1"], json!(0.5));
        assert_eq!(json["variants"]["disco"]["overall"]["n"], json!(4));
        assert_eq!(
            json["variants"]["fuzzy-scan"]["overall"]["within_3"],
            Value::Null
        );
        assert_eq!(
            json["variants"]["fuzzy-scan"]["overall"]["full"],
            json!(1.0)
        );

        let table = report.to_string();
        assert!(table.contains("found within 3 keys"), "{table}");
        assert!(table.contains("prefix-trie"), "{table}");
        assert!(table.contains("misspelled"), "{table}");

        assert!(report.regressions(&json, 0.0).is_empty(), "no change");
        let mut saved = json.clone();
        saved["variants"]["disco"]["track"]["within_3"] = json!(1.0);
        saved["variants"]["disco"]["overall"]["within_3"] = json!(0.6);
        saved["variants"]["fuzzy-scan"]["overall"]["within_3"] = json!(0.9); // not ours now
        saved["variants"]["gone"] = json!({"overall": {"within_3": 1.0}});
        let regressions = report.regressions(&saved, 0.05);
        assert_eq!(regressions.len(), 1, "{regressions:?}");
        assert_eq!(regressions[0].class, "overall");
        assert_eq!(regressions[0].now, 0.5);
        assert!(
            report.regressions(&saved, 0.2).is_empty(),
            "within tolerance"
        );
    }

    #[test]
    fn the_blind_ceiling_is_thirty_over_the_crowd_that_starts_alike() {
        // 60 tracks start with "lov"; one other starts with "lox"; a user is named "Zed Lov".
        let mut entries: Vec<(EntityKey, Vec<String>, f32)> = (1..=60)
            .map(|id| (track(id), vec![format!("Love {id}")], 1.0))
            .collect();
        entries.push((track(61), vec!["Loxodonta".to_string()], 1.0));
        let user = EntityKey::new(EntityKind::User, 1);
        entries.push((user, vec!["Zed Lov".to_string(), "zedlov".to_string()], 1.0));
        let names = Names::new(entries);
        assert_eq!(names.blind_ceiling("Love 7", track(7)), Some(0.5));
        assert_eq!(names.blind_ceiling("LOXODONTA", track(61)), Some(1.0));
        assert_eq!(names.blind_ceiling("lov", user), None, "not a name start");
        assert_eq!(names.blind_ceiling("Love 7", track(99)), None, "unknown");

        let set = QuerySet {
            name: "s".into(),
            queries: vec![
                query("Love 7", "track", Some(track(7))),
                query("Loxodonta", "track", Some(track(61))),
                query("Zed Lov Love 7", "artist-title", Some(track(7))),
            ],
        };
        let ceiling = ceiling(&set, &names);
        assert_eq!(
            ceiling,
            [
                ("track".to_string(), 0.75, 2),
                ("overall".to_string(), 0.75, 2)
            ]
        );
    }

    #[test]
    fn the_cut_off_distance_is_the_engine_s_edit_distance() {
        let words = [
            "", "a", "ab", "ba", "abc", "acb", "the", "teh", "around", "arund", "aroudn",
            "beyonce", "beyond", "halo", "hallo", "ca", "abc d", "kitten", "sitting",
        ];
        let mut osa = Osa::default();
        for a in words {
            for b in words {
                let full = engine::search::edit_distance(a, b);
                let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                for max in 0..8 {
                    let expected = (full <= max).then_some(full);
                    assert_eq!(osa.distance(&ac, &bc, max), expected, "{a:?} {b:?} {max}");
                }
                assert_eq!(osa.distance(&ac, &bc, usize::MAX), Some(full));
            }
        }
    }

    #[test]
    fn the_baselines_fold_dedupe_and_order_by_weight() {
        let user = EntityKey::new(EntityKind::User, 9);
        let names = Names::new([
            (user, vec!["Beyoncé", "beyonce"], 2.0),
            (track(1), vec!["Beyond"], 3.0),
            (track(2), vec!["Halo"], 1.0),
            (track(3), vec!["Hallo"], 1.0),
        ]);
        assert_eq!(names.len(), 4);
        assert_eq!(names.prefix("BEYO", 10), [track(1), user]);
        assert_eq!(names.prefix("beyonc", 10), [user], "one entry per entity");
        assert_eq!(names.prefix("eyon", 10), [], "whole names only");
        assert_eq!(names.prefix("b", 1), [track(1)]);
        // Distance 0 first, then 1 (equal weights: by key), then "beyond" at 5.
        assert_eq!(names.fuzzy("halo", 3), [track(2), track(3), track(1)]);
        assert_eq!(names.fuzzy("Beyonse", 1), [user]);
        assert_eq!(names.fuzzy("   ", 10), []);
    }
}
