//! Typeahead for Disco: the names of every searchable entity in a finite state transducer
//! (the `fst` crate), answered on every keystroke in microseconds.
//!
//! This crate owns the suggest build (every folded name and every word start inside it, each
//! tied to an entity and its weight = prior × kind factor), the lookup (exact prefixes first,
//! then one or two typos, heaviest first, one suggestion per entity, optionally one kind), the
//! delta that applies creates, renames and removals without a rebuild, and the atomic swap of
//! builds. It never speaks HTTP (the query service does) and never writes the database.
//!
//! ```
//! use schemas::{EntityKey, EntityKind};
//! use suggest::{Change, Record, SuggestIndex, Suggester};
//!
//! let records = vec![
//!     Record::new(EntityKey::new(EntityKind::Track, 1), "Around the World", 5.0),
//!     Record::user(2, "daftpunk", "Daft Punk", 9.0),
//! ];
//! let suggester = Suggester::new(SuggestIndex::build(records, &Default::default()));
//! let texts = |q: &str| suggester.suggest(q, None, 10).into_iter().map(|s| s.text).collect::<Vec<_>>();
//! assert_eq!(texts("wor"), ["Around the World"]);   // a word inside the name
//! assert_eq!(texts("daftp"), ["Daft Punk"]);        // by username, shown by full name
//! assert_eq!(texts("arund"), ["Around the World"]); // one typo
//! suggester.apply(Change::Upsert(Record::new(EntityKey::new(EntityKind::Track, 1), "One More Time", 5.0)));
//! assert!(texts("wor").is_empty());                 // renamed: found by its new name only
//! assert_eq!(texts("one m"), ["One More Time"]);
//! ```
//!
//! A build and the delta weigh an entity with the same [`SuggestPrior`] (DiscoRank, or the
//! popularity of [`schemas::popularity`]), so an entity keeps its place when it is edited.
//!
//! Modules: [`normalize`] (names → keys), `build` and `index` (the FST and the lanes), `topk`
//! (heaviest postings of key ranges), `fuzzy` (typo walk), [`delta`] (changes since the
//! build), [`store`] (builds on disk), [`names_db`] (the names of searchable entities, read from
//! the site's database), [`rebuild`] (background builds). Benchmarks and the keystroke replay
//! live in the `bench` crate.

mod build;
pub mod delta;
mod fuzzy;
mod index;
pub mod names_db;
pub mod normalize;
mod query;
pub mod rebuild;
mod record;
pub mod store;
mod suggester;
mod topk;

use std::path::PathBuf;

pub use delta::Change;
pub use index::{IndexStats, SuggestIndex};
pub use rebuild::{BuildReport, build_and_save, rebuild};
pub use record::{KindFactors, Record, SuggestPrior};
pub use suggester::{MAX_LIMIT, Mark, Suggester, Suggestion};

/// Everything that can go wrong building, saving or opening suggest data.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    #[error("reading the names to suggest from the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a suggest build this version can read ({reason}); run `disco suggest-build` again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("the suggest build stopped before it finished: {0}")]
    Build(String),
}
