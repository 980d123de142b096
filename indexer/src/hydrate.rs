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

// The same columns for a page of a full scan: the ids after `$1` up to and including `$2` (the
// page's last id, from [`page_end`]), read in one statement (one snapshot), with each count
// aggregated once over the page's id range instead of probed per row. Every range condition
// is on a leading index column (primary keys and the indexes of migrations 0001 and 0002). The owner's names
// are looked up per row: PostgreSQL, not knowing the page's size when it plans, would
// otherwise merge-join the owners by scanning the users table from its start, so there the
// lookup is a LATERAL subquery it cannot flatten (OFFSET 0); SQLite always probes per row.
/// The page's rows of the table aliased `$alias`, in id order.
macro_rules! in_page {
    ($alias:literal, $after:literal, $last:literal) => {
        concat!(
            " WHERE ",
            $alias,
            ".id > ",
            $after,
            " AND ",
            $alias,
            ".id <= ",
            $last,
            " ORDER BY ",
            $alias,
            ".id"
        )
    };
}

macro_rules! owner {
    (pg, $owner:literal) => {
        concat!(
            "LEFT JOIN LATERAL (SELECT username, full_name FROM users WHERE id = ",
            $owner,
            " OFFSET 0) u ON TRUE"
        )
    };
    (sqlite, $owner:literal) => {
        concat!("LEFT JOIN users u ON u.id = ", $owner)
    };
}

/// `LEFT JOIN (<aggregate> per <column> over the page's range) <alias> ON <alias>.<column> = <id>`.
macro_rules! counted {
    ($aggregate:literal, $table:literal, $filter:literal, $column:literal, $after:literal,
     $last:literal, $alias:literal, $id:literal) => {
        concat!(
            " LEFT JOIN (SELECT ",
            $column,
            ", ",
            $aggregate,
            " AS n FROM ",
            $table,
            " WHERE ",
            $filter,
            $column,
            " > ",
            $after,
            " AND ",
            $column,
            " <= ",
            $last,
            " GROUP BY ",
            $column,
            ") ",
            $alias,
            " ON ",
            $alias,
            ".",
            $column,
            " = ",
            $id
        )
    };
}

macro_rules! tracks_page {
    ($a:literal, $l:literal, $dialect:ident) => {
        concat!(
            "SELECT t.id, t.title, t.description, t.genre, t.tags, t.duration_ms, t.sharing,
                    t.created_at, t.updated_at, (t.deleted_at IS NOT NULL) AS deleted, t.taken_down,
                    u.username AS owner_username, u.full_name AS owner_full_name,
                    COALESCE(l.n, 0) AS likes, COALESCE(r.n, 0) AS reposts,
                    CAST(COALESCE(p.n, 0) AS BIGINT) AS plays, COALESCE(c.n, 0) AS comments
             FROM tracks t ",
            owner!($dialect, "t.user_id"),
            counted!("count(*)", "likes", "target_kind = 'track' AND ", "target_id", $a, $l, "l", "t.id"),
            counted!("count(*)", "reposts", "target_kind = 'track' AND ", "target_id", $a, $l, "r", "t.id"),
            counted!("sum(count)", "plays", "", "track_id", $a, $l, "p", "t.id"),
            counted!("count(*)", "comments", "", "track_id", $a, $l, "c", "t.id"),
            in_page!("t", $a, $l)
        )
    };
}

macro_rules! users_page {
    ($a:literal, $l:literal) => {
        concat!(
            "SELECT u.id, u.username, u.full_name, u.description, u.city, u.country,
                    u.created_at, u.updated_at, (u.deleted_at IS NOT NULL) AS deleted, u.taken_down,
                    COALESCE(f.n, 0) AS followers, COALESCE(t.n, 0) AS track_count
             FROM users u",
            counted!("count(*)", "follows", "", "followee_id", $a, $l, "f", "u.id"),
            counted!("count(*)", "tracks",
                "deleted_at IS NULL AND taken_down = FALSE AND sharing = 'public' AND ",
                "user_id", $a, $l, "t", "u.id"),
            in_page!("u", $a, $l)
        )
    };
}

