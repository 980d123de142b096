//! What an owner made: the live documents of one kind whose `owner_id` is the owner's id, most
//! popular first — a person's page lists their tracks and sets from it. It reads the index the
//! way a search does (a term on an indexed field, a fast-field order), so the page shows what
//! search knows and nothing a search would not.

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Order, Searcher, Term};

use schemas::definition::{Definitions, FieldType};
use schemas::{EntityKey, EntityKind};
use tantivy::schema::Value;

use crate::collect;
use crate::highlight::escape;
use crate::layout::{Layout, POPULARITY};
use crate::search::Hit;

/// The field that names the entity's owner (a group's creator) by their user id.
pub const OWNER_ID: &str = "owner_id";

/// The owner's documents of one kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Owned {
    /// How many live documents of the kind the owner has.
    pub total: u64,
    /// The most popular `limit` of them (by the `popularity` system field), most popular first.
    /// Each hit's score is its popularity and its highlight its escaped title.
    pub hits: Vec<Hit>,
}

/// The live documents of `kind` owned by user `owner`, most popular first. `None` when the
/// generation's definitions of `kind` have no indexed integer `owner_id` (an index built before
/// owners were indexed): then nothing can be listed, which is not the same as an owner with
/// nothing.
pub fn by_owner(
    searcher: &Searcher,
    definitions: &Definitions,
    layout: &Layout,
    owner: i64,
    kind: EntityKind,
    limit: usize,
) -> tantivy::Result<Option<Owned>> {
    let Some(owner_field) = definitions
        .kind(kind)
        .field(OWNER_ID)
        .filter(|f| f.indexed && f.ty == FieldType::I64)
        .map(|f| f.field)
    else {
        return Ok(None);
    };
    let term =
        |term: Term| -> Box<dyn Query> { Box::new(TermQuery::new(term, IndexRecordOption::Basic)) };
    let query = BooleanQuery::new(vec![
        (Occur::Must, term(Term::from_field_i64(owner_field, owner))),
        (
            Occur::Must,
            term(Term::from_field_text(layout.kind, kind.as_str())),
        ),
        (Occur::Must, term(Term::from_field_u64(layout.tombstone, 0))),
    ]);
    let top = TopDocs::with_limit(limit.max(1)).order_by_fast_field::<f64>(POPULARITY, Order::Desc);
    let (total, top) = searcher.search(&query, &(Count, top))?;
    let mut owned = Owned {
        total: total as u64,
        hits: Vec::with_capacity(top.len().min(limit)),
    };
    for (popularity, address) in top.into_iter().take(limit) {
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            owned.hits.push(Hit {
                key: stored.key,
                highlight: escape(&stored.title),
                title: stored.title,
                subtitle: stored.subtitle,
                score: popularity.unwrap_or(0.0) as f32,
                fuzzy: false,
                stored: stored.doc,
            });
        }
    }
    Ok(Some(owned))
}

/// The field of a set's or a group's document that lists its tracks by id (a set's in its
/// order, a group's newest first), separated by spaces.
pub const TRACK_IDS: &str = "track_ids";

/// The live tracks `of` (a set or a group) lists in its `track_ids`, in that order, and how
/// many it lists. `None` when the generation does not store `track_ids` for the kind, or has no
/// live document of `of`. Tracks gone from search since the list was written are left out.
pub fn listed_tracks(
    searcher: &Searcher,
    definitions: &Definitions,
    layout: &Layout,
    of: EntityKey,
    limit: usize,
) -> tantivy::Result<Option<Owned>> {
    let Some(field) = (definitions.kind(of.kind).field(TRACK_IDS))
        .filter(|f| f.stored)
        .map(|f| f.field)
    else {
        return Ok(None);
    };
    let Some(doc) = live_document(searcher, definitions, of)? else {
        return Ok(None);
    };
    let ids: Vec<i64> = (doc.get_first(field).and_then(|v| v.as_str()))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|id| id.parse().ok())
        .collect();
    let mut listed = Owned {
        total: ids.len() as u64,
        hits: Vec::new(),
    };
    for id in ids {
        if listed.hits.len() >= limit {
            break;
        }
        let key = EntityKey::new(EntityKind::Track, id);
        let Some(address) = live_address(searcher, definitions, key)? else {
            listed.total -= 1;
            continue;
        };
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            listed.hits.push(Hit {
                key: stored.key,
                highlight: escape(&stored.title),
                title: stored.title,
                subtitle: stored.subtitle,
                score: 0.0,
                fuzzy: false,
                stored: stored.doc,
            });
        }
    }
    Ok(Some(listed))
}

