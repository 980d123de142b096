//! `disco suggest-build`: reads the names of every searchable entity from the database,
//! builds the suggest FST and its postings, and saves them under `<data-dir>/suggest/`
//! (a new build directory, then `CURRENT` renamed to point at it), printing time and size.
//! Also the replay half of `disco bench suggest --paths`.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use suggest::replay::{Lookup, ReplayReport};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SuggestBuildArgs {}

pub async fn run(globals: Globals, _args: SuggestBuildArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    let dir = globals.data_dir.join("suggest");
    // The interim prior (popularity) until DiscoRank scores are passed in here.
    let report = suggest::build_and_save(&db, |_, popularity| popularity, &dir).await;
    db.close().await;
    println!("suggest-build: {}", report?);
    Ok(())
}

/// Opens the saved build under `dir` and replays the `/suggest` paths of `paths` against it.
pub fn replay(dir: &Path, paths: &Path, passes: usize) -> anyhow::Result<ReplayReport> {
    let mut mix = Vec::new();
    for path in super::loadgen::read_paths(paths)? {
        let lookup = Lookup::parse_path(&path)
            .with_context(|| format!("{}: not a /suggest request: {path}", paths.display()))?;
        mix.push(lookup);
    }
    let index = suggest::store::open(dir)?
        .with_context(|| format!("{}: no saved suggest build", dir.display()))?;
    let stats = index.stats();
    tracing::info!(
        keys = stats.keys,
        postings = stats.postings,
        lookups = mix.len(),
        "replaying"
    );
    let suggester = suggest::Suggester::new(index);
    Ok(suggest::replay::replay(&suggester, &mix, passes))
}
