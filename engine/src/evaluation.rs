//! Offline relevance metrics for `disco eval`: how good a ranked answer is against graded human
//! judgments, per query ([`success_at`], [`reciprocal_rank`], [`precision_at`], [`recall_at`],
//! [`ndcg_at`], [`err_at`]) and aggregated by query class ([`Summary`]).
//!
//! Grades run 0..=3 (0 = not relevant, 3 = the perfect answer; a known-item query judges its
//! intended entity 3). Binary metrics count grade ≥ 1 as relevant. Results are keys, best first;
//! an unjudged key has grade 0, and a key repeated in the list keeps its slot but scores only at
//! its first position, so an engine cannot earn credit by returning the same hit twice.
//! Metrics that are normalised by the judgments (success, recall, NDCG) are `None` for a query
//! with nothing relevant judged: such a query cannot tell a good engine from a bad one, so it is
//! left out of those means rather than counted as a failure or a success.
//!
//! ```
//! # use schemas::{EntityKey, EntityKind};
//! # use engine::evaluation::{Judgments, QueryMetrics, Summary};
//! # let wanted = EntityKey::new(EntityKind::Track, 42);
//! # let other = EntityKey::new(EntityKind::User, 7);
//! let judgments = Judgments::new([(wanted, 3), (other, 1)])?;
//! let metrics = QueryMetrics::measure(&[other, wanted], &judgments); // the engine's answer
//! let mut summary = Summary::default();
//! summary.add("known-item", &metrics, std::time::Duration::from_millis(12));
//! println!("{summary}"); // one row per class, then `overall`
//! # assert_eq!(metrics.reciprocal_rank_at_10, 1.0);
//! # Ok::<(), engine::evaluation::JudgmentError>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use schemas::EntityKey;

/// The highest grade: the perfect answer. ERR's stop probability is normalised by it.
pub const MAX_GRADE: u8 = 3;

/// A judgment file entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgmentError {
    #[error("{key}: grade {grade} is out of range (grades are 0..=3)")]
    GradeOutOfRange { key: EntityKey, grade: u8 },
    /// Two grades for one key would make every metric depend on which one wins.
    #[error("{0} is judged more than once")]
    Duplicate(EntityKey),
}

/// One query's graded judgments: key → grade 0..=3. Keys not listed have grade 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgments {
    grades: HashMap<EntityKey, u8>,
}

impl Judgments {
    /// Rejects grades above [`MAX_GRADE`] and keys judged twice.
    pub fn new(
        judged: impl IntoIterator<Item = (EntityKey, u8)>,
    ) -> Result<Judgments, JudgmentError> {
        let mut grades = HashMap::new();
        for (key, grade) in judged {
            if grade > MAX_GRADE {
                return Err(JudgmentError::GradeOutOfRange { key, grade });
            }
            if grades.insert(key, grade).is_some() {
                return Err(JudgmentError::Duplicate(key));
            }
        }
        Ok(Judgments { grades })
    }

    pub fn grade(&self, key: EntityKey) -> u8 {
        self.grades.get(&key).copied().unwrap_or(0)
    }

    /// How many keys have grade ≥ 1.
    pub fn relevant_count(&self) -> usize {
        self.grades.values().filter(|&&g| g >= 1).count()
    }

    /// The best grade judged (0 when nothing is relevant).
    pub fn max_grade(&self) -> u8 {
        self.grades.values().copied().max().unwrap_or(0)
    }
}

/// Grades of the top `k` results; a repeated key scores 0 at its later positions.
fn top_grades(results: &[EntityKey], judgments: &Judgments, k: usize) -> Vec<u8> {
    let mut seen = HashSet::new();
    let grade = |&key| {
        if seen.insert(key) {
            judgments.grade(key)
        } else {
            0
        }
    };
    results.iter().take(k).map(grade).collect()
}

/// How many of the top `k` results are relevant (grade ≥ 1), each key counted once.
fn relevant_in_top(results: &[EntityKey], judgments: &Judgments, k: usize) -> usize {
    let grades = top_grades(results, judgments, k);
    grades.into_iter().filter(|&g| g >= 1).count()
}

