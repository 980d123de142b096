//! What an entity page lists below the entity, all from the live generation's index: a
//! person's most popular tracks and their sets ([`engine::owned`]). A set's tracks and a
//! group's tracks are not listed: the index knows who owns a set or created a group, not what
//! is in it, and listing the owner's other work in their place would show something else
//! under the heading.

use tantivy::Searcher;

use schemas::definition::Definitions;
use schemas::{EntityKey, EntityKind};

use crate::stats::Stats;
use engine::layout::Layout;
use engine::owned;

/// Items a list shows (the most popular); its heading gives the total.
pub const LISTED: usize = 10;

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
    let wanted: &[(EntityKind, &'static str)] = match key.kind {
        EntityKind::User => &[
            (EntityKind::Track, "Popular tracks"),
            (EntityKind::Playlist, "Sets"),
        ],
        EntityKind::Track | EntityKind::Playlist | EntityKind::Group => &[],
    };
    let mut lists = Vec::with_capacity(wanted.len());
    for &(kind, heading) in wanted {
        let Some(found) = owned::by_owner(searcher, definitions, layout, key.id, kind, LISTED)?
        else {
            continue;
        };
        lists.push(Listing {
            heading,
            kind,
            total: found.total,
            items: found
                .hits
                .into_iter()
                .map(|hit| Listed {
                    stats: Stats::read(definitions, hit.key.kind, &hit.stored),
                    key: hit.key,
                    title: hit.title,
                })
                .collect(),
        });
    }
    Ok(lists)
}
