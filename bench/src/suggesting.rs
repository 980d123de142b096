//! Figures at scale: build a synthetic catalog of about `keys` keys, then replay people
//! typing names keystroke by keystroke — clean, and with typos — and time every lookup.
//!
//! ```no_run
//! let report = bench::suggesting::run(2_000_000);
//! println!("{report}");
//! ```

use std::collections::HashSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemas::{EntityKey, EntityKind};

use suggest::normalize::{self, key_text, word_starts};
use suggest::{IndexStats, Record, SuggestIndex, Suggester};

/// Latency of one kind of lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub queries: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Latency {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        Latency {
            queries: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "{} lookups, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
            self.queries,
            us(self.p50),
            us(self.p99),
            us(self.p999),
            us(self.max)
        )
    }
}

/// How a run is measured.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Distinct keys in the FST (a folded name, or the rest of it from a word start).
    pub keys: usize,
    /// Typing sessions (one target name each, typed clean and with typos).
    pub sessions: usize,
    /// Timed passes over the whole mix, after one untimed warm-up pass.
    pub passes: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            keys: 2_000_000,
            sessions: 2_000,
            passes: 3,
        }
    }
}

/// One class of lookups, measured two ways.
#[derive(Debug, Clone, Default)]
pub struct Class {
    /// Every timed lookup of every pass.
    pub all: Latency,
    /// Each query's fastest pass: its own cost, without the time other processes on a shared
    /// machine take the CPU away mid-query.
    pub best: Latency,
    /// The slowest queries by their fastest pass, slowest first: (text, µs).
    pub slowest: Vec<(String, f64)>,
}

impl Class {
    /// The figures of some queries, each with its time in every timed pass.
    pub(crate) fn of<'q>(queries: impl Iterator<Item = (&'q str, &'q [Duration])>) -> Class {
        let mut all = Vec::new();
        let mut best: Vec<(Duration, &str)> = Vec::new();
        for (text, times) in queries {
            all.extend_from_slice(times);
            if let Some(&fastest) = times.iter().min() {
                best.push((fastest, text));
            }
        }
        best.sort_unstable_by(|a, b| b.cmp(a));
        Class {
            all: Latency::of(all),
            best: Latency::of(best.iter().map(|(t, _)| *t).collect()),
            slowest: best
                .iter()
                .take(5)
                .map(|(t, q)| (q.to_string(), t.as_secs_f64() * 1e6))
                .collect(),
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "    every pass:   {}", self.all)?;
        write!(f, "    best of runs: {}", self.best)?;
        if !self.slowest.is_empty() {
            let list: Vec<String> = self
                .slowest
                .iter()
                .map(|(q, us)| format!("{q:?} {us:.0} µs"))
                .collect();
            write!(f, "\n    slowest:      {}", list.join(", "))?;
        }
        Ok(())
    }
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub stats: IndexStats,
    pub build: Duration,
    pub passes: usize,
    /// Clean keystrokes: every prefix of a name, or of a word inside it.
    pub prefix: Class,
    /// The same keystrokes with typos (1 edit from 4 characters, 2 from 8), first character
    /// kept.
    pub typo: Class,
    /// Share of typo lookups whose intended entity is among the 10 answers.
    pub typo_recall: f64,
    /// The 1-minute load average before the build and after the last pass (Linux), so a
    /// reader can tell an idle machine's figures from a busy one's.
    pub load: (Option<f64>, Option<f64>),
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        writeln!(
            f,
            "suggest: {} distinct keys in the FST ({} postings, {} entities) built in {:.2} s; \
             FST {:.1} MB, in memory {:.1} MB",
            s.keys,
            s.postings,
            s.entities,
            self.build.as_secs_f64(),
            s.fst_bytes as f64 / 1e6,
            s.total_bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "  lookups: one warm-up pass, then {} timed passes",
            self.passes
        )?;
        writeln!(f, "  prefix:\n{}", self.prefix)?;
        writeln!(f, "  typos:\n{}", self.typo)?;
        writeln!(
            f,
            "  typos: intended entity in the top 10 for {:.1}%",
            self.typo_recall * 100.0
        )?;
        let load = |l: Option<f64>| l.map_or("?".to_string(), |l| format!("{l:.2}"));
        write!(
            f,
            "  load average: {} before, {} after",
            load(self.load.0),
            load(self.load.1)
        )
    }
}

