//! Issue #23 on real PostgreSQL + RabbitMQ, with the real binary throughout: a schema change a
//! person makes in a morning, built into a new generation while `disco simulate` changes the
//! site, served beside the old one, interleaved with simulated searchers, swapped in and rolled
//! back — by one `disco serve` that is never restarted, while a reader polls `/search` and must
//! see no error and no empty answer at any step.
//!
//! The change, made to files `disco definitions export` wrote: people are no longer searched by
//! city; their country becomes a keyword that filters (`/search?country=`); a track's title
//! weighs more; a track's subtitle shows its genre.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use site::searchers::{Catalog, SearcherOptions, Searchers, Traffic};

use schemas::db::Db;

use crate::ops_postgres::{Server, Simulation, Site, TOKEN, disco, succeed, until_drained, verify};
use crate::support::Env;

/// A catalog of about 2,500 entities.
const TRACKS: &str = "2000";
/// What the reader asks: a genre every track of it is tagged with, so never an empty answer.
const READER_QUERY: &str = "techno";

/// Polls `/search` until stopped; counts answers, failures and empty answers.
struct Reader {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<ReaderReport>,
}

#[derive(Debug, Default)]
struct ReaderReport {
    answers: u64,
    /// The first few failures and empty answers, as seen.
    problems: Vec<String>,
    failures: u64,
    empty: u64,
}

impl Reader {
    fn start(base: &str) -> Reader {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{base}/search?q={READER_QUERY}&limit=5");
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let client = reqwest::Client::new();
                let mut report = ReaderReport::default();
                while !stop.load(Ordering::SeqCst) {
                    let answer = client
                        .get(&url)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    let problem = match answer {
                        Err(e) => Some(format!("no answer: {e}")),
                        Ok(r) if !r.status().is_success() => {
                            let status = r.status();
                            Some(format!("{status}: {}", r.text().await.unwrap_or_default()))
                        }
                        Ok(r) => match r.json::<Value>().await {
                            Err(e) => Some(format!("unreadable: {e}")),
                            Ok(v) if v["results"].as_array().is_none_or(Vec::is_empty) => {
                                report.empty += 1;
                                Some(format!("empty answer: {v}"))
                            }
                            Ok(_) => None,
                        },
                    };
                    report.answers += 1;
                    if let Some(problem) = problem {
                        if !problem.starts_with("empty") {
                            report.failures += 1;
                        }
                        if report.problems.len() < 5 {
                            report.problems.push(problem);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                report
            }
        });
        Reader { stop, task }
    }

    async fn stop(self) -> ReaderReport {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the reader panicked")
    }
}

