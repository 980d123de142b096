//! The pieces `serve` and `demo` share: the live index as the query service's search source,
//! and running the HTTP service next to the indexer until a signal stops both.

use std::sync::Arc;

use std::time::Duration;

use engine::{SearchSource, Snapshot};
use indexer::feed::ReindexFeed;
use indexer::{CancellationToken, Generations, IndexerConfig};
use schemas::db::Db;
use service::QueryState;

use super::common::Globals;
use super::index::IndexArgs;

/// The query service reads whatever generation the catalog's alias names live, at each request.
pub struct LiveIndex(pub Arc<Generations>);

impl SearchSource for LiveIndex {
    fn snapshot(&self) -> Option<Snapshot> {
        let (searcher, definitions) = self.0.live_searcher();
        Some(Snapshot {
            searcher,
            definitions,
        })
    }

    fn generation(&self, generation: u32) -> Option<Snapshot> {
        let handle = self.0.get(indexer::Generation(generation))?;
        // Another process (a reindex) may have written it since it was opened.
        if let Err(e) = handle.reload() {
            tracing::warn!(generation, error = %e, "reloading a generation for an experiment arm");
        }
        Some(Snapshot {
            searcher: handle.searcher(),
            definitions: handle.definitions(),
        })
    }
}

/// Binds `listen` and serves `app` until `cancel` fires (Ctrl-C, SIGTERM, or a failed worker).
pub async fn serve_http(
    listen: &str,
    app: axum::Router,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    service::serve(listener, app, async move { cancel.cancelled().await }).await?;
    Ok(())
}

/// Fires `cancel` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        service::shutdown_signal().await;
        tracing::info!("stopping: finishing the work in hand");
        cancel.cancel();
    });
}

/// The query service's state over the live index, recording into the process-wide metrics
/// recorder so `/metrics` also shows the indexer's and rank job's figures, its searches on a
/// pool of their own (real-time when `search_realtime`), the process's scheduling group at
/// `search_nice` ([`service::pool::raise_scheduling_group`]).
pub fn query_state(
    catalog: Arc<Generations>,
    search_nice: i32,
    search_realtime: bool,
) -> anyhow::Result<QueryState> {
    let metrics = service::metrics::Metrics::install_global()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    service::pool::raise_scheduling_group(search_nice);
    let scheduling = service::pool::Scheduling::realtime_if(search_realtime);
    let pool = service::pool::SearchPool::per_core_scheduled(scheduling);
    Ok(QueryState::new(Arc::new(LiveIndex(catalog)))
        .with_metrics(metrics)
        .with_search_pool(Arc::new(pool)))
}

/// What the HTTP service is assembled from, beyond the live index.
pub struct Parts {
    pub catalog: Arc<Generations>,
    /// The primary: the click log, experiments and the admin API write here.
    pub db: schemas::db::Db,
    /// What suggest and the rank job read: the replica under `--replica-url`, else `db`.
    pub read_db: schemas::db::Db,
    /// The in-process indexer's change stream (suggest delta) and reindex feed, when it runs here.
    pub changes: Option<tokio::sync::broadcast::Sender<indexer::IndexChange>>,
    pub feed: Option<indexer::feed::ReindexFeed>,
    /// Run the rank job this often (`serve --rank-every`); the new version becomes active.
    pub rank_every: Option<Duration>,
}

/// The whole HTTP service: search and explore over the live index with DiscoRank priors from
/// the rank store (any kept version per request), suggest built from the database and kept
/// current by the index's change stream, and the admin API when a token is configured.
pub async fn app(
    globals: &Globals,
    parts: Parts,
    cancel: &CancellationToken,
) -> anyhow::Result<axum::Router> {
    let ranks = rank::RankStore::in_data_dir(&globals.data_dir)?;
    let scores = ranks.load_active()?.map(|(_, scores)| Arc::new(scores));
    // One rank run at a time, scheduled or started through the admin API.
    let rank_slot = rank::schedule::JobSlot::default();
    if let Some(period) = parts.rank_every {
        tracing::info!(?period, "rank job scheduled");
        tokio::spawn(rank::schedule::every(
            parts.read_db.clone(),
            ranks.clone(),
            // Log lines, not a progress bar, among the service's logs.
            rank::JobOptions {
                progress: rank::ProgressMode::Lines,
                ..rank::JobOptions::default()
            },
            period,
            rank_slot.clone(),
            cancel.clone().cancelled_owned(),
        ));
    }

    let suggester = Arc::new(suggest::Suggester::new(suggest::SuggestIndex::build(
        Vec::new(),
        &Default::default(),
    )));
    // One prior for the build and the delta: DiscoRank where scored, popularity otherwise.
    let prior = suggest::SuggestPrior::new(move |key, popularity| {
        scores
            .as_ref()
            .and_then(|s| s.relative(key))
            .unwrap_or(popularity)
    });
    if let Some(changes) = &parts.changes {
        follow_changes(
            changes.subscribe(),
            suggester.clone(),
            prior.clone(),
            cancel.clone(),
        );
    }
    let report = suggest::rebuild(
        &suggester,
        &parts.read_db,
        &prior,
        Some(&globals.data_dir.join("suggest")),
    )
    .await?;
    tracing::info!("suggest: {report}");

    let state = query_state(
        parts.catalog.clone(),
        globals.search_nice,
        globals.search_realtime,
    )?
    .with_priors(Arc::new(engine::ranks::RankPriors::open(ranks.clone())))
    .with_suggester(suggester);
    let state = with_click_log(state, &parts.db, cancel).await?;
    let state = match globals.admin_token.as_deref() {
        Some(token) if !token.is_empty() => state.with_admin_token(token),
        _ => state,
    };
    let mut app = service::router(state.clone());
    match globals.admin_token.as_deref() {
        Some(token) if !token.is_empty() => {
            let mut admin = service::admin::AdminState::new(token, parts.catalog, parts.db)
                .with_read_database(parts.read_db)
                .with_ranks(ranks)
                .with_rank_slot(rank_slot)
                // The rater's page (/judge) judges what /search answers.
                .with_search(state);
            if let Some(feed) = parts.feed {
                admin = admin.with_feed(feed);
            }
            app = app.merge(service::admin::router(admin));
            tracing::info!("admin API and the rater's page /judge on (DISCO_ADMIN_TOKEN is set)");
        }
        _ => tracing::info!("admin API off: set DISCO_ADMIN_TOKEN to enable it"),
    }
    Ok(app)
}

