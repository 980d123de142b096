//! `disco-bench sensitivity`: how many searches interleaving and A/B each need to name the
//! better of two rankings (issue #22, item 4). Interleaving is said to need far fewer; this
//! measures by how much on the same service, catalog and simulated searchers.
//!
//! Against a running service, for each mode in turn: a fresh experiment of the two arms on all
//! traffic, rounds of simulated searchers (new sessions every round, so A/B's bootstrap over
//! sessions sees independent sessions), and after each round the report read back from the
//! click log, until the verdict holds at `--alpha` or `--max-searches` is reached. Both modes
//! look after every round, which inflates false verdicts alike for both; the ratio compares
//! like with like.
//!
//! ```text
//! disco-bench sensitivity --base-url http://127.0.0.1:18097 --database-url sqlite://D/disco.db
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use quality::clicks::{Difference, ExperimentReport, Mode, ReportOptions};
use quality::experiments::{self, Arm, Experiment};
use schemas::db::Db;
use serde_json::{Value, json};
use site::searchers::{Catalog, SearcherOptions, Searchers, Traffic};

/// The A/B figures that can carry a verdict, in the order they are looked at: mean reciprocal
/// rank first, as it also weighs where the click landed.
pub const VERDICT_FIGURES: [&str; 2] = ["mean_reciprocal_rank", "click_through_rate"];

/// The flags of `disco-bench sensitivity`.
#[derive(Debug, Clone, clap::Args)]
pub struct SensitivityArgs {
    /// The service, e.g. http://127.0.0.1:8090 (started by you; nothing is started here).
    #[arg(long)]
    pub base_url: String,
    /// The first arm, `name:variant`; the A/B control.
    #[arg(long, default_value = "discorank:rank=active")]
    pub arm_a: String,
    /// The second arm, `name:variant`.
    #[arg(long, default_value = "text:rank=none")]
    pub arm_b: String,
    /// The modes to measure, in this order (`interleave`, `ab`).
    #[arg(long, value_delimiter = ',', default_value = "interleave,ab")]
    pub modes: Vec<String>,
    /// Simulated visitors per round; the report is read after each round.
    #[arg(long, default_value_t = 60)]
    pub visitors_per_round: u64,
    /// The verdict's significance: interleaving p below it, or an A/B interval of 1 − alpha
    /// without zero.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Searches of one mode after which it gives up without a verdict.
    #[arg(long, default_value_t = 20_000)]
    pub max_searches: usize,
    /// Bootstrap resamples of the A/B intervals.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Seed of the searchers; each mode and round draws its own from it.
    #[arg(long, default_value_t = 22)]
    pub seed: u64,
    /// Seconds to wait after creating an experiment: the service reads the running set every
    /// 5 s.
    #[arg(long, default_value_t = 6.0)]
    pub pickup_wait: f64,
    /// Seconds to wait after a round for the click-log writer (it batches every 250 ms).
    #[arg(long, default_value_t = 0.6)]
    pub settle: f64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What settled an experiment.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The sign test over interleaved searches' wins.
    Interleaving { better: String, p_value: f64 },
    /// An A/B difference whose interval leaves zero out.
    Split {
        better: String,
        difference: Difference,
    },
}

impl Verdict {
    pub fn better(&self) -> &str {
        match self {
            Verdict::Interleaving { better, .. } | Verdict::Split { better, .. } => better,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Verdict::Interleaving { better, p_value } => {
                json!({"better": better, "p_value": p_value})
            }
            Verdict::Split { better, difference } => json!({
                "better": better,
                "figure": difference.figure,
                "delta": difference.delta,
                "low": difference.low,
                "high": difference.high,
            }),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Interleaving { better, p_value } => {
                write!(f, "{better} is better, p = {p_value:.2e}")
            }
            Verdict::Split { better, difference } => write!(
                f,
                "{better} is better by {}: {}",
                difference.figure,
                interval_text(difference)
            ),
        }
    }
}

