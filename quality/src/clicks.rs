//! Knowing from live traffic whether a change is better (issue #22): the click log as the query
//! service records it, and what it says — per-arm figures of an experiment, the verdict of a
//! team-draft interleaving, A/B differences with bootstrap intervals over sessions, and graded
//! judgments drawn from clicks.
//!
//! Everything here is pure: the log comes in as slices and the report goes out as values, so the
//! HTTP report, the command line and the tests share one computation.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::AddAssign;

use chrono::{DateTime, Utc};
use schemas::EntityKey;
use serde::{Deserialize, Serialize};

use crate::generate::SplitMix;

/// Resamples of the bootstrap unless asked otherwise: enough for stable 95% percentile bounds.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// Seed of the bootstrap unless asked otherwise, so the same log always gives the same report.
pub const DEFAULT_SEED: u64 = 22;

/// The conventional 5%: an interleaving p-value below it names a better arm, and A/B intervals
/// cover the other 95%.
pub const DEFAULT_SIGNIFICANCE: f64 = 0.05;

/// A (query text, entity) pair needs this many impressions before its clicks grade it: fewer
/// and one stray click decides the grade.
pub const DEFAULT_MIN_IMPRESSIONS: usize = 5;

/// Clicks over expected clicks (COEC) at or above which a result earns each grade, best first.
/// 2.0: clicked twice as often as the average result at its positions, the answer people want;
/// 1.0: as often as a typical result there; 0.5: noticed now and then; below: passed over.
pub const COEC_GRADE_FLOORS: [(f64, u8); 3] = [(2.0, 3), (1.0, 2), (0.5, 1)];

/// One answer of `/search` as the service logged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedQuery {
    pub query_id: String,
    pub session: String,
    pub text: String,
    /// Matches found; 0 is a zero-result search.
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// The A/B arm; `None` when interleaved or outside any experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
    /// The results in position order (position = index + 1).
    #[serde(default)]
    pub shown: Vec<Shown>,
    pub at: DateTime<Utc>,
}

/// One shown result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    #[serde(with = "crate::key_text")]
    pub entity: EntityKey,
    /// In an interleaving, the arm that contributed this row and is credited for its clicks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
}

/// One click the page reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub query_id: String,
    /// 1-based, as shown.
    pub position: usize,
    #[serde(with = "crate::key_text")]
    pub entity: EntityKey,
    pub at: DateTime<Utc>,
}

/// How an experiment splits traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::upper_case_acronyms, reason = "A/B is how everyone writes it")]
pub enum Mode {
    /// Each session sticks to one arm.
    AB,
    /// Each search merges two arms by team draft; a click credits the arm of its row.
    Interleave,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::AB => "ab",
            Mode::Interleave => "interleave",
        })
    }
}

/// What one arm's searches and clicks add up to.
///
/// In A/B mode an arm's searches are those served in it, and every click counts. In interleaving
/// every search counts for both arms, and only the clicks credited to an arm count for it: its
/// mean reciprocal rank is that of its first credited click, a search is abandoned for it when
/// none of its rows was clicked, and `clicks_at_1` looks at its first credited click — so the
/// figures say how the rows each arm contributed fared in the same searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmFigures {
    pub arm: String,
    pub searches: usize,
    /// Searches with at least one (credited) click.
    pub clicked_searches: usize,
    /// Distinct clicked positions over all searches.
    pub clicks: usize,
    /// Share of searches with at least one click.
    pub click_through_rate: f64,
    /// Mean over all searches of 1 / position of the first click (by time), 0 without one.
    pub mean_reciprocal_rank: f64,
    /// Share of searches that found something (total > 0) and got no click.
    pub abandonment: f64,
    pub zero_result_rate: f64,
    /// Share of clicked searches whose first click was on the top row.
    pub clicks_at_1: f64,
}

/// Which arm of a team-draft interleaving people preferred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterleavingVerdict {
    pub a: String,
    pub b: String,
    /// Searches whose clicks credited `a` more often than `b`.
    pub wins_a: u64,
    pub wins_b: u64,
    /// Searches with credited clicks shared evenly.
    pub ties: u64,
    /// Exact two-sided sign test of `wins_a` against `wins_b`, ties left out.
    pub p_value: f64,
    /// The arm with more wins, when `p_value` is below the report's significance.
    pub better: Option<String>,
}

/// One figure of an A/B arm against the control, with a percentile bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// `click_through_rate`, `mean_reciprocal_rank`, `abandonment` or `zero_result_rate`.
    pub figure: String,
    pub arm: String,
    pub control: String,
    /// Arm − control.
    pub delta: f64,
    /// NaN when the bootstrap was skipped (no resamples).
    pub low: f64,
    pub high: f64,
}

impl Difference {
    /// Whether the interval leaves zero out, i.e. the arm really differs from the control.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Everything the log says about one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub experiment: String,
    pub mode: Mode,
    /// In the order asked for; the first is the A/B control.
    pub arms: Vec<ArmFigures>,
    /// Interleaving of exactly two arms only.
    pub interleaving: Option<InterleavingVerdict>,
    /// A/B only: every non-control arm × compared figure.
    pub differences: Vec<Difference>,
    /// The threshold of the verdict; intervals cover 1 − significance.
    pub significance: f64,
    /// Clicks that entered no figure because the log contradicts itself: unknown query id,
    /// position not shown, a different entity than the one shown there, or (interleaving) a
    /// row credited to an arm the report does not name.
    pub ignored_clicks: usize,
    /// Interleaving: clicks on rows of the rankings' common top (the same results at the same
    /// positions in both arms), which credit neither arm.
    pub shared_clicks: usize,
}

/// How the report tests and resamples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportOptions {
    /// Bootstrap resamples; 0 skips the bootstrap.
    pub resamples: usize,
    pub seed: u64,
    pub significance: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            resamples: DEFAULT_RESAMPLES,
            seed: DEFAULT_SEED,
            significance: DEFAULT_SIGNIFICANCE,
        }
    }
}

