//! `disco demo` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct DemoArgs {}

pub async fn run(_globals: Globals, _args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco demo is not built yet")
}
