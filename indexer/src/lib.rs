//! The indexer: keeps tantivy index generations equal to the site's database.
//!
//! It consumes entity events (RabbitMQ through lapin, or the in-process bus of the embedded
//! mode), reads only their envelope (kind, id, event time), re-reads each entity from the
//! database in batches, and writes versioned documents and tombstones — under duplicates,
//! reordering, replica lag, crashes and restarts (docs/ARCHITECTURE.md, "The flow", "Versioning").
//!
//! One function, [`Indexer::process`], follows a batch through every stage in order:
//! envelope → batch → hydrate → render → versioned write → commit → ack.
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), indexer::IndexerError> {
//! use indexer::{Generations, Indexer, IndexerConfig, broker::MemoryBus};
//! let generations = Generations::open(std::path::Path::new("./data"))?;
//! let bus = MemoryBus::new();                       // the site publishes here
//! let indexer = Indexer::open(db, generations.clone(), IndexerConfig::default())?;
//! let mut changes = indexer.subscribe();            // IndexChange after each commit
//! let cancel = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(indexer.run(bus.source(), cancel.clone()));
//! let (searcher, definitions) = generations.live_searcher(); // the query service reads these
//! # drop((changes.try_recv(), searcher, definitions)); Ok(()) }
//! ```
//!
//! This crate never serves HTTP and never writes the site's database.

pub mod batch;
pub mod broker;
pub mod derived;
pub mod feed;
pub mod generations;
pub mod hydrate;
pub mod metrics;
mod pipeline;
pub mod priority;
pub mod reconcile;
pub mod reindex;
#[doc(hidden)]
pub mod testing;
pub mod verify;
pub mod versions;

use std::path::{Path, PathBuf};

use schemas::row::EntityRow;
use schemas::{EntityKey, Version};

pub use batch::BatchReport;
pub use generations::{Generation, GenerationHandle, Generations};
pub use pipeline::{Indexer, IndexerConfig, REFRESH_INTERVAL};
/// The tantivy this crate writes with, for readers that want the exact same version.
pub use tantivy;
/// Stops [`Indexer::run`] (re-exported so callers need no tokio-util of their own).
pub use tokio_util::sync::CancellationToken;

/// A committed change, broadcast after each commit (the suggest delta listens).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexChange {
    pub key: EntityKey,
    pub version: Version,
    /// The row now searchable, or `None` when the entity is now unsearchable.
    pub row: Option<EntityRow>,
}

/// Everything that can stop the indexer, with what a person needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index at {path}: {source}")]
    Index {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("{path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A task the indexer spawned (a write, a commit, a reindex's reader) panicked or was
    /// aborted: a bug or a shutdown, not a damaged index.
    #[error("{task} failed: {reason}")]
    TaskFailed { task: String, reason: String },
    #[error("no generation {0}")]
    NoSuchGeneration(Generation),
    #[error("{0} is not built; only a built generation can be made live")]
    NotBuilt(Generation),
    #[error(
        "{generation} at {} was built with another index schema than this version of Disco \
         writes; move the index directory away and rebuild (`disco reindex --swap`; `disco demo` \
         rebuilds an empty one itself)",
        path.display()
    )]
    SchemaChanged {
        generation: Generation,
        path: PathBuf,
    },
    /// A generation's own definitions (`gen-N/definitions/`) do not load.
    #[error("{generation}'s definitions: {source}")]
    Definitions {
        generation: Generation,
        source: schemas::DefinitionError,
    },
    /// A generation's definitions were edited after it was created: its documents follow the
    /// ones it was built with, so a change needs a new generation.
    #[error(
        "{generation}'s definitions at {} were changed in place (digest {found:.12}, built with \
         {recorded:.12}); a generation keeps its definitions for its whole life: restore them, \
         and build a new generation with the change (`disco reindex --definitions DIR`, or \
         POST /admin/reindex with the definitions)",
        path.display()
    )]
    DefinitionsChangedInPlace {
        generation: Generation,
        path: PathBuf,
        recorded: String,
        found: String,
    },
    #[error("there is no previous generation to roll back to")]
    NoPrevious,
    #[error(transparent)]
    Versions(#[from] versions::RebuildError),
    #[error(transparent)]
    Source(#[from] broker::SourceError),
    #[error("reading the site's database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the indexer was stopped")]
    Cancelled,
    #[error("a reindex is already building")]
    Busy,
}

impl IndexerError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> IndexerError {
        IndexerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn task_failed(
        task: impl Into<String>,
        join: tokio::task::JoinError,
    ) -> IndexerError {
        IndexerError::TaskFailed {
            task: task.into(),
            reason: join.to_string(),
        }
    }

    pub(crate) fn index(path: &Path, source: tantivy::TantivyError) -> IndexerError {
        IndexerError::Index {
            path: path.to_path_buf(),
            source,
        }
    }
}
