//! `disco serve` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub async fn run(_globals: Globals, _args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco serve is not built yet")
}
