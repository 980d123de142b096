//! A repeatable fault run (issue #25 item 3): the site, the indexer and the query service as
//! real `disco` processes on a database and broker names of their own, while RabbitMQ,
//! PostgreSQL and the indexer are restarted on a schedule. At the end, once everything is
//! quiet, the index must equal the database.
//!
//! While `disco simulate` changes the site (and loses a share of its events on purpose), the run
//! restarts, in turn: RabbitMQ (`rabbitmqctl stop_app` / `start_app`), PostgreSQL
//! (`pg_ctlcluster … stop` / `start`), and the indexer (`disco index`, by SIGKILL, then started
//! again; the query service is `disco serve --no-indexer` and is never stopped). A reader
//! searches throughout, and a probe writes a track and publishes its event every second and
//! times until `/search` finds it. When the site is done, the queue drained and a reconcile and
//! a sweep period passed, it counts what is wrong (`indexer::verify`, then `disco verify`) and
//! what was resurrected (searchable documents whose row is deleted).
//!
//! Every service the run stops is started again when the run ends, fails, panics or is
//! interrupted ([`Services`] restores them on drop); the run checks at the end that both are
//! up. This module only uses what both the bench crate and the `disco` package's tests depend
//! on: the e2e suite compiles it as is (`tests/e2e/chaos.rs`) for its short variant.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use schemas::db::Db;
use schemas::{Action, EntityKey, EntityKind, Envelope};
use site::publish::{AmqpPublisher, Publisher};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The log line `disco index` writes for each repair (`indexer::pipeline`).
const REPAIR_LINE: &str = "repaired an entity the site did not announce";
/// The log line `disco index` writes when its reconciler gives up (`src/cmd/wiring.rs`).
const RECONCILER_STOPPED_LINE: &str = "reconciliation stopped";
/// The log line the simulator's publisher writes before it reconnects.
const REPUBLISH_LINE: &str = "publishing failed; reconnecting";
/// A probe not searchable this long after its row was written counts as never searchable.
const PROBE_PATIENCE: Duration = Duration::from_secs(120);
/// The probe user: a negative id, which the simulator never picks or creates.
const PROBE_USER: i64 = -1;

/// `disco-bench chaos`: flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Length of the faulty part of the run (the simulator's duration), in minutes.
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// Tracks of the synthetic catalog seeded first (users, sets and groups scale with them).
    #[arg(long, default_value_t = 20_000)]
    pub tracks: u64,
    /// The simulator's changes per second.
    #[arg(long, default_value_t = 300.0)]
    pub rate: f64,
    /// Share of the simulator's events lost on purpose (row written, event dropped).
    #[arg(long, default_value_t = 0.01)]
    pub lose_events: f64,
    /// Seconds between faults; they cycle RabbitMQ, PostgreSQL, indexer, the first after half.
    #[arg(long, default_value_t = 60.0)]
    pub fault_every: f64,
    /// Seconds a service stays down in each fault.
    #[arg(long, default_value_t = 5.0)]
    pub outage: f64,
    /// The indexer's reconcile period, grace and sweep period (`disco index` flags).
    #[arg(long, default_value = "5s", value_parser = rank::schedule::parse_period)]
    pub reconcile_every: Duration,
    #[arg(long, default_value = "5s", value_parser = rank::schedule::parse_period)]
    pub reconcile_grace: Duration,
    #[arg(long, default_value = "30s", value_parser = rank::schedule::parse_period)]
    pub sweep_every: Duration,
    /// The `disco` binary [default: `disco` beside this executable, i.e. target/<profile>/].
    #[arg(long)]
    pub disco: Option<PathBuf>,
    /// A PostgreSQL URL on the server to use (the run creates and drops its own database).
    #[arg(
        long,
        env = "DISCO_TEST_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a run does, resolved from [`ChaosArgs`].
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    pub duration: Duration,
    pub tracks: u64,
    pub rate: f64,
    pub lose: f64,
    pub fault_every: Duration,
    pub outage: Duration,
    pub reconcile_every: Duration,
    pub reconcile_grace: Duration,
    pub sweep_every: Duration,
    pub disco: PathBuf,
    pub postgres: String,
    pub amqp: String,
    /// Where the run's data directory goes (`<work>/chaos-<id>`, removed after a clean run).
    pub work: PathBuf,
}

impl ChaosArgs {
    /// The options, with the broker URL and work directory of the caller.
    pub fn options(&self, amqp: &str, work: &Path) -> anyhow::Result<ChaosOptions> {
        ensure!(self.minutes > 0.0, "--minutes must be positive");
        ensure!(self.fault_every > 0.0, "--fault-every must be positive");
        ensure!(self.outage >= 0.0, "--outage must not be negative");
        let disco = match &self.disco {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("this executable has no directory")?
                .join("disco"),
        };
        Ok(ChaosOptions {
            duration: Duration::from_secs_f64(self.minutes * 60.0),
            tracks: self.tracks,
            rate: self.rate,
            lose: self.lose_events,
            fault_every: Duration::from_secs_f64(self.fault_every),
            outage: Duration::from_secs_f64(self.outage),
            reconcile_every: self.reconcile_every,
            reconcile_grace: self.reconcile_grace,
            sweep_every: self.sweep_every,
            disco,
            postgres: self.postgres.clone(),
            amqp: amqp.to_string(),
            work: work.to_path_buf(),
        })
    }
}

