//! Reading the names to suggest from the site's database: one small SELECT per kind, over
//! searchable rows only ([`schemas::searchable`]).
//!
//! Each row comes with the activity counts of its popularity ([`ActivityCounts`], the formula
//! the indexer writes into documents), and the [`SuggestPrior`] the caller gives turns that into
//! the entity's prior — the same prior the delta weighs live changes with.

use std::sync::LazyLock;

use schemas::db::Db;
use schemas::popularity::{ActivityCounts, counts_sql};
use schemas::searchable::condition;
use schemas::{EntityKey, EntityKind};

use crate::SuggestError;
use crate::record::{Record, SuggestPrior, user_name};

/// The statements, built once: the searchable rule is a runtime string.
struct Statements {
    /// id, username, full name, followers, searchable tracks.
    users: String,
    /// id, title, owner's username, owner's full name, plays, likes, reposts.
    tracks: String,
    /// id, title, owner's username, owner's full name, likes, tracks.
    playlists: String,
    /// id, name, members, tracks.
    groups: String,
}

static STATEMENTS: LazyLock<Statements> = LazyLock::new(|| Statements {
    users: format!(
        "SELECT u.id, u.username, u.full_name, {} FROM users u WHERE {}",
        counts_sql(EntityKind::User, "u"),
        condition(EntityKind::User, "u"),
    ),
    tracks: format!(
        "SELECT t.id, t.title, COALESCE(u.username, ''), COALESCE(u.full_name, ''), {} \
         FROM tracks t LEFT JOIN users u ON u.id = t.user_id WHERE {}",
        counts_sql(EntityKind::Track, "t"),
        condition(EntityKind::Track, "t"),
    ),
    playlists: format!(
        "SELECT p.id, p.title, COALESCE(u.username, ''), COALESCE(u.full_name, ''), {} \
         FROM playlists p LEFT JOIN users u ON u.id = p.user_id WHERE {}",
        counts_sql(EntityKind::Playlist, "p"),
        condition(EntityKind::Playlist, "p"),
    ),
    groups: format!(
        "SELECT g.id, g.name, {} FROM groups g WHERE {}",
        counts_sql(EntityKind::Group, "g"),
        condition(EntityKind::Group, "g"),
    ),
});

macro_rules! fetch_all {
    ($db:expr, $sql:expr, $row:ty) => {
        match $db {
            Db::Postgres(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await?,
            Db::Sqlite(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await?,
        }
    };
}

/// Every searchable entity's names, each with `prior`'s prior of its popularity.
pub async fn load(db: &Db, prior: &SuggestPrior) -> Result<Vec<Record>, SuggestError> {
    let sql = &*STATEMENTS;
    let users = fetch_all!(db, sql.users.as_str(), (i64, String, String, i64, i64));
    let mut records = Vec::with_capacity(users.len());
    for (id, username, full_name, followers, tracks) in users {
        let key = EntityKey::new(EntityKind::User, id);
        let popularity = ActivityCounts::User { followers, tracks }.popularity();
        records.push(Record::user(
            id,
            &username,
            &full_name,
            prior.of(key, popularity),
        ));
    }
    type Owned3 = (i64, String, String, String, i64, i64, i64);
    // A track or set: found by its title and by its owner's shown name then its title.
    let owned = |kind, id, title: &str, username: &str, full_name: &str, counts: ActivityCounts| {
        let key = EntityKey::new(kind, id);
        let prior = prior.of(key, counts.popularity());
        Record::owned(key, title, user_name(username, full_name), prior)
    };
    for (id, title, username, full_name, plays, likes, reposts) in
        fetch_all!(db, sql.tracks.as_str(), Owned3)
    {
        let counts = ActivityCounts::Track {
            plays,
            likes,
            reposts,
        };
        records.push(owned(
            EntityKind::Track,
            id,
            &title,
            &username,
            &full_name,
            counts,
        ));
    }
    type Owned2 = (i64, String, String, String, i64, i64);
    for (id, title, username, full_name, likes, tracks) in
        fetch_all!(db, sql.playlists.as_str(), Owned2)
    {
        let counts = ActivityCounts::Playlist { likes, tracks };
        records.push(owned(
            EntityKind::Playlist,
            id,
            &title,
            &username,
            &full_name,
            counts,
        ));
    }
    type Counted2 = (i64, String, i64, i64);
    for (id, name, members, tracks) in fetch_all!(db, sql.groups.as_str(), Counted2) {
        let key = EntityKey::new(EntityKind::Group, id);
        let counts = ActivityCounts::Group { members, tracks };
        records.push(Record::new(key, name, prior.of(key, counts.popularity())));
    }
    Ok(records)
}
