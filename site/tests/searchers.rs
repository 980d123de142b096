//! The simulated searchers over real HTTP, against a small hand-rolled stand-in for the query
//! service (the site crate has no web framework): what they ask, what they report, and how
//! they count a service that rejects events or cannot be reached. The catalog is read from
//! real databases seeded with Chinook.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemas::db::Db;
use schemas::{EntityKey, EntityKind, searchable};
use serde_json::{Value, json};
use site::progress::ProgressMeter;
use site::searchers::{
    Catalog, CatalogEntity, SearchClass, SearcherOptions, Searchers, SearchersReport, Traffic,
};
use site::seed::{SeedOptions, seed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    cookie: Option<String>,
    body: String,
}

/// What the stand-in answers to `POST /events`.
#[derive(Debug, Clone, Copy)]
enum EventsAnswer {
    Accept,
    Reject,
}

/// The results every search shows, in order; Explore shows nothing.
fn shown() -> Vec<EntityKey> {
    vec![
        EntityKey::new(EntityKind::Track, 1),
        EntityKey::new(EntityKind::Track, 2),
        EntityKey::new(EntityKind::User, 1),
    ]
}

/// A stand-in for the query service on a free port: one request per connection.
async fn stand_in(events: EventsAnswer) -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, events, log.clone()));
        }
    });
    (addr, received)
}

