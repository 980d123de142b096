//! `disco seed`: fill the site's database with a catalog (Chinook or synthetic).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::Globals;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// The real Chinook catalog (artists, albums, tracks, playlists, purchases) plus activity.
    Chinook,
    /// A deterministic catalog shaped like a real site, of --tracks tracks.
    Synthetic,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Which catalog to load.
    #[arg(long, value_enum, default_value = "chinook")]
    pub dataset: DatasetName,
    /// A Chinook fixture (Django JSON) instead of the copy compiled into the binary.
    #[arg(long, env = "DISCO_CHINOOK")]
    pub chinook: Option<PathBuf>,
    /// Tracks in a synthetic catalog (users, playlists, groups and activity scale with it).
    #[arg(long, default_value_t = 100_000)]
    pub tracks: i64,
    /// Seed of every random choice: the same seed gives the same rows.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Empty the site's tables first (otherwise seeding a non-empty database fails).
    #[arg(long)]
    pub reset: bool,
    /// Print counts per table, the most-followed users and the share of hidden entities.
    #[arg(long)]
    pub summary: bool,
}

pub async fn run(globals: Globals, args: SeedArgs) -> anyhow::Result<()> {
    let db = globals.database().await?;
    let dataset = match args.dataset {
        DatasetName::Chinook => site::seed::Dataset::Chinook {
            fixture: site::chinook::Fixture::new(args.chinook),
        },
        DatasetName::Synthetic => site::seed::Dataset::Synthetic {
            tracks: args.tracks,
        },
    };
    let options = site::seed::SeedOptions {
        dataset,
        seed: args.seed,
        reset: args.reset,
    };
    let progress = site::progress::ProgressMeter::new("seed", 0);
    let report = site::seed::seed(&db, &options, &progress).await?;
    print!("{report}");
    if args.summary {
        print!("{}", site::seed::summary(&db).await?);
    }
    db.close().await;
    Ok(())
}
