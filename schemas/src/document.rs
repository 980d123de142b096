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
use crate::{EntityKey, EntityKind, Version};

/// A display line inserts at most this many characters of one field.
pub const DISPLAY_MAX_CHARS: usize = 300;

/// A row could not become a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
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
    /// `max_chars` prefix), and the display lines. Fields absent from the row are left out;
    /// fields the kind does not define are ignored (a row may carry context for other
    /// consumers of the indexer's changes). A value of the wrong type is an error.
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
        for def in &kind.fields {
            if let Some(value) = row.fields.get(&def.name) {
                add_value(&mut doc, row.key, def, value)?;
            }
        }
        let display = self.display(row)?;
        let name_key = crate::analyzer::name_key(&display.title);
        if !name_key.is_empty() {
            // A track or a set is also named the way people name it: its owner, then its title
            // ("Iron Maiden Killers"); the subtitle of those kinds is the owner's name.
            if matches!(row.key.kind, EntityKind::Track | EntityKind::Playlist) {
                let owned =
                    crate::analyzer::name_key(&format!("{} {}", display.subtitle, display.title));
                if owned != name_key {
                    doc.add_text(sys.name_key, owned);
                }
            }
            doc.add_text(sys.name_key, name_key);
        }
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
    // A text of at most `max` bytes has at most `max` characters: no walk needed (most are).
    if max.is_none_or(|m| text.len() <= m) {
        return text;
    }
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
                        out.push_str(prefix(value.trim(), Some(DISPLAY_MAX_CHARS)));
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
    use tantivy::schema::{IndexRecordOption, Value};
    use tantivy::{Index, IndexWriter};

    use super::*;
    use crate::EntityKind;
    use crate::analyzer;
    use crate::definition::BUILTIN;

    fn at(micros: i64) -> chrono::DateTime<Utc> {
        Utc.timestamp_micros(micros).single().expect("valid time")
    }

    fn row(kind: EntityKind, id: i64) -> EntityRow {
        EntityRow::new(EntityKey::new(kind, id), Version(1_000_000), at(500_000))
    }

    fn text_of(doc: &TantivyDocument, field: tantivy::schema::Field) -> Option<String> {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    #[test]
    fn render_writes_system_fields_and_the_kinds_fields() {
        let defs = Definitions::builtin();
        let sys = defs.system();
        let track = row(EntityKind::Track, 42)
            .with_popularity(0.25)
            .with("title", "Highway to Hell")
            .with("owner_username", "acdc")
            .with("owner_full_name", "AC/DC")
            .with("genre", "Rock")
            .with("duration_ms", 208_000_i64);
        let doc = defs.render(&track).expect("render");
        assert_eq!(text_of(&doc, sys.key).as_deref(), Some("track:42"));
        assert_eq!(text_of(&doc, sys.kind).as_deref(), Some("track"));
        assert_eq!(doc.get_first(sys.id).and_then(|v| v.as_i64()), Some(42));
        assert_eq!(
            doc.get_first(sys.version).and_then(|v| v.as_u64()),
            Some(1_000_000)
        );
        assert_eq!(
            doc.get_first(sys.tombstone).and_then(|v| v.as_u64()),
            Some(0)
        );
        assert_eq!(
            doc.get_first(sys.popularity).and_then(|v| v.as_f64()),
            Some(0.25)
        );
        let created = doc.get_first(sys.created_at).and_then(|v| v.as_datetime());
        assert_eq!(created.map(|d| d.into_timestamp_micros()), Some(500_000));
        assert_eq!(
            text_of(&doc, sys.display_title).as_deref(),
            Some("Highway to Hell")
        );
        assert_eq!(
            text_of(&doc, sys.display_subtitle).as_deref(),
            Some("AC/DC")
        );
        let field = |name: &str| defs.field(name).expect("field");
        assert_eq!(text_of(&doc, field("genre")).as_deref(), Some("Rock"));
        assert_eq!(
            doc.get_first(field("duration_ms")).and_then(|v| v.as_i64()),
            Some(208_000)
        );
        assert!(
            doc.get_first(field("description")).is_none(),
            "absent fields stay absent"
        );
    }

    /// Whatever the JSON files say, a row that fills every field of its kind renders, and each
    /// stored field reads back.
    #[test]
    fn every_defined_field_of_every_kind_renders() {
        let defs = Definitions::builtin();
        for kind in EntityKind::ALL {
            let def = defs.kind(kind);
            let mut full = row(kind, 1);
            for field in &def.fields {
                let value = match field.ty {
                    FieldType::Text | FieldType::Keyword => FieldValue::from("Sigur Rós"),
                    FieldType::I64 | FieldType::Date => FieldValue::Int(3),
                    FieldType::F64 => FieldValue::Float(0.5),
                };
                full = full.with(&field.name, value);
            }
            let doc = defs.render(&full).expect("a full row renders");
            for field in def.fields.iter().filter(|f| f.stored) {
                assert!(
                    doc.get_first(field.field).is_some(),
                    "{kind}: `{}` is stored",
                    field.name
                );
            }
            let display = defs.display(&full).expect("display");
            assert!(!display.title.is_empty(), "{kind} has a title");
            assert!(!display.subtitle.is_empty(), "{kind} has a subtitle");
        }
    }

    #[test]
    fn display_lines_follow_the_http_contract() {
        let defs = Definitions::builtin();
        let show = |row: &EntityRow| {
            let d = defs.display(row).expect("display");
            (d.title, d.subtitle)
        };
        let user = row(EntityKind::User, 7)
            .with("username", "pink")
            .with("full_name", "P!nk");
        assert_eq!(show(&user), ("P!nk".into(), "@pink".into()));
        let nameless = row(EntityKind::User, 8)
            .with("username", "anon")
            .with("full_name", "  ");
        assert_eq!(show(&nameless), ("anon".into(), "@anon".into()));
        let track = row(EntityKind::Track, 1)
            .with("title", "Intro")
            .with("owner_username", "dj");
        assert_eq!(show(&track), ("Intro".into(), "dj".into()));
        let playlist = row(EntityKind::Playlist, 2)
            .with("title", "Road trip")
            .with("owner_username", "sam")
            .with("owner_full_name", "Sam Smith");
        assert_eq!(show(&playlist), ("Road trip".into(), "Sam Smith".into()));
        let group = |n: i64| {
            row(EntityKind::Group, 3)
                .with("name", "Synth lovers")
                .with("member_count", n)
        };
        assert_eq!(show(&group(1)).1, "1 member");
        assert_eq!(show(&group(12)).1, "12 members");
        assert_eq!(
            show(&row(EntityKind::Group, 4).with("name", "Empty")).1,
            "0 members"
        );
        let long = row(EntityKind::Track, 5).with("title", "é".repeat(5000));
        assert_eq!(show(&long).0.chars().count(), DISPLAY_MAX_CHARS);
    }

    #[test]
    fn huge_text_is_cut_to_its_prefix() {
        let defs = Definitions::builtin();
        let spam = "BUY NOW 🎵 ".repeat(5000);
        assert!(spam.len() > 50_000);
        let track = row(EntityKind::Track, 9)
            .with("title", "Spam")
            .with("description", spam.as_str());
        let doc = defs.render(&track).expect("a 50 KB description renders");
        let stored =
            text_of(&doc, defs.field("description").expect("description")).expect("stored");
        assert_eq!(stored.chars().count(), 2000);
        assert!(spam.starts_with(&stored));
        assert_eq!(prefix("abc", Some(5)), "abc");
        assert_eq!(prefix("日本語", Some(2)), "日本");
        assert_eq!(prefix("abc", None), "abc");
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        let defs = Definitions::builtin();
        let extra = row(EntityKind::User, 1)
            .with("username", "x")
            .with("title", "y");
        let doc = defs
            .render(&extra)
            .expect("fields outside the definition are ignored");
        let title = defs.field("title").expect("tracks have a title");
        assert!(doc.get_first(title).is_none(), "a user gets no track field");
        let wrong = row(EntityKind::Track, 2).with("duration_ms", "long");
        assert_eq!(
            defs.render(&wrong)
                .expect_err("duration is an integer")
                .to_string(),
            "track:2: field `duration_ms` is an integer in the index definition, the row has text",
        );
        // Numbers in text fields index as their digits.
        let numeric = row(EntityKind::User, 3).with("username", 1999_i64);
        let doc = defs.render(&numeric).expect("render");
        assert_eq!(
            text_of(&doc, defs.field("username").expect("username")).as_deref(),
            Some("1999")
        );
    }

    #[test]
    fn date_fields_take_micros_or_rfc3339() {
        let track = BUILTIN[0].1.replace(
            r#""fields": ["#,
            r#""fields": [ { "name": "released_at", "type": "date", "stored": true, "fast": true },"#,
        );
        let mut sources = BUILTIN.to_vec();
        sources[0].1 = &track;
        let defs = Definitions::from_sources(&sources).expect("valid with a date field");
        let released = defs.field("released_at").expect("date field");
        let micros = |r: &EntityRow| {
            defs.render(r).map(|doc| {
                doc.get_first(released)
                    .and_then(|v| v.as_datetime())
                    .map(|d| d.into_timestamp_micros())
            })
        };
        let base = row(EntityKind::Track, 1);
        assert_eq!(
            micros(&base.clone().with("released_at", 1_500_000_i64)),
            Ok(Some(1_500_000))
        );
        assert_eq!(
            micros(
                &base
                    .clone()
                    .with("released_at", "1970-01-01T00:00:02.000001Z")
            ),
            Ok(Some(2_000_001))
        );
        let bad = micros(&base.clone().with("released_at", "yesterday")).expect_err("not a time");
        assert!(
            bad.to_string()
                .starts_with("track:1: field `released_at`: `yesterday` is not an RFC 3339 time")
        );
        assert!(micros(&base.with("released_at", 1.5)).is_err());
    }

    #[test]
    fn tombstones_carry_only_identity_and_version() {
        let defs = Definitions::builtin();
        let sys = defs.system();
        let key = EntityKey::new(EntityKind::Playlist, 5);
        let doc = defs.tombstone(key, Version(77));
        assert_eq!(text_of(&doc, sys.key).as_deref(), Some("playlist:5"));
        assert_eq!(text_of(&doc, sys.kind).as_deref(), Some("playlist"));
        assert_eq!(doc.get_first(sys.id).and_then(|v| v.as_i64()), Some(5));
        assert_eq!(
            doc.get_first(sys.version).and_then(|v| v.as_u64()),
            Some(77)
        );
        assert_eq!(
            doc.get_first(sys.tombstone).and_then(|v| v.as_u64()),
            Some(1)
        );
        assert!(doc.get_first(sys.display_title).is_none());
        assert_eq!(doc.field_values().count(), 5);
    }

    /// The way the indexer uses these pieces: upsert = delete the key term, add the rendered
    /// document; delete = delete the key term, add a tombstone. Searches exclude tombstones.
    #[test]
    fn upserts_and_tombstones_in_a_real_index() {
        let defs = Definitions::builtin();
        let sys = *defs.system();
        let index = Index::create_in_ram(defs.schema());
        analyzer::register(index.tokenizers());
        let mut writer: IndexWriter = index.writer(15_000_000).expect("writer");
        let track = |id: i64, title: &str| {
            row(EntityKind::Track, id)
                .with("title", title)
                .with("description", "spam ".repeat(20_000))
                .with("genre", "Hip-Hop")
        };
        for (id, title) in [(1, "First"), (2, "Second"), (3, "Third")] {
            writer
                .add_document(defs.render(&track(id, title)).expect("render"))
                .expect("add");
        }
        writer.commit().expect("commit");
        let gone = EntityKey::new(EntityKind::Track, 2);
        writer.delete_term(defs.key_term(gone));
        writer
            .add_document(defs.tombstone(gone, Version(2_000_000)))
            .expect("add");
        let renamed = EntityKey::new(EntityKind::Track, 3);
        writer.delete_term(defs.key_term(renamed));
        writer
            .add_document(defs.render(&track(3, "Third (Remix)")).expect("render"))
            .expect("add");
        writer.commit().expect("commit");

        let reader = index.reader().expect("reader");
        reader.reload().expect("reload");
        let searcher = reader.searcher();
        let live = |query: Box<dyn Query>| -> Vec<i64> {
            let not_tombstone: Box<dyn Query> = Box::new(TermQuery::new(
                tantivy::Term::from_field_u64(sys.tombstone, 1),
                IndexRecordOption::Basic,
            ));
            let q = BooleanQuery::new(vec![(Occur::Must, query), (Occur::MustNot, not_tombstone)]);
            let mut ids: Vec<i64> = searcher
                .search(&q, &TopDocs::with_limit(10).order_by_score())
                .expect("search")
                .into_iter()
                .filter_map(|(_, addr)| {
                    let doc: TantivyDocument = searcher.doc(addr).ok()?;
                    doc.get_first(sys.id).and_then(|v| v.as_i64())
                })
                .collect();
            ids.sort();
            ids
        };
        let term = |field: &str, analyzer: &str, text: &str| -> Box<dyn Query> {
            let field = defs.field(field).expect("field");
            let token = analyzer::analyze(analyzer, text).remove(0);
            Box::new(TermQuery::new(
                tantivy::Term::from_field_text(field, &token),
                IndexRecordOption::Basic,
            ))
        };
        assert_eq!(live(term("description", "text", "spam")), vec![1, 3]);
        assert_eq!(live(term("genre", "keyword", "hip-hop")), vec![1, 3]);
        assert_eq!(live(term("genre", "keyword", "HIP-HOP")), vec![1, 3]);
        assert_eq!(live(term("title", "name", "remix")), vec![3]);
        assert!(live(term("title", "name", "second")).is_empty());
        let all_docs = searcher
            .search(&tantivy::query::AllQuery, &Count)
            .expect("count");
        assert_eq!(all_docs, 3, "two live documents and one tombstone");
        let tombstones = searcher
            .search(
                &TermQuery::new(
                    tantivy::Term::from_field_u64(sys.tombstone, 1),
                    IndexRecordOption::Basic,
                ),
                &Count,
            )
            .expect("count");
        assert_eq!(tombstones, 1);
    }
}
