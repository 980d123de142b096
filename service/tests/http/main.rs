//! The query service over real indexes: the HTTP contract, hostile input, relevance on the
//! Chinook catalog, the page in a real browser, the rater's page, and what a visitor expects of
//! results and entity pages. One test binary (one link) for all.

mod browser;
mod clicks;
mod dashboard;
mod fixture;
mod hostile;
mod http;
mod judge;
mod relevance;
mod visitor;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Sends `GET uri` to `router`; the status, the body as text, and its content type.
pub async fn get_raw(router: &Router, uri: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        content_type,
    )
}

/// Sends `GET uri` and parses the JSON answer.
pub async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, body, _) = get_raw(router, uri).await;
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{uri}: answer is not JSON ({e}): {body}"));
    (status, value)
}

/// `text` percent-encoded for a query string.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The results' `(kind, id)` in order.
pub fn keys(body: &Value) -> Vec<(String, i64)> {
    body["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["kind"].as_str().unwrap_or_default().to_string(),
                        r["id"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Sends a request; the status, the headers and the body as text.
pub async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// A router served on a free local port (for the browser tests) until [`Background::stop`].
pub struct Background {
    pub address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn serve_in_background(router: Router) -> Background {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service::serve(listener, router, async {
        let _ = stopped.await;
    }));
    Background {
        address,
        stop,
        task,
    }
}

impl Background {
    /// Stops serving and lets in-flight requests finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("server task").expect("server ran");
    }
}

/// The site's database as a migrated SQLite file in `dir`.
pub async fn site_db(dir: &tempfile::TempDir) -> schemas::db::Db {
    let db = schemas::db::Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("site.db").display()
    ))
    .await
    .expect("sqlite");
    db.migrate().await.expect("migrate");
    db
}
