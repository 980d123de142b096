//! Streams the site's tables into the rank graph: entities become nodes, activities edges.
//!
//! Nodes are the searchable entities ([`schemas::searchable`]). Activities are read row by row
//! with one query per activity kind, the same SQL for PostgreSQL and SQLite; an activity whose
//! either end is not a node (a like on a private track, a follow of a deleted user) is skipped.
//! Nothing is held per activity beyond the 12-byte edge, and parallel activities are merged
//! when the graph is built.

use std::sync::LazyLock;
use std::time::Instant;

use futures::TryStreamExt;
use schemas::db::Db;
use schemas::{EntityKind, searchable};

use crate::RankError;
use crate::graph::{Graph, GraphBuilder};
use crate::nodes::NodeTable;
use crate::progress::{Meter, ProgressMode};
use crate::weights::Weights;

/// The ids of a kind's searchable rows ([`schemas::searchable`]), one statement per kind in
/// [`EntityKind::ALL`] order, built once.
static NODE_SQL: LazyLock<[String; 4]> = LazyLock::new(|| {
    EntityKind::ALL.map(|kind| {
        let table = kind.table();
        format!(
            "SELECT id FROM {table} WHERE {}",
            searchable::condition(kind, table)
        )
    })
});

/// One kind of activity as edges: a query yielding `(src id, dst id, multiplicity)`.
struct EdgeSource {
    name: &'static str,
    src: EntityKind,
    dst: EntityKind,
    weight: fn(&Weights) -> f64,
    sql: &'static str,
}

const SOURCES: &[EdgeSource] = &[
    EdgeSource {
        name: "follows",
        src: EntityKind::User,
        dst: EntityKind::User,
        weight: |w| w.follow,
        sql: "SELECT follower_id, followee_id, CAST(1 AS BIGINT) FROM follows",
    },
    EdgeSource {
        name: "likes (tracks)",
        src: EntityKind::User,
        dst: EntityKind::Track,
        weight: |w| w.like,
        sql: "SELECT user_id, target_id, CAST(1 AS BIGINT) FROM likes WHERE target_kind = 'track'",
    },
    EdgeSource {
        name: "likes (playlists)",
        src: EntityKind::User,
        dst: EntityKind::Playlist,
        weight: |w| w.like,
        sql: "SELECT user_id, target_id, CAST(1 AS BIGINT) FROM likes WHERE target_kind = 'playlist'",
    },
    EdgeSource {
        name: "reposts (tracks)",
        src: EntityKind::User,
        dst: EntityKind::Track,
        weight: |w| w.repost,
        sql: "SELECT user_id, target_id, CAST(1 AS BIGINT) FROM reposts WHERE target_kind = 'track'",
    },
    EdgeSource {
        name: "reposts (playlists)",
        src: EntityKind::User,
        dst: EntityKind::Playlist,
        weight: |w| w.repost,
        sql: "SELECT user_id, target_id, CAST(1 AS BIGINT) FROM reposts WHERE target_kind = 'playlist'",
    },
    EdgeSource {
        name: "comments",
        src: EntityKind::User,
        dst: EntityKind::Track,
        weight: |w| w.comment,
        sql: "SELECT user_id, track_id, CAST(1 AS BIGINT) FROM comments",
    },
    EdgeSource {
        name: "plays",
        src: EntityKind::User,
        dst: EntityKind::Track,
        weight: |w| w.play,
        sql: "SELECT user_id, track_id, CAST(\"count\" AS BIGINT) FROM plays",
    },
    EdgeSource {
        name: "uploads (tracks)",
        src: EntityKind::Track,
        dst: EntityKind::User,
        weight: |w| w.upload,
        sql: "SELECT id, user_id, CAST(1 AS BIGINT) FROM tracks",
    },
    EdgeSource {
        name: "uploads (playlists)",
        src: EntityKind::Playlist,
        dst: EntityKind::User,
        weight: |w| w.upload,
        sql: "SELECT id, user_id, CAST(1 AS BIGINT) FROM playlists",
    },
    EdgeSource {
        name: "playlist tracks",
        src: EntityKind::Playlist,
        dst: EntityKind::Track,
        weight: |w| w.playlist_contains,
        sql: "SELECT playlist_id, track_id, CAST(1 AS BIGINT) FROM playlist_tracks",
    },
    EdgeSource {
        name: "group members",
        src: EntityKind::User,
        dst: EntityKind::Group,
        weight: |w| w.group_member,
        sql: "SELECT user_id, group_id, CAST(1 AS BIGINT) FROM group_members",
    },
    EdgeSource {
        name: "group tracks",
        src: EntityKind::Group,
        dst: EntityKind::Track,
        weight: |w| w.group_track,
        sql: "SELECT group_id, track_id, CAST(1 AS BIGINT) FROM group_tracks",
    },
    EdgeSource {
        name: "group creators",
        src: EntityKind::Group,
        dst: EntityKind::User,
        weight: |w| w.group_creator,
        sql: "SELECT id, creator_id, CAST(1 AS BIGINT) FROM groups",
    },
];

