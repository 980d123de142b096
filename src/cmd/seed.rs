//! `disco seed` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SeedArgs {}

pub async fn run(_globals: Globals, _args: SeedArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco seed is not built yet")
}