/// `GET /search?<query>` as an admin (so `generation=` is allowed): status and body.
async fn search(server: &Server, query: &str) -> (u16, Value) {
    let response = server
        .http
        .get(format!("{}/search?{query}", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("/search?{query}: {e}"));
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn total(answer: &Value) -> u64 {
    answer["total"].as_u64().unwrap_or_default()
}

fn ids(answer: &Value) -> Vec<i64> {
    (answer["results"].as_array().into_iter().flatten())
        .filter_map(|r| r["id"].as_i64())
        .collect()
}

/// The exported definitions, edited as a person would for the change this test makes.
fn edit_definitions(dir: &std::path::Path) {
    let edit = |file: &str, from: &str, to: &str| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    // Stop searching a user's city; their country becomes a filter instead of words.
    edit(
        "user.json",
        r#""search": ["username", "full_name", "description", "city", "country"]"#,
        r#""search": ["username", "full_name", "description"]"#,
    );
    edit(
        "user.json",
        r#"{ "name": "country", "type": "text", "analyzer": "name", "stored": true, "boost": 0.5, "max_chars": 100 }"#,
        r#"{ "name": "country", "type": "keyword", "stored": true, "max_chars": 100 }"#,
    );
    // A heavier title, and the genre under each track.
    edit(
        "track.json",
        r#"{ "name": "title", "type": "text", "analyzer": "name", "stored": true, "boost": 3.0"#,
        r#"{ "name": "title", "type": "text", "analyzer": "name", "stored": true, "boost": 4.0"#,
    );
    edit(
        "track.json",
        r#""subtitle": "{owner_full_name|owner_username}""#,
        r#""subtitle": "{owner_full_name|owner_username} · {genre}""#,
    );
}

/// The four files of `dir` as `POST /admin/reindex`'s `definitions`.
fn definitions_body(dir: &std::path::Path) -> Value {
    let mut files = serde_json::Map::new();
    for kind in ["track", "user", "playlist", "group"] {
        let text = std::fs::read_to_string(dir.join(format!("{kind}.json"))).unwrap();
        files.insert(kind.to_string(), serde_json::from_str(&text).unwrap());
    }
    json!({ "definitions": files })
}

/// Runs a simulation until it has made a change, for `what`.
async fn simulating(site: &Site, what: &str) -> Simulation {
    let simulation = Simulation::start(site);
    let deadline = Instant::now() + Duration::from_secs(60);
    while simulation.steps().is_empty() {
        assert!(
            Instant::now() < deadline,
            "disco simulate made no change ({what})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    simulation
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_is_built_beside_live_interleaved_swapped_and_rolled_back() {
    let started = Instant::now();
    let env = Env::new().await;
    let site = Site::of(&env);
    succeed(
        "disco seed",
        disco(&site).args(["seed", "--dataset", "synthetic", "--tracks", TRACKS]),
    );
    let server = Server::start(&site);
    let old = server.reindex_with(None).await;
    server
        .admin(
            reqwest::Method::POST,
            "/admin/swap",
            Some(json!({ "generation": old })),
        )
        .await;
    let reader = Reader::start(&server.base);

    // 1–2. Export the shipped definitions, change them, check and compare them.
    let edited = env.data.path().join("definitions");
    let edited_arg = edited.to_str().unwrap();
    succeed(
        "definitions export",
        disco(&site).args(["definitions", "export", edited_arg]),
    );
    edit_definitions(&edited);
    let checked = succeed(
        "definitions check",
        disco(&site).args(["definitions", "check", edited_arg]),
    );
    assert!(checked.contains("valid"), "{checked}");
    let diff = succeed(
        "definitions diff",
        disco(&site).args(["definitions", "diff", "builtin", edited_arg]),
    );
    for expected in [
        "user.json: search",
        "field `country`",
        "boost 3.0 → 4.0",
        "display",
    ] {
        assert!(diff.contains(expected), "{expected} in:\n{diff}");
    }

    // 3. Reindex into a new generation with them while the site keeps changing.
    let simulation = simulating(&site, "during the reindex").await;
    let new = server.reindex_with(Some(definitions_body(&edited))).await;
    let (_, steps) = simulation.stop();
    assert!(new > old, "gen {new} after gen {old}");
    eprintln!("{} simulated changes during the reindex", steps.len());

    // 4. Both generations equal the database.
    until_drained(&env.amqp.queue);
    eprintln!("{}", verify(&site, Some(old)));
    eprintln!("{}", verify(&site, Some(new)));

    // The CLI compares generations' copies as it compares directories.
    let between = succeed(
        "definitions diff between generations",
        disco(&site).args(["definitions", "diff", "live", &format!("gen-{new}")]),
    );
    assert_eq!(between, diff, "live → gen-{new} is the edit made");

    // The site keeps changing for the rest of the test.
    let simulation = simulating(&site, "after the reindex").await;

    // Each generation shows its definitions' digest and its difference to live.
    let listed = server
        .admin(reqwest::Method::GET, "/admin/generations", None)
        .await;
    let row = |g: u64| {
        listed["generations"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["generation"] == json!(g)).cloned())
            .unwrap_or_else(|| panic!("gen-{g} in {listed}"))
    };
    let (old_row, new_row) = (row(old), row(new));
    assert_ne!(old_row["definitions_digest"], new_row["definitions_digest"]);
    assert_eq!(old_row["definitions_changes"], json!([]), "{old_row}");
    let changes = new_row["definitions_changes"].to_string();
    assert!(
        changes.contains("country") && changes.contains("city"),
        "{changes}"
    );
    // A generation's definitions cannot be changed in place.
    let refused = server
        .http
        .put(format!(
            "{}/admin/generations/{old}/definitions",
            server.base
        ))
        .bearer_auth(TOKEN)
        .json(&definitions_body(&edited))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    assert!(refused.text().await.unwrap().contains("reindex"));

    // 5. A query on the changed fields matches differently in the two generations.
    let db = env.db();
    let Db::Postgres(pool) = db else {
        panic!("the e2e site is on PostgreSQL")
    };
    let (city,): (String,) = sqlx::query_as(
        "SELECT city FROM users WHERE city <> '' GROUP BY city ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let by_city = |g: u64| format!("q={}&kind=user&limit=100&generation={g}", urlencode(&city));
    let (status, in_old) = search(&server, &by_city(old)).await;
    assert_eq!(status, 200, "{in_old}");
    let (status, in_new) = search(&server, &by_city(new)).await;
    assert_eq!(status, 200, "{in_new}");
    eprintln!(
        "people found by their city {city:?}: {} in gen-{old}, {} in gen-{new} (city no longer searched)",
        total(&in_old),
        total(&in_new)
    );
    assert!(total(&in_old) > total(&in_new), "{in_old}\n{in_new}");

    let (username, country): (String, String) = sqlx::query_as(
        "SELECT username, country FROM users WHERE country <> '' AND deleted_at IS NULL \
         AND NOT taken_down ORDER BY id LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (user_id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE username = $1")
        .bind(&username)
        .fetch_one(pool)
        .await
        .unwrap();
    let filtered = |g: u64, country: &str| {
        format!(
            "q={}&kind=user&country={}&generation={g}",
            urlencode(&username),
            urlencode(country)
        )
    };
    let (status, answer) = search(&server, &filtered(new, &country)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        ids(&answer).contains(&user_id),
        "{username} of {country}: {answer}"
    );
    let (status, answer) = search(&server, &filtered(new, "Atlantis")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!ids(&answer).contains(&user_id), "{answer}");
    let (status, answer) = search(&server, &filtered(old, &country)).await;
    assert_eq!(
        status, 400,
        "the old generation has no country filter: {answer}"
    );
    assert!(answer["error"].to_string().contains("country"), "{answer}");
    let (_, tracks) = search(
        &server,
        &format!("q={READER_QUERY}&kind=track&generation={new}"),
    )
    .await;
    let subtitle = tracks["results"][0]["subtitle"]
        .as_str()
        .unwrap_or_default();
    assert!(subtitle.contains(" · "), "the new subtitle: {tracks}");

    // 6. Interleave the two generations with simulated searchers.
    succeed(
        "experiment create",
        disco(&site).args([
            "experiment",
            "create",
            "definitions",
            "--mode",
            "interleave",
            "--arm",
            &format!("old:gen={old}"),
            "--arm",
            &format!("new:gen={new}"),
        ]),
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer: Value = client
            .get(format!("{}/search?q={READER_QUERY}", server.base))
            .header("cookie", "disco_session=probe")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["experiment"] == json!("definitions") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service never ran the experiment"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let catalog = Catalog::load(db).await.expect("the searchers' catalog");
    let options = SearcherOptions {
        seed: 23,
        base_url: server.base.clone(),
        ..SearcherOptions::default()
    };
    let report = Searchers::new(catalog, &options)
        .expect("searchers")
        .run(Traffic::Visitors(80))
        .await
        .expect("searchers ran");
    assert_eq!(report.failed_requests, 0, "{report}");
    assert_eq!(report.events_rejected, 0, "{report}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let experiment = service::experiments::experiment_report(db, "definitions")
        .await
        .expect("the experiment's report");
    eprintln!("{experiment}");
    assert!(experiment.interleaving.is_some(), "{experiment}");
    assert!(
        experiment.arms.iter().all(|arm| arm.searches > 0),
        "{experiment}"
    );
    succeed(
        "experiment stop",
        disco(&site).args(["experiment", "stop", "definitions"]),
    );

    // 7. Swap to the new schema, then roll back to the old one, in the same process.
    let swapped = server
        .admin(
            reqwest::Method::POST,
            "/admin/swap",
            Some(json!({ "generation": new })),
        )
        .await;
    assert_eq!(swapped["live"], json!(new), "{swapped}");
    let live_by_city = format!("q={}&kind=user&limit=100", urlencode(&city));
    let (_, live) = search(&server, &live_by_city).await;
    assert!(
        total(&live) < total(&in_old),
        "the new schema is live: {live}"
    );
    let (status, _) = search(
        &server,
        &format!("q={}&country={}", urlencode(&username), urlencode(&country)),
    )
    .await;
    assert_eq!(status, 200, "live filters on country");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let rolled = server
        .admin(reqwest::Method::POST, "/admin/rollback", None)
        .await;
    assert_eq!(rolled["live"], json!(old), "{rolled}");
    let (_, live) = search(&server, &live_by_city).await;
    assert!(
        total(&live) > total(&in_new),
        "the old schema is live again: {live}"
    );
    let (status, _) = search(
        &server,
        &format!("q={}&country={}", urlencode(&username), urlencode(&country)),
    )
    .await;
    assert_eq!(status, 400, "the old schema has no country filter");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (_, steps) = simulation.stop();
    let read = reader.stop().await;
    eprintln!(
        "reader: {} answers, {} failed, {} empty; {} more simulated changes",
        read.answers,
        read.failures,
        read.empty,
        steps.len()
    );
    assert!(read.answers > 50, "{read:?}");
    assert_eq!((read.failures, read.empty), (0, 0), "{read:?}");

    // Both generations still equal the database after all of it.
    until_drained(&env.amqp.queue);
    verify(&site, Some(old));
    verify(&site, Some(new));
    server.stop();
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
