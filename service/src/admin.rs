//! The admin API (docs/ARCHITECTURE.md, "The HTTP contract", admin rows): full reindex, swap,
//! rollback, generations and read-only, and the rank job — every route behind
//! `Authorization: Bearer <DISCO_ADMIN_TOKEN>` — and the rater's page ([`crate::judge`]) and the
//! dashboard ([`crate::dashboard`]), which also take the token from a cookie of their own.
//!
//! Without a configured token the binary does not merge this router, so `/admin/*` answers
//! 404 like any unknown path. A wrong or missing token answers 401 and changes nothing.
//! Every admin call is logged (target `disco::admin`) with who (token fingerprint and remote
//! address), what and when.
//!
//! ```no_run
//! # fn wire(generations: std::sync::Arc<indexer::Generations>, db: schemas::db::Db,
//! #         mut indexer: indexer::Indexer, state: service::QueryState) -> axum::Router {
//! let admin = service::admin::AdminState::new("s3cret", generations, db)
//!     .with_feed(indexer.reindex_feed())   // reindex through the live indexer
//!     .with_ranks(rank::RankStore::in_data_dir("data").unwrap())
//!     .with_search(state.clone());          // the rater's page searches as /search does
//! service::router(state).merge(service::admin::router(admin))
//! # }
//! ```
//!
//! The engines do the work (`indexer::reindex`, `indexer::Generations`, `rank`); this module only
//! speaks HTTP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use indexer::feed::ReindexFeed;
use indexer::generations::{self, Generation};
use indexer::reindex::{self, ReindexOptions, ReindexProgress, Sink};
use indexer::{CancellationToken, Generations, IndexerError};
use rank::{RankError, RankStore, RankVersion};
use schemas::db::Db;
use schemas::definition::Definitions;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::server::QueryState;

/// What the admin routes act on. Cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    inner: Arc<AdminInner>,
}

struct AdminInner {
    token: String,
    catalog: Arc<Generations>,
    /// The primary: judged sets and experiments are written here.
    db: Db,
    /// What a reindex and the rank job read: a replica ([`AdminState::with_read_database`]),
    /// else the primary.
    read_db: Db,
    feed: Option<ReindexFeed>,
    ranks: Option<RankStore>,
    options: ReindexOptions,
    progress: ReindexProgress,
    reindex_cancel: Mutex<Option<CancellationToken>>,
    rank_slot: rank::schedule::JobSlot,
    /// The query service the rater's page searches through (its source, priors, settings).
    search: Option<QueryState>,
}

impl AdminState {
    /// Admin over `catalog` and the site's `db`, guarded by `token`. Without
    /// [`AdminState::with_feed`] a reindex writes the new generation with its own writer, so
    /// give the feed whenever an indexer runs in this process.
    pub fn new(token: impl Into<String>, catalog: Arc<Generations>, db: Db) -> AdminState {
        AdminState {
            inner: Arc::new(AdminInner {
                token: token.into(),
                catalog,
                read_db: db.clone(),
                db,
                feed: None,
                ranks: None,
                options: ReindexOptions::default(),
                progress: ReindexProgress::default(),
                reindex_cancel: Mutex::new(None),
                rank_slot: rank::schedule::JobSlot::default(),
                search: None,
            }),
        }
    }

