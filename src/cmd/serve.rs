//! `disco serve`: the query service, and (unless `--no-indexer`) the indexer in the same
//! process, over PostgreSQL + RabbitMQ (or the embedded SQLite without a broker: query only).

use clap::Args;
use indexer::source::{AmqpConfig, AmqpSource};
use indexer::{CancellationToken, Catalog, Indexer};

use super::common::Globals;
use super::index::IndexArgs;
use super::service;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve queries only; another process (`disco index`) keeps the index current.
    #[arg(long)]
    pub no_indexer: bool,
    #[command(flatten)]
    pub index: IndexArgs,
}

pub async fn run(globals: Globals, args: ServeArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&globals.data_dir)?;
    let state = service::query_state(catalog.clone())?;
    let cancel = CancellationToken::new();
    service::cancel_on_signal(cancel.clone());

    let indexer_task = match (args.no_indexer, globals.amqp_url.clone()) {
        (true, _) => None,
        (false, None) => anyhow::bail!(
            "disco serve runs the indexer on RabbitMQ: give --amqp-url (or AMQP_URL), \
             or --no-indexer to serve queries only; `disco demo` is the embedded mode"
        ),
        (false, Some(amqp_url)) => {
            let db = globals.database().await?;
            let mut amqp = AmqpConfig::new(&amqp_url, &globals.exchange, &globals.queue);
            amqp.prefetch = service::prefetch(&args.index);
            let source = AmqpSource::connect(amqp).await?;
            let indexer = Indexer::open(db, catalog.clone(), service::indexer_config(&args.index))?;
            let stop = cancel.clone();
            Some(tokio::spawn(async move {
                let outcome = indexer.run(source, stop.clone()).await;
                // A dead indexer must not leave a silently stale service behind.
                stop.cancel();
                outcome
            }))
        }
    };

    service::serve_http(&globals.listen, query::router(state), cancel.clone()).await?;
    cancel.cancel();
    if let Some(task) = indexer_task {
        task.await??;
    }
    Ok(())
}
