//! `disco-bench http`: an open-loop HTTP load generator.
//!
//! Requests are due at fixed intervals (`i / rate` seconds after the start), whatever the
//! server does: a scheduler thread hands each one out when it is due, and its latency is
//! counted from when it was *due*, not from when a connection became free. A server that
//! stalls for 100 ms is therefore charged for every request that should have gone out during
//! the stall (coordinated omission corrected, as in wrk2). At most `connections` requests
//! are in flight, one per keep-alive HTTP/1.1 connection; the rest wait their turn, and the
//! wait is in their latency.
//!
//! The generator is built to disturb the server it measures as little as it can, since both
//! usually share a machine: every request's bytes are built before the run, all connections
//! are served by one thread (a current-thread runtime and a minimal HTTP/1.1 client,
//! [`http1`]), and the only other thread sleeps to each due time. Its own lag is reported
//! apart — how late the scheduler woke, and how long after its due time each request was on
//! the wire — so a reader can tell the generator's delay from the server's.
//!
//! ```text
//! disco-bench http --base-url http://127.0.0.1:8090 --paths suggest.paths --rate 1000 --seconds 60
//! ```

pub mod http1;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{Mutex, mpsc};

use http1::{Connection, Target};

/// What to send, how fast and for how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub base_url: String,
    /// Request paths, sent in order and again from the first when all have gone.
    pub paths: Vec<String>,
    /// Requests per second.
    pub rate: f64,
    /// Measured duration.
    pub seconds: f64,
    /// Sent at the same rate before the measured part, and not counted.
    pub warmup: f64,
    /// Requests in flight at most (the size of the connection pool).
    pub connections: usize,
    /// A request not answered within this long counts as an error.
    pub timeout: Duration,
    /// Never sleep: hand out requests and read answers from one busy-polling thread, so
    /// the generator's own wake-ups add no latency (it takes a whole core).
    pub spin: bool,
    /// JSON bodies to `POST` instead of `GET`s: request `i` posts `bodies[i % n]` to
    /// `paths[i % n % paths.len()]`. Empty: every request is a `GET` of its path.
    pub bodies: Vec<String>,
    /// Keep the measured answers' bodies ([`LoadReport::answers`]) for a caller that reads them.
    pub keep_answers: bool,
}

/// When request `i` is due, counted from the start of the run.
pub fn due(i: u64, rate: f64) -> Duration {
    Duration::from_nanos((i as f64 * 1e9 / rate).round() as u64)
}

/// How many requests are due in the first `seconds` at `rate`.
pub fn requests_in(seconds: f64, rate: f64) -> u64 {
    (seconds * rate).ceil().max(0.0) as u64
}

/// The value at quantile `q` (0 to 1) of ascending `sorted` samples: the smallest sample
/// with at least `q` of all samples at or below it (nearest rank); zero when there are none.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The request paths of a paths file: one a line; blank lines and `#` comments skipped.
pub fn parse_paths(text: &str) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        anyhow::ensure!(
            line.starts_with('/'),
            "line {}: a request path starts with `/` (e.g. /suggest?q=beat), not {line:?}",
            n + 1
        );
        paths.push(line.to_string());
    }
    anyhow::ensure!(!paths.is_empty(), "no request paths in it");
    Ok(paths)
}

/// Reads a paths file.
pub fn read_paths(file: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    parse_paths(&text).with_context(|| format!("{}", file.display()))
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The HTTP status code of a complete answer.
    Http(u16),
    /// No complete answer: connection refused or reset, timeout, a body cut short.
    Error,
}

/// One request of the measured part.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub status: Status,
    /// From when the request was due to when its whole answer was read.
    pub latency: Duration,
    /// How late the scheduler thread woke for it (part of `latency`).
    pub late: Duration,
    /// From when it was due to when its bytes were on the wire: the scheduler's lag, the hand
    /// over to the I/O thread and any wait for a free connection (part of `latency`).
    pub sent: Duration,
    /// When its answer was read, from the start of the run.
    pub done: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub rate: f64,
    pub seconds: f64,
    pub warmup: f64,
    pub connections: usize,
    /// Requests due in the measured part.
    pub due: u64,
    /// Answers (or errors) of the measured part per second of it.
    pub achieved: f64,
    pub ok: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Other statuses (1xx, 3xx).
    pub other: u64,
    pub errors: u64,
    /// Due but not finished when the run gave up waiting.
    pub unfinished: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
    pub late_p99: Duration,
    pub late_max: Duration,
    pub sent_p50: Duration,
    pub sent_p99: Duration,
    pub sent_max: Duration,
    /// On the wire to the whole answer read: the server's time plus the network's and the
    /// generator's reading.
    pub answer_p50: Duration,
    pub answer_p99: Duration,
    pub answer_p999: Duration,
    /// The measured answers' statuses and bodies, when [`LoadOptions::keep_answers`].
    pub answers: Vec<(u16, Vec<u8>)>,
}

