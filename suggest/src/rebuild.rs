//! Rebuilding in the background: read the database, build off the async runtime, save, and
//! swap the new build in while lookups go on against the old one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use schemas::db::Db;

use crate::index::{IndexStats, SuggestIndex};
use crate::record::{KindFactors, SuggestPrior};
use crate::{SuggestError, Suggester, names_db, store};

/// What a build did and how long it took.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub stats: IndexStats,
    /// Reading the names from the database.
    pub load: Duration,
    /// Folding, sorting, writing the FST and the lanes.
    pub build: Duration,
    /// Where it was saved, when it was.
    pub saved: Option<PathBuf>,
}

impl std::fmt::Display for BuildReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{} entities, {} keys, {} postings; read in {:.2} s, built in {:.2} s; FST {:.1} MB, in memory {:.1} MB",
            s.entities,
            s.keys,
            s.postings,
            self.load.as_secs_f64(),
            self.build.as_secs_f64(),
            s.fst_bytes as f64 / 1e6,
            s.total_bytes as f64 / 1e6,
        )?;
        if let Some(path) = &self.saved {
            write!(f, "; saved to {}", path.display())?;
        }
        Ok(())
    }
}

/// Reads the database, builds with `prior`, saves under `dir` when given, and installs the
/// build in `suggester`. Changes applied to the suggester meanwhile stay in its delta; they
/// should be weighed with the same `prior` ([`crate::Change::from_row`]).
pub async fn rebuild(
    suggester: &Suggester,
    db: &Db,
    prior: &SuggestPrior,
    dir: Option<&Path>,
) -> Result<BuildReport, SuggestError> {
    let mark = suggester.mark();
    let (index, report) = build_from(db, prior, dir, suggester.factors()).await?;
    suggester.install(index, mark);
    Ok(report)
}

/// Reads, builds and saves without installing: what `disco suggest-build` runs.
pub async fn build_and_save(
    db: &Db,
    prior: &SuggestPrior,
    dir: &Path,
) -> Result<BuildReport, SuggestError> {
    Ok(build_from(db, prior, Some(dir), KindFactors::default())
        .await?
        .1)
}

async fn build_from(
    db: &Db,
    prior: &SuggestPrior,
    dir: Option<&Path>,
    factors: KindFactors,
) -> Result<(SuggestIndex, BuildReport), SuggestError> {
    let started = Instant::now();
    let records = names_db::load(db, prior).await?;
    let load = started.elapsed();
    let dir = dir.map(Path::to_path_buf);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let index = SuggestIndex::build(records, &factors);
        let build = started.elapsed();
        let saved = dir.map(|d| store::save(&d, &index)).transpose()?;
        let report = BuildReport {
            stats: index.stats(),
            load,
            build,
            saved,
        };
        Ok((index, report))
    })
    .await
    .map_err(|e| SuggestError::Build(e.to_string()))?
}
