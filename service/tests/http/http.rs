//! Every parameter, limit and error of the HTTP contract.

use std::sync::Arc;

use axum::http::StatusCode;
use schemas::{EntityKey, EntityKind};

use engine::prior::{PopularitySource, Prior, PriorSource, RankChoice, UnknownRank};
use engine::{SearchSource, Snapshot};
use service::{QueryConfig, QueryState};

use crate::fixture::{TestIndex, chinook, definitions_with_track_field, track};
use crate::{encode, get, get_raw, keys};

#[tokio::test]
async fn search_answers_the_contract_shape() {
    let router = chinook().router();
    let (status, body) = get(&router, "/search?q=enter%20sandman").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["query"], "enter sandman");
    assert!(body["took_ms"].as_f64().is_some_and(|t| t >= 0.0));
    let counts = body["counts"].as_object().expect("counts");
    for kind in ["track", "user", "playlist", "group"] {
        assert!(counts[kind].is_u64(), "counts has {kind}: {body}");
    }
    let sum: u64 = counts.values().filter_map(|v| v.as_u64()).sum();
    assert_eq!(
        body["total"].as_u64(),
        Some(sum),
        "total over all kinds is the sum of counts"
    );
    let first = &body["results"][0];
    assert_eq!(first["kind"], "track");
    assert_eq!(first["title"], "Enter Sandman");
    let id = first["id"].as_i64().expect("id");
    assert_eq!(first["url"], format!("/tracks/{id}"));
    assert!(
        ["Metallica", "Apocalyptica"].contains(&first["subtitle"].as_str().unwrap_or_default()),
        "{first}"
    );
    assert!(first["score"].as_f64().is_some_and(|s| s > 0.0));
    assert_eq!(
        first["highlight"],
        "<mark>Enter</mark> <mark>Sandman</mark>"
    );
}

#[tokio::test]
async fn kind_filters_results_but_counts_cover_every_kind() {
    let router = chinook().router();
    let (status, body) = get(&router, "/search?q=metallica&kind=user").await;
    assert_eq!(status, StatusCode::OK);
    let results = keys(&body);
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|(kind, _)| kind == "user"),
        "{results:?}"
    );
    assert_eq!(body["results"][0]["title"], "Metallica");
    assert_eq!(body["results"][0]["subtitle"], "@metallica");
    assert_eq!(
        body["results"][0]["url"],
        format!("/users/{}", results[0].1)
    );
    assert_eq!(body["total"], body["counts"]["user"]);
    assert!(
        body["counts"]["track"].as_u64().is_some_and(|n| n > 10),
        "Metallica's tracks are counted: {body}"
    );
    let (_, all) = get(&router, "/search?q=metallica&kind=").await;
    assert_eq!(
        all["counts"], body["counts"],
        "an empty kind means all kinds"
    );
}

