//! Hydration: read the entities a batch names from the site's database, one query per kind.
//!
//! The envelope only says *which* entity changed; everything indexed comes from here: the row,
//! its owner's names (a track carries its artist's username and full name), and counts as of
//! now (likes, plays, followers, members, tracks). Field names are those of the kind's index
//! definition (`schemas/definitions/*.json`).
//!
//! PostgreSQL gets `WHERE id = ANY($1)`; SQLite gets `WHERE id IN (SELECT value FROM
//! json_each(?1))`, the same "one statement, every id bound as data": ids never enter SQL text.
//! Whether a row is searchable is the database's answer to [`schemas::searchable`]'s rule.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use schemas::db::{Db, Dialect};
use schemas::definition::{DefinitionError, Definitions};
use schemas::popularity::ActivityCounts;
use schemas::row::{EntityRow, FieldValue};
use schemas::searchable;
use schemas::{EntityKey, EntityKind, Version};

/// Text fields are indexed up to this many bytes: a 50 KB spam description must not cost more
/// than a normal one, and must never fail the batch.
pub const MAX_TEXT_BYTES: usize = 4096;

/// One entity as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Hydrated {
    pub row: EntityRow,
    /// Not deleted, not taken down, public where it has a sharing setting
    /// ([`schemas::searchable`]).
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

/// The statements hydration runs for one kind, in both dialects. They are built once, at first
/// use: the searchable rule ([`schemas::searchable`]) is a runtime string, and each statement is
/// written once with `$n` parameters ([`Dialect::sql`]).
struct Statements {
    /// The rows of a list of ids (`$1`).
    by_ids: Sql,
    /// The rows of a page: ids after `$1` up to and including `$2`.
    page: Sql,
    /// Up to `$2` ids greater than `$1`, in id order.
    ids_after: Sql,
}

/// One statement in each dialect.
struct Sql {
    postgres: String,
    sqlite: String,
}

impl Sql {
    /// The same text on both, parameters aside.
    fn same(text: String) -> Sql {
        Sql::each(text.clone(), text)
    }

    /// Texts that differ beyond their parameters, both written with `$n`.
    fn each(postgres: String, sqlite: String) -> Sql {
        Sql {
            sqlite: Dialect::Sqlite.sql(&sqlite).into_owned(),
            postgres,
        }
    }
}

static TRACKS: LazyLock<Statements> = LazyLock::new(|| Statements::of(EntityKind::Track));
static USERS: LazyLock<Statements> = LazyLock::new(|| Statements::of(EntityKind::User));
static PLAYLISTS: LazyLock<Statements> = LazyLock::new(|| Statements::of(EntityKind::Playlist));
static GROUPS: LazyLock<Statements> = LazyLock::new(|| Statements::of(EntityKind::Group));

fn statements(kind: EntityKind) -> &'static Statements {
    match kind {
        EntityKind::Track => &TRACKS,
        EntityKind::User => &USERS,
        EntityKind::Playlist => &PLAYLISTS,
        EntityKind::Group => &GROUPS,
    }
}

impl Statements {
    fn of(kind: EntityKind) -> Statements {
        let (by_ids, page): (String, fn(OwnerJoin) -> String) = match kind {
            EntityKind::Track => (tracks_by_ids(), tracks_page),
            EntityKind::User => (users_by_ids(), users_page),
            EntityKind::Playlist => (playlists_by_ids(), playlists_page),
            EntityKind::Group => (groups_by_ids(), groups_page),
        };
        let alias = alias(kind);
        Statements {
            by_ids: Sql::each(
                format!("{by_ids} WHERE {alias}.id = ANY($1)"),
                format!("{by_ids} WHERE {alias}.id IN (SELECT value FROM json_each($1))"),
            ),
            page: Sql::each(page(OwnerJoin::Lateral), page(OwnerJoin::Plain)),
            ids_after: Sql::same(format!(
                "SELECT id FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
                kind.table()
            )),
        }
    }
}

