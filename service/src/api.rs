//! The handlers and the wire shapes of the HTTP contract (docs/ARCHITECTURE.md, "The HTTP contract").
//! Every parameter arrives as text and is checked here, so a bad one is a 400 that says what
//! to change, never a framework rejection or a 5xx.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use quality::click_log::Endpoint;
use quality::clicks::ServedQuery;
use quality::experiments::Arm;
use quality::interleave::{Team, coin, common_top, team_draft};
use schemas::definition::Definitions;
use schemas::{EntityKey, EntityKind};

use crate::error::{ApiError, ErrorBody};
use crate::events;
use crate::experiments::Enrolled;
use crate::server::QueryState;
use crate::stats::Stats;
use engine::compile::KeywordFilter;
use engine::layout::{GENRE, Layout};
use engine::prior::{Prior, RankChoice};
use engine::search::{SearchOutcome, SearchRequest, SearchSettings};
use engine::source::Snapshot;

/// Contract limits.
pub const MAX_QUERY_CHARS: usize = 256;
pub const MAX_LIMIT: usize = 100;
pub const MAX_OFFSET: usize = 10_000;
/// Not in the contract, but a genre name is short, and so is any keyword filter's value.
pub const MAX_GENRE_CHARS: usize = 100;

/// The parameters `/search` takes whatever the generation: [`SearchParams`]' fields (the
/// OpenAPI test checks they agree). Any other is a keyword filter of the answering generation.
pub const SEARCH_PARAMETERS: [&str; 7] = [
    "q",
    "kind",
    "genre",
    "limit",
    "offset",
    "rank",
    "generation",
];

/// Query-string extraction whose rejections are JSON 400s like every other error.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

/// `GET /search` parameters. All optional; all arrive as text and are checked by the handler.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: words, "quoted phrases", -excluded words. At most 256 characters.
    pub q: Option<String>,
    /// Only this kind: track, user, playlist or group.
    pub kind: Option<String>,
    /// Only entities of this genre (tracks have one).
    pub genre: Option<String>,
    /// Results per page, 0 to 100 (default 20).
    pub limit: Option<String>,
    /// Results to skip, 0 to 10,000.
    pub offset: Option<String>,
    /// Rank version to blend with, or `none` for pure text relevance (default: the active one).
    pub rank: Option<String>,
    /// An index generation other than the live one, to compare before a swap. Admins only
    /// (`Authorization: Bearer <DISCO_ADMIN_TOKEN>`); takes the search out of experiments.
    pub generation: Option<String>,
}

/// `GET /explore` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExploreParams {
    /// Only tracks of this genre.
    pub genre: Option<String>,
    /// How many tracks, 0 to 100 (default 20).
    pub limit: Option<String>,
    /// Rank version to weigh with, or `none`.
    pub rank: Option<String>,
}

/// `GET /suggest` parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What has been typed so far. At most 256 characters.
    pub q: Option<String>,
    /// Only this kind: track, user, playlist or group.
    pub kind: Option<String>,
    /// How many suggestions, 0 to 100 (default 8).
    pub limit: Option<String>,
}

/// One suggestion: an entity to go straight to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionItem {
    pub kind: String,
    pub id: i64,
    /// The name to show.
    pub text: String,
    /// The entity's page, e.g. `/users/7`.
    pub url: String,
}

/// The answer of `/suggest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestResponse {
    pub query: String,
    /// This answer's id: the page reports impressions and clicks under it (`POST /events`).
    pub query_id: String,
    pub took_ms: f64,
    pub suggestions: Vec<SuggestionItem>,
}

/// Suggestions shown while typing when no `limit` is given.
pub const DEFAULT_SUGGESTIONS: usize = 8;

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultItem {
    /// track, user, playlist or group.
    pub kind: String,
    pub id: i64,
    /// What a person reads first.
    pub title: String,
    /// The context: owner, @username or member count.
    pub subtitle: String,
    /// The entity's page, e.g. `/tracks/42`.
    pub url: String,
    pub score: f32,
    /// HTML: the matched words in `<mark>`, everything else escaped.
    pub highlight: String,
    /// The counts a visitor weighs it by (a track's plays and likes, a person's followers),
    /// as the answering generation stores them for its kind; keys it does not store are absent.
    #[serde(default)]
    pub stats: Stats,
    /// Under an interleaving experiment, the arm that contributed this result (a click on it
    /// credits that arm); absent otherwise, and for the results both arms rank alike at the
    /// top (a click there credits neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
}