async fn answer(mut stream: TcpStream, events: EventsAnswer, log: Arc<Mutex<Vec<Received>>>) {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-request");
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let target = request_line.next().unwrap().to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .map_or(0, |n| n.parse().unwrap());
    while bytes.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        bytes.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8(bytes[head_end..head_end + length].to_vec()).unwrap();
    let url = reqwest::Url::parse(&format!("http://stand-in{target}")).unwrap();
    let received = Received {
        method,
        path: url.path().to_string(),
        query: url.query_pairs().into_owned().collect(),
        cookie: headers.get("cookie").cloned(),
        body,
    };
    let (status, answer) = match (received.method.as_str(), received.path.as_str()) {
        ("GET", "/search") => {
            let results: Vec<Value> = (shown().iter())
                .map(|key| {
                    json!({"kind": key.kind, "id": key.id, "title": "t", "subtitle": "",
                    "url": key.url(), "score": 1.0, "highlight": "", "arm": null})
                })
                .collect();
            let query_id = format!("q{}", log.lock().unwrap().len());
            (
                200,
                json!({"query": received.query["q"], "query_id": query_id,
                "experiment": null, "arm": null, "total": 3, "took_ms": 0.5, "counts": {},
                "results": results}),
            )
        }
        ("GET", "/explore") => (
            200,
            json!({"query": "", "query_id": "explore", "experiment": null, "arm": null,
                "total": 0, "took_ms": 0.1, "counts": {}, "results": []}),
        ),
        ("POST", "/events") => match events {
            EventsAnswer::Accept => {
                let batch: Value = serde_json::from_str(&received.body).unwrap();
                let n = batch["events"].as_array().unwrap().len();
                (202, json!({"accepted": n}))
            }
            EventsAnswer::Reject => (400, json!({"error": "rejected by the test"})),
        },
        _ => (404, json!({"error": "no such page"})),
    };
    log.lock().unwrap().push(received);
    let answer = answer.to_string();
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    stream.write_all(reply.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
}

fn entity(kind: EntityKind, id: i64, name: &str, popularity: f64) -> CatalogEntity {
    CatalogEntity {
        key: EntityKey::new(kind, id),
        names: vec![name.to_string()],
        popularity,
    }
}

fn searchers(addr: SocketAddr) -> Searchers {
    let catalog = Catalog::new(vec![
        entity(EntityKind::Track, 1, "Love Song", 4.0),
        entity(EntityKind::Track, 2, "Love of the Night", 1.0),
        entity(EntityKind::Track, 3, "Golden Heart", 0.0),
        entity(EntityKind::Playlist, 1, "Songs of Love", 2.0),
        entity(EntityKind::User, 1, "Zoë Dvořáková", 3.0),
    ]);
    let options = SearcherOptions {
        seed: 5,
        base_url: format!("http://{addr}"),
        timeout: Duration::from_secs(5),
        ..SearcherOptions::default()
    };
    Searchers::new(catalog, &options).unwrap()
}

fn requests(log: &Mutex<Vec<Received>>, path: &str) -> Vec<Received> {
    let log = log.lock().unwrap();
    log.iter().filter(|r| r.path == path).cloned().collect()
}

#[tokio::test]
async fn searchers_ask_what_they_planned_and_report_what_they_saw_and_clicked() {
    let (addr, log) = stand_in(EventsAnswer::Accept).await;
    let searchers = searchers(addr);
    let visitors = 12;
    let report = searchers.run(Traffic::Visitors(visitors)).await.unwrap();

    let plans: Vec<_> = (0..visitors).map(|n| searchers.plan(n)).collect();
    let planned: Vec<_> = plans.iter().flat_map(|v| &v.searches).collect();
    let browsing = planned
        .iter()
        .filter(|s| s.class == SearchClass::Explore)
        .count();
    assert!(browsing > 0 && browsing < planned.len(), "{planned:?}");
    assert_eq!(report.visitors, visitors);
    assert_eq!(report.searches, planned.len() as u64);
    assert_eq!(
        report.zero_result_searches, browsing as u64,
        "Explore shows nothing"
    );
    assert_eq!(report.failed_requests, 0);

    // The queries typed are the planned ones, one page each, with the visitor's cookie.
    let searches = requests(&log, "/search");
    let mut typed: Vec<&str> = searches.iter().map(|r| r.query["q"].as_str()).collect();
    let mut expected: Vec<&str> = (planned.iter())
        .filter(|s| s.class != SearchClass::Explore)
        .map(|s| s.query.as_str())
        .collect();
    typed.sort();
    expected.sort();
    assert_eq!(typed, expected);
    let sessions: Vec<String> = plans
        .iter()
        .map(|v| format!("disco_session={}", v.session))
        .collect();
    for request in requests(&log, "/search")
        .iter()
        .chain(&requests(&log, "/explore"))
    {
        assert_eq!(request.query["limit"], "10");
        assert!(sessions.contains(request.cookie.as_ref().unwrap()));
    }

    // One body per search that showed something: its impression, then its clicks.
    let bodies = requests(&log, "/events");
    assert_eq!(bodies.len(), searches.len());
    let mut clicks = 0;
    let mut events = 0;
    for request in &bodies {
        let batch: Value = serde_json::from_str(&request.body).unwrap();
        let cookie = format!("disco_session={}", batch["session"].as_str().unwrap());
        assert_eq!(request.cookie.as_deref(), Some(cookie.as_str()));
        let list = batch["events"].as_array().unwrap();
        events += list.len();
        assert_eq!(list[0]["type"], "impression");
        let query_id = list[0]["query_id"].as_str().unwrap();
        assert!(query_id.starts_with('q'), "{query_id}");
        assert_eq!(list[0]["shown"], json!(shown()));
        for click in &list[1..] {
            assert_eq!(click["type"], "click");
            assert_eq!(click["query_id"], query_id);
            let position = click["position"].as_u64().unwrap() as usize;
            let key = shown()[position - 1];
            assert_eq!(
                (click["kind"].clone(), click["id"].clone()),
                (json!(key.kind), json!(key.id))
            );
            clicks += 1;
        }
    }
    assert_eq!(report.clicks, clicks);
    assert_eq!(report.events_sent, events as u64);
    assert_eq!(report.events_accepted, events as u64);
    assert_eq!(report.events_rejected, 0);
    let by_class: u64 = report.by_class.values().map(|c| c.searches).sum();
    assert_eq!(by_class, report.searches);
}

#[tokio::test]
async fn rejected_events_and_an_unreachable_service_are_counted_not_fatal() {
    let (addr, _) = stand_in(EventsAnswer::Reject).await;
    let report = searchers(addr).run(Traffic::Visitors(8)).await.unwrap();
    assert!(report.events_sent > 0, "{report}");
    assert_eq!(report.events_rejected, report.events_sent);
    assert_eq!((report.events_accepted, report.failed_requests), (0, 0));

    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let searchers = searchers(addr);
    let planned: usize = (0..5).map(|n| searchers.plan(n).searches.len()).sum();
    let report = searchers.run(Traffic::Visitors(5)).await.unwrap();
    let expected = SearchersReport {
        visitors: 5,
        failed_requests: planned as u64,
        elapsed: report.elapsed,
        ..SearchersReport::default()
    };
    assert_eq!(report, expected);
}

#[tokio::test]
async fn visitors_arrive_at_the_rate_asked() {
    let (addr, _) = stand_in(EventsAnswer::Accept).await;
    let traffic = Traffic::Rate {
        per_second: 20.0,
        duration: Duration::from_millis(300),
    };
    let report = searchers(addr).run(traffic).await.unwrap();
    // Arrivals at 0, 50, …, 250 ms.
    assert_eq!(report.visitors, 6);
    assert!(report.elapsed >= Duration::from_millis(250));
    let stopped = Traffic::Rate {
        per_second: 0.0,
        duration: Duration::from_secs(1),
    };
    assert!(searchers(addr).run(stopped).await.is_err());
}

/// The catalog read from a Chinook database: every searchable entity, and shared words.
async fn check_catalog(db: &Db) {
    seed(db, &SeedOptions::chinook(), &ProgressMeter::hidden())
        .await
        .unwrap();
    let mut searchable = 0;
    for kind in EntityKind::ALL {
        let sql = format!(
            "SELECT count(*) FROM {} e WHERE {}",
            kind.table(),
            searchable::condition(kind, "e")
        );
        let count: i64 = match db {
            Db::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
            Db::Sqlite(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .unwrap(),
        };
        searchable += count as usize;
    }
    let options = SearcherOptions::default();
    let searchers = Searchers::load(db, &options).await.unwrap();
    assert!(searchable > 1_000, "{searchable}");
    assert_eq!(searchers.catalog().len(), searchable);
    let words: Vec<&str> = searchers.catalog().shared_words().collect();
    assert!(words.contains(&"love"), "{words:?}");
    assert!(!words.contains(&"the"), "too common to search alone");
    // The same database and seed plan the same visits.
    let again = Searchers::load(db, &options).await.unwrap();
    assert_eq!(searchers.plan(3), again.plan(3));
}

#[tokio::test]
async fn the_catalog_is_read_from_sqlite() {
    let sqlite = testkit::FreshSqlite::create().await;
    check_catalog(&sqlite.db).await;
}

// Multi-threaded: FreshPostgres closes its pool on drop, which needs a running reactor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_read_from_postgres() {
    let pg = testkit::FreshPostgres::create().await;
    check_catalog(&pg.db).await;
}
