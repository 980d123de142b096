//! What activity derives in a document: its counts ([`COUNT_FIELDS`]: likes, plays, followers,
//! members, …) and the tracks a set's or a group's page lists (`track_ids`). Activity moves no
//! row's `updated_at`, so a document at its row's version can still show other counts or lists
//! than the database: an activity event was lost, or the site deleted likes, memberships or
//! contributions in bulk with no event at all (a spam cleanup). `disco verify` and the
//! reconciler's sweep find such documents by this hash, taken the same way of a stored document
//! and of a row rendered by the same definitions (so a list cut to the field's length compares
//! equal).

use std::hash::{DefaultHasher, Hash, Hasher};

use schemas::activity::COUNT_FIELDS;
use schemas::definition::Definitions;
use schemas::{EntityKind, EntityRow};
use tantivy::TantivyDocument;
use tantivy::schema::Value;

/// Fields besides the counts that activity changes: the track lists pages show.
const LISTS: [&str; 1] = ["track_ids"];

/// The hash of what activity derives in `doc`, a document of `kind` under `definitions`. Only
/// fields the kind's definition stores take part: a generation that does not store a count
/// shows none, so it cannot show a wrong one.
pub fn of_document(definitions: &Definitions, kind: EntityKind, doc: &TantivyDocument) -> u64 {
    let mut hasher = DefaultHasher::new();
    let stored = |name: &str| definitions.kind(kind).field(name).is_some_and(|f| f.stored);
    let value = |name: &str| definitions.field(name).and_then(|f| doc.get_first(f));
    for name in COUNT_FIELDS.into_iter().filter(|name| stored(name)) {
        (name, value(name).and_then(|v| v.as_i64())).hash(&mut hasher);
    }
    for name in LISTS.into_iter().filter(|name| stored(name)) {
        (name, value(name).and_then(|v| v.as_str())).hash(&mut hasher);
    }
    hasher.finish()
}

/// The hash of what activity derives in `row` as `definitions` would render it; `None` when it
/// cannot be rendered (the row is then not the index's to compare).
pub fn of_row(definitions: &Definitions, row: &EntityRow) -> Option<u64> {
    let doc = definitions.render(row).ok()?;
    Some(of_document(definitions, row.key.kind, &doc))
}
