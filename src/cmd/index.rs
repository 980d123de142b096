//! `disco index`: the indexer alone, real mode (RabbitMQ → tantivy), until Ctrl-C or SIGTERM.

use std::time::Duration;

use clap::Args;
use indexer::broker::{AmqpConfig, AmqpSource};
use indexer::{CancellationToken, Indexer};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Most deliveries gathered into one batch (one hydration query per kind, one commit).
    #[arg(long, env = "DISCO_BATCH_SIZE", default_value_t = 1000)]
    pub batch_size: usize,
    /// Longest wait, in milliseconds, for a batch to fill after its first delivery.
    #[arg(long, env = "DISCO_BATCH_WAIT_MS", default_value_t = 50)]
    pub batch_wait_ms: u64,
    /// Least milliseconds from one live batch's start to the next under a steady stream (the
    /// refresh interval): fewer commits and reader reloads, so searches stay cheap while the
    /// indexer writes, for a little time to searchable. 0: commit as fast as possible.
    #[arg(long, env = "DISCO_REFRESH_MS", default_value_t = indexer::REFRESH_INTERVAL.as_millis() as u64)]
    pub refresh_ms: u64,
    /// How often the indexer compares recently changed rows with the index and repairs what
    /// the site never announced (`indexer::reconcile`).
    #[arg(long, env = "DISCO_RECONCILE_EVERY", default_value = "30s", value_parser = rank::schedule::parse_period)]
    pub reconcile_every: Duration,
    /// How long a change is left to its event before reconciliation calls it lost.
    #[arg(long, env = "DISCO_RECONCILE_GRACE", default_value = "10s", value_parser = rank::schedule::parse_period)]
    pub reconcile_grace: Duration,
    /// How often a full sweep also finds rows deleted outright with no event.
    #[arg(long, env = "DISCO_SWEEP_EVERY", default_value = "1h", value_parser = rank::schedule::parse_period)]
    pub sweep_every: Duration,
    #[command(flatten)]
    pub definitions: super::common::DefinitionsDir,
}

pub async fn run(globals: Globals, args: IndexArgs) -> anyhow::Result<()> {
    let Some(amqp_url) = globals.amqp_url.clone() else {
        anyhow::bail!(
            "disco index consumes RabbitMQ: give --amqp-url or AMQP_URL \
             (the embedded mode runs the indexer inside `disco demo`)"
        );
    };
    let db = globals.read_database(&globals.database().await?).await?;
    let catalog = args.definitions.open_generations(&globals.data_dir)?;
    let config = super::wiring::indexer_config(&args);
    let amqp =
        AmqpConfig::new(&amqp_url, &globals.exchange, &globals.queue).with_prefetch(&config.batch);
    let source = AmqpSource::connect(amqp).await?;
    let mut indexer = Indexer::open(db.clone(), catalog.clone(), config)?;
    let cancel = CancellationToken::new();
    tokio::spawn(stop_on_signal(cancel.clone()));
    super::wiring::reconcile(db, indexer.reindex_feed(), &args, cancel.clone());
    tracing::info!(live = %catalog.live().generation, queue = %globals.queue, "indexer running");
    indexer.run(source, cancel).await?;
    tracing::info!("indexer stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: finish the batch in hand, then stop (unacknowledged events stay queued).
async fn stop_on_signal(cancel: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    cancel.cancel();
}