/// The answer of `/search` and `/explore`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub query: String,
    /// This answer's id: the page reports impressions and clicks under it (`POST /events`).
    pub query_id: String,
    /// The experiment this search took part in (by the session cookie), if any.
    #[serde(default)]
    pub experiment: Option<String>,
    /// The A/B arm that served it; `null` outside experiments and when interleaved (then each
    /// result names its arm).
    #[serde(default)]
    pub arm: Option<String>,
    /// Matches in the request's scope (its kind, or all).
    pub total: u64,
    pub took_ms: f64,
    /// Matches per kind for the same query, whatever the kind filter.
    pub counts: BTreeMap<String, u64>,
    /// `/search` of all kinds (no `kind`), first page: the first result again when it clearly
    /// leads — the query is its whole name and no other entity of its kind has that name
    /// (`engine::search::SearchOutcome::lead`) — for the page to show as a larger card.
    /// `null` otherwise, and always on `/explore`.
    #[serde(default)]
    pub top: Option<ResultItem>,
    pub results: Vec<ResultItem>,
}

/// `/readyz`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// A generation is open.
    pub index: bool,
    /// The default prior is loaded.
    pub rank: bool,
}

/// `/healthz`'s answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Disco search",
        description = "Site search for people, sounds, sets and groups."
    ),
    paths(
        search,
        explore,
        suggest,
        crate::events::report,
        healthz,
        readyz,
        metrics
    ),
    components(schemas(
        crate::events::Report,
        crate::events::Event,
        crate::events::ShownEntity,
        SearchResponse,
        ResultItem,
        Stats,
        SuggestResponse,
        SuggestionItem,
        ErrorBody,
        Readiness,
        Health
    ))
)]
pub struct ApiDoc;

/// Search all kinds, or one.
///
/// Besides the parameters below, `<field>=<value>` filters on any keyword field of the index
/// generation that answers (its definitions say which: `genre`, and whatever an operator
/// added, such as `mood`): `/search?q=rain&mood=calm` finds only calm results. The value is
/// matched folded, like genre; several filters must all match; a filter is given at most once;
/// an empty value filters nothing. A parameter that is neither one of the below nor a
/// filterable field of that generation is a 400 naming it and listing the fields that filter.
#[utoipa::path(get, path = "/search", params(SearchParams), responses(
    (status = 200, description = "Results, best first", body = SearchResponse),
    (status = 400, description = "A parameter is out of the contract's limits, or is neither a parameter nor a filterable field of the answering generation", body = ErrorBody),
    (status = 503, description = "No index generation is open yet, or the search timed out", body = ErrorBody),
))]
pub async fn search(
    State(state): State<QueryState>,
    headers: HeaderMap,
    Params(params): Params<SearchParams>,
    Params(pairs): Params<Vec<(String, String)>>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let session = events::session(&headers);
    let text = query_text(params.q)?;
    let asked = Asked::from_pairs(pairs)?;
    let mut keywords: Vec<KeywordFilter> = genre(params.genre)?
        .map(|genre| KeywordFilter::new(GENRE, genre))
        .into_iter()
        .collect();
    keywords.extend(asked.keywords);
    let request = SearchRequest {
        kind: kind(params.kind.as_deref())?,
        keywords,
        limit: bounded(
            "limit",
            params.limit.as_deref(),
            state.inner.config.default_limit,
            MAX_LIMIT,
        )?,
        offset: bounded("offset", params.offset.as_deref(), 0, MAX_OFFSET)?,
        text,
    };
    let query_id = state.inner.query_ids.next();
    // A top result opens mixed results only; the kinds' tabs and later pages have none.
    let mixed = request.kind.is_none() && request.offset == 0;
    let generation = generation(&state, &headers, params.generation.as_deref())?;
    // A caller who names a rank version or a generation (ops, a script) asked for it: no
    // experiment.
    let enrollment = match (&params.rank, generation, &state.inner.experiments) {
        (None, None, Some(running)) => running.enroll(&session),
        _ => None,
    };
    let (response, fuzzy) = match enrollment.as_ref().map(|e| &e.arms) {
        None => {
            let variant = Variant {
                generation,
                prior: prior(&state, params.rank.as_deref())?,
                settings: state.inner.config.search,
            };
            served(&state, request, &asked.names, variant, started, None).await?
        }
        Some(Enrolled::Interleave(a, b)) if request.offset == 0 => {
            interleaved(&state, request, &asked.names, [a, b], &query_id, started).await?
        }
        // A/B, and the later pages of an interleaved answer (its first arm's).
        Some(Enrolled::Arm(arm) | Enrolled::Interleave(arm, _)) => {
            let variant = arm_variant(&state, arm)?;
            served(
                &state,
                request,
                &asked.names,
                variant,
                started,
                Some(&arm.name),
            )
            .await?
        }
    };
    let mut response = response;
    if !mixed {
        response.top = None;
    }
    if !language_is_empty(&response.query) {
        state.inner.metrics.searched(response.total, fuzzy);
    }
    response.query_id = query_id;
    if let Some(enrollment) = enrollment {
        response.experiment = Some(enrollment.experiment);
    }
    log_served(&state, Endpoint::Search, &session, &response);
    Ok(Json(response))
}

