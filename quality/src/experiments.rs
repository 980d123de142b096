//! Experiments on live traffic: two or more arms, each a variant of the ranking
//! ([`VariantSpec`]: a rank version, `rank=none`, a named setting, an index generation), shown to a share of the
//! sessions, either split (A/B: a session always sees the same arm) or merged (team-draft
//! interleaving of exactly two arms: every search shows both, and a click credits the arm whose
//! row it was). Kept in the `experiments` table (migration `0004_clicks`); the query service
//! reads the running ones, `disco experiment` and `/admin/experiments` manage them, and
//! [`crate::clicks::report`] scores them from the click log.
//!
//! Assignment is a pure function of the session id and the experiment's name, so it needs no
//! table of who saw what, survives restarts and is the same on every replica.

use chrono::{DateTime, SubsecRound, Utc};
use schemas::db::Db;
use serde::{Deserialize, Serialize};

use crate::QualityError;
use crate::clicks::Mode;
use crate::sql::{Param, Tx};
use crate::variant::VariantSpec;

/// The longest experiment or arm name: a label, not a description.
pub const MAX_NAME_CHARS: usize = 64;

/// One arm: a name people read in reports and the variant it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    /// A [`VariantSpec`], as written (`rank=none`, `rank=3,setting=no-fuzzy`).
    pub variant: String,
}

impl Arm {
    /// `name:variant`, the CLI's form (`--arm text:rank=none`).
    pub fn parse(text: &str) -> Result<Arm, QualityError> {
        let (name, variant) = text.split_once(':').ok_or_else(|| {
            QualityError::Invalid(format!(
                "arm `{text}`: write it as name:variant, e.g. `text:rank=none`"
            ))
        })?;
        Ok(Arm {
            name: name.trim().to_string(),
            variant: variant.trim().to_string(),
        })
    }

    /// The variant, parsed; arms are checked when the experiment is made, so this fails only
    /// for a row written by hand.
    pub fn spec(&self) -> Result<VariantSpec, QualityError> {
        VariantSpec::parse(&self.variant).map_err(|e| QualityError::Invalid(e.to_string()))
    }
}

/// An experiment as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub name: String,
    pub mode: Mode,
    pub arms: Vec<Arm>,
    /// The share of sessions that take part, in (0, 1].
    pub traffic: f64,
    pub created_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What one session gets from an experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Assignment<'a> {
    /// A/B: this arm, for every search of the session.
    Arm(&'a Arm),
    /// Interleaving: both arms, merged.
    Interleave(&'a Arm, &'a Arm),
}

impl Experiment {
    /// A running experiment, checked: a name of at most [`MAX_NAME_CHARS`] letters, digits,
    /// `-` and `_`; at least two arms with distinct such names (exactly two to interleave);
    /// every variant parses; a traffic share in (0, 1]. Whether an arm's index generation
    /// exists is for the caller that knows the generations to check
    /// ([`Experiment::generations`]).
    pub fn new(
        name: &str,
        mode: Mode,
        arms: Vec<Arm>,
        traffic: f64,
        now: DateTime<Utc>,
    ) -> Result<Experiment, QualityError> {
        let invalid =
            |reason: String| QualityError::Invalid(format!("experiment `{name}`: {reason}"));
        check_name(name).map_err(|r| invalid(format!("its name {r}")))?;
        if !(traffic > 0.0 && traffic <= 1.0) {
            return Err(invalid(format!("traffic {traffic} is not in (0, 1]")));
        }
        match mode {
            Mode::Interleave if arms.len() != 2 => {
                return Err(invalid(format!(
                    "interleaving takes exactly two arms, not {}",
                    arms.len()
                )));
            }
            _ if arms.len() < 2 => {
                return Err(invalid("an experiment needs two arms or more".into()));
            }
            _ => {}
        }
        for (i, arm) in arms.iter().enumerate() {
            check_name(&arm.name).map_err(|r| invalid(format!("arm name `{}` {r}", arm.name)))?;
            if arms[..i].iter().any(|other| other.name == arm.name) {
                return Err(invalid(format!("two arms are named `{}`", arm.name)));
            }
            arm.spec().map_err(|e| invalid(e.to_string()))?;
        }
        Ok(Experiment {
            name: name.to_string(),
            mode,
            arms,
            traffic,
            created_at: now.trunc_subsecs(6),
            stopped_at: None,
        })
    }

    /// The index generations its arms name (the live one is not named).
    pub fn generations(&self) -> Vec<u32> {
        let mut named: Vec<u32> = (self.arms.iter())
            .filter_map(|arm| arm.spec().ok()?.generation)
            .collect();
        named.sort_unstable();
        named.dedup();
        named
    }

    pub fn running(&self) -> bool {
        self.stopped_at.is_none()
    }

    pub fn arm_names(&self) -> Vec<String> {
        self.arms.iter().map(|a| a.name.clone()).collect()
    }