/// The faults, in the order the schedule cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    RabbitMq,
    Postgres,
    Indexer,
}

impl Fault {
    const CYCLE: [Fault; 3] = [Fault::RabbitMq, Fault::Postgres, Fault::Indexer];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::RabbitMq => "rabbitmq",
            Fault::Postgres => "postgresql",
            Fault::Indexer => "indexer",
        }
    }
}

/// One fault as it happened: when (since the simulator started) and how long it was down.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    pub fault: Fault,
    pub at: Duration,
    pub down: Duration,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub duration: Duration,
    pub tracks: u64,
    pub rate: f64,
    pub lose: f64,
    pub faults: Vec<FaultRecord>,
    /// The simulator's changes, events published and events lost on purpose.
    pub changes: u64,
    pub published: u64,
    pub lost: u64,
    /// Times the simulator's publisher reconnected and published again; steps it retried
    /// after a database error.
    pub republished: u64,
    pub database_retries: u64,
    /// Repairs logged by every indexer process of the run.
    pub repaired: u64,
    /// Times an indexer's reconciler stopped on an error (it stays stopped until that
    /// indexer process restarts).
    pub reconciler_stopped: u64,
    /// Entities wrong after quiet (verify's missing + extra + stale + shown).
    pub wrong: u64,
    /// Documents whose counts differ (reported, not failed on: `VerifyReport::counts_clean`).
    pub counts_differ: u64,
    /// Searchable documents whose row is deleted (soft or outright).
    pub resurrected: u64,
    pub verify: String,
    pub disco_verify_clean: bool,
    pub searches: u64,
    pub failed_searches: u64,
    pub probes: u64,
    pub probes_never_searchable: u64,
    /// Longest time-to-searchable of a probe whose wait overlapped a fault, and of any probe;
    /// the median of probes that overlapped none.
    pub longest_during_fault: Option<Duration>,
    pub longest: Option<Duration>,
    pub median_quiet: Option<Duration>,
    /// `disco index` exits nobody asked for (restarted at once).
    pub indexer_crashes: u64,
    /// From the end of the simulator to a clean index (drain, then periods, then verify).
    pub quiet_after: Duration,
    pub services_up: bool,
}

impl ChaosReport {
    /// The run met issue #25's bar: nothing wrong, nothing resurrected, services up.
    pub fn passed(&self) -> bool {
        self.wrong == 0 && self.resurrected == 0 && self.disco_verify_clean && self.services_up
    }

    pub fn to_json(&self) -> serde_json::Value {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        serde_json::json!({
            "minutes": self.duration.as_secs_f64() / 60.0,
            "tracks": self.tracks,
            "rate": self.rate,
            "lose_events": self.lose,
            "faults": self.faults.iter().map(|f| serde_json::json!({
                "fault": f.fault.as_str(),
                "at_s": f.at.as_secs_f64(),
                "down_s": f.down.as_secs_f64(),
            })).collect::<Vec<_>>(),
            "changes": self.changes,
            "events_published": self.published,
            "events_lost_on_purpose": self.lost,
            "republished_after_broker_error": self.republished,
            "database_retries": self.database_retries,
            "entities_repaired": self.repaired,
            "reconciler_stopped": self.reconciler_stopped,
            "entities_wrong": self.wrong,
            "counts_differ": self.counts_differ,
            "entities_resurrected": self.resurrected,
            "disco_verify_clean": self.disco_verify_clean,
            "searches": self.searches,
            "failed_searches": self.failed_searches,
            "probes": self.probes,
            "probes_never_searchable": self.probes_never_searchable,
            "longest_time_to_searchable_during_fault_ms": ms(self.longest_during_fault),
            "longest_time_to_searchable_ms": ms(self.longest),
            "median_time_to_searchable_quiet_ms": ms(self.median_quiet),
            "indexer_crashes": self.indexer_crashes,
            "quiet_after_s": self.quiet_after.as_secs_f64(),
            "services_up": self.services_up,
            "passed": self.passed(),
        })
    }
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| match d {
            Some(d) => format!("{} ms", d.as_millis()),
            None => "-".to_string(),
        };
        writeln!(
            f,
            "chaos: {:.1} min, {} tracks seeded, simulate --rate {} --lose-events {}",
            self.duration.as_secs_f64() / 60.0,
            self.tracks,
            self.rate,
            self.lose
        )?;
        for fault in &self.faults {
            writeln!(
                f,
                "  t={:>6.1} s  {:<10} down {:.1} s",
                fault.at.as_secs_f64(),
                fault.fault.as_str(),
                fault.down.as_secs_f64()
            )?;
        }
        let rows: [(&str, String); 19] = [
            ("changes written", self.changes.to_string()),
            ("events published", self.published.to_string()),
            ("events lost on purpose", self.lost.to_string()),
            (
                "events republished after a broker error",
                self.republished.to_string(),
            ),
            (
                "changes retried after a database error",
                self.database_retries.to_string(),
            ),
            ("entities repaired", self.repaired.to_string()),
            (
                "reconcilers stopped by an error",
                self.reconciler_stopped.to_string(),
            ),
            ("entities wrong at the end", self.wrong.to_string()),
            ("entities resurrected", self.resurrected.to_string()),
            (
                "counts that differ (reported only)",
                self.counts_differ.to_string(),
            ),
            (
                "disco verify",
                match self.disco_verify_clean {
                    true => "clean".to_string(),
                    false => "DIFFERENT".to_string(),
                },
            ),
            (
                "searches / failed",
                format!("{} / {}", self.searches, self.failed_searches),
            ),
            (
                "probes / never searchable",
                format!("{} / {}", self.probes, self.probes_never_searchable),
            ),
            (
                "longest time-to-searchable during a fault",
                ms(self.longest_during_fault),
            ),
            ("longest time-to-searchable", ms(self.longest)),
            ("median time-to-searchable, no fault", ms(self.median_quiet)),
            (
                "indexer exits nobody asked for",
                self.indexer_crashes.to_string(),
            ),
            (
                "clean after the simulator stopped",
                format!("{:.1} s", self.quiet_after.as_secs_f64()),
            ),
            ("services up at the end", self.services_up.to_string()),
        ];
        for (what, value) in rows {
            writeln!(f, "  {what:<44} {value:>12}")?;
        }
        writeln!(f, "  {}", if self.passed() { "PASSED" } else { "FAILED" })?;
        if self.wrong > 0 || self.counts_differ > 0 {
            write!(f, "{}", self.verify)?;
        }
        Ok(())
    }
}