/// The gain of a grade, 2^grade − 1: each grade is worth about twice the one below it.
fn gain(grade: u8) -> f64 {
    f64::from((1u32 << grade) - 1)
}

/// 1.0 when a result with the best grade judged for the query is in the top `k`, else 0.0.
/// The best grade, not any relevant one: for a known-item query only the intended entity
/// (grade 3) is a success. Ties in grade all count. `None` when nothing relevant is judged.
pub fn success_at(results: &[EntityKey], judgments: &Judgments, k: usize) -> Option<f64> {
    let best = judgments.max_grade();
    (best > 0).then(|| f64::from(u8::from(top_grades(results, judgments, k).contains(&best))))
}

/// 1/rank of the first relevant result within the top `k`, 0.0 when there is none.
pub fn reciprocal_rank(results: &[EntityKey], judgments: &Judgments, k: usize) -> f64 {
    let grades = top_grades(results, judgments, k);
    grades
        .iter()
        .position(|&g| g >= 1)
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Relevant results in the top `k`, divided by `k` even when fewer than `k` came back: a
/// short answer is not rewarded for stopping early. 0.0 for `k` = 0.
pub fn precision_at(results: &[EntityKey], judgments: &Judgments, k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    relevant_in_top(results, judgments, k) as f64 / k as f64
}

/// Relevant results in the top `k`, divided by all relevant judged. `None` when nothing
/// relevant is judged (there is nothing to recall).
pub fn recall_at(results: &[EntityKey], judgments: &Judgments, k: usize) -> Option<f64> {
    let judged = judgments.relevant_count();
    (judged > 0).then(|| relevant_in_top(results, judgments, k) as f64 / judged as f64)
}

/// Discounted cumulative gain: gain 2^grade − 1 at rank r, discounted by log2(r + 1).
fn dcg(grades: impl IntoIterator<Item = u8>) -> f64 {
    let term = |(i, g): (usize, u8)| gain(g) / ((i + 2) as f64).log2();
    grades.into_iter().enumerate().map(term).sum()
}

/// Graded NDCG@k: DCG of the answer over the DCG of the ideal answer, which is every judged
/// grade sorted best first (so relevant entities the engine never returned still count
/// against it). `None` when nothing relevant is judged.
pub fn ndcg_at(results: &[EntityKey], judgments: &Judgments, k: usize) -> Option<f64> {
    if judgments.relevant_count() == 0 {
        return None;
    }
    let mut ideal: Vec<u8> = judgments.grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let ideal = dcg(ideal.into_iter().take(k));
    let actual = dcg(top_grades(results, judgments, k));
    Some(if ideal > 0.0 { actual / ideal } else { 0.0 })
}

/// Expected Reciprocal Rank@k (Chapelle et al. 2009): a user scans down and stops at rank r
/// with probability R = (2^g − 1) / 2^3; ERR is the expected 1/rank of where they stop. Unlike
/// MRR it rewards a perfect answer over a merely relevant one, and discounts results below a
/// good one. Not normalised, so 0.0 (never `None`) when nothing relevant is judged.
pub fn err_at(results: &[EntityKey], judgments: &Judgments, k: usize) -> f64 {
    let max = f64::from(1u32 << MAX_GRADE);
    let (mut err, mut still_looking) = (0.0, 1.0);
    for (i, g) in top_grades(results, judgments, k).into_iter().enumerate() {
        let stop = gain(g) / max;
        err += still_looking * stop / (i + 1) as f64;
        still_looking *= 1.0 - stop;
    }
    err
}

/// The metrics [`Summary`] aggregates, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Success1,
    Mrr10,
    Precision10,
    Recall10,
    Ndcg10,
    Err10,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Success1,
        Metric::Mrr10,
        Metric::Precision10,
        Metric::Recall10,
        Metric::Ndcg10,
        Metric::Err10,
    ];

    pub fn label(self) -> &'static str {
        ["success@1", "MRR@10", "P@10", "R@10", "NDCG@10", "ERR@10"][self as usize]
    }
}

/// One query's metrics at the cutoffs the summary table reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryMetrics {
    pub success_at_1: Option<f64>,
    pub reciprocal_rank_at_10: f64,
    pub precision_at_10: f64,
    pub recall_at_10: Option<f64>,
    pub ndcg_at_10: Option<f64>,
    pub err_at_10: f64,
    /// The engine answered nothing at all.
    pub zero_results: bool,
}