/// A graph read from the database, with what it took.
#[derive(Debug)]
pub struct LoadedGraph {
    pub graph: Graph,
    /// Activity rows that became edges, before parallel ones were merged.
    pub activities: u64,
    /// Activity rows skipped because an end is not searchable (or the multiplicity ≤ 0).
    pub skipped: u64,
    pub seconds: f64,
}

/// Reads nodes and activities from `db` and builds the weighted graph.
pub async fn load_graph(
    db: &Db,
    weights: &Weights,
    progress: ProgressMode,
) -> Result<LoadedGraph, RankError> {
    let started = Instant::now();
    let mut ids: [Vec<i64>; 4] = Default::default();
    for (slot, kind) in EntityKind::ALL.into_iter().enumerate() {
        let mut meter = Meter::new(progress, &format!("{} (nodes)", kind.table()));
        let sql = NODE_SQL[slot].as_str();
        let out = &mut ids[slot];
        let mut push = |id: i64| {
            out.push(id);
            meter.add(1);
        };
        match db {
            Db::Postgres(pool) => {
                let mut rows = sqlx::query_scalar::<_, i64>(sql).fetch(pool);
                while let Some(id) = rows.try_next().await.map_err(|e| RankError::db(sql, e))? {
                    push(id);
                }
            }
            Db::Sqlite(pool) => {
                let mut rows = sqlx::query_scalar::<_, i64>(sql).fetch(pool);
                while let Some(id) = rows.try_next().await.map_err(|e| RankError::db(sql, e))? {
                    push(id);
                }
            }
        }
        meter.finish();
    }
    let nodes = NodeTable::new(ids)?;
    let mut builder = GraphBuilder::new(nodes.len() as u32);
    let (mut activities, mut skipped) = (0u64, 0u64);
    for source in SOURCES {
        let weight = (source.weight)(weights);
        if weight == 0.0 {
            continue;
        }
        let mut meter = Meter::new(progress, source.name);
        let mut push = |src: i64, dst: i64, times: i64| {
            meter.add(1);
            let ends = (
                nodes.index(schemas::EntityKey::new(source.src, src)),
                nodes.index(schemas::EntityKey::new(source.dst, dst)),
            );
            match ends {
                (Some(s), Some(d)) if times > 0 => {
                    builder.push(s, d, (weight * times as f64) as f32);
                    activities += 1;
                }
                _ => skipped += 1,
            }
        };
        match db {
            Db::Postgres(pool) => {
                let mut rows = sqlx::query_as::<_, (i64, i64, i64)>(source.sql).fetch(pool);
                while let Some((s, d, t)) = rows
                    .try_next()
                    .await
                    .map_err(|e| RankError::db(source.sql, e))?
                {
                    push(s, d, t);
                }
            }
            Db::Sqlite(pool) => {
                let mut rows = sqlx::query_as::<_, (i64, i64, i64)>(source.sql).fetch(pool);
                while let Some((s, d, t)) = rows
                    .try_next()
                    .await
                    .map_err(|e| RankError::db(source.sql, e))?
                {
                    push(s, d, t);
                }
            }
        }
        meter.finish();
    }
    // Sorting and compressing millions of edges is CPU work: keep it off the async workers.
    let graph = tokio::task::spawn_blocking(move || builder.build(nodes))
        .await
        .map_err(|e| RankError::Input(format!("graph build panicked: {e}")))??;
    Ok(LoadedGraph {
        graph,
        activities,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
    })
}
