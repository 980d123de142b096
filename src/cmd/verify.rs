//! `disco verify`: compare the live index (or one generation) with the database; exit non-zero
//! when they differ.

use clap::Args;
use indexer::{Generation, Generations};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Check this generation instead of the live one.
    #[arg(long)]
    pub generation: Option<u32>,
}

pub async fn run(globals: Globals, args: VerifyArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    let catalog = Generations::open(&globals.data_dir)?;
    let handle = match args.generation {
        Some(n) => catalog.get(Generation(n)).ok_or_else(|| {
            anyhow::anyhow!("no generation gen-{n} under {}", catalog.root().display())
        })?,
        None => catalog.live(),
    };
    let report = indexer::verify::verify(&db, &handle).await?;
    print!("{report}");
    if !report.is_clean() {
        anyhow::bail!("the index differs from the database");
    }
    Ok(())
}
