//! What an entity page lists below the entity, all from the live generation's index: a
//! person's most popular tracks and their sets, a set's tracks in its order, a group's newest
//! tracks ([`engine::owned`]; sets and groups keep their track ids in `track_ids`).

use tantivy::Searcher;

use schemas::definition::Definitions;
use schemas::{EntityKey, EntityKind};

use crate::stats::Stats;
use engine::layout::Layout;
use engine::owned;

/// Items a list shows (the most popular); its heading gives the total.
pub const LISTED: usize = 10;

/// A set's page lists all its tracks, up to as many as its document keeps.
pub const SET_TRACKS: usize = 100;

/// One list on an entity page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// What the list is, as the page heads it ("Popular tracks").
    pub heading: &'static str,
    pub kind: EntityKind,
    /// How many there are in all (the list shows at most [`LISTED`]).
    pub total: u64,
    pub items: Vec<Listed>,
}

/// One listed entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub key: EntityKey,
    pub title: String,
    pub stats: Stats,
}

/// The lists of `key`'s page, in the order the page shows them; empty for kinds that list
/// nothing, and without a list the generation cannot answer (no `owner_id` in its definitions).
pub fn lists(
    searcher: &Searcher,
    definitions: &Definitions,
    layout: &Layout,
    key: EntityKey,
) -> tantivy::Result<Vec<Listing>> {
    let mut lists = Vec::new();
    let mut list = |heading, kind, found: Option<owned::Owned>| {
        if let Some(found) = found {
            lists.push(Listing {
                heading,
                kind,
                total: found.total,
                items: (found.hits.into_iter())
                    .map(|hit| Listed {
                        stats: Stats::read(definitions, hit.key.kind, &hit.stored),
                        key: hit.key,
                        title: hit.title,
                    })
                    .collect(),
            });
        }
    };
    match key.kind {
        EntityKind::User => {
            for (kind, heading) in [
                (EntityKind::Track, "Popular tracks"),
                (EntityKind::Playlist, "Sets"),
            ] {
                let found = owned::by_owner(searcher, definitions, layout, key.id, kind, LISTED)?;
                list(heading, kind, found);
            }
        }
        EntityKind::Playlist | EntityKind::Group => {
            let heading = match key.kind {
                EntityKind::Playlist => "Tracks",
                _ => "Newest tracks",
            };
            let limit = match key.kind {
                EntityKind::Playlist => SET_TRACKS,
                _ => LISTED,
            };
            let found = owned::listed_tracks(searcher, definitions, layout, key, limit)?;
            list(heading, EntityKind::Track, found);
        }
        EntityKind::Track => {}
    }
    Ok(lists)
}
