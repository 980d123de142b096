//! Hydration: read the entities a batch names from the site's database, one query per kind.
//!
//! The envelope only says *which* entity changed; everything indexed comes from here: the row,
//! its owner's names (a track carries its artist's username and full name), and counts as of
//! now (likes, plays, followers, members, tracks). Field names are those of the kind's index
//! definition (`schemas/definitions/*.json`).
//!
//! PostgreSQL gets `WHERE id = ANY($1)`; SQLite gets `WHERE id IN (SELECT value FROM
//! json_each(?))`, the same "one statement, every id bound as data" without building SQL text.

use chrono::{DateTime, Utc};
use schemas::db::Db;
use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind, Version};

/// Text fields are indexed up to this many bytes: a 50 KB spam description must not cost more
/// than a normal one, and must never fail the batch.
pub const MAX_TEXT_BYTES: usize = 4096;

/// One entity as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Hydrated {
    pub row: EntityRow,
    /// Exists, not deleted, not taken down, public (where it has a sharing setting).
    pub searchable: bool,
}

impl Hydrated {
    pub fn key(&self) -> EntityKey {
        self.row.key
    }

    pub fn version(&self) -> Version {
        self.row.version
    }
}

macro_rules! select {
    ($select:literal, pg: $pg:literal, sqlite: $sqlite:literal) => {
        (concat!($select, " ", $pg), concat!($select, " ", $sqlite))
    };
}

const TRACKS: (&str, &str) = select!(
    "SELECT t.id, t.title, t.description, t.genre, t.tags, t.duration_ms, t.sharing,
            t.created_at, t.updated_at, (t.deleted_at IS NOT NULL) AS deleted, t.taken_down,
            u.username AS owner_username, u.full_name AS owner_full_name,
            (SELECT count(*) FROM likes l WHERE l.target_kind = 'track' AND l.target_id = t.id) AS likes,
            (SELECT count(*) FROM reposts r WHERE r.target_kind = 'track' AND r.target_id = t.id) AS reposts,
            CAST((SELECT COALESCE(sum(p.count), 0) FROM plays p WHERE p.track_id = t.id) AS BIGINT) AS plays,
            (SELECT count(*) FROM comments c WHERE c.track_id = t.id) AS comments
     FROM tracks t LEFT JOIN users u ON u.id = t.user_id",
    pg: "WHERE t.id = ANY($1)",
    sqlite: "WHERE t.id IN (SELECT value FROM json_each(?1))"
);

const USERS: (&str, &str) = select!(
    "SELECT u.id, u.username, u.full_name, u.description, u.city, u.country,
            u.created_at, u.updated_at, (u.deleted_at IS NOT NULL) AS deleted, u.taken_down,
            (SELECT count(*) FROM follows f WHERE f.followee_id = u.id) AS followers,
            (SELECT count(*) FROM tracks t WHERE t.user_id = u.id AND t.deleted_at IS NULL
               AND t.taken_down = FALSE AND t.sharing = 'public') AS track_count
     FROM users u",
    pg: "WHERE u.id = ANY($1)",
    sqlite: "WHERE u.id IN (SELECT value FROM json_each(?1))"
);

const PLAYLISTS: (&str, &str) = select!(
    "SELECT p.id, p.title, p.description, p.sharing,
            p.created_at, p.updated_at, (p.deleted_at IS NOT NULL) AS deleted, p.taken_down,
            u.username AS owner_username, u.full_name AS owner_full_name,
            (SELECT count(*) FROM playlist_tracks pt WHERE pt.playlist_id = p.id) AS track_count,
            (SELECT count(*) FROM likes l WHERE l.target_kind = 'playlist' AND l.target_id = p.id) AS likes
     FROM playlists p LEFT JOIN users u ON u.id = p.user_id",
    pg: "WHERE p.id = ANY($1)",
    sqlite: "WHERE p.id IN (SELECT value FROM json_each(?1))"
);