macro_rules! playlists_page {
    ($a:literal, $l:literal, $dialect:ident) => {
        concat!(
            "SELECT p.id, p.title, p.description, p.sharing,
                    p.created_at, p.updated_at, (p.deleted_at IS NOT NULL) AS deleted, p.taken_down,
                    u.username AS owner_username, u.full_name AS owner_full_name,
                    COALESCE(pt.n, 0) AS track_count, COALESCE(l.n, 0) AS likes
             FROM playlists p ",
            owner!($dialect, "p.user_id"),
            counted!("count(*)", "playlist_tracks", "", "playlist_id", $a, $l, "pt", "p.id"),
            counted!("count(*)", "likes", "target_kind = 'playlist' AND ", "target_id", $a, $l, "l", "p.id"),
            in_page!("p", $a, $l)
        )
    };
}

macro_rules! groups_page {
    ($a:literal, $l:literal, $dialect:ident) => {
        concat!(
            "SELECT g.id, g.name, g.description,
                    g.created_at, g.updated_at, (g.deleted_at IS NOT NULL) AS deleted, g.taken_down,
                    u.username AS creator_username, u.full_name AS creator_full_name,
                    COALESCE(m.n, 0) AS member_count, COALESCE(gt.n, 0) AS track_count
             FROM groups g ",
            owner!($dialect, "g.creator_id"),
            counted!("count(*)", "group_members", "", "group_id", $a, $l, "m", "g.id"),
            counted!("count(*)", "group_tracks", "", "group_id", $a, $l, "gt", "g.id"),
            in_page!("g", $a, $l)
        )
    };
}

const TRACKS_PAGE: (&str, &str) = (
    tracks_page!("$1", "$2", pg),
    tracks_page!("?1", "?2", sqlite),
);
const USERS_PAGE: (&str, &str) = (users_page!("$1", "$2"), users_page!("?1", "?2"));
const PLAYLISTS_PAGE: (&str, &str) = (
    playlists_page!("$1", "$2", pg),
    playlists_page!("?1", "?2", sqlite),
);
const GROUPS_PAGE: (&str, &str) = (
    groups_page!("$1", "$2", pg),
    groups_page!("?1", "?2", sqlite),
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
    let by_ids = match kind {
        EntityKind::Track => TRACKS,
        EntityKind::User => USERS,
        EntityKind::Playlist => PLAYLISTS,
        EntityKind::Group => GROUPS,
    };
    read(db, kind, by_ids, Binds::Ids(ids)).await
}

/// The entities that show one of `owners`' names (their tracks and playlists, the groups they
/// created): a user's change is written to them as well, since their documents embed the
/// owner's names.
pub async fn dependents(db: &Db, owners: &[i64]) -> Result<Vec<EntityKey>, sqlx::Error> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i64)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(DEPENDENTS.0)
                .bind(owners)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            let list = serde_json::to_string(owners).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as(DEPENDENTS.1)
                .bind(list)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .filter_map(|(kind, id)| {
            let kind = DEPENDENT_KINDS.get(usize::try_from(kind).ok()?)?;
            Some(EntityKey::new(*kind, id))
        })
        .collect())
}

/// The kinds [`DEPENDENTS`] reads, by the code in its first column.
const DEPENDENT_KINDS: [EntityKind; 3] =
    [EntityKind::Track, EntityKind::Playlist, EntityKind::Group];

const DEPENDENTS: (&str, &str) = (
    "SELECT CAST(0 AS BIGINT), id FROM tracks WHERE user_id = ANY($1)
     UNION ALL SELECT CAST(1 AS BIGINT), id FROM playlists WHERE user_id = ANY($1)
     UNION ALL SELECT CAST(2 AS BIGINT), id FROM groups WHERE creator_id = ANY($1)",
    "SELECT 0, id FROM tracks WHERE user_id IN (SELECT value FROM json_each(?1))
     UNION ALL SELECT 1, id FROM playlists WHERE user_id IN (SELECT value FROM json_each(?1))
     UNION ALL SELECT 2, id FROM groups WHERE creator_id IN (SELECT value FROM json_each(?1))",
);