    /// The session's part in this experiment: `None` when the experiment is stopped, the
    /// session is anonymous (empty) or falls outside the traffic share. Sticky: the same session
    /// always gets the same answer, and the share and the arm are drawn from independent
    /// hashes, so raising the traffic share keeps everyone already in on their arm.
    pub fn assign(&self, session: &str) -> Option<Assignment<'_>> {
        if !self.running() || session.is_empty() {
            return None;
        }
        if unit(&[session, &self.name, "traffic"]) >= self.traffic {
            return None;
        }
        match self.mode {
            Mode::Interleave => Some(Assignment::Interleave(&self.arms[0], &self.arms[1])),
            Mode::AB => {
                let pick = unit(&[session, &self.name, "arm"]) * self.arms.len() as f64;
                let arm = (pick as usize).min(self.arms.len() - 1);
                Some(Assignment::Arm(&self.arms[arm]))
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(fine) {
        return Err(format!(
            "must be 1 to {MAX_NAME_CHARS} letters, digits, `-` or `_`"
        ));
    }
    Ok(())
}

/// A uniform draw in [0, 1) from FNV-1a 64 of the parts (each followed by a 0xff byte, which
/// UTF-8 never holds, so ("ab", "c") and ("a", "bc") differ), finished with a 64-bit mix so
/// that neighbouring session ids land far apart.
fn unit(parts: &[&str]) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    // splitmix64's finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::AB => "ab",
        Mode::Interleave => "interleave",
    }
}

fn mode_of(text: &str) -> Result<Mode, QualityError> {
    match text {
        "ab" => Ok(Mode::AB),
        "interleave" => Ok(Mode::Interleave),
        other => Err(QualityError::Invalid(format!(
            "experiment mode `{other}` is neither ab nor interleave"
        ))),
    }
}

#[derive(sqlx::FromRow)]
struct ExperimentRow {
    name: String,
    mode: String,
    arms: String,
    traffic: f64,
    created_at: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
}

impl ExperimentRow {
    fn into_experiment(self) -> Result<Experiment, QualityError> {
        let arms: Vec<Arm> = serde_json::from_str(&self.arms).map_err(|e| {
            QualityError::Invalid(format!("experiment `{}`: stored arms: {e}", self.name))
        })?;
        Ok(Experiment {
            mode: mode_of(&self.mode)?,
            name: self.name,
            arms,
            traffic: self.traffic,
            created_at: self.created_at,
            stopped_at: self.stopped_at,
        })
    }
}

/// Stores a new experiment; a name already used (running or stopped) is refused, so a report
/// never mixes two experiments' traffic.
pub async fn create(db: &Db, experiment: &Experiment) -> Result<(), QualityError> {
    let context = || format!("creating experiment `{}`", experiment.name);
    let arms = serde_json::to_string(&experiment.arms)
        .map_err(|e| QualityError::Invalid(format!("{}: {e}", context())))?;
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    let taken: Option<(String,)> = tx
        .fetch_optional(
            "SELECT name FROM experiments WHERE name = $1",
            &[Param::Text(&experiment.name)],
        )
        .await
        .map_err(QualityError::db(context()))?;
    if taken.is_some() {
        return Err(QualityError::Invalid(format!(
            "an experiment named `{}` exists already (names are never reused: reports read the \
             click log by name)",
            experiment.name
        )));
    }
    tx.execute(
        "INSERT INTO experiments (name, mode, arms, traffic, created_at, stopped_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Param::Text(&experiment.name),
            Param::Text(mode_text(experiment.mode)),
            Param::Text(&arms),
            Param::Float(experiment.traffic),
            Param::Time(experiment.created_at),
            Param::OptTime(experiment.stopped_at),
        ],
    )
    .await
    .map_err(QualityError::db(context()))?;
    tx.commit().await.map_err(QualityError::db(context()))
}

/// Every experiment, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Experiment>, QualityError> {
    let context = "listing experiments";
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context))?;
    const SQL: &str = "SELECT name, mode, arms, traffic, created_at, stopped_at \
         FROM experiments ORDER BY created_at, name";
    let rows: Vec<ExperimentRow> = tx
        .fetch_all(SQL, &[])
        .await
        .map_err(QualityError::db(context))?;
    tx.commit().await.map_err(QualityError::db(context))?;
    rows.into_iter()
        .map(ExperimentRow::into_experiment)
        .collect()
}

/// The running experiments, oldest first: what the query service serves.
pub async fn running(db: &Db) -> Result<Vec<Experiment>, QualityError> {
    Ok(list(db)
        .await?
        .into_iter()
        .filter(Experiment::running)
        .collect())
}

/// One experiment by name.
pub async fn get(db: &Db, name: &str) -> Result<Experiment, QualityError> {
    list(db)
        .await?
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            QualityError::Invalid(format!(
                "no experiment named `{name}` (see `disco experiment list`)"
            ))
        })
}

