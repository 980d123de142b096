//! Operations end to end over HTTP (SQLite + the in-process bus): the admin API's guard,
//! reindex → swap → rollback while a client keeps searching, read-only, and verify after each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use engine::{SearchSource, Snapshot};
use indexer::broker::MemoryBus;
use indexer::testing;
use indexer::{CancellationToken, Generations, Indexer, IndexerConfig};
use schemas::db::Db;
use schemas::envelope::Action;
use schemas::{EntityKey, EntityKind};
use serde_json::{Value, json};
use service::QueryState;

const TOKEN: &str = "ops-test-token";

struct LiveIndex(Arc<Generations>);

impl SearchSource for LiveIndex {
    fn snapshot(&self) -> Option<Snapshot> {
        let (searcher, definitions) = self.0.live_searcher();
        Some(Snapshot {
            searcher,
            definitions,
        })
    }
}

struct Service {
    base: String,
    http: reqwest::Client,
    catalog: Arc<Generations>,
    bus: MemoryBus,
    db: Db,
    cancel: CancellationToken,
    _sqlite: testkit::FreshSqlite,
    _data: tempfile::TempDir,
}

fn config() -> IndexerConfig {
    let mut config = IndexerConfig::default();
    config.batch.max_wait = Duration::from_millis(5);
    config.lag_retries = vec![Duration::from_millis(5)];
    config.writer_heap_bytes = 15_000_000;
    config
}

async fn seed(db: &Db, n: i64) {
    let at = testing::now();
    for id in 1..=n {
        testing::insert_user(db, id, &format!("user{id}"), &format!("Singer {id}"), at)
            .await
            .unwrap();
        testing::insert_track(db, id, id, &format!("Song number {id}"), at)
            .await
            .unwrap();
    }
}

/// The query service with the admin API (when `token` is set) and the indexer, in-process.
async fn start(token: Option<&str>) -> Service {
    start_with_slot(token, rank::schedule::JobSlot::default()).await
}