impl LoadReport {
    /// Sums up the outcomes of a run whose measured part started at `start` (from the start
    /// of the run) and had `due` requests.
    pub fn of(outcomes: &[Outcome], start: Duration, due: u64, options: &LoadOptions) -> Self {
        let mut report = LoadReport {
            rate: options.rate,
            seconds: options.seconds,
            warmup: options.warmup,
            connections: options.connections,
            due,
            unfinished: due.saturating_sub(outcomes.len() as u64),
            ..LoadReport::default()
        };
        for o in outcomes {
            match o.status {
                Status::Http(200..=299) => report.ok += 1,
                Status::Http(400..=499) => report.client_errors += 1,
                Status::Http(500..=599) => report.server_errors += 1,
                Status::Http(_) => report.other += 1,
                Status::Error => report.errors += 1,
            }
        }
        let last = outcomes.iter().map(|o| o.done).max().unwrap_or(start);
        // The measured part lasts its scheduled length, or longer when answers came late.
        let window = (last.saturating_sub(start))
            .as_secs_f64()
            .max(options.seconds);
        report.achieved = if window > 0.0 {
            outcomes.len() as f64 / window
        } else {
            0.0
        };
        let answered = || outcomes.iter().filter(|o| o.status != Status::Error);
        let sorted = |it: &mut dyn Iterator<Item = Duration>| {
            let mut v: Vec<Duration> = it.collect();
            v.sort_unstable();
            v
        };
        let latency = sorted(&mut answered().map(|o| o.latency));
        report.p50 = percentile(&latency, 0.50);
        report.p90 = percentile(&latency, 0.90);
        report.p99 = percentile(&latency, 0.99);
        report.p999 = percentile(&latency, 0.999);
        report.max = latency.last().copied().unwrap_or_default();
        let late = sorted(&mut outcomes.iter().map(|o| o.late));
        report.late_p99 = percentile(&late, 0.99);
        report.late_max = late.last().copied().unwrap_or_default();
        let sent = sorted(&mut answered().map(|o| o.sent));
        report.sent_p50 = percentile(&sent, 0.50);
        report.sent_p99 = percentile(&sent, 0.99);
        report.sent_max = sent.last().copied().unwrap_or_default();
        let answer = sorted(&mut answered().map(|o| o.latency.saturating_sub(o.sent)));
        report.answer_p50 = percentile(&answer, 0.50);
        report.answer_p99 = percentile(&answer, 0.99);
        report.answer_p999 = percentile(&answer, 0.999);
        report
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(
            f,
            "http: {} requests due at {}/s for {} s (after {} s of warm-up), {} connections",
            self.due, self.rate, self.seconds, self.warmup, self.connections
        )?;
        writeln!(
            f,
            "  achieved {:.1} req/s; 2xx {}, 4xx {}, 5xx {}, other {}, errors {}, unfinished {}",
            self.achieved,
            self.ok,
            self.client_errors,
            self.server_errors,
            self.other,
            self.errors,
            self.unfinished
        )?;
        writeln!(
            f,
            "  latency from the due time: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, \
             p99.9 {:.3} ms, max {:.3} ms",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )?;
        writeln!(
            f,
            "  generator's own lag (included above): scheduler woke late by p99 {:.3} ms, \
             max {:.3} ms; due → on the wire p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(self.late_p99),
            ms(self.late_max),
            ms(self.sent_p50),
            ms(self.sent_p99),
            ms(self.sent_max)
        )?;
        write!(
            f,
            "  on the wire → answer read: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
            ms(self.answer_p50),
            ms(self.answer_p99),
            ms(self.answer_p999)
        )
    }
}