/// The alias a kind's table has in its statements.
fn alias(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Track => "t",
        EntityKind::User => "u",
        EntityKind::Playlist => "p",
        EntityKind::Group => "g",
    }
}

/// The kind's searchable rule, as the column `searchable`.
fn searchable_column(kind: EntityKind) -> String {
    format!(
        "({}) AS searchable",
        searchable::condition(kind, alias(kind))
    )
}

fn tracks_by_ids() -> String {
    format!(
        "SELECT t.id, t.user_id AS owner_id, t.title, t.description, t.genre, t.tags, t.duration_ms,
                t.created_at, t.updated_at, {searchable},
                u.username AS owner_username, u.full_name AS owner_full_name,
                (SELECT count(*) FROM likes l WHERE l.target_kind = 'track' AND l.target_id = t.id) AS likes,
                (SELECT count(*) FROM reposts r WHERE r.target_kind = 'track' AND r.target_id = t.id) AS reposts,
                CAST((SELECT COALESCE(sum(p.count), 0) FROM plays p WHERE p.track_id = t.id) AS BIGINT) AS plays,
                (SELECT count(*) FROM comments c WHERE c.track_id = t.id) AS comments
         FROM tracks t LEFT JOIN users u ON u.id = t.user_id",
        searchable = searchable_column(EntityKind::Track),
    )
}

fn users_by_ids() -> String {
    format!(
        "SELECT u.id, u.username, u.full_name, u.description, u.city, u.country,
                u.created_at, u.updated_at, {searchable},
                (SELECT count(*) FROM follows f WHERE f.followee_id = u.id) AS followers,
                (SELECT count(*) FROM tracks t WHERE t.user_id = u.id AND {tracks}) AS track_count
         FROM users u",
        searchable = searchable_column(EntityKind::User),
        tracks = searchable::condition(EntityKind::Track, "t"),
    )
}

fn playlists_by_ids() -> String {
    format!(
        "SELECT p.id, p.user_id AS owner_id, p.title, p.description,
                p.created_at, p.updated_at, {searchable},
                u.username AS owner_username, u.full_name AS owner_full_name,
                (SELECT count(*) FROM playlist_tracks pt WHERE pt.playlist_id = p.id) AS track_count,
                (SELECT count(*) FROM likes l WHERE l.target_kind = 'playlist' AND l.target_id = p.id) AS likes
         FROM playlists p LEFT JOIN users u ON u.id = p.user_id",
        searchable = searchable_column(EntityKind::Playlist),
    )
}