/// [`start`], with the rank job's run-at-a-time slot shared with the caller.
async fn start_with_slot(token: Option<&str>, slot: rank::schedule::JobSlot) -> Service {
    let sqlite = testkit::FreshSqlite::create().await;
    let db = sqlite.db.clone();
    seed(&db, 80).await;
    let data = tempfile::tempdir().unwrap();
    let catalog = Generations::open(data.path()).unwrap();
    let bus = MemoryBus::new();
    let mut indexer = Indexer::open(db.clone(), catalog.clone(), config()).unwrap();
    let feed = indexer.reindex_feed();
    let cancel = CancellationToken::new();
    tokio::spawn(indexer.run(bus.source(), cancel.clone()));

    let state = QueryState::new(Arc::new(LiveIndex(catalog.clone())));
    let mut app = service::router(state);
    if let Some(token) = token {
        let ranks = rank::RankStore::open(data.path().join("ranks")).unwrap();
        let admin = service::admin::AdminState::new(token, catalog.clone(), db.clone())
            .with_feed(feed)
            .with_ranks(ranks)
            .with_rank_slot(slot);
        app = app.merge(service::admin::router(admin));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = cancel.clone();
    tokio::spawn(service::serve(listener, app, async move {
        stop.cancelled().await
    }));
    Service {
        base,
        http: reqwest::Client::new(),
        catalog,
        bus,
        db,
        cancel,
        _sqlite: sqlite,
        _data: data,
    }
}

impl Service {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (status, value) = self.call(method, path, Some(TOKEN), body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// Starts a reindex over HTTP and waits until it is built; returns its generation.
    async fn reindex(&self) -> u64 {
        let started = self.admin("POST", "/admin/reindex", None).await;
        assert_eq!(started["state"], "building");
        for _ in 0..2000 {
            let progress = self.admin("GET", "/admin/reindex", None).await;
            match progress["state"].as_str() {
                Some("building") => tokio::time::sleep(Duration::from_millis(10)).await,
                Some("built") => {
                    assert_eq!(progress["rows_done"], progress["rows_total"]);
                    return progress["generation"].as_u64().unwrap();
                }
                _ => panic!("reindex ended {progress}"),
            }
        }
        panic!("reindex did not finish");
    }

    async fn settle(&self) {
        for _ in 0..4000 {
            if self.bus.outstanding() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} events outstanding", self.bus.outstanding());
    }

    async fn verify_clean(&self) {
        self.settle().await;
        let report = indexer::verify::verify(&self.db, &self.catalog.live())
            .await
            .unwrap();
        assert!(report.is_clean(), "{report:?}");
    }

    fn publish(&self, action: Action, key: EntityKey, at: chrono::DateTime<chrono::Utc>) {
        let (routing_key, body) = testing::event(action, key, at);
        self.bus.publish(&routing_key, body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_without_the_right_token_or_body_change_nothing() {
    let service = start(Some(TOKEN)).await;
    let aliases = service.catalog.aliases();
    let live = aliases.live.unwrap().0;
    let calls = [
        ("POST", "/admin/reindex".to_string(), None),
        ("GET", "/admin/reindex".to_string(), None),
        ("POST", "/admin/swap".to_string(), None),
        ("POST", "/admin/rollback".to_string(), None),
        ("GET", "/admin/generations".to_string(), None),
        (
            "PUT",
            format!("/admin/generations/{live}/read-only"),
            Some(r#"{"read_only": true}"#),
        ),
        ("POST", "/admin/rank".to_string(), None),
        ("GET", "/admin/ranks".to_string(), None),
        ("POST", "/admin/ranks/1/activate".to_string(), None),
    ];
    for (method, path, body) in &calls {
        for token in [
            None,
            Some("wrong"),
            Some("ops-test-token-but-longer"),
            Some(""),
        ] {
            let (status, value) = service.call(method, path, token, *body).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {value}");
            assert!(value["error"].is_string(), "{value}");
        }
    }
    // Malformed bodies: 400 with a JSON error.
    let read_only = format!("/admin/generations/{live}/read-only");
    for body in [
        "{",
        r#"{"read_only": "yes"}"#,
        "[true]",
        r#"{"readonly": true}"#,
        "",
    ] {
        let (status, value) = service
            .call("PUT", &read_only, Some(TOKEN), Some(body))
            .await;
        assert_eq!(status, 400, "body {body:?}: {value}");
        assert!(value["error"].is_string());
    }
    let (status, _) = service
        .call(
            "POST",
            "/admin/swap",
            Some(TOKEN),
            Some("{\"generation\": \"x\"}"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = service
        .call(
            "PUT",
            "/admin/generations/nope/read-only",
            Some(TOKEN),
            Some(r#"{"read_only": true}"#),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = service
        .call(
            "PUT",
            "/admin/generations/99/read-only",
            Some(TOKEN),
            Some(r#"{"read_only": true}"#),
        )
        .await;
    assert_eq!(status, 404);
    // Nothing changed.
    assert_eq!(service.catalog.aliases(), aliases);
    assert_eq!(service.catalog.list().len(), 1);
    assert!(!service.catalog.live().meta().read_only);
    let progress = service.admin("GET", "/admin/reindex", None).await;
    assert_eq!(progress["state"], "idle");
    // The right token works.
    let listed = service.admin("GET", "/admin/generations", None).await;
    assert_eq!(listed["live"], json!(live));
    assert_eq!(listed["generations"][0]["state"], "live");
    service.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_admin_api_is_off() {
    let service = start(None).await;
    let (status, _) = service
        .call("GET", "/admin/generations", Some(TOKEN), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = service.call("POST", "/admin/reindex", None, None).await;
    assert_eq!(status, 404);
    service.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_never_fail_or_go_empty_through_reindex_swap_and_rollback() {
    let service = Arc::new(start(Some(TOKEN)).await);
    let first = service.reindex().await;
    service
        .admin(
            "POST",
            "/admin/swap",
            Some(&format!(r#"{{"generation": {first}}}"#)),
        )
        .await;
    service.verify_clean().await;

    // A client searching all the time from here on.
    let stop = Arc::new(AtomicBool::new(false));
    let (queries, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client = {
        let (service, stop, queries, failures) = (
            service.clone(),
            stop.clone(),
            queries.clone(),
            failures.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let (status, value) = service.call("GET", "/search?q=song", None, None).await;
                queries.fetch_add(1, Ordering::SeqCst);
                let found = value["results"].as_array().is_some_and(|r| !r.is_empty());
                if status != 200 || !found {
                    failures.fetch_add(1, Ordering::SeqCst);
                    eprintln!("search answered {status}: {value}");
                }
            }
        })
    };

    // The site keeps changing while the second generation builds.
    let churn = {
        let service = service.clone();
        tokio::spawn(async move {
            for round in 0..15 {
                let at = testing::now();
                let fresh = EntityKey::new(EntityKind::Track, 500 + round);
                testing::insert_track(&service.db, fresh.id, 1, &format!("Song fresh {round}"), at)
                    .await
                    .unwrap();
                service.publish(Action::Create, fresh, at);
                let renamed = EntityKey::new(EntityKind::User, 1 + round);
                testing::rename(&service.db, renamed, &format!("Renamed {round}"), at)
                    .await
                    .unwrap();
                service.publish(Action::Save, renamed, at);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let second = service.reindex().await;
    churn.await.unwrap();
    assert!(second > first);
    let generations = service.admin("GET", "/admin/generations", None).await;
    let building = generations["generations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["generation"] == json!(second))
        .unwrap()
        .clone();
    assert_eq!(building["state"], "built");

    let swapped = service.admin("POST", "/admin/swap", None).await;
    assert_eq!(swapped["live"], json!(second));
    assert_eq!(swapped["previous"], json!(first));
    service.verify_clean().await;
    let rolled = service.admin("POST", "/admin/rollback", None).await;
    assert_eq!(rolled["live"], json!(first));
    service.verify_clean().await;
    service
        .admin(
            "POST",
            "/admin/swap",
            Some(&format!(r#"{{"generation": {second}}}"#)),
        )
        .await;
    service.verify_clean().await;

    stop.store(true, Ordering::SeqCst);
    client.await.unwrap();
    assert!(queries.load(Ordering::SeqCst) > 0);
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "searches failed or came back empty"
    );
    service.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_over_http_holds_events_until_writable() {
    let service = start(Some(TOKEN)).await;
    let built = service.reindex().await;
    service.admin("POST", "/admin/swap", None).await;
    service.verify_clean().await;
    let live = service.catalog.live();
    assert_eq!(u64::from(live.generation.0), built);
    let before = live.document_count();

    let path = format!("/admin/generations/gen-{built}/read-only");
    let answer = service
        .admin("PUT", &path, Some(r#"{"read_only": true}"#))
        .await;
    assert_eq!(answer["read_only"], true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at = testing::now();
    for id in 900..905 {
        testing::insert_track(&service.db, id, 1, &format!("Held {id}"), at)
            .await
            .unwrap();
        service.publish(Action::Create, EntityKey::new(EntityKind::Track, id), at);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(live.document_count(), before);
    assert_eq!(service.bus.outstanding(), 5);
    let listed = service.admin("GET", "/admin/generations", None).await;
    assert!(
        listed["generations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["read_only"] == true)
    );

    service
        .admin("PUT", &path, Some(r#"{"read_only": false}"#))
        .await;
    service.verify_clean().await;
    assert_eq!(service.catalog.live().document_count(), before + 5);
    service.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_reindex_over_http_leaves_live_serving() {
    let service = start(Some(TOKEN)).await;
    let first = service.reindex().await;
    service.admin("POST", "/admin/swap", None).await;
    let aliases = service.catalog.aliases();
    // Enough rows that the second reindex is still building when cancelled.
    let at = testing::now();
    for id in 1000..3000 {
        testing::insert_track(&service.db, id, 1, &format!("Bulk {id}"), at)
            .await
            .unwrap();
    }
    service.admin("POST", "/admin/reindex", None).await;
    let (status, value) = service
        .call("DELETE", "/admin/reindex", Some(TOKEN), None)
        .await;
    let progress = loop {
        let progress = service.admin("GET", "/admin/reindex", None).await;
        if progress["state"] != "building" {
            break progress;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    if status == 202 {
        assert_eq!(progress["state"], "cancelled", "{progress}");
        let failed = progress["generation"].as_u64().unwrap();
        let (status, _) = service
            .call(
                "POST",
                "/admin/swap",
                Some(TOKEN),
                Some(&format!(r#"{{"generation": {failed}}}"#)),
            )
            .await;
        assert_eq!(status, 409);
    } else {
        // The build won the race; cancelling then is refused and nothing else changes.
        assert_eq!(status, 409, "{value}");
    }
    assert_eq!(service.catalog.aliases(), aliases);
    assert_eq!(u64::from(service.catalog.live().generation.0), first);
    let (status, value) = service.call("GET", "/search?q=song", None, None).await;
    assert_eq!(status, 200);
    assert!(!value["results"].as_array().unwrap().is_empty());
    service.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rank_job_over_http_runs_one_at_a_time_and_activates_its_version() {
    let slot = rank::schedule::JobSlot::default();
    let service = start_with_slot(Some(TOKEN), slot.clone()).await;
    let listed = service.admin("GET", "/admin/ranks", None).await;
    assert_eq!(listed["active"], Value::Null, "{listed}");
    assert_eq!(listed["running"], json!(false), "{listed}");

    // Another run (a scheduled one) holds the slot: a 409, and nothing starts.
    let held = slot.claim().expect("the slot is free");
    let (status, body) = service.call("POST", "/admin/rank", Some(TOKEN), None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        service.admin("GET", "/admin/ranks", None).await["running"],
        json!(true)
    );
    drop(held);

    let started = service.admin("POST", "/admin/rank", None).await;
    assert_eq!(started["state"], "running", "{started}");
    let mut listed = Value::Null;
    for _ in 0..2000 {
        listed = service.admin("GET", "/admin/ranks", None).await;
        if listed["running"] == json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(listed["running"], json!(false), "the run ended: {listed}");
    let versions = listed["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{listed}");
    assert_eq!(listed["active"], versions[0]["version"], "{listed}");
    assert!(!slot.is_running(), "the run freed the slot");
    service.cancel.cancel();
}
