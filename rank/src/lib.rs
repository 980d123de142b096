//! DiscoRank: a weighted PageRank over the site's activity graph, warm-started and versioned.
//!
//! This crate owns the rank job end to end: it streams entities and activities from the
//! site's database ([`load_graph`]) into a compressed graph ([`Graph`], 12 bytes per edge),
//! runs weighted PageRank with the networkx conventions in parallel ([`pagerank`]), starts
//! from the active version's scores (residual pushes, then sweeps, [`WarmStrategy::Push`],
//! [`pagerank_warm`]; sweeps alone on request, [`WarmStrategy::Plain`]), and writes versions
//! that the query service loads
//! ([`RankStore`], [`RankScores`]). It never speaks HTTP and never touches the index: the
//! query crate serves and blends the scores, `disco rank` drives the job.
//!
//! ```no_run
//! # async fn run(db: &schemas::db::Db) -> Result<(), rank::RankError> {
//! use schemas::{EntityKey, EntityKind};
//! let store = rank::RankStore::in_data_dir("data")?;
//! let manifest = rank::run_job(db, &store, &rank::JobOptions::default()).await?; // activates
//! let scores = store.load(manifest.version)?;
//! let prior = scores.relative(EntityKey::new(EntityKind::Track, 42)).unwrap_or(1.0);
//! # let _ = prior; Ok(()) }
//! ```
//!
//! Modules: [`weights`] (activity → edge weight, `weights.json`), [`nodes`] (entity ↔ node
//! number), [`graph`] (CSR), [`load`] (database → graph), [`kernel`] (PageRank), [`push`]
//! (the warm start with residual pushes), [`scores`] (one version's scores), [`versions`] (the
//! version directory), [`job`] (one run), [`schedule`] (runs on a period), [`spark`] (the graph
//! as Parquet for the PySpark job, and its scores back as a version). Benchmarks and the
//! synthetic activity graph live in the `bench` crate.

pub mod graph;
pub mod job;
pub mod kernel;
pub mod load;
pub mod nodes;
mod progress;
pub mod push;
pub mod schedule;
pub mod scores;
pub mod spark;
pub mod versions;
pub mod weights;

use std::path::{Path, PathBuf};

pub use graph::{Graph, GraphBuilder};
pub use job::{JobOptions, WarmStrategy, run_job, run_job_with, warm_start_vector};
pub use kernel::{Method, PageRankOptions, PageRankResult, l1_distance, pagerank, pagerank_with};
pub use load::{LoadedGraph, load_graph};
pub use nodes::NodeTable;
pub use progress::ProgressMode;
pub use push::{PushOptions, PushWork, WarmPush, pagerank_warm, pagerank_warm_with};
pub use scores::RankScores;
pub use versions::{Durations, Manifest, RankStore, RankVersion, WarmStart};
pub use weights::Weights;

/// Everything that can go wrong in the rank crate, with the context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum RankError {
    #[error("rank weights {origin}: {reason}")]
    Weights { origin: String, reason: String },
    #[error("reading the rank graph failed on `{sql}`: {source}")]
    Db {
        sql: &'static str,
        source: sqlx::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("rank version {0} does not exist (see `disco rank list`)")]
    UnknownVersion(RankVersion),
    #[error("{0}")]
    Input(String),
    #[error("graph too large: {0}")]
    TooLarge(String),
    #[error("{path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
}

impl RankError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> RankError {
        RankError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn db(sql: &'static str, source: sqlx::Error) -> RankError {
        RankError::Db { sql, source }
    }
}
