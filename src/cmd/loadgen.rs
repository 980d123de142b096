//! `disco bench http`: an open-loop HTTP load generator.
//!
//! Requests are due at fixed intervals (`i / rate` seconds after the start), whatever the
//! server does: a scheduler thread dispatches each one when it is due, and its latency is
//! counted from when it was *due*, not from when a connection became free. A server that
//! stalls for 100 ms is therefore charged for every request that should have gone out during
//! the stall (coordinated omission corrected, as in wrk2). At most `connections` requests
//! are in flight, over a keep-alive HTTP/1.1 pool; the rest wait their turn, and the wait is
//! in their latency.
//!
//! ```text
//! disco bench http --base-url http://127.0.0.1:8090 --paths suggest.paths --rate 1000 --seconds 60
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};

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
    /// How late the scheduler dispatched it (the generator's own lag, part of `latency`).
    pub late: Duration,
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
        let mut latency: Vec<Duration> = outcomes
            .iter()
            .filter(|o| o.status != Status::Error)
            .map(|o| o.latency)
            .collect();
        latency.sort_unstable();
        report.p50 = percentile(&latency, 0.50);
        report.p90 = percentile(&latency, 0.90);
        report.p99 = percentile(&latency, 0.99);
        report.p999 = percentile(&latency, 0.999);
        report.max = latency.last().copied().unwrap_or_default();
        let mut late: Vec<Duration> = outcomes.iter().map(|o| o.late).collect();
        late.sort_unstable();
        report.late_p99 = percentile(&late, 0.99);
        report.late_max = late.last().copied().unwrap_or_default();
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
        write!(
            f,
            "  generator lag (included above): p99 {:.3} ms, max {:.3} ms",
            ms(self.late_p99),
            ms(self.late_max)
        )
    }
}

/// Runs the load: `warmup` seconds, then `seconds` measured, then waits for what is in
/// flight (at most the timeout).
pub async fn run(options: LoadOptions) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(
        options.rate.is_finite() && options.rate > 0.0,
        "--rate must be above 0"
    );
    anyhow::ensure!(options.seconds > 0.0, "--seconds must be above 0");
    anyhow::ensure!(options.warmup >= 0.0, "--warmup must not be negative");
    anyhow::ensure!(options.connections > 0, "--connections must be at least 1");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .pool_idle_timeout(None)
        .tcp_nodelay(true)
        .timeout(options.timeout)
        .build()
        .context("building the HTTP client")?;
    let base = options.base_url.trim_end_matches('/').to_string();
    let urls: Arc<Vec<String>> =
        Arc::new(options.paths.iter().map(|p| format!("{base}{p}")).collect());
    let warmup_requests = requests_in(options.warmup, options.rate);
    let total = requests_in(options.warmup + options.seconds, options.rate);
    let measured_start = due(warmup_requests, options.rate);

    let slots = Arc::new(Semaphore::new(options.connections));
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let runtime = tokio::runtime::Handle::current();
    let rate = options.rate;
    tracing::info!(
        total,
        warmup_requests,
        rate,
        "sending; latency counted from each request's due time"
    );
    let start = Instant::now();
    // A thread of its own: tokio's timer ticks in milliseconds, far too coarse at 1,000/s.
    let scheduler = std::thread::spawn(move || {
        for i in 0..total {
            let due_at = start + due(i, rate);
            let now = Instant::now();
            if due_at > now {
                std::thread::sleep(due_at - now);
            }
            let late = Instant::now().saturating_duration_since(due_at);
            let url = urls[(i % urls.len() as u64) as usize].clone();
            let (client, slots) = (client.clone(), slots.clone());
            let tx = (i >= warmup_requests).then(|| tx.clone());
            runtime.spawn(async move {
                let status = match slots.acquire().await {
                    Ok(_permit) => send(&client, &url).await,
                    Err(_) => Status::Error,
                };
                if let Some(tx) = tx {
                    let now = Instant::now();
                    // The receiver only goes away once the run has stopped counting.
                    let _ = tx.send(Outcome {
                        status,
                        latency: now.saturating_duration_since(due_at),
                        late,
                        done: now.saturating_duration_since(start),
                    });
                }
            });
        }
    });

    let due_measured = total - warmup_requests;
    let mut outcomes = Vec::with_capacity(due_measured as usize);
    let give_up = start + due(total, rate) + options.timeout + Duration::from_secs(1);
    while (outcomes.len() as u64) < due_measured {
        match tokio::time::timeout_at(give_up.into(), rx.recv()).await {
            Ok(Some(outcome)) => outcomes.push(outcome),
            Ok(None) | Err(_) => break,
        }
    }
    if scheduler.join().is_err() {
        anyhow::bail!("the request scheduler stopped unexpectedly");
    }
    Ok(LoadReport::of(
        &outcomes,
        measured_start,
        due_measured,
        &options,
    ))
}

/// One GET, its whole body read so the connection goes back to the pool.
async fn send(client: &reqwest::Client, url: &str) -> Status {
    match client.get(url).send().await {
        Ok(response) => {
            let code = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => Status::Http(code),
                Err(_) => Status::Error,
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, url, "request failed");
            Status::Error
        }
    }
}

/// The flags of `disco bench http`.
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
        };
        let outcome = |status, latency: u64, done: u64| Outcome {
            status,
            latency: ms(latency),
            late: ms(0),
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
        assert!((report.achieved - 4.0 / 1.75).abs() < 1e-9);
    }
}
