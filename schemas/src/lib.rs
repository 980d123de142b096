//! Every schema of Disco in one place: the site's SQL migrations (PostgreSQL and SQLite), the
//! index definitions (flat JSON files, one per kind), the analyzer that makes names findable,
//! the event envelope, and the small typed values the other crates pass between them.
//!
//! It is also the one home of the site's rules, which every other crate reads instead of
//! restating: what is searchable ([`searchable`]), the popularity formula ([`popularity`]), and
//! how a statement's parameters are written for a dialect ([`db::Dialect::sql`]).
//!
//! This crate owns shapes, not behaviour: it never touches the broker, never writes an index
//! and never runs a query beyond applying its migrations.

pub mod activity;
pub mod analyzer;
pub mod db;
pub mod definition;
pub mod definition_diff;
pub mod definition_files;
pub mod document;
pub mod envelope;
pub mod keyboard;
pub mod kind;
pub mod popularity;
pub mod row;
pub mod searchable;
pub mod version;

pub use definition::{DefinitionError, Definitions};
pub use document::RenderError;
pub use envelope::{Action, Envelope, EnvelopeError};
pub use kind::{EntityKey, EntityKind};
pub use row::{EntityRow, FieldValue};
pub use version::Version;
