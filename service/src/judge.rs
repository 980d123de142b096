//! The rater's page (issue 21, item 4): `GET /judge` steps through a judged query set's queries
//! and shows, for each, the live index's top ten as `/search` answers it; a rater grades each
//! result with a thumbs up or down, keyboard first. Judgments are appended to the set in the
//! site's database ([`quality::store::add_judgment`], source `rater`), where every later
//! `disco eval` run reads them.
//!
//! Routes, all behind the admin token and merged into [`crate::admin::router`]:
//! - `GET /judge`: the page (one inline file, `page/judge.html`).
//! - `GET /admin/judge/sets`: the stored sets with their query and judgment counts.
//! - `GET /admin/judge/sets/{set}`: one set, its queries in order with their judgments (404
//!   when there is none).
//! - `GET /admin/judge/results?q=…[&rank=…][&interleave=rank=none]`: the top ten for `q` with
//!   the active prior (or `rank`), or with `interleave` a team-draft interleaving of that and a
//!   second variant ([`team_draft`]), so one pass of judging covers what both would show.
//! - `POST /admin/judge/judgments`: `{"set", "position", "entity": "kind:id", "grade", "who"?}`
//!   (201). Grades run 0 to 3; the page sends 0 (down), 2 (up) and 3 (the answer). Bad input
//!   is a 400 with `{"error"}`: an unknown set, a position out of range, a grade over 3, a key
//!   that is not `kind:id`. `who` defaults to `token-<fingerprint>` of the admin token.
//!
//! The token. Scripts send `Authorization: Bearer <DISCO_ADMIN_TOKEN>` as for `/admin/*`. A
//! browser cannot add that header to a page it navigates to, so `GET /judge?token=<token>` is
//! accepted once: its answer sets the token as the cookie `disco_judge`, and the page then drops
//! `?token=` from the address bar (the answer also says `Referrer-Policy: no-referrer` and
//! `Cache-Control: no-store`, so the URL that held it goes nowhere else). The cookie is
//! `HttpOnly` (the page's script never reads it), `SameSite=Strict` (another site's page cannot
//! make the browser send it), `Path=/` (the page's own fetches to `/admin/judge/*` carry it) and
//! lasts the browser session. It opens these routes only, never reindex, swap or the rank job.
//! It is not `Secure`, as the service is often reached over plain HTTP inside a network; put
//! TLS in front for raters outside it. A judgment must be posted as `application/json`, which no
//! cross-site form can send, so the cookie alone cannot be ridden to write judgments.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use engine::prior::RankChoice;
use quality::store;
use quality::{Judgment, QualityError, Source};
use schemas::EntityKey;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::{self, AdminState};
use crate::api::{self, Params, ResultItem};
use crate::error::ApiError;
use quality::interleave::{Team, coin, team_draft};

/// The page, with its CSS and JS inline, compiled into the binary like [`crate::page::HTML`].
pub const HTML: &str = include_str!("page/judge.html");

/// Results judged per query: the first page a person sees, and what NDCG@10 scores.
pub const TOP: usize = 10;

/// The longest rater name kept: a name, not a note.
pub const MAX_WHO_CHARS: usize = 64;

const PAGE_PATH: &str = "/judge";
const COOKIE: &str = "disco_judge";
const REFUSAL: &str = "the rater's page needs the admin token: open /judge?token=<DISCO_ADMIN_TOKEN> \
     once, or send `Authorization: Bearer <DISCO_ADMIN_TOKEN>`";

/// The page and its endpoints under their own guard, for [`crate::admin::router`] to merge.
pub(crate) fn routes(state: AdminState) -> Router<AdminState> {
    Router::new()
        .route(PAGE_PATH, get(page))
        .route("/admin/judge/sets", get(sets))
        .route("/admin/judge/sets/{set}", get(set))
        .route("/admin/judge/results", get(results))
        .route("/admin/judge/judgments", post(judge))
        .layer(middleware::from_fn_with_state(state, authorize))
}

/// A page a person opens in a browser behind the admin token (`/judge`, `/dashboard`): where
/// it lives, the cookie that keeps its token, and what a refused call is told. Each page has a
/// cookie of its own, so signing in to one opens no other.
pub(crate) struct PageGuard {
    pub(crate) path: &'static str,
    pub(crate) cookie: &'static str,
    pub(crate) refusal: &'static str,
}

const GUARD: PageGuard = PageGuard {
    path: PAGE_PATH,
    cookie: COOKIE,
    refusal: REFUSAL,
};

async fn authorize(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    admit_page(&GUARD, &state, request, next).await
}