/// The stopping rule: the report's verdict at `alpha`, if it has one. Interleaving: the sign
/// test's p below `alpha`. A/B: the first of [`VERDICT_FIGURES`] whose interval (the report's,
/// so of 1 − its significance) excludes zero; the better arm is the one with the higher figure.
pub fn verdict(report: &ExperimentReport, alpha: f64) -> Option<Verdict> {
    match report.mode {
        Mode::Interleave => {
            let found = report.interleaving.as_ref()?;
            // A NaN p compares false: no verdict.
            let significant = found.p_value < alpha;
            if !significant || found.wins_a == found.wins_b {
                return None;
            }
            let better = if found.wins_a > found.wins_b {
                &found.a
            } else {
                &found.b
            };
            Some(Verdict::Interleaving {
                better: better.clone(),
                p_value: found.p_value,
            })
        }
        Mode::AB => VERDICT_FIGURES.iter().find_map(|&figure| {
            let difference =
                (report.differences.iter()).find(|d| d.figure == figure && d.excludes_zero())?;
            let better = if difference.delta > 0.0 {
                &difference.arm
            } else {
                &difference.control
            };
            Some(Verdict::Split {
                better: better.clone(),
                difference: difference.clone(),
            })
        }),
    }
}

/// The experiment's searches: in interleaving every search counts for both arms, in A/B for
/// one.
pub fn searches_of(report: &ExperimentReport) -> usize {
    match report.mode {
        Mode::Interleave => report.arms.first().map_or(0, |arm| arm.searches),
        Mode::AB => report.arms.iter().map(|arm| arm.searches).sum(),
    }
}

/// The experiment's clicks, those on the interleaved rankings' common top included.
pub fn clicks_of(report: &ExperimentReport) -> usize {
    report.arms.iter().map(|arm| arm.clicks).sum::<usize>() + report.shared_clicks
}

/// The searchers' seed of one round of one mode: new sessions every round and mode, since the
/// visitors of one seed are always the same ones.
pub fn round_seed(seed: u64, mode: Mode, round: u64) -> u64 {
    let mode_offset = match mode {
        Mode::Interleave => 0,
        Mode::AB => 1,
    };
    seed.wrapping_mul(10_000_000)
        .wrapping_add(mode_offset * 1_000_000)
        .wrapping_add(round)
}

pub fn parse_mode(text: &str) -> anyhow::Result<Mode> {
    match text.trim() {
        "interleave" => Ok(Mode::Interleave),
        "ab" => Ok(Mode::AB),
        other => anyhow::bail!("mode `{other}` is neither `interleave` nor `ab`"),
    }
}

/// One mode's run to its verdict or to the cap.
#[derive(Debug, Clone)]
pub struct ModeRun {
    pub experiment: String,
    pub rounds: u64,
    pub visitors: u64,
    pub verdict: Option<Verdict>,
    /// The report when the run stopped.
    pub report: ExperimentReport,
    /// Requests that failed and events the service refused: either makes the figures suspect.
    pub failed_requests: u64,
    pub events_rejected: u64,
    pub elapsed: Duration,
}

impl ModeRun {
    pub fn searches(&self) -> usize {
        searches_of(&self.report)
    }

    fn to_json(&self) -> anyhow::Result<Value> {
        Ok(json!({
            "mode": self.report.mode.to_string(),
            "experiment": self.experiment,
            "searches": self.searches(),
            "clicks": clicks_of(&self.report),
            "rounds": self.rounds,
            "visitors": self.visitors,
            "verdict": self.verdict.as_ref().map(Verdict::to_json),
            "failed_requests": self.failed_requests,
            "events_rejected": self.events_rejected,
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "report": serde_json::to_value(&self.report)?,
        }))
    }
}

/// Every mode's run, and what they say together.
#[derive(Debug, Clone)]
pub struct SensitivityReport {
    pub alpha: f64,
    pub max_searches: usize,
    pub visitors_per_round: u64,
    pub runs: Vec<ModeRun>,
}

impl SensitivityReport {
    fn run_of(&self, mode: Mode) -> Option<&ModeRun> {
        self.runs.iter().find(|run| run.report.mode == mode)
    }

    /// A/B's searches over interleaving's, and whether that is only a lower bound (A/B gave
    /// up at the cap while interleaving reached its verdict). `None` without both modes, or
    /// when interleaving has no verdict either.
    pub fn ratio(&self) -> Option<(f64, bool)> {
        let interleave = self.run_of(Mode::Interleave)?;
        let ab = self.run_of(Mode::AB)?;
        interleave.verdict.as_ref()?;
        let ratio = ab.searches() as f64 / interleave.searches().max(1) as f64;
        Some((ratio, ab.verdict.is_none()))
    }

    pub fn to_json(&self) -> anyhow::Result<Value> {
        let runs: anyhow::Result<Vec<Value>> = self.runs.iter().map(ModeRun::to_json).collect();
        let ratio = self.ratio();
        Ok(json!({
            "alpha": self.alpha,
            "max_searches": self.max_searches,
            "visitors_per_round": self.visitors_per_round,
            "runs": runs?,
            "ab_over_interleave": ratio.map(|(ratio, _)| ratio),
            "ab_over_interleave_is_lower_bound": ratio.map(|(_, lower_bound)| lower_bound),
        }))
    }
}

