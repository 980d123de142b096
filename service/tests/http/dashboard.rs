//! The dashboard (`service::dashboard`): its guard (bearer, `?token=` once, then a cookie of its
//! own), the data call's panels after real traffic, and the page in headless Chromium.
//!
//! The traffic is real: searches and a suggest go through the router (so the load window and the
//! click log see them), a click and a malformed report go to `POST /events`, and the click log's
//! writer drains into a temporary SQLite database, which also holds one running experiment. The
//! admin state has no rank store, so the ranks figure shows its error while the rest renders.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use quality::clicks::Mode;
use quality::experiments::{self, Arm, Experiment};
use schemas::db::Db;
use serde_json::{Value, json};
use service::admin::AdminState;
use service::events::{self, EventLog};

use crate::browser::{Browser, artifacts};
use crate::fixture::chinook;
use crate::get;
use crate::send;

const TOKEN: &str = "dashboard-test-token";
const EXPERIMENT: &str = "prior-vs-text";
/// Finds nothing in Chinook, not even by fuzzy matching.
const NOTHING: &str = "qqxzvvkjw";

/// The query service with a click log and the admin routes, over a fresh database.
struct Watched {
    router: Router,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn watched() -> Watched {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::site_db(&dir).await;
    let catalog = indexer::Generations::open(dir.path()).expect("generations");
    let state = chinook().state();
    let (log, writer) = EventLog::new(events::QUEUE, state.metrics().clone());
    tokio::spawn(events::drain(db.clone(), writer));
    let state = state.with_events(Arc::new(log));
    let admin = AdminState::new(TOKEN, catalog, db.clone()).with_search(state.clone());
    let arms = vec![
        Arm {
            name: "prior".into(),
            variant: "rank=active".into(),
        },
        Arm {
            name: "text".into(),
            variant: "rank=none".into(),
        },
    ];
    let experiment = Experiment::new(EXPERIMENT, Mode::Interleave, arms, 1.0, chrono::Utc::now())
        .expect("experiment");
    experiments::create(&db, &experiment)
        .await
        .expect("create experiment");
    Watched {
        router: service::router(state).merge(service::admin::router(admin)),
        db,
        _dir: dir,
    }
}

/// Three searches (one finds nothing), a suggest, a click on the first search's top result and
/// a malformed report; returns once the click log holds them.
async fn traffic(watched: &Watched) {
    let router = &watched.router;
    let (status, love) = get(router, "/search?q=love").await;
    assert_eq!(status, StatusCode::OK, "{love}");
    let (status, _) = get(router, "/search?q=metallica").await;
    assert_eq!(status, StatusCode::OK);
    let (status, nothing) = get(router, &format!("/search?q={NOTHING}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nothing["total"], 0, "{nothing}");
    let (status, _) = get(router, "/suggest?q=met").await;
    assert_eq!(status, StatusCode::OK);

    let top = &love["results"][0];
    let click = json!({
        "session": "dashboard-test",
        "events": [{ "type": "click", "query_id": love["query_id"], "position": 1,
                     "kind": top["kind"], "id": top["id"] }],
    });
    let (status, _, body) = send(router, "POST", "/events", &[], Some(&click.to_string())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, _) = send(router, "POST", "/events", &[], Some("not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let summary = quality::click_log::summary(&watched.db, since, 10)
            .await
            .expect("summary");
        if summary.searches == 3 && summary.click_positions.first() == Some(&1) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the click log never held the traffic: {summary:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET uri` with the token; the status and the JSON answer.
async fn admin_get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let bearer = format!("Bearer {TOKEN}");
    let (status, _, body) = send(router, "GET", uri, &[("authorization", &bearer)], None).await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{uri}: answer is not JSON ({e}): {body}"));
    (status, json)
}

#[tokio::test]
async fn dashboard_needs_the_admin_token_and_keeps_it_in_a_cookie_of_its_own() {
    let watched = watched().await;
    let router = &watched.router;

    let (status, headers, body) = send(router, "GET", "/dashboard", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body.contains("/dashboard?token="),
        "says how to sign in: {body}"
    );
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (status, _, _) = send(router, "GET", "/admin/dashboard/data", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = send(router, "GET", "/dashboard?token=nope", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(header::SET_COOKIE).is_none());

    let uri = format!("/dashboard?token={TOKEN}");
    let (status, headers, body) = send(router, "GET", &uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<title>Disco — dashboard</title>"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    let set_cookie = headers[header::SET_COOKIE].to_str().expect("ASCII");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("name=value");
    assert!(cookie.starts_with("disco_dashboard="), "{cookie}");
    assert!(!cookie.contains(TOKEN), "the token is kept encoded");

    let with_cookie = [("cookie", cookie)];
    let (status, _, body) = send(router, "GET", "/admin/dashboard/data", &with_cookie, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for elsewhere in ["/admin/generations", "/admin/judge/sets"] {
        let (status, _, _) = send(router, "GET", elsewhere, &with_cookie, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{elsewhere}: the cookie is the page's only"
        );
    }
    let judge_cookie = cookie.replace("disco_dashboard=", "disco_judge=");
    let with_judge_cookie = [("cookie", judge_cookie.as_str())];
    let (status, _, _) = send(
        router,
        "GET",
        "/admin/dashboard/data",
        &with_judge_cookie,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the rater's cookie opens the rater's page only"
    );
}

#[tokio::test]
async fn dashboard_data_shows_load_quality_and_the_click_log_after_traffic() {
    let watched = watched().await;
    traffic(&watched).await;
    let (status, data) = admin_get(&watched.router, "/admin/dashboard/data").await;
    assert_eq!(status, StatusCode::OK, "{data}");

    let endpoints = data["load"]["endpoints"].as_array().expect("endpoints");
    let search = endpoints
        .iter()
        .find(|e| e["endpoint"] == "/search")
        .expect("/search has load");
    assert_eq!(search["requests"], 3);
    assert_eq!(search["errors"], 0);
    assert!(
        search["per_second"].as_f64().is_some_and(|r| r > 0.0),
        "{search}"
    );
    let (p50, p99) = (search["p50_ms"].as_f64(), search["p99_ms"].as_f64());
    assert!(
        p50.zip(p99)
            .is_some_and(|(p50, p99)| 0.0 < p50 && p50 <= p99),
        "{search}"
    );
    assert_eq!(search["series"].as_array().map(Vec::len), Some(6));
    let named = |name: &str| endpoints.iter().any(|e| e["endpoint"] == name);
    assert!(named("/suggest") && named("/events"), "{endpoints:?}");
    assert!(
        !named("/admin/dashboard/data"),
        "the dashboard's own polls are not load"
    );

    let quality = &data["quality"];
    assert_eq!(quality["window_minutes"], 60);
    assert_eq!(quality["searches"], 3);
    let rate = |figure: &str| quality[figure].as_f64().unwrap_or(f64::NAN);
    assert!(
        (rate("zero_result_rate") - 1.0 / 3.0).abs() < 1e-9,
        "{quality}"
    );
    assert!(
        (rate("click_through_rate") - 1.0 / 3.0).abs() < 1e-9,
        "{quality}"
    );
    assert_eq!(quality["click_positions"][0], 1);
    assert_eq!(
        quality["click_positions"].as_array().map(Vec::len),
        Some(11)
    );
    assert_eq!(quality["top_zero_result"], json!([[NOTHING, 1]]));

    let clicks = &data["clicks"];
    assert_eq!(clicks["accepted"], 1);
    assert_eq!(clicks["rejected"], json!({ "malformed": 1 }));
    assert_eq!(clicks["dropped"], 0);
    assert!(
        clicks["written"].as_u64().is_some_and(|n| n >= 4),
        "{clicks}"
    );

    let running = data["experiments"]["running"]
        .as_array()
        .expect("experiments");
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["experiment"]["name"], EXPERIMENT);
    assert!(
        running[0]["report"]["interleaving"].is_object(),
        "{running:?}"
    );

    assert_eq!(data["broker"]["backlog"], Value::Null);
    assert!(
        data["ranks"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("rank store"))
    );
    assert_eq!(data["reindex"]["state"], "idle");
    assert!(data["generations"]["generations"].is_array());
    assert!(
        data["indexer"]["events"].is_object() && data["indexer"]["repairs"]["by_cause"].is_object(),
        "no indexer here, but no error either"
    );

    let (status, body) = admin_get(&watched.router, "/admin/dashboard/data?window=10080").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["quality"]["window_minutes"], 10080);
    for bad in ["0", "10081", "week"] {
        let uri = format!("/admin/dashboard/data?window={bad}");
        let (status, body) = admin_get(&watched.router, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("minutes"))
        );
    }
}

#[tokio::test]
async fn a_failing_database_blanks_only_the_quality_panels() {
    let watched = watched().await;
    traffic(&watched).await;
    watched.db.close().await;
    let (status, data) = admin_get(&watched.router, "/admin/dashboard/data").await;
    assert_eq!(status, StatusCode::OK, "{data}");
    assert!(data["quality"]["error"].is_string(), "{}", data["quality"]);
    assert!(data["experiments"]["error"].is_string());
    assert!(
        data["load"]["endpoints"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(data["clicks"]["accepted"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_figures_in_a_real_browser() {
    let watched = watched().await;
    traffic(&watched).await;
    let server = crate::serve_in_background(watched.router.clone()).await;
    let address = server.address;
    let url = format!("http://{address}/dashboard?token={TOKEN}");
    let dir = artifacts();

    tokio::task::spawn_blocking(move || {
        let mut browser = Browser::launch();
        browser.open(&url);
        browser.wait_for(
            "the first figures",
            "document.body.dataset.updated !== undefined && \
             document.querySelector('#endpoints [data-endpoint=\"/search\"]') !== null",
        );
        assert_eq!(
            browser.eval("location.search.includes('token')"),
            json!(false),
            "the token leaves the address bar"
        );
        let endpoints = browser.eval(
            "[...document.querySelectorAll('#endpoints .endpoint')].map(e => e.dataset.endpoint)",
        );
        for endpoint in ["/search", "/suggest", "/events"] {
            assert!(
                endpoints
                    .as_array()
                    .is_some_and(|e| e.contains(&json!(endpoint))),
                "{endpoint} in {endpoints}"
            );
        }
        let sparklines = browser.eval("document.querySelectorAll('#endpoints .spark svg').length");
        assert_eq!(
            sparklines,
            json!(endpoints.as_array().map_or(0, Vec::len) * 2)
        );
        let search = browser.eval(
            "document.querySelector('#endpoints [data-endpoint=\"/search\"] .figures').textContent",
        );
        assert!(
            search
                .as_str()
                .is_some_and(|s| s.contains("req/s") && s.contains("3 requests")),
            "{search}"
        );

        let tile = |browser: &mut Browser, id: &str| {
            browser.eval(&format!(
                "document.querySelector('#{id} .value').textContent"
            ))
        };
        assert_eq!(tile(&mut browser, "tile-zero"), json!("33%"));
        assert_eq!(tile(&mut browser, "tile-ctr"), json!("33%"));
        for id in ["tile-rps", "tile-search"] {
            let value = tile(&mut browser, id);
            assert!(
                value
                    .as_str()
                    .is_some_and(|v| v.chars().any(|c| c.is_ascii_digit())),
                "{id} shows a number: {value}"
            );
        }
        let text = browser.eval("document.body.innerText");
        let text = text.as_str().unwrap_or_default();
        for shown in [
            "love",
            NOTHING,
            EXPERIMENT,
            "p=",
            "n/a",
            "rank store",
            "malformed",
        ] {
            assert!(text.contains(shown), "the page shows `{shown}`");
        }
        let bars = browser.eval("document.querySelectorAll('#positions-chart svg rect').length");
        assert_eq!(bars, json!(11), "a bar per position, and 11+");
        browser.screenshot(&dir.join("dashboard.png"));

        // A phone's width: one column, nothing wider than the screen.
        browser.viewport(390, 844, true);
        let fits = browser.eval("document.documentElement.scrollWidth <= window.innerWidth");
        assert_eq!(fits, json!(true), "no horizontal scrolling at phone width");
        browser.screenshot(&dir.join("dashboard-phone.png"));

        // It refreshes by itself.
        let before = browser.eval("document.body.dataset.updated");
        browser.wait_for(
            "a refresh",
            &format!("document.body.dataset.updated !== {before}"),
        );
    })
    .await
    .expect("browser steps");

    server.stop().await;
    assert!(artifacts().join("dashboard.png").exists());
}