/// The admin guard, with the token taken from `?token=` (on the page only), the
/// `Authorization` header or the page's cookie, in that order; a token given as `?token=` that
/// lets the call through is set as the cookie.
pub(crate) async fn admit_page(
    guard: &PageGuard,
    state: &AdminState,
    request: Request,
    next: Next,
) -> Response {
    let from_query = if request.uri().path() == guard.path {
        query_token(request.uri())
    } else {
        None
    };
    let presented = from_query
        .clone()
        .or_else(|| admin::bearer(request.headers()).map(str::to_string))
        .or_else(|| cookie_token(request.headers(), guard.cookie));
    let mut response =
        admin::admit(state, presented.as_deref(), guard.refusal, request, next).await;
    if let Some(token) = from_query
        && response.status().is_success()
    {
        // Hex digits only, so always a valid header value.
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            guard.cookie,
            hex(token.as_bytes())
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn query_token(uri: &Uri) -> Option<String> {
    #[derive(Deserialize)]
    struct TokenParam {
        token: Option<String>,
    }
    axum::extract::Query::<TokenParam>::try_from_uri(uri)
        .ok()
        .and_then(|q| q.0.token)
}

/// The token in the page's cookie `name`. It is kept hex-encoded, since a token may hold
/// characters a cookie value may not (`;`, `,`, spaces).
fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .and_then(|(_, value)| unhex(value))
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `GET /judge`: the page. Not cached and no referrer, as its URL may hold the token.
async fn page() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(HTML),
    )
        .into_response()
}

/// `GET /admin/judge/sets`: every stored set with its counts, and the name a judgment is
/// recorded under when the rater gives none.
async fn sets(State(state): State<AdminState>) -> Result<Json<Value>, ApiError> {
    let sets = store::list_sets(state.db())
        .await
        .map_err(|e| quality_error(e, StatusCode::NOT_FOUND))?;
    let sets: Vec<Value> = sets
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name,
                "queries": s.queries,
                "judgments": {
                    "rater": s.judgments.rater,
                    "generated": s.judgments.generated,
                    "clicks": s.judgments.clicks,
                    "total": s.judgments.total(),
                },
                "created_at": s.created_at,
            })
        })
        .collect();
    Ok(Json(
        json!({ "sets": sets, "default_who": default_who(&state) }),
    ))
}

/// `GET /admin/judge/sets/{set}`: the set as [`quality::QuerySet`] serializes it.
async fn set(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<quality::QuerySet>, ApiError> {
    store::load_set(state.db(), &name)
        .await
        .map(Json)
        .map_err(|e| quality_error(e, StatusCode::NOT_FOUND))
}

/// `GET /admin/judge/results` parameters.
#[derive(Debug, Deserialize)]
struct ResultsParams {
    q: Option<String>,
    /// The variant shown (as `/search`'s `rank`); the active prior when absent.
    rank: Option<String>,
    /// A second variant to interleave with the first: `rank=none`, `rank=3`, `rank=active`.
    interleave: Option<String>,
}

/// One variant of the ranking: a rank choice, by its `/search` parameter.
struct Variant {
    /// `rank=active`, `rank=none`, `rank=v3`: what the page and the rows' `team` show.
    label: String,
    /// `/search`'s `rank` value; `None` for the active prior.
    rank: Option<String>,
}

/// `rank=none`, `none`, `rank=3`, `v3`, `active`, or nothing (the active prior).
fn variant(text: Option<&str>) -> Result<Variant, ApiError> {
    let text = text.unwrap_or_default().trim();
    let text = text.strip_prefix("rank=").unwrap_or(text).trim();
    if text.is_empty() || text.eq_ignore_ascii_case("active") {
        return Ok(Variant {
            label: "rank=active".into(),
            rank: None,
        });
    }
    let choice: RankChoice = text.parse().map_err(|e: engine::prior::BadRankChoice| {
        ApiError::bad_request(format!(
            "{e} (a variant is `rank=none`, `rank=3` or `rank=active`)"
        ))
    })?;
    Ok(Variant {
        label: format!("rank={choice}"),
        rank: Some(text.to_string()),
    })
}

/// `GET /admin/judge/results`: the rows to judge for one query.
async fn results(
    State(state): State<AdminState>,
    Params(params): Params<ResultsParams>,
) -> Result<Json<Value>, ApiError> {
    let search = state.search().ok_or_else(|| {
        ApiError::unavailable("this service judges no results: its admin state has no search")
    })?;
    let text = params.q.unwrap_or_default();
    let first = variant(params.rank.as_deref())?;
    let second = match params.interleave.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(variant(Some(text))?),
    };
    let mut ranks = vec![first.rank.as_deref()];
    if let Some(second) = &second {
        ranks.push(second.rank.as_deref());
    }
    let mut lists = api::search_variants(search, &text, &ranks, TOP).await?;
    let b = if second.is_some() { lists.pop() } else { None };
    let a = lists.pop().unwrap_or_default();
    let row = |item: &ResultItem, team: Option<&str>| {
        json!({
            "entity": format!("{}:{}", item.kind, item.id),
            "kind": item.kind,
            "id": item.id,
            "title": item.title,
            "subtitle": item.subtitle,
            "url": item.url,
            "team": team,
        })
    };
    let (variants, rows): (Vec<&str>, Vec<Value>) = match (&second, b) {
        (Some(second), Some(b)) => {
            let key = |item: &ResultItem| (item.kind.clone(), item.id);
            let items: HashMap<_, &ResultItem> =
                b.iter().chain(a.iter()).map(|i| (key(i), i)).collect();
            let keys_a: Vec<_> = a.iter().map(key).collect();
            let keys_b: Vec<_> = b.iter().map(key).collect();
            let rows = team_draft(&keys_a, &keys_b, TOP, coin(&text))
                .into_iter()
                .filter_map(|(key, team)| {
                    let label = match team {
                        Team::A => first.label.as_str(),
                        Team::B => second.label.as_str(),
                    };
                    items.get(&key).map(|item| row(item, Some(label)))
                })
                .collect();
            (vec![first.label.as_str(), second.label.as_str()], rows)
        }
        _ => (
            vec![first.label.as_str()],
            a.iter().map(|item| row(item, None)).collect(),
        ),
    };
    Ok(Json(json!({
        "query": text,
        "variants": variants,
        "interleaved": second.is_some(),
        "results": rows,
    })))
}