/// One search of one variant; the answer (its arm named when given) and whether typo fill-ins
/// were needed. `filters`: the filter parameters the generation must be able to filter on.
async fn served(
    state: &QueryState,
    request: SearchRequest,
    filters: &[String],
    variant: Variant,
    started: Instant,
    arm: Option<&str>,
) -> Result<(SearchResponse, bool), ApiError> {
    let (outcomes, request) = search_each(state, request, filters, vec![variant]).await?;
    let (outcome, definitions) = outcomes
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("a search answered nothing"))?;
    let fuzzy = outcome.fuzzy;
    let mut response = respond(request.text, outcome, &definitions, started);
    response.arm = arm.map(str::to_string);
    Ok((response, fuzzy))
}

/// Both arms of an interleaving experiment on one snapshot, merged by team draft
/// ([`quality::interleave::team_draft`]) with a coin seeded by the query id; each result names
/// the arm that contributed it, but for the rankings' common top, which names none
/// ([`quality::interleave::common_top`]). Totals and counts are the first arm's: both searched the same
/// index for the same words.
async fn interleaved(
    state: &QueryState,
    request: SearchRequest,
    filters: &[String],
    arms: [&Arm; 2],
    query_id: &str,
    started: Instant,
) -> Result<(SearchResponse, bool), ApiError> {
    let variants = vec![arm_variant(state, arms[0])?, arm_variant(state, arms[1])?];
    let limit = request.limit;
    let (outcomes, request) = search_each(state, request, filters, variants).await?;
    let fuzzy = outcomes.iter().any(|(o, _)| o.fuzzy);
    let mut responses = outcomes
        .into_iter()
        .map(|(outcome, defs)| respond(request.text.clone(), outcome, &defs, started));
    let (Some(mut first), Some(second)) = (responses.next(), responses.next()) else {
        return Err(ApiError::internal(
            "an interleaving searched fewer than two arms",
        ));
    };
    let keys = |r: &SearchResponse| -> Vec<(String, i64)> {
        r.results.iter().map(|i| (i.kind.clone(), i.id)).collect()
    };
    let (keys_a, keys_b) = (keys(&first), keys(&second));
    let shared = common_top(&keys_a, &keys_b);
    let merged = team_draft(&keys_a, &keys_b, limit, coin(query_id));
    let find = |key: &(String, i64)| {
        first
            .results
            .iter()
            .chain(&second.results)
            .find(|i| i.kind == key.0 && i.id == key.1)
            .cloned()
    };
    let results: Vec<ResultItem> = (merged.iter().enumerate())
        .filter_map(|(position, (key, team))| {
            let mut item = find(key)?;
            // The rankings' common top credits neither arm.
            item.arm = (position >= shared).then(|| match team {
                Team::A => arms[0].name.clone(),
                Team::B => arms[1].name.clone(),
            });
            Some(item)
        })
        .collect();
    // The merged first result leads when the arm that ranked it first says it does.
    first.top = [first.top.take(), second.top]
        .into_iter()
        .flatten()
        .find(|top| {
            results
                .first()
                .is_some_and(|r| (&r.kind, r.id) == (&top.kind, top.id))
        });
    first.results = results;
    first.took_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok((first, fuzzy))
}

