//! `disco serve`: the query service, and (unless `--no-indexer`) the indexer in the same
//! process, over PostgreSQL + RabbitMQ (or the embedded SQLite without a broker: query only).

use std::time::Duration;

use clap::Args;
use indexer::broker::{AmqpConfig, AmqpSource};
use indexer::{CancellationToken, Indexer};

use super::common::Globals;
use super::index::IndexArgs;
use super::wiring;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve queries only; another process (`disco index`) keeps the index current.
    #[arg(long)]
    pub no_indexer: bool,
    /// Run the rank job every period (`90s`, `30m`, `6h`, `1d`), warm-started from the active
    /// version; each run's version becomes active when it is written.
    #[arg(long, value_name = "PERIOD", value_parser = rank::schedule::parse_period)]
    pub rank_every: Option<std::time::Duration>,
    #[command(flatten)]
    pub index: IndexArgs,
}

pub async fn run(globals: Globals, args: ServeArgs) -> anyhow::Result<()> {
    let catalog = args.index.definitions.open_generations(&globals.data_dir)?;
    let db = globals.database().await?;
    // What the indexer, the suggest build and the rank job read (`--replica-url`).
    let read_db = globals.read_database(&db).await?;
    let cancel = CancellationToken::new();
    wiring::cancel_on_signal(cancel.clone());

    let (indexer_task, changes, feed) = match (args.no_indexer, globals.amqp_url.clone()) {
        (true, _) => (None, None, None),
        (false, None) => anyhow::bail!(
            "disco serve runs the indexer on RabbitMQ: give --amqp-url (or AMQP_URL), \
             or --no-indexer to serve queries only; `disco demo` is the embedded mode"
        ),
        (false, Some(amqp_url)) => {
            let amqp = AmqpConfig::new(&amqp_url, &globals.exchange, &globals.queue)
                .with_prefetch(&wiring::indexer_config(&args.index).batch);
            let source = AmqpSource::connect(amqp.clone()).await?;
            // The queue's depth for /metrics and the dashboard, until the service stops.
            let (watch, stop) = (amqp, cancel.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = indexer::broker::amqp::watch_backlog(watch, BACKLOG_EVERY, indexer::metrics::backlog) => {}
                    () = stop.cancelled() => {}
                }
            });
            let mut indexer = Indexer::open(
                read_db.clone(),
                catalog.clone(),
                wiring::indexer_config(&args.index),
            )?;
            let (changes, feed) = (indexer.changes(), indexer.reindex_feed());
            wiring::reconcile(read_db.clone(), feed.clone(), &args.index, cancel.clone());
            let stop = cancel.clone();
            let task = tokio::spawn(async move {
                let outcome = indexer.run(source, stop.clone()).await;
                // A dead indexer must not leave a silently stale service behind.
                stop.cancel();
                outcome
            });
            (Some(task), Some(changes), Some(feed))
        }
    };

    let parts = wiring::Parts {
        catalog,
        db,
        read_db,
        changes,
        feed,
        rank_every: args.rank_every,
    };
    let app = wiring::app(&globals, parts, &cancel).await?;
    wiring::serve_http(&globals.listen, app, cancel.clone()).await?;
    cancel.cancel();
    if let Some(task) = indexer_task {
        task.await??;
    }
    Ok(())
}

/// How often the broker backlog is read.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);