fn interval_text(d: &Difference) -> String {
    format!(
        "{} − {} = {:+.4} [{:+.4}, {:+.4}]",
        d.arm, d.control, d.delta, d.low, d.high
    )
}

impl fmt::Display for SensitivityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sensitivity: alpha {}, at most {} searches per mode, {} visitors per round",
            self.alpha, self.max_searches, self.visitors_per_round
        )?;
        for run in &self.runs {
            let report = &run.report;
            writeln!(
                f,
                "\n{} ({}): {} searches, {} clicks, {} rounds, {:.1} s",
                report.mode,
                run.experiment,
                run.searches(),
                clicks_of(report),
                run.rounds,
                run.elapsed.as_secs_f64()
            )?;
            match &run.verdict {
                Some(verdict) => writeln!(f, "  verdict: {verdict}")?,
                None => writeln!(f, "  no verdict within {} searches", self.max_searches)?,
            }
            if let Some(found) = &report.interleaving {
                writeln!(
                    f,
                    "  {} wins {}, {} wins {}, {} ties, p = {:.2e}",
                    found.a, found.wins_a, found.b, found.wins_b, found.ties, found.p_value
                )?;
            }
            for figure in VERDICT_FIGURES {
                if let Some(d) = report.differences.iter().find(|d| d.figure == figure) {
                    writeln!(f, "  {figure}: {}", interval_text(d))?;
                }
            }
            if run.failed_requests > 0 || run.events_rejected > 0 {
                writeln!(
                    f,
                    "  WARNING: {} failed requests, {} events rejected",
                    run.failed_requests, run.events_rejected
                )?;
            }
            for line in report.to_string().lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        if let Some((ratio, lower_bound)) = self.ratio() {
            let bound = if lower_bound {
                "at least (A/B gave up at the cap) "
            } else {
                ""
            };
            writeln!(f, "\nA/B ÷ interleaving searches: {bound}{ratio:.1}×")?;
        }
        Ok(())
    }
}

/// Runs every mode of `args` in turn against the service and `db`, the service's database.
pub async fn run(db: &Db, args: SensitivityArgs) -> anyhow::Result<SensitivityReport> {
    anyhow::ensure!(
        args.alpha > 0.0 && args.alpha < 1.0,
        "--alpha must be in (0, 1)"
    );
    anyhow::ensure!(
        args.visitors_per_round > 0,
        "--visitors-per-round must be positive"
    );
    let modes: Vec<Mode> = (args.modes.iter())
        .map(|m| parse_mode(m))
        .collect::<anyhow::Result<_>>()?;
    let arms = vec![Arm::parse(&args.arm_a)?, Arm::parse(&args.arm_b)?];
    // A session takes part in the oldest running experiment that draws it: another one running
    // would take our visitors.
    let running = experiments::running(db).await?;
    if !running.is_empty() {
        let names: Vec<&str> = running.iter().map(|e| e.name.as_str()).collect();
        anyhow::bail!(
            "experiments running already would draw the visitors: {} (stop them with \
             `disco experiment stop <name>`)",
            names.join(", ")
        );
    }
    let catalog = Catalog::load(db).await?;

    let mut runs = Vec::new();
    for mode in modes {
        let name = format!("sensitivity-{mode}-{}", Utc::now().format("%Y%m%dT%H%M%S"));
        let experiment = Experiment::new(&name, mode, arms.clone(), 1.0, Utc::now())?;
        experiments::create(db, &experiment).await?;
        eprintln!(
            "{name}: created; waiting {} s for the service to read it",
            args.pickup_wait
        );
        // Stopped whatever happens, so the next mode (or the next run) gets every session.
        let outcome = run_mode(db, &catalog, &experiment, &args).await;
        let stopped = experiments::stop(db, &name, Utc::now()).await;
        runs.push(outcome?);
        stopped?;
    }
    Ok(SensitivityReport {
        alpha: args.alpha,
        max_searches: args.max_searches,
        visitors_per_round: args.visitors_per_round,
        runs,
    })
}

