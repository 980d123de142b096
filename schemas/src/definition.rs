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
    /// The row id: i64 indexed, fast, stored.
    pub const ID: &str = "id";
    /// The row's `updated_at` in µs: u64 fast, stored.
    pub const VERSION: &str = "version";
    /// 1 for tombstones, 0 for live documents: u64 indexed, fast.
    pub const TOMBSTONE: &str = "tombstone";
    /// The interim popularity prior: f64 fast, stored.
    pub const POPULARITY: &str = "popularity";
    /// When the entity was created: date (µs) indexed, fast, stored.
    pub const CREATED_AT: &str = "created_at";
    /// What a person reads first, rendered from the kind's template: stored only.
    pub const DISPLAY_TITLE: &str = "display_title";
    /// The context line under the title: stored only.
    pub const DISPLAY_SUBTITLE: &str = "display_subtitle";
    /// Every system field name.
    pub const ALL: [&str; 9] = [
        KEY,
        KIND,
        ID,
        VERSION,
        TOMBSTONE,
        POPULARITY,
        CREATED_AT,
        DISPLAY_TITLE,
        DISPLAY_SUBTITLE,
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
    fn new(file: &str, place: Option<String>, problem: impl Into<String>) -> Self {
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
        let analyzer = self
            .analyzer
            .map(|a| format!(", analyzer {a}"))
            .unwrap_or_default();
        format!(
            "{}{analyzer}, stored {}, indexed {}, fast {}",
            self.ty, self.stored, self.indexed, self.fast
        )
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
}

/// The four kinds' index definitions and the one schema built from them.
#[derive(Debug, Clone)]
pub struct Definitions {
    kinds: BTreeMap<EntityKind, KindDefinition>,
    schema: Schema,
    system: SystemFields,
    /// Field name → (the first kind that defines it, index in that kind's fields).
    by_name: HashMap<String, (EntityKind, usize)>,
}

const BUILTIN: [(&str, &str); 4] = [
    ("track.json", include_str!("../definitions/track.json")),
    ("user.json", include_str!("../definitions/user.json")),
    (
        "playlist.json",
        include_str!("../definitions/playlist.json"),
    ),
    ("group.json", include_str!("../definitions/group.json")),
];

impl Definitions {
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
            let text = std::fs::read_to_string(dir.join(&file)).map_err(|e| {
                DefinitionError::new(&file, None, format!("cannot read {}: {e}", dir.display()))
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
        for (file, text) in sources {
            let kind = parse_kind(file, text)?;
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
        Self::build(parsed)
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
                                "options differ from {}: {} here, {} there (a field name means \
                                 one field in the shared schema)",
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
        key: builder.add_text_field(system::KEY, raw_indexed),
        kind: builder.add_text_field(system::KIND, STRING | FAST | STORED),
        id: builder.add_i64_field(system::ID, INDEXED | FAST | STORED),
        version: builder.add_u64_field(system::VERSION, FAST | STORED),
        tombstone: builder.add_u64_field(system::TOMBSTONE, INDEXED | FAST),
        popularity: builder.add_f64_field(system::POPULARITY, FAST | STORED),
        created_at: builder.add_date_field(
            system::CREATED_AT,
            DateOptions::default()
                .set_indexed()
                .set_fast()
                .set_stored()
                .set_precision(DateTimePrecision::Microseconds),
        ),
        display_title: builder.add_text_field(system::DISPLAY_TITLE, STORED),
        display_subtitle: builder.add_text_field(system::DISPLAY_SUBTITLE, STORED),
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
                    return Err(fail(format!("analyzer given for a {other} field")));
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
        (Some(_), false) => return Err(fail(format!("max_chars given for a {ty} field"))),
        (Some(n), true) if n >= 1 && n <= 1_000_000 => Some(n as usize),
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