    fn change(self, f: impl FnOnce(&mut AdminInner)) -> AdminState {
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            unreachable!("AdminState is configured before it is shared")
        };
        f(&mut inner);
        AdminState {
            inner: Arc::new(inner),
        }
    }

    /// Reindex through the running indexer (from `Indexer::reindex_feed`), so live events
    /// reach the generation being built.
    #[must_use]
    pub fn with_feed(self, feed: ReindexFeed) -> AdminState {
        self.change(|i| i.feed = Some(feed))
    }

    /// Read the site's rows for a reindex and the rank job from `db` (a streaming replica,
    /// `--replica-url`) instead of the primary; everything admin writes stays on the primary.
    #[must_use]
    pub fn with_read_database(self, db: Db) -> AdminState {
        self.change(|i| i.read_db = db)
    }

    /// Serve the rank routes over `store`.
    #[must_use]
    pub fn with_ranks(self, store: RankStore) -> AdminState {
        self.change(|i| i.ranks = Some(store))
    }

    /// Share the one-run-at-a-time slot with the service's rank schedule, so that
    /// `POST /admin/rank` answers 409 while a scheduled run is going, and the other way round.
    #[must_use]
    pub fn with_rank_slot(self, slot: rank::schedule::JobSlot) -> AdminState {
        self.change(|i| i.rank_slot = slot)
    }

    /// Let the rater's page (`/judge`) search through `state`, the query service's own, so
    /// raters judge exactly what `/search` answers. Without it the page's results answer 503.
    #[must_use]
    pub fn with_search(self, state: QueryState) -> AdminState {
        self.change(|i| i.search = Some(state))
    }

    #[must_use]
    pub fn with_options(self, options: ReindexOptions) -> AdminState {
        self.change(|i| i.options = options)
    }

    /// The reindex progress handle `GET /admin/reindex` reports.
    pub fn progress(&self) -> ReindexProgress {
        self.inner.progress.clone()
    }

    /// Whether index generation `generation` exists here.
    pub(crate) fn generation_exists(&self, generation: u32) -> bool {
        self.inner
            .catalog
            .get(indexer::Generation(generation))
            .is_some()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn search(&self) -> Option<&QueryState> {
        self.inner.search.as_ref()
    }

    /// The configured token's log label ([`fingerprint`]).
    pub(crate) fn token_fingerprint(&self) -> String {
        fingerprint(&self.inner.token)
    }

    /// What `GET /admin/generations` answers, which the dashboard shows too.
    pub(crate) fn generations_report(&self) -> serde_json::Value {
        let catalog = &self.inner.catalog;
        let aliases = catalog.aliases();
        json!({
            "live": aliases.live,
            "previous": aliases.previous,
            "generations": catalog.list(),
        })
    }

    /// What `GET /admin/ranks` answers, which the dashboard shows too.
    pub(crate) fn ranks_report(&self) -> Result<serde_json::Value, ApiError> {
        let store = rank_store(self)?;
        let versions = store.list().map_err(rank_error)?;
        let active = store.active().map_err(rank_error)?;
        Ok(json!({
            "active": active,
            "running": self.inner.rank_slot.is_running(),
            "versions": versions,
        }))
    }
}

/// The `/admin/*` routes, ready to merge onto [`crate::router`].
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route(
            "/admin/reindex",
            post(start_reindex)
                .get(reindex_progress)
                .delete(cancel_reindex),
        )
        .route("/admin/swap", post(swap))
        .route("/admin/rollback", post(rollback))
        .route("/admin/generations", get(generations))
        .route("/admin/generations/{generation}/read-only", put(read_only))
        .route(
            "/admin/generations/{generation}/definitions",
            get(generation_definitions).put(refuse_definitions_in_place),
        )
        .route("/admin/rank", post(start_rank))
        .route("/admin/ranks", get(ranks))
        .route("/admin/ranks/{version}/activate", post(activate_rank))
        .merge(crate::experiments::routes())
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        // Merged after the layer: the browser pages have guards of their own (cookies too).
        .merge(crate::judge::routes(state.clone()))
        .merge(crate::dashboard::routes(state.clone()))
        .with_state(state)
}

/// Equal-length-independent, data-independent comparison: the time taken does not reveal how
/// much of a guess was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// A short, stable name for a token in logs (never the token itself).
pub(crate) fn fingerprint(token: &str) -> String {
    // FNV-1a: not a secret-keeping hash, only a label that tells two tokens apart in logs.
    let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash >> 32)
}

fn remote(request: &Request) -> String {
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string());
    match (peer, forwarded) {
        (Some(peer), Some(f)) => format!("{peer} (for {f})"),
        (Some(peer), None) => peer,
        (None, Some(f)) => format!("for {f}"),
        (None, None) => "unknown".into(),
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn authorize(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let presented = bearer(request.headers()).map(str::to_string);
    admit(
        &state,
        presented.as_deref(),
        "admin endpoints need `Authorization: Bearer <DISCO_ADMIN_TOKEN>`",
        request,
        next,
    )
    .await
}

/// Runs `request` when `presented` is the admin token and answers 401 with `refusal`
/// otherwise, logging the call either way. Every guard of the admin router ends here, however
/// it found the token (header, or the rater's page's cookie), so all refuse and log alike.
pub(crate) async fn admit(
    state: &AdminState,
    presented: Option<&str>,
    refusal: &str,
    request: Request,
    next: Next,
) -> Response {
    let who = remote(&request);
    let what = format!("{} {}", request.method(), request.uri().path());
    // An empty configured token guards nothing: it refuses every call.
    let allowed = !state.inner.token.is_empty()
        && presented.is_some_and(|t| constant_time_eq(t.as_bytes(), state.inner.token.as_bytes()));
    if !allowed {
        tracing::warn!(target: "disco::admin", %who, %what, presented = presented.is_some(),
            at = %chrono::Utc::now(), "admin call refused: missing or wrong token");
        let mut response = ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: refusal.into(),
        }
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    let token = fingerprint(presented.unwrap_or_default());
    let response = next.run(request).await;
    tracing::info!(target: "disco::admin", %who, token = %token, %what,
        status = response.status().as_u16(), at = %chrono::Utc::now(), "admin call");
    response
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        message: message.into(),
    }
}

