//! Index definitions: one flat JSON file per kind (`track.json`, `user.json`, `playlist.json`,
//! `group.json`) says which fields a kind has, how each is indexed, stored and analyzed, how much
//! it weighs in a search, and how a result is titled. [`Definitions`] loads and validates the four
//! files and builds the one tantivy [`Schema`] all kinds share.
//!
//! ```
//! use schemas::EntityKind;
//! use schemas::definition::Definitions;
//!
//! let defs = Definitions::builtin();
//! let title = defs.field("title").expect("tracks and playlists have a title");
//! assert_eq!(defs.schema().get_field_name(title), "title");
//! let boosts = defs.boosts(EntityKind::Track);
//! assert!(boosts.contains(&(title, 3.0)));
//! ```
//!
//! A file looks like this (`stored`, `indexed`, `fast` default to false, true, false; `boost` to
//! 1; `analyzer` to `text` for text fields; `max_chars` to [`DEFAULT_MAX_CHARS`]):
//!
//! ```json
//! { "kind": "group",
//!   "fields": [
//!     { "name": "name", "type": "text", "analyzer": "name", "stored": true, "boost": 3, "max_chars": 200 },
//!     { "name": "member_count", "type": "i64", "indexed": false, "stored": true, "fast": true } ],
//!   "search": ["name"],
//!   "display": { "title": "{name}", "subtitle": "{member_count#member#members}" } }
//! ```
//!
//! Display templates insert fields with `{field}`; `{a|b}` takes the first of `a`, `b` that is
//! not empty; `{n#member#members}` writes the number with the singular or plural word.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, INDEXED, IndexRecordOption, NumericOptions, STORED,
    Schema, SchemaBuilder, TextFieldIndexing, TextOptions,
};

use crate::EntityKind;
use crate::analyzer::Analyzer;
use crate::document::Template;

/// A text field without `max_chars` keeps at most this many characters (a bounded prefix).
pub const DEFAULT_MAX_CHARS: usize = 2000;

/// Names of the fields every document has, whatever its kind.
pub mod system {
    /// `"track:42"`, raw and indexed: the term that deletes a document.
    pub const KEY: &str = "key";
    /// `"track"`: raw, fast, stored.
    pub const KIND: &str = "kind";
    /// The row id: i64 fast, stored. Not indexed: nothing searches by it (`key` names a
    /// document), and a term unique to every document would cost indexing work for nothing.
    pub const ID: &str = "id";
    /// The row's `updated_at` in µs: u64 fast, stored.
    pub const VERSION: &str = "version";
    /// 1 for tombstones, 0 for live documents: u64 indexed, fast.
    pub const TOMBSTONE: &str = "tombstone";
    /// The interim popularity prior: f64 fast, stored.
    pub const POPULARITY: &str = "popularity";
    /// When the entity was created: date (µs) fast, stored. Not indexed, like [`ID`]: it is
    /// read from its fast column, never searched.
    pub const CREATED_AT: &str = "created_at";
    /// What a person reads first, rendered from the kind's template: stored only.
    pub const DISPLAY_TITLE: &str = "display_title";
    /// The context line under the title: stored only.
    pub const DISPLAY_SUBTITLE: &str = "display_subtitle";
    /// The display title as one [`crate::analyzer::name_key`] (and, for tracks and sets, the
    /// owner's name and the title as another): raw, indexed, not stored. A query that is an
    /// entity's whole name finds it with one term, however many other documents (its tracks,
    /// say) mention the same words.
    pub const NAME_KEY: &str = "name_key";
    /// Every system field name.
    pub const ALL: [&str; 10] = [
        KEY,
        KIND,
        ID,
        VERSION,
        TOMBSTONE,
        POPULARITY,
        CREATED_AT,
        DISPLAY_TITLE,
        DISPLAY_SUBTITLE,
        NAME_KEY,
    ];
}

/// A definition file is wrong. Its message names the file, the place and the problem, e.g.
/// `index definition track.json: field `title`: unknown analyzer `foo``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("index definition {file}: {}{problem}", place.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct DefinitionError {
    /// The file's name (`track.json`) or, for a missing directory, its path.
    pub file: String,
    /// Where in the file: ``field `title` ``, ``display `subtitle` ``, `search`; none for the
    /// whole file.
    pub place: Option<String>,
    pub problem: String,
}

impl DefinitionError {
    pub(crate) fn new(file: &str, place: Option<String>, problem: impl Into<String>) -> Self {
        DefinitionError {
            file: file.to_string(),
            place,
            problem: problem.into(),
        }
    }
}