fn groups_by_ids() -> String {
    format!(
        "SELECT g.id, g.creator_id AS owner_id, g.name, g.description,
                g.created_at, g.updated_at, {searchable},
                u.username AS creator_username, u.full_name AS creator_full_name,
                (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count,
                (SELECT count(*) FROM group_tracks gt WHERE gt.group_id = g.id) AS track_count
         FROM groups g LEFT JOIN users u ON u.id = g.creator_id",
        searchable = searchable_column(EntityKind::Group),
    )
}

// The same columns for a page of a full scan: the ids after `$1` up to and including `$2` (the
// page's last id, from [`page_end`]), read in one statement (one snapshot), with each count
// aggregated once over the page's id range instead of probed per row. Every range condition
// is on a leading index column (primary keys and the indexes of migrations 0001 and 0002). The
// owner's names are looked up per row: PostgreSQL, not knowing the page's size when it plans,
// would otherwise merge-join the owners by scanning the users table from its start, so there
// the lookup is a LATERAL subquery it cannot flatten (OFFSET 0); SQLite always probes per row.

/// How a page joins the owner's names (`u`).
#[derive(Clone, Copy)]
enum OwnerJoin {
    /// PostgreSQL: a LATERAL subquery per row.
    Lateral,
    /// SQLite: a plain join, probed per row anyway.
    Plain,
}

impl OwnerJoin {
    /// The join of the user whose id is `owner`.
    fn on(self, owner: &str) -> String {
        match self {
            OwnerJoin::Lateral => format!(
                "LEFT JOIN LATERAL (SELECT username, full_name FROM users WHERE id = {owner} OFFSET 0) u ON TRUE"
            ),
            OwnerJoin::Plain => format!("LEFT JOIN users u ON u.id = {owner}"),
        }
    }
}

/// `LEFT JOIN (<aggregate> per <column> over the page's range) <alias> ON <alias>.<column> = <id>`,
/// `filter` being a condition on `table` followed by `AND`, or empty.
fn counted(
    aggregate: &str,
    table: &str,
    filter: &str,
    column: &str,
    alias: &str,
    id: &str,
) -> String {
    format!(
        " LEFT JOIN (SELECT {column}, {aggregate} AS n FROM {table} WHERE {filter}{column} > $1 AND {column} <= $2 GROUP BY {column}) {alias} ON {alias}.{column} = {id}"
    )
}

/// The page's rows of the table aliased `alias`, in id order.
fn in_page(alias: &str) -> String {
    format!(" WHERE {alias}.id > $1 AND {alias}.id <= $2 ORDER BY {alias}.id")
}

fn tracks_page(owner: OwnerJoin) -> String {
    format!(
        "SELECT t.id, t.user_id AS owner_id, t.title, t.description, t.genre, t.tags, t.duration_ms,
                t.created_at, t.updated_at, {searchable},
                u.username AS owner_username, u.full_name AS owner_full_name,
                COALESCE(l.n, 0) AS likes, COALESCE(r.n, 0) AS reposts,
                CAST(COALESCE(p.n, 0) AS BIGINT) AS plays, COALESCE(c.n, 0) AS comments
         FROM tracks t {owner}{likes}{reposts}{plays}{comments}{page}",
        searchable = searchable_column(EntityKind::Track),
        owner = owner.on("t.user_id"),
        likes = counted(
            "count(*)",
            "likes",
            "target_kind = 'track' AND ",
            "target_id",
            "l",
            "t.id"
        ),
        reposts = counted(
            "count(*)",
            "reposts",
            "target_kind = 'track' AND ",
            "target_id",
            "r",
            "t.id"
        ),
        plays = counted("sum(count)", "plays", "", "track_id", "p", "t.id"),
        comments = counted("count(*)", "comments", "", "track_id", "c", "t.id"),
        page = in_page("t"),
    )
}

/// Users have no owner to join: the same text on both dialects.
fn users_page(_: OwnerJoin) -> String {
    format!(
        "SELECT u.id, u.username, u.full_name, u.description, u.city, u.country,
                u.created_at, u.updated_at, {searchable},
                COALESCE(f.n, 0) AS followers, COALESCE(t.n, 0) AS track_count
         FROM users u{followers}{tracks}{page}",
        searchable = searchable_column(EntityKind::User),
        followers = counted("count(*)", "follows", "", "followee_id", "f", "u.id"),
        tracks = counted(
            "count(*)",
            "tracks",
            &format!(
                "{} AND ",
                searchable::condition(EntityKind::Track, "tracks")
            ),
            "user_id",
            "t",
            "u.id"
        ),
        page = in_page("u"),
    )
}

fn playlists_page(owner: OwnerJoin) -> String {
    format!(
        "SELECT p.id, p.user_id AS owner_id, p.title, p.description,
                p.created_at, p.updated_at, {searchable},
                u.username AS owner_username, u.full_name AS owner_full_name,
                COALESCE(pt.n, 0) AS track_count, COALESCE(l.n, 0) AS likes
         FROM playlists p {owner}{tracks}{likes}{page}",
        searchable = searchable_column(EntityKind::Playlist),
        owner = owner.on("p.user_id"),
        tracks = counted(
            "count(*)",
            "playlist_tracks",
            "",
            "playlist_id",
            "pt",
            "p.id"
        ),
        likes = counted(
            "count(*)",
            "likes",
            "target_kind = 'playlist' AND ",
            "target_id",
            "l",
            "p.id"
        ),
        page = in_page("p"),
    )
}

fn groups_page(owner: OwnerJoin) -> String {
    format!(
        "SELECT g.id, g.creator_id AS owner_id, g.name, g.description,
                g.created_at, g.updated_at, {searchable},
                u.username AS creator_username, u.full_name AS creator_full_name,
                COALESCE(m.n, 0) AS member_count, COALESCE(gt.n, 0) AS track_count
         FROM groups g {owner}{members}{tracks}{page}",
        searchable = searchable_column(EntityKind::Group),
        owner = owner.on("g.creator_id"),
        members = counted("count(*)", "group_members", "", "group_id", "m", "g.id"),
        tracks = counted("count(*)", "group_tracks", "", "group_id", "gt", "g.id"),
        page = in_page("g"),
    )
}

#[derive(sqlx::FromRow)]
struct TrackRow {
    id: i64,
    owner_id: i64,
    title: String,
    description: String,
    genre: String,
    tags: String,
    duration_ms: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    searchable: bool,
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
    searchable: bool,
    followers: i64,
    track_count: i64,
}

#[derive(sqlx::FromRow)]
struct PlaylistRow {
    id: i64,
    owner_id: i64,
    title: String,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    searchable: bool,
    owner_username: Option<String>,
    owner_full_name: Option<String>,
    track_count: i64,
    likes: i64,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: i64,
    owner_id: i64,
    name: String,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    searchable: bool,
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
    read(db, kind, &statements(kind).by_ids, Binds::Ids(ids)).await
}

/// How far a streaming standby has replayed its primary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    /// The commit time of the last transaction replayed (the primary's clock).
    pub through: Option<DateTime<Utc>>,
    /// Everything received so far is replayed: a standby with nothing left to apply.
    pub caught_up: bool,
}