/// The 1-minute load average, where the system tells it.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Builds about `keys` distinct keys of synthetic names and times the keystroke mix.
/// Deterministic.
pub fn run(keys: usize) -> BenchReport {
    run_with(&BenchOptions {
        keys,
        ..BenchOptions::default()
    })
}

/// One timed lookup of the mix.
struct Typed {
    text: String,
    kind: Option<EntityKind>,
    typo: bool,
    target: EntityKey,
}

/// [`run`] with every option.
pub fn run_with(options: &BenchOptions) -> BenchReport {
    let load_before = load_average();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let records = catalog(&mut rng, options.keys);
    let started = Instant::now();
    let index = SuggestIndex::build(records.clone(), &Default::default());
    let build = started.elapsed();
    let stats = index.stats();
    let suggester = Suggester::new(index);

    let mut mix = Vec::new();
    for (i, (target, clean, typed)) in typing_sessions(&mut rng, &records, options.sessions)
        .into_iter()
        .enumerate()
    {
        // One session in ten filters by the target's kind, as the page's tabs would.
        let kind = (i % 10 == 0).then_some(target.kind);
        for (texts, typo) in [(clean, false), (typed, true)] {
            mix.extend(texts.into_iter().map(|text| Typed {
                text,
                kind,
                typo,
                target,
            }));
        }
    }
    drop(records);
    // One untimed pass: page in everything the mix touches, as a running service would have.
    let mut found = 0usize;
    for q in &mix {
        let answers = suggester.suggest(&q.text, q.kind, 10);
        found += usize::from(q.typo && answers.iter().any(|s| s.key() == q.target));
    }
    let passes = options.passes.max(1);
    let mut every = vec![Vec::with_capacity(passes); mix.len()];
    for _ in 0..passes {
        for (i, q) in mix.iter().enumerate() {
            let t = Instant::now();
            let answers = suggester.suggest(&q.text, q.kind, 10);
            every[i].push(t.elapsed());
            std::hint::black_box(answers);
        }
    }
    let load_after = load_average();
    let class = |typo: bool| {
        let picked = mix.iter().zip(&every).filter(|(q, _)| q.typo == typo);
        Class::of(picked.map(|(q, times)| (q.text.as_str(), times.as_slice())))
    };
    let typos = mix.iter().filter(|q| q.typo).count();
    BenchReport {
        stats,
        build,
        passes,
        prefix: class(false),
        typo: class(true),
        typo_recall: found as f64 / typos.max(1) as f64,
        load: (load_before, load_after),
    }
}

