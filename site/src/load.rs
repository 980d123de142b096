//! Getting a catalog into the database fast: PostgreSQL through one streaming `COPY` per table
//! (all tables at once, each on its own connection), SQLite through batched multi-row `INSERT`s
//! in transactions on one writer.
//!
//! Rows are produced by a [`Catalog`] in chunks on blocking worker threads, so generation runs
//! in parallel with the database's own work and memory stays bounded by the channel depth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use schemas::db::Db;
use sqlx::postgres::{PgPoolCopyExt, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use tokio::sync::mpsc;

use crate::SiteError;
use crate::progress::ProgressMeter;
use crate::rows::{Rows, Table, Value};

/// Chunks waiting per table between the generators and the database.
const CHANNEL_DEPTH: usize = 4;

/// A producer of catalog rows in chunks. Chunks are independent: any chunk can be produced
/// on any thread in any order, and the same chunk always holds the same rows.
pub trait Catalog: Send + Sync + 'static {
    /// Every chunk to produce, as (table, chunk index).
    fn jobs(&self) -> Vec<(Table, usize)>;
    /// The rows of one chunk.
    fn produce(&self, table: Table, chunk: usize) -> Rows;
    /// About how many rows all chunks hold, for progress.
    fn expected_rows(&self) -> u64;
}

/// Rows written per table.
pub type Counts = BTreeMap<Table, u64>;

/// Loads every chunk of `catalog` into `db`, showing progress. The tables should be empty.
pub async fn load(
    db: &Db,
    catalog: Arc<dyn Catalog>,
    progress: &ProgressMeter,
) -> Result<Counts, SiteError> {
    match db {
        Db::Postgres(pool) => load_postgres(pool, catalog, progress).await,
        Db::Sqlite(pool) => load_sqlite(pool, catalog, progress).await,
    }
}

/// The jobs, interleaved so that every table's stream advances together.
fn interleaved(catalog: &dyn Catalog) -> Vec<(Table, usize)> {
    let jobs = catalog.jobs();
    let mut per_table: BTreeMap<Table, usize> = BTreeMap::new();
    for (table, _) in &jobs {
        *per_table.entry(*table).or_default() += 1;
    }
    let mut keyed: Vec<(f64, Table, usize)> = jobs
        .into_iter()
        .map(|(table, chunk)| (chunk as f64 / per_table[&table] as f64, table, chunk))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed
        .into_iter()
        .map(|(_, table, chunk)| (table, chunk))
        .collect()
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// Runs the generators on blocking threads; `send` hands each produced chunk on and returns
/// false when the receiving side has gone (an error there ends generation early).
async fn generate<F>(catalog: Arc<dyn Catalog>, send: F) -> Result<(), SiteError>
where
    F: Fn(Rows) -> bool + Send + Sync + 'static,
{
    let jobs = Arc::new(interleaved(catalog.as_ref()));
    let next = Arc::new(AtomicUsize::new(0));
    let send = Arc::new(send);
    let mut handles = Vec::new();
    for _ in 0..workers() {
        let (jobs, next, send, catalog) =
            (jobs.clone(), next.clone(), send.clone(), catalog.clone());
        handles.push(tokio::task::spawn_blocking(move || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(table, chunk)) = jobs.get(i) else {
                    break;
                };
                if !send(catalog.produce(table, chunk)) {
                    break;
                }
            }
        }));
    }
    for handle in handles {
        handle.await.map_err(|e| SiteError::Worker(e.to_string()))?;
    }
    Ok(())
}

async fn load_postgres(
    pool: &PgPool,
    catalog: Arc<dyn Catalog>,
    progress: &ProgressMeter,
) -> Result<Counts, SiteError> {
    let tables: Vec<Table> = {
        let mut t: Vec<Table> = catalog.jobs().into_iter().map(|(t, _)| t).collect();
        t.sort();
        t.dedup();
        t
    };
    // Our own pool: one connection per concurrent COPY plus room for index builds, so a COPY
    // never waits for a connection another COPY holds.
    let options = (*pool.connect_options()).clone();
    let load_pool = PgPoolOptions::new()
        .max_connections(tables.len() as u32 + 2)
        .connect_with(options)
        .await
        .map_err(SiteError::db("connecting for the load"))?;
    let indexes = drop_secondary_indexes(&load_pool).await?;
    let result = copy_all(&load_pool, &tables, catalog, progress).await;
    // Recreate the indexes whether or not the load worked: the schema must stay whole.
    let rebuilt = recreate_indexes(&load_pool, indexes).await;
    let counts = result?;
    rebuilt?;
    // VACUUM too, not only ANALYZE: a freshly loaded table has no visibility map, so every
    // count the indexer's hydration reads would visit the heap until autovacuum gets there.
    // A live site's tables are vacuumed; the seed leaves them in that steady state.
    sqlx::raw_sql("VACUUM (ANALYZE)")
        .execute(&load_pool)
        .await
        .map_err(SiteError::db("VACUUM (ANALYZE) after the load"))?;
    load_pool.close().await;
    Ok(counts)
}