const GROUPS: (&str, &str) = select!(
    "SELECT g.id, g.name, g.description,
            g.created_at, g.updated_at, (g.deleted_at IS NOT NULL) AS deleted, g.taken_down,
            u.username AS creator_username, u.full_name AS creator_full_name,
            (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
            (SELECT count(*) FROM group_tracks gt WHERE gt.group_id = g.id) AS track_count
     FROM groups g LEFT JOIN users u ON u.id = g.creator_id",
    pg: "WHERE g.id = ANY($1)",
    sqlite: "WHERE g.id IN (SELECT value FROM json_each(?1))"
);

#[derive(sqlx::FromRow)]
struct TrackRow {
    id: i64,
    title: String,
    description: String,
    genre: String,
    tags: String,
    duration_ms: i64,
    sharing: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted: bool,
    taken_down: bool,
    owner_username: Option<String>,
    owner_full_name: Option<String>,
    likes: i64,
    reposts: i64,
    plays: i64,
    comments: i64,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    full_name: String,
    description: String,
    city: String,
    country: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted: bool,
    taken_down: bool,
    followers: i64,
    track_count: i64,
}

#[derive(sqlx::FromRow)]
struct PlaylistRow {
    id: i64,
    title: String,
    description: String,
    sharing: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted: bool,
    taken_down: bool,
    owner_username: Option<String>,
    owner_full_name: Option<String>,
    track_count: i64,
    likes: i64,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: i64,
    name: String,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted: bool,
    taken_down: bool,
    creator_username: Option<String>,
    creator_full_name: Option<String>,
    member_count: i64,
    track_count: i64,
}

/// Reads the rows of `ids` (all of one kind) in one query. Ids without a row are simply absent
/// from the result.
pub async fn hydrate(db: &Db, kind: EntityKind, ids: &[i64]) -> Result<Vec<Hydrated>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match kind {
        EntityKind::Track => fetch::<TrackRow>(db, TRACKS, ids)
            .await?
            .into_iter()
            .map(track)
            .collect(),
        EntityKind::User => fetch::<UserRow>(db, USERS, ids)
            .await?
            .into_iter()
            .map(user)
            .collect(),
        EntityKind::Playlist => fetch::<PlaylistRow>(db, PLAYLISTS, ids)
            .await?
            .into_iter()
            .map(playlist)
            .collect(),
        EntityKind::Group => fetch::<GroupRow>(db, GROUPS, ids)
            .await?
            .into_iter()
            .map(group)
            .collect(),
    })
}

async fn fetch<T>(
    db: &Db,
    (pg, sqlite): (&'static str, &'static str),
    ids: &[i64],
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    match db {
        Db::Postgres(pool) => sqlx::query_as::<_, T>(pg).bind(ids).fetch_all(pool).await,
        Db::Sqlite(pool) => {
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as::<_, T>(sqlite)
                .bind(list)
                .fetch_all(pool)
                .await
        }
    }
}