/// The type of a definition field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Analyzed text (`name` or `text` analyzer).
    Text,
    /// One folded token per value (`keyword` analyzer), for filters such as genre.
    Keyword,
    I64,
    F64,
    /// A time; rows give it as µs since the epoch (integer) or RFC 3339 text.
    Date,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Keyword => "keyword",
            FieldType::I64 => "i64",
            FieldType::F64 => "f64",
            FieldType::Date => "date",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            FieldType::Text,
            FieldType::Keyword,
            FieldType::I64,
            FieldType::F64,
            FieldType::Date,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    fn is_textual(self) -> bool {
        matches!(self, FieldType::Text | FieldType::Keyword)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of a kind, validated, with its handle in the shared schema.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub field: Field,
    pub ty: FieldType,
    pub stored: bool,
    pub indexed: bool,
    pub fast: bool,
    /// For text and keyword fields.
    pub analyzer: Option<Analyzer>,
    /// This kind's weight for the field in a plain search.
    pub boost: f32,
    /// For text and keyword fields: the prefix that is indexed and stored.
    pub max_chars: Option<usize>,
}

impl FieldDef {
    /// The options that must agree when two kinds define a field of the same name (boost and
    /// max_chars are per kind: they shape queries and rendering, not the schema).
    fn schema_shape(&self) -> (FieldType, bool, bool, bool, Option<Analyzer>) {
        (self.ty, self.stored, self.indexed, self.fast, self.analyzer)
    }

    fn describe_shape(&self) -> String {
        let mut shape = match self.analyzer {
            Some(a) => format!("{} with analyzer `{a}`", self.ty),
            None => self.ty.to_string(),
        };
        for (flag, name) in [
            (self.stored, "stored"),
            (self.indexed, "indexed"),
            (self.fast, "fast"),
        ] {
            if flag {
                shape.push_str(", ");
                shape.push_str(name);
            }
        }
        shape
    }

    fn options(&self) -> FieldOptions {
        match self.ty {
            FieldType::Text | FieldType::Keyword => {
                let mut options = TextOptions::default();
                if self.indexed {
                    let record = if self.ty == FieldType::Text {
                        IndexRecordOption::WithFreqsAndPositions
                    } else {
                        IndexRecordOption::Basic
                    };
                    let analyzer = self.analyzer.unwrap_or(Analyzer::Text);
                    options = options.set_indexing_options(
                        TextFieldIndexing::default()
                            .set_tokenizer(analyzer.as_str())
                            .set_index_option(record),
                    );
                }
                if self.stored {
                    options = options.set_stored();
                }
                if self.fast {
                    // "raw" is in tantivy's fast-field tokenizer manager by default, so no
                    // index needs extra registration; filters use the indexed (folded) term.
                    options = options.set_fast("raw");
                }
                FieldOptions::Text(options)
            }
            FieldType::I64 | FieldType::F64 => {
                let mut options = NumericOptions::default();
                if self.indexed {
                    options = options.set_indexed().set_fieldnorm();
                }
                if self.stored {
                    options = options.set_stored();
                }
                if self.fast {
                    options = options.set_fast();
                }
                FieldOptions::Numeric(options)
            }
            FieldType::Date => {
                let mut options =
                    DateOptions::default().set_precision(DateTimePrecision::Microseconds);
                if self.indexed {
                    options = options.set_indexed();
                }
                if self.stored {
                    options = options.set_stored();
                }
                if self.fast {
                    options = options.set_fast();
                }
                FieldOptions::Date(options)
            }
        }
    }
}

enum FieldOptions {
    Text(TextOptions),
    Numeric(NumericOptions),
    Date(DateOptions),
}

/// A field a plain search of a kind covers, with the kind's boost for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchField {
    pub name: String,
    pub field: Field,
    pub boost: f32,
    pub analyzer: Analyzer,
}

/// One kind's validated definition.
#[derive(Debug, Clone)]
pub struct KindDefinition {
    pub kind: EntityKind,
    /// The file it came from (`track.json`), for messages.
    pub file: String,
    pub fields: Vec<FieldDef>,
    pub search: Vec<SearchField>,
    pub(crate) display_title: Template,
    pub(crate) display_subtitle: Template,
}

impl KindDefinition {
    /// The field called `name` in this kind.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The handles of the system fields in the shared schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemFields {
    pub key: Field,
    pub kind: Field,
    pub id: Field,
    pub version: Field,
    pub tombstone: Field,
    pub popularity: Field,
    pub created_at: Field,
    pub display_title: Field,
    pub display_subtitle: Field,
    pub name_key: Field,
}

/// The four kinds' index definitions and the one schema built from them.
#[derive(Debug, Clone)]
pub struct Definitions {
    kinds: BTreeMap<EntityKind, KindDefinition>,
    schema: Schema,
    system: SystemFields,
    /// Field name → (the first kind that defines it, index in that kind's fields).
    by_name: HashMap<String, (EntityKind, usize)>,
    /// The files as given, `(file name, JSON text)` in kind order: what a generation keeps
    /// beside its index (`definition_files`).
    pub(crate) sources: Vec<(String, String)>,
}