async fn copy_all(
    pool: &PgPool,
    tables: &[Table],
    catalog: Arc<dyn Catalog>,
    progress: &ProgressMeter,
) -> Result<Counts, SiteError> {
    let mut senders = BTreeMap::new();
    let mut copies = Vec::new();
    for &table in tables {
        let (tx, mut rx) = mpsc::channel::<(usize, Vec<u8>)>(CHANNEL_DEPTH);
        senders.insert(table, tx);
        let pool = pool.clone();
        copies.push(tokio::spawn(async move {
            let statement = table.copy_statement();
            let context = format!("COPY into {table}");
            let mut copy = pool
                .copy_in_raw(&statement)
                .await
                .map_err(SiteError::db(context.clone()))?;
            let mut rows = 0u64;
            while let Some((n, data)) = rx.recv().await {
                if let Err(e) = copy.send(data).await {
                    let _ = copy.abort("seed aborted").await;
                    return Err(SiteError::db(context)(e));
                }
                rows += n as u64;
            }
            copy.finish().await.map_err(SiteError::db(context))?;
            Ok::<_, SiteError>((table, rows))
        }));
    }
    let senders = Arc::new(senders);
    let progress_rows = Arc::new(AtomicUsize::new(0));
    let counter = progress_rows.clone();
    let generation = {
        let senders = senders.clone();
        generate(catalog, move |rows| {
            let n = rows.len();
            let data = rows.to_copy_text();
            counter.fetch_add(n, Ordering::Relaxed);
            senders
                .get(&rows.table)
                .is_some_and(|tx| tx.blocking_send((n, data)).is_ok())
        })
    };
    // Report progress while generating; the channels are shallow, so rows handed on are
    // within a few chunks of rows written.
    let mut generation = std::pin::pin!(generation);
    let mut reported = 0usize;
    let generated = loop {
        tokio::select! {
            result = &mut generation => break result,
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                let now = progress_rows.load(Ordering::Relaxed);
                progress.inc((now - reported) as u64);
                reported = now;
            }
        }
    };
    let now = progress_rows.load(Ordering::Relaxed);
    progress.inc((now - reported) as u64);
    drop(senders);
    let mut counts = Counts::new();
    let mut first_error = None;
    for copy in copies {
        match copy.await.map_err(|e| SiteError::Worker(e.to_string())) {
            Ok(Ok((table, rows))) => {
                counts.insert(table, rows);
            }
            Ok(Err(e)) | Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => generated.map(|_| counts),
    }
}

/// Secondary indexes (not primary keys, not unique constraints) of the site's tables, as
/// (name, definition), dropped so the load does not maintain them row by row.
async fn drop_secondary_indexes(pool: &PgPool) -> Result<Vec<(String, String)>, SiteError> {
    let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname::text, i.indexdef::text FROM pg_indexes i \
         WHERE i.schemaname = current_schema() AND i.tablename = ANY($1) \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = \
             (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) \
         ORDER BY i.indexname",
    )
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(SiteError::db("listing secondary indexes"))?;
    for (name, _) in &indexes {
        let sql = format!("DROP INDEX IF EXISTS \"{}\"", name.replace('"', "\"\""));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map_err(SiteError::db(format!("dropping index {name}")))?;
    }
    Ok(indexes)
}

/// Rebuilds the dropped indexes, a few at once (each build is one backend's sort).
async fn recreate_indexes(pool: &PgPool, indexes: Vec<(String, String)>) -> Result<(), SiteError> {
    let mut tasks = tokio::task::JoinSet::new();
    let queue = Arc::new(std::sync::Mutex::new(indexes));
    for _ in 0..workers().max(2) {
        let (pool, queue) = (pool.clone(), queue.clone());
        tasks.spawn(async move {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop());
                let Some((name, definition)) = next else {
                    return Ok(());
                };
                let mut conn = pool
                    .acquire()
                    .await
                    .map_err(SiteError::db("index build connection"))?;
                sqlx::raw_sql("SET maintenance_work_mem = '256MB'")
                    .execute(&mut *conn)
                    .await
                    .map_err(SiteError::db("SET maintenance_work_mem"))?;
                sqlx::raw_sql(AssertSqlSafe(definition))
                    .execute(&mut *conn)
                    .await
                    .map_err(SiteError::db(format!("recreating index {name}")))?;
            }
        });
    }
    let mut result = Ok(());
    while let Some(done) = tasks.join_next().await {
        let done = done
            .map_err(|e| SiteError::Worker(e.to_string()))
            .and_then(|r| r);
        if result.is_ok() {
            result = done;
        }
    }
    result
}

