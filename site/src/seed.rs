//! Filling the site's database with a catalog: checks the database is empty (or empties it
//! when asked), builds the catalog, loads it, and reports what landed.
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), site::SiteError> {
//! use site::seed::{seed, summary, SeedOptions};
//! let options = SeedOptions { reset: true, ..SeedOptions::synthetic(10_000, 42) };
//! seed(&db, &options, &site::progress::ProgressMeter::new("seed", 0)).await?;
//! println!("{}", summary(&db).await?);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemas::db::Db;
use sqlx::AssertSqlSafe;

use crate::SiteError;
use crate::load::{self, Catalog, Counts, InMemory};
use crate::progress::ProgressMeter;
use crate::rows::Table;
use crate::synthetic::{Synthetic, SyntheticOptions};

/// Which catalog to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataset {
    /// The real Chinook catalog, from the Django fixture (the embedded copy by default).
    Chinook { fixture: crate::chinook::Fixture },
    /// A synthetic catalog of this many tracks.
    Synthetic { tracks: i64 },
}

/// What to seed and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    pub dataset: Dataset,
    /// Drives every random choice: the same seed gives the same rows.
    pub seed: u64,
    /// Empty the site's tables first instead of refusing a non-empty database.
    pub reset: bool,
}

impl SeedOptions {
    /// The Chinook catalog compiled into the binary.
    pub fn chinook() -> SeedOptions {
        SeedOptions::chinook_from(crate::chinook::Fixture::Embedded)
    }

    pub fn chinook_from(fixture: crate::chinook::Fixture) -> SeedOptions {
        SeedOptions {
            dataset: Dataset::Chinook { fixture },
            seed: 42,
            reset: false,
        }
    }

    pub fn synthetic(tracks: i64, seed: u64) -> SeedOptions {
        SeedOptions {
            dataset: Dataset::Synthetic { tracks },
            seed,
            reset: false,
        }
    }
}

/// What a seed loaded and how long it took.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub counts: Counts,
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "loaded {} rows in {secs:.1} s ({:.0} rows/s)",
            self.total(),
            self.total() as f64 / secs.max(1e-3)
        )?;
        for (table, n) in &self.counts {
            writeln!(f, "  {:<16} {n:>12}", table.name())?;
        }
        Ok(())
    }
}

/// Seeds `db` (already migrated) with the catalog `options` names. Fails without writing
/// anything when the database already holds rows, unless `options.reset`.
pub async fn seed(
    db: &Db,
    options: &SeedOptions,
    progress: &ProgressMeter,
) -> Result<SeedReport, SiteError> {
    let started = Instant::now();
    // Build the catalog first: a missing fixture fails before the database is touched.
    let catalog: Arc<dyn Catalog> = match &options.dataset {
        Dataset::Chinook { fixture } => {
            let tables = crate::chinook::read(fixture, options.seed)?;
            Arc::new(InMemory::new(tables, 5_000))
        }
        Dataset::Synthetic { tracks } => {
            if *tracks < 1 {
                return Err(SiteError::Invalid(format!(
                    "--tracks must be at least 1, not {tracks}"
                )));
            }
            Arc::new(Synthetic::new(SyntheticOptions {
                tracks: *tracks,
                seed: options.seed,
            }))
        }
    };
    if options.reset {
        load::truncate(db).await?;
    } else if let Some((table, rows)) = load::first_non_empty(db).await? {
        return Err(SiteError::NotEmpty { table, rows });
    }
    progress.set_total(catalog.expected_rows());
    let counts = load::load(db, catalog, progress).await?;
    progress.finish();
    Ok(SeedReport {
        counts,
        elapsed: started.elapsed(),
    })
}

/// What a seeded database holds: counts per table, the most-followed users, and the share of
/// entities that are private, deleted or taken down.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub counts: Vec<(Table, i64)>,
    /// (user id, username, followers).
    pub most_followed: Vec<(i64, String, i64)>,
    /// Per entity table: (table, rows, private, deleted, taken down).
    pub hidden: Vec<(Table, i64, i64, i64, i64)>,
}

/// Reads a [`Summary`] from the database.
pub async fn summary(db: &Db) -> Result<Summary, SiteError> {
    let mut counts = Vec::new();
    for table in Table::ALL {
        counts.push((table, load::count_rows(db, table).await?));
    }
    let most_followed_sql = "SELECT u.id, u.username, f.n FROM \
        (SELECT followee_id, count(*) AS n FROM follows GROUP BY followee_id ORDER BY n DESC, followee_id LIMIT 10) f \
        JOIN users u ON u.id = f.followee_id ORDER BY f.n DESC, u.id";
    let most_followed: Vec<(i64, String, i64)> = match db {
        Db::Postgres(pool) => sqlx::query_as(most_followed_sql).fetch_all(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(most_followed_sql).fetch_all(pool).await,
    }
    .map_err(SiteError::db("reading the most-followed users"))?;
    let mut hidden = Vec::new();
    for table in [Table::Users, Table::Tracks, Table::Playlists, Table::Groups] {
        let private = if matches!(table, Table::Tracks | Table::Playlists) {
            "sharing = 'private'"
        } else {
            "1 = 0"
        };
        let sql = format!(
            "SELECT count(*), \
             coalesce(sum(CASE WHEN {private} THEN 1 ELSE 0 END), 0), \
             coalesce(sum(CASE WHEN deleted_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
             coalesce(sum(CASE WHEN taken_down THEN 1 ELSE 0 END), 0) FROM {}",
            table.name()
        );
        let row: (i64, i64, i64, i64) = match db {
            Db::Postgres(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_one(pool).await,
            Db::Sqlite(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_one(pool).await,
        }
        .map_err(SiteError::db(format!("counting hidden {table}")))?;
        hidden.push((table, row.0, row.1, row.2, row.3));
    }
    Ok(Summary {
        counts,
        most_followed,
        hidden,
    })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows per table:")?;
        for (table, n) in &self.counts {
            writeln!(f, "  {:<16} {n:>12}", table.name())?;
        }
        writeln!(f, "most-followed users:")?;
        for (rank, (id, username, followers)) in self.most_followed.iter().enumerate() {
            writeln!(
                f,
                "  {:>2}. {username} (user {id}): {followers} followers",
                rank + 1
            )?;
        }
        writeln!(f, "hidden entities:")?;
        for (table, rows, private, deleted, taken_down) in &self.hidden {
            let pct = |n: &i64| {
                if *rows > 0 {
                    100.0 * *n as f64 / *rows as f64
                } else {
                    0.0
                }
            };
            writeln!(
                f,
                "  {:<10} private {:>5.2}%  deleted {:>5.2}%  taken down {:>5.2}%",
                table.name(),
                pct(private),
                pct(deleted),
                pct(taken_down)
            )?;
        }
        Ok(())
    }
}