pub(crate) const BUILTIN: [(&str, &str); 4] = [
    ("track.json", include_str!("../definitions/track.json")),
    ("user.json", include_str!("../definitions/user.json")),
    (
        "playlist.json",
        include_str!("../definitions/playlist.json"),
    ),
    ("group.json", include_str!("../definitions/group.json")),
];

impl Definitions {
    /// The shipped definition files as `(file name, JSON text)`: what `disco definitions
    /// export` writes for editing.
    pub fn builtin_sources() -> [(&'static str, &'static str); 4] {
        BUILTIN
    }

    /// The definitions shipped in `schemas/definitions/`, compiled in.
    pub fn builtin() -> Definitions {
        // The files are part of this crate and checked by its tests; failing here is a build
        // defect, not bad input.
        Self::from_sources(&BUILTIN).expect("built-in index definitions are valid")
    }

    /// Loads `track.json`, `user.json`, `playlist.json` and `group.json` from `dir` and validates
    /// them. Any other file in `dir` is ignored.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Definitions, DefinitionError> {
        let dir = dir.as_ref();
        let mut sources = Vec::with_capacity(EntityKind::ALL.len());
        for kind in EntityKind::ALL {
            let file = format!("{}.json", kind.as_str());
            let path = dir.join(&file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                DefinitionError::new(&file, None, format!("cannot read {}: {e}", path.display()))
            })?;
            sources.push((file, text));
        }
        let refs: Vec<(&str, &str)> = sources
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        Self::from_sources(&refs)
    }

    /// Validates definitions given as `(file name, JSON text)`, one per kind.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<Definitions, DefinitionError> {
        let mut parsed: BTreeMap<EntityKind, ParsedKind> = BTreeMap::new();
        let mut texts: BTreeMap<EntityKind, &str> = BTreeMap::new();
        for (file, text) in sources {
            let kind = parse_kind(file, text)?;
            texts.insert(kind.kind, text);
            if let Some(earlier) = parsed.get(&kind.kind) {
                return Err(DefinitionError::new(
                    file,
                    None,
                    format!(
                        "kind `{}` is already defined by {}",
                        kind.kind, earlier.file
                    ),
                ));
            }
            parsed.insert(kind.kind, kind);
        }
        if let Some(missing) = EntityKind::ALL.iter().find(|k| !parsed.contains_key(k)) {
            return Err(DefinitionError::new(
                &format!("{missing}.json"),
                None,
                format!("no definition for kind `{missing}`"),
            ));
        }
        let mut definitions = Self::build(parsed)?;
        definitions.sources = texts
            .into_iter()
            .map(|(kind, text)| (format!("{kind}.json"), text.to_string()))
            .collect();
        Ok(definitions)
    }

    fn build(parsed: BTreeMap<EntityKind, ParsedKind>) -> Result<Definitions, DefinitionError> {
        let mut builder = SchemaBuilder::new();
        let system = add_system_fields(&mut builder);
        let mut by_name: HashMap<String, (EntityKind, usize)> = HashMap::new();
        let mut handles: HashMap<String, Field> = HashMap::new();
        for (kind, def) in &parsed {
            for (i, spec) in def.fields.iter().enumerate() {
                if let Some(&(other_kind, j)) = by_name.get(&spec.name) {
                    let other = &parsed[&other_kind].fields[j];
                    if other.schema_shape() != spec.schema_shape() {
                        return Err(DefinitionError::new(
                            &def.file,
                            Some(format!("field `{}`", spec.name)),
                            format!(
                                "options differ from {}: {} here, {} there (a field name is one \
                                 field of the shared schema)",
                                parsed[&other_kind].file,
                                spec.describe_shape(),
                                other.describe_shape()
                            ),
                        ));
                    }
                    continue;
                }
                let handle = match spec.options() {
                    FieldOptions::Text(o) => builder.add_text_field(&spec.name, o),
                    FieldOptions::Numeric(o) if spec.ty == FieldType::I64 => {
                        builder.add_i64_field(&spec.name, o)
                    }
                    FieldOptions::Numeric(o) => builder.add_f64_field(&spec.name, o),
                    FieldOptions::Date(o) => builder.add_date_field(&spec.name, o),
                };
                by_name.insert(spec.name.clone(), (*kind, i));
                handles.insert(spec.name.clone(), handle);
            }
        }
        let schema = builder.build();
        let kinds = parsed
            .into_iter()
            .map(|(kind, p)| (kind, p.finish(&handles)))
            .collect();
        Ok(Definitions {
            kinds,
            schema,
            system,
            by_name,
            sources: Vec::new(),
        })
    }

    /// The shared schema: system fields plus the union of every kind's fields.
    pub fn schema(&self) -> Schema {
        self.schema.clone()
    }

    /// The system fields' handles.
    pub fn system(&self) -> &SystemFields {
        &self.system
    }

    /// The handle of a definition or system field.
    pub fn field(&self, name: &str) -> Option<Field> {
        self.schema.get_field(name).ok()
    }

    /// The definition of field `name` (as the first kind that has it defines it; options other
    /// than boost and max_chars agree across kinds).
    pub fn field_def(&self, name: &str) -> Option<&FieldDef> {
        let &(kind, i) = self.by_name.get(name)?;
        self.kinds.get(&kind).map(|k| &k.fields[i])
    }

    /// The analyzer of text or keyword field `name`; None for numbers, dates, system fields and
    /// unknown names.
    pub fn analyzer(&self, name: &str) -> Option<Analyzer> {
        self.field_def(name).and_then(|f| f.analyzer)
    }

    /// One kind's definition.
    pub fn kind(&self, kind: EntityKind) -> &KindDefinition {
        // Construction guarantees all four kinds are present.
        &self.kinds[&kind]
    }

    /// The fields a plain search of `kind` covers, with their boosts and analyzers.
    pub fn searchable(&self, kind: EntityKind) -> &[SearchField] {
        &self.kind(kind).search
    }

    /// `(field, boost)` for each field a plain search of `kind` covers.
    pub fn boosts(&self, kind: EntityKind) -> Vec<(Field, f32)> {
        self.searchable(kind)
            .iter()
            .map(|s| (s.field, s.boost))
            .collect()
    }

    /// Every field a search of any kind covers (deduplicated, in kind order), for a query over
    /// all kinds.
    pub fn all_searchable(&self) -> Vec<&SearchField> {
        let mut seen = std::collections::HashSet::new();
        self.kinds
            .values()
            .flat_map(|k| k.search.iter())
            .filter(|s| seen.insert(s.field))
            .collect()
    }
}