#[tokio::test]
async fn genre_filters_tracks() {
    let catalog = chinook();
    let router = catalog.router();
    let (_, all) = get(&router, "/search?q=love&kind=track&limit=100").await;
    let (status, body) = get(&router, "/search?q=love&kind=track&genre=Jazz&limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let results = keys(&body);
    assert!(!results.is_empty());
    assert!(results.len() < keys(&all).len());
    for (_, id) in &results {
        assert_eq!(
            catalog.row(EntityKind::Track, *id).text("genre"),
            Some("Jazz")
        );
    }
    let (_, folded) = get(
        &router,
        "/search?q=love&kind=track&genre=%20jAzZ%20&limit=100",
    )
    .await;
    assert_eq!(keys(&folded), results, "genre is matched folded");
    let (_, none) = get(&router, "/search?q=love&genre=Polka").await;
    assert_eq!(none["total"], 0);
}

/// A keyword field added to the definitions filters `/search` with no change to the service:
/// the generation that answers says what filters.
#[tokio::test]
async fn any_keyword_field_of_the_generation_filters() {
    let definitions =
        definitions_with_track_field(r#"{ "name": "mood", "type": "keyword", "stored": true }"#);
    let moody = |id, title, mood: &str, genre| {
        track(id, title, "Someone", 1.0, id)
            .with("mood", mood)
            .with("genre", genre)
    };
    let rows = vec![
        moody(1, "Rain Song", "calm", "Rock"),
        moody(2, "Rain Dance", "wild", "Rock"),
        moody(3, "Rain Again", "Calm", "Jazz"),
        track(4, "Rain Forever", "Someone", 1.0, 4).with("genre", "Jazz"),
    ];
    let router = TestIndex::build_with(definitions, rows, vec![]).router();
    let ids = |body: &serde_json::Value| {
        let mut ids: Vec<i64> = keys(body).into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        ids
    };
    for (uri, expected) in [
        ("/search?q=rain", vec![1, 2, 3, 4]),
        ("/search?q=rain&mood=calm", vec![1, 3]),
        ("/search?q=rain&mood=%20CALM%20&kind=track", vec![1, 3]),
        ("/search?q=rain&mood=calm&genre=jazz", vec![3]),
        ("/search?genre=rock&q=rain&mood=wild", vec![2]),
        ("/search?q=rain&mood=sad", vec![]),
        ("/search?q=rain&mood=", vec![1, 2, 3, 4]),
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(ids(&body), expected, "{uri}: {body}");
        assert_eq!(body["total"], expected.len(), "{uri}: {body}");
    }
    let long = "a".repeat(101);
    for (uri, says) in [
        (
            "/search?q=rain&title=x".to_string(),
            "unknown parameter `title`: this generation filters on genre, mood",
        ),
        (
            "/search?q=rain&nosuch=x".to_string(),
            "unknown parameter `nosuch`: this generation filters on genre, mood",
        ),
        (
            "/search?q=rain&nosuch=".to_string(),
            "unknown parameter `nosuch`",
        ),
        (
            "/search?q=rain&mood=calm&mood=wild".to_string(),
            "`mood` is given twice",
        ),
        (
            format!("/search?q=rain&mood={long}"),
            "`mood` is longer than 100 characters",
        ),
    ] {
        let (status, body) = get(&router, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{uri}: {error}");
    }
    // The shipped definitions have no mood: there it is an unknown parameter.
    let (status, body) = get(&chinook().router(), "/search?q=love&mood=calm").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "unknown parameter `mood`: this generation filters on genre \
         (other parameters: q, kind, limit, offset, rank, generation)"
    );
}

#[tokio::test]
async fn limit_and_offset_page_through_one_ranking() {
    let router = chinook().router();
    let (_, ten) = get(&router, "/search?q=love&limit=10").await;
    let (_, first) = get(&router, "/search?q=love&limit=5").await;
    let (_, second) = get(&router, "/search?q=love&limit=5&offset=5").await;
    let ten = keys(&ten);
    assert_eq!(ten.len(), 10);
    assert_eq!(keys(&first), ten[..5]);
    assert_eq!(keys(&second), ten[5..]);
    let (_, default) = get(&router, "/search?q=love").await;
    assert_eq!(keys(&default).len(), 20, "default limit");
    let (status, zero) = get(&router, "/search?q=love&limit=0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(keys(&zero).is_empty() && zero["total"].as_u64().is_some_and(|t| t > 10));
    let (status, far) = get(&router, "/search?q=love&offset=10000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(keys(&far).is_empty());
    let (_, max) = get(&router, "/search?q=love&limit=100").await;
    assert_eq!(
        keys(&max).len(),
        max["total"].as_u64().unwrap_or(0).min(100) as usize
    );
}

#[tokio::test]
async fn contract_limits_and_bad_parameters_are_json_400s() {
    let router = chinook().router();
    let long = "a".repeat(257);
    let longest = "a".repeat(256);
    let bad = [
        format!("/search?q={long}"),
        format!("/search?q={}", "é".repeat(257)),
        "/search?q=a&limit=101".into(),
        "/search?q=a&limit=-1".into(),
        "/search?q=a&limit=ten".into(),
        "/search?q=a&limit=1.5".into(),
        "/search?q=a&offset=10001".into(),
        "/search?q=a&offset=99999999999999999999999".into(),
        "/search?q=a&kind=song".into(),
        "/search?q=a&rank=latest".into(),
        "/search?q=a&rank=7".into(),
        format!("/search?q=a&genre={long}"),
        "/search?q=a&q=b".into(),
        "/explore?limit=101".into(),
        "/explore?limit=x".into(),
        "/explore?rank=v9".into(),
    ];
    for uri in &bad {
        let (status, body, content_type) = get_raw(&router, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{uri}: {content_type}"
        );
        let value: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(
            value["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}: {body}"
        );
    }
    let (status, _) = get(&router, &format!("/search?q={longest}")).await;
    assert_eq!(status, StatusCode::OK, "256 characters is within the limit");
    let (status, body) = get(&router, "/search?q=a&limit=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("limit")),
        "the error names the parameter: {body}"
    );
}

#[tokio::test]
async fn empty_and_exclusion_only_queries_find_nothing_without_error() {
    let router = chinook().router();
    for uri in [
        "/search",
        "/search?q=",
        "/search?q=%20%20",
        "/search?q=-rock",
        "/search?q=%22%22",
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(body["total"], 0, "{uri}");
        assert!(keys(&body).is_empty());
    }
}

#[tokio::test]
async fn phrases_and_exclusions() {
    let router = chinook().router();
    let (_, phrase) = get(
        &router,
        &format!("/search?q={}&kind=track", encode("\"enter sandman\"")),
    )
    .await;
    let titles: Vec<&str> = phrase["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["title"].as_str())
        .collect();
    assert_eq!(titles, ["Enter Sandman", "Enter Sandman"]);
    let (_, reversed) = get(
        &router,
        &format!("/search?q={}&kind=track", encode("\"sandman enter\"")),
    )
    .await;
    assert!(
        keys(&reversed).iter().all(|k| !phrase["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["id"] == k.1))),
        "word order matters in a phrase"
    );
    let (_, without) = get(
        &router,
        &format!("/search?q={}&kind=track", encode("sandman -apocalyptica")),
    )
    .await;
    let subtitles: Vec<&str> = without["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["subtitle"].as_str())
        .collect();
    assert!(!subtitles.is_empty());
    assert!(subtitles.contains(&"Metallica"), "{subtitles:?}");
    assert!(!subtitles.contains(&"Apocalyptica"), "{subtitles:?}");
}

#[tokio::test]
async fn highlights_mark_matches_and_escape_the_rest() {
    let catalog = TestIndex::build(
        vec![
            track(1, "Rock & <Roll> Forever", "Ünïcode Band", 0.0, 1),
            track(2, "Quiet", "Nobody", 0.0, 1)
                .with("description", "A <b>calm</b> piece about forever and rock."),
        ],
        vec![],
    );
    let router = catalog.router();
    let (_, body) = get(&router, "/search?q=rock").await;
    let by_id = |id: i64| {
        body["results"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        by_id(1)["highlight"],
        "<mark>Rock</mark> &amp; &lt;Roll&gt; Forever"
    );
    assert_eq!(
        by_id(1)["title"],
        "Rock & <Roll> Forever",
        "titles are plain text; only highlight is HTML"
    );
    let description = by_id(2)["highlight"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(description.contains("<mark>rock</mark>"), "{description}");
    assert!(
        description.contains("&lt;b&gt;calm&lt;/b&gt;"),
        "{description}"
    );
    let (_, folded) = get(&router, "/search?q=unicode").await;
    assert_eq!(folded["results"][0]["subtitle"], "Ünïcode Band");
}

#[tokio::test]
async fn unsearchable_entities_never_appear() {
    let hidden = [
        EntityKey::new(EntityKind::Track, 3),
        EntityKey::new(EntityKind::User, 4),
        EntityKey::new(EntityKind::Track, 5),
    ];
    let catalog = TestIndex::build(
        vec![
            track(1, "Visible Song", "Someone", 5.0, 2),
            track(2, "Other Song", "Someone", 1.0, 1),
        ],
        hidden.to_vec(),
    );
    let router = catalog.router();
    let (_, explore) = get(&router, "/explore?limit=100").await;
    assert_eq!(
        keys(&explore),
        [("track".to_string(), 1), ("track".to_string(), 2)]
    );
    assert_eq!(explore["total"], 2);
    let (_, search) = get(&router, "/search?q=song&limit=100").await;
    assert_eq!(search["total"], 2);
}

#[tokio::test]
async fn explore_ranks_recent_tracks_and_filters_by_genre() {
    let catalog = chinook();
    let router = catalog.router();
    let (status, body) = get(&router, "/explore?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let results = keys(&body);
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(|(kind, _)| kind == "track"));
    let scores: Vec<f64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["score"].as_f64())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    // Tracks are uploaded an hour apart; Explore favours the newest.
    let mean_id = results.iter().map(|(_, id)| *id as f64).sum::<f64>() / results.len() as f64;
    assert!(mean_id > 3000.0, "recent tracks first: {results:?}");
    let (_, jazz) = get(&router, "/explore?genre=Jazz&limit=20").await;
    let jazz = keys(&jazz);
    assert!(!jazz.is_empty());
    for (_, id) in jazz {
        assert_eq!(
            catalog.row(EntityKind::Track, id).text("genre"),
            Some("Jazz")
        );
    }
    let (_, none) = get(&router, "/explore?limit=0").await;
    assert!(keys(&none).is_empty());
}

#[tokio::test]
async fn explore_half_life_is_configurable() {
    // A popular two-month-old track against an unknown fresh one: a week's half-life has decayed
    // the old one below the fresh one's floor; a year's half-life lets popularity win.
    let catalog = TestIndex::build(
        vec![
            track(1, "Old Hit", "A", 1000.0, 24 * 60),
            track(2, "Fresh", "B", 0.0, 1),
        ],
        vec![],
    );
    let mut config = QueryConfig::default();
    let (_, short) = get(
        &service::router(catalog.state().with_config(config.clone())),
        "/explore",
    )
    .await;
    assert_eq!(
        keys(&short)[0].1,
        2,
        "a week's half-life favours the new upload"
    );
    config.recency.half_life = std::time::Duration::from_secs(365 * 24 * 3600);
    let (_, long) = get(
        &service::router(catalog.state().with_config(config)),
        "/explore",
    )
    .await;
    assert_eq!(
        keys(&long)[0].1,
        1,
        "a year's half-life lets the popular one lead"
    );
}

#[tokio::test]
async fn health_readiness_and_missing_index() {
    struct Closed;
    impl SearchSource for Closed {
        fn snapshot(&self) -> Option<Snapshot> {
            None
        }
    }
    let router = chinook().router();
    let (status, body) = get(&router, "/healthz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = get(&router, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ready"], true);

    let closed = service::router(QueryState::new(Arc::new(Closed)));
    let (status, body) = get(&closed, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (body["ready"].as_bool(), body["index"].as_bool()),
        (Some(false), Some(false))
    );
    let (status, body) = get(&closed, "/search?q=x").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].is_string());
    let (status, _) = get(&closed, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "alive even without an index");
}

#[tokio::test]
async fn metrics_count_latency_statuses_and_zero_results() {
    let router = chinook().router();
    get(&router, "/search?q=sandman").await;
    get(&router, "/search?q=zzzzqqqqxxxx").await;
    get(&router, "/search?q=a&limit=1000").await;
    let (status, text, content_type) = get_raw(&router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    assert!(
        text.contains("disco_http_request_duration_seconds_bucket{endpoint=\"/search\""),
        "{text}"
    );
    assert!(
        text.contains("disco_http_requests_total{endpoint=\"/search\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("disco_http_requests_total{endpoint=\"/search\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(text.contains("disco_search_zero_results_total 1"), "{text}");
    assert!(text.contains("disco_search_queries_total 2"), "{text}");
}

#[tokio::test]
async fn openapi_page_and_unknown_paths() {
    let router = chinook().router();
    let (status, api) = get(&router, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/search", "/explore", "/suggest", "/healthz", "/readyz", "/metrics",
    ] {
        assert!(api["paths"][path]["get"].is_object(), "{path} described");
    }
    assert!(
        api["paths"]["/events"]["post"].is_object(),
        "/events described"
    );
    for answer in ["SearchResponse", "SuggestResponse"] {
        let fields = &api["components"]["schemas"][answer]["properties"];
        assert!(
            fields["query_id"].is_object(),
            "{answer} has query_id: {fields}"
        );
    }
    let params: Vec<&str> = api["paths"]["/search"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    // The handler's list of its own parameters (anything else is a filter) is the documented one.
    assert_eq!(params, service::api::SEARCH_PARAMETERS);
    let description = api["paths"]["/search"]["get"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains("`<field>=<value>` filters on any keyword field"),
        "/search describes its keyword filters: {description}"
    );
    let (status, html, content_type) = get_raw(&router, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(html.contains("id=\"q\"") && html.contains("id=\"suggest\""));
    let (status, body) = get(&router, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

/// A prior source with one kept version that favours one entity, to check `rank=<v>` routing.
struct Versions {
    favourite: EntityKey,
}

struct Favour(EntityKey);

impl Prior for Favour {
    fn strength(&self, key: EntityKey, _: f64) -> f32 {
        if key == self.0 { 1.0 } else { 0.0 }
    }
}

impl PriorSource for Versions {
    fn prior(&self, choice: RankChoice) -> Result<Option<Arc<dyn Prior>>, UnknownRank> {
        match choice {
            RankChoice::Version(3) => Ok(Some(Arc::new(Favour(self.favourite)))),
            RankChoice::Version(v) => Err(UnknownRank(v)),
            RankChoice::None => Ok(None),
            RankChoice::Active => PopularitySource::default().prior(RankChoice::Active),
        }
    }
}

#[tokio::test]
async fn rank_selects_the_prior_per_request() {
    let catalog = TestIndex::build(
        vec![
            track(1, "Same Title", "A", 100.0, 1),
            track(2, "Same Title", "B", 0.0, 1),
        ],
        vec![],
    );
    let favourite = EntityKey::new(EntityKind::Track, 2);
    let state = catalog
        .state()
        .with_priors(Arc::new(Versions { favourite }));
    let router = service::router(state);
    let order =
        |body: &serde_json::Value| keys(body).into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let (_, active) = get(&router, "/search?q=same%20title").await;
    assert_eq!(
        order(&active),
        [1, 2],
        "the active prior (popularity) puts the popular one first"
    );
    let (_, v3) = get(&router, "/search?q=same%20title&rank=3").await;
    assert_eq!(order(&v3), [2, 1], "version 3 favours track 2");
    let (_, v3) = get(&router, "/search?q=same%20title&rank=v3").await;
    assert_eq!(order(&v3), [2, 1]);
    let (status, err) = get(&router, "/search?q=same%20title&rank=4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().is_some_and(|e| e.contains('4')));
    let (_, none) = get(&router, "/search?q=same%20title&rank=none").await;
    let scores: Vec<f64> = none["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["score"].as_f64())
        .collect();
    assert_eq!(scores.len(), 2);
    assert!(
        (scores[0] - scores[1]).abs() < 1e-6,
        "without a prior the two score the same: {scores:?}"
    );
}

#[tokio::test]
async fn suggest_answers_typed_suggestions_within_the_limits() {
    let router = chinook().router();
    let (status, body) = get(&router, "/suggest?q=enter%20sand").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["query"], "enter sand");
    assert!(body["took_ms"].as_f64().is_some_and(|t| t >= 0.0));
    let first = &body["suggestions"][0];
    assert_eq!(first["kind"], "track");
    assert_eq!(first["text"], "Enter Sandman");
    assert_eq!(first["url"], format!("/tracks/{}", first["id"]));

    let (_, users) = get(&router, "/suggest?q=metal&kind=user").await;
    let users = users["suggestions"]
        .as_array()
        .expect("suggestions")
        .clone();
    assert!(!users.is_empty());
    assert!(users.iter().all(|s| s["kind"] == "user"), "{users:?}");
    assert_eq!(users[0]["text"], "Metallica");

    let (_, one) = get(&router, "/suggest?q=love&limit=1").await;
    assert_eq!(one["suggestions"].as_array().map(Vec::len), Some(1));
    let (_, default) = get(&router, "/suggest?q=love").await;
    assert_eq!(default["suggestions"].as_array().map(Vec::len), Some(8));
    let (_, typo) = get(&router, "/suggest?q=metallcia").await;
    assert_eq!(
        typo["suggestions"][0]["text"], "Metallica",
        "a typo still suggests"
    );
    let (status, empty) = get(&router, "/suggest?q=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["suggestions"].as_array().map(Vec::len), Some(0));

    for uri in [
        "/suggest?q=a&limit=101",
        "/suggest?q=a&limit=x",
        "/suggest?q=a&kind=song",
        &format!("/suggest?q={}", "b".repeat(257)),
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body["error"].is_string());
    }
    let without = service::router(QueryState::new(chinook().source()));
    let (status, body) = get(&without, "/suggest?q=met").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].is_string());
}

/// A source that takes its time handing out a searcher (a generation being swapped in).
struct Slow(Arc<engine::FixedSource>);

impl SearchSource for Slow {
    fn snapshot(&self) -> Option<Snapshot> {
        std::thread::sleep(std::time::Duration::from_millis(500));
        self.0.snapshot()
    }
}

#[tokio::test]
async fn a_search_over_its_time_budget_is_a_json_503() {
    let config = QueryConfig {
        request_timeout: std::time::Duration::from_millis(20),
        ..QueryConfig::default()
    };
    let state = QueryState::new(Arc::new(Slow(chinook().source()))).with_config(config);
    let router = service::router(state);
    for uri in ["/search?q=love", "/explore"] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("too long")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn result_urls_lead_to_entity_pages_and_hidden_entities_are_gone() {
    let router = chinook().router();
    let (_, search) = get(&router, "/search?q=love&limit=30").await;
    let results = search["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for result in results {
        let url = result["url"].as_str().expect("url");
        let (status, html, content_type) = get_raw(&router, url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(content_type.starts_with("text/html"), "{url}");
        let title = result["title"].as_str().expect("title");
        let escaped = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(
            html.contains(&format!("<h1>{escaped}</h1>")),
            "{url}: {html}"
        );
    }

    let hidden = EntityKey::new(EntityKind::Track, 3);
    let catalog = TestIndex::build(
        vec![track(1, "Visible Song", "Someone", 5.0, 2)],
        vec![hidden],
    );
    let router = catalog.router();
    let (status, html, _) = get_raw(&router, "/tracks/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Visible Song") && html.contains("Someone"),
        "{html}"
    );
    for gone in [
        "/tracks/3",
        "/tracks/999",
        "/users/1",
        "/tracks/abc",
        "/groups/-1",
    ] {
        let (status, html, _) = get_raw(&router, gone).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
        assert!(html.contains("There is no public"), "{gone}: {html}");
    }
}