/// Runs the fault run; Ctrl-C ends it early, still restoring every service.
pub async fn run(options: ChaosOptions) -> anyhow::Result<ChaosReport> {
    tokio::select! {
        outcome = run_inner(options) => outcome,
        _ = tokio::signal::ctrl_c() => bail!("interrupted: services restored, processes stopped"),
    }
}

async fn run_inner(options: ChaosOptions) -> anyhow::Result<ChaosReport> {
    ensure!(
        options.disco.is_file(),
        "no disco binary at {} (build it: cargo build --release --bin disco, or pass --disco)",
        options.disco.display()
    );
    let services = Arc::new(Services::find(&options)?);
    services.check_up().await?;
    let id = format!("{:010x}", Utc::now().timestamp_micros() & 0xff_ffff_ffff);
    let run = Run::create(&options, &id).await?;
    let started = Instant::now();
    let outcome = faulty_run(&options, &services, &run).await;
    // Whatever happened: every service up again, then checked.
    let restored = tokio::task::spawn_blocking({
        let services = services.clone();
        move || services.restore()
    })
    .await?;
    let up = services.check_up().await;
    let mut report = outcome?;
    restored?;
    report.services_up = up.is_ok();
    up?;
    tracing::info!(took = ?started.elapsed(), "chaos run finished");
    if report.passed() {
        run.remove().await;
    } else {
        tracing::warn!(data = %run.data.display(), database = %run.database, "kept for inspection");
    }
    Ok(report)
}

/// The run's own database, broker names and data directory.
struct Run {
    database: String,
    database_url: String,
    admin: String,
    exchange: String,
    queue: String,
    amqp: String,
    data: PathBuf,
    disco: PathBuf,
}

impl Run {
    async fn create(options: &ChaosOptions, id: &str) -> anyhow::Result<Run> {
        use sqlx::Connection;
        let database = format!("disco_chaos_{id}");
        let mut conn = sqlx::PgConnection::connect(&options.postgres)
            .await
            .with_context(|| format!("PostgreSQL at {} is required", options.postgres))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;
        let base = options
            .postgres
            .rfind('/')
            .map(|slash| &options.postgres[..slash])
            .context("the PostgreSQL URL has no database path")?;
        let data = options.work.join(format!("chaos-{id}"));
        std::fs::create_dir_all(&data)?;
        Ok(Run {
            database_url: format!("{base}/{database}"),
            database,
            admin: options.postgres.clone(),
            exchange: format!("chaos-models-{id}"),
            queue: format!("chaos-indexer-{id}"),
            amqp: options.amqp.clone(),
            data,
            disco: options.disco.clone(),
        })
    }

