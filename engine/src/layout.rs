//! The index as the query side sees it: the system fields every generation has, for each
//! kind its searchable fields with their analyzer (read from the tantivy schema, so query and
//! index can never disagree) and boost (from the kind's JSON definition), and the keyword
//! fields a search can be filtered on.

use tantivy::schema::{Field, FieldType, IndexRecordOption, Schema};

use schemas::EntityKind;
use schemas::analyzer::Analyzer;

/// A searchable field of one kind.
#[derive(Debug, Clone)]
pub struct SearchField {
    pub field: Field,
    pub name: String,
    /// The analyzer (tokenizer name) the field was indexed with.
    pub analyzer: String,
    pub boost: f32,
    /// Indexed with positions, so phrases can be matched on it.
    pub positions: bool,
    /// Stored, so a highlight can be cut from it.
    pub stored: bool,
}

/// The searchable fields of one kind, highest boost first.
#[derive(Debug, Clone)]
pub struct KindFields {
    pub kind: EntityKind,
    pub fields: Vec<SearchField>,
}

/// A field a search can be filtered on (`/search?mood=calm`): an indexed keyword field, whose
/// every value is one folded term, so a filter is one term lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterField {
    pub name: String,
    pub field: Field,
    /// The analyzer (tokenizer name) the field was indexed with; a filter value is analyzed
    /// the same way, so `Hip-Hop` finds `hip-hop`.
    pub analyzer: String,
}

/// The system fields plus every kind's searchable fields and the filterable fields.
#[derive(Debug, Clone)]
pub struct Layout {
    pub kind: Field,
    pub id: Field,
    pub tombstone: Field,
    pub created_at: Field,
    pub display_title: Field,
    pub display_subtitle: Field,
    /// Each document's whole name as one term (`schemas::analyzer::name_key`); `None` in an
    /// index built before it existed, where whole-name matches are not told apart.
    pub name_key: Option<Field>,
    /// The fields a search can be filtered on, by name. Read from the schema (see
    /// [`filterable_fields`]), so each generation filters on the keyword fields its own
    /// definitions have.
    pub filters: Vec<FilterField>,
    pub kinds: Vec<KindFields>,
}

/// The index lacks something the query side needs (a schema/definitions mismatch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("index schema has no system field `{0}`")]
    MissingSystemField(&'static str),
    #[error(
        "definition of {kind}: field `{field}` is not an indexed text field of the index schema"
    )]
    NotSearchable { kind: EntityKind, field: String },
}

/// Fast and stored system field names (see the index layout in the team contract).
pub const KIND: &str = "kind";
pub const ID: &str = "id";
pub const TOMBSTONE: &str = "tombstone";
pub const POPULARITY: &str = "popularity";
pub const CREATED_AT: &str = "created_at";
pub const DISPLAY_TITLE: &str = "display_title";
pub const DISPLAY_SUBTITLE: &str = "display_subtitle";
/// The keyword field Explore and `/search?genre=` filter on (one filterable field like any
/// other; a generation without it matches nothing for a genre).
pub const GENRE: &str = "genre";
pub const NAME_KEY: &str = "name_key";

impl Layout {
    /// Builds the layout from the schema and, per kind, `(field name, boost)` of its
    /// searchable fields.
    pub fn new(
        schema: &Schema,
        kinds: impl IntoIterator<Item = (EntityKind, Vec<(String, f32)>)>,
    ) -> Result<Layout, LayoutError> {
        let system = |name: &'static str| {
            schema
                .get_field(name)
                .map_err(|_| LayoutError::MissingSystemField(name))
        };
        let mut layout = Layout {
            kind: system(KIND)?,
            id: system(ID)?,
            tombstone: system(TOMBSTONE)?,
            created_at: system(CREATED_AT)?,
            display_title: system(DISPLAY_TITLE)?,
            display_subtitle: system(DISPLAY_SUBTITLE)?,
            name_key: schema.get_field(NAME_KEY).ok(),
            filters: filterable_fields(schema),
            kinds: Vec::new(),
        };
        system(POPULARITY)?;
        for (kind, named) in kinds {
            let mut fields = Vec::with_capacity(named.len());
            for (name, boost) in named {
                let not_searchable = || LayoutError::NotSearchable {
                    kind,
                    field: name.clone(),
                };
                let field = schema.get_field(&name).map_err(|_| not_searchable())?;
                let entry = schema.get_field_entry(field);
                let FieldType::Str(options) = entry.field_type() else {
                    return Err(not_searchable());
                };
                let indexing = options.get_indexing_options().ok_or_else(not_searchable)?;
                fields.push(SearchField {
                    field,
                    analyzer: indexing.tokenizer().to_string(),
                    positions: indexing.index_option() == IndexRecordOption::WithFreqsAndPositions,
                    stored: entry.is_stored(),
                    boost: if boost.is_finite() && boost > 0.0 {
                        boost
                    } else {
                        1.0
                    },
                    name,
                });
            }
            fields.sort_by(|a, b| b.boost.total_cmp(&a.boost));
            layout.kinds.push(KindFields { kind, fields });
        }
        Ok(layout)
    }

    /// The searchable fields of `kind` (empty when the index has no definition for it).
    pub fn fields(&self, kind: EntityKind) -> &[SearchField] {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .map(|k| k.fields.as_slice())
            .unwrap_or(&[])
    }

    /// The filterable field called `name`; `None` when this index cannot filter on it (no
    /// such field, or not an indexed keyword field), which a caller reports before searching.
    pub fn filterable(&self, name: &str) -> Option<&FilterField> {
        self.filters.iter().find(|f| f.name == name)
    }

    /// The names of the filterable fields, in name order: for messages that say what a
    /// generation can filter on.
    pub fn filterable_names(&self) -> Vec<&str> {
        self.filters.iter().map(|f| f.name.as_str()).collect()
    }
}

/// The one definition of "filterable": every indexed text field of `schema` tokenized by the
/// `keyword` analyzer. The definitions give exactly their indexed `keyword` fields that
/// analyzer (and no text field may use it); system fields are tokenized `raw`, so none is
/// filterable. Sorted by name.
pub fn filterable_fields(schema: &Schema) -> Vec<FilterField> {
    let keyword = Analyzer::Keyword.as_str();
    let mut filters: Vec<FilterField> = schema
        .fields()
        .filter_map(|(field, entry)| {
            let FieldType::Str(options) = entry.field_type() else {
                return None;
            };
            let tokenizer = options.get_indexing_options()?.tokenizer();
            (tokenizer == keyword).then(|| FilterField {
                name: entry.name().to_string(),
                field,
                analyzer: tokenizer.to_string(),
            })
        })
        .collect();
    filters.sort_by(|a, b| a.name.cmp(&b.name));
    filters
}
