//! The rater's page (`service::judge`): its guard (bearer, `?token=` once, then the cookie), the
//! JSON endpoints over query sets saved in a temporary SQLite database, results from the
//! Chinook index as `/search` answers them (or interleaved with `rank=none`), judgments stored
//! and bad ones refused; then the page itself in headless Chromium, judged by keyboard.
//!
//! The admin state is honest but minimal: the site database is a fresh SQLite file holding only
//! the query sets, the generations an empty directory (the judge routes never touch them), and
//! the search the Chinook fixture's own query state, as the binary passes its query service's.

use std::collections::HashSet;

use axum::Router;
use axum::http::{StatusCode, header};
use quality::store::{self, Replace};
use quality::{EvalQuery, Judgment, QuerySet, Source};
use schemas::db::Db;
use schemas::{EntityKey, EntityKind};
use serde_json::{Value, json};
use service::admin::AdminState;

use crate::browser::{Browser, artifacts};
use crate::fixture::chinook;
use crate::send;
use crate::{encode, get, keys};

const TOKEN: &str = "judge-test-token";
const SET: &str = "chinook-sample";

/// The query service with the admin routes, over a database holding two query sets.
struct Judging {
    router: Router,
    db: Db,
    _dir: tempfile::TempDir,
}

async fn judging() -> Judging {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::site_db(&dir).await;
    let catalog = indexer::Generations::open(dir.path()).expect("generations");
    let state = chinook().state();
    let admin = AdminState::new(TOKEN, catalog, db.clone()).with_search(state.clone());
    let router = service::router(state).merge(service::admin::router(admin));
    for set in sets() {
        store::save_set(&db, &set, Replace::No)
            .await
            .expect("save set");
    }
    Judging {
        router,
        db,
        _dir: dir,
    }
}

fn metallica() -> EntityKey {
    chinook()
        .rows
        .values()
        .find(|r| r.key.kind == EntityKind::User && r.text("full_name") == Some("Metallica"))
        .map(|r| r.key)
        .expect("Metallica is in Chinook")
}

fn query(text: &str, class: &str) -> EvalQuery {
    EvalQuery {
        text: text.into(),
        class: class.into(),
        intended: None,
        judgments: Vec::new(),
    }
}

fn sets() -> Vec<QuerySet> {
    let mut artist = query("metallica", "artist");
    artist.intended = Some(metallica());
    let mut known = query("ac dc", "artist");
    known.judgments.push(Judgment {
        entity: EntityKey::new(EntityKind::User, 1),
        grade: 3,
        source: Source::Generated,
        who: "generate".into(),
        at: chrono::Utc::now(),
    });
    vec![
        QuerySet {
            name: SET.into(),
            queries: vec![
                artist,
                query("enter sandman", "title"),
                query("love", "broad"),
            ],
        },
        QuerySet {
            name: "second".into(),
            queries: vec![known],
        },
    ]
}

fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {TOKEN}"))
}

/// `GET uri` with the token; the status and the JSON answer.
async fn admin_get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (name, value) = bearer();
    let (status, _, body) = send(router, "GET", uri, &[(name, &value)], None).await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{uri}: answer is not JSON ({e}): {body}"));
    (status, json)
}

/// `POST /admin/judge/judgments` with the token and `body` as JSON.
async fn post_judgment(router: &Router, body: &str) -> (StatusCode, Value) {
    let (name, value) = bearer();
    let headers = [(name, value.as_str()), ("content-type", "application/json")];
    let (status, _, text) = send(
        router,
        "POST",
        "/admin/judge/judgments",
        &headers,
        Some(body),
    )
    .await;
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"));
    (status, json)
}

