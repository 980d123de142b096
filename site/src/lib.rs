//! The site's side of Disco, for the demo, the tests and the benchmarks: it fills the site's
//! database with a catalog ([`seed`]: the real Chinook catalog or a synthetic one shaped like a
//! real site) and then behaves like the site ([`simulate`]: creates, edits, deletes, hides and
//! restores entities, writing each row first and then publishing its event).
//!
//! This crate writes the site's tables and publishes events; it never reads or writes an index.
//!
//! ```no_run
//! # async fn run() -> Result<(), site::SiteError> {
//! let db = schemas::db::Db::connect("sqlite://data/disco.db").await.unwrap();
//! db.migrate().await.unwrap();
//! let options = site::seed::SeedOptions::chinook(); // the embedded catalog
//! let report = site::seed::seed(&db, &options, &site::progress::ProgressMeter::hidden()).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

pub mod chinook;
pub mod load;
pub mod names;
pub mod progress;
pub mod publish;
pub mod rows;
pub mod searchers;
pub mod seed;
pub mod simulate;
pub mod synthetic;

use std::path::PathBuf;

/// Everything that can go wrong seeding or simulating, with the context a person needs.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("{context}: {source}")]
    Database {
        context: String,
        source: sqlx::Error,
    },
    #[error(
        "the database already holds a catalog (table {table} has {rows} rows); \
         pass --reset to empty it first"
    )]
    NotEmpty { table: rows::Table, rows: i64 },
    #[error("Chinook fixture {path}: {source} (leave out --chinook to use the embedded catalog)")]
    ChinookMissing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Chinook fixture {path}: {message}")]
    ChinookFormat { path: PathBuf, message: String },
    #[error("publishing {routing_key}: {message}")]
    Publish {
        routing_key: String,
        message: String,
    },
    #[error("broker at {url}: {message}")]
    Broker { url: String, message: String },
    #[error("a generator thread failed: {0}")]
    Worker(String),
    #[error("{0}")]
    Invalid(String),
}

impl SiteError {
    /// Wraps a database error with what we were doing, for `map_err`.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> SiteError {
        let context = context.into();
        move |source| SiteError::Database { context, source }
    }
}