/// Runs the load: `warmup` seconds, then `seconds` measured, then waits for what is in
/// flight (each request at most the timeout after its due time).
///
/// The generator runs on a thread of its own with a current-thread runtime (one thread for
/// every connection's I/O) plus a scheduler thread that sleeps to each due time, so on a
/// machine it shares with the server it takes as little CPU as it can.
pub async fn run(options: LoadOptions) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        options.rate.is_finite() && options.rate > 0.0,
        "--rate must be above 0"
    );
    anyhow::ensure!(options.seconds > 0.0, "--seconds must be above 0");
    anyhow::ensure!(options.warmup >= 0.0, "--warmup must not be negative");
    anyhow::ensure!(options.connections > 0, "--connections must be at least 1");
    tokio::task::spawn_blocking(move || generate(options))
        .await
        .context("the load generator stopped unexpectedly")?
}

/// What hands out requests when they are due.
enum Scheduler {
    /// A thread of its own that sleeps to each due time.
    Sleeping(std::thread::JoinHandle<()>),
    /// A task on the connections' runtime that yields until each due time.
    Spinning(tokio::task::JoinHandle<()>),
}

/// A request the scheduler found due.
#[derive(Debug, Clone, Copy)]
struct Job {
    i: u64,
    /// How late the scheduler thread woke for it.
    late: Duration,
}

/// What every connection's task shares.
struct Plan {
    addr: SocketAddr,
    /// Each path's whole request, built before the run.
    requests: Vec<Box<[u8]>>,
    start: Instant,
    rate: f64,
    timeout: Duration,
    /// Requests before this one are warm-up: sent, not counted.
    measured_from: u64,
    keep_answers: bool,
}

fn generate(options: LoadOptions) -> anyhow::Result<LoadReport> {
    let target = Target::parse(&options.base_url)?;
    let addr = target
        .authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", target.authority))?
        .next()
        .with_context(|| format!("{} resolves to no address", target.authority))?;
    anyhow::ensure!(!options.paths.is_empty(), "no request paths");
    let requests = if options.bodies.is_empty() {
        options.paths.iter().map(|p| target.get(p)).collect()
    } else {
        let path = |i: usize| &options.paths[i % options.paths.len()];
        (options.bodies.iter().enumerate())
            .map(|(i, body)| target.post_json(path(i), body))
            .collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    runtime.block_on(drive(options, addr, requests))
}

async fn drive(
    options: LoadOptions,
    addr: SocketAddr,
    requests: Vec<Box<[u8]>>,
) -> anyhow::Result<LoadReport> {
    // Every connection is opened before the clock starts: connecting is not what is measured.
    let mut connections = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let connection = Connection::open(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        connections.push(connection);
    }
    let warmup_requests = requests_in(options.warmup, options.rate);
    let total = requests_in(options.warmup + options.seconds, options.rate);
    let rate = options.rate;
    let plan = Arc::new(Plan {
        addr,
        requests,
        start: Instant::now(),
        rate,
        timeout: options.timeout,
        measured_from: warmup_requests,
        keep_answers: options.keep_answers,
    });
    tracing::info!(
        total,
        warmup_requests,
        rate,
        connections = options.connections,
        "sending; latency counted from each request's due time"
    );
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    // Idle connections queue on the lock; the one holding it takes the next due request.
    let queue = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = connections
        .into_iter()
        .map(|c| tokio::spawn(work(c, queue.clone(), plan.clone())))
        .collect();
    let start = plan.start;
    let send_when_due = move |i: u64| {
        let late = Instant::now().saturating_duration_since(start + due(i, rate));
        tx.send(Job { i, late }).is_ok()
    };
    let scheduler = if options.spin {
        // The runtime's only thread never parks: while this task yields, the runtime polls
        // the sockets without blocking, so requests go out and answers are read at once.
        Scheduler::Spinning(tokio::spawn(async move {
            for i in 0..total {
                while Instant::now() < start + due(i, rate) {
                    tokio::task::yield_now().await;
                }
                if !send_when_due(i) {
                    break;
                }
            }
        }))
    } else {
        // tokio's timer ticks in milliseconds, far too coarse at 1,000/s: a thread sleeps.
        Scheduler::Sleeping(std::thread::spawn(move || {
            for i in 0..total {
                let due_at = start + due(i, rate);
                let now = Instant::now();
                if due_at > now {
                    std::thread::sleep(due_at - now);
                }
                if !send_when_due(i) {
                    break;
                }
            }
        }))
    };
    let mut outcomes = Vec::with_capacity((total - warmup_requests) as usize);
    let mut answers = Vec::new();
    for worker in workers {
        let (carried, read) = worker.await.context("a connection's task failed")?;
        outcomes.extend(carried);
        answers.extend(read);
    }
    let stopped = match scheduler {
        Scheduler::Sleeping(thread) => thread.join().is_err(),
        Scheduler::Spinning(task) => task.await.is_err(),
    };
    if stopped {
        anyhow::bail!("the request scheduler stopped unexpectedly");
    }
    let report = LoadReport::of(
        &outcomes,
        due(warmup_requests, rate),
        total - warmup_requests,
        &options,
    );
    Ok(LoadReport { answers, ..report })
}

/// One connection's loop: take the next due request, send it, read the answer, until the
/// scheduler has sent everything. Returns the outcomes of the measured requests it carried,
/// and their answers' statuses and bodies when the plan keeps them.
async fn work(
    connection: Connection,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    plan: Arc<Plan>,
) -> (Vec<Outcome>, Vec<(u16, Vec<u8>)>) {
    let mut connection = Some(connection);
    let mut outcomes = Vec::new();
    let mut answers = Vec::new();
    loop {
        let job = queue.lock().await.recv().await;
        let Some(job) = job else {
            return (outcomes, answers);
        };
        let measured = job.i >= plan.measured_from;
        let keep = plan.keep_answers && measured;
        let due_at = plan.start + due(job.i, plan.rate);
        let deadline = due_at + plan.timeout;
        let request = &plan.requests[(job.i % plan.requests.len() as u64) as usize];
        let (status, sent) = if Instant::now() >= deadline {
            // It waited past its timeout for a free connection: failed without being sent.
            (Status::Error, Instant::now())
        } else {
            let exchange = exchange(&mut connection, plan.addr, request, keep);
            match tokio::time::timeout_at(deadline.into(), exchange).await {
                Ok(Ok((code, sent, body))) => {
                    if keep {
                        answers.push((code, body));
                    }
                    (Status::Http(code), sent)
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "request failed; reconnecting");
                    connection = None;
                    (Status::Error, Instant::now())
                }
                Err(_) => {
                    connection = None;
                    (Status::Error, Instant::now())
                }
            }
        };
        if measured {
            let done = Instant::now();
            outcomes.push(Outcome {
                status,
                latency: done.saturating_duration_since(due_at),
                late: job.late,
                sent: sent.saturating_duration_since(due_at),
                done: done.saturating_duration_since(plan.start),
            });
        }
    }
}