/// The click log and the running experiments: answers and the page's reports are written to
/// the site's database by a background writer, and the experiments are read from it every few
/// seconds. The refresh stops with `cancel`; the writer with the service (when the last
/// handle to the log is gone, after writing what was queued).
async fn with_click_log(
    state: QueryState,
    db: &schemas::db::Db,
    cancel: &CancellationToken,
) -> anyhow::Result<QueryState> {
    let (log, writer) =
        service::events::EventLog::new(service::events::QUEUE, state.metrics().clone());
    tokio::spawn(service::events::drain(db.clone(), writer));
    let running = Arc::new(service::experiments::RunningExperiments::new(
        quality::experiments::running(db).await?,
    ));
    let refresh = service::experiments::refresh(db.clone(), running.clone());
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = refresh => {}
            () = stop.cancelled() => {}
        }
    });
    Ok(state.with_events(Arc::new(log)).with_experiments(running))
}

/// Simulated searchers at `per_second` new visitors for `duration` against the service at
/// `listen`: searches and clicks for the click log and any running experiment. A request that
/// fails (the service not up yet) is counted in the report, not fatal.
pub async fn searchers(
    db: schemas::db::Db,
    listen: &str,
    per_second: f64,
    duration: Duration,
    seed: u64,
) -> anyhow::Result<site::searchers::SearchersReport> {
    let options = site::searchers::SearcherOptions {
        seed,
        base_url: format!("http://{listen}"),
        ..Default::default()
    };
    let searchers = site::searchers::Searchers::load(&db, &options).await?;
    let traffic = site::searchers::Traffic::Rate {
        per_second,
        duration,
    };
    Ok(searchers.run(traffic).await?)
}

/// The indexer's configuration from its flags.
pub fn indexer_config(args: &IndexArgs) -> IndexerConfig {
    let mut config = IndexerConfig::default();
    config.batch.max_events = args.batch_size.max(1);
    config.batch.max_wait = Duration::from_millis(args.batch_wait_ms);
    config.refresh_interval = Duration::from_millis(args.refresh_ms);
    config
}

/// Runs the reconciler beside the indexer `feed` leads to, until `cancel`: repairs what the
/// site changed without an event. A failed pass (the database away) is logged and tried again
/// next period; the reconciler ends only with `cancel`.
pub fn reconcile(db: Db, feed: ReindexFeed, args: &IndexArgs, cancel: CancellationToken) {
    let config = indexer::reconcile::ReconcileConfig {
        every: args.reconcile_every,
        grace: args.reconcile_grace,
        sweep_every: args.sweep_every,
        ..Default::default()
    };
    tokio::spawn(async move {
        if let Err(e) = indexer::reconcile::run(db, feed, config, cancel).await {
            tracing::error!(error = %e, "reconciliation stopped");
        }
    });
}

/// Keeps `suggester` in step with the index: every committed change becomes a suggest delta,
/// weighed with `prior` (the rebuild's), so creates, renames and removals reach typeahead
/// without a rebuild and without moving an entity in the order.
pub fn follow_changes(
    mut changes: tokio::sync::broadcast::Receiver<indexer::IndexChange>,
    suggester: Arc<suggest::Suggester>,
    prior: suggest::SuggestPrior,
    cancel: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            let change = tokio::select! {
                _ = cancel.cancelled() => return,
                change = changes.recv() => change,
            };
            match change {
                Ok(change) => suggester.apply(suggest::Change::from_row(
                    change.key,
                    change.row.as_ref(),
                    &prior,
                )),
                // Missed changes are only in the delta's past: the next rebuild covers them.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "suggest delta fell behind")
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}