const WORDS: &[&str] = &[
    "love",
    "night",
    "world",
    "dream",
    "heart",
    "fire",
    "summer",
    "dance",
    "light",
    "rain",
    "blue",
    "moon",
    "star",
    "city",
    "road",
    "home",
    "time",
    "life",
    "soul",
    "gold",
    "wild",
    "sweet",
    "dark",
    "girl",
    "boy",
    "baby",
    "river",
    "ocean",
    "shadow",
    "angel",
    "devil",
    "paradise",
    "midnight",
    "electric",
    "forever",
    "tonight",
    "yesterday",
    "tomorrow",
    "beautiful",
    "broken",
    "golden",
    "silver",
    "crazy",
    "lonely",
    "happy",
    "sunshine",
    "thunder",
    "whisper",
    "mirror",
    "garden",
    "highway",
    "freedom",
    "kingdom",
    "memory",
    "echo",
    "horizon",
    "velvet",
    "neon",
    "crystal",
    "remix",
    "live",
    "edit",
    "version",
    "acoustic",
    "session",
    "dub",
    "mix",
    "original",
    "intro",
    "café",
    "corazón",
    "señorita",
    "été",
    "über",
    "noël",
    "fiançé",
    "niño",
    "mañana",
    "déjà vu",
    "beyoncé",
    "sigur rós",
    "motörhead",
    "björk",
    "zoë",
    "chloé",
    "josé",
    "andré",
    "rené",
];
const FIRST: &[&str] = &[
    "Anna",
    "José",
    "François",
    "Zoë",
    "Chloé",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mateo",
    "Léa",
    "Søren",
    "Ana",
    "Björn",
    "Mia",
    "Lucas",
    "Amélie",
    "Jürgen",
    "Inès",
    "Kai",
];
const LAST: &[&str] = &[
    "Smith", "García", "Müller", "Dubois", "Rossi", "Nakamura", "Kowalski", "Jensen", "Silva",
    "Novák", "O'Brien", "Brontë", "Ibáñez", "Larsen", "Moreau", "Schäfer", "Kim", "Haddad",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ve", "zu", "ten", "dor", "bel", "mar", "sol", "tri", "pha", "qu",
    "nex", "vi", "sha", "kor", "len", "ti", "bra", "glo", "fen", "dax", "ri", "mo", "sy", "th",
];

fn pseudo_word(rng: &mut ChaCha8Rng) -> String {
    (0..rng.random_range(2..=4))
        .map(|_| *SYLLABLES.choose(rng).unwrap_or(&"la"))
        .collect()
}

fn title(rng: &mut ChaCha8Rng, vocabulary: &[String]) -> String {
    let words = rng.random_range(1..=5);
    let mut t: Vec<String> = (0..words)
        .map(|_| vocabulary.choose(rng).cloned().unwrap_or_default())
        .collect();
    if let Some(first) = t.first_mut() {
        let mut c = first.chars();
        if let Some(h) = c.next() {
            *first = h.to_uppercase().chain(c).collect();
        }
    }
    t.join(" ")
}