/// Scores `experiment` from the log. Searches of other experiments and their clicks are left
/// out (and not counted as ignored); duplicate clicks on one position of one search count once.
pub fn report(
    experiment: &str,
    mode: Mode,
    arms: &[String],
    queries: &[ServedQuery],
    clicks: &[Click],
    options: &ReportOptions,
) -> ExperimentReport {
    let searches: Vec<&ServedQuery> = first_of_each_id(queries)
        .into_iter()
        .filter(|search| search.experiment.as_deref() == Some(experiment))
        .collect();
    let log = ClickLog::new(queries, clicks, |search| {
        search.experiment.as_deref() == Some(experiment)
    });

    let mut ignored_clicks = log.ignored;
    let mut shared_clicks = 0;
    if mode == Mode::Interleave {
        for search in &searches {
            for (position, _) in log.clicks_of(search) {
                match credit(search, position) {
                    // A row both arms ranked alike at the top: it cannot tell them apart.
                    None => shared_clicks += 1,
                    Some(arm) if !arms.iter().any(|a| a == arm) => ignored_clicks += 1,
                    Some(_) => {}
                }
            }
        }
    }

    let sessions_per_arm: Vec<BTreeMap<&str, Tally>> = (arms.iter())
        .map(|arm| session_tallies(mode, arm, &searches, &log))
        .collect();
    let figures = (arms.iter().zip(&sessions_per_arm))
        .map(|(arm, sessions)| sum(sessions.values()).figures(arm))
        .collect();

    let (interleaving, differences) = match (mode, arms) {
        (Mode::Interleave, [a, b]) => (
            Some(interleaving_verdict(
                a,
                b,
                &searches,
                &log,
                options.significance,
            )),
            Vec::new(),
        ),
        (Mode::Interleave, _) => (None, Vec::new()),
        (Mode::AB, _) => (None, differences(arms, &sessions_per_arm, options)),
    };

    ExperimentReport {
        experiment: experiment.to_string(),
        mode,
        arms: figures,
        interleaving,
        differences,
        significance: options.significance,
        ignored_clicks,
        shared_clicks,
    }
}

/// Exact two-sided binomial (sign) test with p = ½: min(1, 2·min(P(X ≤ k), P(X ≥ k))).
/// Summed in log space from the tail's largest term down, so it stays finite and accurate for
/// n in the millions. NaN when k > n, which no count of wins can be.
pub fn binomial_two_sided(k: u64, n: u64) -> f64 {
    if k > n {
        return f64::NAN;
    }
    // By symmetry the smaller tail is the lower tail at the count nearer to zero.
    let nearer = k.min(n - k);
    (2.0 * half_binomial_lower_tail(nearer, n)).min(1.0)
}

/// Options of [`judgments_from_clicks`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClickJudgmentOptions {
    pub min_impressions: usize,
}

impl Default for ClickJudgmentOptions {
    fn default() -> Self {
        ClickJudgmentOptions {
            min_impressions: DEFAULT_MIN_IMPRESSIONS,
        }
    }
}

/// A grade read from how often people clicked an entity for a query, against how often a
/// result at its positions gets clicked at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClickJudgment {
    /// The query text as [`normalise_query_text`] writes it.
    pub text: String,
    #[serde(with = "crate::key_text")]
    pub entity: EntityKey,
    /// 0..=3, from [`COEC_GRADE_FLOORS`].
    pub grade: u8,
    pub impressions: usize,
    pub clicks: usize,
    /// Σ over impressions of the log's click-through rate at the position shown.
    pub expected_clicks: f64,
}

/// Grades every (query text, entity) pair shown at least `min_impressions` times by clicks over
/// expected clicks, where a position's expected clicks are its click-through rate over the whole
/// log (the examination prior: lower rows get fewer clicks whatever they hold). Sorted by text,
/// then grade (best first), then entity.
pub fn judgments_from_clicks(
    queries: &[ServedQuery],
    clicks: &[Click],
    options: &ClickJudgmentOptions,
) -> Vec<ClickJudgment> {
    let searches = first_of_each_id(queries);
    let log = ClickLog::new(queries, clicks, |_| true);
    let prior = examination_prior(&searches, &log);

    #[derive(Default)]
    struct Seen {
        impressions: usize,
        clicks: usize,
        expected_clicks: f64,
    }
    let mut pairs: BTreeMap<(String, EntityKey), Seen> = BTreeMap::new();
    for search in &searches {
        let text = normalise_query_text(&search.text);
        if text.is_empty() {
            continue;
        }
        let clicked = log.by_query.get(search.query_id.as_str());
        for ((index, shown), rate) in search.shown.iter().enumerate().zip(&prior) {
            let seen = pairs.entry((text.clone(), shown.entity)).or_default();
            seen.impressions += 1;
            seen.expected_clicks += rate;
            if clicked.is_some_and(|positions| positions.contains_key(&(index + 1))) {
                seen.clicks += 1;
            }
        }
    }

    let mut judgments: Vec<ClickJudgment> = (pairs.into_iter())
        .filter(|(_, seen)| seen.impressions >= options.min_impressions.max(1))
        .map(|((text, entity), seen)| ClickJudgment {
            text,
            entity,
            grade: grade_of_coec(share_f(seen.clicks as f64, seen.expected_clicks)),
            impressions: seen.impressions,
            clicks: seen.clicks,
            expected_clicks: seen.expected_clicks,
        })
        .collect();
    judgments.sort_by(|x, y| {
        (x.text.cmp(&y.text))
            .then(y.grade.cmp(&x.grade))
            .then(x.entity.cmp(&y.entity))
    });
    judgments
}