/// The next page of a full scan: the rows of the first `limit` ids of `kind` greater than
/// `after`, in id order, hydrated to exactly what [`hydrate`] reads for those ids ([`page_end`]
/// then [`hydrate_range`]). Empty when no id is greater than `after`; the next page starts
/// after the last row's id.
pub async fn hydrate_page(
    db: &Db,
    kind: EntityKind,
    after: i64,
    limit: i64,
) -> Result<Vec<Hydrated>, sqlx::Error> {
    match page_end(db, kind, after, limit).await? {
        Some(last) => hydrate_range(db, kind, after, last).await,
        None => Ok(Vec::new()),
    }
}

/// The last of the first `limit` ids of `kind` greater than `after` (`None`: there is none).
/// An index-only walk: a full scan finds its pages' bounds with it ahead of hydrating them, so
/// several pages can be hydrated at once.
pub async fn page_end(
    db: &Db,
    kind: EntityKind,
    after: i64,
    limit: i64,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(ids_after(db, kind, after, limit).await?.last().copied())
}

/// The rows of `kind` whose id is greater than `after` and at most `last`, in id order,
/// hydrated to exactly what [`hydrate`] reads for those ids — in one statement, its counts
/// aggregated over the id range.
pub async fn hydrate_range(
    db: &Db,
    kind: EntityKind,
    after: i64,
    last: i64,
) -> Result<Vec<Hydrated>, sqlx::Error> {
    let page = match kind {
        EntityKind::Track => TRACKS_PAGE,
        EntityKind::User => USERS_PAGE,
        EntityKind::Playlist => PLAYLISTS_PAGE,
        EntityKind::Group => GROUPS_PAGE,
    };
    read(db, kind, page, Binds::Range { after, last }).await
}

/// What a hydration statement is given: a list of ids, or a page cursor.
#[derive(Clone, Copy)]
enum Binds<'a> {
    Ids(&'a [i64]),
    Range { after: i64, last: i64 },
}

async fn read(
    db: &Db,
    kind: EntityKind,
    sql: (&'static str, &'static str),
    binds: Binds<'_>,
) -> Result<Vec<Hydrated>, sqlx::Error> {
    Ok(match kind {
        EntityKind::Track => fetch::<TrackRow>(db, sql, binds)
            .await?
            .into_iter()
            .map(track)
            .collect(),
        EntityKind::User => fetch::<UserRow>(db, sql, binds)
            .await?
            .into_iter()
            .map(user)
            .collect(),
        EntityKind::Playlist => fetch::<PlaylistRow>(db, sql, binds)
            .await?
            .into_iter()
            .map(playlist)
            .collect(),
        EntityKind::Group => fetch::<GroupRow>(db, sql, binds)
            .await?
            .into_iter()
            .map(group)
            .collect(),
    })
}

