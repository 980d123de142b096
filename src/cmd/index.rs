//! `disco index` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct IndexArgs {}

pub async fn run(_globals: Globals, _args: IndexArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco index is not built yet")
}