/// What an experiment arm serves: its generation, prior and settings.
fn arm_variant(state: &QueryState, arm: &Arm) -> Result<Variant, ApiError> {
    let spec = arm.spec().map_err(ApiError::internal)?;
    let prior = state
        .inner
        .priors
        .prior(spec.rank)
        .map_err(|e| ApiError::unavailable(format!("experiment arm `{}`: {e}", arm.name)))?;
    Ok(Variant {
        generation: spec.generation,
        prior,
        settings: spec.settings,
    })
}

/// Logs an answer as shown, when this service keeps a click log.
fn log_served(state: &QueryState, endpoint: Endpoint, session: &str, response: &SearchResponse) {
    let Some(log) = &state.inner.events else {
        return;
    };
    let shown = response.results.iter().filter_map(|item| {
        let kind: EntityKind = item.kind.parse().ok()?;
        Some((EntityKey::new(kind, item.id), item.arm.clone()))
    });
    log.served(
        endpoint,
        ServedQuery {
            query_id: response.query_id.clone(),
            session: session.to_string(),
            text: response.query.clone(),
            total: response.total,
            experiment: response.experiment.clone(),
            arm: response.arm.clone(),
            shown: events::shown(shown),
            at: chrono::Utc::now(),
        },
    );
}

/// Recent public tracks, recency-weighted.
#[utoipa::path(get, path = "/explore", params(ExploreParams), responses(
    (status = 200, description = "Recent tracks, best first", body = SearchResponse),
    (status = 400, description = "A parameter is out of the contract's limits", body = ErrorBody),
    (status = 503, description = "No index generation is open yet", body = ErrorBody),
))]
pub async fn explore(
    State(state): State<QueryState>,
    headers: HeaderMap,
    Params(params): Params<ExploreParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let limit = bounded(
        "limit",
        params.limit.as_deref(),
        state.inner.config.default_limit,
        MAX_LIMIT,
    )?;
    let genre = genre(params.genre)?;
    let prior = prior(&state, params.rank.as_deref())?;
    let recency = state.inner.config.recency;
    let now = chrono::Utc::now().timestamp_micros();
    let (outcome, definitions) = run(&state, move |snapshot, layout| {
        let outcome = engine::explore::explore(
            &snapshot.searcher,
            layout,
            prior,
            recency,
            genre.as_deref(),
            limit,
            now,
        )?;
        Ok((outcome, snapshot.definitions.clone()))
    })
    .await?;
    let mut response = respond(String::new(), outcome, &definitions, started);
    response.query_id = state.inner.query_ids.next();
    log_served(
        &state,
        Endpoint::Explore,
        &events::session(&headers),
        &response,
    );
    Ok(Json(response))
}

