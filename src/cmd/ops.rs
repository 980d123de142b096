//! Index operations on the data directory: `disco reindex`, `disco swap`, `disco rollback`,
//! `disco read-only <gen> on|off`.
//!
//! These act on `<data_dir>/index` directly; a running `disco serve` / `disco index` sees alias
//! and read-only changes at its next request or batch. A reindex from this command writes the
//! new generation with its own writer: while another process's indexer consumes live events,
//! prefer `POST /admin/reindex` on that service, which builds through its indexer so live
//! events reach the new generation too.
//!
//! ```text
//! disco reindex --swap               # build gen-N from the database, then make it live
//! disco swap                         # newest built generation → live (old live → previous)
//! disco rollback                     # previous → live
//! disco read-only 3 on               # gen-3 is not written; events wait in the broker
//! ```

use std::time::Duration;

use clap::{Args, ValueEnum};
use indexer::reindex::{self, ReindexOptions, ReindexProgress, Sink};
use indexer::{CancellationToken, Generation, Generations, generations};

use super::common::Globals;

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Ids per page (one hydration query per kind per page).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Generations kept on disk (older retired or failed ones are deleted).
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Make the new generation live when it is built.
    #[arg(long)]
    pub swap: bool,
    /// Merge the built generation into one segment before it can go live: a slower build,
    /// faster searches.
    #[arg(long)]
    pub merge: bool,
    /// Indexing threads of the new generation's writer [default: the indexer's, 2].
    #[arg(long)]
    pub writer_threads: Option<usize>,
    /// Memory budget of the new generation's writer in MB, shared by its threads (a thread
    /// writes a segment each time its share fills) [default: the indexer's, 400].
    #[arg(long)]
    pub writer_heap_mb: Option<usize>,
    /// The new generation is built with, and keeps, these definitions.
    #[command(flatten)]
    pub definitions: super::common::DefinitionsDir,
}

#[derive(Debug, Args)]
pub struct SwapArgs {
    /// The generation to make live (3 or gen-3) [default: the newest built one].
    pub generation: Option<String>,
    /// Generations kept on disk after the swap.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct ReadOnlyArgs {
    /// The generation (3 or gen-3).
    pub generation: String,
    pub state: OnOff,
}

fn parse_generation(text: &str) -> anyhow::Result<Generation> {
    text.strip_prefix("gen-")
        .unwrap_or(text)
        .parse()
        .map(Generation)
        .map_err(|_| anyhow::anyhow!("`{text}` is not a generation like 3 or gen-3"))
}

/// `disco reindex`: builds a new generation with a progress line per second (rows, rate, ETA
/// per kind); Ctrl-C cancels it and leaves its generation failed, live untouched.
pub async fn reindex(globals: Globals, args: ReindexArgs) -> anyhow::Result<()> {
    let db = globals.read_database(&globals.database().await?).await?;
    let catalog = args.definitions.open_generations(&globals.data_dir)?;
    generations::recover(&catalog)?;
    let mut options = ReindexOptions {
        batch_size: args.batch_size.max(1),
        keep: args.keep.max(2),
        definitions: Some(catalog.definitions()),
        ..ReindexOptions::default()
    };
    if let Some(threads) = args.writer_threads {
        options.indexer.build_writer_threads = threads.max(1);
    }
    if let Some(mb) = args.writer_heap_mb {
        options.indexer.build_writer_heap_bytes = mb.saturating_mul(1_000_000);
    }
    let progress = ReindexProgress::default();
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            service::shutdown_signal().await;
            eprintln!("cancelling the reindex");
            cancel.cancel();
        });
    }
    let reporter = {
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprintln!("{}", progress_line(&progress.report()));
            }
        })
    };
    let outcome = reindex::run(&db, &catalog, &options, &progress, Sink::Own, &cancel).await;
    reporter.abort();
    db.close().await;
    let report = outcome?;
    eprintln!("{}", progress_line(&progress.report()));
    println!(
        "{} built: {} rows ({}) in {:.1}s, {:.0} entities/s",
        report.generation,
        report.total_rows(),
        report
            .rows
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        report.seconds,
        report.rate()
    );
    if args.merge
        && let Some(handle) = catalog.get(report.generation)
    {
        let started = std::time::Instant::now();
        match handle.merge_segments()? {
            0 | 1 => println!("{}: one segment already", report.generation),
            n => println!(
                "{}: {n} segments merged into one in {:.1}s",
                report.generation,
                started.elapsed().as_secs_f64()
            ),
        }
    }
    if args.swap {
        let aliases = catalog.swap(report.generation)?;
        println!("live: {}", describe(aliases.live));
        generations::prune(&catalog, options.keep)?;
    } else {
        println!("make it live with: disco swap {}", report.generation.0);
    }
    print_generations(&catalog);
    Ok(())
}