/// The standby's replay position, or `None` where reads are current (a primary, SQLite).
pub async fn replay(db: &Db) -> Result<Option<Replay>, sqlx::Error> {
    let Db::Postgres(pool) = db else {
        return Ok(None);
    };
    let (standby, through, caught_up): (bool, Option<DateTime<Utc>>, Option<bool>) =
        sqlx::query_as(
            "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(),
                    pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()",
        )
        .fetch_one(pool)
        .await?;
    Ok(standby.then_some(Replay {
        through,
        caught_up: caught_up.unwrap_or(false),
    }))
}

/// The entities that show one of `owners`' names (their tracks and playlists, the groups they
/// created): a user's change is written to them as well, since their documents embed the
/// owner's names.
pub async fn dependents(db: &Db, owners: &[i64]) -> Result<Vec<EntityKey>, sqlx::Error> {
    let versions = dependent_versions(db, owners).await?;
    Ok(versions.into_iter().map(|(key, _)| key).collect())
}

/// The users who own the tracks `ids` (rows still in the database, searchable or not): a
/// track's coming or going changes its owner's track count.
pub async fn track_owners(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64,)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as("SELECT DISTINCT user_id FROM tracks WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as(
                "SELECT DISTINCT user_id FROM tracks WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .bind(list)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// [`dependents`] with each one's version, for owners who are no longer searchable: what they
/// made is then unsearchable whatever its own row says ([`schemas::searchable`]), so it is
/// written as tombstones at these versions without hydrating a row (a spam account's thousands
/// of tracks cost one index-only read, not a hydration each).
pub async fn dependent_versions(
    db: &Db,
    owners: &[i64],
) -> Result<Vec<(EntityKey, Version)>, sqlx::Error> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i64, DateTime<Utc>)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(DEPENDENT_VERSIONS.0)
                .bind(owners)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            let list = serde_json::to_string(owners).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as(DEPENDENT_VERSIONS.1)
                .bind(list)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .filter_map(|(kind, id, updated_at)| {
            let kind = DEPENDENT_KINDS.get(usize::try_from(kind).ok()?)?;
            Some((
                EntityKey::new(*kind, id),
                Version::from_datetime(updated_at),
            ))
        })
        .collect())
}