fn add_system_fields(builder: &mut SchemaBuilder) -> SystemFields {
    use tantivy::schema::{FAST, STRING};
    let raw_indexed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic),
    );
    SystemFields {
        key: builder.add_text_field(system::KEY, raw_indexed.clone()),
        kind: builder.add_text_field(system::KIND, STRING | FAST | STORED),
        id: builder.add_i64_field(system::ID, FAST | STORED),
        version: builder.add_u64_field(system::VERSION, FAST | STORED),
        tombstone: builder.add_u64_field(system::TOMBSTONE, INDEXED | FAST),
        popularity: builder.add_f64_field(system::POPULARITY, FAST | STORED),
        created_at: builder.add_date_field(
            system::CREATED_AT,
            DateOptions::default()
                .set_fast()
                .set_stored()
                .set_precision(DateTimePrecision::Microseconds),
        ),
        display_title: builder.add_text_field(system::DISPLAY_TITLE, STORED),
        display_subtitle: builder.add_text_field(system::DISPLAY_SUBTITLE, STORED),
        name_key: builder.add_text_field(system::NAME_KEY, raw_indexed),
    }
}

// ---- parsing and validation -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    kind: String,
    fields: Vec<serde_json::Value>,
    search: Vec<String>,
    display: RawDisplay,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisplay {
    title: String,
    subtitle: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    /// Read first (so errors can name the field); kept here so `deny_unknown_fields` accepts it.
    #[serde(rename = "name")]
    _name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    stored: bool,
    #[serde(default = "yes")]
    indexed: bool,
    #[serde(default)]
    fast: bool,
    analyzer: Option<String>,
    boost: Option<f64>,
    max_chars: Option<i64>,
}

fn yes() -> bool {
    true
}

/// A validated kind whose fields have no schema handles yet.
struct ParsedKind {
    kind: EntityKind,
    file: String,
    fields: Vec<FieldDef>,
    search: Vec<String>,
    display_title: Template,
    display_subtitle: Template,
}

impl ParsedKind {
    fn finish(self, handles: &HashMap<String, Field>) -> KindDefinition {
        let fields: Vec<FieldDef> = self
            .fields
            .into_iter()
            .map(|mut f| {
                f.field = handles[&f.name];
                f
            })
            .collect();
        let search = self
            .search
            .iter()
            .filter_map(|name| fields.iter().find(|f| &f.name == name))
            .map(|f| SearchField {
                name: f.name.clone(),
                field: f.field,
                boost: f.boost,
                analyzer: f.analyzer.unwrap_or(Analyzer::Text),
            })
            .collect();
        KindDefinition {
            kind: self.kind,
            file: self.file,
            fields,
            search,
            display_title: self.display_title,
            display_subtitle: self.display_subtitle,
        }
    }
}

