//! `disco-bench …`: the performance figures of BENCHMARKS.md, each printed with its inputs.
//! Build with `--release` (`cargo run --release -p bench -- <what>`); run on an otherwise idle
//! machine.

use std::path::PathBuf;

use bench::{
    chaos, events_flood, http_load, indexing, ranking, reindexing, replay, searching, sensitivity,
    suggesting, takedown,
};
use clap::{Args, Parser, Subcommand};

/// Disco's benchmarks: each prints its figures in the form BENCHMARKS.md records.
#[derive(Debug, Parser)]
#[command(name = "disco-bench", version, about)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    what: Bench,
}

/// Where the data lives and which services to talk to: the same flags and environment as
/// `disco`'s, so a benchmark runs against what `disco seed`/`disco serve` made.
#[derive(Debug, Clone, Args)]
struct Globals {
    /// The site's database: postgres://… or sqlite://… [default: sqlite://<data-dir>/disco.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// RabbitMQ URL; absent means the in-process bus.
    #[arg(long, env = "AMQP_URL", global = true)]
    amqp_url: Option<String>,
    /// Directory of index generations, rank versions and the SQLite file.
    #[arg(long, env = "DISCO_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// The indexer's broker queue; the benchmarks use `<queue>-bench`.
    #[arg(
        long,
        env = "DISCO_QUEUE",
        default_value = "disco-indexer",
        global = true
    )]
    queue: String,
    /// Topic exchange; the benchmarks use `<exchange>-bench`.
    #[arg(long, env = "DISCO_EXCHANGE", default_value = "models", global = true)]
    exchange: String,
}

impl Globals {
    /// Connects to the site's database (a SQLite file in the data directory by default) and
    /// applies its migrations.
    async fn database(&self) -> anyhow::Result<schemas::db::Db> {
        std::fs::create_dir_all(&self.data_dir)?;
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("disco.db").display()));
        let db = schemas::db::Db::connect(&url).await?;
        db.migrate().await?;
        Ok(db)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli.globals, cli.what))
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// DiscoRank kernel on a generated weighted graph, cold and warm, beside igraph and networkx.
    Rank {
        #[arg(long, default_value_t = 1_000_000)]
        nodes: u32,
        #[arg(long, default_value_t = 10_000_000)]
        edges: usize,
        #[arg(long, default_value_t = 1e-6)]
        tolerance: f64,
        /// A Python with numpy, python-igraph and networkx; absent: our kernel only.
        #[arg(long)]
        python: Option<PathBuf>,
        /// Skip networkx (minutes and gigabytes at 10M edges).
        #[arg(long)]
        no_networkx: bool,
    },
    /// Time to load the rank graph from the database (e.g. the 1M-track synthetic catalog).
    RankLoad,
    /// Suggest build and keystroke-by-keystroke lookup latency at this many keys; with
    /// `--paths`, a recorded `/suggest` mix replayed in process against a saved build instead.
    Suggest {
        #[arg(long, default_value_t = 2_000_000)]
        keys: usize,
        /// A `/suggest?q=…` paths file (as for `bench http`) to replay against a saved build.
        #[arg(long)]
        paths: Option<PathBuf>,
        /// The saved build to replay against (default: `<data-dir>/suggest`).
        #[arg(long)]
        build: Option<PathBuf>,
        /// Timed passes of the replay, after one warm-up pass.
        #[arg(long, default_value_t = 3)]
        passes: usize,
    },
    /// Raw tantivy search time of a query mix drawn from the live generation's own names.
    Search {
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Read every word's postings from the index, as before the clause cache (for
        /// comparison).
        #[arg(long)]
        no_clause_cache: bool,
        /// Score every match, without skipping those that cannot make the page (for
        /// comparison; same answers).
        #[arg(long)]
        exhaustive: bool,
    },
    /// Indexer: sustained events/s and time-to-searchable at the given rates.
    Index {
        #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Full reindex through the running indexer while live events arrive: the build's
    /// entities/s and the live events' time to searchable before and during the build.
    /// Runs in `<data-dir>/bench-reindex` (copy a live generation there to measure at scale);
    /// the generation it builds is deleted after it is measured.
    Reindex {
        /// Live `save.track` events per second (0: the build alone, still through the feed).
        #[arg(long, default_value_t = 1000)]
        live_rate: u64,
        /// Seconds of live events before the build (the baseline time to searchable).
        #[arg(long, default_value_t = 5)]
        warmup_seconds: u64,
        /// Rows per reindex page.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
    },
    /// Open-loop HTTP load: request paths from a file at a fixed rate; latency from due time.
    Http {
        #[command(flatten)]
        args: http_load::HttpArgs,
    },
    /// Search p99 and lost searches, quiet and while `POST /events` is flooded with valid
    /// click reports (issue #22), against a running service; MET / NOT MET per target.
    EventsFlood {
        #[command(flatten)]
        args: events_flood::FloodArgs,
    },
    /// Searches interleaving and A/B each need for a verdict on two rankings (issue #22),
    /// against a running service and its database.
    Sensitivity {
        #[command(flatten)]
        args: sensitivity::SensitivityArgs,
    },
    /// Mass takedown (issue #24): 10,000 spam accounts taken down by one statement per table
    /// and one user event each, while live events and searches go on; how soon none of the
    /// spam is searchable, and what live events and searches pay meanwhile. PostgreSQL only;
    /// seeds a synthetic catalog into an empty database; builds its index in
    /// `<data-dir>/bench-takedown` (deleted first).
    Takedown {
        #[command(flatten)]
        args: takedown::TakedownArgs,
    },
    /// Fault run (issue #25): `disco simulate` at 300 changes/s losing 1% of its events while
    /// RabbitMQ, PostgreSQL and the indexer are restarted on a schedule; a reader searches
    /// throughout. Reports events published and lost, repairs, entities wrong and resurrected
    /// (both must be 0), failed searches and the longest time-to-searchable during a fault.
    /// Restarts the machine's shared PostgreSQL and RabbitMQ: run it alone. Its own database,
    /// broker names and `<data-dir>/bench-chaos`; runs the `disco` binary (`--disco`).
    Chaos {
        #[command(flatten)]
        args: chaos::ChaosArgs,
    },
}

