//! Rendering entity rows into tantivy documents, driven by the index definitions: no kind has
//! hand-written code here. Also the tombstone a deleted entity leaves behind and the display
//! templates that title a result.
//!
//! ```
//! use chrono::Utc;
//! use schemas::definition::Definitions;
//! use schemas::row::EntityRow;
//! use schemas::{EntityKey, EntityKind, Version};
//!
//! let defs = Definitions::builtin();
//! let now = Utc::now();
//! let row = EntityRow::new(EntityKey::new(EntityKind::User, 7), Version::from_datetime(now), now)
//!     .with("username", "acdc")
//!     .with("full_name", "AC/DC");
//! let display = defs.display(&row).unwrap();
//! assert_eq!((display.title.as_str(), display.subtitle.as_str()), ("AC/DC", "@acdc"));
//! let doc = defs.render(&row).unwrap();
//! # let _ = doc;
//! ```

use chrono::DateTime;
use tantivy::{TantivyDocument, Term};

use crate::definition::{Definitions, FieldDef, FieldType};
use crate::row::{EntityRow, FieldValue};
use crate::{EntityKey, Version};

/// A row could not become a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{key}: field `{field}` is not in the {kind} index definition")]
    UnknownField {
        key: EntityKey,
        kind: String,
        field: String,
    },
    #[error("{key}: field `{field}` is {expected} in the index definition, the row has {got}")]
    WrongType {
        key: EntityKey,
        field: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("{key}: field `{field}`: {problem}")]
    BadValue {
        key: EntityKey,
        field: String,
        problem: String,
    },
}

/// The two lines a result shows, rendered from the kind's display templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    pub title: String,
    pub subtitle: String,
}

impl Definitions {
    /// The document for a searchable row: system fields, the kind's fields (text cut to its
    /// `max_chars` prefix), and the display lines. Fields absent from the row are left out.
    pub fn render(&self, row: &EntityRow) -> Result<TantivyDocument, RenderError> {
        let kind = self.kind(row.key.kind);
        let sys = self.system();
        let mut doc = TantivyDocument::default();
        doc.add_text(sys.key, row.key.to_string());
        doc.add_text(sys.kind, row.key.kind.as_str());
        doc.add_i64(sys.id, row.key.id);
        doc.add_u64(sys.version, row.version.0);
        doc.add_u64(sys.tombstone, 0);
        doc.add_f64(sys.popularity, row.popularity);
        doc.add_date(
            sys.created_at,
            tantivy::DateTime::from_timestamp_micros(row.created_at.timestamp_micros()),
        );
        for (name, value) in &row.fields {
            let def = kind.field(name).ok_or_else(|| RenderError::UnknownField {
                key: row.key,
                kind: kind.kind.to_string(),
                field: name.clone(),
            })?;
            add_value(&mut doc, row.key, def, value)?;
        }
        let display = self.display(row)?;
        doc.add_text(sys.display_title, display.title);
        doc.add_text(sys.display_subtitle, display.subtitle);
        Ok(doc)
    }

    /// The title and subtitle of a row, as [`render`](Definitions::render) stores them.
    pub fn display(&self, row: &EntityRow) -> Result<Display, RenderError> {
        let kind = self.kind(row.key.kind);
        Ok(Display {
            title: kind.display_title.render(row),
            subtitle: kind.display_subtitle.render(row),
        })
    }

    /// The document that marks `key` unsearchable as of `version`, so a late older event
    /// cannot bring it back. It carries only system fields, with `tombstone` = 1.
    pub fn tombstone(&self, key: EntityKey, version: Version) -> TantivyDocument {
        let sys = self.system();
        let mut doc = TantivyDocument::default();
        doc.add_text(sys.key, key.to_string());
        doc.add_text(sys.kind, key.kind.as_str());
        doc.add_i64(sys.id, key.id);
        doc.add_u64(sys.version, version.0);
        doc.add_u64(sys.tombstone, 1);
        doc
    }

    /// The term that names `key`'s documents: delete it before adding a new version.
    pub fn key_term(&self, key: EntityKey) -> Term {
        Term::from_field_text(self.system().key, &key.to_string())
    }
}