fn parse_kind(file: &str, text: &str) -> Result<ParsedKind, DefinitionError> {
    let raw: RawKind = serde_json::from_str(text)
        .map_err(|e| DefinitionError::new(file, None, format!("not a valid definition: {e}")))?;
    let kind: EntityKind = raw
        .kind
        .parse()
        .map_err(|e| DefinitionError::new(file, None, format!("{e}")))?;
    let mut fields: Vec<FieldDef> = Vec::with_capacity(raw.fields.len());
    for (i, value) in raw.fields.into_iter().enumerate() {
        let field = parse_field(file, i, value)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(DefinitionError::new(
                file,
                Some(format!("field `{}`", field.name)),
                "defined twice",
            ));
        }
        fields.push(field);
    }
    validate_search(file, &fields, &raw.search)?;
    let template = |which: &str, source: &str| {
        Template::parse(source, &fields).map_err(|problem| {
            DefinitionError::new(file, Some(format!("display `{which}`")), problem)
        })
    };
    let display_title = template("title", &raw.display.title)?;
    let display_subtitle = template("subtitle", &raw.display.subtitle)?;
    Ok(ParsedKind {
        kind,
        file: file.to_string(),
        fields,
        search: raw.search,
        display_title,
        display_subtitle,
    })
}

fn parse_field(
    file: &str,
    index: usize,
    value: serde_json::Value,
) -> Result<FieldDef, DefinitionError> {
    let name = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            DefinitionError::new(
                file,
                Some(format!("field #{}", index + 1)),
                "has no `name` (a string)",
            )
        })?;
    let place = Some(format!("field `{name}`"));
    let fail = |problem: String| DefinitionError::new(file, place.clone(), problem);
    let raw: RawField = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
    if !valid_name(&name) {
        return Err(fail(
            "a field name is lower-case letters, digits and `_`, starting with a letter".into(),
        ));
    }
    if system::ALL.contains(&name.as_str()) {
        return Err(fail("this name is reserved for a system field".into()));
    }
    let ty = FieldType::parse(&raw.ty).ok_or_else(|| {
        fail(format!(
            "unknown type `{}` (expected text, keyword, i64, f64 or date)",
            raw.ty
        ))
    })?;
    let analyzer = match (&raw.analyzer, ty) {
        (None, FieldType::Text) => Some(Analyzer::Text),
        (None, FieldType::Keyword) => Some(Analyzer::Keyword),
        (None, _) => None,
        (Some(a), _) => {
            let analyzer: Analyzer = a.parse().map_err(|e| fail(format!("{e}")))?;
            match ty {
                FieldType::Text if analyzer == Analyzer::Keyword => {
                    return Err(fail(
                        "analyzer `keyword` is for keyword fields; use type `keyword`".into(),
                    ));
                }
                FieldType::Keyword if analyzer != Analyzer::Keyword => {
                    return Err(fail(format!(
                        "a keyword field uses analyzer `keyword`, not `{analyzer}`"
                    )));
                }
                FieldType::Text | FieldType::Keyword => Some(analyzer),
                other => {
                    return Err(fail(format!(
                        "analyzer given for type `{other}` (only text and keyword fields are analyzed)"
                    )));
                }
            }
        }
    };
    if ty == FieldType::Text && raw.fast {
        return Err(fail(
            "a text field cannot be fast (use type `keyword` for exact values)".into(),
        ));
    }
    if !raw.stored && !raw.indexed && !raw.fast {
        return Err(fail(
            "neither stored, indexed nor fast: the field would be thrown away".into(),
        ));
    }
    let boost = match raw.boost {
        None => 1.0,
        Some(b) if b.is_finite() && b > 0.0 && b <= 100.0 => b as f32,
        Some(b) => return Err(fail(format!("boost {b} is not a number in (0, 100]"))),
    };
    let max_chars = match (raw.max_chars, ty.is_textual()) {
        (None, true) => Some(DEFAULT_MAX_CHARS),
        (None, false) => None,
        (Some(_), false) => {
            return Err(fail(format!(
                "max_chars given for type `{ty}` (only text and keyword fields have one)"
            )));
        }
        (Some(n), true) if (1..=1_000_000).contains(&n) => Some(n as usize),
        (Some(n), true) => {
            return Err(fail(format!("max_chars {n} is not between 1 and 1000000")));
        }
    };
    Ok(FieldDef {
        name,
        field: Field::from_field_id(0),
        ty,
        stored: raw.stored,
        indexed: raw.indexed,
        fast: raw.fast,
        analyzer,
        boost,
        max_chars,
    })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate_search(
    file: &str,
    fields: &[FieldDef],
    search: &[String],
) -> Result<(), DefinitionError> {
    let fail = |problem: String| DefinitionError::new(file, Some("search".to_string()), problem);
    if search.is_empty() {
        return Err(fail(
            "lists no field: a plain search would find nothing".into(),
        ));
    }
    for (i, name) in search.iter().enumerate() {
        let field = fields
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| fail(format!("unknown field `{name}`")))?;
        if field.ty != FieldType::Text || !field.indexed {
            return Err(fail(format!("field `{name}` is not an indexed text field")));
        }
        if search[..i].contains(name) {
            return Err(fail(format!("field `{name}` is listed twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tantivy::schema::FieldType as TantivyType;

    use super::*;

    /// A change to one definition file's JSON.
    type Edit = Box<dyn FnOnce(&mut Value)>;

    fn builtin_values() -> Vec<(String, Value)> {
        BUILTIN
            .iter()
            .map(|(file, text)| {
                let value = serde_json::from_str(text).expect("built-in JSON parses");
                (file.to_string(), value)
            })
            .collect()
    }

    /// The built-in definitions with `edit` applied to `file`'s JSON; the error it causes.
    fn error_after(file: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut values = builtin_values();
        let (_, value) = values
            .iter_mut()
            .find(|(f, _)| f == file)
            .expect("a built-in file");
        edit(value);
        let texts: Vec<(String, String)> = values
            .into_iter()
            .map(|(f, v)| (f, v.to_string()))
            .collect();
        let sources: Vec<(&str, &str)> = texts
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        match Definitions::from_sources(&sources) {
            Ok(_) => panic!("the edit to {file} should be rejected"),
            Err(e) => e.to_string(),
        }
    }

    fn field_mut<'v>(value: &'v mut Value, name: &str) -> &'v mut Value {
        value["fields"]
            .as_array_mut()
            .and_then(|fields| fields.iter_mut().find(|f| f["name"] == name))
            .expect("field exists")
    }

    fn assert_error(message: String, expected: &str) {
        assert!(
            message.starts_with(expected),
            "got: {message}\nwanted: {expected}…"
        );
    }

    #[test]
    fn builtin_definitions_are_valid_and_cover_every_kind() {
        let defs = Definitions::builtin();
        for kind in EntityKind::ALL {
            let def = defs.kind(kind);
            assert_eq!(def.kind, kind);
            assert_eq!(def.file, format!("{kind}.json"));
            assert!(!def.search.is_empty());
        }
        let schema = defs.schema();
        for name in system::ALL {
            assert!(schema.get_field(name).is_ok(), "system field {name}");
        }
        for name in [
            "title",
            "owner_full_name",
            "tags",
            "genre",
            "duration_ms",
            "username",
        ] {
            assert!(defs.field(name).is_some(), "field {name}");
        }
        assert!(defs.field("no_such_field").is_none());
    }

    #[test]
    fn system_fields_have_the_contract_options() {
        let defs = Definitions::builtin();
        let schema = defs.schema();
        let sys = defs.system();
        let entry = |f: Field| schema.get_field_entry(f);
        let key = entry(sys.key);
        assert!(key.is_indexed() && !key.is_stored());
        match key.field_type() {
            TantivyType::Str(o) => {
                assert_eq!(o.get_indexing_options().map(|i| i.tokenizer()), Some("raw"))
            }
            other => panic!("key is {other:?}"),
        }
        let kind = entry(sys.kind);
        assert!(kind.is_indexed() && kind.is_fast() && kind.is_stored());
        let id = entry(sys.id);
        assert!(matches!(id.field_type(), TantivyType::I64(_)));
        assert!(!id.is_indexed() && id.is_fast() && id.is_stored());
        let version = entry(sys.version);
        assert!(matches!(version.field_type(), TantivyType::U64(_)));
        assert!(version.is_fast() && version.is_stored() && !version.is_indexed());
        let tombstone = entry(sys.tombstone);
        assert!(matches!(tombstone.field_type(), TantivyType::U64(_)));
        assert!(tombstone.is_indexed() && tombstone.is_fast());
        let popularity = entry(sys.popularity);
        assert!(matches!(popularity.field_type(), TantivyType::F64(_)));
        assert!(popularity.is_fast() && popularity.is_stored());
        let created = entry(sys.created_at);
        assert!(matches!(created.field_type(), TantivyType::Date(_)));
        assert!(!created.is_indexed() && created.is_fast() && created.is_stored());
        for display in [sys.display_title, sys.display_subtitle] {
            assert!(entry(display).is_stored() && !entry(display).is_indexed());
        }
    }

    #[test]
    fn definition_fields_follow_their_json() {
        let defs = Definitions::builtin();
        let schema = defs.schema();
        let title = schema.get_field_entry(defs.field("title").expect("title"));
        match title.field_type() {
            TantivyType::Str(o) => {
                let indexing = o.get_indexing_options().expect("title is indexed");
                assert_eq!(indexing.tokenizer(), "name");
                assert_eq!(
                    indexing.index_option(),
                    IndexRecordOption::WithFreqsAndPositions
                );
                assert!(o.is_stored());
            }
            other => panic!("title is {other:?}"),
        }
        let genre = schema.get_field_entry(defs.field("genre").expect("genre"));
        assert!(genre.is_fast() && genre.is_stored() && genre.is_indexed());
        let duration = schema.get_field_entry(defs.field("duration_ms").expect("duration"));
        assert!(matches!(duration.field_type(), TantivyType::I64(_)));
        assert!(duration.is_fast() && !duration.is_indexed());
        assert_eq!(defs.analyzer("title"), Some(Analyzer::Name));
        assert_eq!(defs.analyzer("description"), Some(Analyzer::Text));
        assert_eq!(defs.analyzer("genre"), Some(Analyzer::Keyword));
        assert_eq!(defs.analyzer("duration_ms"), None);
        assert_eq!(defs.analyzer("key"), None);
        let description = defs.field_def("description").expect("description");
        assert_eq!(description.max_chars, Some(2000));
    }

    #[test]
    fn boosts_and_searchable_fields_per_kind() {
        let defs = Definitions::builtin();
        let f = |name: &str| defs.field(name).expect("field");
        assert_eq!(
            defs.boosts(EntityKind::Track),
            vec![
                (f("title"), 3.0),
                (f("owner_full_name"), 2.0),
                (f("owner_username"), 1.0),
                (f("tags"), 1.5),
                (f("description"), 0.5),
            ]
        );
        let user: Vec<(&str, f32)> = defs
            .searchable(EntityKind::User)
            .iter()
            .map(|s| (s.name.as_str(), s.boost))
            .collect();
        assert_eq!(
            user,
            vec![
                ("username", 3.0),
                ("full_name", 3.0),
                ("description", 0.5),
                ("city", 0.5),
                ("country", 0.5)
            ]
        );
        // Boosts are per kind even for a shared field.
        let group_description = defs
            .searchable(EntityKind::Group)
            .iter()
            .find(|s| s.name == "description")
            .map(|s| s.boost);
        assert_eq!(group_description, Some(1.0));
        let all = defs.all_searchable();
        let descriptions = all.iter().filter(|s| s.name == "description").count();
        assert_eq!(descriptions, 1, "a shared field is listed once");
        assert!(all.iter().any(|s| s.name == "name"));
    }

    #[test]
    fn load_dir_reads_the_four_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (file, text) in BUILTIN {
            std::fs::write(dir.path().join(file), text).expect("write");
        }
        std::fs::write(dir.path().join("README.txt"), "not a definition").expect("write");
        let loaded = Definitions::load_dir(dir.path()).expect("valid directory");
        assert_eq!(loaded.schema(), Definitions::builtin().schema());
        std::fs::remove_file(dir.path().join("group.json")).expect("remove");
        let err = Definitions::load_dir(dir.path()).expect_err("group.json is missing");
        assert_error(err.to_string(), "index definition group.json: cannot read ");
    }

    #[test]
    fn unknown_analyzer_names_file_field_and_analyzer() {
        let message = error_after("track.json", |v| {
            field_mut(v, "title")["analyzer"] = json!("foo")
        });
        assert_error(
            message,
            "index definition track.json: field `title`: unknown analyzer `foo`",
        );
    }

    #[test]
    fn malformed_files_are_rejected() {
        let sources = [("track.json", "{ not json")];
        let err = Definitions::from_sources(&sources).expect_err("not JSON");
        assert_error(
            err.to_string(),
            "index definition track.json: not a valid definition: ",
        );
        let message = error_after("user.json", |v| v["extra"] = json!(1));
        assert_error(
            message,
            "index definition user.json: not a valid definition: unknown field `extra`",
        );
        let message = error_after("user.json", |v| v["kind"] = json!("song"));
        assert_error(
            message,
            "index definition user.json: unknown entity kind `song`",
        );
        let message = error_after("user.json", |v| v["kind"] = json!("track"));
        assert!(
            message.contains("kind `track` is already defined by track.json"),
            "{message}"
        );
        let partial = &BUILTIN[..3];
        let err = Definitions::from_sources(partial).expect_err("group is missing");
        assert_error(
            err.to_string(),
            "index definition group.json: no definition for kind `group`",
        );
    }

    #[test]
    fn bad_fields_are_named_with_their_problem() {
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "group.json",
                Box::new(|v| v["fields"][0] = json!({"type": "text"})),
                "index definition group.json: field #1: has no `name`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["boots"] = json!(3)),
                "index definition track.json: field `title`: unknown field `boots`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["type"] = json!("string")),
                "index definition track.json: field `title`: unknown type `string`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["analyzer"] = json!("keyword")),
                "index definition track.json: field `title`: analyzer `keyword` is for keyword fields",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "genre")["analyzer"] = json!("name")),
                "index definition track.json: field `genre`: a keyword field uses analyzer `keyword`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "duration_ms")["analyzer"] = json!("name")),
                "index definition track.json: field `duration_ms`: analyzer given for type `i64`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["fast"] = json!(true)),
                "index definition track.json: field `title`: a text field cannot be fast",
            ),
            (
                "track.json",
                Box::new(|v| {
                    let f = field_mut(v, "duration_ms");
                    f["stored"] = json!(false);
                    f["fast"] = json!(false);
                }),
                "index definition track.json: field `duration_ms`: neither stored, indexed nor fast",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["boost"] = json!(0)),
                "index definition track.json: field `title`: boost 0 is not a number in (0, 100]",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["boost"] = json!(-2.5)),
                "index definition track.json: field `title`: boost -2.5 is not",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "duration_ms")["max_chars"] = json!(10)),
                "index definition track.json: field `duration_ms`: max_chars given for type `i64`",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "description")["max_chars"] = json!(0)),
                "index definition track.json: field `description`: max_chars 0 is not between",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["name"] = json!("Title")),
                "index definition track.json: field `Title`: a field name is lower-case",
            ),
            (
                "track.json",
                Box::new(|v| field_mut(v, "title")["name"] = json!("version")),
                "index definition track.json: field `version`: this name is reserved",
            ),
            (
                "track.json",
                Box::new(|v| {
                    let copy = field_mut(v, "tags").clone();
                    v["fields"].as_array_mut().expect("array").push(copy);
                }),
                "index definition track.json: field `tags`: defined twice",
            ),
        ];
        for (file, edit, expected) in cases {
            assert_error(error_after(file, edit), expected);
        }
    }

    #[test]
    fn a_shared_field_name_must_mean_one_field() {
        let message = error_after("playlist.json", |v| {
            field_mut(v, "owner_username")["analyzer"] = json!("text")
        });
        assert_error(
            message,
            "index definition playlist.json: field `owner_username`: options differ from \
             track.json: text with analyzer `text`, stored, indexed here, text with analyzer \
             `name`, stored, indexed there",
        );
        let message = error_after("user.json", |v| {
            field_mut(v, "description")["stored"] = json!(false)
        });
        assert!(
            message.contains("field `description`: options differ"),
            "{message}"
        );
        // Boost and max_chars may differ per kind.
        let mut values = builtin_values();
        for (_, v) in values.iter_mut() {
            if v["kind"] == "group" {
                field_mut(v, "description")["boost"] = json!(2.0);
                field_mut(v, "description")["max_chars"] = json!(100);
            }
        }
        let texts: Vec<(String, String)> = values
            .into_iter()
            .map(|(f, v)| (f, v.to_string()))
            .collect();
        let sources: Vec<(&str, &str)> = texts
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        assert!(Definitions::from_sources(&sources).is_ok());
    }

    #[test]
    fn search_lists_are_checked() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["search"] = json!([])),
                "search: lists no field",
            ),
            (
                Box::new(|v| v["search"] = json!(["title", "lyrics"])),
                "search: unknown field `lyrics`",
            ),
            (
                Box::new(|v| v["search"] = json!(["title", "genre"])),
                "search: field `genre` is not an indexed text field",
            ),
            (
                Box::new(|v| v["search"] = json!(["title", "title"])),
                "search: field `title` is listed twice",
            ),
        ];
        for (edit, expected) in cases {
            assert_error(
                error_after("track.json", edit),
                &format!("index definition track.json: {expected}"),
            );
        }
    }

    #[test]
    fn display_templates_are_checked() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["display"]["title"] = json!("{nom}")),
                "display `title`: unknown field `nom`",
            ),
            (
                Box::new(|v| v["display"]["subtitle"] = json!("{name")),
                "display `subtitle`: unclosed `{`",
            ),
            (
                Box::new(|v| v["display"]["subtitle"] = json!("name}")),
                "display `subtitle`: unmatched `}`",
            ),
            (
                Box::new(|v| v["display"]["subtitle"] = json!("{name#a#b}")),
                "display `subtitle`: `{name#a#b}` counts a field that is not i64",
            ),
            (
                Box::new(|v| v["display"]["subtitle"] = json!("{member_count#members}")),
                "display `subtitle`: `{member_count#members}` needs the form",
            ),
        ];
        for (edit, expected) in cases {
            assert_error(
                error_after("group.json", edit),
                &format!("index definition group.json: {expected}"),
            );
        }
    }
}
