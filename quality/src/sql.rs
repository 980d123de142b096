//! Statements written once for both dialects: a transaction on either database and the
//! values bound to its `$n` parameters (SQLite, through sqlx, binds `$n` by number too).

use chrono::{DateTime, Utc};
use schemas::db::Db;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// A value bound to a `$n` parameter. Values are always bound, never spliced into the text.
pub(crate) enum Param<'a> {
    Int(i64),
    Int32(i32),
    Text(&'a str),
    Time(DateTime<Utc>),
    OptInt(Option<i64>),
    OptText(Option<&'a str>),
    Float(f64),
    OptTime(Option<DateTime<Utc>>),
}

/// A transaction on either dialect: the statements above are written once and run on both.
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Binds every parameter of `$params` to `$query` (a `Query` or `QueryAs` of either dialect).
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match *param {
                Param::Int(v) => query.bind(v),
                Param::Int32(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
                Param::Time(v) => query.bind(v),
                Param::OptInt(v) => query.bind(v),
                Param::OptText(v) => query.bind(v),
                Param::Float(v) => query.bind(v),
                Param::OptTime(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Runs `$body` with `$conn` the connection of whichever transaction `$tx` holds; the body is
/// compiled once per dialect.
macro_rules! on_conn {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Rows both dialects can decode (a `FromRow` derive or a tuple of plain types).
pub(crate) trait BothRows:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}
impl<T> BothRows for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl Tx {
    pub(crate) async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Postgres(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        on_conn!(self, |conn| Ok(bind_all!(sqlx::query(sql), params)
            .execute(conn)
            .await?
            .rows_affected()))
    }

    /// Runs a statement built at run time (a multi-row INSERT's placeholders): its text is made
    /// of constants and `$n` only, never of input, which is bound like every value.
    pub(crate) async fn execute_built(
        &mut self,
        sql: String,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        on_conn!(self, |conn| Ok(bind_all!(
            sqlx::query(sqlx::AssertSqlSafe(sql)),
            params
        )
        .execute(conn)
        .await?
        .rows_affected()))
    }

    pub(crate) async fn fetch_all<T: BothRows>(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Vec<T>, sqlx::Error> {
        on_conn!(self, |conn| bind_all!(sqlx::query_as::<_, T>(sql), params)
            .fetch_all(conn)
            .await)
    }

    pub(crate) async fn fetch_optional<T: BothRows>(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<Option<T>, sqlx::Error> {
        on_conn!(self, |conn| bind_all!(sqlx::query_as::<_, T>(sql), params)
            .fetch_optional(conn)
            .await)
    }

    pub(crate) async fn fetch_one<T: BothRows>(
        &mut self,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> Result<T, sqlx::Error> {
        on_conn!(self, |conn| bind_all!(sqlx::query_as::<_, T>(sql), params)
            .fetch_one(conn)
            .await)
    }
}