impl QueryMetrics {
    pub fn measure(results: &[EntityKey], judgments: &Judgments) -> QueryMetrics {
        QueryMetrics {
            success_at_1: success_at(results, judgments, 1),
            reciprocal_rank_at_10: reciprocal_rank(results, judgments, 10),
            precision_at_10: precision_at(results, judgments, 10),
            recall_at_10: recall_at(results, judgments, 10),
            ndcg_at_10: ndcg_at(results, judgments, 10),
            err_at_10: err_at(results, judgments, 10),
            zero_results: results.is_empty(),
        }
    }

    pub fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Success1 => self.success_at_1,
            Metric::Mrr10 => Some(self.reciprocal_rank_at_10),
            Metric::Precision10 => Some(self.precision_at_10),
            Metric::Recall10 => self.recall_at_10,
            Metric::Ndcg10 => self.ndcg_at_10,
            Metric::Err10 => Some(self.err_at_10),
        }
    }
}

/// Nearest-rank percentile: the smallest sample with at least `p`% of samples ≤ it, i.e. the
/// sample at rank ⌈p/100 · n⌉ (clamped to 1..=n). Always an observed value, never interpolated.
/// `None` for no samples.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // p · n first: exact for whole-number p, so p95 of 20 samples is rank 19, not 20.
    let rank = (p * sorted.len() as f64 / 100.0).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// Accumulated queries of one class (or all of them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassStats {
    queries: usize,
    zero_results: usize,
    /// Per metric (in [`Metric::ALL`] order): sum and count of the queries where it is defined.
    sums: [f64; 6],
    defined: [usize; 6],
    latencies: Vec<Duration>,
}

impl ClassStats {
    fn add(&mut self, metrics: &QueryMetrics, latency: Duration) {
        self.queries += 1;
        self.zero_results += usize::from(metrics.zero_results);
        for metric in Metric::ALL {
            if let Some(v) = metrics.value(metric) {
                self.sums[metric as usize] += v;
                self.defined[metric as usize] += 1;
            }
        }
        self.latencies.push(latency);
    }

    fn merge(&mut self, other: &ClassStats) {
        self.queries += other.queries;
        self.zero_results += other.zero_results;
        for i in 0..Metric::ALL.len() {
            self.sums[i] += other.sums[i];
            self.defined[i] += other.defined[i];
        }
        self.latencies.extend_from_slice(&other.latencies);
    }

    pub fn count(&self) -> usize {
        self.queries
    }

    /// Mean over the queries where the metric is defined; `None` if it is defined for none.
    pub fn mean(&self, metric: Metric) -> Option<f64> {
        let n = self.defined[metric as usize];
        (n > 0).then(|| self.sums[metric as usize] / n as f64)
    }

    /// Share of queries answered with no results at all.
    pub fn zero_result_rate(&self) -> Option<f64> {
        (self.queries > 0).then(|| self.zero_results as f64 / self.queries as f64)
    }

    /// Nearest-rank latency percentile, e.g. `latency(95.0)`.
    pub fn latency(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies, p)
    }
}

/// Per-class and overall means of an evaluation run. Merge partial summaries (e.g. from
/// parallel workers) with [`Summary::merge`]; print with `{}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    classes: BTreeMap<String, ClassStats>,
    overall: ClassStats,
}

impl Summary {
    pub fn add(&mut self, class: &str, metrics: &QueryMetrics, latency: Duration) {
        self.classes
            .entry(class.to_owned())
            .or_default()
            .add(metrics, latency);
        self.overall.add(metrics, latency);
    }

    pub fn merge(&mut self, other: &Summary) {
        for (class, stats) in &other.classes {
            self.classes.entry(class.clone()).or_default().merge(stats);
        }
        self.overall.merge(&other.overall);
    }

    pub fn class(&self, class: &str) -> Option<&ClassStats> {
        self.classes.get(class)
    }

    /// Classes in name order.
    pub fn classes(&self) -> impl Iterator<Item = (&str, &ClassStats)> {
        self.classes
            .iter()
            .map(|(name, stats)| (name.as_str(), stats))
    }

