//! `disco`: the one binary. It parses flags and environment, wires the crates together and
//! runs one subcommand; the work itself lives in the library crates.

mod cmd;

use clap::{Parser, Subcommand};

use crate::cmd::common::Globals;

/// mimalloc for every allocation of the binary (feature `mimalloc`), off by default because it
/// worsens the query service's latency tail while it speeds up a full reindex.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Site search for a music-sharing platform: people, sounds, sets and groups.
#[derive(Debug, Parser)]
#[command(name = "disco", version, about)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embedded demo: seed Chinook into SQLite, index, rank, serve the page, keep the site alive.
    Demo(cmd::demo::DemoArgs),
    /// Query service (and, unless --no-indexer, the indexer) over PostgreSQL + RabbitMQ.
    Serve(cmd::serve::ServeArgs),
    /// Run the indexer alone: consume entity events and keep the live index equal to the database.
    Index(cmd::index::IndexArgs),
    /// Compare the live index with the database and exit non-zero when they differ.
    Verify(cmd::verify::VerifyArgs),
    /// Fill the database with a catalog (Chinook or synthetic).
    Seed(cmd::seed::SeedArgs),
    /// Behave like the site: change rows, then publish the matching events.
    Simulate(cmd::simulate::SimulateArgs),
    /// DiscoRank: run the rank job, list, activate or export versions.
    Rank(cmd::rank::RankArgs),
    /// Build the suggest (typeahead) FST from the database.
    SuggestBuild(cmd::suggest::SuggestBuildArgs),
    /// Judged query sets and offline evaluation: generate, import, export, run against variants.
    Eval(cmd::eval::EvalArgs),
    /// Index definitions as files: export the shipped ones, check a directory, diff two.
    Definitions(cmd::definitions::DefinitionsArgs),
    /// Experiments on live traffic: create, list, stop, report.
    Experiment(cmd::experiment::ExperimentArgs),
    /// The click log: prune it by age.
    Events(cmd::experiment::EventsArgs),
    /// Build a new index generation from every row of the database (progress, rate, ETA).
    Reindex(cmd::ops::ReindexArgs),
    /// Make a built generation live (the old live one becomes previous).
    Swap(cmd::ops::SwapArgs),
    /// Make the previous generation live again.
    Rollback(cmd::ops::RollbackArgs),
    /// Stop or resume writing a generation: `disco read-only 3 on|off`.
    ReadOnly(cmd::ops::ReadOnlyArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cmd::common::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let g = cli.globals;
        match cli.command {
            Command::Demo(args) => cmd::demo::run(g, args).await,
            Command::Serve(args) => cmd::serve::run(g, args).await,
            Command::Index(args) => cmd::index::run(g, args).await,
            Command::Verify(args) => cmd::verify::run(g, args).await,
            Command::Seed(args) => cmd::seed::run(g, args).await,
            Command::Simulate(args) => cmd::simulate::run(g, args).await,
            Command::Rank(args) => cmd::rank::run(g, args).await,
            Command::SuggestBuild(args) => cmd::suggest::run(g, args).await,
            Command::Eval(args) => cmd::eval::run(g, args).await,
            Command::Definitions(args) => cmd::definitions::run(g, args),
            Command::Experiment(args) => cmd::experiment::run(g, args).await,
            Command::Events(args) => cmd::experiment::events(g, args).await,
            Command::Reindex(args) => cmd::ops::reindex(g, args).await,
            Command::Swap(args) => cmd::ops::swap(g, args).await,
            Command::Rollback(args) => cmd::ops::rollback(g, args).await,
            Command::ReadOnly(args) => cmd::ops::read_only(g, args).await,
        }
    })
}
