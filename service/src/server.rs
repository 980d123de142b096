//! The service: its state and configuration, the router with its layers (metrics, timeout,
//! JSON 404s), and serving with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use schemas::EntityKind;
use tower_http::timeout::TimeoutLayer;

use crate::api;
use crate::entity;
use crate::error::ApiError;
use crate::events::{self, EventLog, QueryIds};
use crate::experiments::RunningExperiments;
use crate::load::LoadWindow;
use crate::metrics::Metrics;
use crate::pool::SearchPool;
use engine::blend::Recency;
use engine::cached::ClauseCache;
use engine::prior::{PopularitySource, PriorSource};
use engine::search::SearchSettings;
use engine::source::{LayoutCache, SearchSource};
use suggest::Suggester;

/// How the service behaves. Parsed once at the edge (flags/env in the binary), then passed in.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    pub search: SearchSettings,
    /// Explore's recency decay.
    pub recency: Recency,
    /// A search or explore still running after this answers 503.
    pub request_timeout: Duration,
    /// `limit` when the request gives none.
    pub default_limit: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            search: SearchSettings::default(),
            recency: Recency::default(),
            request_timeout: Duration::from_secs(5),
            default_limit: 20,
        }
    }
}

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct QueryState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Inner {
    pub(crate) source: Arc<dyn SearchSource>,
    pub(crate) priors: Arc<dyn PriorSource>,
    pub(crate) config: QueryConfig,
    pub(crate) metrics: Metrics,
    pub(crate) layouts: Arc<LayoutCache>,
    /// Frequent words' postings, materialized per segment (shared by every search).
    pub(crate) clauses: Arc<ClauseCache>,
    pub(crate) suggester: Option<Arc<Suggester>>,
    /// Hands out every answer's query id.
    pub(crate) query_ids: Arc<QueryIds>,
    /// The click log, when this service keeps one.
    pub(crate) events: Option<Arc<EventLog>>,
    /// The running experiments, when this service serves them.
    pub(crate) experiments: Option<Arc<RunningExperiments>>,
    /// The admin token, when set: it opens `generation=<n>` on `/search`.
    pub(crate) admin_token: Option<Arc<str>>,
    /// The last minute's latencies, for the dashboard (`/metrics` only has them since start).
    pub(crate) load: Arc<LoadWindow>,
    /// The threads searches and explores run on.
    pub(crate) pool: Arc<SearchPool>,
}

impl QueryState {
    /// A service over `source` with the interim popularity prior, default configuration,
    /// metrics of its own and no suggester (`/suggest` answers 503 until one is given).
    pub fn new(source: Arc<dyn SearchSource>) -> QueryState {
        QueryState {
            inner: Arc::new(Inner {
                source,
                priors: Arc::new(PopularitySource::default()),
                config: QueryConfig::default(),
                metrics: Metrics::local(),
                layouts: Arc::default(),
                clauses: Arc::default(),
                suggester: None,
                query_ids: Arc::default(),
                events: None,
                experiments: None,
                admin_token: None,
                load: Arc::default(),
                pool: Arc::new(SearchPool::per_core()),
            }),
        }
    }

    fn change(self, f: impl FnOnce(&mut Inner)) -> QueryState {
        let mut inner = (*self.inner).clone();
        f(&mut inner);
        QueryState {
            inner: Arc::new(inner),
        }
    }

    /// The same service with another prior source (e.g. [`engine::ranks::RankPriors`]).
    #[must_use]
    pub fn with_priors(self, priors: Arc<dyn PriorSource>) -> QueryState {
        self.change(|i| i.priors = priors)
    }

    /// The same service with searches on `pool` (e.g. one at [`indexer::priority::SEARCH_NICE`]).
    #[must_use]
    pub fn with_search_pool(self, pool: Arc<SearchPool>) -> QueryState {
        self.change(|i| i.pool = pool)
    }

    /// The same service with another configuration.
    #[must_use]
    pub fn with_config(self, config: QueryConfig) -> QueryState {
        self.change(|i| i.config = config)
    }

    /// The same service recording into `metrics`.
    #[must_use]
    pub fn with_metrics(self, metrics: Metrics) -> QueryState {
        self.change(|i| i.metrics = metrics)
    }

    /// The same service answering `/suggest` from `suggester`.
    #[must_use]
    pub fn with_suggester(self, suggester: Arc<Suggester>) -> QueryState {
        self.change(|i| i.suggester = Some(suggester))
    }

    /// The same service logging its answers and the page's reports into `events`
    /// (`POST /events`).
    #[must_use]
    pub fn with_events(self, events: Arc<EventLog>) -> QueryState {
        self.change(|i| i.events = Some(events))
    }

    /// The same service serving `experiments` to the sessions they draw.
    #[must_use]
    pub fn with_experiments(self, experiments: Arc<RunningExperiments>) -> QueryState {
        self.change(|i| i.experiments = Some(experiments))
    }

    /// The same service letting a caller with `token` (as `Authorization: Bearer`) search a
    /// named index generation (`/search?generation=<n>`).
    #[must_use]
    pub fn with_admin_token(self, token: &str) -> QueryState {
        let token: Arc<str> = Arc::from(token);
        self.change(|i| i.admin_token = Some(token))
    }

    /// The metrics this service records into.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

/// The query service's routes: `/`, `/search`, `/explore`, `/suggest`, `/healthz`, `/readyz`, `/metrics`,
/// `/openapi.json` and the entity pages (`/tracks/{id}`, `/users/{id}`, `/playlists/{id}`, `/groups/{id}`). Merge admin routes onto it in the binary.
/// `/<table>/{id}` for every kind: the paths [`EntityKind::url`] links to.
fn entity_pages() -> Router<QueryState> {
    EntityKind::ALL
        .into_iter()
        .fold(Router::new(), |router, kind| {
            router.route(
                &format!("/{}/{{id}}", kind.table()),
                get(move |s: State<QueryState>, id: Path<String>| entity::page(kind, s, id)),
            )
        })
}

pub fn router(state: QueryState) -> Router {
    let timeout = state.inner.config.request_timeout;
    Router::new()
        .route("/", get(api::page))
        .route("/search", get(api::search))
        .route("/explore", get(api::explore))
        .route("/suggest", get(api::suggest))
        .route("/events", post(events::report))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .merge(entity_pages())
        .fallback(not_found)
        // A backstop for anything that is not bounded in its handler already.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout + Duration::from_secs(1),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

/// Records latency and status of every answer under the route it matched, in the metrics and
/// in the dashboard's rolling window.
async fn record(State(state): State<QueryState>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let (status, took) = (response.status().as_u16(), started.elapsed());
    state.inner.metrics.request(&endpoint, status, took);
    state.inner.load.record(&endpoint, status, took);
    response
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Connect info gives admin logs the caller's address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or SIGTERM: the usual `shutdown` for [`serve`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