/// Records with about `keys` distinct keys (owner-led ones included): 55% tracks, 25% users,
/// 15% playlists, 5% groups, with heavy-tailed priors; each track and set belongs to an
/// earlier user.
fn catalog(rng: &mut ChaCha8Rng, keys: usize) -> Vec<Record> {
    let mut vocabulary: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    vocabulary.extend((0..3_000).map(|_| pseudo_word(rng)));
    let mut records = Vec::new();
    // Distinct keys counted by a 64-bit hash: a collision in 2M keys is a one-in-ten-million
    // event, and it would only miscount one key.
    let mut seen: HashSet<u64> = HashSet::with_capacity(keys + keys / 4);
    let mut id = 0i64;
    // Tracks and sets belong to users made before them, found by owner then title too.
    let mut owners: Vec<String> = Vec::new();
    let owned = |rng: &mut ChaCha8Rng, owners: &[String], key, title: String, prior| {
        let owner = owners.choose(rng).map_or("", String::as_str);
        Record::owned(key, &title, owner, prior)
    };
    while seen.len() < keys {
        id += 1;
        let prior = (1.0 + rng.random::<f64>().powi(4) * 10_000.0).ln();
        let roll = rng.random_range(0..100);
        let record = if roll < 55 {
            let title = title(rng, &vocabulary);
            owned(
                rng,
                &owners,
                EntityKey::new(EntityKind::Track, id),
                title,
                prior,
            )
        } else if roll < 80 {
            let full = format!(
                "{} {}",
                FIRST.choose(rng).unwrap_or(&"Ana"),
                LAST.choose(rng).unwrap_or(&"Kim")
            );
            let username = format!("{}{}", pseudo_word(rng), rng.random_range(0..1000));
            Record::user(id, &username, &full, prior)
        } else if roll < 95 {
            let title = title(rng, &vocabulary);
            owned(
                rng,
                &owners,
                EntityKey::new(EntityKind::Playlist, id),
                title,
                prior,
            )
        } else {
            Record::new(
                EntityKey::new(EntityKind::Group, id),
                format!("{} collective", title(rng, &vocabulary)),
                prior,
            )
        };
        let own = record.names().flat_map(|name| {
            let folded = key_text(name);
            normalize::keys(&folded)
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        for key in own.chain(record.owner_keys()) {
            let mut hasher = DefaultHasher::new();
            key.hash(&mut hasher);
            seen.insert(hasher.finish());
        }
        if record.key.kind == EntityKind::User {
            owners.push(record.text.clone());
        }
        records.push(record);
    }
    records
}

/// For `n` random entities: what a person types for it (every prefix of its name, or of a
/// word inside it, up to 16 characters), and the same with typos.
fn typing_sessions(
    rng: &mut ChaCha8Rng,
    records: &[Record],
    n: usize,
) -> Vec<(EntityKey, Vec<String>, Vec<String>)> {
    let priors = records.iter().map(|r| r.prior.unwrap_or(0.0) + 0.1);
    let Ok(popular) = WeightedIndex::new(priors) else {
        return Vec::new();
    };
    (0..n)
        .filter_map(|_| {
            // People mostly type what is popular: targets are drawn by prior.
            let record = &records[popular.sample(rng)];
            let key = key_text(&record.text);
            let starts = word_starts(&key);
            let start = if rng.random_bool(0.5) {
                0
            } else {
                *starts.choose(rng)?
            };
            let chars: Vec<char> = key[start..].chars().take(16).collect();
            let clean: Vec<String> = (1..=chars.len())
                .map(|i| chars[..i].iter().collect())
                .collect();
            let typed = clean
                .iter()
                .filter(|q| q.chars().count() >= 4)
                .map(|q| typo(rng, q))
                .collect();
            Some((record.key, clean, typed))
        })
        .collect()
}

/// `q` with one typo (two from 8 characters), never on the first character.
fn typo(rng: &mut ChaCha8Rng, q: &str) -> String {
    let mut chars: Vec<char> = q.chars().collect();
    let edits = if chars.len() >= 8 { 2 } else { 1 };
    for _ in 0..edits {
        let len = chars.len();
        if len < 3 {
            break;
        }
        let at = rng.random_range(1..len);
        match rng.random_range(0..4) {
            0 => chars[at] = *b"aeiourstln".choose(rng).unwrap_or(&b'e') as char,
            1 => {
                chars.remove(at);
            }
            2 => chars.insert(at, *b"aeiourstln".choose(rng).unwrap_or(&b'e') as char),
            _ if at + 1 < len => chars.swap(at, at + 1),
            _ => chars[at] = 'x',
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_measures_both_mixes() {
        let report = run_with(&BenchOptions {
            keys: 5_000,
            sessions: 200,
            passes: 2,
        });
        let keys = report.stats.keys;
        assert!((5_000..5_100).contains(&keys), "{report}");
        assert!(
            report.prefix.best.queries > 1_000 && report.typo.best.queries > 1_000,
            "{report}"
        );
        assert_eq!(report.prefix.all.queries, 2 * report.prefix.best.queries);
        // Typos are mostly recovered even in a synthetic catalog full of look-alikes.
        assert!(report.typo_recall > 0.5, "{report}");
        assert!(report.prefix.best.p99 <= report.prefix.all.max, "{report}");
        assert_eq!(report.typo.slowest.len(), 5);
    }

    #[test]
    fn percentiles_are_read_at_their_rank() {
        let samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let l = Latency::of(samples);
        assert_eq!(l.queries, 1000);
        assert_eq!(l.p50, Duration::from_micros(501));
        assert_eq!(l.p99, Duration::from_micros(990));
        assert_eq!(l.p999, Duration::from_micros(999));
        assert_eq!(l.max, Duration::from_micros(1000));
        assert_eq!(Latency::of(Vec::new()).max, Duration::ZERO);
    }
}
