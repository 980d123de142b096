//! `disco demo`: the whole system in one process on the embedded default — SQLite and the
//! in-process bus. Seeds the Chinook catalog on first run, builds the index through the same
//! pipeline live events take, ranks, builds suggest, serves the page, and keeps simulating
//! site activity and searchers so the page, the click log and the dashboard are alive.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indexer::broker::MemoryBus;
use indexer::{CancellationToken, Indexer};
use site::publish::Publisher;
use site::seed::SeedOptions;
use site::simulate::{Limit, SimOptions, Simulator};

use super::common::Globals;
use super::index::IndexArgs;
use super::wiring;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A Chinook fixture (Django JSON) to seed on first run instead of the embedded one.
    #[arg(long)]
    pub chinook: Option<PathBuf>,
    /// Simulated site changes per second (0: the catalog stays still).
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Simulated searchers: new visitors per second who search and click through the page's
    /// HTTP API (0: none), so the click log, experiments and dashboard have traffic.
    #[arg(long, default_value_t = 0.5)]
    pub searchers: f64,
    #[command(flatten)]
    pub index: IndexArgs,
}

/// The site's publisher side of the in-process bus.
struct BusPublisher(MemoryBus);

impl Publisher for BusPublisher {
    fn publish<'a>(
        &'a self,
        routing_key: &'a str,
        body: Vec<u8>,
    ) -> futures::future::BoxFuture<'a, Result<(), site::SiteError>> {
        self.0.publish(routing_key, body);
        Box::pin(std::future::ready(Ok(())))
    }
}

pub async fn run(globals: Globals, args: DemoArgs) -> anyhow::Result<()> {
    if globals.amqp_url.is_some()
        || globals
            .database_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("sqlite:"))
    {
        tracing::warn!(
            "disco demo is the embedded mode: it ignores AMQP_URL and wants a sqlite:// database"
        );
    }
    let globals = Globals {
        amqp_url: None,
        ..globals
    };
    let db = globals.database().await?;
    if site::load::first_non_empty(&db).await?.is_none() {
        tracing::info!(fixture = ?args.chinook, "seeding the Chinook catalog");
        let report = site::seed::seed(
            &db,
            &SeedOptions::chinook_from(site::chinook::Fixture::new(args.chinook.clone())),
            &site::progress::ProgressMeter::new("seed", 0),
        )
        .await?;
        tracing::info!("{}", report.to_string().trim_end());
    }

    let cancel = CancellationToken::new();
    wiring::cancel_on_signal(cancel.clone());
    let catalog = args.index.definitions.open_generations(&globals.data_dir)?;
    let bus = MemoryBus::new();
    let mut indexer = Indexer::open(
        db.clone(),
        catalog.clone(),
        wiring::indexer_config(&args.index),
    )?;
    let (changes, feed) = (indexer.changes(), indexer.reindex_feed());
    wiring::reconcile(db.clone(), feed.clone(), &args.index, cancel.clone());
    let indexer_task = {
        let (source, stop) = (bus.source(), cancel.clone());
        tokio::spawn(async move {
            let outcome = indexer.run(source, stop.clone()).await;
            stop.cancel();
            outcome
        })
    };
    if catalog.live().document_count() == 0 {
        let options = indexer::reindex::ReindexOptions::default();
        let report =
            indexer::reindex::fill_live(&db, &catalog, &options, feed.clone(), &cancel).await?;
        tracing::info!(
            rows = report.total_rows(),
            documents = catalog.live().document_count(),
            seconds = report.seconds,
            "first index build done"
        );
    }

    let ranks = rank::RankStore::in_data_dir(&globals.data_dir)?;
    let manifest = rank::run_job(&db, &ranks, &rank::JobOptions::default()).await?;
    tracing::info!(version = %manifest.version, nodes = manifest.nodes, edges = manifest.edges, "DiscoRank ready");

    // Subscribed after the first build: suggest is built from the database afterwards, and
    // changes from then on land in the delta that the build keeps.
    let parts = wiring::Parts {
        catalog,
        db: db.clone(),
        read_db: db.clone(),
        changes: Some(changes),
        feed: Some(feed),
        rank_every: None,
    };
    let app = wiring::app(&globals, parts, &cancel).await?;

    let simulator = (args.rate > 0.0).then(|| {
        let (db, bus, stop, rate) = (db.clone(), bus.clone(), cancel.clone(), args.rate);
        tokio::spawn(async move {
            let mut sim = Simulator::new(db, BusPublisher(bus), SimOptions::default()).await?;
            tokio::select! {
                _ = stop.cancelled() => Ok(()),
                outcome = site::simulate::run(&mut sim, rate, Limit::Duration(Duration::MAX), |_| {}) => outcome.map(|_| ()),
            }
        })
    });

    let searchers = (args.searchers > 0.0).then(|| {
        let (db, listen, stop, rate) = (
            db.clone(),
            globals.listen.clone(),
            cancel.clone(),
            args.searchers,
        );
        // Until stopped: a year is forever for a demo.
        let forever = Duration::from_secs(365 * 24 * 3600);
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => Ok(()),
                report = wiring::searchers(db, &listen, rate, forever, 1) => report.map(drop),
            }
        })
    });

    wiring::serve_http(&globals.listen, app, cancel.clone()).await?;
    cancel.cancel();
    if let Some(task) = simulator {
        task.await??;
    }
    if let Some(task) = searchers {
        task.await??;
    }
    indexer_task.await??;
    Ok(())
}
