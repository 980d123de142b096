//! `disco suggest-build`: reads the names of every searchable entity from the database,
//! builds the suggest FST and its postings, and saves them under `<data-dir>/suggest/`
//! (a new build directory, then `CURRENT` renamed to point at it), printing time and size.

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SuggestBuildArgs {}

pub async fn run(globals: Globals, _args: SuggestBuildArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    let dir = globals.data_dir.join("suggest");
    // The interim prior (popularity) until DiscoRank scores are passed in here.
    let prior = suggest::SuggestPrior::popularity();
    let report = suggest::build_and_save(&db, &prior, &dir).await;
    db.close().await;
    println!("suggest-build: {}", report?);
    Ok(())
}
