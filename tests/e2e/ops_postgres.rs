//! Issue #5 on real PostgreSQL + RabbitMQ, with the real binary throughout: `disco seed` a
//! synthetic catalog, `disco serve` (query service + indexer + admin API), and a full reindex
//! over `POST /admin/reindex` while `disco simulate` creates, edits, hides and deletes. Once the
//! broker queue is drained, `disco verify` finds no difference in either generation, after the
//! swap, and after the rollback — and the previous generation keeps receiving live writes, so
//! the rollback loses nothing.
//!
//! Each test has its own database (testkit::FreshPostgres) and its own exchange and queues
//! (testkit::unique_name), so it runs beside the others.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::Env;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "ops-postgres-token";
/// A few thousand tracks: users, playlists and groups scale with them (about 4,000 entities).
const TRACKS: &str = "3000";
/// `disco simulate` while the second generation builds: changes per second, seconds per run.
const SIM_RATE: &str = "120";
const SIM_CHUNK_SECONDS: &str = "3";

/// Where the test's `disco` commands point: its database, broker names and data directory.
#[derive(Clone)]
pub(crate) struct Site {
    pub(crate) database: String,
    pub(crate) amqp: String,
    pub(crate) exchange: String,
    pub(crate) queue: String,
    pub(crate) data: std::path::PathBuf,
}

impl Site {
    pub(crate) fn of(env: &Env) -> Site {
        Site {
            database: env.pg.url.clone(),
            amqp: env.amqp.url.clone(),
            exchange: env.amqp.exchange.clone(),
            queue: env.amqp.queue.clone(),
            data: env.data.path().to_path_buf(),
        }
    }
}

/// `disco <args>` on the test's database, broker names and data directory.
pub(crate) fn disco(site: &Site) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_disco"));
    command
        .env("DATABASE_URL", &site.database)
        .env("AMQP_URL", &site.amqp)
        .env("DISCO_EXCHANGE", &site.exchange)
        .env("DISCO_QUEUE", &site.queue)
        .env("DISCO_DATA_DIR", &site.data)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .env_remove("DISCO_ADMIN_TOKEN")
        .env_remove("DISCO_LISTEN");
    command
}

/// Runs `command` to the end and returns its stdout; panics with both streams on failure.
pub(crate) fn succeed(what: &str, command: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{what} failed ({status}):\n{stdout}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// `disco verify` (the live generation, or `generation`): must exit 0 and say so.
pub(crate) fn verify(site: &Site, generation: Option<u64>) -> String {
    let mut command = disco(site);
    command.arg("verify");
    if let Some(generation) = generation {
        command.args(["--generation", &generation.to_string()]);
    }
    let out = succeed(&format!("disco verify {generation:?}"), &mut command);
    // Documents equal; a count left behind by a known race is reported, not failed on (see
    // `VerifyReport::counts_clean`).
    assert!(
        out.contains("no difference") || out.contains("documents equal"),
        "{out}"
    );
    out
}

/// Removes terminal colour codes, in case the log writer adds them anyway.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads `stream` line by line on a thread into `lines` (and calls `each` on every line).
fn collect_lines(
    stream: impl std::io::Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
    each: impl Fn(&str) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let line = plain(&line);
            each(&line);
            lines.lock().unwrap().push(line);
        }
    })
}

