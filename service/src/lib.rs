//! Disco's HTTP service: the search API (`/search`, `/explore`, `/suggest`), the entity pages,
//! the search page at `/`, health, metrics, the API description, and the admin API.
//!
//! Searching itself is the `engine` crate's; this crate turns requests into engine calls and
//! answers into the wire shapes of the contract ([`api`]), maps every failure to a status
//! ([`error`]), and measures ([`metrics`]). The admin routes ([`admin`]) are the one place that
//! drives the writer (reindex, swap, rollback, read-only, the rank job); everything else only
//! reads, but for the rater's page ([`judge`]), which appends judgments to the query sets.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run(source: Arc<dyn engine::SearchSource>) -> std::io::Result<()> {
//! let state = service::QueryState::new(source);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! service::serve(listener, service::router(state), service::shutdown_signal()).await
//! # }
//! ```

pub mod admin;
pub mod api;
pub mod dashboard;
pub mod entity;
pub mod error;
pub mod events;
pub mod experiments;
pub mod judge;
pub mod listing;
pub mod load;
pub mod metrics;
pub mod page;
pub mod pool;
pub mod server;
pub mod stats;

pub use error::ApiError;
pub use server::{QueryConfig, QueryState, router, serve, shutdown_signal};