async fn run(globals: Globals, what: Bench) -> anyhow::Result<()> {
    match what {
        Bench::Rank {
            nodes,
            edges,
            tolerance,
            python,
            no_networkx,
        } => {
            let options = ranking::BenchOptions {
                nodes,
                edges,
                tolerance,
                python,
                networkx: !no_networkx,
                ..ranking::BenchOptions::default()
            };
            let report = tokio::task::spawn_blocking(move || ranking::run(&options)).await??;
            println!("{report}");
        }
        Bench::RankLoad => {
            let db = globals.database().await?;
            let report = ranking::graph_load(&db, &rank::Weights::builtin()).await?;
            println!("{report}");
        }
        Bench::Suggest {
            keys, paths: None, ..
        } => {
            let report = tokio::task::spawn_blocking(move || suggesting::run(keys)).await?;
            println!("{report}");
        }
        Bench::Suggest {
            paths: Some(paths),
            build,
            passes,
            ..
        } => {
            let dir = build.unwrap_or_else(|| globals.data_dir.join("suggest"));
            let report =
                tokio::task::spawn_blocking(move || replay::replay_saved(&dir, &paths, passes))
                    .await??;
            println!("{report}");
        }
        Bench::Search {
            queries,
            rounds,
            no_clause_cache,
            exhaustive,
        } => {
            let catalog = indexer::Generations::open(&globals.data_dir)?;
            let (searcher, definitions) = catalog.live_searcher();
            let snapshot = engine::Snapshot {
                searcher,
                definitions,
            };
            let mix = searching::query_mix(&snapshot, queries, 7)?;
            let report = tokio::task::spawn_blocking(move || {
                searching::run(&snapshot, &mix, rounds, !no_clause_cache, exhaustive)
            })
            .await??;
            println!("{report}");
        }
        Bench::Index { rates, seconds } => {
            let db = globals.database().await?;
            let amqp = bench_amqp(&globals);
            let dir = globals.data_dir.join("bench-index");
            let report = indexing::run(db, amqp, &dir, &rates, seconds).await?;
            println!("{report}");
        }
        Bench::Reindex {
            live_rate,
            warmup_seconds,
            batch_size,
        } => {
            let db = globals.database().await?;
            let amqp = bench_amqp(&globals);
            let options = reindexing::ReindexBenchOptions {
                live_rate,
                warmup: std::time::Duration::from_secs(warmup_seconds),
                reindex: indexer::reindex::ReindexOptions {
                    batch_size: batch_size.max(1),
                    ..Default::default()
                },
            };
            let progress = indexer::reindex::ReindexProgress::default();
            let reporter = {
                let progress = progress.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        let p = progress.report();
                        if p.state == indexer::reindex::ReindexState::Building {
                            eprintln!(
                                "reindex: {}/{} rows, {:.0} rows/s",
                                p.rows_done, p.rows_total, p.rate
                            );
                        }
                    }
                })
            };
            let dir = globals.data_dir.join("bench-reindex");
            let report = reindexing::reindex(db, amqp, &dir, &options, &progress).await;
            reporter.abort();
            println!("{}", report?);
        }
        Bench::Http { args } => {
            let report = http_load::run(args.options()?).await?;
            println!("{report}");
        }
        Bench::EventsFlood { args } => {
            let json = args.json;
            let report = events_flood::run(args).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                println!("{report}");
            }
        }
        Bench::Takedown { args } => {
            let json = args.json;
            let db = globals.database().await?;
            let amqp = bench_amqp(&globals);
            let dir = globals.data_dir.join("bench-takedown");
            let report = takedown::run(db, amqp, &dir, args).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                println!("{report}");
            }
        }
        Bench::Chaos { args } => {
            let amqp = globals
                .amqp_url
                .clone()
                .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
            let options = args.options(&amqp, &globals.data_dir.join("bench-chaos"))?;
            let report = chaos::run(options).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                println!("{report}");
            }
            anyhow::ensure!(report.passed(), "the chaos run did not pass (report above)");
        }
        Bench::Sensitivity { args } => {
            let json = args.json;
            let db = globals.database().await?;
            let report = sensitivity::run(&db, args).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json()?)?);
            } else {
                println!("{report}");
            }
        }
    }
    Ok(())
}

/// The broker names the indexer benchmarks use (`<exchange>-bench`, `<queue>-bench`), so they
/// never meet a running indexer's queue; `None` without `--amqp-url` (in-process bus).
fn bench_amqp(globals: &Globals) -> Option<indexer::broker::AmqpConfig> {
    globals.amqp_url.as_deref().map(|url| {
        indexer::broker::AmqpConfig::new(
            url,
            &format!("{}-bench", globals.exchange),
            &format!("{}-bench", globals.queue),
        )
    })
}