/// Waits for `child` to exit within `limit`; kills it and panics with `what` otherwise.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `disco serve` as a child process: the query service, the indexer on the test's queue, and
/// the admin API. Killed when dropped (a failing test leaves nothing running).
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(site: &Site) -> Server {
        Server::start_with(site, &[])
    }

    /// [`Server::start`] with more environment (`DISCO_RECONCILE_EVERY`, …).
    pub(crate) fn start_with(site: &Site, envs: &[(&str, &str)]) -> Server {
        Server::spawn(disco(site), envs)
    }

    /// [`Server::start_with`] in a session of its own (`setsid`), so what it does to its
    /// session's scheduling group touches no other process of the suite.
    pub(crate) fn start_in_own_session(site: &Site, envs: &[(&str, &str)]) -> Server {
        let disco = disco(site);
        let mut command = Command::new("setsid");
        command.arg(disco.get_program());
        for (name, value) in disco.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        Server::spawn(command, envs)
    }

    fn spawn(mut command: Command, envs: &[(&str, &str)]) -> Server {
        let mut child = command
            .envs(envs.iter().copied())
            .arg("serve")
            .env("DISCO_LISTEN", "127.0.0.1:0")
            .env("DISCO_ADMIN_TOKEN", TOKEN)
            .env("DISCO_BATCH_SIZE", "200")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the disco binary runs");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (address, found) = std::sync::mpsc::channel();
        collect_lines(child.stderr.take().unwrap(), log.clone(), move |line| {
            if let Some(at) = line.find("serving on http://") {
                let rest = &line[at + "serving on ".len()..];
                let url = rest.split_whitespace().next().unwrap_or_default();
                let _ = address.send(url.to_string());
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            if let Ok(base) = found.recv_timeout(Duration::from_millis(100)) {
                break base;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "disco serve exited ({status}) before listening:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "disco serve did not listen within 60 s:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            base,
            http: reqwest::Client::new(),
            log,
        }
    }

    /// `/metrics`, as Prometheus reads it.
    pub(crate) async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        let response = self.http.get(&url).send().await;
        let response = response.unwrap_or_else(|e| panic!("{url}: {e}"));
        response.text().await.unwrap_or_default()
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// An admin call with the token; panics (with the server's log) unless it answers 2xx.
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nserver log:\n{}", self.log()));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {path}: {status} {text}\nserver log:\n{}",
            self.log()
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// `POST /admin/reindex`, then `GET /admin/reindex` until built; returns the generation.
    async fn reindex(&self) -> u64 {
        self.reindex_with(None).await
    }

    /// [`Server::reindex`] with a request body (`{"definitions": …}`).
    pub(crate) async fn reindex_with(&self, body: Option<Value>) -> u64 {
        let started = self
            .admin(reqwest::Method::POST, "/admin/reindex", body)
            .await;
        assert_eq!(started["state"], "building", "{started}");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let progress = self
                .admin(reqwest::Method::GET, "/admin/reindex", None)
                .await;
            match progress["state"].as_str() {
                Some("built") => {
                    assert_eq!(progress["rows_done"], progress["rows_total"], "{progress}");
                    return progress["generation"].as_u64().unwrap();
                }
                Some("building") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => panic!(
                    "the reindex did not build (deadline 180 s); last progress {progress}\nserver log:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// SIGTERM, and a clean exit: the indexer was alive and stopped in order.
    pub(crate) fn stop(mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "disco serve died during the test:\n{}",
            self.log()
        );
        let pid = self.child.id().to_string();
        succeed("kill -TERM", Command::new("kill").args(["-TERM", &pid]));
        let status = wait_bounded(&mut self.child, Duration::from_secs(30), "disco serve");
        assert!(
            status.success(),
            "disco serve exited {status}:\n{}",
            self.log()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One simulated change, as `disco simulate` logged it once written and published.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    at: DateTime<Utc>,
    change: String,
}

/// Parses `disco simulate`'s debug line `<time> DEBUG …: simulated key=… change=<change>`.
fn parse_step(line: &str) -> Option<Step> {
    let (_, change) = line.split_once(" simulated ")?.1.split_once("change=")?;
    let at = line.split_whitespace().next()?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Some(Step {
        at,
        change: change.trim().to_string(),
    })
}

/// `disco simulate` runs back to back (each for a few seconds, each its own seed) until
/// stopped; every run finishes by itself, so no change is cut between its write and its event.
pub(crate) struct Simulation {
    stop: Arc<AtomicBool>,
    steps: Arc<Mutex<Vec<Step>>>,
    runner: std::thread::JoinHandle<Vec<String>>,
}

impl Simulation {
    pub(crate) fn start(site: &Site) -> Simulation {
        let stop = Arc::new(AtomicBool::new(false));
        let steps = Arc::new(Mutex::new(Vec::new()));
        let runner = std::thread::spawn({
            let (site, stop, steps) = (site.clone(), stop.clone(), steps.clone());
            move || {
                let mut reports = Vec::new();
                for run in 0u64.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let mut command = disco(&site);
                    command
                        .args(["simulate", "--rate", SIM_RATE])
                        .args(["--duration", SIM_CHUNK_SECONDS])
                        .args(["--seed", &(100 + run).to_string()])
                        .env("RUST_LOG", "warn,disco::cmd::simulate=debug")
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped());
                    reports.push(simulate_once(&mut command, &steps));
                }
                reports
            }
        });
        Simulation {
            stop,
            steps,
            runner,
        }
    }

    pub(crate) fn steps(&self) -> Vec<Step> {
        self.steps.lock().unwrap().clone()
    }

    /// Lets the run in hand finish; returns every run's report.
    pub(crate) fn stop(self) -> (Vec<String>, Vec<Step>) {
        self.stop.store(true, Ordering::SeqCst);
        let reports = self.runner.join().expect("the simulate runner panicked");
        let steps = self.steps.lock().unwrap().clone();
        (reports, steps)
    }
}

/// One `disco simulate` to its end; its steps go to `steps` as they are logged.
fn simulate_once(command: &mut Command, steps: &Arc<Mutex<Vec<Step>>>) -> String {
    let mut child = command.spawn().expect("the disco binary runs");
    let log = Arc::new(Mutex::new(Vec::new()));
    let reader = collect_lines(child.stderr.take().unwrap(), log.clone(), {
        let steps = steps.clone();
        move |line| {
            if let Some(step) = parse_step(line) {
                steps.lock().unwrap().push(step);
            }
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let report = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let status = wait_bounded(&mut child, Duration::from_secs(120), "disco simulate");
    reader.join().unwrap();
    let report = report.join().unwrap();
    assert!(
        status.success(),
        "disco simulate failed ({status}):\n{report}\n{}",
        log.lock().unwrap().join("\n")
    );
    report
}

/// `<n> changes, <m> events published in …`: the first line of a simulate report.
fn changes_in(report: &str) -> u64 {
    report
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a simulate report: {report}"))
}

/// (ready, unacknowledged) messages on `queue`, from the broker itself.
fn queue_depth(queue: &str) -> Option<(u64, u64)> {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name", "messages_ready"])
        .arg("messages_unacknowledged")
        .output()
        .expect("rabbitmqctl is available (the broker's own view of the queue)");
    assert!(
        out.status.success(),
        "rabbitmqctl list_queues: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            if fields.next() != Some(queue) {
                return None;
            }
            let ready = fields.next()?.parse().ok()?;
            let unacked = fields.next()?.parse().ok()?;
            Some((ready, unacked))
        })
}

/// Polls the broker until the indexer's queues hold nothing, ready or unacknowledged: every
/// event published so far (simulate has exited, so the broker confirmed them all) is applied
/// and committed, since the indexer acknowledges only after its commit. People's events come on
/// the owner queue, `<queue>.owners`, beside the main one. Events parked on the retry queue are
/// not counted: with no replica lag they are only events for rows already removed, which their
/// destroy event settled.
pub(crate) fn until_drained(queue: &str) {
    until_empty(&[queue, &format!("{queue}.owners")]);
}

/// Polls the broker until every queue of `queues` holds nothing, ready or unacknowledged.
pub(crate) fn until_empty(queues: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let depths: Vec<Option<(u64, u64)>> = queues.iter().map(|q| queue_depth(q)).collect();
        if let Some(missing) = queues.iter().zip(&depths).find(|(_, d)| d.is_none()) {
            panic!("queue {} is not on the broker", missing.0);
        }
        if depths.iter().all(|d| *d == Some((0, 0))) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the indexer did not drain {queues:?} within 120 s; last (ready, unacked): {depths:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn count(steps: &[Step], changes: &[&str]) -> usize {
    steps
        .iter()
        .filter(|s| changes.contains(&s.change.as_str()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reindex_while_the_site_keeps_changing_verifies_after_swap_and_after_rollback() {
    let test_started = Instant::now();
    let env = Env::new().await;
    let site = Site::of(&env);
    let seeded = succeed(
        "disco seed",
        disco(&site).args(["seed", "--dataset", "synthetic", "--tracks", TRACKS]),
    );
    eprintln!("seeded:\n{seeded}");

    let server = Server::start(&site);
    // The first generation, built while nothing changes.
    let first = server.reindex().await;
    let swapped = server
        .admin(
            reqwest::Method::POST,
            "/admin/swap",
            Some(json!({ "generation": first })),
        )
        .await;
    assert_eq!(swapped["live"], json!(first), "{swapped}");
    eprintln!("{}", verify(&site, None));

    // The site keeps changing; the second generation builds meanwhile.
    let simulation = Simulation::start(&site);
    let deadline = Instant::now() + Duration::from_secs(60);
    while simulation.steps().is_empty() {
        assert!(
            Instant::now() < deadline,
            "disco simulate made no change within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let build_started = Utc::now();
    let second = server.reindex().await;
    let build_ended = Utc::now();
    let (reports, steps) = simulation.stop();
    assert!(second > first, "gen {second} after gen {first}");

    // The simulation really changed the site while the generation was building.
    let during: Vec<Step> = steps
        .iter()
        .filter(|s| s.at >= build_started && s.at <= build_ended)
        .cloned()
        .collect();
    let reported: u64 = reports.iter().map(|r| changes_in(r)).sum();
    assert_eq!(
        reported,
        steps.len() as u64,
        "every change simulate reports is in its log:\n{}",
        reports.concat()
    );
    let (created, edited) = (count(&during, &["created"]), count(&during, &["edited"]));
    let (deleted, hidden) = (
        count(&during, &["deleted", "removed"]),
        count(&during, &["made private", "taken down"]),
    );
    eprintln!(
        "build {:.1} s; {} changes in all ({} runs), {} during the build: \
         {created} created, {edited} edited, {deleted} deleted, {hidden} hidden",
        (build_ended - build_started).as_seconds_f64(),
        steps.len(),
        reports.len(),
        during.len()
    );
    assert!(
        created > 0 && edited > 0 && deleted > 0,
        "simulate must create, edit and delete while the generation builds \
         ({created} created, {edited} edited, {deleted} deleted of {} changes during the build)",
        during.len()
    );

    // Drained: both generations equal the database.
    until_drained(&env.amqp.queue);
    eprintln!("{}", verify(&site, Some(second)));
    eprintln!("{}", verify(&site, Some(first)));

    let swapped = server
        .admin(reqwest::Method::POST, "/admin/swap", None)
        .await;
    assert_eq!(swapped["live"], json!(second), "{swapped}");
    assert_eq!(swapped["previous"], json!(first), "{swapped}");
    let out = verify(&site, None);
    assert!(
        out.contains(&format!("gen-{second}")),
        "verify checked the swapped-in generation: {out}"
    );

    // More changes while the first generation is previous: a rollback must not lose them.
    let burst = succeed(
        "disco simulate (after the swap)",
        disco(&site).args([
            "simulate", "--events", "150", "--rate", "500", "--seed", "7",
        ]),
    );
    assert_eq!(changes_in(&burst), 150, "{burst}");
    until_drained(&env.amqp.queue);
    verify(&site, None);

    let rolled = server
        .admin(reqwest::Method::POST, "/admin/rollback", None)
        .await;
    assert_eq!(rolled["live"], json!(first), "{rolled}");
    let out = verify(&site, None);
    assert!(
        out.contains(&format!("gen-{first}")),
        "verify checked the rolled-back generation: {out}"
    );
    eprintln!("{out}");

    let generations = server
        .admin(reqwest::Method::GET, "/admin/generations", None)
        .await;
    assert_eq!(generations["live"], json!(first), "{generations}");
    assert_eq!(generations["previous"], json!(second), "{generations}");

    // The broker backlog, read from RabbitMQ every 5 s: drained by now, so 0, on the
    // dashboard as in /metrics.
    let dashboard = server
        .admin(reqwest::Method::GET, "/admin/dashboard/data", None)
        .await;
    assert_eq!(
        dashboard["broker"]["backlog"],
        json!(0),
        "{}",
        dashboard["broker"]
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("disco_broker_backlog_messages 0"),
        "{metrics}"
    );
    server.stop();
    eprintln!("done in {:.1} s", test_started.elapsed().as_secs_f64());
}

/// `disco serve` runs its search threads real-time by default (`--search-realtime`) and, asked
/// to, puts its scheduling group ahead of the database and broker it shares the machine with
/// (`--search-nice -10`), and says so; its own session's group only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_puts_its_searches_ahead_of_the_machine() {
    let autogroups = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|on| on.trim() == "1");
    let env = Env::new().await;
    let site = Site::of(&env);
    let ours = std::fs::read_to_string("/proc/self/autogroup").unwrap_or_default();
    let server = Server::start_in_own_session(
        &site,
        &[
            ("DISCO_SEARCH_NICE", "-10"),
            ("DISCO_SEARCH_REALTIME", "true"),
        ],
    );
    let pid = server.child.id();
    let group = std::fs::read_to_string(format!("/proc/{pid}/autogroup")).unwrap_or_default();
    let policies = search_thread_policies(pid);
    let log = server.log();
    server.stop();
    // The suite runs as root (CAP_SYS_NICE): one SCHED_RR search thread per core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(policies, vec![libc::SCHED_RR; cores], "{log}");
    assert!(log.contains("search threads run real-time"), "{log}");
    if !autogroups {
        // The kernel shares the CPU by thread or cgroup: nothing to raise, nothing said.
        assert!(!log.contains("scheduling group raised"), "{log}");
        return;
    }
    assert!(group.trim_end().ends_with("nice -10"), "{group}\n{log}");
    assert!(log.contains("scheduling group raised"), "{log}");
    assert_eq!(
        std::fs::read_to_string("/proc/self/autogroup").unwrap_or_default(),
        ours,
        "the suite's own group is left alone"
    );
}

/// The scheduling policy of each of `pid`'s search threads (`search-<n>`), from the 41st field
/// of `/proc/<pid>/task/<tid>/stat`.
fn search_thread_policies(pid: u32) -> Vec<i32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    let mut policies = Vec::new();
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("search-") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after `(comm)` start at the 3rd; the policy is the 41st.
        let policy = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(41 - 3))
            .and_then(|p| p.parse().ok())
            .expect("a policy field");
        policies.push(policy);
    }
    policies
}