const DEPENDENT_VERSIONS: (&str, &str) = (
    "SELECT CAST(0 AS BIGINT), id, updated_at FROM tracks WHERE user_id = ANY($1)
     UNION ALL SELECT CAST(1 AS BIGINT), id, updated_at FROM playlists WHERE user_id = ANY($1)
     UNION ALL SELECT CAST(2 AS BIGINT), id, updated_at FROM groups WHERE creator_id = ANY($1)",
    "SELECT 0, id, updated_at FROM tracks WHERE user_id IN (SELECT value FROM json_each(?1))
     UNION ALL SELECT 1, id, updated_at FROM playlists WHERE user_id IN (SELECT value FROM json_each(?1))
     UNION ALL SELECT 2, id, updated_at FROM groups WHERE creator_id IN (SELECT value FROM json_each(?1))",
);

/// The kinds [`DEPENDENT_VERSIONS`] reads, by the code in its first column.
const DEPENDENT_KINDS: [EntityKind; 3] =
    [EntityKind::Track, EntityKind::Playlist, EntityKind::Group];

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
    read(
        db,
        kind,
        &statements(kind).page,
        Binds::Range { after, last },
    )
    .await
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
    sql: &'static Sql,
    binds: Binds<'_>,
) -> Result<Vec<Hydrated>, sqlx::Error> {
    let mut rows = read_rows(db, kind, sql, binds).await?;
    attach_track_lists(db, kind, &mut rows).await?;
    Ok(rows)
}

async fn read_rows(
    db: &Db,
    kind: EntityKind,
    sql: &'static Sql,
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

async fn fetch<T>(db: &Db, sql: &'static Sql, binds: Binds<'_>) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    let (pg, sqlite) = (sql.postgres.as_str(), sql.sqlite.as_str());
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

/// The columns hydration reads for `kind`: the field names an index definition may use
/// (besides the system fields every document has). A definition that names another column
/// would index nothing, so [`check_definitions`] refuses it.
pub fn columns(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Track => &[
            "title",
            "description",
            "genre",
            "tags",
            "duration_ms",
            "owner_id",
            "owner_username",
            "owner_full_name",
            "likes",
            "reposts",
            "plays",
            "comments",
        ],
        EntityKind::User => &[
            "username",
            "full_name",
            "description",
            "city",
            "country",
            "followers",
            "track_count",
        ],
        EntityKind::Playlist => &[
            "title",
            "description",
            "owner_id",
            "owner_username",
            "owner_full_name",
            "track_count",
            "likes",
            "track_ids",
        ],
        EntityKind::Group => &[
            "name",
            "description",
            "owner_id",
            "creator_username",
            "creator_full_name",
            "member_count",
            "track_count",
            "track_ids",
        ],
    }
}

