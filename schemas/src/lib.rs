//! Every schema of Disco in one place: the site's SQL migrations (PostgreSQL and SQLite), the
//! index definitions (flat JSON files, one per kind), the analyzer that makes names findable,
//! the event envelope, and the small typed values the other crates pass between them.
//!
//! This crate owns shapes, not behaviour: it never touches the broker, never writes an index
//! and never runs a query beyond applying its migrations.

pub mod analyzer;
pub mod db;
pub mod definition;
pub mod document;
pub mod envelope;
pub mod kind;
pub mod row;
pub mod version;

pub use definition::{DefinitionError, Definitions};
pub use document::RenderError;
pub use envelope::{Action, Envelope, EnvelopeError};
pub use kind::{EntityKey, EntityKind};
pub use row::{EntityRow, FieldValue};
pub use version::Version;
