//! Reading the names to suggest from the site's database: one small SELECT per kind, over
//! searchable rows only (not deleted, not taken down, public where a row has sharing).
//!
//! Until DiscoRank exists the prior is popularity, `ln(1 + n)` of the kind's activity count:
//! followers of a user, plays and likes of a track, likes of a playlist, members of a group.
//! The caller maps it to the prior it wants (`|key, popularity| rank.get(key).unwrap_or(popularity)`).

use schemas::db::Db;
use schemas::{EntityKey, EntityKind};

use crate::SuggestError;
use crate::record::Record;

const USERS: &str = "SELECT u.id, u.username, u.full_name, \
    CAST((SELECT count(*) FROM follows f WHERE f.followee_id = u.id) AS BIGINT) \
    FROM users u WHERE u.deleted_at IS NULL AND NOT u.taken_down";

const TRACKS: &str = "SELECT t.id, t.title, \
    CAST(COALESCE((SELECT sum(p.count) FROM plays p WHERE p.track_id = t.id), 0) \
    + (SELECT count(*) FROM likes l WHERE l.target_kind = 'track' AND l.target_id = t.id) AS BIGINT) \
    FROM tracks t WHERE t.deleted_at IS NULL AND NOT t.taken_down AND t.sharing = 'public'";

const PLAYLISTS: &str = "SELECT p.id, p.title, \
    CAST((SELECT count(*) FROM likes l WHERE l.target_kind = 'playlist' AND l.target_id = p.id) AS BIGINT) \
    FROM playlists p WHERE p.deleted_at IS NULL AND NOT p.taken_down AND p.sharing = 'public'";

const GROUPS: &str = "SELECT g.id, g.name, \
    CAST((SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS BIGINT) \
    FROM groups g WHERE g.deleted_at IS NULL AND NOT g.taken_down";

/// The interim prior of an entity with `count` activities.
pub fn popularity(count: i64) -> f64 {
    (1.0 + count.max(0) as f64).ln()
}

macro_rules! fetch_all {
    ($db:expr, $sql:expr, $row:ty) => {
        match $db {
            Db::Postgres(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await?,
            Db::Sqlite(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await?,
        }
    };
}

/// Every searchable entity's names, with `prior(key, popularity)` as its prior.
pub async fn load<F>(db: &Db, prior: F) -> Result<Vec<Record>, SuggestError>
where
    F: Fn(EntityKey, f64) -> f64 + Send,
{
    let users = fetch_all!(db, USERS, (i64, String, String, i64));
    let mut records = Vec::with_capacity(users.len());
    for (id, username, full_name, followers) in users {
        let key = EntityKey::new(EntityKind::User, id);
        records.push(Record::user(
            id,
            &username,
            &full_name,
            prior(key, popularity(followers)),
        ));
    }
    for (kind, sql) in [
        (EntityKind::Track, TRACKS),
        (EntityKind::Playlist, PLAYLISTS),
        (EntityKind::Group, GROUPS),
    ] {
        for (id, name, count) in fetch_all!(db, sql, (i64, String, i64)) {
            let key = EntityKey::new(kind, id);
            records.push(Record::new(key, name, prior(key, popularity(count))));
        }
    }
    Ok(records)
}