/// Typeahead: entities whose names start with (or nearly with) what has been typed.
#[utoipa::path(get, path = "/suggest", params(SuggestParams), responses(
    (status = 200, description = "Suggestions, best first", body = SuggestResponse),
    (status = 400, description = "A parameter is out of the contract's limits", body = ErrorBody),
    (status = 503, description = "Suggest data is not loaded yet", body = ErrorBody),
))]
pub async fn suggest(
    State(state): State<QueryState>,
    headers: HeaderMap,
    Params(params): Params<SuggestParams>,
) -> Result<Json<SuggestResponse>, ApiError> {
    let started = Instant::now();
    let text = query_text(params.q)?;
    let kind = kind(params.kind.as_deref())?;
    let limit = bounded(
        "limit",
        params.limit.as_deref(),
        DEFAULT_SUGGESTIONS,
        MAX_LIMIT,
    )?;
    let suggester = state
        .inner
        .suggester
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("suggest data is not loaded yet"))?;
    // Lookups take microseconds: no need to leave the async thread.
    let found = suggester.suggest(&text, kind, limit);
    let query_id = state.inner.query_ids.next();
    if let Some(log) = &state.inner.events {
        log.served(
            Endpoint::Suggest,
            ServedQuery {
                query_id: query_id.clone(),
                session: events::session(&headers),
                text: text.clone(),
                total: found.len() as u64,
                experiment: None,
                arm: None,
                shown: events::shown(found.iter().map(|s| (s.key(), None))),
                at: chrono::Utc::now(),
            },
        );
    }
    let suggestions = found
        .into_iter()
        .map(|s| SuggestionItem {
            kind: s.kind.as_str().to_string(),
            id: s.id,
            text: s.text,
            url: s.url,
        })
        .collect();
    Ok(Json(SuggestResponse {
        query: text,
        query_id,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        suggestions,
    }))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: a generation is open and the default prior is loaded.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Not ready yet", body = Readiness),
))]
pub async fn readyz(State(state): State<QueryState>) -> (StatusCode, Json<Readiness>) {
    let index = state.inner.source.snapshot().is_some();
    let rank = state.inner.priors.ready();
    let ready = index && rank;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { ready, index, rank }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub async fn metrics(State(state): State<QueryState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.inner.metrics.render(),
    )
        .into_response()
}

/// This API's description.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The search page.
pub async fn page() -> Html<&'static str> {
    Html(crate::page::HTML)
}

