//! Settings every subcommand shares: flags with an environment fallback and a default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use indexer::Generations;
use schemas::definition::Definitions;

/// Where the data lives and which services to talk to (docs/ARCHITECTURE.md, "Command line").
#[derive(Debug, Clone, Args)]
pub struct Globals {
    /// The site's database: postgres://… or sqlite://… [default: sqlite://<data-dir>/disco.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// A read replica of the site's database (a PostgreSQL hot standby) that the indexer reads
    /// instead: hydration, reindex, reconciliation, the suggest build and the rank job. Writes
    /// (migrations, the click log, experiments) still go to --database-url. A row the replica
    /// has not replayed yet is re-read, then retried through the broker, never indexed stale.
    #[arg(long, env = "DATABASE_REPLICA_URL", global = true)]
    pub replica_url: Option<String>,
    /// RabbitMQ URL; absent means the in-process bus (embedded mode).
    #[arg(long, env = "AMQP_URL", global = true)]
    pub amqp_url: Option<String>,
    /// Directory for index generations, rank versions and the SQLite file.
    #[arg(long, env = "DISCO_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Address the HTTP service listens on.
    #[arg(
        long,
        env = "DISCO_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// Nice value of the HTTP service's scheduling group (its session's autogroup), so
    /// searches go ahead of a database or broker on the same machine (below 0 needs
    /// CAP_SYS_NICE; without it a warning says so; 0: left alone).
    #[arg(
        long,
        env = "DISCO_SEARCH_NICE",
        default_value_t = indexer::priority::SEARCH_NICE,
        allow_hyphen_values = true,
        global = true
    )]
    pub search_nice: i32,
    /// Run the HTTP service's search threads under real-time scheduling (`SCHED_RR`), ahead of
    /// every ordinary thread of the machine whenever a search runs (needs CAP_SYS_NICE; without
    /// it a warning says so). `false`: ordinary threads.
    #[arg(
        long,
        env = "DISCO_SEARCH_REALTIME",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub search_realtime: bool,
    /// The indexer's broker queue (one per replica).
    #[arg(
        long,
        env = "DISCO_QUEUE",
        default_value = "disco-indexer",
        global = true
    )]
    pub queue: String,
    /// Bearer token for the admin API (`/admin/*`); unset, the admin API is off.
    #[arg(long, env = "DISCO_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub admin_token: Option<String>,
    /// Topic exchange the site publishes entity events to.
    #[arg(long, env = "DISCO_EXCHANGE", default_value = "models", global = true)]
    pub exchange: String,
}

impl Globals {
    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("disco.db").display()))
    }

    /// Connects to the site's database and applies its migrations.
    pub async fn database(&self) -> anyhow::Result<schemas::db::Db> {
        std::fs::create_dir_all(&self.data_dir)?;
        let db = schemas::db::Db::connect(&self.database_url()).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// The database the indexer reads: the replica (`--replica-url`) when one is given, else
    /// `primary`. The replica is read-only and gets its schema by replication, so it is never
    /// migrated here; a replica that is not one (it accepts writes) is only warned about.
    pub async fn read_database(
        &self,
        primary: &schemas::db::Db,
    ) -> anyhow::Result<schemas::db::Db> {
        let Some(url) = &self.replica_url else {
            return Ok(primary.clone());
        };
        let replica = schemas::db::Db::connect(url).await?;
        match &replica {
            schemas::db::Db::Postgres(pool) => {
                let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(pool)
                    .await
                    .map_err(|e| anyhow::anyhow!("reading the replica's recovery state: {e}"))?;
                if !standby {
                    tracing::warn!(
                        "--replica-url is not a hot standby (pg_is_in_recovery() is false)"
                    );
                }
                tracing::info!(standby, "the indexer reads the replica");
            }
            schemas::db::Db::Sqlite(_) => {
                anyhow::bail!("--replica-url must be a PostgreSQL standby, not SQLite")
            }
        }
        Ok(replica)
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// `--definitions DIR`: the index definitions new generations are built with (the four JSON
/// files `disco definitions export` writes). Existing generations keep their own.
#[derive(Debug, Clone, Default, Args)]
pub struct DefinitionsDir {
    /// Directory of index definitions (track.json, user.json, playlist.json, group.json) for
    /// new generations [default: the shipped ones]
    #[arg(long = "definitions", env = "DISCO_DEFINITIONS", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DefinitionsDir {
    /// The definitions, validated like `disco definitions check` (every field a column
    /// hydration reads).
    pub fn load(&self) -> anyhow::Result<Arc<Definitions>> {
        let Some(dir) = &self.dir else {
            return Ok(Arc::new(Definitions::builtin()));
        };
        let definitions =
            Definitions::load_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        indexer::hydrate::check_definitions(&definitions)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        Ok(Arc::new(definitions))
    }

    /// Opens the data directory's generations with these definitions as the default for new
    /// ones, and says when the live generation keeps other definitions (they apply to a
    /// generation only from its creation: reindex to use them).
    pub fn open_generations(&self, data_dir: &Path) -> anyhow::Result<Arc<Generations>> {
        let definitions = self.load()?;
        let catalog = Generations::open_with(data_dir, definitions.clone())?;
        let live = catalog.live();
        if self.dir.is_some() && live.definitions().digest() != definitions.digest() {
            tracing::warn!(
                generation = %live.generation,
                "the live generation keeps the definitions it was built with; those given \
                 apply to new generations (reindex, then swap, to use them)"
            );
        }
        Ok(catalog)
    }
}
