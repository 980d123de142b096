//! The pieces `serve` and `demo` share: the live index as the query service's search source,
//! and running the HTTP service next to the indexer until a signal stops both.

use std::sync::Arc;

use std::time::Duration;

use indexer::{CancellationToken, Catalog, IndexerConfig};
use query::{QueryState, SearchSource, Snapshot};

use super::index::IndexArgs;

/// The query service reads whatever generation the catalog's alias names live, at each request.
pub struct LiveIndex(pub Arc<Catalog>);

impl SearchSource for LiveIndex {
    fn snapshot(&self) -> Option<Snapshot> {
        let (searcher, definitions) = self.0.live_searcher();
        Some(Snapshot {
            searcher,
            definitions,
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
    query::serve(listener, app, async move { cancel.cancelled().await }).await?;
    Ok(())
}

/// Fires `cancel` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        query::shutdown_signal().await;
        tracing::info!("stopping: finishing the work in hand");
        cancel.cancel();
    });
}

/// The query service's state over the live index, recording into the process-wide metrics
/// recorder so `/metrics` also shows the indexer's and rank job's figures.
pub fn query_state(catalog: Arc<Catalog>) -> anyhow::Result<QueryState> {
    let metrics = query::metrics::Metrics::install_global()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    Ok(QueryState::new(Arc::new(LiveIndex(catalog))).with_metrics(metrics))
}

/// The indexer's configuration from its flags.
pub fn indexer_config(args: &IndexArgs) -> IndexerConfig {
    let mut config = IndexerConfig::default();
    config.batch.max_events = args.batch_size.max(1);
    config.batch.max_wait = Duration::from_millis(args.batch_wait_ms);
    config
}

/// Broker prefetch: two batches in flight, so the next fills while one commits.
pub fn prefetch(args: &IndexArgs) -> u16 {
    u16::try_from(args.batch_size.saturating_mul(2)).unwrap_or(u16::MAX)
}
