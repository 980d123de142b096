//! The click log and experiments through the HTTP API, over a real SQLite database: query ids
//! on every answer, reports checked and written, experiment arms served and credited, all kept
//! across a restart; and the page in a real browser reporting a click.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use http_body_util::BodyExt;
use quality::clicks::Mode;
use quality::experiments::{self, Arm, Experiment};
use schemas::db::Db;
use serde_json::{Value, json};
use service::QueryState;
use service::events::{EventLog, QUEUE};
use service::experiments::RunningExperiments;
use service::metrics::Metrics;
use tower::ServiceExt;

use crate::browser::{Browser, artifacts};
use crate::fixture::chinook;

/// The Chinook query service with a click log and the experiments stored in its database.
struct Logged {
    router: Router,
    state: QueryState,
    db: Db,
    dir: tempfile::TempDir,
}

/// A service over `dir`'s database, as the binary wires one (a writer task and the running
/// experiments read from the table).
async fn service_over(dir: tempfile::TempDir) -> Logged {
    let db = crate::site_db(&dir).await;
    let metrics = Metrics::local();
    let (log, writer) = EventLog::new(QUEUE, metrics.clone());
    tokio::spawn(service::events::drain(db.clone(), writer));
    let running = experiments::running(&db)
        .await
        .expect("running experiments");
    let state = chinook()
        .state()
        .with_metrics(metrics)
        .with_events(Arc::new(log))
        .with_experiments(Arc::new(RunningExperiments::new(running)));
    Logged {
        router: service::router(state.clone()),
        state,
        db,
        dir,
    }
}

