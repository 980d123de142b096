//! Where searchers come from. The query service never opens or writes an index itself: a
//! [`SearchSource`] hands it the live generation's searcher with the definitions it was built
//! with. The binary adapts the indexer's generation catalog to this trait; tests use
//! [`FixedSource`] over an index they built themselves.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tantivy::{IndexReader, Searcher};

use schemas::EntityKind;
use schemas::definition::Definitions;

use crate::layout::{Layout, LayoutError};

/// The live generation, as of one request.
#[derive(Clone)]
pub struct Snapshot {
    pub searcher: Searcher,
    pub definitions: Arc<Definitions>,
}

/// Gives out the live generation's searcher. `None` means no generation is open yet (the
/// service answers 503 on search and is not ready).
pub trait SearchSource: Send + Sync + 'static {
    fn snapshot(&self) -> Option<Snapshot>;

    /// A snapshot of index generation `generation` whether live or not, for an experiment
    /// arm that compares generations; `None` when this source has no such generation (a
    /// source of one index has none by number).
    fn generation(&self, generation: u32) -> Option<Snapshot> {
        let _ = generation;
        None
    }
}

/// One index, always the same: for tests, benchmarks and a read-only service.
pub struct FixedSource {
    reader: IndexReader,
    definitions: Arc<Definitions>,
}

impl FixedSource {
    /// Serves `reader`'s index, which was built from `definitions` (and has its analyzers
    /// registered: `schemas::analyzer::register(index.tokenizers())`).
    pub fn new(reader: IndexReader, definitions: Arc<Definitions>) -> Self {
        FixedSource {
            reader,
            definitions,
        }
    }
}

impl SearchSource for FixedSource {
    fn snapshot(&self) -> Option<Snapshot> {
        Some(Snapshot {
            searcher: self.reader.searcher(),
            definitions: self.definitions.clone(),
        })
    }
}

impl Layout {
    /// The layout of an index built from `definitions`: its kinds' searchable fields and, as
    /// filterable fields, its indexed keyword fields (read back from the schema the
    /// definitions built, see [`crate::layout::filterable_fields`]).
    pub fn from_definitions(definitions: &Definitions) -> Result<Layout, LayoutError> {
        let kinds = EntityKind::ALL.map(|kind| {
            let fields = definitions
                .searchable(kind)
                .iter()
                .map(|f| (f.name.clone(), f.boost))
                .collect();
            (kind, fields)
        });
        Layout::new(&definitions.schema(), kinds)
    }
}

/// Layouts remembered by [`LayoutCache`]: the live generation, the one before or after a swap,
/// and an experiment's other generation fit.
pub const LAYOUTS_KEPT: usize = 4;

/// Remembers the layouts of the last few definitions seen (by `Arc`, which it keeps alive so
/// its address is never reused for others), so a layout is worked out once per generation
/// rather than once per request, even when an experiment interleaves two generations.
#[derive(Default)]
pub struct LayoutCache {
    /// Least recently used first.
    kept: Mutex<VecDeque<(Arc<Definitions>, Arc<Layout>)>>,
}

impl LayoutCache {
    pub fn layout(&self, definitions: &Arc<Definitions>) -> Result<Arc<Layout>, LayoutError> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = kept
            .iter()
            .position(|(defs, _)| Arc::ptr_eq(defs, definitions))
        {
            let layout = kept[at].1.clone();
            if let Some(entry) = kept.remove(at) {
                kept.push_back(entry);
            }
            return Ok(layout);
        }
        let layout = Arc::new(Layout::from_definitions(definitions)?);
        if kept.len() >= LAYOUTS_KEPT {
            kept.pop_front();
        }
        kept.push_back((definitions.clone(), layout.clone()));
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::definition::FieldType;

    #[test]
    fn filterable_fields_are_the_indexed_keyword_fields_of_the_definitions() {
        let defs = Definitions::builtin();
        let layout = Layout::from_definitions(&defs).expect("layout");
        let mut keyword: Vec<&str> = EntityKind::ALL
            .iter()
            .flat_map(|k| &defs.kind(*k).fields)
            .filter(|f| f.ty == FieldType::Keyword && f.indexed)
            .map(|f| f.name.as_str())
            .collect();
        keyword.sort_unstable();
        keyword.dedup();
        assert_eq!(layout.filterable_names(), keyword);
        assert_eq!(layout.filterable_names(), ["genre"]);
        let genre = layout.filterable("genre").expect("genre filters");
        assert_eq!(Some(genre.field), defs.field("genre"));
        assert_eq!(genre.analyzer, "keyword");
        for not in ["title", "likes", "kind", "key", "name_key", "nosuch"] {
            assert!(layout.filterable(not).is_none(), "{not} is not filterable");
        }
    }

    #[test]
    fn the_cache_keeps_a_few_generations_and_forgets_the_least_recent() {
        let cache = LayoutCache::default();
        let defs: Vec<Arc<Definitions>> = (0..=LAYOUTS_KEPT)
            .map(|_| Arc::new(Definitions::builtin()))
            .collect();
        let first = cache.layout(&defs[0]).expect("layout");
        let second = cache.layout(&defs[1]).expect("layout");
        for _ in 0..3 {
            // Two generations interleaved: each keeps its layout.
            assert!(Arc::ptr_eq(
                &first,
                &cache.layout(&defs[0]).expect("layout")
            ));
            assert!(Arc::ptr_eq(
                &second,
                &cache.layout(&defs[1]).expect("layout")
            ));
        }
        // Filling the cache forgets the least recently used: the first, not the second.
        cache.layout(&defs[0]).expect("layout");
        for d in &defs[2..] {
            cache.layout(d).expect("layout");
        }
        assert!(Arc::ptr_eq(
            &first,
            &cache.layout(&defs[0]).expect("layout")
        ));
        assert!(!Arc::ptr_eq(
            &second,
            &cache.layout(&defs[1]).expect("layout")
        ));
    }
}