fn indexer_error(e: IndexerError) -> ApiError {
    match e {
        IndexerError::NoSuchGeneration(_) => ApiError::not_found(e.to_string()),
        IndexerError::NotBuilt(_) | IndexerError::NoPrevious | IndexerError::Busy => {
            conflict(e.to_string())
        }
        other => ApiError::internal(other),
    }
}

fn rank_error(e: RankError) -> ApiError {
    match e {
        RankError::UnknownVersion(_) => ApiError::not_found(e.to_string()),
        RankError::Input(_) => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(other),
    }
}

/// An optional JSON body: empty is `None`, anything else must parse (400 otherwise).
fn optional_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let bad = |e: serde_json::Error| ApiError::bad_request(format!("bad JSON body: {e}"));
    // Only an object: serde would read an array into a struct by position.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(bad)?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value).map(Some).map_err(bad)
}

fn parse_generation(text: &str) -> Result<Generation, ApiError> {
    text.strip_prefix("gen-")
        .unwrap_or(text)
        .parse()
        .map(Generation)
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a generation like 3 or gen-3")))
}

/// The body of `POST /admin/reindex`: all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReindexRequest {
    /// The four definition files, keyed by kind or file name, each its JSON: the new
    /// generation is built with and keeps them. Absent: the service's current definitions
    /// (`--definitions`, or the shipped ones).
    definitions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Definitions from a request, checked like `disco definitions check`: a 400 names the file,
/// the field and the reason.
fn requested_definitions(
    files: &serde_json::Map<String, serde_json::Value>,
) -> Result<Arc<Definitions>, ApiError> {
    let definitions =
        Definitions::from_json_files(files).map_err(|e| ApiError::bad_request(e.to_string()))?;
    indexer::hydrate::check_definitions(&definitions)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Arc::new(definitions))
}

