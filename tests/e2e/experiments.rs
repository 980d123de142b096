//! The sensitivity test of experiments (issue #22): the demo catalog served by the real binary,
//! an interleaving of DiscoRank against text relevance alone (`rank=none`, truly worse for the
//! ambiguous words people type: which of the many "love" tracks did they mean?), and simulated
//! searchers clicking under a cascade model whose intents are drawn by popularity. Interleaving
//! must find the better arm at p < 0.01 within a bounded number of searches (about 2,000 in
//! `disco-bench sensitivity` runs; the cap here is three times that); the figure it took is
//! printed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::disco_cli as disco;
use site::searchers::{Catalog, SearcherOptions, Searchers, Traffic};

/// `disco serve --no-indexer`, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").to_string()
}

async fn ready(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = client.get(format!("{base}/readyz")).send().await;
        if up.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `disco serve --no-indexer` over `data` on a free port, ready; the process and its base URL.
async fn serve(data: &std::path::Path) -> (Served, String) {
    let address = free_address();
    let child = Command::new(env!("CARGO_BIN_EXE_disco"))
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &address, "serve", "--no-indexer"])
        .env_remove("AMQP_URL")
        .env_remove("DATABASE_URL")
        .env("DISCO_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start disco serve");
    let served = Served(child);
    let base = format!("http://{address}");
    ready(&base).await;
    (served, base)
}

/// The served process's admin token.
const ADMIN_TOKEN: &str = "e2e-admin";

/// Searchers per round, and the most rounds before the test gives up.
const VISITORS_PER_ROUND: u64 = 100;
const MAX_ROUNDS: u64 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaving_finds_the_truly_better_ranking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    disco(&data, &["seed"]);
    disco(&data, &["reindex", "--swap"]);
    disco(&data, &["rank"]);
    let made = disco(
        &data,
        &[
            "experiment",
            "create",
            "sensitivity",
            "--mode",
            "interleave",
            "--arm",
            "discorank:rank=active",
            "--arm",
            "text:rank=none",
        ],
    );
    assert!(made.contains("sensitivity\tinterleave"), "{made}");

    let (_served, base) = serve(&data).await;

    let db = schemas::db::Db::connect(&format!("sqlite://{}", data.join("disco.db").display()))
        .await
        .expect("the demo's database");
    let catalog = Catalog::load(&db).await.expect("the searchers' catalog");
    let mut verdict = None;
    for round in 1..=MAX_ROUNDS {
        // New visitors every round: a seed replays the same sessions.
        let options = SearcherOptions {
            seed: 22 + round,
            base_url: base.clone(),
            ..SearcherOptions::default()
        };
        let searchers = Searchers::new(catalog.clone(), &options).expect("searchers");
        let report = searchers
            .run(Traffic::Visitors(VISITORS_PER_ROUND))
            .await
            .expect("searchers ran");
        assert_eq!(report.failed_requests, 0, "{report}");
        assert_eq!(report.events_rejected, 0, "{report}");
        // The writer batches every quarter second: let this round's clicks land.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let experiment = service::experiments::experiment_report(&db, "sensitivity")
            .await
            .expect("report");
        let found = experiment
            .interleaving
            .clone()
            .expect("an interleaving verdict");
        println!(
            "round {round}: {} searches; discorank {} wins, text {} wins, {} ties, p = {:.2e}",
            experiment.arms[0].searches, found.wins_a, found.wins_b, found.ties, found.p_value
        );
        if found.p_value < 0.01 {
            verdict = Some((experiment, found));
            break;
        }
    }
    let (experiment, found) = verdict.unwrap_or_else(|| {
        panic!(
            "no verdict at p < 0.01 after {} visitors",
            VISITORS_PER_ROUND * MAX_ROUNDS
        )
    });
    assert!(
        found.wins_a > found.wins_b,
        "DiscoRank is the better arm: {experiment}"
    );
    println!(
        "interleaving verdict after {} searches:\n{experiment}",
        experiment.arms[0].searches
    );

    // The same traffic, turned into graded judgments that offline evaluation scores against.
    let derived = disco(
        &data,
        &["eval", "judgments-from-clicks", "--min-impressions", "2"],
    );
    assert!(derived.starts_with("query set clicks: "), "{derived}");
    let judged: usize = derived
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(judged > 10, "queries judged from clicks: {derived}");
    let scored = disco(
        &data,
        &["eval", "run", "--set", "clicks", "--variant", "live"],
    );
    assert!(scored.contains("clicks"), "{scored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arm_can_be_served_from_another_index_generation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    disco(&data, &["seed"]);
    // The first generation stays behind, empty; the reindex builds and swaps in the second.
    let built = disco(&data, &["reindex", "--swap"]);
    assert!(built.contains("gen-2"), "{built}");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_disco"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "experiment",
            "create",
            "nine",
            "--mode",
            "ab",
            "--arm",
            "a:rank=none",
            "--arm",
            "b:gen=9",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run disco");
    assert!(
        !refused.status.success(),
        "a generation that does not exist is refused"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no index generation 9"));
    disco(
        &data,
        &[
            "experiment",
            "create",
            "generations",
            "--mode",
            "ab",
            "--arm",
            "live:rank=none",
            "--arm",
            "first:gen=1,rank=none",
        ],
    );

    let (_served, base) = serve(&data).await;
    let client = reqwest::Client::new();
    let mut totals = std::collections::BTreeMap::new();
    for session in 0..16 {
        let answer: serde_json::Value = client
            .get(format!("{base}/search?q=love"))
            .header("cookie", format!("disco_session=g{session}"))
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("JSON");
        let arm = answer["arm"].as_str().expect("an A/B arm").to_string();
        totals.insert(arm, answer["total"].as_u64().unwrap_or_default());
    }
    assert_eq!(
        totals.get("first"),
        Some(&0),
        "the empty first generation: {totals:?}"
    );

    // An admin searches a generation by name; nobody else may.
    let search = |query: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}/search?q=love&{query}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(search("generation=1", None).await.unwrap()), 401);
    assert_eq!(
        status(search("generation=1", Some("wrong")).await.unwrap()),
        401
    );
    assert_eq!(
        status(search("generation=x", Some(ADMIN_TOKEN)).await.unwrap()),
        400
    );
    assert_eq!(
        status(search("generation=9", Some(ADMIN_TOKEN)).await.unwrap()),
        503
    );
    let total = |answer: serde_json::Value| answer["total"].as_u64().unwrap_or_default();
    let first: serde_json::Value = search("generation=gen-1", Some(ADMIN_TOKEN))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: serde_json::Value = search("generation=2", Some(ADMIN_TOKEN))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (total(first.clone()), first["experiment"].clone()),
        (0, serde_json::Value::Null)
    );
    assert!(total(second) > 0);
    assert!(
        totals.get("live").is_some_and(|&n| n > 0),
        "the live one: {totals:?}"
    );
}