/// The judgments as a query set `disco eval run` scores against: one query per text (class
/// `clicks`, no intended entity), each with its judgments from the source `clicks`, made by
/// `clicks` at `at`. Sorted as the judgments are.
pub fn judged_set(name: &str, judgments: &[ClickJudgment], at: DateTime<Utc>) -> crate::QuerySet {
    let mut queries: Vec<crate::EvalQuery> = Vec::new();
    for judged in judgments {
        if queries.last().is_none_or(|q| q.text != judged.text) {
            queries.push(crate::EvalQuery {
                text: judged.text.clone(),
                class: "clicks".to_string(),
                intended: None,
                judgments: Vec::new(),
            });
        }
        if let Some(query) = queries.last_mut() {
            query.judgments.push(crate::Judgment {
                entity: judged.entity,
                grade: judged.grade,
                source: crate::Source::Clicks,
                who: "clicks".to_string(),
                at,
            });
        }
    }
    crate::QuerySet {
        name: name.to_string(),
        queries,
    }
}

/// Trimmed, lowercased, runs of whitespace as one space: how people's variants of one query
/// meet.
pub fn normalise_query_text(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn grade_of_coec(coec: f64) -> u8 {
    (COEC_GRADE_FLOORS.iter())
        .find(|(floor, _)| coec >= *floor)
        .map_or(0, |&(_, grade)| grade)
}

/// Per position (index = position − 1): clicks there over searches that showed that position.
fn examination_prior(searches: &[&ServedQuery], log: &ClickLog) -> Vec<f64> {
    let deepest = searches.iter().map(|s| s.shown.len()).max().unwrap_or(0);
    let mut shown = vec![0usize; deepest];
    let mut clicked = vec![0usize; deepest];
    for search in searches {
        for count in &mut shown[..search.shown.len()] {
            *count += 1;
        }
        for (position, _) in log.clicks_of(search) {
            if let Some(count) = position.checked_sub(1).and_then(|i| clicked.get_mut(i)) {
                *count += 1;
            }
        }
    }
    (shown.iter().zip(&clicked))
        .map(|(&shown, &clicked)| share(clicked, shown))
        .collect()
}

/// The first search logged under each id, so a doubly logged search counts once.
fn first_of_each_id(queries: &[ServedQuery]) -> Vec<&ServedQuery> {
    let mut seen = std::collections::HashSet::new();
    (queries.iter())
        .filter(|query| seen.insert(query.query_id.as_str()))
        .collect()
}

/// The clicks that agree with what was shown, per search: clicked position → first click time.
struct ClickLog<'q> {
    by_query: HashMap<&'q str, BTreeMap<usize, DateTime<Utc>>>,
    ignored: usize,
}

impl<'q> ClickLog<'q> {
    /// Keeps clicks on searches `wanted` accepts; counts as ignored those on unknown searches
    /// and, among wanted ones, those that do not match a shown row.
    fn new(
        queries: &'q [ServedQuery],
        clicks: &[Click],
        wanted: impl Fn(&ServedQuery) -> bool,
    ) -> Self {
        let served: HashMap<&str, &ServedQuery> = (first_of_each_id(queries).into_iter())
            .map(|query| (query.query_id.as_str(), query))
            .collect();
        let mut log = ClickLog {
            by_query: HashMap::new(),
            ignored: 0,
        };
        for click in clicks {
            let Some(&search) = served.get(click.query_id.as_str()) else {
                log.ignored += 1;
                continue;
            };
            if !wanted(search) {
                continue;
            }
            let row = (click.position.checked_sub(1)).and_then(|index| search.shown.get(index));
            if row.is_none_or(|row| row.entity != click.entity) {
                log.ignored += 1;
                continue;
            }
            let first = (log.by_query.entry(search.query_id.as_str()))
                .or_default()
                .entry(click.position)
                .or_insert(click.at);
            *first = (*first).min(click.at);
        }
        log
    }

    /// The search's clicked positions with their first click time, by position.
    fn clicks_of(&self, search: &ServedQuery) -> impl Iterator<Item = (usize, DateTime<Utc>)> {
        (self.by_query.get(search.query_id.as_str()).into_iter())
            .flat_map(|positions| positions.iter().map(|(&position, &at)| (position, at)))
    }
}

/// The arm an interleaved row at `position` credits.
fn credit(search: &ServedQuery, position: usize) -> Option<&str> {
    (position.checked_sub(1))
        .and_then(|index| search.shown.get(index))
        .and_then(|row| row.arm.as_deref())
}

/// Sums over searches from which every figure is a ratio. Kept per session, because sessions
/// are what the A/B split randomised and so what the bootstrap resamples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tally {
    searches: usize,
    with_results: usize,
    zero_results: usize,
    clicked: usize,
    clicks: usize,
    abandoned: usize,
    first_at_top: usize,
    reciprocal_ranks: f64,
}

impl Tally {
    /// Adds one search with the clicks that count for the arm.
    fn count(
        &mut self,
        search: &ServedQuery,
        clicks: impl Iterator<Item = (usize, DateTime<Utc>)>,
    ) {
        self.searches += 1;
        if search.total == 0 {
            self.zero_results += 1;
        } else {
            self.with_results += 1;
        }
        let mut first: Option<(DateTime<Utc>, usize)> = None;
        for (position, at) in clicks {
            self.clicks += 1;
            first = Some(first.map_or((at, position), |earlier| earlier.min((at, position))));
        }
        match first {
            Some((_, position)) => {
                self.clicked += 1;
                self.reciprocal_ranks += 1.0 / position as f64;
                if position == 1 {
                    self.first_at_top += 1;
                }
            }
            None if search.total > 0 => self.abandoned += 1,
            None => {}
        }
    }

    fn click_through_rate(&self) -> f64 {
        share(self.clicked, self.searches)
    }

    fn mean_reciprocal_rank(&self) -> f64 {
        share_f(self.reciprocal_ranks, self.searches as f64)
    }

    fn abandonment(&self) -> f64 {
        share(self.abandoned, self.with_results)
    }

    fn zero_result_rate(&self) -> f64 {
        share(self.zero_results, self.searches)
    }

    fn clicks_at_1(&self) -> f64 {
        share(self.first_at_top, self.clicked)
    }

