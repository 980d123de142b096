//! The query service over real indexes: the HTTP contract, hostile input, relevance on the
//! Chinook catalog, the page in a real browser, and the rater's page. One test binary (one link) for all.

mod browser;
mod clicks;
mod dashboard;
mod fixture;
mod hostile;
mod http;
mod judge;
mod relevance;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
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
