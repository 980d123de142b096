//! The feed: how a reindex hands its pages to the running indexer.
//!
//! A reindex reads pages; the running [`Indexer`](crate::Indexer) writes them between its live
//! batches, so each generation keeps one writer and one version map. This module is only the
//! protocol between the two: the [`Work`] a reindex sends, the answer it waits for, and the
//! sending end, [`ReindexFeed`]. `pipeline` serves it (`Indexer::reindex_feed` and its loop) and
//! `reindex` uses it; both depend on this module and `pipeline` knows nothing of `reindex`.
//! (With no running indexer in the process, a reindex opens an `Indexer` of its own and calls
//! it directly: `reindex` → `pipeline`, one way.)

use tokio::sync::{mpsc, oneshot};

use crate::IndexerError;
use crate::batch::BatchReport;
use crate::generations::Generation;
use crate::hydrate::Hydrated;

/// What a reindex hands the running indexer.
pub(crate) enum Work {
    /// A page of hydrated rows to write (`Indexer::apply_rows`).
    Rows(Vec<Hydrated>),
    /// Commit the generation and mark it built (`Indexer::finish_build`).
    Finish(Generation),
    /// The background commit of a finishing build is done (the indexer hands this to itself).
    Committed {
        generation: Generation,
        result: Result<(), IndexerError>,
    },
    /// Rows as the database has them now (`Indexer::reconcile`): those the index holds at
    /// another version are re-read and written; for a full sweep of a kind, the index's
    /// documents of that kind that have no row are removed and those whose counts or track
    /// lists differ from their row's are re-counted.
    Reconcile(crate::reconcile::Observed),
}

/// Work handed to the running indexer, and where it reports back.
pub(crate) struct Synthesized {
    pub(crate) work: Work,
    pub(crate) done: oneshot::Sender<Result<BatchReport, IndexerError>>,
}

/// The way into a running [`Indexer`](crate::Indexer) (from
/// [`Indexer::reindex_feed`](crate::Indexer::reindex_feed)). Cheap to clone.
#[derive(Clone)]
pub struct ReindexFeed {
    sender: mpsc::Sender<Synthesized>,
}

impl std::fmt::Debug for ReindexFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReindexFeed").finish_non_exhaustive()
    }
}

impl ReindexFeed {
    pub(crate) fn new(sender: mpsc::Sender<Synthesized>) -> ReindexFeed {
        ReindexFeed { sender }
    }

    /// Writes `rows` through the running indexer
    /// ([`Indexer::apply_rows`](crate::Indexer::apply_rows)); waits until they are written
    /// (committed in every generation but the one being built).
    pub async fn apply_rows(&self, rows: Vec<Hydrated>) -> Result<BatchReport, IndexerError> {
        self.send(Work::Rows(rows)).await
    }

    /// Commits everything `generation` was given and marks it built, in the indexer's own
    /// loop ([`Indexer::finish_build`](crate::Indexer::finish_build)); waits until it is
    /// durable, searchable and built.
    pub async fn finish(&self, generation: Generation) -> Result<(), IndexerError> {
        self.send(Work::Finish(generation)).await.map(|_| ())
    }

    /// Repairs what the index holds differently from `observed`
    /// ([`Indexer::reconcile`](crate::Indexer::reconcile)); waits until it is written. The
    /// report's outcomes count the repairs.
    pub async fn reconcile(
        &self,
        observed: crate::reconcile::Observed,
    ) -> Result<BatchReport, IndexerError> {
        self.send(Work::Reconcile(observed)).await
    }

    async fn send(&self, work: Work) -> Result<BatchReport, IndexerError> {
        let (done, answer) = oneshot::channel();
        self.sender
            .send(Synthesized { work, done })
            .await
            .map_err(|_| IndexerError::Cancelled)?;
        answer.await.map_err(|_| IndexerError::Cancelled)?
    }
}