    fn figures(&self, arm: &str) -> ArmFigures {
        ArmFigures {
            arm: arm.to_string(),
            searches: self.searches,
            clicked_searches: self.clicked,
            clicks: self.clicks,
            click_through_rate: self.click_through_rate(),
            mean_reciprocal_rank: self.mean_reciprocal_rank(),
            abandonment: self.abandonment(),
            zero_result_rate: self.zero_result_rate(),
            clicks_at_1: self.clicks_at_1(),
        }
    }
}

impl AddAssign<&Tally> for Tally {
    fn add_assign(&mut self, other: &Tally) {
        self.searches += other.searches;
        self.with_results += other.with_results;
        self.zero_results += other.zero_results;
        self.clicked += other.clicked;
        self.clicks += other.clicks;
        self.abandoned += other.abandoned;
        self.first_at_top += other.first_at_top;
        self.reciprocal_ranks += other.reciprocal_ranks;
    }
}

fn sum<'t>(tallies: impl Iterator<Item = &'t Tally>) -> Tally {
    tallies.fold(Tally::default(), |mut total, tally| {
        total += tally;
        total
    })
}

/// A ratio that is 0 when there is nothing to divide by (no searches, no clicks).
fn share(part: usize, whole: usize) -> f64 {
    share_f(part as f64, whole as f64)
}

fn share_f(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// The figures an A/B difference is reported for.
#[derive(Debug, Clone, Copy)]
enum Figure {
    ClickThroughRate,
    MeanReciprocalRank,
    Abandonment,
    ZeroResultRate,
}

impl Figure {
    const COMPARED: [Figure; 4] = [
        Figure::ClickThroughRate,
        Figure::MeanReciprocalRank,
        Figure::Abandonment,
        Figure::ZeroResultRate,
    ];

    fn name(self) -> &'static str {
        match self {
            Figure::ClickThroughRate => "click_through_rate",
            Figure::MeanReciprocalRank => "mean_reciprocal_rank",
            Figure::Abandonment => "abandonment",
            Figure::ZeroResultRate => "zero_result_rate",
        }
    }

    fn of(self, tally: &Tally) -> f64 {
        match self {
            Figure::ClickThroughRate => tally.click_through_rate(),
            Figure::MeanReciprocalRank => tally.mean_reciprocal_rank(),
            Figure::Abandonment => tally.abandonment(),
            Figure::ZeroResultRate => tally.zero_result_rate(),
        }
    }
}

/// Per session, what the arm's searches in it add up to.
fn session_tallies<'q>(
    mode: Mode,
    arm: &str,
    searches: &[&'q ServedQuery],
    log: &ClickLog,
) -> BTreeMap<&'q str, Tally> {
    let mut sessions: BTreeMap<&str, Tally> = BTreeMap::new();
    for &search in searches {
        match mode {
            Mode::AB if search.arm.as_deref() == Some(arm) => {
                (sessions.entry(search.session.as_str()).or_default())
                    .count(search, log.clicks_of(search));
            }
            Mode::AB => {}
            Mode::Interleave => {
                let credited = log
                    .clicks_of(search)
                    .filter(|&(position, _)| credit(search, position) == Some(arm));
                (sessions.entry(search.session.as_str()).or_default()).count(search, credited);
            }
        }
    }
    sessions
}

fn interleaving_verdict(
    a: &str,
    b: &str,
    searches: &[&ServedQuery],
    log: &ClickLog,
    significance: f64,
) -> InterleavingVerdict {
    let (mut wins_a, mut wins_b, mut ties) = (0u64, 0u64, 0u64);
    for search in searches {
        let (mut for_a, mut for_b) = (0usize, 0usize);
        for (position, _) in log.clicks_of(search) {
            match credit(search, position) {
                Some(arm) if arm == a => for_a += 1,
                Some(arm) if arm == b => for_b += 1,
                _ => {}
            }
        }
        match for_a.cmp(&for_b) {
            std::cmp::Ordering::Greater => wins_a += 1,
            std::cmp::Ordering::Less => wins_b += 1,
            std::cmp::Ordering::Equal if for_a > 0 => ties += 1,
            std::cmp::Ordering::Equal => {}
        }
    }
    let p_value = binomial_two_sided(wins_a, wins_a + wins_b);
    let better = match wins_a.cmp(&wins_b) {
        _ if p_value >= significance => None,
        std::cmp::Ordering::Greater => Some(a.to_string()),
        std::cmp::Ordering::Less => Some(b.to_string()),
        std::cmp::Ordering::Equal => None,
    };
    InterleavingVerdict {
        a: a.to_string(),
        b: b.to_string(),
        wins_a,
        wins_b,
        ties,
        p_value,
        better,
    }
}

/// Each non-control arm against the first, per compared figure. An arm without searches, or a
/// control without, has nothing to compare and gets no rows.
fn differences(
    arms: &[String],
    sessions_per_arm: &[BTreeMap<&str, Tally>],
    options: &ReportOptions,
) -> Vec<Difference> {
    let Some((control, control_sessions)) = arms.first().zip(sessions_per_arm.first()) else {
        return Vec::new();
    };
    let control_sessions: Vec<Tally> = control_sessions.values().copied().collect();
    let control_total = sum(control_sessions.iter());
    let mut out = Vec::new();
    for (index, (arm, sessions)) in arms.iter().zip(sessions_per_arm).enumerate().skip(1) {
        let sessions: Vec<Tally> = sessions.values().copied().collect();
        if sessions.is_empty() || control_sessions.is_empty() {
            continue;
        }
        let arm_total = sum(sessions.iter());
        // A seed per arm, so adding an arm leaves the other arms' intervals as they were.
        let mut rng = SplitMix(options.seed.wrapping_add(index as u64));
        let draws: Vec<(Tally, Tally)> = (0..options.resamples)
            .map(|_| {
                (
                    resample(&sessions, &mut rng),
                    resample(&control_sessions, &mut rng),
                )
            })
            .collect();
        for figure in Figure::COMPARED {
            let mut deltas: Vec<f64> = (draws.iter())
                .map(|(arm, control)| figure.of(arm) - figure.of(control))
                .collect();
            let (low, high) = percentile_interval(&mut deltas, options.significance);
            out.push(Difference {
                figure: figure.name().to_string(),
                arm: arm.clone(),
                control: control.clone(),
                delta: figure.of(&arm_total) - figure.of(&control_total),
                low,
                high,
            });
        }
    }
    out
}

