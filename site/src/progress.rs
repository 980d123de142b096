//! Progress of long work: a bar on a terminal, plain lines every few seconds otherwise
//! (logs, CI), nothing at all when hidden (tests, library callers that report themselves).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often plain progress lines are printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// A counter of done units out of an expected total, shown as the process's stderr allows.
pub struct ProgressMeter {
    label: String,
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    display: Display,
}

enum Display {
    Hidden,
    Bar(ProgressBar),
    Plain(Mutex<Instant>),
}

impl ProgressMeter {
    /// A progress display for `total` units (an estimate is fine): a bar when stderr is a
    /// terminal, plain lines otherwise.
    pub fn new(label: &str, total: u64) -> ProgressMeter {
        let display = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            Display::Bar(bar)
        } else {
            Display::Plain(Mutex::new(Instant::now()))
        };
        ProgressMeter::with_display(label, total, display)
    }

    /// Counts without showing anything.
    pub fn hidden() -> ProgressMeter {
        ProgressMeter::with_display("", 0, Display::Hidden)
    }

    fn with_display(label: &str, total: u64, display: Display) -> ProgressMeter {
        ProgressMeter {
            label: label.to_string(),
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            started: Instant::now(),
            display,
        }
    }

    /// Records `n` more units done.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        match &self.display {
            Display::Hidden => {}
            Display::Bar(bar) => bar.inc(n),
            Display::Plain(last) => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() >= PLAIN_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", self.line(done));
                }
            }
        }
    }

    /// Changes the expected total (once it is known).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Display::Bar(bar) = &self.display {
            bar.set_length(total);
        }
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Ends the display with a last line.
    pub fn finish(&self) {
        let done = self.done();
        match &self.display {
            Display::Hidden => {}
            Display::Bar(bar) => bar.finish_and_clear(),
            Display::Plain(_) => {}
        }
        if !matches!(self.display, Display::Hidden) {
            eprintln!("{}", self.line(done));
        }
    }

    fn line(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let total = self.total.load(Ordering::Relaxed);
        let share = if total > 0 {
            100.0 * done as f64 / total as f64
        } else {
            100.0
        };
        format!(
            "{}: {done}/{} rows ({share:.1}%), {:.0} rows/s, {secs:.1} s",
            self.label,
            total,
            done as f64 / secs
        )
    }
}