/// Refuses definitions with a field hydration never fills, naming the file, the field and the
/// columns there are.
pub fn check_definitions(definitions: &Definitions) -> Result<(), DefinitionError> {
    for kind in EntityKind::ALL {
        let def = definitions.kind(kind);
        let available = columns(kind);
        if let Some(field) = def
            .fields
            .iter()
            .find(|f| !available.contains(&f.name.as_str()))
        {
            return Err(DefinitionError {
                file: def.file.clone(),
                place: Some(format!("field `{}`", field.name)),
                problem: format!(
                    "no such column: hydration reads {} for a {kind}",
                    available.join(", ")
                ),
            });
        }
    }
    Ok(())
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
        .with("owner_id", r.owner_id)
        .with("owner_username", r.owner_username.unwrap_or_default())
        .with("owner_full_name", r.owner_full_name.unwrap_or_default())
        .with("likes", r.likes)
        .with("reposts", r.reposts)
        .with("plays", r.plays)
        .with("comments", r.comments)
        .with_popularity(
            ActivityCounts::Track {
                plays: r.plays,
                likes: r.likes,
                reposts: r.reposts,
            }
            .popularity(),
        );
    Hydrated {
        row,
        searchable: r.searchable,
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
        .with_popularity(
            ActivityCounts::User {
                followers: r.followers,
                tracks: r.track_count,
            }
            .popularity(),
        );
    Hydrated {
        row,
        searchable: r.searchable,
    }
}

fn playlist(r: PlaylistRow) -> Hydrated {
    let row = base(EntityKind::Playlist, r.id, r.created_at, r.updated_at)
        .with("title", bounded(r.title))
        .with("description", bounded(r.description))
        .with("owner_id", r.owner_id)
        .with("owner_username", r.owner_username.unwrap_or_default())
        .with("owner_full_name", r.owner_full_name.unwrap_or_default())
        .with("track_count", r.track_count)
        .with("likes", r.likes)
        .with_popularity(
            ActivityCounts::Playlist {
                likes: r.likes,
                tracks: r.track_count,
            }
            .popularity(),
        );
    Hydrated {
        row,
        searchable: r.searchable,
    }
}

fn group(r: GroupRow) -> Hydrated {
    let row = base(EntityKind::Group, r.id, r.created_at, r.updated_at)
        .with("name", bounded(r.name))
        .with("description", bounded(r.description))
        .with("owner_id", r.owner_id)
        .with("creator_username", r.creator_username.unwrap_or_default())
        .with("creator_full_name", r.creator_full_name.unwrap_or_default())
        .with("member_count", r.member_count)
        .with("track_count", r.track_count)
        .with_popularity(
            ActivityCounts::Group {
                members: r.member_count,
                tracks: r.track_count,
            }
            .popularity(),
        );
    Hydrated {
        row,
        searchable: r.searchable,
    }
}

/// `(id, version)` of the rows of `kind` whose `updated_at` is in `(from, until]`: what a
/// reconcile pass compares with the index (a range scan on the `updated_at` index).
pub async fn versions_between(
    db: &Db,
    kind: EntityKind,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i64, Version)>, sqlx::Error> {
    let sql = format!(
        "SELECT id, updated_at FROM {} WHERE updated_at > $1 AND updated_at <= $2",
        kind.table()
    );
    let sql = db.dialect_sql(&sql).into_owned();
    let rows: Vec<(i64, DateTime<Utc>)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(until)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(until)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(versioned(rows))
}

fn versioned(rows: Vec<(i64, DateTime<Utc>)>) -> Vec<(i64, Version)> {
    rows.into_iter()
        .map(|(id, at)| (id, Version::from_datetime(at)))
        .collect()
}

/// How many track ids a set's or a group's document keeps: what its page lists.
pub const LISTED_TRACKS: usize = 100;

/// A set's tracks in its order, a group's newest tracks first, as `track_ids` (ids separated by
/// spaces, at most [`LISTED_TRACKS`]): their pages list them from the index. One statement per
/// hydration, whatever the number of rows.
async fn attach_track_lists(
    db: &Db,
    kind: EntityKind,
    rows: &mut [Hydrated],
) -> Result<(), sqlx::Error> {
    let (table, owner, order) = match kind {
        EntityKind::Playlist => ("playlist_tracks", "playlist_id", "position"),
        EntityKind::Group => ("group_tracks", "group_id", "created_at DESC, track_id DESC"),
        EntityKind::Track | EntityKind::User => return Ok(()),
    };
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.key().id).collect();
    let pairs: Vec<(i64, i64)> = match db {
        Db::Postgres(pool) => {
            let sql = format!(
                "SELECT {owner}, track_id FROM {table} WHERE {owner} = ANY($1) ORDER BY {owner}, {order}"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&ids)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            let sql = format!(
                "SELECT {owner}, track_id FROM {table} WHERE {owner} IN (SELECT value FROM json_each(?1)) ORDER BY {owner}, {order}"
            );
            let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_string());
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(list)
                .fetch_all(pool)
                .await?
        }
    };
    let mut lists: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (owner, track) in pairs {
        let list = lists.entry(owner).or_default();
        if list.len() < LISTED_TRACKS {
            list.push(track.to_string());
        }
    }
    for row in rows {
        let list = lists.remove(&row.key().id).unwrap_or_default();
        row.row
            .fields
            .insert("track_ids".to_string(), FieldValue::Text(list.join(" ")));
    }
    Ok(())
}

