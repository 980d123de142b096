//! The plain baseline every ranking change is measured against: SQLite FTS5 with its bm25 over
//! each searchable entity's name and its owner's name, nothing else — what a site gets from
//! one virtual table and no ranking work. Disco should beat it in every class of query.
//!
//! The words typed are matched with OR (any word), so a query with a misspelled word still
//! finds what its other words name, and bm25 orders the rest.

use std::time::{Duration, Instant};

use schemas::analyzer::fold;
use schemas::{EntityKey, EntityKind};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;

use crate::QualityError;
use crate::generate::Named;

/// An in-memory FTS5 index of names.
pub struct Baseline {
    pool: SqlitePool,
}

impl Baseline {
    /// Indexes `names` (see [`crate::generate::catalog`]) in a private in-memory database.
    pub async fn build(names: &[Named]) -> Result<Baseline, QualityError> {
        let failed = |e: sqlx::Error| QualityError::Baseline(e.to_string());
        // One connection: an in-memory database lives and dies with its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .map_err(failed)?;
        sqlx::query(
            "CREATE VIRTUAL TABLE names USING fts5(name, owner, kind UNINDEXED, id UNINDEXED, \
             tokenize = 'unicode61 remove_diacritics 2')",
        )
        .execute(&pool)
        .await
        .map_err(failed)?;
        let mut tx = pool.begin().await.map_err(failed)?;
        for named in names {
            sqlx::query("INSERT INTO names (name, owner, kind, id) VALUES ($1, $2, $3, $4)")
                .bind(&named.name)
                .bind(named.owner.as_deref().unwrap_or(""))
                .bind(named.key.kind.as_str())
                .bind(named.key.id)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        Ok(Baseline { pool })
    }

    /// The best `limit` entities for `text`, by bm25, and how long the search took.
    pub async fn search(
        &self,
        text: &str,
        limit: usize,
    ) -> Result<(Vec<EntityKey>, Duration), QualityError> {
        let started = Instant::now();
        let Some(expression) = match_expression(text) else {
            return Ok((Vec::new(), started.elapsed()));
        };
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, id FROM names WHERE names MATCH $1 ORDER BY bm25(names) LIMIT $2",
        )
        .bind(expression)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| QualityError::Baseline(e.to_string()))?;
        let keys = rows
            .into_iter()
            .filter_map(|(kind, id)| {
                let kind: EntityKind = kind.parse().ok()?;
                Some(EntityKey::new(kind, id))
            })
            .collect();
        Ok((keys, started.elapsed()))
    }
}

/// The FTS5 expression for what was typed: every word quoted (so nothing typed is syntax),
/// joined with OR; `None` when there is no word.
fn match_expression(text: &str) -> Option<String> {
    let folded = fold(text);
    let words: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: EntityKind, id: i64, name: &str, owner: Option<&str>) -> Named {
        Named {
            key: EntityKey::new(kind, id),
            name: name.to_string(),
            owner: owner.map(str::to_string),
        }
    }

    #[test]
    fn what_is_typed_is_never_syntax() {
        assert_eq!(
            match_expression("AC/DC \"live\" -NEAR(").as_deref(),
            Some("\"ac\" OR \"dc\" OR \"live\" OR \"near\"")
        );
        assert_eq!(match_expression("  -- "), None);
    }

    #[tokio::test]
    async fn bm25_over_names_and_owners() {
        let baseline = Baseline::build(&[
            named(EntityKind::User, 1, "Iron Maiden", None),
            named(EntityKind::Track, 2, "Aces High", Some("Iron Maiden")),
            named(EntityKind::Track, 3, "Antônio's Wave", Some("Jobim")),
        ])
        .await
        .unwrap();
        let (keys, _) = baseline.search("aces high", 10).await.unwrap();
        assert_eq!(keys, [EntityKey::new(EntityKind::Track, 2)]);
        let (keys, _) = baseline.search("antonio", 10).await.unwrap();
        assert_eq!(
            keys,
            [EntityKey::new(EntityKind::Track, 3)],
            "diacritics folded"
        );
        let (keys, _) = baseline.search("iron maiden", 10).await.unwrap();
        assert_eq!(keys.len(), 2);
        let (keys, _) = baseline.search("-", 10).await.unwrap();
        assert!(keys.is_empty());
    }
}