/// Where `key`'s live (not tombstone) document is, if it has one.
fn live_address(
    searcher: &Searcher,
    definitions: &Definitions,
    key: EntityKey,
) -> tantivy::Result<Option<tantivy::DocAddress>> {
    let query = BooleanQuery::new(vec![
        (
            Occur::Must,
            Box::new(TermQuery::new(
                definitions.key_term(key),
                IndexRecordOption::Basic,
            )) as Box<dyn Query>,
        ),
        (
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_u64(definitions.system().tombstone, 1),
                IndexRecordOption::Basic,
            )),
        ),
    ]);
    let top = TopDocs::with_limit(1).order_by_score();
    Ok(searcher
        .search(&query, &top)?
        .into_iter()
        .next()
        .map(|(_, a)| a))
}

fn live_document(
    searcher: &Searcher,
    definitions: &Definitions,
    key: EntityKey,
) -> tantivy::Result<Option<tantivy::TantivyDocument>> {
    match live_address(searcher, definitions, key)? {
        Some(address) => searcher.doc(address).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use schemas::Version;
    use schemas::row::EntityRow;

    fn row(kind: EntityKind, id: i64, title: &str, owner: i64, popularity: f64) -> EntityRow {
        let now = Utc::now();
        EntityRow::new(EntityKey::new(kind, id), Version::from_datetime(now), now)
            .with("title", title)
            .with(OWNER_ID, owner)
            .with_popularity(popularity)
    }

    fn index(defs: &Definitions, rows: &[EntityRow], tombstones: &[EntityKey]) -> Searcher {
        let (index, mut writer) = crate::test_index::in_ram(defs);
        for row in rows {
            writer
                .add_document(defs.render(row).expect("renders"))
                .expect("add");
        }
        for key in tombstones {
            writer
                .add_document(defs.tombstone(*key, Version(1)))
                .expect("add");
        }
        writer.commit().expect("commit");
        index.reader().expect("reader").searcher()
    }

    fn ids(owned: &Owned) -> Vec<i64> {
        owned.hits.iter().map(|h| h.key.id).collect()
    }

    #[test]
    fn an_owners_live_documents_of_one_kind_most_popular_first() {
        let defs = Definitions::builtin();
        let rows = [
            row(EntityKind::Track, 1, "Quiet", 7, 1.0),
            row(EntityKind::Track, 2, "Hit", 7, 9.0),
            row(EntityKind::Track, 3, "Middle", 7, 4.0),
            row(EntityKind::Track, 4, "Someone else's", 8, 99.0),
            row(EntityKind::Playlist, 7, "A set", 7, 5.0),
        ];
        // Track 5 was owned by 7 and is gone: a tombstone carries no owner, and is skipped.
        let searcher = index(&defs, &rows, &[EntityKey::new(EntityKind::Track, 5)]);
        let layout = Layout::from_definitions(&defs).expect("layout");
        let tracks = by_owner(&searcher, &defs, &layout, 7, EntityKind::Track, 2)
            .expect("search")
            .expect("tracks have owners");
        assert_eq!(ids(&tracks), [2, 3]);
        assert_eq!(tracks.total, 3);
        assert_eq!(tracks.hits[0].title, "Hit");
        let sets = by_owner(&searcher, &defs, &layout, 7, EntityKind::Playlist, 10)
            .expect("search")
            .expect("sets have owners");
        assert_eq!((ids(&sets), sets.total), (vec![7], 1));
        let none = by_owner(&searcher, &defs, &layout, 9, EntityKind::Track, 10)
            .expect("search")
            .expect("tracks have owners");
        assert_eq!(none, Owned::default());
        assert!(
            by_owner(&searcher, &defs, &layout, 7, EntityKind::User, 10)
                .expect("search")
                .is_none(),
            "people have no owner"
        );
    }
}
