//! Replaying a recorded keystroke mix against a build, in process: what the lookups of a real
//! catalog cost without HTTP around them, to set beside `disco-bench http` on the same mix.
//!
//! ```no_run
//! # fn main() -> Result<(), suggest::SuggestError> {
//! use bench::replay::{Lookup, replay};
//! let index = suggest::store::open("data/suggest".as_ref())?.expect("a saved build");
//! let suggester = suggest::Suggester::new(index);
//! let mix = [Lookup::parse_path("/suggest?q=summ&limit=8").expect("a /suggest path")];
//! println!("{}", replay(&suggester, &mix, 3));
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use schemas::EntityKind;
use suggest::Suggester;

use crate::suggesting::{Class, Latency};

/// One lookup of a mix: what was typed, the kind filter and how many suggestions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub text: String,
    pub kind: Option<EntityKind>,
    pub limit: usize,
}

/// Suggestions when a path gives no `limit` (the query service's default).
const DEFAULT_LIMIT: usize = 8;

impl Lookup {
    /// The lookup a `/suggest?q=…&kind=…&limit=…` request path asks for; `None` for another
    /// path or a parameter the service would refuse.
    pub fn parse_path(path: &str) -> Option<Lookup> {
        let query = path.strip_prefix("/suggest?")?;
        let mut lookup = Lookup {
            text: String::new(),
            kind: None,
            limit: DEFAULT_LIMIT,
        };
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = form_decode(value)?;
            match name {
                "q" => lookup.text = value,
                "kind" if !value.is_empty() && value != "all" => {
                    lookup.kind = Some(value.parse().ok()?)
                }
                "limit" if !value.is_empty() => lookup.limit = value.parse().ok()?,
                _ => {}
            }
        }
        Some(lookup)
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space, `%XX` a byte).
fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// What [`replay`] measured, split by whether typo tiers could run (4+ characters).
#[derive(Debug, Clone)]
pub struct ReplayReport {
    pub passes: usize,
    /// 1–3 characters: exact prefixes only.
    pub short: Class,
    /// 4 characters or more: the typo tiers run when the exact prefixes leave room.
    pub long: Class,
    /// Every lookup of every pass.
    pub all: Latency,
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "suggest replay: one warm-up pass, then {} timed passes",
            self.passes
        )?;
        writeln!(f, "  all lookups, every pass: {}", self.all)?;
        writeln!(f, "  1-3 characters:\n{}", self.short)?;
        write!(f, "  4+ characters:\n{}", self.long)
    }
}

/// Times every lookup of `mix`: one untimed pass (pages everything in, as a running service
/// has), then `passes` timed passes.
pub fn replay(suggester: &Suggester, mix: &[Lookup], passes: usize) -> ReplayReport {
    for q in mix {
        std::hint::black_box(suggester.suggest(&q.text, q.kind, q.limit));
    }
    let passes = passes.max(1);
    let mut every = vec![Vec::new(); mix.len()];
    for _ in 0..passes {
        for (i, q) in mix.iter().enumerate() {
            let t = Instant::now();
            let answers = suggester.suggest(&q.text, q.kind, q.limit);
            every[i].push(t.elapsed());
            std::hint::black_box(answers);
        }
    }
    let long = |q: &Lookup| q.text.trim().chars().count() >= 4;
    let class = |want_long: bool| {
        let picked = mix.iter().zip(&every).filter(|(q, _)| long(q) == want_long);
        Class::of(picked.map(|(q, times)| (q.text.as_str(), times.as_slice())))
    };
    ReplayReport {
        passes,
        short: class(false),
        long: class(true),
        all: Latency::of(every.concat()),
    }
}

/// Opens the saved build under `dir` and replays the `/suggest` paths of `paths` against it.
pub fn replay_saved(dir: &Path, paths: &Path, passes: usize) -> anyhow::Result<ReplayReport> {
    let mut mix = Vec::new();
    for path in crate::http_load::read_paths(paths)? {
        let lookup = Lookup::parse_path(&path)
            .with_context(|| format!("{}: not a /suggest request: {path}", paths.display()))?;
        mix.push(lookup);
    }
    let index = suggest::store::open(dir)?
        .with_context(|| format!("{}: no saved suggest build", dir.display()))?;
    let stats = index.stats();
    tracing::info!(
        keys = stats.keys,
        postings = stats.postings,
        lookups = mix.len(),
        "replaying"
    );
    let suggester = suggest::Suggester::new(index);
    Ok(replay(&suggester, &mix, passes))
}

#[cfg(test)]
mod tests {
    use schemas::EntityKey;

    use super::*;
    use suggest::{Record, SuggestIndex};

    #[test]
    fn suggest_paths_give_their_lookup() {
        assert_eq!(
            Lookup::parse_path("/suggest?q=Summer+%C3%A9t%C3%A9&limit=5&kind=track"),
            Some(Lookup {
                text: "Summer été".into(),
                kind: Some(EntityKind::Track),
                limit: 5
            })
        );
        assert_eq!(
            Lookup::parse_path("/suggest?q=a%2Bb"),
            Some(Lookup {
                text: "a+b".into(),
                kind: None,
                limit: 8
            })
        );
        assert_eq!(Lookup::parse_path("/search?q=a"), None);
        assert_eq!(Lookup::parse_path("/suggest?q=%zz"), None);
        assert_eq!(Lookup::parse_path("/suggest?q=a&kind=song"), None);
    }

    #[test]
    fn a_replay_times_every_lookup_of_every_pass() {
        let records = (0..50)
            .map(|i| {
                Record::new(
                    EntityKey::new(EntityKind::Track, i),
                    format!("summer {i}"),
                    1.0,
                )
            })
            .collect();
        let suggester = Suggester::new(SuggestIndex::build(records, &Default::default()));
        let mix: Vec<Lookup> = ["s", "su", "sum", "summ", "sumer 1"]
            .iter()
            .map(|q| Lookup {
                text: q.to_string(),
                kind: None,
                limit: 8,
            })
            .collect();
        let report = replay(&suggester, &mix, 2);
        assert_eq!(report.all.queries, 10, "{report}");
        assert_eq!(
            (report.short.best.queries, report.long.best.queries),
            (3, 2),
            "{report}"
        );
    }
}