async fn fetch<T>(
    db: &Db,
    (pg, sqlite): (&'static str, &'static str),
    binds: Binds<'_>,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    match (db, binds) {
        (Db::Postgres(pool), Binds::Ids(ids)) => {
            sqlx::query_as::<_, T>(pg).bind(ids).fetch_all(pool).await
        }
        (Db::Postgres(pool), Binds::Range { after, last }) => {
            sqlx::query_as::<_, T>(pg)
                .bind(after)
                .bind(last)
                .fetch_all(pool)
                .await
        }
        (Db::Sqlite(pool), Binds::Ids(ids)) => {
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as::<_, T>(sqlite)
                .bind(list)
                .fetch_all(pool)
                .await
        }
        (Db::Sqlite(pool), Binds::Range { after, last }) => {
            sqlx::query_as::<_, T>(sqlite)
                .bind(after)
                .bind(last)
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

    /// A catalog with gaps in every id sequence, rows of every searchability, and activity
    /// rows on both sides of page boundaries and on ids that have no row.
    async fn seed_with_activity(db: &Db) {
        let at = testing::now();
        for u in 1..=30i64 {
            testing::insert_user(db, u * 2, &format!("user{u}"), &format!("User {u}"), at)
                .await
                .unwrap();
        }
        for t in 1..=80i64 {
            let id = t * 3;
            testing::insert_track(db, id, 2 * (1 + t % 30), &format!("Track {t}"), at)
                .await
                .unwrap();
            let key = EntityKey::new(EntityKind::Track, id);
            match t % 9 {
                1 => testing::set_sharing(db, key, "private", at).await.unwrap(),
                2 => testing::soft_delete(db, key, at).await.unwrap(),
                3 => testing::take_down(db, key, true, at).await.unwrap(),
                _ => {}
            }
        }
        for p in 1..=15i64 {
            testing::insert_playlist(db, p * 5, 2 * (1 + p % 30), &format!("List {p}"), at)
                .await
                .unwrap();
        }
        for g in 1..=8i64 {
            testing::insert_group(db, g * 7, 2 * g, &format!("Group {g}"), at)
                .await
                .unwrap();
        }
        let sql = [
            "INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES ($1, 'track', $2, $3)",
            "INSERT INTO reposts (user_id, target_kind, target_id, created_at) VALUES ($1, 'track', $2, $3)",
            "INSERT INTO likes (user_id, target_kind, target_id, created_at) VALUES ($1, 'playlist', $2, $3)",
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)",
            "INSERT INTO group_members (user_id, group_id, created_at) VALUES ($1, $2, $3)",
            "INSERT INTO group_tracks (track_id, group_id, created_at) VALUES ($1, $2, $3)",
        ];
        for user in 1..=40i64 {
            // Targets spread over (and past) every table's id range, gaps included.
            for step in 0..(user % 7) {
                let target = (user * 13 + step * 29) % 250;
                for (n, statement) in sql.iter().enumerate() {
                    let target = target / (n as i64 + 1);
                    testing::execute_with(db, statement, &[user, target], at)
                        .await
                        .unwrap();
                }
                testing::execute_with(
                    db,
                    "INSERT INTO plays (user_id, track_id, count, last_played_at) VALUES ($1, $2, $3, $4)",
                    &[user, target, 1 + step * 5],
                    at,
                )
                .await
                .unwrap();
                testing::execute_with(
                    db,
                    "INSERT INTO comments (id, user_id, track_id, body, created_at) VALUES ($1, $2, $3, 'nice', $4)",
                    &[user * 100 + step, user, target],
                    at,
                )
                .await
                .unwrap();
                testing::execute_with(
                    db,
                    "INSERT INTO playlist_tracks (playlist_id, track_id, position)
                     SELECT $1, $2, $3 WHERE $4 IS NOT NULL",
                    &[target % 80, target, user * 100 + step],
                    at,
                )
                .await
                .unwrap();
            }
        }
    }

    /// Every page size walks every kind to exactly what per-id hydration reads.
    async fn pages_equal_per_id_hydration(db: &Db) {
        seed_with_activity(db).await;
        for kind in EntityKind::ALL {
            let ids = crate::reindex::all_ids(db, kind).await.unwrap();
            assert!(!ids.is_empty(), "{kind}");
            let expected = hydrate(db, kind, &ids).await.unwrap();
            assert!(
                expected.iter().any(|h| h
                    .row
                    .fields
                    .values()
                    .any(|v| matches!(v, schemas::row::FieldValue::Int(n) if *n > 0))),
                "{kind}: the seed gives some counts"
            );
            for limit in [1, 7, 1000] {
                let mut after = i64::MIN;
                let mut paged = Vec::new();
                loop {
                    let page = hydrate_page(db, kind, after, limit).await.unwrap();
                    let Some(last) = page.last() else { break };
                    assert!(page.len() as i64 <= limit);
                    after = last.key().id;
                    paged.extend(page);
                }
                let mut by_id = expected.clone();
                by_id.sort_by_key(|h| h.key().id);
                assert_eq!(paged, by_id, "{kind}, pages of {limit}");
            }
        }
    }

    #[tokio::test]
    async fn pages_hydrate_like_ids_on_sqlite() {
        let site = testkit::FreshSqlite::create().await;
        pages_equal_per_id_hydration(&site.db).await;
    }

    #[tokio::test]
    async fn pages_hydrate_like_ids_on_postgres() {
        let site = testkit::FreshPostgres::create().await;
        pages_equal_per_id_hydration(&site.db).await;
    }

    #[test]
    fn huge_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let cut = bounded(text);
        assert!(cut.len() <= MAX_TEXT_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
