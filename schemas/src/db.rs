//! The site's database, PostgreSQL or SQLite, chosen by URL, with its migrations, and the one
//! place a statement's parameters are written for a dialect ([`Dialect::sql`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), schemas::db::DbError> {
//! let db = schemas::db::Db::connect("sqlite://data/disco.db").await?;
//! db.migrate().await?;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// Errors opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL `{0}` is neither postgres:// nor sqlite://")]
    Scheme(String),
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migrating the site's tables failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A pool on the site's database, in one of the two supported dialects.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The SQL dialect of a [`Db`]. Statements are written once, with PostgreSQL's numbered
/// parameters (`$1`, `$2`; a number may repeat), and put into a dialect by [`Dialect::sql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// `sql`, written with `$n` parameters, as this dialect writes them: unchanged for
    /// PostgreSQL, `?n` (SQLite's numbered form, so a repeated number still binds one value)
    /// for SQLite. A `$` inside a quoted string or identifier, or not followed by a digit, is
    /// left alone.
    ///
    /// ```
    /// use schemas::db::Dialect;
    /// let sql = "UPDATE t SET a = $1, b = '$2' WHERE id = $10 OR id = $1";
    /// assert_eq!(Dialect::Postgres.sql(sql), sql);
    /// assert_eq!(
    ///     Dialect::Sqlite.sql(sql),
    ///     "UPDATE t SET a = ?1, b = '$2' WHERE id = ?10 OR id = ?1"
    /// );
    /// ```
    pub fn sql(self, sql: &str) -> Cow<'_, str> {
        match self {
            Dialect::Postgres => Cow::Borrowed(sql),
            Dialect::Sqlite => Cow::Owned(numbered_question_marks(sql)),
        }
    }
}

/// `$n` → `?n` outside quotes.
fn numbered_question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            // A doubled quote inside a quoted run closes and reopens it: same state after.
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('?');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

impl Db {
    /// The dialect this pool speaks.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// `sql`, written with `$n` parameters, in this pool's dialect ([`Dialect::sql`]).
    pub fn dialect_sql<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        self.dialect().sql(sql)
    }

    /// Connects to `url` (`postgres://…` or `sqlite://path`). A SQLite file is created when
    /// missing and opened in WAL mode so one writer and many readers can share it.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let connect_err = |source| DbError::Connect {
            url: redact(url),
            source,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(connect_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(connect_err)?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(connect_err)?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(DbError::Scheme(redact(url)))
        }
    }

    /// Applies the site's migrations for this dialect (idempotent).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pool) => pool.close().await,
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://data/disco.db"), "sqlite://data/disco.db");
    }

    #[test]
    fn parameters_are_numbered_for_sqlite_outside_quotes_only() {
        let sql = r#"INSERT INTO t (a, "b$1", c) VALUES ($1, '$2 it''s $3', $12) -- $ 4"#;
        assert_eq!(Dialect::Postgres.sql(sql), sql);
        assert_eq!(
            Dialect::Sqlite.sql(sql),
            r#"INSERT INTO t (a, "b$1", c) VALUES (?1, '$2 it''s $3', ?12) -- $ 4"#
        );
        assert_eq!(Dialect::Sqlite.sql("VALUES ($4, $4)"), "VALUES (?4, ?4)");
    }

    #[tokio::test]
    async fn dialect_sql_runs_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("site.db").display());
        let db = Db::connect(&url).await.unwrap();
        let Db::Sqlite(pool) = &db else {
            panic!("sqlite url gave {db:?}")
        };
        let sql = db.dialect_sql("SELECT $2 - $1, $2").into_owned();
        let row: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(1_i64)
            .bind(10_i64)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(row, (9, 10));
    }

    #[tokio::test]
    async fn sqlite_migrations_apply_twice() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("site.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(pool) = &db else {
            panic!("sqlite url gave {db:?}")
        };
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tracks")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
