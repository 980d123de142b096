//! `disco suggest` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct SuggestBuildArgs {}

pub async fn run(_globals: Globals, _args: SuggestBuildArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco suggest is not built yet")
}
