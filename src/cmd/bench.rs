//! `disco bench` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct BenchArgs {}

pub async fn run(_globals: Globals, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco bench is not built yet")
}
