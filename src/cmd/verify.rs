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
    /// Counts that differ are read again after this long (`10s`, `1s`), and only those still
    /// different are reported: likes and plays in flight are not lost ones.
    #[arg(long, default_value = "10s", value_parser = rank::schedule::parse_period)]
    pub count_window: std::time::Duration,
    /// Also fail when a count differs (they are always compared and reported).
    #[arg(long)]
    pub counts: bool,
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
    let report = indexer::verify::verify_with(&db, &handle, args.count_window).await?;
    print!("{report}");
    if !report.is_clean() {
        anyhow::bail!("the index differs from the database");
    }
    if args.counts && !report.counts_clean() {
        anyhow::bail!("some counts in the index differ from the database");
    }
    Ok(())
}