/// Sends `request` on the connection (a new one if it is gone or was closed) and reads the
/// answer: its status, when the request was on the wire, and its body when `keep_body` (else
/// empty: the body is skipped without a copy).
async fn exchange(
    connection: &mut Option<Connection>,
    addr: SocketAddr,
    request: &[u8],
    keep_body: bool,
) -> std::io::Result<(u16, Instant, Vec<u8>)> {
    let conn = match connection {
        Some(c) if c.reusable() => c,
        _ => connection.insert(Connection::open(addr).await?),
    };
    conn.send(request).await?;
    let sent = Instant::now();
    if keep_body {
        let (status, body) = conn.receive_body().await?;
        Ok((status, sent, body))
    } else {
        Ok((conn.receive().await?, sent, Vec::new()))
    }
}

/// The flags of `disco-bench http`.
#[derive(Debug, clap::Args)]
pub struct HttpArgs {
    /// The service, e.g. http://127.0.0.1:8090.
    #[arg(long)]
    pub base_url: String,
    /// A file of request paths, one a line (e.g. `/suggest?q=beat`), sent in order, cyclically.
    #[arg(long)]
    pub paths: PathBuf,
    /// Requests per second, on a fixed schedule (open loop).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Seconds sent at the same rate first and not counted.
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
    /// Requests in flight at most: the keep-alive connection pool's size.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds before an unanswered request counts as an error.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Busy-poll instead of sleeping: no generator wake-up lag in the figures, at the cost of
    /// one core (use when the server needs less than the other one).
    #[arg(long)]
    pub spin: bool,
}