/// Up to `limit` ids of `kind` greater than `after`, in id order: the way full scans (verify,
/// reindex) walk a table.
pub async fn ids_after(
    db: &Db,
    kind: EntityKind,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let sql = &statements(kind).ids_after;
    let rows: Vec<(i64,)> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(sql.postgres.as_str())
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(sql.sqlite.as_str())
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

    /// A site of one of each kind: user 1, track 10, group 5 and playlist 7, all by user 1.
    async fn one_of_each(db: &Db, at: DateTime<Utc>) {
        testing::insert_user(db, 1, "acdc", "AC/DC", at)
            .await
            .unwrap();
        testing::insert_track(db, 10, 1, "Highway to Hell", at)
            .await
            .unwrap();
        testing::insert_group(db, 5, 1, "Rockers", at)
            .await
            .unwrap();
        testing::insert_playlist(db, 7, 1, "Best of", at)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_columns_are_what_hydration_fills_and_definitions_may_name_only_those() {
        let site = testkit::FreshSqlite::create().await;
        let db = &site.db;
        one_of_each(db, testing::now()).await;
        for (kind, id) in [
            (EntityKind::User, 1),
            (EntityKind::Track, 10),
            (EntityKind::Group, 5),
            (EntityKind::Playlist, 7),
        ] {
            let rows = hydrate(db, kind, &[id]).await.unwrap();
            let mut filled: Vec<&str> = rows[0].row.fields.keys().map(String::as_str).collect();
            let mut listed = columns(kind).to_vec();
            filled.sort_unstable();
            listed.sort_unstable();
            assert_eq!(filled, listed, "{kind}");
        }
        check_definitions(&Definitions::builtin()).expect("the shipped definitions");

        let edited = Definitions::builtin_edited(|file, text| match file {
            "track.json" => text
                .replace("\"name\": \"tags\"", "\"name\": \"bpm\"")
                .replace("\"tags\", \"description\"", "\"bpm\", \"description\""),
            _ => text.to_string(),
        })
        .expect("valid on its own");
        let err = check_definitions(&edited).unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.place.as_deref()),
            ("track.json", Some("field `bpm`"))
        );
        assert!(
            err.problem.contains("title, description, genre, tags"),
            "{}",
            err.problem
        );
    }

    #[tokio::test]
    async fn one_query_reads_rows_with_owner_names_counts_and_searchability() {
        let site = testkit::FreshSqlite::create().await;
        let db = &site.db;
        let at = testing::now();
        one_of_each(db, at).await;
        testing::insert_track(db, 11, 1, "Private demo", at)
            .await
            .unwrap();
        testing::set_sharing(db, EntityKey::new(EntityKind::Track, 11), "private", at)
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
        let counts = ActivityCounts::Track {
            plays: 7,
            likes: 1,
            reposts: 0,
        };
        assert_eq!(hit.row.popularity, counts.popularity());
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
        assert_eq!(playlists[0].row.text("track_ids"), Some(""), "an empty set");

        // A set's tracks in its order; a group's newest first; a page reads the same.
        for sql in [
            "INSERT INTO playlist_tracks (playlist_id, track_id, position) VALUES (7, 11, 1), (7, 10, 0)",
            "INSERT INTO group_tracks (group_id, track_id, created_at) VALUES \
             (5, 10, '2024-01-01T00:00:00Z'), (5, 11, '2024-02-01T00:00:00Z')",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        for rows in [
            hydrate(db, EntityKind::Playlist, &[7]).await.unwrap(),
            hydrate_range(db, EntityKind::Playlist, 0, 7).await.unwrap(),
        ] {
            assert_eq!(rows[0].row.text("track_ids"), Some("10 11"));
        }
        for rows in [
            hydrate(db, EntityKind::Group, &[5]).await.unwrap(),
            hydrate_range(db, EntityKind::Group, 0, 5).await.unwrap(),
        ] {
            assert_eq!(rows[0].row.text("track_ids"), Some("11 10"));
        }

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
