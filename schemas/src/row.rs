//! An entity as the indexer hydrates it: key, version, the system values every document carries,
//! and the kind's fields by the names its index definition uses.
//!
//! ```
//! use chrono::Utc;
//! use schemas::{EntityKey, EntityKind, Version};
//! use schemas::row::{EntityRow, FieldValue};
//!
//! let now = Utc::now();
//! let row = EntityRow::new(EntityKey::new(EntityKind::Track, 42), Version::from_datetime(now), now)
//!     .with("title", "Highway to Hell")
//!     .with("duration_ms", 208_000_i64);
//! assert_eq!(row.text("title"), Some("Highway to Hell"));
//! assert_eq!(row.fields.get("duration_ms"), Some(&FieldValue::Int(208_000)));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EntityKey, Version};

/// One value of an entity's field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Text(String),
    Int(i64),
    Float(f64),
}

impl FieldValue {
    /// The value's type as definitions and error messages name it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Text(_) => "text",
            FieldValue::Int(_) => "integer",
            FieldValue::Float(_) => "float",
        }
    }

    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Numbers print as a person reads them: `12`, `3.5`.
impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(s) => f.write_str(s),
            FieldValue::Int(n) => write!(f, "{n}"),
            FieldValue::Float(x) => write!(f, "{x}"),
        }
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        FieldValue::Text(value)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> Self {
        FieldValue::Text(value.to_string())
    }
}

impl From<i64> for FieldValue {
    fn from(value: i64) -> Self {
        FieldValue::Int(value)
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> Self {
        FieldValue::Float(value)
    }
}

/// A searchable entity's row, ready to render into a document
/// ([`Definitions::render`](crate::definition::Definitions::render)). Field names are those of
/// the kind's index definition; a field that is absent (SQL NULL) is simply left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRow {
    pub key: EntityKey,
    /// The row's `updated_at` in µs.
    pub version: Version,
    pub created_at: DateTime<Utc>,
    /// The interim popularity prior, from the entity's activity counts
    /// ([`crate::popularity::ActivityCounts`]); DiscoRank replaces it at query time when loaded.
    pub popularity: f64,
    pub fields: BTreeMap<String, FieldValue>,
}

impl EntityRow {
    /// A row with no fields and zero popularity.
    pub fn new(key: EntityKey, version: Version, created_at: DateTime<Utc>) -> Self {
        EntityRow {
            key,
            version,
            created_at,
            popularity: 0.0,
            fields: BTreeMap::new(),
        }
    }

    /// The row with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<FieldValue>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// The row with its popularity prior set.
    #[must_use]
    pub fn with_popularity(mut self, popularity: f64) -> Self {
        self.popularity = popularity;
        self
    }

    /// The text of field `name`, if it is present and text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(FieldValue::as_text)
    }
}