/// At most [`MAX_TEXT_BYTES`] of `text`, cut on a character boundary.
pub fn bounded(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// The interim popularity prior: log-damped activity, so a few thousand plays do not drown
/// text relevance. DiscoRank replaces it at query time when a rank version is loaded.
fn damped(count: i64) -> f64 {
    (1.0 + count.max(0) as f64).ln()
}

fn base(
    kind: EntityKind,
    id: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> EntityRow {
    EntityRow::new(
        EntityKey::new(kind, id),
        Version::from_datetime(updated_at),
        created_at,
    )
}

fn track(r: TrackRow) -> Hydrated {
    let row = base(EntityKind::Track, r.id, r.created_at, r.updated_at)
        .with("title", bounded(r.title))
        .with("description", bounded(r.description))
        .with("genre", bounded(r.genre))
        .with("tags", bounded(r.tags))
        .with("duration_ms", r.duration_ms)
        .with("owner_username", r.owner_username.unwrap_or_default())
        .with("owner_full_name", r.owner_full_name.unwrap_or_default())
        .with("likes", r.likes)
        .with("reposts", r.reposts)
        .with("plays", r.plays)
        .with("comments", r.comments)
        .with_popularity(damped(r.plays) + 2.0 * damped(r.likes) + 2.0 * damped(r.reposts));
    Hydrated {
        row,
        searchable: !r.deleted && !r.taken_down && r.sharing == "public",
    }
}

fn user(r: UserRow) -> Hydrated {
    let row = base(EntityKind::User, r.id, r.created_at, r.updated_at)
        .with("username", bounded(r.username))
        .with("full_name", bounded(r.full_name))
        .with("description", bounded(r.description))
        .with("city", bounded(r.city))
        .with("country", bounded(r.country))
        .with("followers", r.followers)
        .with("track_count", r.track_count)
        .with_popularity(2.0 * damped(r.followers) + damped(r.track_count));
    Hydrated {
        row,
        searchable: !r.deleted && !r.taken_down,
    }
}

fn playlist(r: PlaylistRow) -> Hydrated {
    let row = base(EntityKind::Playlist, r.id, r.created_at, r.updated_at)
        .with("title", bounded(r.title))
        .with("description", bounded(r.description))
        .with("owner_username", r.owner_username.unwrap_or_default())
        .with("owner_full_name", r.owner_full_name.unwrap_or_default())
        .with("track_count", r.track_count)
        .with("likes", r.likes)
        .with_popularity(2.0 * damped(r.likes) + 0.5 * damped(r.track_count));
    Hydrated {
        row,
        searchable: !r.deleted && !r.taken_down && r.sharing == "public",
    }
}

fn group(r: GroupRow) -> Hydrated {
    let row = base(EntityKind::Group, r.id, r.created_at, r.updated_at)
        .with("name", bounded(r.name))
        .with("description", bounded(r.description))
        .with("creator_username", r.creator_username.unwrap_or_default())
        .with("creator_full_name", r.creator_full_name.unwrap_or_default())
        .with("member_count", r.member_count)
        .with("track_count", r.track_count)
        .with_popularity(1.5 * damped(r.member_count) + 0.5 * damped(r.track_count));
    Hydrated {
        row,
        searchable: !r.deleted && !r.taken_down,
    }
}

/// Up to `limit` ids of `kind` greater than `after`, in id order: the way full scans (verify,
/// reindex) walk a table.
pub async fn ids_after(
    db: &Db,
    kind: EntityKind,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let (pg, sqlite) = match kind {
        EntityKind::Track => (
            "SELECT id FROM tracks WHERE id > $1 ORDER BY id LIMIT $2",
            "SELECT id FROM tracks WHERE id > ?1 ORDER BY id LIMIT ?2",
        ),
        EntityKind::User => (
            "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2",
            "SELECT id FROM users WHERE id > ?1 ORDER BY id LIMIT ?2",
        ),
        EntityKind::Playlist => (
            "SELECT id FROM playlists WHERE id > $1 ORDER BY id LIMIT $2",
            "SELECT id FROM playlists WHERE id > ?1 ORDER BY id LIMIT ?2",
        ),
        EntityKind::Group => (
            "SELECT id FROM groups WHERE id > $1 ORDER BY id LIMIT $2",
            "SELECT id FROM groups WHERE id > ?1 ORDER BY id LIMIT ?2",
        ),
    };
    let rows: Vec<(i64,)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(pg)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sqlite)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Rows of `kind` in the table (for progress bars and ETAs).
pub async fn count_rows(db: &Db, kind: EntityKind) -> Result<i64, sqlx::Error> {
    let sql = match kind {
        EntityKind::Track => "SELECT count(*) FROM tracks",
        EntityKind::User => "SELECT count(*) FROM users",
        EntityKind::Playlist => "SELECT count(*) FROM playlists",
        EntityKind::Group => "SELECT count(*) FROM groups",
    };
    let (n,): (i64,) = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await?,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await?,
    };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn one_query_reads_rows_with_owner_names_counts_and_searchability() {
        let site = testkit::FreshSqlite::create().await;
        let db = &site.db;
        let at = testing::now();
        testing::insert_user(db, 1, "acdc", "AC/DC", at)
            .await
            .unwrap();
        testing::insert_track(db, 10, 1, "Highway to Hell", at)
            .await
            .unwrap();
        testing::insert_track(db, 11, 1, "Private demo", at)
            .await
            .unwrap();
        testing::set_sharing(db, EntityKey::new(EntityKind::Track, 11), "private", at)
            .await
            .unwrap();
        testing::insert_group(db, 5, 1, "Rockers", at)
            .await
            .unwrap();
        testing::insert_playlist(db, 7, 1, "Best of", at)
            .await
            .unwrap();
        let Db::Sqlite(pool) = db else {
            panic!("sqlite")
        };
        sqlx::query("INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES (1, 'track', 10, ?1)")
            .bind(at)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO plays (user_id, track_id, count, last_played_at) VALUES (1, 10, 7, ?1)",
        )
        .bind(at)
        .execute(pool)
        .await
        .unwrap();

        let tracks = hydrate(db, EntityKind::Track, &[10, 11, 99]).await.unwrap();
        assert_eq!(tracks.len(), 2, "missing ids are simply absent");
        let hit = tracks.iter().find(|t| t.key().id == 10).unwrap();
        assert!(hit.searchable);
        assert_eq!(hit.version(), Version::from_datetime(at));
        assert_eq!(hit.row.text("title"), Some("Highway to Hell"));
        assert_eq!(hit.row.text("owner_full_name"), Some("AC/DC"));
        assert_eq!(hit.row.text("owner_username"), Some("acdc"));
        assert_eq!(hit.row.fields.get("plays"), Some(&7i64.into()));
        assert_eq!(hit.row.fields.get("likes"), Some(&1i64.into()));
        assert!(hit.row.popularity > 0.0);
        assert!(!tracks.iter().find(|t| t.key().id == 11).unwrap().searchable);

        let users = hydrate(db, EntityKind::User, &[1]).await.unwrap();
        assert_eq!(
            users[0].row.fields.get("track_count"),
            Some(&1i64.into()),
            "public tracks only"
        );
        let groups = hydrate(db, EntityKind::Group, &[5]).await.unwrap();
        assert_eq!(groups[0].row.text("name"), Some("Rockers"));
        let playlists = hydrate(db, EntityKind::Playlist, &[7]).await.unwrap();
        assert_eq!(playlists[0].row.text("owner_username"), Some("acdc"));

        testing::soft_delete(db, EntityKey::new(EntityKind::User, 1), testing::now())
            .await
            .unwrap();
        let users = hydrate(db, EntityKind::User, &[1]).await.unwrap();
        assert!(!users[0].searchable);
        assert!(users[0].version() > Version::from_datetime(at));
    }

    #[tokio::test]
    async fn ids_are_scanned_in_order_after_a_cursor() {
        let site = testkit::FreshSqlite::create().await;
        let at = testing::now();
        for id in [3, 1, 2, 5] {
            testing::insert_user(&site.db, id, &format!("u{id}"), "", at)
                .await
                .unwrap();
        }
        assert_eq!(
            ids_after(&site.db, EntityKind::User, 0, 3).await.unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(
            ids_after(&site.db, EntityKind::User, 3, 3).await.unwrap(),
            vec![5]
        );
        assert_eq!(count_rows(&site.db, EntityKind::User).await.unwrap(), 4);
    }

    #[test]
    fn huge_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let cut = bounded(text);
        assert!(cut.len() <= MAX_TEXT_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
