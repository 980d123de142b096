//! Test and benchmark support: writes the site's rows the way the site does (both dialects) and
//! makes the matching events. Not part of the indexer's API.

use chrono::{DateTime, Utc};
use schemas::db::Db;
use schemas::envelope::{Action, Envelope};
use schemas::{EntityKey, EntityKind};

/// Now, truncated to whole microseconds (what both databases store).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The event the site publishes for a change made at `at`: (routing key, body).
pub fn event(action: Action, key: EntityKey, at: DateTime<Utc>) -> (String, Vec<u8>) {
    let envelope = Envelope {
        action,
        key,
        occurred_at: at,
    };
    (envelope.routing_key(), envelope.to_body())
}

/// Runs `sql`, written with PostgreSQL's `$n` parameters, on either dialect.
async fn execute(db: &Db, sql: &str, binds: Vec<Bind>) -> Result<(), sqlx::Error> {
    let sql = db.dialect_sql(sql).into_owned();
    match db {
        Db::Postgres(pool) => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = match bind {
                    Bind::Int(v) => query.bind(v),
                    Bind::Text(v) => query.bind(v),
                    Bind::Time(v) => query.bind(v),
                    Bind::Bool(v) => query.bind(v),
                };
            }
            query.execute(pool).await?;
        }
        Db::Sqlite(pool) => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = match bind {
                    Bind::Int(v) => query.bind(v),
                    Bind::Text(v) => query.bind(v),
                    Bind::Time(v) => query.bind(v),
                    Bind::Bool(v) => query.bind(v),
                };
            }
            query.execute(pool).await?;
        }
    }
    Ok(())
}

enum Bind {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    Bool(bool),
}

pub async fn insert_user(
    db: &Db,
    id: i64,
    username: &str,
    full_name: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    execute(
        db,
        "INSERT INTO users (id, username, full_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        vec![Bind::Int(id), Bind::Text(username.into()), Bind::Text(full_name.into()), Bind::Time(at)],
    )
    .await
}

pub async fn insert_track(
    db: &Db,
    id: i64,
    user_id: i64,
    title: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    execute(
        db,
        "INSERT INTO tracks (id, user_id, title, genre, created_at, updated_at) VALUES ($1, $2, $3, 'rock', $4, $4)",
        vec![Bind::Int(id), Bind::Int(user_id), Bind::Text(title.into()), Bind::Time(at)],
    )
    .await
}

pub async fn insert_playlist(
    db: &Db,
    id: i64,
    user_id: i64,
    title: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    execute(
        db,
        "INSERT INTO playlists (id, user_id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        vec![Bind::Int(id), Bind::Int(user_id), Bind::Text(title.into()), Bind::Time(at)],
    )
    .await
}

pub async fn insert_group(
    db: &Db,
    id: i64,
    creator_id: i64,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    execute(
        db,
        "INSERT INTO groups (id, creator_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        vec![Bind::Int(id), Bind::Int(creator_id), Bind::Text(name.into()), Bind::Time(at)],
    )
    .await
}

/// Renames a track, a playlist (title), a user (full name) or a group (name).
pub async fn rename(
    db: &Db,
    key: EntityKey,
    name: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = match key.kind {
        EntityKind::Track => "UPDATE tracks SET title = $1, updated_at = $2 WHERE id = $3",
        EntityKind::Playlist => "UPDATE playlists SET title = $1, updated_at = $2 WHERE id = $3",
        EntityKind::User => "UPDATE users SET full_name = $1, updated_at = $2 WHERE id = $3",
        EntityKind::Group => "UPDATE groups SET name = $1, updated_at = $2 WHERE id = $3",
    };
    execute(
        db,
        sql,
        vec![Bind::Text(name.into()), Bind::Time(at), Bind::Int(key.id)],
    )
    .await
}

/// Sets `deleted_at` (soft delete).
pub async fn soft_delete(db: &Db, key: EntityKey, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET deleted_at = $1, updated_at = $1 WHERE id = $2",
        key.kind.table()
    );
    execute(db, &sql, vec![Bind::Time(at), Bind::Int(key.id)]).await
}

/// Sets `taken_down`.
pub async fn take_down(
    db: &Db,
    key: EntityKey,
    taken_down: bool,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET taken_down = $1, updated_at = $2 WHERE id = $3",
        key.kind.table()
    );
    execute(
        db,
        &sql,
        vec![Bind::Bool(taken_down), Bind::Time(at), Bind::Int(key.id)],
    )
    .await
}

/// Sets `sharing` of a track or playlist.
pub async fn set_sharing(
    db: &Db,
    key: EntityKey,
    sharing: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET sharing = $1, updated_at = $2 WHERE id = $3",
        key.kind.table()
    );
    execute(
        db,
        &sql,
        vec![
            Bind::Text(sharing.into()),
            Bind::Time(at),
            Bind::Int(key.id),
        ],
    )
    .await
}

/// Removes the row outright (hard delete).
pub async fn remove(db: &Db, key: EntityKey) -> Result<(), sqlx::Error> {
    let sql = format!("DELETE FROM {} WHERE id = $1", key.kind.table());
    execute(db, &sql, vec![Bind::Int(key.id)]).await
}

/// Runs one statement of the site's (PostgreSQL `$n` parameters, on either dialect) with
/// `ints` bound first and `at` last: for activity rows (likes, plays, follows, …) in tests.
pub async fn execute_with(
    db: &Db,
    sql: &str,
    ints: &[i64],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut binds: Vec<Bind> = ints.iter().map(|&n| Bind::Int(n)).collect();
    binds.push(Bind::Time(at));
    execute(db, sql, binds).await
}

/// Keys (`track:1`) of `generation`'s documents whose `fields` match `text`, sorted, after a
/// reader reload: what a search there finds now.
pub fn keys_matching(
    generation: &crate::generations::GenerationHandle,
    fields: &[&str],
    text: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    use tantivy::schema::Value;
    generation.reload()?;
    let definitions = generation.definitions();
    let fields = (fields.iter())
        .map(|name| definitions.field(name).ok_or(format!("no field {name}")))
        .collect::<Result<_, _>>()?;
    let query =
        tantivy::query::QueryParser::for_index(generation.index(), fields).parse_query(text)?;
    let searcher = generation.searcher();
    let system = definitions.system();
    let top = tantivy::collector::TopDocs::with_limit(100).order_by_score();
    let mut keys = Vec::new();
    for (_, address) in searcher.search(&query, &top)? {
        let doc: tantivy::TantivyDocument = searcher.doc(address)?;
        let kind = doc.get_first(system.kind).and_then(|v| v.as_str());
        let id = doc.get_first(system.id).and_then(|v| v.as_i64());
        match (kind, id) {
            (Some(kind), Some(id)) => keys.push(format!("{kind}:{id}")),
            _ => return Err("a document without its kind or id".into()),
        }
    }
    keys.sort();
    Ok(keys)
}