async fn run_mode(
    db: &Db,
    catalog: &Catalog,
    experiment: &Experiment,
    args: &SensitivityArgs,
) -> anyhow::Result<ModeRun> {
    tokio::time::sleep(Duration::from_secs_f64(args.pickup_wait)).await;
    let options = ReportOptions {
        resamples: args.resamples,
        significance: args.alpha,
        ..ReportOptions::default()
    };
    let arm_names = experiment.arm_names();
    let started = Instant::now();
    let (mut visitors, mut failed_requests, mut events_rejected) = (0, 0, 0);
    for round in 1u64.. {
        let searcher_options = SearcherOptions {
            seed: round_seed(args.seed, experiment.mode, round),
            base_url: args.base_url.clone(),
            ..SearcherOptions::default()
        };
        let searchers = Searchers::new(catalog.clone(), &searcher_options)?;
        let ran = searchers
            .run(Traffic::Visitors(args.visitors_per_round))
            .await?;
        visitors += ran.visitors;
        failed_requests += ran.failed_requests;
        events_rejected += ran.events_rejected;
        tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;

        let (queries, clicks) = quality::click_log::load(db, Some(&experiment.name), None)
            .await
            .context("reading the experiment's click log")?;
        let report = quality::clicks::report(
            &experiment.name,
            experiment.mode,
            &arm_names,
            &queries,
            &clicks,
            &options,
        );
        let searches = searches_of(&report);
        anyhow::ensure!(
            searches > 0,
            "{}: no search took part after {visitors} visitors: is {} the service of this \
             database, and did it read the experiment (--pickup-wait)?",
            experiment.name,
            args.base_url
        );
        let found = verdict(&report, args.alpha);
        eprintln!(
            "{} round {round}: {searches} searches, {} clicks{}",
            experiment.mode,
            clicks_of(&report),
            progress_text(&report, found.as_ref())
        );
        if found.is_some() || searches >= args.max_searches {
            return Ok(ModeRun {
                experiment: experiment.name.clone(),
                rounds: round,
                visitors,
                verdict: found,
                report,
                failed_requests,
                events_rejected,
                elapsed: started.elapsed(),
            });
        }
    }
    unreachable!("the rounds run until a verdict or the cap")
}

/// The round's evidence so far, for the progress line.
fn progress_text(report: &ExperimentReport, found: Option<&Verdict>) -> String {
    let evidence = match (&report.interleaving, report.differences.first()) {
        (Some(i), _) => format!(
            "; wins {}:{} ({} ties), p = {:.2e}",
            i.wins_a, i.wins_b, i.ties, i.p_value
        ),
        (None, Some(_)) => (VERDICT_FIGURES.iter())
            .filter_map(|&figure| report.differences.iter().find(|d| d.figure == figure))
            .map(|d| format!("; {} {}", d.figure, interval_text(d)))
            .collect(),
        (None, None) => String::new(),
    };
    match found {
        Some(verdict) => format!("{evidence} → {verdict}"),
        None => evidence,
    }
}

#[cfg(test)]
mod tests {
    use quality::clicks::{ArmFigures, InterleavingVerdict};

    use super::*;

    fn arm(name: &str, searches: usize, clicks: usize) -> ArmFigures {
        ArmFigures {
            arm: name.to_string(),
            searches,
            clicked_searches: clicks,
            clicks,
            click_through_rate: 0.0,
            mean_reciprocal_rank: 0.0,
            abandonment: 0.0,
            zero_result_rate: 0.0,
            clicks_at_1: 0.0,
        }
    }

    fn interleaved(wins_a: u64, wins_b: u64, p_value: f64) -> ExperimentReport {
        ExperimentReport {
            experiment: "mix".to_string(),
            mode: Mode::Interleave,
            arms: vec![arm("discorank", 100, 40), arm("text", 100, 20)],
            interleaving: Some(InterleavingVerdict {
                a: "discorank".to_string(),
                b: "text".to_string(),
                wins_a,
                wins_b,
                ties: 3,
                p_value,
                better: None,
            }),
            differences: Vec::new(),
            significance: 0.05,
            ignored_clicks: 0,
            shared_clicks: 5,
        }
    }

    fn difference(figure: &str, delta: f64, low: f64, high: f64) -> Difference {
        Difference {
            figure: figure.to_string(),
            arm: "text".to_string(),
            control: "discorank".to_string(),
            delta,
            low,
            high,
        }
    }

    fn split(differences: Vec<Difference>) -> ExperimentReport {
        ExperimentReport {
            experiment: "split".to_string(),
            mode: Mode::AB,
            arms: vec![arm("discorank", 60, 30), arm("text", 50, 20)],
            interleaving: None,
            differences,
            significance: 0.01,
            ignored_clicks: 0,
            shared_clicks: 0,
        }
    }

