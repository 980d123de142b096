//! `disco rank` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct RankArgs {}

pub async fn run(_globals: Globals, _args: RankArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco rank is not built yet")
}