/// The arm rebuilt from as many sessions as it has, drawn with replacement.
fn resample(sessions: &[Tally], rng: &mut SplitMix) -> Tally {
    let mut total = Tally::default();
    for _ in 0..sessions.len() {
        if let Some(session) = sessions.get(rng.below(sessions.len())) {
            total += session;
        }
    }
    total
}

/// The central 1 − significance of the draws (linear between order statistics); NaN without
/// draws.
fn percentile_interval(draws: &mut [f64], significance: f64) -> (f64, f64) {
    if draws.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    draws.sort_by(f64::total_cmp);
    let tail = (significance / 2.0).clamp(0.0, 0.5);
    (quantile(draws, tail), quantile(draws, 1.0 - tail))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (below, above) = (at.floor() as usize, at.ceil() as usize);
    match (sorted.get(below), sorted.get(above)) {
        (Some(&low), Some(&high)) => low + (high - low) * (at - below as f64),
        _ => f64::NAN,
    }
}

/// P(X ≤ j) for X ~ Binomial(n, ½), j ≤ n / 2: the pmf at j times Σ of pmf(i)/pmf(j) for i ≤ j,
/// each ratio from the last (pmf(i−1)/pmf(i) = i / (n − i + 1) ≤ 1), stopped when negligible.
fn half_binomial_lower_tail(j: u64, n: u64) -> f64 {
    let ln_pmf_j = ln_factorial(n) - ln_factorial(j) - ln_factorial(n - j) - n as f64 * 2f64.ln();
    let (mut term, mut total) = (1.0f64, 1.0f64);
    for i in (1..=j).rev() {
        term *= i as f64 / (n - i + 1) as f64;
        total += term;
        if term < total * 1e-17 {
            break;
        }
    }
    (ln_pmf_j + total.ln()).exp()
}

/// ln m!, exact summation for small m and Stirling's series (error below 1e-20 past 30) above.
fn ln_factorial(m: u64) -> f64 {
    if m < 30 {
        return (2..=m).map(|i| (i as f64).ln()).sum();
    }
    let x = m as f64;
    let x2 = x * x;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x2)
        + 1.0 / (1260.0 * x * x2 * x2)
        - 1.0 / (1680.0 * x * x2 * x2 * x2)
}

