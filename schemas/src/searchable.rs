//! The one statement of which entities search shows, suggest offers and DiscoRank ranks.
//!
//! A row is searchable when it exists, its `deleted_at` is NULL, it is not taken down and —
//! for tracks and playlists, the kinds with a sharing setting — it is public.
//!
//! The rule is stated in SQL only, and every reader takes it from [`condition`]: as a filter
//! (`WHERE …`), or as a column (`(…) AS searchable`) where it must see unsearchable rows too
//! (the indexer's hydration, the simulator's picks). A rule about other rows — "and its owner is
//! searchable" — is then added here once, as a subquery, and every reader follows.
//!
//! ```
//! use schemas::EntityKind;
//! use schemas::searchable::condition;
//!
//! assert_eq!(
//!     condition(EntityKind::Track, "t"),
//!     "t.deleted_at IS NULL AND t.taken_down = FALSE AND t.sharing = 'public'"
//! );
//! assert_eq!(
//!     condition(EntityKind::User, "users"),
//!     "users.deleted_at IS NULL AND users.taken_down = FALSE"
//! );
//! ```

use crate::EntityKind;

/// Whether rows of `kind` have a sharing setting (`public` or `private`).
pub fn has_sharing(kind: EntityKind) -> bool {
    matches!(kind, EntityKind::Track | EntityKind::Playlist)
}

/// The SQL condition that holds exactly for the searchable rows of `kind`, whose table the
/// statement names (or aliases) `alias`. The same text runs on PostgreSQL and SQLite, and is
/// written as the partial index `tracks_user_id_public` (migration 0002) spells it, so the
/// planner can match the two.
pub fn condition(kind: EntityKind, alias: &str) -> String {
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
                    "INSERT INTO users (id, username, created_at, updated_at, deleted_at, taken_down) \
                     VALUES ({id}, 'u{id}', {at}, {at}, {deleted_at}, {taken_down})"
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
        for kind in EntityKind::ALL {
            let sql = format!(
                "SELECT e.id, {} FROM {} e ORDER BY e.id",
                condition(kind, "e"),
                kind.table()
            );
            let rows: Vec<(i64, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap();
            // Users and groups have no sharing: a "private" one of them is still searchable.
            let private_shows = !has_sharing(kind);
            assert_eq!(
                rows,
                [(1, true), (2, false), (3, false), (4, private_shows)],
                "{kind}"
            );
        }
    }
}