    pub fn overall(&self) -> &ClassStats {
        &self.overall
    }
}

/// A table with one row per class and an `overall` row; `-` where a value is undefined.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const TAIL: [&str; 4] = ["zero-rate", "p50 ms", "p99 ms", "n"];
        let labels = Metric::ALL.map(Metric::label).into_iter().chain(TAIL);
        // Each column as wide as its label, and at least wide enough for `1234.5`.
        let widths: Vec<usize> = labels.clone().map(|label| label.len().max(6)).collect();
        let name_width = self.classes.keys().map(String::len).fold(7, usize::max);
        write!(f, "{:<name_width$}", "class")?;
        for (label, width) in labels.zip(&widths) {
            write!(f, "  {label:>width$}")?;
        }
        writeln!(f)?;
        for (name, stats) in self.classes().chain([("overall", &self.overall)]) {
            let ms = |p| stats.latency(p).map(|d| d.as_secs_f64() * 1000.0);
            let means = Metric::ALL.map(|metric| (stats.mean(metric), 3));
            let rest = [
                (stats.zero_result_rate(), 3),
                (ms(50.0), 1),
                (ms(99.0), 1),
                (Some(stats.count() as f64), 0),
            ];
            write!(f, "{name:<name_width$}")?;
            for ((value, decimals), width) in means.into_iter().chain(rest).zip(&widths) {
                match value {
                    Some(v) => write!(f, "  {v:>width$.decimals$}")?,
                    None => write!(f, "  {:>width$}", "-")?,
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EntityKind;

    fn t(id: i64) -> EntityKey {
        EntityKey::new(EntityKind::Track, id)
    }

    fn judged(grades: &[(i64, u8)]) -> Judgments {
        Judgments::new(grades.iter().map(|&(id, g)| (t(id), g))).unwrap()
    }

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    #[test]
    fn graded_ndcg_with_a_non_ideal_order() {
        let j = judged(&[(1, 3), (2, 2), (3, 0), (4, 1)]);
        let results = [t(3), t(2), t(1), t(5)]; // grades 0, 2, 3, unjudged
        // DCG = 0/log2 2 + 3/log2 3 + 7/log2 4 + 0 = 1.8927892607 + 3.5 = 5.3927892607
        // IDCG (3,2,1,0) = 7/1 + 3/log2 3 + 1/log2 4 = 9.3927892607; 5.39278926/9.39278926
        close(ndcg_at(&results, &j, 10).unwrap(), 0.5741414090136012);
        // @2: 3/log2 3 = 1.8927892607 over 7 + 3/log2 3 = 8.8927892607
        close(ndcg_at(&results, &j, 2).unwrap(), 0.2128453970090281);
        close(ndcg_at(&[t(1), t(2), t(4)], &j, 10).unwrap(), 1.0); // the ideal order
    }

    #[test]
    fn err_with_several_relevant_results() {
        let j = judged(&[(1, 1), (2, 3), (3, 2)]);
        // R = 1/8, 7/8, 3/8. ERR = 1·(1/8) + (1/2)·(7/8)·(7/8) + (1/3)·(3/8)·(7/8)·(1/8)
        //   = 0.125 + 0.3828125 + 0.013671875 = 0.521484375
        close(err_at(&[t(1), t(2), t(3)], &j, 10), 0.521484375);
        close(err_at(&[t(1), t(2), t(3)], &j, 1), 0.125); // only rank 1: 1/8
    }

    #[test]
    fn mrr_and_success_with_the_first_relevant_at_rank_3() {
        let j = judged(&[(1, 1), (2, 3), (3, 0)]);
        let results = [t(9), t(3), t(1), t(2)]; // unjudged, 0, 1, 3
        close(reciprocal_rank(&results, &j, 10), 1.0 / 3.0); // first grade ≥ 1 at rank 3
        close(reciprocal_rank(&results, &j, 2), 0.0); // not within the top 2
        // success needs the best judged grade (3, at rank 4), not just any relevant result
        assert_eq!(success_at(&results, &j, 3), Some(0.0));
        assert_eq!(success_at(&results, &j, 4), Some(1.0));
    }

    #[test]
    fn ties_in_grades() {
        let j = judged(&[(1, 2), (2, 2)]);
        for results in [[t(1), t(2)], [t(2), t(1)]] {
            close(ndcg_at(&results, &j, 10).unwrap(), 1.0); // either order is ideal
            assert_eq!(success_at(&results, &j, 1), Some(1.0)); // both have the best grade
        }
    }

    #[test]
    fn missing_results() {
        let j = judged(&[(1, 1), (2, 1)]);
        let empty = QueryMetrics::measure(&[], &j);
        assert!(empty.zero_results);
        assert_eq!(empty.success_at_1, Some(0.0));
        assert_eq!(empty.recall_at_10, Some(0.0));
        assert_eq!(empty.ndcg_at_10, Some(0.0));
        let zeros = [
            empty.reciprocal_rank_at_10,
            empty.precision_at_10,
            empty.err_at_10,
        ];
        assert_eq!(zeros, [0.0; 3]);
        // one result, shorter than k = 10
        close(precision_at(&[t(1)], &j, 10), 0.1); // 1 relevant / k = 10, not / 1
        close(precision_at(&[t(1)], &j, 1), 1.0); // 1/1
        close(recall_at(&[t(1)], &j, 10).unwrap(), 0.5); // 1 of 2 relevant judged
        assert!(!QueryMetrics::measure(&[t(1)], &j).zero_results);
    }

    #[test]
    fn duplicated_keys_count_only_at_their_first_position() {
        let j = judged(&[(1, 3), (2, 1)]);
        let results = [t(1), t(1), t(2)]; // effective grades 3, 0, 1
        close(precision_at(&results, &j, 3), 2.0 / 3.0); // t1, t2 relevant; the repeat is not
        close(recall_at(&results, &j, 3).unwrap(), 1.0); // 2/2, not 3/2
        // DCG = 7/1 + 0 + 1/log2 4 = 7.5; IDCG = 7 + 1/log2 3 = 7.6309297536
        close(ndcg_at(&results, &j, 10).unwrap(), 0.9828422279067397);
        // ERR = 7/8 + (1/2)·0 + (1/3)·(1/8)·(1/8)·1 = 0.875 + 0.0052083333 = 0.8802083333
        close(err_at(&results, &j, 10), 0.8802083333333334);
    }

    #[test]
    fn queries_with_no_relevant_judgments() {
        for j in [judged(&[(1, 0)]), Judgments::default()] {
            let m = QueryMetrics::measure(&[t(1), t(2)], &j);
            assert_eq!(j.relevant_count(), 0);
            assert_eq!([m.success_at_1, m.recall_at_10, m.ndcg_at_10], [None; 3]);
            assert_eq!(
                [m.reciprocal_rank_at_10, m.precision_at_10, m.err_at_10],
                [0.0; 3]
            );
        }
    }

    #[test]
    fn bad_judgments_are_rejected() {
        let err = Judgments::new([(t(1), 2), (t(2), 4)]).unwrap_err();
        let expected = JudgmentError::GradeOutOfRange {
            key: t(2),
            grade: 4,
        };
        assert_eq!(err, expected);
        let err = Judgments::new([(t(1), 2), (t(1), 3)]).unwrap_err();
        assert_eq!(err, JudgmentError::Duplicate(t(1)));
        let j = judged(&[(1, 3), (2, 0), (3, 1)]);
        assert_eq!([j.grade(t(1)), j.grade(t(9)), j.max_grade()], [3, 0, 3]);
        assert_eq!(j.relevant_count(), 2);
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn percentile_nearest_rank() {
        let five = [50, 15, 40, 20, 35].map(ms); // sorted 15 20 35 40 50
        assert_eq!(percentile(&five, 30.0), Some(ms(20))); // ⌈0.3·5⌉ = ⌈1.5⌉ = rank 2
        assert_eq!(percentile(&five, 50.0), Some(ms(35))); // ⌈2.5⌉ = rank 3
        assert_eq!(percentile(&five, 100.0), Some(ms(50))); // rank 5
        assert_eq!(percentile(&five, 0.0), Some(ms(15))); // rank 0, clamped to 1
        let twenty: Vec<Duration> = (1..=20).rev().map(ms).collect();
        assert_eq!(percentile(&twenty, 50.0), Some(ms(10))); // ⌈10⌉ = rank 10
        assert_eq!(percentile(&twenty, 95.0), Some(ms(19))); // ⌈19⌉ = rank 19, not 20
        assert_eq!(percentile(&twenty, 99.0), Some(ms(20))); // ⌈19.8⌉ = rank 20
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_per_class_overall_and_merge() {
        let (a, b) = (t(1), t(2));
        let queries = [
            ("known-item", vec![b, a], judged(&[(1, 3), (2, 1)]), ms(10)),
            ("known-item", vec![], judged(&[(1, 3)]), ms(30)),
            ("topical", vec![a], judged(&[(1, 0)]), ms(20)),
        ];
        let (mut whole, mut first, mut rest) =
            (Summary::default(), Summary::default(), Summary::default());
        for (i, (class, results, j, latency)) in queries.iter().enumerate() {
            let m = QueryMetrics::measure(results, j);
            whole.add(class, &m, *latency);
            let part = if i < 2 { &mut first } else { &mut rest };
            part.add(class, &m, *latency);
        }
        let known = whole.class("known-item").unwrap();
        assert_eq!(known.count(), 2);
        close(known.mean(Metric::Success1).unwrap(), 0.0); // (0 + 0)/2: a is at rank 2
        close(known.mean(Metric::Mrr10).unwrap(), 0.5); // (1/1 + 0)/2
        close(known.mean(Metric::Precision10).unwrap(), 0.1); // (2/10 + 0)/2
        // NDCG q1: (1/1 + 7/log2 3)/(7/1 + 1/log2 3) = 5.4165082750/7.6309297536 = 0.7098097414
        close(
            known.mean(Metric::Ndcg10).unwrap(),
            0.7098097413968655 / 2.0,
        );
        // ERR: (1/8 + (1/2)·(7/8)·(7/8) + 0)/2 = (0.125 + 0.3828125)/2 = 0.25390625
        close(known.mean(Metric::Err10).unwrap(), 0.25390625);
        close(known.zero_result_rate().unwrap(), 0.5); // 1 of 2
        assert_eq!(
            [known.latency(50.0), known.latency(99.0)],
            [Some(ms(10)), Some(ms(30))]
        );
        let topical = whole.class("topical").unwrap();
        assert_eq!(topical.mean(Metric::Ndcg10), None); // nothing relevant judged
        let overall = whole.overall();
        assert_eq!(overall.count(), 3);
        close(overall.mean(Metric::Mrr10).unwrap(), 1.0 / 3.0); // (1 + 0 + 0)/3
        close(overall.mean(Metric::Recall10).unwrap(), 0.5); // (1 + 0)/2: topical has none
        close(overall.zero_result_rate().unwrap(), 1.0 / 3.0);
        assert_eq!(overall.latency(50.0), Some(ms(20))); // ⌈1.5⌉ = rank 2 of 10, 20, 30
        first.merge(&rest);
        assert_eq!(first, whole);
        // overall P@10 = (0.2 + 0 + 0)/3 = 0.067, ERR@10 = 0.5078125/3 = 0.169
        let expected = "\
class       success@1  MRR@10    P@10    R@10  NDCG@10  ERR@10  zero-rate  p50 ms  p99 ms       n
known-item      0.000   0.500   0.100   0.500    0.355   0.254      0.500    10.0    30.0       2
topical             -   0.000   0.000       -        -   0.000      0.000    20.0    20.0       1
overall         0.000   0.333   0.067   0.500    0.355   0.169      0.333    20.0    30.0       3
";
        assert_eq!(whole.to_string(), expected);
    }

    /// The module doc's example, so `cargo test --lib` covers it too.
    #[test]
    fn module_example() {
        let (wanted, other) = (t(42), EntityKey::new(EntityKind::User, 7));
        let judgments = Judgments::new([(wanted, 3), (other, 1)]).unwrap();
        let metrics = QueryMetrics::measure(&[other, wanted], &judgments);
        let mut summary = Summary::default();
        summary.add("known-item", &metrics, Duration::from_millis(12));
        assert_eq!(metrics.reciprocal_rank_at_10, 1.0);
        assert!(summary.to_string().contains("known-item"));
    }
}