/// A plain-text table: one row per arm, then the interleaving verdict or the A/B differences.
impl fmt::Display for ExperimentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "experiment {} ({}): {} searches, {} ignored clicks{}",
            self.experiment,
            self.mode,
            match self.mode {
                Mode::AB => self.arms.iter().map(|arm| arm.searches).sum::<usize>(),
                Mode::Interleave => self.arms.first().map_or(0, |arm| arm.searches),
            },
            self.ignored_clicks,
            match self.mode {
                Mode::AB => String::new(),
                Mode::Interleave => format!(", {} on the arms' common top", self.shared_clicks),
            }
        )?;
        let width = (self.arms.iter())
            .map(|arm| arm.arm.chars().count())
            .chain([3])
            .max()
            .unwrap_or(3);
        writeln!(
            f,
            "{:<width$}  {:>8}  {:>7}  {:>6}  {:>6}  {:>6}  {:>7}  {:>8}  {:>7}",
            "arm", "searches", "clicked", "clicks", "ctr", "mrr", "abandon", "zero-res", "first@1"
        )?;
        for arm in &self.arms {
            writeln!(
                f,
                "{:<width$}  {:>8}  {:>7}  {:>6}  {:>6.3}  {:>6.3}  {:>7.3}  {:>8.3}  {:>7.3}",
                arm.arm,
                arm.searches,
                arm.clicked_searches,
                arm.clicks,
                arm.click_through_rate,
                arm.mean_reciprocal_rank,
                arm.abandonment,
                arm.zero_result_rate,
                arm.clicks_at_1
            )?;
        }
        if let Some(verdict) = &self.interleaving {
            writeln!(
                f,
                "interleaving: {} wins {}, {} wins {}, {} ties; p = {:.4} → {}",
                verdict.a,
                verdict.wins_a,
                verdict.b,
                verdict.wins_b,
                verdict.ties,
                verdict.p_value,
                match &verdict.better {
                    Some(arm) => format!("{arm} is better"),
                    None => "no clear winner".to_string(),
                }
            )?;
        }
        if !self.differences.is_empty() {
            let level = (1.0 - self.significance) * 100.0;
            writeln!(
                f,
                "differences (arm − control, {level:.0}% bootstrap interval over sessions):"
            )?;
            for difference in &self.differences {
                writeln!(
                    f,
                    "  {} − {}  {:<20}  {:+.4}  [{:+.4}, {:+.4}]{}",
                    difference.arm,
                    difference.control,
                    difference.figure,
                    difference.delta,
                    difference.low,
                    difference.high,
                    if difference.excludes_zero() {
                        "  differs"
                    } else {
                        ""
                    }
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EntityKind;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("a valid time")
    }

    fn track(id: i64) -> EntityKey {
        EntityKey::new(EntityKind::Track, id)
    }

    fn served(
        id: &str,
        session: &str,
        experiment: Option<&str>,
        arm: Option<&str>,
        rows: &[(i64, Option<&str>)],
    ) -> ServedQuery {
        ServedQuery {
            query_id: id.to_string(),
            session: session.to_string(),
            text: "love".to_string(),
            total: rows.len() as u64,
            experiment: experiment.map(str::to_string),
            arm: arm.map(str::to_string),
            shown: (rows.iter())
                .map(|&(entity, arm)| Shown {
                    entity: track(entity),
                    arm: arm.map(str::to_string),
                })
                .collect(),
            at: at(0),
        }
    }

    /// A click on what the search showed at `position`.
    fn click(search: &ServedQuery, position: usize, seconds: i64) -> Click {
        Click {
            query_id: search.query_id.clone(),
            position,
            entity: search.shown[position - 1].entity,
            at: at(seconds),
        }
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    fn ab_log() -> (Vec<ServedQuery>, Vec<Click>) {
        let ab = |id, session, arm, rows: &[i64]| {
            let rows: Vec<(i64, Option<&str>)> = rows.iter().map(|&r| (r, None)).collect();
            served(id, session, Some("rank"), Some(arm), &rows)
        };
        let q1 = ab("q1", "s1", "none", &[1, 2, 3]);
        let q2 = ab("q2", "s1", "none", &[]);
        let q3 = ab("q3", "s2", "none", &[1, 2]);
        let q4 = ab("q4", "s3", "v3", &[1, 2, 3]);
        let q5 = ab("q5", "s3", "v3", &[4, 5]);
        let q6 = ab("q6", "s4", "v3", &[6]);
        let elsewhere = served("q7", "s5", Some("other"), Some("v3"), &[(1, None)]);
        let clicks = vec![
            click(&q1, 2, 10),
            click(&q4, 1, 10),
            click(&q4, 3, 20),
            click(&q4, 1, 30), // the same row again: counts once
            click(&q5, 2, 5),  // first in time, though lower
            click(&q5, 1, 8),
            click(&elsewhere, 1, 3), // another experiment: neither counted nor ignored
            Click {
                query_id: "nope".to_string(),
                ..click(&q1, 1, 1)
            },
            Click {
                position: 4,
                ..click(&q1, 1, 1)
            },
            Click {
                position: 0,
                ..click(&q3, 1, 1)
            },
            Click {
                entity: track(99),
                ..click(&q3, 1, 1)
            },
        ];
        (vec![q1, q2, q3, q4, q5, q6, elsewhere], clicks)
    }

    #[test]
    fn ab_figures_per_arm_match_hand_counts() {
        let (queries, clicks) = ab_log();
        let out = report(
            "rank",
            Mode::AB,
            &strings(&["none", "v3"]),
            &queries,
            &clicks,
            &ReportOptions::default(),
        );
        let none = &out.arms[0];
        assert_eq!(
            (
                none.arm.as_str(),
                none.searches,
                none.clicked_searches,
                none.clicks
            ),
            ("none", 3, 1, 1)
        );
        assert!(close(none.click_through_rate, 1.0 / 3.0));
        assert!(close(none.mean_reciprocal_rank, 0.5 / 3.0));
        assert!(close(none.abandonment, 0.5)); // q3 of q1, q3 (q2 found nothing)
        assert!(close(none.zero_result_rate, 1.0 / 3.0));
        assert!(close(none.clicks_at_1, 0.0));

        let v3 = &out.arms[1];
        assert_eq!((v3.searches, v3.clicked_searches, v3.clicks), (3, 2, 4));
        assert!(close(v3.click_through_rate, 2.0 / 3.0));
        assert!(close(v3.mean_reciprocal_rank, (1.0 + 0.5) / 3.0));
        assert!(close(v3.abandonment, 1.0 / 3.0));
        assert!(close(v3.zero_result_rate, 0.0));
        assert!(close(v3.clicks_at_1, 0.5));

        assert_eq!(out.ignored_clicks, 4);
        assert!(out.interleaving.is_none());
        let deltas: Vec<(&str, f64)> = (out.differences.iter())
            .map(|d| (d.figure.as_str(), d.delta))
            .collect();
        let expected = [
            ("click_through_rate", 1.0 / 3.0),
            ("mean_reciprocal_rank", 1.0 / 3.0),
            ("abandonment", -1.0 / 6.0),
            ("zero_result_rate", -1.0 / 3.0),
        ];
        assert_eq!(deltas.len(), expected.len());
        for ((figure, delta), (want_figure, want_delta)) in deltas.iter().zip(expected) {
            assert_eq!(*figure, want_figure);
            assert!(close(*delta, want_delta), "{figure}: {delta}");
        }
        assert!(
            out.differences
                .iter()
                .all(|d| d.arm == "v3" && d.control == "none")
        );

        let text = out.to_string();
        assert!(
            text.contains("experiment rank (ab): 6 searches, 4 ignored clicks"),
            "{text}"
        );
        assert!(text.contains("click_through_rate"), "{text}");
        assert!(text.lines().any(|line| line.starts_with("v3 ")), "{text}");
    }

    fn interleaved_log() -> (Vec<ServedQuery>, Vec<Click>) {
        let il = |id, rows: &[(i64, Option<&'static str>)]| served(id, id, Some("mix"), None, rows);
        let (v3, none) = (Some("v3"), Some("none"));
        let i1 = il("i1", &[(1, v3), (2, none), (3, v3)]);
        let i2 = il("i2", &[(4, none), (5, v3)]);
        let i3 = il("i3", &[(6, v3), (7, none)]);
        let i4 = il("i4", &[(8, none), (9, v3)]);
        let i5 = il("i5", &[]);
        let i6 = il("i6", &[(10, Some("gone")), (11, None)]);
        let clicks = vec![
            click(&i1, 1, 1),
            click(&i1, 3, 2),
            click(&i2, 1, 1),
            click(&i3, 2, 1),
            click(&i3, 1, 2),
            click(&i6, 2, 1), // a row of the common top: credits nobody
            click(&i6, 1, 1),
        ];
        (vec![i1, i2, i3, i4, i5, i6], clicks)
    }

    #[test]
    fn interleaving_credits_clicks_to_the_arm_of_their_row() {
        let (queries, clicks) = interleaved_log();
        let out = report(
            "mix",
            Mode::Interleave,
            &strings(&["v3", "none"]),
            &queries,
            &clicks,
            &ReportOptions::default(),
        );
        let verdict = out.interleaving.as_ref().expect("two arms interleaved");
        assert_eq!(
            (verdict.wins_a, verdict.wins_b, verdict.ties),
            (1, 1, 1),
            "i1 to v3, i2 to none, i3 even; i4 and i6 have no credited click"
        );
        assert!(close(verdict.p_value, 1.0));
        assert_eq!(verdict.better, None);
        assert_eq!(
            out.ignored_clicks, 1,
            "the click on a row of an arm not in the report"
        );
        assert_eq!(out.shared_clicks, 1);
        assert!(out.differences.is_empty());

        let v3 = &out.arms[0];
        assert_eq!((v3.searches, v3.clicked_searches, v3.clicks), (6, 2, 3));
        assert!(close(v3.click_through_rate, 2.0 / 6.0));
        assert!(close(v3.mean_reciprocal_rank, 2.0 / 6.0)); // i3's first v3 click is at 1
        assert!(close(v3.abandonment, 3.0 / 5.0)); // i2, i4, i6 of the five that found something
        assert!(close(v3.zero_result_rate, 1.0 / 6.0));
        assert!(close(v3.clicks_at_1, 1.0));

        let none = &out.arms[1];
        assert_eq!(
            (none.searches, none.clicked_searches, none.clicks),
            (6, 2, 2)
        );
        assert!(close(none.mean_reciprocal_rank, (1.0 + 0.5) / 6.0));
        assert!(close(none.abandonment, 3.0 / 5.0));
        assert!(close(none.clicks_at_1, 0.5));
        assert!(out.to_string().contains("no clear winner"));
    }

    #[test]
    fn interleaving_names_the_better_arm_when_wins_are_lopsided() {
        let mut queries = Vec::new();
        let mut clicks = Vec::new();
        for i in 0..20 {
            let id = format!("q{i}");
            let search = served(
                &id,
                &id,
                Some("mix"),
                None,
                &[(1, Some("v3")), (2, Some("none"))],
            );
            clicks.push(click(&search, if i < 15 { 1 } else { 2 }, 1));
            queries.push(search);
        }
        let out = report(
            "mix",
            Mode::Interleave,
            &strings(&["v3", "none"]),
            &queries,
            &clicks,
            &ReportOptions::default(),
        );
        let verdict = out.interleaving.expect("two arms interleaved");
        assert_eq!((verdict.wins_a, verdict.wins_b, verdict.ties), (15, 5, 0));
        // 2 · (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20
        assert!(
            close(verdict.p_value, 43_400.0 / 1_048_576.0),
            "{}",
            verdict.p_value
        );
        assert_eq!(verdict.better.as_deref(), Some("v3"));
    }

    #[test]
    fn binomial_sign_test_matches_known_values() {
        assert!(close(binomial_two_sided(0, 10), 0.001_953_125));
        assert!(close(binomial_two_sided(10, 10), 0.001_953_125));
        assert!(close(binomial_two_sided(5, 10), 1.0));
        assert!(close(binomial_two_sided(2, 10), 0.109_375));
        assert!(close(binomial_two_sided(8, 10), 0.109_375));
        assert!((binomial_two_sided(60, 100) - 0.056_887_933_640_980_8).abs() < 1e-9);
        assert!(close(binomial_two_sided(0, 0), 1.0));
        assert!(binomial_two_sided(11, 10).is_nan());

        let large = binomial_two_sided(5_100, 10_000);
        assert!((large - 0.046_585_527_704_947).abs() < 1e-9, "{large}");
        let huge = binomial_two_sided(500_000, 1_000_000);
        assert!(close(huge, 1.0), "{huge}");
        let far = binomial_two_sided(499_000, 1_000_000);
        assert!(far.is_finite() && far > 0.04 && far < 0.06, "{far}");
    }

    /// `sessions` sessions of two searches each on `arm`, three rows each; search i is clicked
    /// when (7·i mod 10) < `clicked_in_ten`, on row 1 + i mod 3.
    fn ab_population(
        arm: &str,
        sessions: usize,
        clicked_in_ten: usize,
    ) -> (Vec<ServedQuery>, Vec<Click>) {
        let mut queries = Vec::new();
        let mut clicks = Vec::new();
        for i in 0..sessions * 2 {
            let search = served(
                &format!("{arm}-{i}"),
                &format!("{arm}-session-{}", i / 2),
                Some("split"),
                Some(arm),
                &[(1, None), (2, None), (3, None)],
            );
            if (7 * i) % 10 < clicked_in_ten {
                clicks.push(click(&search, 1 + i % 3, 1));
            }
            queries.push(search);
        }
        (queries, clicks)
    }

    fn split_report(control_in_ten: usize, arm_in_ten: usize, seed: u64) -> ExperimentReport {
        let (mut queries, mut clicks) = ab_population("control", 40, control_in_ten);
        let (more_queries, more_clicks) = ab_population("treatment", 40, arm_in_ten);
        queries.extend(more_queries);
        clicks.extend(more_clicks);
        let options = ReportOptions {
            seed,
            ..ReportOptions::default()
        };
        report(
            "split",
            Mode::AB,
            &strings(&["control", "treatment"]),
            &queries,
            &clicks,
            &options,
        )
    }

    fn figure<'r>(out: &'r ExperimentReport, name: &str) -> &'r Difference {
        (out.differences.iter())
            .find(|d| d.figure == name)
            .expect("every compared figure is reported")
    }

    #[test]
    fn bootstrap_separates_different_arms_and_not_identical_ones() {
        let different = split_report(2, 8, 7);
        assert_eq!(different.differences.len(), 4);
        for d in &different.differences {
            assert!(d.low <= d.delta && d.delta <= d.high, "{d:?}");
        }
        let ctr = figure(&different, "click_through_rate");
        assert!(close(ctr.delta, 0.6), "{ctr:?}");
        assert!(
            ctr.excludes_zero() && ctr.low > 0.3 && ctr.high < 0.9,
            "{ctr:?}"
        );
        let abandonment = figure(&different, "abandonment");
        assert!(
            close(abandonment.delta, -0.6) && abandonment.excludes_zero(),
            "{abandonment:?}"
        );
        assert!(figure(&different, "mean_reciprocal_rank").excludes_zero());
        let zero = figure(&different, "zero_result_rate");
        assert_eq!((zero.delta, zero.low, zero.high), (0.0, 0.0, 0.0));
        assert!(!zero.excludes_zero());

        let same = split_report(4, 4, 7);
        for d in &same.differences {
            assert_eq!(d.delta, 0.0, "{d:?}");
            assert!(!d.excludes_zero(), "{d:?}");
        }
        let ctr = figure(&same, "click_through_rate");
        assert!(ctr.low < 0.0 && ctr.high > 0.0, "a real spread: {ctr:?}");
    }

    #[test]
    fn bootstrap_is_deterministic_for_a_seed() {
        let first = split_report(3, 5, 11);
        assert_eq!(first.differences, split_report(3, 5, 11).differences);
        assert_ne!(first.differences, split_report(3, 5, 12).differences);
        let ctr = figure(&first, "click_through_rate");
        assert!(close(ctr.delta, 0.2), "{ctr:?}");
        assert!(ctr.low <= ctr.delta && ctr.delta <= ctr.high, "{ctr:?}");
    }

    #[test]
    fn no_resamples_leaves_the_interval_unknown() {
        let (queries, clicks) = ab_log();
        let options = ReportOptions {
            resamples: 0,
            ..ReportOptions::default()
        };
        let out = report(
            "rank",
            Mode::AB,
            &strings(&["none", "v3"]),
            &queries,
            &clicks,
            &options,
        );
        let ctr = figure(&out, "click_through_rate");
        assert!(close(ctr.delta, 1.0 / 3.0));
        assert!(ctr.low.is_nan() && ctr.high.is_nan() && !ctr.excludes_zero());
    }

    #[test]
    fn clicks_far_above_their_position_rate_grade_high() {
        let (a, b, c, d, e, f, g) = (1, 2, 3, 4, 5, 6, 7);
        let mut queries = Vec::new();
        let mut clicks = Vec::new();
        let mut add = |text: &str, rows: &[i64], clicked: &[usize]| {
            let id = format!("q{}", queries.len());
            let rows: Vec<(i64, Option<&str>)> = rows.iter().map(|&r| (r, None)).collect();
            let mut search = served(&id, &id, None, None, &rows);
            search.text = text.to_string();
            clicks.extend(clicked.iter().map(|&position| click(&search, position, 1)));
            queries.push(search);
        };
        // "love song" ×10 in two spellings: c (row 3) clicked 6 times, a (row 1) twice, b never.
        for i in 0..10 {
            let text = if i % 2 == 0 {
                "love song"
            } else {
                "  Love   SONG "
            };
            let clicked: &[usize] = match i {
                0..2 => &[1, 3],
                2..6 => &[3],
                _ => &[],
            };
            add(text, &[a, b, c], clicked);
        }
        // "other" ×30: d (row 1) clicked 12 times, e and f never.
        for i in 0..30 {
            add("other", &[d, e, f], if i < 12 { &[1] } else { &[] });
        }
        // Too rare to grade, but its row-1 impressions still shape the prior.
        for _ in 0..2 {
            add("rare", &[g], &[]);
        }

        // ctr(1) = 14 / 42, ctr(2) = 0 / 40, ctr(3) = 6 / 40.
        let judgments = judgments_from_clicks(&queries, &clicks, &ClickJudgmentOptions::default());
        let got: Vec<(&str, i64, u8, usize, usize)> = (judgments.iter())
            .map(|j| {
                (
                    j.text.as_str(),
                    j.entity.id,
                    j.grade,
                    j.impressions,
                    j.clicks,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("love song", c, 3, 10, 6), // 6 / 1.5 = 4.0
                ("love song", a, 1, 10, 2), // 2 / (10/3) = 0.6
                ("love song", b, 0, 10, 0),
                ("other", d, 2, 30, 12), // 12 / 10 = 1.2
                ("other", e, 0, 30, 0),
                ("other", f, 0, 30, 0), // 0 / 4.5
            ]
        );
        let expected: Vec<f64> = judgments.iter().map(|j| j.expected_clicks).collect();
        for (actual, want) in expected.iter().zip([1.5, 10.0 / 3.0, 0.0, 10.0, 0.0, 4.5]) {
            assert!(close(*actual, want), "{expected:?}");
        }

        let rare_too = judgments_from_clicks(
            &queries,
            &clicks,
            &ClickJudgmentOptions { min_impressions: 2 },
        );
        let rare: Vec<_> = rare_too.iter().filter(|j| j.text == "rare").collect();
        assert_eq!(rare.len(), 1);
        assert_eq!((rare[0].grade, rare[0].impressions), (0, 2));
    }

    #[test]
    fn query_texts_meet_when_normalised() {
        assert_eq!(normalise_query_text("  Iron \t MAIDEN\n"), "iron maiden");
        assert_eq!(normalise_query_text("   "), "");
    }

    #[test]
    fn log_records_read_and_write_keys_as_text() {
        let mut search = served("q1", "s1", Some("mix"), None, &[(42, Some("v3"))]);
        search.total = 7;
        let json = serde_json::to_value(&search).expect("serialises");
        assert_eq!(json["shown"][0]["entity"], "track:42");
        assert_eq!(json["shown"][0]["arm"], "v3");
        assert!(json.get("arm").is_none());
        let back: ServedQuery = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, search);

        let mode: Mode = serde_json::from_str("\"ab\"").expect("a mode");
        assert_eq!(mode, Mode::AB);
        assert_eq!(
            serde_json::to_string(&Mode::Interleave).expect("text"),
            "\"interleave\""
        );

        let bad = r#"{"query_id":"q","position":1,"entity":"song:1","at":"2024-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<Click>(bad).is_err());
    }
}