#[tokio::test]
async fn judge_page_needs_the_admin_token_and_takes_it_once_from_the_address() {
    let judging = judging().await;
    let router = &judging.router;

    let (status, headers, body) = send(router, "GET", "/judge", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body.contains("/judge?token="),
        "says how to sign in: {body}"
    );
    assert!(headers.get(header::SET_COOKIE).is_none());
    let wrong = [("authorization", "Bearer nope")];
    let (status, _, _) = send(router, "GET", "/judge", &wrong, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, _) = send(router, "GET", "/judge?token=nope", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers.get(header::SET_COOKIE).is_none(),
        "no cookie for a wrong token"
    );
    let (status, _, _) = send(router, "GET", "/admin/judge/sets", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (name, value) = bearer();
    let (status, headers, body) = send(router, "GET", "/judge", &[(name, &value)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    assert!(body.contains("<title>Disco — judging</title>"));
    assert!(headers.get(header::SET_COOKIE).is_none());

    // The token once in the address: the page, and the token as a cookie.
    let uri = format!("/judge?token={TOKEN}&interleave=rank%3Dnone");
    let (status, headers, body) = send(router, "GET", &uri, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    let set_cookie = headers[header::SET_COOKIE].to_str().expect("ASCII");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains(TOKEN), "the token is kept encoded");
    let cookie = set_cookie.split(';').next().expect("name=value");
    assert!(cookie.starts_with("disco_judge="), "{cookie}");

    // The cookie opens the page and its endpoints, and nothing else of /admin.
    let with_cookie = [("cookie", cookie)];
    let (status, _, _) = send(router, "GET", "/judge", &with_cookie, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(router, "GET", "/admin/judge/sets", &with_cookie, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(router, "GET", "/admin/generations", &with_cookie, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the cookie is the page's only"
    );
    let (status, _, _) = send(router, "GET", "/admin/generations", &[(name, &value)], None).await;
    assert_eq!(status, StatusCode::OK, "the header still opens /admin");
    let forged = [("cookie", "disco_judge=6e6f7065")];
    let (status, _, _) = send(router, "GET", "/admin/judge/sets", &forged, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn judge_sets_are_listed_and_loaded_from_the_database() {
    let judging = judging().await;
    let (status, body) = admin_get(&judging.router, "/admin/judge/sets").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["sets"]
        .as_array()
        .expect("sets")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, [SET, "second"]);
    assert_eq!(body["sets"][0]["queries"], 3);
    assert_eq!(body["sets"][1]["queries"], 1);
    assert_eq!(
        body["sets"][1]["judgments"],
        json!({ "rater": 0, "generated": 1, "clicks": 0, "total": 1 })
    );
    assert!(
        body["default_who"]
            .as_str()
            .is_some_and(|w| w.starts_with("token-") && !w.contains(TOKEN)),
        "{body}"
    );

    let (status, set) = admin_get(&judging.router, &format!("/admin/judge/sets/{SET}")).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let texts: Vec<&str> = set["queries"]
        .as_array()
        .expect("queries")
        .iter()
        .filter_map(|q| q["text"].as_str())
        .collect();
    assert_eq!(texts, ["metallica", "enter sandman", "love"]);
    assert_eq!(set["queries"][0]["intended"], metallica().to_string());
    assert_eq!(set["queries"][0]["class"], "artist");
    assert!(set["queries"][1].get("intended").is_none());

    let (status, body) = admin_get(&judging.router, "/admin/judge/sets/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("nope")));
}

/// The results' entity keys, as `kind:id`.
fn entities(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["entity"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn judge_results_are_what_search_answers_or_a_team_draft_of_two_variants() {
    let judging = judging().await;
    let router = &judging.router;
    let q = encode("love");

    let mut lists = Vec::new();
    for (rank, label) in [("", "rank=active"), ("none", "rank=none")] {
        let (status, body) =
            admin_get(router, &format!("/admin/judge/results?q={q}&rank={rank}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["variants"], json!([label]));
        assert_eq!(body["interleaved"], false);
        let (_, search) = get(router, &format!("/search?q={q}&limit=10&rank={rank}")).await;
        let expected: Vec<String> = keys(&search)
            .into_iter()
            .map(|(kind, id)| format!("{kind}:{id}"))
            .collect();
        assert_eq!(expected.len(), 10);
        assert_eq!(
            entities(&body),
            expected,
            "the page judges what /search shows"
        );
        let first = &body["results"][0];
        assert_eq!(first["title"], search["results"][0]["title"]);
        assert_eq!(first["subtitle"], search["results"][0]["subtitle"]);
        assert_eq!(first["kind"], search["results"][0]["kind"]);
        assert!(first["team"].is_null());
        lists.push(expected);
    }
    let (active, none) = (&lists[0], &lists[1]);
    assert_ne!(active, none, "the prior moves something for `love`");

    let (status, body) = admin_get(
        router,
        &format!("/admin/judge/results?q={q}&interleave=rank%3Dnone"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["interleaved"], true);
    assert_eq!(body["variants"], json!(["rank=active", "rank=none"]));
    let rows = body["results"].as_array().expect("results");
    assert_eq!(rows.len(), 10);
    let shown = entities(&body);
    assert_eq!(shown.iter().collect::<HashSet<_>>().len(), 10, "each once");
    for (team, list) in [("rank=active", active), ("rank=none", none)] {
        let picked: Vec<&String> = rows
            .iter()
            .zip(&shown)
            .filter(|(row, _)| row["team"] == team)
            .map(|(_, entity)| entity)
            .collect();
        let in_order: Vec<&String> = list.iter().filter(|e| picked.contains(e)).collect();
        assert_eq!(picked, in_order, "{team}'s picks keep its order");
        assert_eq!(picked.len(), 5, "{team} picked {picked:?}: half each");
    }
    assert!(shown.iter().all(|e| active.contains(e) || none.contains(e)));
    assert_eq!(
        rows.iter()
            .take(2)
            .filter(|r| r["team"] == "rank=active")
            .count(),
        1,
        "each variant has a result in the first two"
    );
    let (_, again) = admin_get(
        router,
        &format!("/admin/judge/results?q={q}&interleave=rank%3Dnone"),
    )
    .await;
    assert_eq!(again, body, "a query interleaves the same way each time");

    for bad in [
        format!("/admin/judge/results?q={q}&interleave=rank%3Dbest"),
        format!("/admin/judge/results?q={q}&rank=x"),
        format!("/admin/judge/results?q={}", "a".repeat(300)),
    ] {
        let (status, body) = admin_get(router, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string());
    }

    // An admin state without the query service's search says so.
    let catalog = indexer::Generations::open(judging._dir.path()).expect("generations");
    let blind = service::admin::router(AdminState::new(TOKEN, catalog, judging.db.clone()));
    let (status, body) = admin_get(&blind, &format!("/admin/judge/results?q={q}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn posting_a_judgment_stores_it_and_bad_input_is_a_400() {
    let judging = judging().await;
    let router = &judging.router;
    let body = json!({ "set": SET, "position": 1, "entity": metallica().to_string(), "grade": 3, "who": " Ada " });
    let (status, answer) = post_judgment(router, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["judgment"]["source"], "rater");
    assert_eq!(answer["judgment"]["who"], "Ada");
    let body = json!({ "set": SET, "position": 1, "entity": "track:3", "grade": 0 });
    let (status, answer) = post_judgment(router, &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, sets) = admin_get(router, "/admin/judge/sets").await;
    assert_eq!(
        answer["judgment"]["who"], sets["default_who"],
        "no name: the token's fingerprint"
    );

    let set = store::load_set(&judging.db, SET).await.expect("load");
    let stored: Vec<(String, u8, Source, String)> = set.queries[1]
        .judgments
        .iter()
        .map(|j| (j.entity.to_string(), j.grade, j.source, j.who.clone()))
        .collect();
    let fingerprint = sets["default_who"]
        .as_str()
        .expect("default who")
        .to_string();
    assert_eq!(
        stored,
        [
            (metallica().to_string(), 3, Source::Rater, "Ada".to_string()),
            ("track:3".to_string(), 0, Source::Rater, fingerprint),
        ]
    );
    assert!(set.queries[0].judgments.is_empty() && set.queries[2].judgments.is_empty());

    let bad = [
        (json!({ "set": "nope", "position": 0, "entity": "track:1", "grade": 2 }).to_string(), "no query set named"),
        (json!({ "set": SET, "position": 3, "entity": "track:1", "grade": 2 }).to_string(), "no query at position 3"),
        (json!({ "set": SET, "position": -1, "entity": "track:1", "grade": 2 }).to_string(), "bad judgment"),
        (json!({ "set": SET, "position": 0, "entity": "track:1", "grade": 4 }).to_string(), "grade 4 is out of range"),
        (json!({ "set": SET, "position": 0, "entity": "track", "grade": 2 }).to_string(), "kind:id"),
        (json!({ "set": SET, "position": 0, "entity": "song:1", "grade": 2 }).to_string(), "kind:id"),
        (json!({ "set": SET, "position": 0, "entity": "track:x", "grade": 2 }).to_string(), "kind:id"),
        (json!({ "set": SET, "position": 0, "entity": "track:1" }).to_string(), "missing field `grade`"),
        (json!({ "set": SET, "position": 0, "entity": "track:1", "grade": 2, "extra": 1 }).to_string(), "unknown field"),
        (json!({ "set": SET, "position": 0, "entity": "track:1", "grade": 2, "who": "x".repeat(65) }).to_string(), "at most 64"),
        ("[\"track:1\"]".to_string(), "bad judgment"),
        ("not json".to_string(), "bad judgment"),
    ];
    for (body, says) in &bad {
        let (status, answer) = post_judgment(router, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(says),
            "{body}: `{error}` should say `{says}`"
        );
    }

    let (name, value) = bearer();
    let body = json!({ "set": SET, "position": 0, "entity": "track:1", "grade": 2 }).to_string();
    let as_form = [(name, value.as_str()), ("content-type", "text/plain")];
    let (status, _, _) = send(
        router,
        "POST",
        "/admin/judge/judgments",
        &as_form,
        Some(&body),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "JSON only: no cross-site form posts"
    );
    let anonymous = [("content-type", "application/json")];
    let (status, _, _) = send(
        router,
        "POST",
        "/admin/judge/judgments",
        &anonymous,
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let set = store::load_set(&judging.db, SET).await.expect("load");
    let count: usize = set.queries.iter().map(|q| q.judgments.len()).sum();
    assert_eq!(count, 2, "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raters_page_judges_by_keyboard_in_a_real_browser() {
    let judging = judging().await;
    let server = crate::serve_in_background(judging.router.clone()).await;
    let address = server.address;
    let base = format!("http://{address}");
    let dir = artifacts();
    let db = judging.db.clone();
    let runtime = tokio::runtime::Handle::current();

    tokio::task::spawn_blocking(move || {
        let stored = |position: usize| -> Vec<(String, u8, Source, String)> {
            let set = runtime
                .block_on(store::load_set(&db, SET))
                .expect("load set");
            set.queries[position]
                .judgments
                .iter()
                .map(|j| (j.entity.to_string(), j.grade, j.source, j.who.clone()))
                .collect()
        };
        let mut browser = Browser::launch();
        browser.open(&format!("{base}/judge?token={TOKEN}"));
        browser.wait_for(
            "the sets to choose from",
            "document.querySelectorAll('#set option').length === 3",
        );
        assert_eq!(
            browser.eval("location.search.includes('token')"),
            json!(false),
            "the token leaves the address bar"
        );
        browser.eval(&format!(
            "(() => {{ const s = document.getElementById('set'); s.value = {SET:?}; \
             s.dispatchEvent(new Event('change')); }})()"
        ));
        browser.wait_for(
            "the first query's ten results",
            "document.getElementById('progress').textContent === 'Query 1 of 3' && \
             document.querySelectorAll('#results .result').length === 10",
        );
        assert_eq!(browser.eval("document.getElementById('text').textContent"), json!("metallica"));
        let first = browser.eval("document.querySelector('#results .result').dataset.entity");
        let second = browser.eval("document.querySelectorAll('#results .result')[1].dataset.entity");
        let (Some(first), Some(second)) = (first.as_str(), second.as_str()) else {
            panic!("rows name their entities: {first} {second}");
        };
        let (first, second) = (first.to_string(), second.to_string());
        assert_eq!(
            browser.eval("document.querySelector('#results .badge').closest('.result').dataset.entity"),
            json!(metallica().to_string()),
            "the known answer is marked"
        );

        browser.click("#who");
        browser.type_text("Ada");
        browser.press_key("Escape", 27);
        let selected = "[...document.querySelectorAll('#results .result')].findIndex(r => r.getAttribute('aria-selected') === 'true')";
        assert_eq!(browser.eval(selected), json!(0));
        browser.press_key("j", 74);
        assert_eq!(browser.eval(selected), json!(1), "j moves down");
        browser.press_key("k", 75);
        assert_eq!(browser.eval(selected), json!(0), "k moves up");

        // u: the first result is relevant; the selection moves on; d: the second is not.
        browser.press_key("u", 85);
        browser.wait_for(
            "the first judgment saved",
            "document.querySelector('#results .result').dataset.grade === '2' && \
             document.getElementById('status').textContent.startsWith('Saved')",
        );
        assert_eq!(browser.eval(selected), json!(1), "judging moves to the next result");
        browser.press_key("d", 68);
        browser.wait_for(
            "the second judgment saved",
            "document.querySelectorAll('#results .result')[1].dataset.grade === '0' && \
             document.getElementById('judged').textContent === '2 of 10 judged'",
        );
        let ada = || "Ada".to_string();
        let expected = vec![
            (first.clone(), 2, Source::Rater, ada()),
            (second.clone(), 0, Source::Rater, ada()),
        ];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stored(0) != expected && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(stored(0), expected, "the judgments are in the database");

        // n and p step through the queries; the address keeps the place.
        browser.press_key("n", 78);
        browser.wait_for(
            "the second query",
            "document.getElementById('progress').textContent === 'Query 2 of 3' && \
             document.getElementById('text').textContent === 'enter sandman' && \
             document.querySelectorAll('#results .result').length > 0",
        );
        assert_eq!(
            browser.eval("document.querySelector('#results .result .title').textContent"),
            json!("Enter Sandman")
        );
        assert_eq!(browser.eval("document.querySelector('#results .badge')"), json!(null), "no known answer here");
        assert_eq!(browser.eval("location.search"), json!(format!("?set={SET}&position=1")));
        browser.press_key("p", 80);
        browser.wait_for("the first query again", "document.getElementById('progress').textContent === 'Query 1 of 3'");

        // A reload carries the cookie, not the token, and shows what was judged.
        // The old page is marked, so the wait cannot pass on it before the reload replaces it.
        browser.eval_while_navigating("window.beforeReload = true; location.reload()");
        browser.wait_for(
            "the judged query after a reload",
            "!window.beforeReload && document.querySelectorAll('#results .result').length === 10 && \
             document.querySelector('#results .result').dataset.grade === '2' && \
             document.querySelector('#results .result .up').getAttribute('aria-pressed') === 'true'",
        );
        assert_eq!(browser.eval("document.getElementById('who').value"), json!("Ada"), "the name is kept");
        browser.screenshot(&dir.join("judge.png"));

        // The same query interleaved with rank=none: every row from one of the two.
        browser.open(&format!("{base}/judge?set={SET}&interleave=rank%3Dnone"));
        browser.wait_for(
            "the interleaved results",
            "document.getElementById('note').textContent.startsWith('Interleaved: rank=active × rank=none') && \
             document.querySelectorAll('#results .result').length === 10",
        );
        let teams = browser.eval("[...document.querySelectorAll('#results .result')].every(r => ['rank=active', 'rank=none'].includes(r.dataset.team))");
        assert_eq!(teams, json!(true));
        browser.screenshot(&dir.join("judge-interleaved.png"));
    })
    .await
    .expect("browser steps");

    server.stop().await;
    assert!(artifacts().join("judge.png").exists());
}
