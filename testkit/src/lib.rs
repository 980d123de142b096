//! Test support: one place that knows how to reach the real services and how to give each
//! test its own database and its own broker names, so tests run in parallel without meeting.
//!
//! The services are required, not optional: a test that cannot reach PostgreSQL or RabbitMQ
//! fails with a message saying which URL it tried. CI starts them before the tests run.
//!
//! ```no_run
//! # async fn t() {
//! let pg = testkit::FreshPostgres::create().await; // database `disco_t_<random>`, migrated
//! let names = testkit::unique_name("indexer");      // e.g. `indexer-3f9a1c2b7d`
//! # drop((pg, names)); }
//! ```

use rand::Rng;
use schemas::db::Db;
use sqlx::Connection;

/// The server-level PostgreSQL URL tests create their databases from.
pub fn postgres_admin_url() -> String {
    std::env::var("DISCO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The RabbitMQ URL tests use.
pub fn amqp_url() -> String {
    std::env::var("DISCO_TEST_AMQP")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
}

/// A name no other test run uses: `<prefix>-<10 hex digits>`.
pub fn unique_name(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}-{:010x}", n & 0xff_ffff_ffff)
}

/// A PostgreSQL database made for one test, with the site's tables migrated, dropped when the
/// test ends (best effort: a killed test leaves a `disco_t_…` database behind, nothing more).
pub struct FreshPostgres {
    pub name: String,
    pub url: String,
    pub db: Db,
}

impl FreshPostgres {
    /// Creates and migrates the database. Panics with the URL when PostgreSQL is unreachable.
    pub async fn create() -> FreshPostgres {
        let admin = postgres_admin_url();
        let name = unique_name("disco_t").replace('-', "_");
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let url = match admin.rfind('/') {
            Some(slash) => format!("{}/{name}", &admin[..slash]),
            None => panic!("DISCO_TEST_POSTGRES {admin} has no database path"),
        };
        let db = Db::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        FreshPostgres { name, url, db }
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = postgres_admin_url();
        // Drop runs inside or outside a runtime; a short thread with its own runtime works in
        // both. The test's pool belongs to the test's runtime, which is blocked here, so it is
        // not closed from this thread: `DROP … WITH (FORCE)` ends its connections instead.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A SQLite database in a temporary directory, migrated.
pub struct FreshSqlite {
    pub dir: std::path::PathBuf,
    pub url: String,
    pub db: Db,
    _guard: TempDirGuard,
}

struct TempDirGuard(std::path::PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FreshSqlite {
    pub async fn create() -> FreshSqlite {
        let dir = std::env::temp_dir().join(unique_name("disco-sqlite"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let url = format!("sqlite://{}", dir.join("site.db").display());
        let db = Db::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        db.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        FreshSqlite {
            dir: dir.clone(),
            url,
            db,
            _guard: TempDirGuard(dir),
        }
    }
}