fn progress_line(p: &reindex::ReindexProgressReport) -> String {
    let kinds = p
        .kinds
        .iter()
        .map(|(kind, k)| format!("{kind} {}/{}", k.rows_done, k.rows_total))
        .collect::<Vec<_>>()
        .join(", ");
    let eta = p
        .eta_seconds
        .map_or_else(|| "?".to_string(), |s| format!("{s:.0}s"));
    format!(
        "reindex {:?} gen-{}: {}/{} rows ({kinds}), {:.0} rows/s, ETA {eta}",
        p.state,
        p.generation.unwrap_or(0),
        p.rows_done,
        p.rows_total,
        p.rate
    )
}

/// `disco swap [gen]`.
pub async fn swap(globals: Globals, args: SwapArgs) -> anyhow::Result<()> {
    let catalog = Generations::open(&globals.data_dir)?;
    let target = match &args.generation {
        Some(text) => parse_generation(text)?,
        None => generations::swap_candidate(&catalog)
            .ok_or_else(|| anyhow::anyhow!("no built generation; run `disco reindex` first"))?,
    };
    let aliases = catalog.swap(target)?;
    println!(
        "live: {}, previous: {}",
        describe(aliases.live),
        describe(aliases.previous)
    );
    generations::prune(&catalog, args.keep.max(2))?;
    print_generations(&catalog);
    Ok(())
}

/// `disco rollback`.
pub async fn rollback(globals: Globals, _args: RollbackArgs) -> anyhow::Result<()> {
    let catalog = Generations::open(&globals.data_dir)?;
    let aliases = catalog.rollback()?;
    println!(
        "live: {}, previous: {}",
        describe(aliases.live),
        describe(aliases.previous)
    );
    print_generations(&catalog);
    Ok(())
}

/// `disco read-only <gen> on|off`.
pub async fn read_only(globals: Globals, args: ReadOnlyArgs) -> anyhow::Result<()> {
    let catalog = Generations::open(&globals.data_dir)?;
    let generation = parse_generation(&args.generation)?;
    let on = matches!(args.state, OnOff::On);
    catalog.set_read_only(generation, on)?;
    println!(
        "{generation} is {}",
        if on {
            "read-only: not written; its events wait in the broker"
        } else {
            "writable: the indexer catches up"
        }
    );
    print_generations(&catalog);
    Ok(())
}

fn describe(generation: Option<Generation>) -> String {
    generation.map_or_else(|| "none".into(), |g| g.to_string())
}

fn print_generations(catalog: &Generations) {
    println!(
        "{:<8} {:<9} {:>10} {:>12} {:<5} created",
        "gen", "state", "documents", "bytes", "ro"
    );
    for g in catalog.list() {
        println!(
            "{:<8} {:<9} {:>10} {:>12} {:<5} {}",
            format!("gen-{}", g.generation),
            format!("{:?}", g.state).to_lowercase(),
            g.documents,
            g.size_bytes,
            g.read_only,
            g.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
}