/// `POST /admin/reindex`: starts a full reindex in the background (202), with the definitions
/// of the body's `definitions` when given.
async fn start_reindex(State(state): State<AdminState>, body: Bytes) -> Result<Response, ApiError> {
    let request: ReindexRequest = optional_body(&body)?.unwrap_or_default();
    let definitions = match &request.definitions {
        Some(files) => Some(requested_definitions(files)?),
        None => None,
    };
    let inner = state.inner.clone();
    if !inner.progress.try_begin() {
        return Err(conflict(
            "a reindex is already building; see GET /admin/reindex",
        ));
    }
    let cancel = CancellationToken::new();
    *lock(&inner.reindex_cancel) = Some(cancel.clone());
    let sink = match &inner.feed {
        Some(feed) => Sink::Feed(feed.clone()),
        None => Sink::Own,
    };
    let task = inner.clone();
    let options = ReindexOptions {
        definitions,
        ..inner.options.clone()
    };
    tokio::spawn(async move {
        let outcome = reindex::run(
            &task.read_db,
            &task.catalog,
            &options,
            &task.progress,
            sink,
            &cancel,
        )
        .await;
        if outcome.is_ok()
            && let Err(e) = generations::prune(&task.catalog, task.options.keep)
        {
            tracing::warn!(error = %e, "pruning old generations failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(inner.progress.report())).into_response())
}

/// `GET /admin/reindex`: the progress figures.
async fn reindex_progress(State(state): State<AdminState>) -> Response {
    Json(state.inner.progress.report()).into_response()
}

/// `DELETE /admin/reindex`: cancels the running reindex (its generation becomes failed).
async fn cancel_reindex(State(state): State<AdminState>) -> Result<Response, ApiError> {
    if state.inner.progress.state() != reindex::ReindexState::Building {
        return Err(conflict("no reindex is building"));
    }
    if let Some(cancel) = lock(&state.inner.reindex_cancel).take() {
        cancel.cancel();
    }
    Ok((StatusCode::ACCEPTED, Json(state.inner.progress.report())).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwapBody {
    generation: u32,
}

/// `POST /admin/swap`, body optional `{"generation": N}`: makes it (default: the newest built
/// generation) live; the old live becomes previous.
async fn swap(State(state): State<AdminState>, body: Bytes) -> Result<Response, ApiError> {
    let catalog = &state.inner.catalog;
    let target = match optional_body::<SwapBody>(&body)? {
        Some(body) => Generation(body.generation),
        None => generations::swap_candidate(catalog).ok_or_else(|| {
            conflict("no built generation to swap in; run a reindex first (POST /admin/reindex)")
        })?,
    };
    let aliases = catalog.swap(target).map_err(indexer_error)?;
    if let Err(e) = generations::prune(catalog, state.inner.options.keep) {
        tracing::warn!(error = %e, "pruning old generations failed");
    }
    Ok(Json(aliases).into_response())
}

/// `POST /admin/rollback`: previous becomes live again.
async fn rollback(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let aliases = state.inner.catalog.rollback().map_err(indexer_error)?;
    Ok(Json(aliases).into_response())
}

/// `GET /admin/generations`: every generation with its state, documents, size, read-only.
async fn generations(State(state): State<AdminState>) -> Response {
    Json(state.generations_report()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadOnlyBody {
    read_only: bool,
}

/// `PUT /admin/generations/{gen}/read-only`, body `{"read_only": bool}`.
async fn read_only(
    State(state): State<AdminState>,
    Path(generation): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let generation = parse_generation(&generation)?;
    let Some(body) = optional_body::<ReadOnlyBody>(&body)? else {
        return Err(ApiError::bad_request(
            "body must be {\"read_only\": true|false}",
        ));
    };
    let catalog = &state.inner.catalog;
    catalog
        .set_read_only(generation, body.read_only)
        .map_err(indexer_error)?;
    Ok(Json(json!({ "generation": generation.0, "read_only": body.read_only })).into_response())
}

/// `GET /admin/generations/{gen}/definitions`: the four files the generation is written and
/// served with, keyed by file name, with their digest.
async fn generation_definitions(
    State(state): State<AdminState>,
    Path(generation): Path<String>,
) -> Result<Response, ApiError> {
    let generation = parse_generation(&generation)?;
    let handle = (state.inner.catalog.get(generation))
        .ok_or_else(|| indexer_error(IndexerError::NoSuchGeneration(generation)))?;
    let definitions = handle.definitions();
    let files: serde_json::Map<String, serde_json::Value> = (definitions.sources().iter())
        .map(|(file, text)| {
            let value =
                serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.clone()));
            (file.clone(), value)
        })
        .collect();
    Ok(Json(json!({
        "generation": generation.0,
        "digest": definitions.digest(),
        "definitions": files,
    }))
    .into_response())
}

/// `PUT /admin/generations/{gen}/definitions`: refused. A generation's documents follow the
/// definitions it was built with; a change needs a new generation.
async fn refuse_definitions_in_place(Path(generation): Path<String>) -> Result<Response, ApiError> {
    let generation = parse_generation(&generation)?;
    Err(conflict(format!(
        "{generation} keeps the definitions it was built with for its whole life; to change \
         them, reindex into a new generation: POST /admin/reindex with {{\"definitions\": …}} \
         (or `disco reindex --definitions DIR`), then swap"
    )))
}

fn rank_store(state: &AdminState) -> Result<&RankStore, ApiError> {
    state
        .inner
        .ranks
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this service has no rank store"))
}

/// `POST /admin/rank`: runs the rank job in the background (202); the new version becomes
/// active when it finishes.
async fn start_rank(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let store = rank_store(&state)?.clone();
    let Some(claim) = state.inner.rank_slot.claim() else {
        return Err(conflict("the rank job is already running"));
    };
    let db = state.inner.read_db.clone();
    tokio::spawn(async move {
        let options = rank::JobOptions {
            progress: rank::ProgressMode::Lines,
            ..rank::JobOptions::default()
        };
        rank::schedule::run_claimed(&db, &store, &options, claim, "admin").await;
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "state": "running" }))).into_response())
}

/// `GET /admin/ranks`: every version's manifest, and which one is active.
async fn ranks(State(state): State<AdminState>) -> Result<Response, ApiError> {
    Ok(Json(state.ranks_report()?).into_response())
}

/// `POST /admin/ranks/{version}/activate`: the query service serves it by default from the
/// next request.
async fn activate_rank(
    State(state): State<AdminState>,
    Path(version): Path<String>,
) -> Result<Response, ApiError> {
    let store = rank_store(&state)?;
    let version: RankVersion = version.parse().map_err(rank_error)?;
    store.activate(version).map_err(rank_error)?;
    Ok(Json(json!({ "active": version })).into_response())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }

    #[test]
    fn generations_parse_with_or_without_prefix() {
        assert_eq!(parse_generation("3").unwrap(), Generation(3));
        assert_eq!(parse_generation("gen-12").unwrap(), Generation(12));
        assert_eq!(
            parse_generation("x").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn fingerprints_tell_tokens_apart_without_showing_them() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert!(!fingerprint("secret").contains("secret"));
    }
}