    #[test]
    fn interleaving_stops_only_below_alpha() {
        assert_eq!(verdict(&interleaved(36, 14, 0.011), 0.01), None);
        assert_eq!(
            verdict(&interleaved(36, 14, 0.01), 0.01),
            None,
            "strictly below"
        );
        assert_eq!(
            verdict(&interleaved(36, 14, 0.0026), 0.01),
            Some(Verdict::Interleaving {
                better: "discorank".to_string(),
                p_value: 0.0026
            })
        );
        let b_better = verdict(&interleaved(14, 36, 0.0026), 0.01).expect("a verdict");
        assert_eq!(b_better.better(), "text");
    }

    #[test]
    fn interleaving_without_a_verdict_block_never_stops() {
        let mut report = interleaved(36, 14, 0.0001);
        report.interleaving = None;
        assert_eq!(verdict(&report, 0.01), None);
    }

    #[test]
    fn ab_stops_on_the_first_figure_whose_interval_excludes_zero() {
        let undecided = split(vec![
            difference("click_through_rate", -0.05, -0.10, 0.01),
            difference("mean_reciprocal_rank", -0.04, -0.09, 0.002),
            difference("abandonment", 0.2, 0.1, 0.3),
        ]);
        assert_eq!(
            verdict(&undecided, 0.01),
            None,
            "abandonment is not a verdict figure"
        );

        let by_ctr = split(vec![
            difference("click_through_rate", -0.05, -0.09, -0.01),
            difference("mean_reciprocal_rank", -0.04, -0.09, 0.002),
        ]);
        let found = verdict(&by_ctr, 0.01).expect("CTR decides");
        assert_eq!(found.better(), "discorank", "the control, as text is lower");
        assert!(matches!(
            found,
            Verdict::Split { ref difference, .. } if difference.figure == "click_through_rate"
        ));

        let both = split(vec![
            difference("click_through_rate", 0.05, 0.01, 0.09),
            difference("mean_reciprocal_rank", 0.04, 0.02, 0.06),
        ]);
        let found = verdict(&both, 0.01).expect("both decide");
        assert_eq!(found.better(), "text");
        assert!(matches!(
            found,
            Verdict::Split { ref difference, .. } if difference.figure == "mean_reciprocal_rank"
        ));
    }

    #[test]
    fn ab_without_bootstrap_never_stops() {
        let unknown = split(vec![difference(
            "mean_reciprocal_rank",
            -0.1,
            f64::NAN,
            f64::NAN,
        )]);
        assert_eq!(verdict(&unknown, 0.01), None);
    }

    #[test]
    fn searches_count_each_search_once() {
        assert_eq!(searches_of(&interleaved(1, 1, 1.0)), 100);
        assert_eq!(clicks_of(&interleaved(1, 1, 1.0)), 65);
        assert_eq!(searches_of(&split(Vec::new())), 110);
        assert_eq!(clicks_of(&split(Vec::new())), 50);
    }

    #[test]
    fn every_round_and_mode_draws_new_visitors() {
        let seeds = [
            round_seed(22, Mode::Interleave, 1),
            round_seed(22, Mode::Interleave, 2),
            round_seed(22, Mode::AB, 1),
            round_seed(23, Mode::Interleave, 1),
        ];
        for (i, seed) in seeds.iter().enumerate() {
            assert!(!seeds[i + 1..].contains(seed), "{seeds:?}");
        }
    }

    #[test]
    fn the_ratio_is_a_lower_bound_when_ab_gives_up() {
        let run = |report: ExperimentReport, reached: bool| ModeRun {
            experiment: report.experiment.clone(),
            rounds: 1,
            visitors: 60,
            verdict: reached.then(|| verdict(&report, 0.01)).flatten(),
            report,
            failed_requests: 0,
            events_rejected: 0,
            elapsed: Duration::ZERO,
        };
        let decided_ab = split(vec![difference("mean_reciprocal_rank", 0.1, 0.05, 0.15)]);
        let mut sensitivity = SensitivityReport {
            alpha: 0.01,
            max_searches: 110,
            visitors_per_round: 60,
            runs: vec![
                run(interleaved(30, 5, 0.0001), true),
                run(decided_ab.clone(), true),
            ],
        };
        assert_eq!(sensitivity.ratio(), Some((1.1, false)));
        sensitivity.runs[1] = run(split(Vec::new()), false);
        assert_eq!(sensitivity.ratio(), Some((1.1, true)));
        sensitivity.runs.truncate(1);
        assert_eq!(sensitivity.ratio(), None);
        assert!(parse_mode("ab").is_ok() && parse_mode("split").is_err());
    }
}
