//! Progress of long steps: a bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How a job reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    #[default]
    Auto,
    /// Log lines only (services, CI).
    Lines,
    /// Nothing (tests, benchmarks).
    Quiet,
}

/// Counts the rows of one step and shows them.
pub(crate) struct Meter {
    bar: Option<ProgressBar>,
    lines: bool,
    label: String,
    count: u64,
    started: Instant,
    last_line: Instant,
}

impl Meter {
    pub(crate) fn new(progress: ProgressMode, label: &str) -> Meter {
        let terminal = progress == ProgressMode::Auto && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template(
                "{spinner} {msg:<32} {human_pos:>12} rows  {per_sec:>14}  {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Meter {
            bar,
            lines: progress != ProgressMode::Quiet && !terminal,
            label: label.to_string(),
            count: 0,
            started: now,
            last_line: now,
        }
    }

    /// Counts `n` more rows; cheap enough to call per row.
    pub(crate) fn add(&mut self, n: u64) {
        self.count += n;
        if self.count % 4096 < n {
            if let Some(bar) = &self.bar {
                bar.set_position(self.count);
            } else if self.lines && self.last_line.elapsed() > Duration::from_secs(5) {
                self.last_line = Instant::now();
                tracing::info!(step = %self.label, rows = self.count, "rank graph load in progress");
            }
        }
    }

    pub(crate) fn finish(self) -> u64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.set_position(self.count);
            bar.finish();
        } else if self.lines {
            tracing::info!(step = %self.label, rows = self.count, seconds, "rank graph load step done");
        }
        self.count
    }
}
