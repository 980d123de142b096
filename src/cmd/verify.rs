//! `disco verify` (not built yet).

use clap::Args;

use super::common::Globals;

#[derive(Debug, Args)]
pub struct VerifyArgs {}

pub async fn run(_globals: Globals, _args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("disco verify is not built yet")
}