fn add_value(
    doc: &mut TantivyDocument,
    key: EntityKey,
    def: &FieldDef,
    value: &FieldValue,
) -> Result<(), RenderError> {
    let wrong = |expected: &'static str| RenderError::WrongType {
        key,
        field: def.name.clone(),
        expected,
        got: value.type_name(),
    };
    match (def.ty, value) {
        (FieldType::Text | FieldType::Keyword, FieldValue::Text(text)) => {
            doc.add_text(def.field, prefix(text, def.max_chars));
        }
        // Numbers in a text field (a numeric username, say) index as their digits.
        (FieldType::Text | FieldType::Keyword, number) => {
            doc.add_text(def.field, number.to_string());
        }
        (FieldType::I64, FieldValue::Int(n)) => doc.add_i64(def.field, *n),
        (FieldType::I64, _) => return Err(wrong("an integer")),
        (FieldType::F64, FieldValue::Float(x)) => doc.add_f64(def.field, *x),
        (FieldType::F64, FieldValue::Int(n)) => doc.add_f64(def.field, *n as f64),
        (FieldType::F64, _) => return Err(wrong("a number")),
        (FieldType::Date, FieldValue::Int(micros)) => {
            doc.add_date(def.field, tantivy::DateTime::from_timestamp_micros(*micros));
        }
        (FieldType::Date, FieldValue::Text(text)) => {
            let at = DateTime::parse_from_rfc3339(text).map_err(|e| RenderError::BadValue {
                key,
                field: def.name.clone(),
                problem: format!("`{}` is not an RFC 3339 time: {e}", prefix(text, Some(40))),
            })?;
            doc.add_date(
                def.field,
                tantivy::DateTime::from_timestamp_micros(at.timestamp_micros()),
            );
        }
        (FieldType::Date, FieldValue::Float(_)) => return Err(wrong("a time")),
    }
    Ok(())
}

/// The first `max` characters of `text` (all of it when shorter or unbounded).
fn prefix(text: &str, max: Option<usize>) -> &str {
    match max.and_then(|m| text.char_indices().nth(m)) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// A display template: literal text and placeholders. `{a}` inserts field `a`; `{a|b}` the
/// first of `a`, `b` that is present and not blank; `{n#member#members}` the integer `n`
/// followed by the singular or plural word (`1 member`, `5 members`; absent counts as 0).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    First(Vec<String>),
    Count {
        field: String,
        singular: String,
        plural: String,
    },
}

impl Template {
    /// Parses `source`, checking every placeholder names one of `fields`. The error is the
    /// problem, for the caller to place in a [`DefinitionError`](crate::definition::DefinitionError).
    pub(crate) fn parse(source: &str, fields: &[FieldDef]) -> Result<Template, String> {
        let known = |name: &str| -> Result<&FieldDef, String> {
            fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| format!("unknown field `{name}` in `{source}`"))
        };
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!("unmatched `}}` in `{source}`"));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| format!("unclosed `{{` in `{source}`"))?;
            let inner = &rest[open + 1..close];
            if inner.contains('{') {
                return Err(format!("nested `{{` in `{source}`"));
            }
            if let Some((field, words)) = inner.split_once('#') {
                let (singular, plural) = words.split_once('#').ok_or_else(|| {
                    format!("`{{{inner}}}` needs the form {{count#singular#plural}}")
                })?;
                let def = known(field.trim())?;
                if def.ty != FieldType::I64 {
                    return Err(format!("`{{{inner}}}` counts a field that is not i64"));
                }
                parts.push(Part::Count {
                    field: def.name.clone(),
                    singular: singular.to_string(),
                    plural: plural.to_string(),
                });
            } else {
                let names = inner
                    .split('|')
                    .map(|n| known(n.trim()).map(|f| f.name.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(Part::First(names));
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub(crate) fn render(&self, row: &EntityRow) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::First(names) => {
                    let value = names
                        .iter()
                        .filter_map(|n| row.fields.get(n))
                        .map(ToString::to_string)
                        .find(|v| !v.trim().is_empty());
                    if let Some(value) = value {
                        out.push_str(value.trim());
                    }
                }
                Part::Count {
                    field,
                    singular,
                    plural,
                } => {
                    let n = match row.fields.get(field) {
                        Some(FieldValue::Int(n)) => *n,
                        _ => 0,
                    };
                    let word = if n == 1 { singular } else { plural };
                    out.push_str(&format!("{n} {word}"));
                }
            }
        }
        out.trim().to_string()
    }
}