/// The first `limit` results for `text` under each of `ranks` (as `/search`'s `rank`), all of
/// kinds, from one snapshot so the variants compare like with like: what `/search` would answer
/// with each, for in-process callers (the rater's page, [`crate::judge`]).
pub(crate) async fn search_variants(
    state: &QueryState,
    text: &str,
    ranks: &[Option<&str>],
    limit: usize,
) -> Result<Vec<Vec<ResultItem>>, ApiError> {
    let started = Instant::now();
    let request = SearchRequest {
        text: query_text(Some(text.to_string()))?,
        kind: None,
        keywords: Vec::new(),
        limit: limit.min(MAX_LIMIT),
        offset: 0,
    };
    let settings = state.inner.config.search;
    let variants = ranks
        .iter()
        .map(|rank| Ok(Variant::live(prior(state, *rank)?, settings)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (outcomes, _) = search_each(state, request, &[], variants).await?;
    Ok(outcomes
        .into_iter()
        .map(|(outcome, defs)| respond(String::new(), outcome, &defs, started).results)
        .collect())
}

/// What one searched variant is: the generation (the live one for `None`), the prior and the
/// settings.
struct Variant {
    generation: Option<u32>,
    prior: Option<Arc<dyn Prior>>,
    settings: SearchSettings,
}

impl Variant {
    fn live(prior: Option<Arc<dyn Prior>>, settings: SearchSettings) -> Variant {
        Variant {
            generation: None,
            prior,
            settings,
        }
    }
}

/// One request searched once per variant, the live ones on one snapshot so they compare like
/// with like; the outcomes in the variants' order, each with the definitions of the generation
/// that answered (what its documents store), and the request back. A generation this
/// service cannot open is a 503 that names it; one that cannot filter on each of `filters`
/// (filter parameters) is a 400, before anything is searched.
async fn search_each(
    state: &QueryState,
    request: SearchRequest,
    filters: &[String],
    variants: Vec<Variant>,
) -> Result<(Vec<(SearchOutcome, Arc<Definitions>)>, SearchRequest), ApiError> {
    let source = state.inner.source.clone();
    let layouts = state.inner.layouts.clone();
    let clauses = state.inner.clauses.clone();
    let filters = filters.to_vec();
    within_timeout(state, move || {
        let mut live = None;
        let mut searched = Vec::with_capacity(variants.len());
        for variant in variants {
            let snapshot = match variant.generation {
                None => match &live {
                    Some(snapshot) => Clone::clone(snapshot),
                    None => {
                        let snapshot = source.snapshot().ok_or_else(|| {
                            ApiError::unavailable("no index generation is open yet")
                        })?;
                        live = Some(snapshot.clone());
                        snapshot
                    }
                },
                Some(generation) => source.generation(generation).ok_or_else(|| {
                    ApiError::unavailable(format!(
                        "index generation {generation} is not open in this service"
                    ))
                })?,
            };
            let layout = layouts
                .layout(&snapshot.definitions)
                .map_err(ApiError::internal)?;
            check_filters(&layout, &filters)?;
            searched.push((variant, snapshot, layout));
        }
        let mut outcomes = Vec::with_capacity(searched.len());
        for (variant, snapshot, layout) in searched {
            let outcome = engine::search::search(
                &snapshot.searcher,
                &layout,
                variant.prior,
                &variant.settings,
                &request,
                Some(&clauses),
            )
            .map_err(ApiError::internal)?;
            outcomes.push((outcome, snapshot.definitions));
        }
        Ok((outcomes, request))
    })
    .await
}

/// Runs blocking index work off the async threads, bounded by the request timeout.
pub(crate) async fn run<T, F>(state: &QueryState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Snapshot, &Layout) -> tantivy::Result<T> + Send + 'static,
{
    let source = state.inner.source.clone();
    let layouts = state.inner.layouts.clone();
    // Taking the snapshot is part of the bounded work: a source may wait on a generation swap.
    within_timeout(state, move || {
        let snapshot = source
            .snapshot()
            .ok_or_else(|| ApiError::unavailable("no index generation is open yet"))?;
        let layout = layouts
            .layout(&snapshot.definitions)
            .map_err(ApiError::internal)?;
        work(&snapshot, &layout).map_err(ApiError::internal)
    })
    .await
}

/// Runs `work` on the search threads ([`crate::pool`]), bounded by the request timeout.
async fn within_timeout<T, F>(state: &QueryState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    let task = state.inner.pool.run(work);
    match tokio::time::timeout(state.inner.config.request_timeout, task).await {
        Err(_) => Err(ApiError::unavailable(
            "the search took too long; try fewer words",
        )),
        Ok(Err(failed)) => Err(ApiError::internal(failed)),
        Ok(Ok(answer)) => answer,
    }
}

/// The wire answer of an engine outcome; `definitions` are the answering generation's, which
/// say what each result's stored document holds.
fn respond(
    query: String,
    outcome: SearchOutcome,
    definitions: &Definitions,
    started: Instant,
) -> SearchResponse {
    let results: Vec<ResultItem> = outcome
        .hits
        .into_iter()
        .map(|hit| ResultItem {
            kind: hit.key.kind.as_str().to_string(),
            id: hit.key.id,
            url: hit.key.url(),
            stats: Stats::read(definitions, hit.key.kind, &hit.stored),
            title: hit.title,
            subtitle: hit.subtitle,
            score: hit.score,
            highlight: hit.highlight,
            arm: None,
        })
        .collect();
    SearchResponse {
        query,
        query_id: String::new(),
        experiment: None,
        arm: None,
        total: outcome.total,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        counts: outcome
            .counts
            .into_iter()
            .map(|(k, n)| (k.as_str().to_string(), n))
            .collect(),
        top: outcome.lead.then(|| results.first().cloned()).flatten(),
        results,
    }
}

fn language_is_empty(text: &str) -> bool {
    engine::language::parse(text).is_empty()
}

/// The `generation` parameter: a generation number (`3` or `gen-3`) for a caller with the
/// admin token; 401 without it (403 when this service has none), 400 when not a number.
fn generation(
    state: &QueryState,
    headers: &HeaderMap,
    text: Option<&str>,
) -> Result<Option<u32>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let Some(token) = &state.inner.admin_token else {
        return Err(ApiError::forbidden(
            "generation is for admins, and this service has no admin token",
        ));
    };
    let presented = crate::admin::bearer(headers).unwrap_or_default();
    if !crate::admin::constant_time_eq(presented.as_bytes(), token.as_bytes()) {
        return Err(ApiError::unauthorized(
            "generation needs `Authorization: Bearer <DISCO_ADMIN_TOKEN>`",
        ));
    }
    let digits = text.strip_prefix("gen-").unwrap_or(text);
    digits.parse().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "generation must be a number like 3 or gen-3, not `{text}`"
        ))
    })
}

