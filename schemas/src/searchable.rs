//! The one statement of which entities search shows, suggest offers and DiscoRank ranks.
//!
//! A row is searchable when it exists, its `deleted_at` is NULL, it is not taken down and —
//! for people, tracks and playlists, the kinds with a sharing setting — it is public. What a
//! person made (their tracks and playlists, the groups they created) is searchable only while
//! its owner is: a spam account taken down, deleted (softly or outright) or made private takes
//! everything it made with it, and reinstating it brings it all back.
//!
//! The rule is stated in SQL only, and every reader takes it from [`condition`]: as a filter
//! (`WHERE …`), or as a column (`(…) AS searchable`) where it must see unsearchable rows too
//! (the indexer's hydration, the simulator's picks). The owner part is a subquery on the owner's
//! row by primary key, so every reader follows it without a join of its own.
//!
//! ```
//! use schemas::EntityKind;
//! use schemas::searchable::condition;
//!
//! assert_eq!(
//!     condition(EntityKind::User, "users"),
//!     "users.deleted_at IS NULL AND users.taken_down = FALSE AND users.sharing = 'public'"
//! );
//! assert_eq!(
//!     condition(EntityKind::Track, "t"),
//!     "t.deleted_at IS NULL AND t.taken_down = FALSE AND t.sharing = 'public' AND EXISTS \
//!      (SELECT 1 FROM users searchable_owner WHERE searchable_owner.id = t.user_id AND \
//!      searchable_owner.deleted_at IS NULL AND searchable_owner.taken_down = FALSE AND \
//!      searchable_owner.sharing = 'public')"
//! );
//! ```

use crate::EntityKind;

/// Whether rows of `kind` have a sharing setting (`public` or `private`).
pub fn has_sharing(kind: EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::Track | EntityKind::Playlist | EntityKind::User
    )
}

/// The column of `kind`'s table that names the user who made the row: their state decides
/// whether the row is searchable. People own themselves (`None`).
pub fn owner_column(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Track | EntityKind::Playlist => Some("user_id"),
        EntityKind::Group => Some("creator_id"),
        EntityKind::User => None,
    }
}

/// The alias of the owner's row inside [`condition`]'s subquery: unlike any a statement uses.
const OWNER: &str = "searchable_owner";

/// The SQL condition that holds exactly for the searchable rows of `kind`, whose table the
/// statement names (or aliases) `alias`. The same text runs on PostgreSQL and SQLite. Its first
/// part is the row's own state, written as the partial index `tracks_user_id_public`
/// (migration 0002) spells it, so the planner can match the two.
pub fn condition(kind: EntityKind, alias: &str) -> String {
    let own = own_condition(kind, alias);
    match owner_column(kind) {
        Some(column) => format!(
            "{own} AND EXISTS (SELECT 1 FROM users {OWNER} WHERE {OWNER}.id = {alias}.{column} AND {})",
            own_condition(EntityKind::User, OWNER)
        ),
        None => own,
    }
}

/// The row's own state, whoever owns it: what its owner or a moderator sets on the row itself
/// (the site simulator hides and restores by it).
pub fn own_condition(kind: EntityKind, alias: &str) -> String {
    let live = format!("{alias}.deleted_at IS NULL AND {alias}.taken_down = FALSE");
    if has_sharing(kind) {
        format!("{live} AND {alias}.sharing = 'public'")
    } else {
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    /// The condition, evaluated by the database on one row of each state of each kind.
    #[tokio::test]
    async fn only_live_public_rows_are_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("site.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            panic!("sqlite url gave {db:?}")
        };
        let at = "'2024-01-01T00:00:00Z'";
        // (id, deleted_at, taken_down, sharing): only id 1 is searchable.
        let states = [
            (1, "NULL", "FALSE", "public"),
            (2, at, "FALSE", "public"),
            (3, "NULL", "TRUE", "public"),
            (4, "NULL", "FALSE", "private"),
        ];
        for (id, deleted_at, taken_down, sharing) in states {
            let rows = [
                format!(
                    "INSERT INTO users (id, username, sharing, created_at, updated_at, deleted_at, taken_down) \
                     VALUES ({id}, 'u{id}', '{sharing}', {at}, {at}, {deleted_at}, {taken_down})"
                ),
                format!(
                    "INSERT INTO groups (id, creator_id, name, created_at, updated_at, deleted_at, taken_down) \
                     VALUES ({id}, 1, 'g', {at}, {at}, {deleted_at}, {taken_down})"
                ),
                format!(
                    "INSERT INTO tracks (id, user_id, title, sharing, created_at, updated_at, deleted_at, taken_down) \
                     VALUES ({id}, 1, 't', '{sharing}', {at}, {at}, {deleted_at}, {taken_down})"
                ),
                format!(
                    "INSERT INTO playlists (id, user_id, title, sharing, created_at, updated_at, deleted_at, taken_down) \
                     VALUES ({id}, 1, 'p', '{sharing}', {at}, {at}, {deleted_at}, {taken_down})"
                ),
            ];
            for sql in rows {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        let searchable = |kind: EntityKind| {
            let sql = format!(
                "SELECT e.id, {} FROM {} e ORDER BY e.id",
                condition(kind, "e"),
                kind.table()
            );
            async move {
                let rows: Vec<(i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .unwrap();
                rows
            }
        };
        for kind in EntityKind::ALL {
            // Groups have no sharing: a "private" one is still searchable.
            let private_shows = !has_sharing(kind);
            assert_eq!(
                searchable(kind).await,
                [(1, true), (2, false), (3, false), (4, private_shows)],
                "{kind}"
            );
        }

        // Everything was made by user 1. Taken down, deleted, made private or gone from the
        // table, they take all of it with them; reinstated, it is all back.
        let owned = [EntityKind::Track, EntityKind::Playlist, EntityKind::Group];
        let states = [
            "UPDATE users SET taken_down = TRUE WHERE id = 1",
            "UPDATE users SET deleted_at = '2024-02-01T00:00:00Z' WHERE id = 1",
            "UPDATE users SET sharing = 'private' WHERE id = 1",
            "DELETE FROM users WHERE id = 1",
        ];
        for state in states {
            sqlx::query(state).execute(pool).await.unwrap();
            for kind in owned {
                let rows = searchable(kind).await;
                assert!(
                    rows.iter().all(|(_, s)| !s),
                    "{kind} after {state}: {rows:?}"
                );
            }
            // Reinstated.
            sqlx::query(
                "INSERT OR REPLACE INTO users (id, username, sharing, created_at, updated_at, deleted_at, taken_down) \
                 VALUES (1, 'u1', 'public', '2024-01-01T00:00:00Z', '2024-03-01T00:00:00Z', NULL, FALSE)",
            )
            .execute(pool)
            .await
            .unwrap();
            for kind in owned {
                assert_eq!(searchable(kind).await[0], (1, true), "{kind} reinstated");
            }
        }
    }
}
