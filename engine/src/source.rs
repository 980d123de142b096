//! Where searchers come from. The query service never opens or writes an index itself: a
//! [`SearchSource`] hands it the live generation's searcher with the definitions it was built
//! with. The binary adapts the indexer's generation catalog to this trait; tests use
//! [`FixedSource`] over an index they built themselves.

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
    /// The layout of an index built from `definitions`.
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

/// Remembers the layout of the last definitions seen, so it is worked out once per generation
/// rather than once per request.
#[derive(Default)]
pub struct LayoutCache {
    last: Mutex<Option<(Arc<Definitions>, Arc<Layout>)>>,
}

impl LayoutCache {
    pub fn layout(&self, definitions: &Arc<Definitions>) -> Result<Arc<Layout>, LayoutError> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((defs, layout)) = last.as_ref()
            && Arc::ptr_eq(defs, definitions)
        {
            return Ok(layout.clone());
        }
        let layout = Arc::new(Layout::from_definitions(definitions)?);
        *last = Some((definitions.clone(), layout.clone()));
        Ok(layout)
    }
}