/// The `q` parameter: absent is empty, more than the contract's limit is a 400.
fn query_text(q: Option<String>) -> Result<String, ApiError> {
    let text = q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "q is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(text)
}

fn kind(text: Option<&str>) -> Result<Option<EntityKind>, ApiError> {
    match text.map(str::trim) {
        None | Some("") | Some("all") => Ok(None),
        Some(k) => k
            .parse()
            .map(Some)
            .map_err(|e: schemas::kind::UnknownKind| ApiError::bad_request(e.to_string())),
    }
}

fn genre(text: Option<String>) -> Result<Option<String>, ApiError> {
    filter_value(GENRE, text)
}

/// A keyword filter's value: longer than [`MAX_GENRE_CHARS`] is a 400, blank is no filter.
fn filter_value(name: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(v) if v.chars().count() > MAX_GENRE_CHARS => Err(ApiError::bad_request(format!(
            "{} is longer than {MAX_GENRE_CHARS} characters",
            shown(name)
        ))),
        Some(v) if v.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The keyword filter parameters of a `/search` query string: every pair but the fixed
/// [`SEARCH_PARAMETERS`] (and nameless ones, `&=&`, which name nothing).
struct Asked {
    /// Every filter parameter's name, blank or not: each must be a filterable field of the
    /// generation that answers (checked with [`check_filters`] once its layout is known).
    names: Vec<String>,
    /// The filters of the non-blank ones.
    keywords: Vec<KeywordFilter>,
}

impl Asked {
    /// A name given twice is a 400 (the typed parameters are too): a keyword field holds one
    /// value, so two values could only match nothing, which is more likely a mistake.
    fn from_pairs(pairs: Vec<(String, String)>) -> Result<Asked, ApiError> {
        let mut asked = Asked {
            names: Vec::new(),
            keywords: Vec::new(),
        };
        let mut seen = HashSet::new();
        for (name, value) in pairs {
            if name.is_empty() || SEARCH_PARAMETERS.contains(&name.as_str()) {
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(ApiError::bad_request(format!(
                    "{} is given twice; a filter takes one value",
                    shown(&name)
                )));
            }
            if let Some(value) = filter_value(&name, Some(value))? {
                asked.keywords.push(KeywordFilter::new(name.clone(), value));
            }
            asked.names.push(name);
        }
        Ok(asked)
    }
}

/// A 400 for the first of `names` that `layout` (the answering generation's) cannot filter on,
/// naming it and what the generation does filter on.
fn check_filters(layout: &Layout, names: &[String]) -> Result<(), ApiError> {
    let Some(name) = names.iter().find(|n| layout.filterable(n).is_none()) else {
        return Ok(());
    };
    let fields = layout.filterable_names();
    let on = if fields.is_empty() {
        "nothing".to_string()
    } else {
        fields.join(", ")
    };
    let others: Vec<&str> = (SEARCH_PARAMETERS.iter())
        .filter(|p| !fields.contains(p))
        .copied()
        .collect();
    Err(ApiError::bad_request(format!(
        "unknown parameter {}: this generation filters on {on} (other parameters: {})",
        shown(name),
        others.join(", ")
    )))
}

/// A parameter name for a message: in backquotes, cut to [`MAX_GENRE_CHARS`] characters (a
/// hostile query string can make one any length).
fn shown(name: &str) -> String {
    let mut cut: String = name.chars().take(MAX_GENRE_CHARS).collect();
    if cut.len() < name.len() {
        cut.push('…');
    }
    format!("`{cut}`")
}

/// An integer parameter in `0..=max`, `default` when absent or empty.
fn bounded(name: &str, text: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    match text.parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be a whole number from 0 to {max}"
        ))),
    }
}

fn prior(state: &QueryState, rank: Option<&str>) -> Result<Option<Arc<dyn Prior>>, ApiError> {
    let choice = match rank.map(str::trim).filter(|r| !r.is_empty()) {
        None => RankChoice::Active,
        Some(text) => text
            .parse()
            .map_err(|e: engine::prior::BadRankChoice| ApiError::bad_request(e.to_string()))?,
    };
    state
        .inner
        .priors
        .prior(choice)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