/// Stops a running experiment at `now`; its log stays for the report. Stopping a stopped one
/// changes nothing and says so.
pub async fn stop(db: &Db, name: &str, now: DateTime<Utc>) -> Result<Experiment, QualityError> {
    let experiment = get(db, name).await?;
    if !experiment.running() {
        return Err(QualityError::Invalid(format!(
            "experiment `{name}` was stopped already"
        )));
    }
    let context = || format!("stopping experiment `{name}`");
    let mut tx = Tx::begin(db).await.map_err(QualityError::db(context()))?;
    tx.execute(
        "UPDATE experiments SET stopped_at = $2 WHERE name = $1 AND stopped_at IS NULL",
        &[Param::Text(name), Param::Time(now.trunc_subsecs(6))],
    )
    .await
    .map_err(QualityError::db(context()))?;
    tx.commit().await.map_err(QualityError::db(context()))?;
    get(db, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arms(specs: &[&str]) -> Vec<Arm> {
        specs.iter().map(|s| Arm::parse(s).unwrap()).collect()
    }

    fn now() -> DateTime<Utc> {
        "2026-12-06T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn experiments_are_checked_when_made() {
        let ok = Experiment::new(
            "ranking",
            Mode::AB,
            arms(&["a:rank=active", "b:rank=none"]),
            0.5,
            now(),
        );
        assert!(ok.is_ok());
        let refused = [
            Experiment::new(
                "bad name",
                Mode::AB,
                arms(&["a:rank=active", "b:rank=none"]),
                0.5,
                now(),
            ),
            Experiment::new("x", Mode::AB, arms(&["a:rank=active"]), 0.5, now()),
            Experiment::new(
                "x",
                Mode::Interleave,
                arms(&["a:rank=1", "b:rank=2", "c:rank=3"]),
                1.0,
                now(),
            ),
            Experiment::new(
                "x",
                Mode::AB,
                arms(&["a:rank=active", "a:rank=none"]),
                1.0,
                now(),
            ),
            Experiment::new(
                "x",
                Mode::AB,
                arms(&["a:rank=active", "b:rank=best"]),
                1.0,
                now(),
            ),
            Experiment::new(
                "x",
                Mode::AB,
                arms(&["a:rank=active", "b:rank=none"]),
                0.0,
                now(),
            ),
            Experiment::new(
                "x",
                Mode::AB,
                arms(&["a:rank=active", "b:rank=none"]),
                1.5,
                now(),
            ),
        ];
        for (i, r) in refused.iter().enumerate() {
            assert!(r.is_err(), "case {i} must be refused");
        }
        assert!(Arm::parse("no-colon").is_err());
        let generations = Experiment::new(
            "g",
            Mode::AB,
            arms(&["a:gen=4", "b:gen=3,rank=none", "c:rank=none"]),
            1.0,
            now(),
        );
        assert_eq!(generations.unwrap().generations(), [3, 4]);
    }

    #[test]
    fn assignment_is_sticky_splits_evenly_and_respects_the_share() {
        let ab = Experiment::new(
            "split",
            Mode::AB,
            arms(&["a:rank=active", "b:rank=none"]),
            0.5,
            now(),
        )
        .unwrap();
        let mut counts = [0usize; 3]; // a, b, out
        for i in 0..10_000 {
            let session = format!("s{i}");
            let first = ab.assign(&session);
            assert_eq!(first, ab.assign(&session), "sticky");
            match first {
                Some(Assignment::Arm(arm)) if arm.name == "a" => counts[0] += 1,
                Some(Assignment::Arm(_)) => counts[1] += 1,
                Some(Assignment::Interleave(..)) => unreachable!("A/B"),
                None => counts[2] += 1,
            }
        }
        assert!((4_700..5_300).contains(&counts[2]), "{counts:?}");
        assert!((2_300..2_700).contains(&counts[0]), "{counts:?}");
        assert!((2_300..2_700).contains(&counts[1]), "{counts:?}");
        assert_eq!(ab.assign(""), None, "anonymous callers take no part");

        let mut stopped = ab.clone();
        stopped.stopped_at = Some(now());
        assert!((0..100).all(|i| stopped.assign(&format!("s{i}")).is_none()));

        // Raising the share keeps everyone on their arm.
        let mut wider = ab.clone();
        wider.traffic = 1.0;
        for i in 0..1_000 {
            let session = format!("s{i}");
            if let Some(arm) = ab.assign(&session) {
                assert_eq!(wider.assign(&session), Some(arm));
            }
        }

        let both = Experiment::new(
            "mix",
            Mode::Interleave,
            arms(&["a:rank=active", "b:rank=none"]),
            1.0,
            now(),
        )
        .unwrap();
        assert!(
            matches!(both.assign("s1"), Some(Assignment::Interleave(a, b)) if a.name == "a" && b.name == "b")
        );
    }
}