/// SQLite's limit on bound parameters per statement is 32,766; stay well below it.
const SQLITE_MAX_PARAMS: usize = 30_000;
const SQLITE_MAX_ROWS: usize = 500;

async fn load_sqlite(
    pool: &SqlitePool,
    catalog: Arc<dyn Catalog>,
    progress: &ProgressMeter,
) -> Result<Counts, SiteError> {
    // One writer: SQLite serialises writers anyway, and one connection avoids lock retries.
    let (tx, mut rx) = mpsc::channel::<Rows>(CHANNEL_DEPTH * 2);
    let generation = tokio::spawn(generate(catalog, move |rows| {
        tx.blocking_send(rows).is_ok()
    }));
    let mut counts = Counts::new();
    let mut conn = pool
        .acquire()
        .await
        .map_err(SiteError::db("SQLite connection"))?;
    let mut write_error = None;
    while let Some(rows) = rx.recv().await {
        let (table, n) = (rows.table, rows.len() as u64);
        if let Err(e) = insert_sqlite(&mut conn, rows).await {
            write_error = Some(e);
            break;
        }
        *counts.entry(table).or_default() += n;
        progress.inc(n);
    }
    drop(rx);
    let generated = generation
        .await
        .map_err(|e| SiteError::Worker(e.to_string()))?;
    match write_error {
        Some(e) => Err(e),
        None => generated.map(|_| counts),
    }
}

async fn insert_sqlite(conn: &mut sqlx::SqliteConnection, rows: Rows) -> Result<(), SiteError> {
    use sqlx::Connection;
    let table = rows.table;
    let width = table.columns().len();
    let per_statement = (SQLITE_MAX_PARAMS / width).min(SQLITE_MAX_ROWS);
    let context = format!("inserting into {table}");
    let mut transaction = conn.begin().await.map_err(SiteError::db(context.clone()))?;
    let mut full_statement: Option<String> = None;
    for batch in rows.iter().collect::<Vec<_>>().chunks(per_statement) {
        let sql = if batch.len() == per_statement {
            full_statement
                .get_or_insert_with(|| table.insert_statement(per_statement))
                .clone()
        } else {
            table.insert_statement(batch.len())
        };
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for row in batch {
            for value in *row {
                query = match value {
                    Value::Int(n) => query.bind(*n),
                    Value::Text(s) => query.bind(s.clone()),
                    Value::Str(s) => query.bind(*s),
                    Value::Time(micros) => query.bind(micros_to_time(*micros)),
                    Value::Null => query.bind(None::<DateTime<Utc>>),
                    Value::Bool(b) => query.bind(*b),
                };
            }
        }
        query
            .execute(&mut *transaction)
            .await
            .map_err(SiteError::db(context.clone()))?;
    }
    transaction.commit().await.map_err(SiteError::db(context))?;
    Ok(())
}

fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The first site table holding rows and how many, or None when every table is empty.
pub async fn first_non_empty(db: &Db) -> Result<Option<(Table, i64)>, SiteError> {
    for table in Table::ALL {
        let count = count_rows(db, table).await?;
        if count > 0 {
            return Ok(Some((table, count)));
        }
    }
    Ok(None)
}

/// `SELECT count(*)` of one table.
pub async fn count_rows(db: &Db, table: Table) -> Result<i64, SiteError> {
    let sql = AssertSqlSafe(format!("SELECT count(*) FROM {}", table.name()));
    let context = format!("counting {table}");
    let (n,): (i64,) = match db {
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
    }
    .map_err(SiteError::db(context))?;
    Ok(n)
}

/// Empties every site table.
pub async fn truncate(db: &Db) -> Result<(), SiteError> {
    let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    match db {
        Db::Postgres(pool) => {
            let sql = format!("TRUNCATE {}", names.join(", "));
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ())
        }
        Db::Sqlite(pool) => {
            let sql: String = names.iter().map(|n| format!("DELETE FROM {n};")).collect();
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ())
        }
    }
    .map_err(SiteError::db("emptying the site's tables"))?;
    Ok(())
}

/// A catalog already held in memory (Chinook): each chunk is produced by cloning it.
pub struct InMemory {
    chunks: Vec<Rows>,
}

impl InMemory {
    /// Holds `tables`, split into chunks of at most `chunk_rows` rows.
    pub fn new(tables: Vec<Rows>, chunk_rows: usize) -> InMemory {
        let chunks = tables
            .into_iter()
            .flat_map(|rows| rows.split(chunk_rows.max(1)))
            .collect();
        InMemory { chunks }
    }
}

impl Catalog for InMemory {
    fn jobs(&self) -> Vec<(Table, usize)> {
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, rows)| (rows.table, i))
            .collect()
    }

    fn produce(&self, _table: Table, chunk: usize) -> Rows {
        self.chunks[chunk].clone()
    }

    fn expected_rows(&self) -> u64 {
        self.chunks.iter().map(|rows| rows.len() as u64).sum()
    }
}