    /// `disco <args>` on the run's database, broker names and data directory.
    fn disco(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.disco);
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", &self.amqp)
            .env("DISCO_EXCHANGE", &self.exchange)
            .env("DISCO_QUEUE", &self.queue)
            .env("DISCO_DATA_DIR", &self.data)
            .env("DISCO_LISTEN", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("DISCO_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs `disco <args>` to the end; its stdout, or an error with both streams.
    async fn succeed(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .disco(args)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .with_context(|| format!("running disco {args:?}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            out.status.success(),
            "disco {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    }

    /// Drops the database and the queue, removes the data directory (after a clean run).
    async fn remove(&self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }
        let queue = self.queue.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for name in [
                queue.clone(),
                format!("{queue}.retry"),
                format!("{queue}.dead-letter"),
            ] {
                let _ = std::process::Command::new("rabbitmqctl")
                    .args(["-q", "delete_queue", &name])
                    .output();
            }
        })
        .await;
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A `disco` process whose stderr is read line by line: repairs and republishes counted, the
/// address `serve` listens on noted, the last lines kept for error messages.
struct Proc {
    child: Child,
    stdout: Option<JoinHandle<String>>,
}

#[derive(Default)]
struct Logs {
    repairs: AtomicU64,
    reconciler_stopped: AtomicU64,
    republished: AtomicU64,
    listen: Mutex<Option<String>>,
    tail: Mutex<VecDeque<String>>,
}

impl Logs {
    fn tail(&self) -> String {
        let tail = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        Vec::from(tail).join("\n")
    }
}

impl Proc {
    fn spawn(mut command: Command, log: Arc<Logs>) -> anyhow::Result<Proc> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting disco")?;
        let stderr = child.stderr.take().context("stderr")?;
        let lines = log;
        tokio::spawn(async move {
            // NO_COLOR is set: plain lines.
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if line.contains(REPAIR_LINE) {
                    lines.repairs.fetch_add(1, Ordering::Relaxed);
                }
                if line.contains(RECONCILER_STOPPED_LINE) {
                    lines.reconciler_stopped.fetch_add(1, Ordering::Relaxed);
                }
                if line.contains(REPUBLISH_LINE) {
                    lines.republished.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(at) = line.find("serving on http://") {
                    let rest = &line[at + "serving on http://".len()..];
                    let address = rest.split_whitespace().next().unwrap_or_default();
                    if let Ok(mut listen) = lines.listen.lock() {
                        *listen = Some(address.to_string());
                    }
                }
                if let Ok(mut tail) = lines.tail.lock() {
                    if tail.len() == 200 {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
        });
        let stdout = child.stdout.take().context("stdout")?;
        let stdout = tokio::spawn(async move {
            let mut text = String::new();
            let _ = BufReader::new(stdout).read_to_string(&mut text).await;
            text
        });
        Ok(Proc {
            child,
            stdout: Some(stdout),
        })
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, and wait for it to be gone.
    async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The indexer process, restarted when killed on purpose or when it exits by itself.
struct IndexerProc {
    proc: Proc,
    args: Vec<String>,
    log: Arc<Logs>,
    crashes: u64,
}

impl IndexerProc {
    fn start(run: &Run, options: &ChaosOptions, log: Arc<Logs>) -> anyhow::Result<IndexerProc> {
        let args = vec![
            "index".to_string(),
            "--reconcile-every".to_string(),
            whole_seconds(options.reconcile_every),
            "--reconcile-grace".to_string(),
            whole_seconds(options.reconcile_grace),
            "--sweep-every".to_string(),
            whole_seconds(options.sweep_every),
        ];
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let proc = Proc::spawn(run.disco(&refs), log.clone())?;
        Ok(IndexerProc {
            proc,
            args,
            log,
            crashes: 0,
        })
    }

    fn restart(&mut self, run: &Run) -> anyhow::Result<()> {
        let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.proc = Proc::spawn(run.disco(&refs), self.log.clone())?;
        Ok(())
    }

    /// Restarts an indexer that exited by itself (as a supervisor would), counting it.
    fn supervise(&mut self, run: &Run) -> anyhow::Result<()> {
        if self.proc.exited() {
            self.crashes += 1;
            ensure!(
                self.crashes <= 10,
                "disco index keeps exiting:\n{}",
                self.log.tail()
            );
            tracing::warn!(log = %self.log.tail(), "disco index exited by itself; restarting it");
            self.restart(run)?;
        }
        Ok(())
    }
}

/// A period as `disco`'s flags take it: whole seconds, at least one.
fn whole_seconds(period: Duration) -> String {
    format!("{}s", period.as_secs().max(1))
}

/// Search counters shared by the reader and the probes.
#[derive(Default)]
struct Searches {
    total: AtomicU64,
    failed: AtomicU64,
}

impl Searches {
    /// `GET /search?…`: the answer's JSON, or `None` (counted failed) on a non-2xx answer or a
    /// connection error.
    async fn search(&self, address: &str, query: &str) -> Option<serde_json::Value> {
        self.total.fetch_add(1, Ordering::Relaxed);
        let path = format!("/search?{query}");
        let answer = tokio::time::timeout(Duration::from_secs(10), http_get(address, &path)).await;
        match answer {
            Ok(Ok((status, body))) if (200..300).contains(&status) => {
                serde_json::from_str(&body).ok()
            }
            other => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?other, path, "a search failed");
                None
            }
        }
    }
}

/// A minimal HTTP/1.0 GET (the bench crate carries no HTTP client library): status and body.
async fn http_get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// One probe: when its row was written and when `/search` first found it.
#[derive(Debug, Clone, Copy)]
struct Probe {
    written: Instant,
    found: Option<Instant>,
}

/// The probes' shared means: the database, a publisher that reconnects, the service.
struct Prober {
    db: Db,
    publisher: AmqpPublisher,
    address: String,
    searches: Arc<Searches>,
}

impl Prober {
    /// Writes (retrying while the database is down), publishes, and times until searchable.
    async fn probe(&self, n: i64) -> Option<Probe> {
        let id = -n;
        let word = probe_word(n);
        let deadline = Instant::now() + PROBE_PATIENCE;
        let at = loop {
            let at = now_micros();
            match self.insert_track(id, &word, at).await {
                Ok(()) => break at,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "probe write failed; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "probe row never written");
                    return None;
                }
            }
        };
        let written = Instant::now();
        let envelope = Envelope {
            action: Action::Create,
            key: EntityKey::new(EntityKind::Track, id),
            occurred_at: at,
        };
        if let Err(e) = self
            .publisher
            .publish(&envelope.routing_key(), envelope.to_body())
            .await
        {
            tracing::warn!(error = %e, "probe event not published");
            return Some(Probe {
                written,
                found: None,
            });
        }
        let query = format!("q={word}&kind=track&rank=none");
        while written.elapsed() < PROBE_PATIENCE {
            if let Some(answer) = self.searches.search(&self.address, &query).await {
                let results = answer["results"].as_array().cloned().unwrap_or_default();
                if results.iter().any(|r| r["id"].as_i64() == Some(id)) {
                    return Some(Probe {
                        written,
                        found: Some(Instant::now()),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(Probe {
            written,
            found: None,
        })
    }

    async fn insert_track(
        &self,
        id: i64,
        word: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let Db::Postgres(pool) = &self.db else {
            return Err(sqlx::Error::Protocol("PostgreSQL expected".into()));
        };
        sqlx::query(
            "INSERT INTO tracks (id, user_id, title, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(PROBE_USER)
        .bind(format!("chaos probe {word}"))
        .bind(at)
        .execute(pool)
        .await
        .map(|_| ())
    }

    /// The probe user (before the first probe) and, at the end, every probe row gone with its
    /// event, so the index and the database agree on them too.
    async fn create_user(&self) -> anyhow::Result<()> {
        let Db::Postgres(pool) = &self.db else {
            bail!("PostgreSQL expected")
        };
        let at = now_micros();
        sqlx::query(
            "INSERT INTO users (id, username, full_name, created_at, updated_at) \
             VALUES ($1, 'chaos-probe', 'Chaos Probe', $2, $2)",
        )
        .bind(PROBE_USER)
        .bind(at)
        .execute(pool)
        .await?;
        self.announce(
            Action::Create,
            EntityKey::new(EntityKind::User, PROBE_USER),
            at,
        )
        .await
    }

    async fn remove_all(&self) -> anyhow::Result<u64> {
        let Db::Postgres(pool) = &self.db else {
            bail!("PostgreSQL expected")
        };
        let ids: Vec<(i64,)> = sqlx::query_as("DELETE FROM tracks WHERE id < 0 RETURNING id")
            .fetch_all(pool)
            .await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(PROBE_USER)
            .execute(pool)
            .await?;
        let at = now_micros();
        for (id,) in &ids {
            self.announce(Action::Destroy, EntityKey::new(EntityKind::Track, *id), at)
                .await?;
        }
        self.announce(
            Action::Destroy,
            EntityKey::new(EntityKind::User, PROBE_USER),
            at,
        )
        .await?;
        Ok(ids.len() as u64)
    }

    async fn announce(
        &self,
        action: Action,
        key: EntityKey,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let envelope = Envelope {
            action,
            key,
            occurred_at: at,
        };
        self.publisher
            .publish(&envelope.routing_key(), envelope.to_body())
            .await?;
        Ok(())
    }
}

/// Now, to the microsecond (the version the database stores).
fn now_micros() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A word of letters only, unique per probe (digits would be split off by the analyzer).
fn probe_word(mut n: i64) -> String {
    let mut word = String::from("zqchaos");
    loop {
        word.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return word;
        }
    }
}

/// The whole run after setup: seed, index, serve, simulate under faults, quiet, verify.
async fn faulty_run(
    options: &ChaosOptions,
    services: &Arc<Services>,
    run: &Run,
) -> anyhow::Result<ChaosReport> {
    let tracks = options.tracks.to_string();
    run.succeed(&["seed", "--dataset", "synthetic", "--tracks", &tracks])
        .await?;
    run.succeed(&["reindex", "--swap"]).await?;
    let index_log = Arc::new(Logs::default());
    let mut indexer = IndexerProc::start(run, options, index_log.clone())?;
    let serve_log = Arc::new(Logs::default());
    let mut serve = Proc::spawn(run.disco(&["serve", "--no-indexer"]), serve_log.clone())?;
    let address = wait_for("disco serve to listen", Duration::from_secs(120), || {
        if serve.exited() {
            return Err(anyhow::anyhow!("disco serve exited:\n{}", serve_log.tail()));
        }
        Ok(serve_log.listen.lock().ok().and_then(|l| l.clone()))
    })
    .await?;
    let queue = run.queue.clone();
    wait_for("the indexer's queue", Duration::from_secs(60), || {
        indexer.supervise(run)?;
        Ok(queue_depth(&queue)?.map(|_| ()))
    })
    .await?;
    let db = Db::connect(&run.database_url).await?;

    // The reader: a search every 100 ms, from start to quiet.
    let searches = Arc::new(Searches::default());
    let reading = Arc::new(AtomicBool::new(true));
    let reader = {
        let (searches, reading, address) = (searches.clone(), reading.clone(), address.clone());
        tokio::spawn(async move {
            let words = [
                "love", "night", "blue", "dance", "rain", "fire", "city", "dream",
            ];
            let mut i = 0;
            while reading.load(Ordering::Relaxed) {
                let query = format!("q={}", words[i % words.len()]);
                searches.search(&address, &query).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let seconds = options.duration.as_secs().max(1).to_string();
    let rate = options.rate.to_string();
    let lose = options.lose.to_string();
    let sim_log = Arc::new(Logs::default());
    let simulate_args = [
        "simulate",
        "--rate",
        &rate,
        "--duration",
        &seconds,
        "--lose-events",
        &lose,
        "--seed",
        "25",
    ];
    let sim_started = Instant::now();
    let sim_started_at = Utc::now();
    let mut command = run.disco(&simulate_args);
    command.env("RUST_LOG", "warn");
    let mut simulate = Proc::spawn(command, sim_log.clone())?;
    // The probe user comes after the simulator has read its id ranges, so it never picks it.
    let pg = match &db {
        Db::Postgres(pool) => pool.clone(),
        Db::Sqlite(_) => bail!("PostgreSQL expected"),
    };
    let mut seen = false;
    while !seen {
        ensure!(
            !simulate.exited(),
            "disco simulate exited at start:\n{}",
            sim_log.tail()
        );
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM tracks WHERE updated_at > $1")
            .bind(sim_started_at)
            .fetch_one(&pg)
            .await?;
        seen = n > 0;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let prober = Arc::new(Prober {
        db: db.clone(),
        publisher: AmqpPublisher::connect(&run.amqp, &run.exchange)
            .await?
            .with_patience(PROBE_PATIENCE),
        address: address.clone(),
        searches: searches.clone(),
    });
    prober.create_user().await?;
    let probing = Arc::new(AtomicBool::new(true));
    let probes = {
        let (prober, probing) = (prober.clone(), probing.clone());
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            let mut n = 1;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while probing.load(Ordering::Relaxed) {
                tick.tick().await;
                let prober = prober.clone();
                tasks.push(tokio::spawn(async move { prober.probe(n).await }));
                n += 1;
            }
            let mut done = Vec::new();
            for task in tasks {
                if let Ok(Some(probe)) = task.await {
                    done.push(probe);
                }
            }
            done
        })
    };

    // The faults, on schedule, while the simulator runs.
    let mut faults = Vec::new();
    let mut windows: Vec<(Instant, Instant)> = Vec::new();
    let mut next = sim_started + options.fault_every / 2;
    let mut turn = 0;
    let end = sim_started + options.duration;
    while Instant::now() < end {
        indexer.supervise(run)?;
        ensure!(!serve.exited(), "disco serve exited:\n{}", serve_log.tail());
        if simulate.exited() {
            break;
        }
        if Instant::now() >= next && next + options.outage < end {
            let fault = Fault::CYCLE[turn % Fault::CYCLE.len()];
            turn += 1;
            let began = Instant::now();
            tracing::info!(fault = fault.as_str(), "fault");
            match fault {
                Fault::Indexer => {
                    indexer.proc.kill().await;
                    tokio::time::sleep(options.outage).await;
                    indexer.restart(run)?;
                }
                Fault::RabbitMq | Fault::Postgres => {
                    let (services, outage) = (services.clone(), options.outage);
                    tokio::task::spawn_blocking(move || services.bounce(fault, outage)).await??;
                }
            }
            let back = Instant::now();
            windows.push((began, back));
            faults.push(FaultRecord {
                fault,
                at: began - sim_started,
                down: back - began,
            });
            next += options.fault_every;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Quiet: the simulator done, probes done and removed, the queue drained, periods passed.
    let sim_report = loop {
        indexer.supervise(run)?;
        if simulate.exited() {
            let status = simulate.child.wait().await?;
            let stdout = match simulate.stdout.take() {
                Some(task) => task.await.unwrap_or_default(),
                None => String::new(),
            };
            ensure!(
                status.success(),
                "disco simulate failed ({status}):\n{stdout}\n{}",
                sim_log.tail()
            );
            break stdout;
        }
        ensure!(
            sim_started.elapsed() < options.duration + Duration::from_secs(900),
            "disco simulate did not finish:\n{}",
            sim_log.tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sim_ended = Instant::now();
    probing.store(false, Ordering::Relaxed);
    let probes = probes.await?;
    let removed = prober.remove_all().await?;
    tracing::info!(removed, "probe rows removed");
    wait_for("the queue to drain", Duration::from_secs(600), || {
        indexer.supervise(run)?;
        // People's events come on the owner queue beside the main one.
        let owners = format!("{}.owners", run.queue);
        let depths = queue_depth(&run.queue)?.zip(queue_depth(&owners)?);
        Ok(
            depths.filter(|&((ready, unacked), (owner_ready, owner_unacked))| {
                ready + unacked + owner_ready + owner_unacked == 0
            }),
        )
    })
    .await?;
    // A sweep that starts after the last change's grace has seen everything.
    let settled = sim_ended
        + options.reconcile_grace
        + options.sweep_every
        + options.reconcile_every * 2
        + Duration::from_secs(5);
    while Instant::now() < settled {
        indexer.supervise(run)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    reading.store(false, Ordering::Relaxed);
    reader.await?;

    let catalog = indexer::Generations::open(&run.data)?;
    let live = catalog.live();
    let verified = indexer::verify::verify_with(&db, &live, Duration::from_secs(2)).await?;
    let wrong: u64 = (verified.kinds.values())
        .map(|k| k.missing + k.extra + k.stale + k.shown)
        .sum();
    let counts_differ: u64 = verified.kinds.values().map(|k| k.counts).sum();
    let resurrected = resurrected(&db, &live).await?;
    let disco_verify_clean = run.succeed(&["verify"]).await.is_ok();
    let quiet_after = sim_ended.elapsed();
    indexer.supervise(run)?;
    let crashes = indexer.crashes;
    indexer.proc.kill().await;
    ensure!(!serve.exited(), "disco serve exited:\n{}", serve_log.tail());
    serve.kill().await;
    db.close().await;

    let (changes, published, lost, database_retries) = parse_simulate(&sim_report)?;
    let mut during_fault = Vec::new();
    let mut quiet = Vec::new();
    let mut never = 0;
    for probe in &probes {
        let Some(found) = probe.found else {
            never += 1;
            continue;
        };
        let took = found - probe.written;
        let overlaps = windows
            .iter()
            .any(|&(began, back)| probe.written <= back && found >= began);
        match overlaps {
            true => during_fault.push(took),
            false => quiet.push(took),
        }
    }
    quiet.sort();
    Ok(ChaosReport {
        duration: options.duration,
        tracks: options.tracks,
        rate: options.rate,
        lose: options.lose,
        faults,
        changes,
        published,
        lost,
        republished: sim_log.republished.load(Ordering::Relaxed),
        database_retries,
        repaired: index_log.repairs.load(Ordering::Relaxed),
        reconciler_stopped: index_log.reconciler_stopped.load(Ordering::Relaxed),
        wrong,
        counts_differ,
        resurrected,
        verify: verified.to_string(),
        disco_verify_clean,
        searches: searches.total.load(Ordering::Relaxed),
        failed_searches: searches.failed.load(Ordering::Relaxed),
        probes: probes.len() as u64,
        probes_never_searchable: never,
        longest_during_fault: during_fault.iter().max().copied(),
        longest: during_fault.iter().chain(&quiet).max().copied(),
        median_quiet: quiet.get(quiet.len() / 2).copied(),
        indexer_crashes: crashes,
        quiet_after,
        services_up: false,
    })
}

/// Polls `check` every 200 ms until it gives a value, fails, or `limit` passes.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check()? {
            return Ok(value);
        }
        ensure!(Instant::now() < deadline, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The simulator's report: changes, events published, events lost on purpose, database
/// retries (`site::simulate::RunReport`'s display).
fn parse_simulate(report: &str) -> anyhow::Result<(u64, u64, u64, u64)> {
    let first = report.lines().next().unwrap_or_default();
    let number_before = |text: &str, marker: &str| -> Option<u64> {
        let head = &text[..text.find(marker)?];
        head.rsplit([' ', ','])
            .find(|w| !w.is_empty())?
            .parse()
            .ok()
    };
    let parsed = (
        number_before(first, " changes,"),
        number_before(first, " events published"),
        number_before(first, " lost on purpose"),
    );
    let (Some(changes), Some(published), Some(lost)) = parsed else {
        bail!("not a simulate report: {report}");
    };
    let retries = report
        .lines()
        .find_map(|l| number_before(l, " changes tried again"))
        .unwrap_or(0);
    Ok((changes, published, lost, retries))
}

/// Searchable documents of `live` whose row is gone or deleted (softly) in the database.
async fn resurrected(db: &Db, live: &indexer::GenerationHandle) -> anyhow::Result<u64> {
    live.reload()?;
    let versions = indexer::versions::VersionMap::rebuild(&live.searcher())
        .map_err(|e| anyhow::anyhow!("reading the index's versions: {e}"))?;
    let Db::Postgres(pool) = db else {
        bail!("PostgreSQL expected")
    };
    let mut found = 0;
    for kind in EntityKind::ALL {
        let sql = format!("SELECT id FROM {} WHERE deleted_at IS NULL", kind.table());
        let alive: std::collections::HashSet<i64> =
            sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
        found += versions
            .iter()
            .filter(|(key, stored)| {
                key.kind == kind && !stored.tombstone && !alive.contains(&key.id)
            })
            .count() as u64;
    }
    Ok(found)
}

/// (ready, unacknowledged) of `queue`, as the broker sees it; `None` when it does not exist
/// (or the broker's app is stopped).
fn queue_depth(queue: &str) -> anyhow::Result<Option<(u64, u64)>> {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ])
        .output()
        .context("rabbitmqctl is required")?;
    if !out.status.success() {
        return Ok(None);
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            if fields.next() != Some(queue) {
                return None;
            }
            let ready = fields.next()?.parse().ok()?;
            let unacked = fields.next()?.parse().ok()?;
            Some((ready, unacked))
        }))
}

/// The shared PostgreSQL cluster and RabbitMQ node this run stops and starts. Whatever it
/// stopped is started again by [`Services::restore`], which also runs on drop (a failed or
/// panicking run), so no run leaves a service down.
pub struct Services {
    /// `pg_ctlcluster` version and name of the cluster on the run's port (e.g. 15, main).
    cluster: (String, String),
    port: u16,
    amqp: String,
    rabbit_down: AtomicBool,
    postgres_down: AtomicBool,
}

impl Services {
    fn find(options: &ChaosOptions) -> anyhow::Result<Services> {
        let port = options
            .postgres
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
            .unwrap_or(5432);
        let out = std::process::Command::new("pg_lsclusters")
            .arg("-h")
            .output()
            .context("pg_lsclusters is required to restart PostgreSQL")?;
        let listing = String::from_utf8_lossy(&out.stdout);
        let cluster = listing
            .lines()
            .find_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                (f.len() >= 3 && f[2] == port.to_string())
                    .then(|| (f[0].to_string(), f[1].to_string()))
            })
            .with_context(|| format!("no PostgreSQL cluster on port {port}:\n{listing}"))?;
        Ok(Services {
            cluster,
            port,
            amqp: options.amqp.clone(),
            rabbit_down: AtomicBool::new(false),
            postgres_down: AtomicBool::new(false),
        })
    }

    /// Stops `fault`'s service, waits `outage`, starts it and waits until it answers.
    fn bounce(&self, fault: Fault, outage: Duration) -> anyhow::Result<()> {
        match fault {
            Fault::RabbitMq => {
                self.rabbit_down.store(true, Ordering::SeqCst);
                command("rabbitmqctl", &["-q", "stop_app"])?;
                std::thread::sleep(outage);
                self.start_rabbit()
            }
            Fault::Postgres => {
                self.postgres_down.store(true, Ordering::SeqCst);
                let (version, name) = &self.cluster;
                command(
                    "pg_ctlcluster",
                    &[
                        "--skip-systemctl-redirect",
                        version,
                        name,
                        "stop",
                        "-m",
                        "fast",
                    ],
                )?;
                std::thread::sleep(outage);
                self.start_postgres()
            }
            Fault::Indexer => Ok(()),
        }
    }

    fn start_rabbit(&self) -> anyhow::Result<()> {
        command("rabbitmqctl", &["-q", "start_app"])?;
        command("rabbitmqctl", &["-q", "await_startup"])?;
        self.rabbit_down.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn start_postgres(&self) -> anyhow::Result<()> {
        let (version, name) = &self.cluster;
        command(
            "pg_ctlcluster",
            &["--skip-systemctl-redirect", version, name, "start"],
        )?;
        let port = self.port.to_string();
        for _ in 0..120 {
            let ready = std::process::Command::new("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                self.postgres_down.store(false, Ordering::SeqCst);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        bail!("PostgreSQL did not come back on port {port}")
    }

    /// Starts whatever this run stopped and has not started again.
    pub fn restore(&self) -> anyhow::Result<()> {
        let mut failed = Vec::new();
        if self.rabbit_down.load(Ordering::SeqCst)
            && let Err(e) = self.start_rabbit()
        {
            failed.push(format!("RabbitMQ: {e}"));
        }
        if self.postgres_down.load(Ordering::SeqCst)
            && let Err(e) = self.start_postgres()
        {
            failed.push(format!("PostgreSQL: {e}"));
        }
        ensure!(failed.is_empty(), "could not restore {}", failed.join("; "));
        Ok(())
    }

    /// Both services answer: PostgreSQL accepts a connection, RabbitMQ an AMQP one.
    async fn check_up(&self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let pg = tokio::process::Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", &port])
            .status()
            .await
            .is_ok_and(|s| s.success());
        ensure!(pg, "PostgreSQL on port {port} does not accept connections");
        let amqp = lapin::Connection::connect(&self.amqp, lapin::ConnectionProperties::default())
            .await
            .with_context(|| {
                format!("RabbitMQ at {} does not accept AMQP connections", self.amqp)
            })?;
        let _ = amqp.close(200, "checked".into()).await;
        Ok(())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            tracing::error!(error = %e, "restoring the services the chaos run stopped");
        }
    }
}

/// Runs a service command; an error with its output when it fails.
fn command(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("{program} is required"))?;
    ensure!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_simulators_report() {
        let report = "9000 changes, 8910 events published in 30.0 s (300.0 changes/s), 90 lost on purpose\n  \
                      12 changes tried again after a database error\n";
        assert_eq!(parse_simulate(report).unwrap(), (9000, 8910, 90, 12));
        assert!(parse_simulate("nothing").is_err());
    }

    #[test]
    fn probe_words_are_letters_and_unique() {
        let words: std::collections::HashSet<String> = (1..2000).map(probe_word).collect();
        assert_eq!(words.len(), 1999);
        assert!(
            words
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        );
    }
}
