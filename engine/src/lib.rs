//! Disco's search engine: how a typed query becomes a tantivy query ([`language`], [`compile`]),
//! how text relevance and the prior combine ([`blend`], [`prior`], [`ranks`]), and how results
//! are found and read back for display ([`search`], [`explore`], [`collect`], [`highlight`]),
//! and what an owner made ([`owned`], for entity pages).
//!
//! It never speaks HTTP (the `service` crate does) and never writes an index: searchers come
//! from a [`SearchSource`] the caller provides, priors from a [`PriorSource`]. So everything
//! here is tested in process, without a server.
//!
//! ```no_run
//! # fn run(source: &dyn engine::SearchSource) -> Result<(), Box<dyn std::error::Error>> {
//! use engine::layout::Layout;
//! use engine::search::{SearchRequest, SearchSettings, search};
//! let snapshot = source.snapshot().ok_or("no live generation yet")?;
//! let layout = Layout::from_definitions(&snapshot.definitions)?;
//! let request = SearchRequest { text: "iron maiden".into(), limit: 10, ..Default::default() };
//! let outcome = search(&snapshot.searcher, &layout, None, &SearchSettings::default(), &request, None)?;
//! for hit in &outcome.hits {
//!     println!("{} {} ({})", hit.key, hit.title, hit.score);
//! }
//! # Ok(()) }
//! ```

pub mod blend;
pub mod cached;
pub mod collect;
pub mod compile;
pub mod evaluation;
pub mod explore;
pub mod fuzzy;
pub mod highlight;
pub mod language;
pub mod layout;
pub mod owned;
pub mod prior;
mod prune;
pub mod ranks;
pub mod restrict;
pub mod search;
mod sorted;
pub mod source;
mod statistics;
pub mod union;

pub use prior::{Prior, PriorSource, RankChoice};
pub use source::{FixedSource, SearchSource, Snapshot};

/// An index in memory for unit tests, with the analyzers registered, and a writer on it.
#[cfg(test)]
pub(crate) mod test_index {
    use schemas::definition::Definitions;
    use tantivy::{Index, IndexWriter};

    pub(crate) fn in_ram(definitions: &Definitions) -> (Index, IndexWriter) {
        let index = Index::create_in_ram(definitions.schema());
        schemas::analyzer::register(index.tokenizers());
        let writer = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        (index, writer)
    }
}
