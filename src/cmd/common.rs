//! Settings every subcommand shares: flags with an environment fallback and a default.

use std::path::PathBuf;

use clap::Args;

/// Where the data lives and which services to talk to (docs/ARCHITECTURE.md, "Command line").
#[derive(Debug, Clone, Args)]
pub struct Globals {
    /// The site's database: postgres://… or sqlite://… [default: sqlite://<data-dir>/disco.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
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