impl HttpArgs {
    /// Reads the paths file and checks the numbers.
    pub fn options(self) -> anyhow::Result<LoadOptions> {
        anyhow::ensure!(
            self.timeout.is_finite() && self.timeout > 0.0,
            "--timeout must be above 0"
        );
        Ok(LoadOptions {
            paths: read_paths(&self.paths)?,
            base_url: self.base_url,
            rate: self.rate,
            seconds: self.seconds,
            warmup: self.warmup,
            connections: self.connections,
            timeout: Duration::from_secs_f64(self.timeout),
            spin: self.spin,
            bodies: Vec::new(),
            keep_answers: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn requests_are_due_at_fixed_intervals() {
        assert_eq!(due(0, 1000.0), Duration::ZERO);
        assert_eq!(due(1, 1000.0), ms(1));
        assert_eq!(due(1000, 1000.0), Duration::from_secs(1));
        assert_eq!(due(3, 4.0), ms(750));
        // The schedule does not drift: request i is due at i / rate, not a sum of rounded steps.
        assert_eq!(due(3_000_000, 3000.0), Duration::from_secs(1000));
        assert_eq!(requests_in(60.0, 1000.0), 60_000);
        assert_eq!(requests_in(0.5, 3.0), 2);
        assert_eq!(requests_in(0.0, 1000.0), 0);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=1000).map(ms).collect();
        assert_eq!(percentile(&samples, 0.5), ms(500));
        assert_eq!(percentile(&samples, 0.99), ms(990));
        assert_eq!(percentile(&samples, 0.999), ms(999));
        assert_eq!(percentile(&samples, 1.0), ms(1000));
        assert_eq!(percentile(&samples, 0.0), ms(1));
        assert_eq!(percentile(&[ms(7)], 0.99), ms(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn paths_files_skip_blanks_and_comments_and_reject_urls() {
        let paths = parse_paths("# keystrokes\n/suggest?q=b\n\n  /suggest?q=be  \n").unwrap();
        assert_eq!(paths, ["/suggest?q=b", "/suggest?q=be"]);
        let err = parse_paths("http://x/suggest?q=b\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(parse_paths("\n# nothing\n").is_err());
    }

    #[test]
    fn reports_count_statuses_and_time_from_the_due_time() {
        let options = LoadOptions {
            base_url: "http://127.0.0.1:1".into(),
            paths: vec!["/".into()],
            rate: 4.0,
            seconds: 1.0,
            warmup: 0.0,
            connections: 1,
            timeout: Duration::from_secs(1),
            spin: false,
            bodies: Vec::new(),
            keep_answers: false,
        };
        let outcome = |status, latency: u64, done: u64| Outcome {
            status,
            latency: ms(latency),
            late: ms(0),
            sent: ms(1),
            done: ms(done),
        };
        let outcomes = [
            outcome(Status::Http(200), 2, 2),
            outcome(Status::Http(404), 3, 253),
            outcome(Status::Http(503), 4, 504),
            outcome(Status::Error, 1000, 1750),
        ];
        let report = LoadReport::of(&outcomes, Duration::ZERO, 5, &options);
        assert_eq!(
            (
                report.ok,
                report.client_errors,
                report.server_errors,
                report.errors,
                report.unfinished
            ),
            (1, 1, 1, 1, 1)
        );
        // Errors are counted, not timed; the window stretches to the last answer.
        assert_eq!((report.p50, report.max), (ms(3), ms(4)));
        assert_eq!((report.sent_p99, report.answer_p50), (ms(1), ms(2)));
        assert!((report.achieved - 4.0 / 1.75).abs() < 1e-9);
    }

    fn options(addr: SocketAddr, paths: &[&str], timeout: Duration) -> LoadOptions {
        LoadOptions {
            base_url: format!("http://{addr}"),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            rate: 200.0,
            seconds: 0.5,
            warmup: 0.1,
            connections: 4,
            timeout,
            spin: false,
            bodies: Vec::new(),
            keep_answers: false,
        }
    }

    #[tokio::test]
    async fn a_run_sends_every_due_request_and_counts_its_answer() {
        use axum::http::StatusCode;
        use axum::routing::get;
        let app = axum::Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/gone", get(|| async { (StatusCode::NOT_FOUND, "no") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        for spin in [false, true] {
            let options = LoadOptions {
                spin,
                ..options(addr, &["/ok", "/gone"], Duration::from_secs(5))
            };
            let report = run(options).await.unwrap();
            assert_eq!(report.due, 100, "{report}");
            // Warm-up was 20 requests (an even number), so the measured ones alternate evenly.
            assert_eq!(
                (
                    report.ok,
                    report.client_errors,
                    report.errors,
                    report.unfinished
                ),
                (50, 50, 0, 0),
                "spin {spin}: {report}"
            );
            assert!(report.sent_p50 <= report.p50, "{report}");
        }
    }

    #[tokio::test]
    async fn a_silent_server_costs_each_request_its_timeout_and_the_run_ends() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let report = run(options(addr, &["/x"], Duration::from_millis(200)))
            .await
            .unwrap();
        assert_eq!(
            (report.due, report.errors, report.ok),
            (100, 100, 0),
            "{report}"
        );
    }
}