async fn logged(experiments_made: &[Experiment]) -> Logged {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::site_db(&dir).await;
    for experiment in experiments_made {
        experiments::create(&db, experiment)
            .await
            .expect("create experiment");
    }
    service_over(dir).await
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn search(router: &Router, uri: &str, session: Option<&str>) -> Value {
    let mut request = Request::get(uri);
    if let Some(session) = session {
        request = request.header(header::COOKIE, format!("disco_session={session}"));
    }
    let (status, body) = send(router, request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

async fn post_events(router: &Router, body: impl Into<Body>) -> (StatusCode, Value) {
    let request = Request::post("/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request");
    send(router, request).await
}

fn click(query_id: &str, position: usize, result: &Value) -> Value {
    json!({"type": "click", "query_id": query_id, "position": position,
           "kind": result["kind"], "id": result["id"]})
}

/// Waits until the writer has stored `clicks` clicks (it batches every quarter second).
async fn stored_clicks(
    db: &Db,
    clicks: usize,
) -> (
    Vec<quality::clicks::ServedQuery>,
    Vec<quality::clicks::Click>,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (served, stored) = quality::click_log::load(db, None, None)
            .await
            .expect("load log");
        if stored.len() >= clicks {
            return (served, stored);
        }
        assert!(
            Instant::now() < deadline,
            "{} of {clicks} clicks stored",
            stored.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn arms(specs: &[&str]) -> Vec<Arm> {
    specs.iter().map(|s| Arm::parse(s).expect("arm")).collect()
}

#[tokio::test]
async fn every_answer_has_a_query_id_and_a_click_is_stored_as_reported() {
    let logged = logged(&[]).await;
    let router = &logged.router;
    let answer = search(router, "/search?q=love&limit=5", Some("visitor-1")).await;
    let query_id = answer["query_id"].as_str().expect("query_id").to_string();
    assert_eq!(query_id.len(), 16, "{answer}");
    assert_eq!(answer["experiment"], Value::Null);
    for uri in ["/suggest?q=lov", "/explore?limit=3"] {
        let other = search(router, uri, Some("visitor-1")).await;
        let id = other["query_id"].as_str().unwrap_or_default();
        assert!(id.len() == 16 && id != query_id, "{uri}: {other}");
    }

    let results = answer["results"].as_array().expect("results");
    let shown: Vec<Value> = results
        .iter()
        .map(|r| json!({"kind": r["kind"], "id": r["id"]}))
        .collect();
    let report = json!({"session": "visitor-1", "events": [
        {"type": "impression", "query_id": query_id, "shown": shown},
        click(&query_id, 2, &results[1]),
    ]});
    let (status, body) = post_events(router, report.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({"accepted": 2, "dropped": 0}));

    let metrics = logged.state.metrics().render();
    for series in [
        "disco_impressions_total 1",
        "disco_clicks_total{position=\"2\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} for Grafana:\n{metrics}");
    }
    let (served, clicks) = stored_clicks(&logged.db, 1).await;
    let search_logged = served
        .iter()
        .find(|s| s.query_id == query_id)
        .expect("the search is logged");
    assert_eq!(
        (search_logged.text.as_str(), search_logged.session.as_str()),
        ("love", "visitor-1")
    );
    assert_eq!(search_logged.shown.len(), results.len());
    assert_eq!(clicks.len(), 1);
    assert_eq!(clicks[0].query_id, query_id);
    assert_eq!(clicks[0].position, 2);
    assert_eq!(clicks[0].entity, search_logged.shown[1].entity);
    assert_eq!(
        clicks[0].entity.to_string(),
        format!(
            "{}:{}",
            results[1]["kind"].as_str().unwrap_or_default(),
            results[1]["id"]
        )
    );
    assert_eq!(
        served.len(),
        1,
        "suggest and explore are logged, but are not searches"
    );
}

#[tokio::test]
async fn bad_reports_are_refused_with_the_reason_and_counted() {
    let logged = logged(&[]).await;
    let router = &logged.router;
    let answer = search(router, "/search?q=love&limit=3", Some("v")).await;
    let id = answer["query_id"].as_str().unwrap_or_default().to_string();
    let first = &answer["results"][0];
    let cases: [(String, &str); 6] = [
        ("{\"session\": \"v\", \"events\": [".into(), "not a report"),
        (json!({"session": "v", "events": [click("0123456789abcdef", 1, first)]}).to_string(), "unknown query_id"),
        (json!({"session": "v", "events": [click(&id, 4, first)]}).to_string(), "position 4"),
        (json!({"session": "v", "events": [{"type": "click", "query_id": id, "position": 1, "kind": "track", "id": -1}]}).to_string(), "position 1"),
        // Reports never name an experiment: the service logged which arm showed what.
        (json!({"session": "v", "events": [{"type": "click", "query_id": id, "position": 1, "kind": first["kind"], "id": first["id"], "experiment": "made-up"}]}).to_string(), "unknown field"),
        (format!("{{\"session\": \"v\", \"events\": [], \"pad\": \"{}\"}}", "x".repeat(20_000)), "at most 16384 bytes"),
    ];
    for (body, reason) in cases {
        let (status, answer) = post_events(router, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:.80}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{reason:?} not in {error:?}");
    }
    let metrics = logged.state.metrics().render();
    for reason in ["malformed", "unknown_query", "position", "oversized"] {
        assert!(
            metrics.contains(&format!(
                "disco_click_events_rejected_total{{reason=\"{reason}\"}}"
            )),
            "{reason} counted:\n{metrics}"
        );
    }
    // Nothing of a refused report was kept; the search itself still works.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, clicks) = quality::click_log::load(&logged.db, None, None)
        .await
        .expect("load");
    assert!(clicks.is_empty());
    search(router, "/search?q=love", Some("v")).await;
}

#[tokio::test]
async fn interleaved_arms_are_credited_and_kept_across_a_restart() {
    let made = Experiment::new(
        "discorank-vs-text",
        Mode::Interleave,
        arms(&["rank:rank=active", "text:rank=none"]),
        1.0,
        Utc::now(),
    )
    .expect("experiment");
    let logged = logged(&[made]).await;
    let router = &logged.router;

    let anonymous = search(router, "/search?q=love", None).await;
    assert_eq!(
        anonymous["experiment"],
        Value::Null,
        "no cookie, no experiment"
    );
    let chosen = search(router, "/search?q=love&rank=none", Some("s1")).await;
    assert_eq!(
        chosen["experiment"],
        Value::Null,
        "an explicit rank opts out"
    );

    let mut clicks = 0;
    for (i, query) in ["love", "rock", "blue", "night", "dance"]
        .iter()
        .enumerate()
    {
        let session = format!("s{i}");
        let answer = search(
            router,
            &format!("/search?q={query}&limit=10"),
            Some(&session),
        )
        .await;
        assert_eq!(answer["experiment"], "discorank-vs-text", "{answer}");
        assert_eq!(
            answer["arm"],
            Value::Null,
            "interleaved: each result names its arm"
        );
        let results = answer["results"].as_array().expect("results");
        assert!(!results.is_empty(), "{query}");
        // The arms' common top names no arm; every result after it names its own.
        let mut credited = results.iter().skip_while(|r| r.get("arm").is_none());
        assert!(
            credited.all(|r| r["arm"] == "rank" || r["arm"] == "text"),
            "{answer}"
        );
        // The visitor clicks the first result the text-only arm contributed.
        if let Some(position) = results.iter().position(|r| r["arm"] == "text") {
            let id = answer["query_id"].as_str().unwrap_or_default();
            let report = json!({"session": session, "events": [click(id, position + 1, &results[position])]});
            let (status, body) = post_events(router, report.to_string()).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            clicks += 1;
        }
    }
    assert!(clicks >= 3, "the text arm shows something in most answers");
    stored_clicks(&logged.db, clicks).await;
    let report = service::experiments::experiment_report(&logged.db, "discorank-vs-text")
        .await
        .expect("report");
    let verdict = report
        .interleaving
        .as_ref()
        .expect("an interleaving verdict");
    assert_eq!(
        (verdict.wins_b, verdict.wins_a),
        (clicks as u64, 0),
        "{report}"
    );

    // A restart: a new service over the same database finds both.
    let Logged { dir, .. } = logged;
    let again = service_over(dir).await;
    let answer = search(&again.router, "/search?q=love", Some("s9")).await;
    assert_eq!(answer["experiment"], "discorank-vs-text");
    let (served, kept) = quality::click_log::load(&again.db, Some("discorank-vs-text"), None)
        .await
        .expect("load");
    assert_eq!(kept.len(), clicks);
    assert!(served.len() >= 5);
}

#[tokio::test]
async fn an_ab_session_keeps_its_arm() {
    let made = Experiment::new(
        "ab",
        Mode::AB,
        arms(&["rank:rank=active", "text:rank=none"]),
        1.0,
        Utc::now(),
    )
    .expect("experiment");
    let logged = logged(&[made]).await;
    let mut seen = std::collections::BTreeSet::new();
    for session in ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"] {
        let first = search(&logged.router, "/search?q=love", Some(session)).await;
        let arm = first["arm"].as_str().expect("an A/B arm").to_string();
        for query in ["rock", "love"] {
            let again = search(&logged.router, &format!("/search?q={query}"), Some(session)).await;
            assert_eq!(again["arm"], arm.as_str(), "sticky for {session}");
        }
        seen.insert(arm);
    }
    assert_eq!(seen.len(), 2, "eight sessions meet both arms: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reports_a_click_in_a_real_browser() {
    let logged = logged(&[]).await;
    let server = crate::serve_in_background(logged.router.clone()).await;
    let address = server.address;
    let url = format!("http://{address}/?q=enter%20sandman&kind=track");
    let dir = artifacts();
    let clicked = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch();
        browser.open(&url);
        browser.wait_for("track results", "document.querySelectorAll('#results .result[data-query]').length > 1");
        let second = browser.eval(
            "(() => { const r = document.querySelectorAll('#results .result')[1]; \
              return {query: r.dataset.query, position: r.dataset.position, kind: r.dataset.kind, id: r.dataset.id}; })()",
        );
        browser.screenshot(&dir.join("clicks-before.png"));
        browser.click("#results .result:nth-child(2) a.title");
        browser.wait_for("the entity page", "location.pathname.startsWith('/tracks/')");
        let session = browser.eval("document.cookie");
        (second, session)
    })
    .await
    .expect("browser");
    let (second, cookie) = clicked;
    let (served, clicks) = stored_clicks(&logged.db, 1).await;
    let click = &clicks[0];
    assert_eq!(Some(click.query_id.as_str()), second["query"].as_str());
    assert_eq!(
        click.position.to_string(),
        second["position"].as_str().unwrap_or_default()
    );
    assert_eq!(
        click.entity.to_string(),
        format!(
            "{}:{}",
            second["kind"].as_str().unwrap_or_default(),
            second["id"].as_str().unwrap_or_default()
        )
    );
    let search = served
        .iter()
        .find(|s| s.query_id == click.query_id)
        .expect("its search is logged");
    assert_eq!(search.text, "enter sandman");
    assert!(
        cookie
            .as_str()
            .is_some_and(|c| c.contains(&format!("disco_session={}", search.session))),
        "{cookie}"
    );
    server.stop().await;
}

#[tokio::test]
async fn experiments_are_managed_over_the_admin_api() {
    const TOKEN: &str = "admin-secret";
    let logged = logged(&[]).await;
    let catalog = indexer::Generations::open(logged.dir.path()).expect("generations");
    let admin = service::admin::AdminState::new(TOKEN, catalog, logged.db.clone());
    let router = service::admin::router(admin);
    let call = |method: &str, uri: &str, body: Option<Value>| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        send(&router, request.body(body).expect("request"))
    };
    let made = json!({"name": "ranking", "mode": "interleave", "traffic": 0.5,
                      "arms": [{"name": "rank", "variant": "rank=active"}, {"name": "text", "variant": "rank=none"}]});
    let (status, body) = call("POST", "/admin/experiments", Some(made.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["mode"], "interleave");
    let (status, body) = call("POST", "/admin/experiments", Some(made)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a name is never reused: {body}"
    );
    let three = json!({"name": "three", "mode": "interleave",
                       "arms": [{"name": "a", "variant": "rank=active"}, {"name": "b", "variant": "rank=none"}, {"name": "c", "variant": "rank=1"}]});
    let (status, body) = call("POST", "/admin/experiments", Some(three)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("exactly two arms"),
        "{body}"
    );

    let (status, body) = call("GET", "/admin/experiments", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["experiments"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let (status, body) = call("GET", "/admin/experiments/ranking/report", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiment"], "ranking");
    assert_eq!(body["arms"].as_array().map(Vec::len), Some(2), "{body}");

    let (status, body) = call("POST", "/admin/experiments/ranking/stop", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["stopped_at"].is_string(), "{body}");
    let (status, _) = call("POST", "/admin/experiments/ranking/stop", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "stopped already");
    let (status, _) = call("GET", "/admin/experiments/nope/report", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let unauthorised = Request::get("/admin/experiments")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        send(&router, unauthorised).await.0,
        StatusCode::UNAUTHORIZED
    );
}
