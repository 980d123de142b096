//! Disco's read side: the HTTP query service (`/search`, `/explore`, health, metrics, the API
//! description) and the search page at `/`.
//!
//! It owns how a typed query becomes a tantivy query ([`language`], [`compile`]), how text
//! relevance and the prior combine ([`blend`], [`prior`]), and how results are read back for
//! display ([`search`], [`explore`], [`highlight`]). It never writes an index: the live
//! generation comes from a [`SearchSource`] the binary provides, priors from a [`PriorSource`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run(source: Arc<dyn query::SearchSource>) -> std::io::Result<()> {
//! let state = query::QueryState::new(source);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! query::serve(listener, query::router(state), query::shutdown_signal()).await
//! # }
//! ```

pub mod admin;
pub mod api;
pub mod bench;
pub mod blend;
pub mod cached;
pub mod collect;
pub mod compile;
pub mod entity;
pub mod error;
pub mod explore;
pub mod fuzzy;
pub mod highlight;
pub mod language;
pub mod layout;
pub mod metrics;
pub mod page;
pub mod prior;
mod prune;
pub mod ranks;
pub mod restrict;
pub mod search;
pub mod service;
pub mod source;
pub mod union;

pub use error::ApiError;
pub use prior::{Prior, PriorSource, RankChoice};
pub use service::{QueryConfig, QueryState, router, serve, shutdown_signal};
pub use source::{FixedSource, SearchSource, Snapshot};
