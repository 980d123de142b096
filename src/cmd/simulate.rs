//! `disco simulate` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SimulateArgs {}

pub async fn run(_globals: Globals, _args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco simulate is not built yet")
}