/// `POST /admin/judge/judgments` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgmentBody {
    set: String,
    /// 0-based, the index into the set's queries.
    position: u64,
    /// `kind:id`, e.g. `track:42`.
    entity: String,
    grade: u64,
    #[serde(default)]
    who: Option<String>,
}

/// `POST /admin/judge/judgments`: appends one rater judgment (201 with what was stored).
async fn judge(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "post the judgment as `Content-Type: application/json`".into(),
        });
    }
    let body: JudgmentBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("bad judgment: {e}")))?;
    let entity: EntityKey = body.entity.parse().map_err(|e| {
        ApiError::bad_request(format!("entity must be `kind:id` like `track:42`: {e}"))
    })?;
    let grade = u8::try_from(body.grade)
        .ok()
        .filter(|g| *g <= engine::evaluation::MAX_GRADE)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "grade {} is out of range: 0 (not relevant) to {} (the answer)",
                body.grade,
                engine::evaluation::MAX_GRADE
            ))
        })?;
    let position = usize::try_from(body.position)
        .map_err(|_| ApiError::bad_request("position is out of range"))?;
    let who = match body.who.as_deref().map(str::trim) {
        None | Some("") => default_who(&state),
        Some(who) if who.chars().count() > MAX_WHO_CHARS || who.chars().any(char::is_control) => {
            return Err(ApiError::bad_request(format!(
                "who must be a name of at most {MAX_WHO_CHARS} characters"
            )));
        }
        Some(who) => who.to_string(),
    };
    let judgment = Judgment {
        entity,
        grade,
        source: Source::Rater,
        who,
        at: chrono::Utc::now(),
    };
    store::add_judgment(state.db(), &body.set, position, &judgment)
        .await
        .map_err(|e| quality_error(e, StatusCode::BAD_REQUEST))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "set": body.set, "position": position, "judgment": judgment })),
    )
        .into_response())
}

/// Who a judgment is from when the rater gives no name: the token's fingerprint, never the
/// token.
fn default_who(state: &AdminState) -> String {
    format!("token-{}", state.token_fingerprint())
}

/// The store's errors as answers: an unknown set is `unknown` (404 for a path, 400 for a
/// body), a refused value 400, and the database's trouble a 500 whose detail goes to the log.
fn quality_error(error: QualityError, unknown: StatusCode) -> ApiError {
    match error {
        QualityError::UnknownSet(_) => ApiError {
            status: unknown,
            message: error.to_string(),
        },
        QualityError::Invalid(message) => ApiError::bad_request(message),
        other => {
            tracing::error!(error = %other, "the rater's page: query sets");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "reading or writing query sets failed; see the service log".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_parse_with_or_without_the_rank_prefix() {
        assert_eq!(variant(None).unwrap().label, "rank=active");
        assert_eq!(
            variant(Some("rank=none")).unwrap().rank.as_deref(),
            Some("none")
        );
        assert_eq!(variant(Some("none")).unwrap().label, "rank=none");
        assert_eq!(variant(Some("rank=3")).unwrap().label, "rank=v3");
        assert!(variant(Some("rank=best")).is_err());
    }

    #[test]
    fn the_cookie_keeps_any_token_and_reads_back() {
        let token = "s3cret; with=odd, chars";
        let mut headers = HeaderMap::new();
        let value = format!("other=1; {COOKIE}={}; more=2", hex(token.as_bytes()));
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        assert_eq!(cookie_token(&headers, COOKIE).as_deref(), Some(token));
        headers.insert(header::COOKIE, HeaderValue::from_static("disco_judge=zz"));
        assert_eq!(cookie_token(&headers, COOKIE), None);
        assert_eq!(unhex("abc"), None);
    }
}
