//! `disco-bench takedown`: a mass takedown at the speed of a cleanup (issue #24 item 2).
//!
//! A cleanup takes down 10,000 spam accounts at once: one SQL statement per table (the accounts,
//! their tracks and their sets taken down; their group contributions and memberships deleted),
//! then one `save.user` event per account. The indexer's owner stage turns each account's event
//! into tombstones for everything the account made, from one light read
//! (`indexer::hydrate::dependent_versions`). The questions: how soon is none of the spam
//! searchable (≤ 10 s from the first event), and what does the cleanup cost everyone else
//! meanwhile — the time to searchable of unrelated live events (p99 ≤ 1 s) and search latency
//! (p99 ≤ 2 × its quiet figure)?
//!
//! Setup, on PostgreSQL (the spam is inserted with `generate_series`): a synthetic catalog (seeded
//! here when the database is empty; an existing one is used as it is), the spam above its ids
//! (accounts named `takedown-spam-<n>`, removed again when the next run starts), then a fresh
//! index generation of everything, built by a full reindex in `<data-dir>/bench-takedown`
//! (deleted first). The live indexer then runs in process on RabbitMQ (`<exchange>-bench`,
//! `<queue>-bench`) or on the in-process bus, under three loads that run throughout:
//!
//! - live `save.track` events on ordinary tracks at a fixed rate ([`Publisher::tick`], as in
//!   `disco-bench index`);
//! - in-process searches at a fixed rate with [`searching::query_mix`]'s mix, open loop: a
//!   search's latency counts from when it was due, so a stall is charged to every search due
//!   during it;
//! - a watcher that looks at every new searcher of the live generation: which live events it
//!   shows at their version (time to searchable), and how many spam documents it still serves.
//!
//! Time to searchable is read from the searchers, not from the indexer's `IndexChange`
//! broadcast as `index` and `reindex` read it: a cleanup batch announces tens of thousands of
//! tombstones at once, more than the broadcast holds, so a receiver would miss the live events
//! of exactly the batches that matter. The broadcast still counts the documents and tombstones
//! written (and says how many announcements it missed): the indexer's metrics count deliveries,
//! not the dependents an owner's event writes.
//!
//! ```text
//! disco-bench --database-url postgres://postgres@127.0.0.1:5432/disco_takedown_bench \
//!     --amqp-url amqp://guest:guest@127.0.0.1:5672/%2f takedown
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Bound, Range};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tantivy::collector::{Count, FilterCollector};
use tantivy::columnar::Column;
use tantivy::fastfield::AliveBitSet;
use tantivy::index::InvertedIndexReader;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocSet, Searcher, TERMINATED, Term};
use tokio::sync::{broadcast, watch};

use engine::cached::ClauseCache;
use engine::layout::Layout;
use engine::prior::{Memoized, PopularityPrior, Prior};
use engine::search::{self, SearchRequest, SearchSettings};
use indexer::broker::AmqpConfig;
use indexer::generations::Phase;
use indexer::reindex::{self, ReindexOptions, ReindexProgress, ReindexReport, Sink};
use indexer::{CancellationToken, Generations, IndexChange, Indexer, IndexerConfig};
use schemas::db::Db;
use schemas::definition::Definitions;
use schemas::envelope::Action;
use schemas::{EntityKey, EntityKind, Version};

use crate::indexing::{self, BenchError, Publisher, quantile};
use crate::reindexing::Latency;
use crate::searching;

/// Issue #24: nothing of the spam searchable this long after the first user event.
pub const GONE_TARGET_SECONDS: f64 = 10.0;
/// Issue #24: unrelated live events' time to searchable p99 during the cleanup.
pub const LIVE_P99_TARGET_MS: f64 = 1000.0;
/// Issue #24: search p99 during the cleanup over its quiet figure.
pub const SEARCH_P99_RATIO_TARGET: f64 = 2.0;

/// How often the watcher looks for a new searcher.
const POLL: Duration = Duration::from_millis(2);
/// The spam is counted at most this often (a count scans the `owner_id` column of every
/// document): the precision of the time it took to go.
const COUNT_EVERY: Duration = Duration::from_millis(200);
/// How long the watcher waits, once publishing stops, for the last live events to show.
const DRAIN: Duration = Duration::from_secs(10);
/// Queries in the search mix.
const MIX: usize = 2_000;

/// The flags of `disco-bench takedown`.
#[derive(Debug, Clone, clap::Args)]
pub struct TakedownArgs {
    /// Tracks of the synthetic catalog seeded when the database holds none (an existing catalog
    /// is used as it is).
    #[arg(long, default_value_t = 100_000)]
    pub tracks: i64,
    /// Spam accounts.
    #[arg(long, default_value_t = 10_000)]
    pub spam_users: i64,
    /// Spam tracks, spread evenly over the accounts.
    #[arg(long, default_value_t = 200_000)]
    pub spam_tracks: i64,
    /// Spam sets (playlists), spread evenly over the accounts.
    #[arg(long, default_value_t = 20_000)]
    pub spam_sets: i64,
    /// Spam tracks contributed to the catalog's groups, and as many memberships of spam
    /// accounts in them.
    #[arg(long, default_value_t = 50_000)]
    pub spam_group_rows: i64,
    /// Live `save.track` events per second on ordinary tracks, throughout (0: none).
    #[arg(long, default_value_t = 1000)]
    pub live_rate: u64,
    /// In-process searches per second, throughout.
    #[arg(long, default_value_t = 200.0)]
    pub search_rate: f64,
    /// Threads the searches are spread over, as a service's workers (search `i` goes to
    /// thread `i mod N`, each still open loop).
    #[arg(long, default_value_t = 1)]
    pub search_threads: usize,
    /// Merge the built generation into one segment before the loads start, as `disco reindex
    /// --merge` does (a reindex otherwise leaves its segments for the merge policy).
    #[arg(long)]
    pub merge: bool,
    /// Seconds of live events and searches before the quiet phase (not measured).
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Measured seconds of the quiet phase.
    #[arg(long, default_value_t = 10.0)]
    pub quiet: f64,
    /// Seconds the loads go on after the spam is gone (the live events published during the
    /// cleanup are timed until they show, however long that takes).
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Seconds after the first user event to give up waiting for the spam to go.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Compare the live generation with the database at the end (as `disco verify`).
    #[arg(long)]
    pub verify: bool,
    /// Owner events a batch takes at most while other events wait (`BatchConfig::owner_events`;
    /// a number above the spam accounts takes them in arrival order, as before the owner lane).
    #[arg(long, default_value_t = indexer::batch::BatchConfig::default().owner_events)]
    pub owner_events: usize,
    /// The live batch window in milliseconds (`BatchConfig::max_wait`): how long an idle
    /// indexer gathers after a first event, so how often it commits under load.
    #[arg(long, default_value_t = indexer::batch::BatchConfig::default().max_wait.as_millis() as u64)]
    pub batch_wait_ms: u64,
    /// The least milliseconds from one live batch's start to the next
    /// (`IndexerConfig::refresh_interval`).
    #[arg(long, default_value_t = indexer::REFRESH_INTERVAL.as_millis() as u64)]
    pub refresh_ms: u64,
    /// Nice value of tantivy's writer threads (`IndexerConfig::writer_nice`; 0: as the searches').
    #[arg(long, default_value_t = indexer::priority::WRITER_NICE)]
    pub writer_nice: i32,
    /// Nice value of this process's scheduling group, as `disco serve --search-nice` (0: left
    /// alone, as before).
    #[arg(long, default_value_t = indexer::priority::SEARCH_NICE, allow_hyphen_values = true)]
    pub search_nice: i32,
    /// Search threads under real-time scheduling, as `disco serve --search-realtime`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub search_realtime: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the spam is: each kind's ids from `base` up, and its group rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spam {
    pub base: i64,
    pub users: i64,
    pub tracks: i64,
    pub sets: i64,
    /// Group contributions and memberships inserted.
    pub group_tracks: u64,
    pub group_members: u64,
}

impl Spam {
    /// The ids of the first `n` spam rows of a kind.
    fn ids(&self, n: i64) -> Range<i64> {
        self.base..self.base + n
    }

    pub fn owners(&self) -> Range<i64> {
        self.ids(self.users)
    }

    pub fn is_spam(&self, key: EntityKey) -> bool {
        let n = match key.kind {
            EntityKind::User => self.users,
            EntityKind::Track => self.tracks,
            EntityKind::Playlist => self.sets,
            EntityKind::Group => 0,
        };
        self.ids(n).contains(&key.id)
    }

    /// Spam documents a generation holds before the cleanup.
    pub fn documents(&self) -> u64 {
        (self.users + self.tracks + self.sets).max(0) as u64
    }
}

/// The ordinary catalog (below the spam's ids).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Catalog {
    pub users: i64,
    pub tracks: i64,
    pub sets: i64,
    pub groups: i64,
}

/// One statement of the cleanup.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub table: &'static str,
    pub rows: u64,
    pub seconds: f64,
}

/// Search latency over one phase, from due time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Searches {
    pub done: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Searches {
    fn of(mut ms: Vec<f64>) -> Searches {
        ms.sort_by(|a, b| a.total_cmp(b));
        Searches {
            done: ms.len() as u64,
            p50_ms: quantile(&ms, 0.5),
            p99_ms: quantile(&ms, 0.99),
            max_ms: quantile(&ms, 1.0),
        }
    }
}

/// What the indexer announced from the first cleanup statement to the end of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Spam written as tombstones.
    pub spam_tombstones: u64,
    /// Spam written as searchable documents: none, or the cleanup made spam searchable.
    pub spam_documents: u64,
    /// Everything else written from a hydrated row: the live events' tracks, their uploaders
    /// re-counted.
    pub other_documents: u64,
    pub other_tombstones: u64,
    /// Announcements the receiver missed by falling behind the broadcast.
    pub missed: u64,
}

/// The cleanup's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleanup {
    pub statements: Vec<Statement>,
    /// User events published, and how long publishing them took.
    pub events: u64,
    pub publish_seconds: f64,
    /// Spam documents the live generation served just before the cleanup.
    pub spam_before: u64,
    /// From the first user event until the first searcher that served none of the spam;
    /// `None`: still some after the timeout.
    pub gone_seconds: Option<f64>,
    /// Spam documents the last searcher looked at still served.
    pub spam_left: u64,
    /// From the first statement until the spam was gone (or the timeout): the window the live
    /// events and searches of this phase were due in.
    pub seconds: f64,
    pub live: Latency,
    pub searches: Searches,
    /// The same searches split: while the statements ran, and from the first user event on
    /// (PostgreSQL's share of the slowdown against the indexer's).
    pub searches_statements: Searches,
    pub searches_events: Searches,
}

/// What `takedown` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TakedownReport {
    pub mode: String,
    pub catalog: Catalog,
    pub spam: Spam,
    pub insert_seconds: f64,
    pub build: ReindexReport,
    /// Documents (tombstones excluded) of the generation the bench started with.
    pub documents: u64,
    pub live_rate: u64,
    pub search_rate: f64,
    /// Threads the searches were spread over.
    pub search_threads: usize,
    /// The built generation was merged into one segment first (`--merge`).
    pub merged: bool,
    pub quiet_seconds: f64,
    pub quiet_live: Latency,
    pub quiet_searches: Searches,
    pub cleanup: Cleanup,
    pub written: Written,
    /// Live events never seen at their version (the watcher gave up `DRAIN` after publishing
    /// stopped).
    pub unseen: u64,
    /// The share of one core the watcher took (the measurement's own cost), and the part of
    /// it spent counting the spam.
    pub watcher_busy: f64,
    pub watcher_counting: f64,
    /// `disco verify`'s report of the live generation at the end, when asked for.
    pub verify: Option<String>,
}

impl TakedownReport {
    pub fn gone_met(&self) -> bool {
        self.cleanup
            .gone_seconds
            .is_some_and(|s| s <= GONE_TARGET_SECONDS)
    }

    /// Every live event of the cleanup seen, and its p99 within the target.
    pub fn live_met(&self) -> bool {
        let live = &self.cleanup.live;
        live.visible == live.published && live.p99_ms <= LIVE_P99_TARGET_MS
    }

    /// Cleanup p99 over quiet p99; `None` without a quiet figure.
    pub fn search_ratio(&self) -> Option<f64> {
        (self.quiet_searches.p99_ms > 0.0)
            .then(|| self.cleanup.searches.p99_ms / self.quiet_searches.p99_ms)
    }

    pub fn search_met(&self) -> bool {
        self.search_ratio()
            .is_some_and(|r| r <= SEARCH_P99_RATIO_TARGET)
    }

    pub fn to_json(&self) -> Value {
        let latency = |l: &Latency| {
            json!({"published": l.published, "visible": l.visible, "p50_ms": l.p50_ms,
                   "p99_ms": l.p99_ms, "max_ms": l.max_ms})
        };
        let searches = |s: &Searches| {
            json!({"done": s.done, "p50_ms": s.p50_ms,
                   "p99_ms": s.p99_ms, "max_ms": s.max_ms})
        };
        let (c, s, w) = (&self.cleanup, &self.spam, &self.written);
        json!({
            "mode": self.mode,
            "catalog": {"users": self.catalog.users, "tracks": self.catalog.tracks,
                        "sets": self.catalog.sets, "groups": self.catalog.groups},
            "spam": {"base": s.base, "users": s.users, "tracks": s.tracks, "sets": s.sets,
                     "group_tracks": s.group_tracks, "group_members": s.group_members},
            "insert_seconds": self.insert_seconds,
            "build": {"entities": self.build.total_rows(), "seconds": self.build.seconds,
                      "documents": self.documents},
            "live_rate": self.live_rate,
            "search_rate": self.search_rate,
            "search_threads": self.search_threads,
            "merged": self.merged,
            "quiet": {"seconds": self.quiet_seconds, "live": latency(&self.quiet_live),
                      "searches": searches(&self.quiet_searches)},
            "cleanup": {
                "statements": c.statements.iter()
                    .map(|s| json!({"table": s.table, "rows": s.rows, "seconds": s.seconds}))
                    .collect::<Vec<_>>(),
                "user_events": c.events,
                "publish_seconds": c.publish_seconds,
                "spam_before": c.spam_before,
                "spam_left": c.spam_left,
                "gone_seconds": c.gone_seconds,
                "seconds": c.seconds,
                "live": latency(&c.live),
                "searches": searches(&c.searches),
                "searches_statements": searches(&c.searches_statements),
                "searches_events": searches(&c.searches_events),
            },
            "targets": {
                "gone_seconds": GONE_TARGET_SECONDS, "gone_met": self.gone_met(),
                "live_p99_ms": LIVE_P99_TARGET_MS, "live_met": self.live_met(),
                "search_p99_ratio": self.search_ratio(),
                "search_p99_ratio_target": SEARCH_P99_RATIO_TARGET,
                "search_met": self.search_met(),
            },
            "written": {"spam_tombstones": w.spam_tombstones, "spam_documents": w.spam_documents,
                        "other_documents": w.other_documents,
                        "other_tombstones": w.other_tombstones, "missed": w.missed},
            "unseen_live_events": self.unseen,
            "watcher_busy": self.watcher_busy,
            "watcher_counting": self.watcher_counting,
            "verify": self.verify,
        })
    }
}

fn met(yes: bool) -> &'static str {
    if yes { "MET" } else { "NOT MET" }
}

impl fmt::Display for TakedownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, s, k, w) = (&self.cleanup, &self.spam, &self.catalog, &self.written);
        writeln!(
            f,
            "takedown benchmark ({}): catalog {} tracks, {} users, {} sets, {} groups; spam {} \
             users, {} tracks, {} sets, {} group contributions, {} memberships (ids from {}, \
             inserted in {:.1} s); a reindex built {} entities in {:.1} s ({} documents); live \
             events {}/s and searches {}/s on {} thread(s) throughout{}, quiet phase {} s",
            self.mode,
            k.tracks,
            k.users,
            k.sets,
            k.groups,
            s.users,
            s.tracks,
            s.sets,
            s.group_tracks,
            s.group_members,
            s.base,
            self.insert_seconds,
            self.build.total_rows(),
            self.build.seconds,
            self.documents,
            self.live_rate,
            self.search_rate,
            self.search_threads,
            match self.merged {
                true => " (built generation merged into one segment)",
                false => "",
            },
            self.quiet_seconds
        )?;
        let statements: Vec<String> = (c.statements.iter())
            .map(|s| format!("{} {} rows in {:.2} s", s.table, s.rows, s.seconds))
            .collect();
        writeln!(
            f,
            "cleanup: {}; then {} user events published in {:.2} s",
            statements.join(", "),
            c.events,
            c.publish_seconds
        )?;
        writeln!(f, "| figure | quiet | cleanup | target | status |")?;
        writeln!(f, "| --- | ---: | ---: | --- | --- |")?;
        let gone = match c.gone_seconds {
            Some(seconds) => format!("none after {seconds:.2} s"),
            None => format!("{} left after {:.0} s", c.spam_left, c.seconds),
        };
        let before = if c.spam_before == s.documents() {
            c.spam_before.to_string()
        } else {
            format!("{} (of {} inserted)", c.spam_before, s.documents())
        };
        writeln!(
            f,
            "| spam documents searchable, from the first user event | {before} | {gone} | ≤ {} s \
             | {} |",
            GONE_TARGET_SECONDS,
            met(self.gone_met())
        )?;
        let (q, l) = (&self.quiet_live, &c.live);
        writeln!(
            f,
            "| live events published / seen | {} / {} | {} / {} | all seen | {} |",
            q.published,
            q.visible,
            l.published,
            l.visible,
            met(l.visible == l.published)
        )?;
        writeln!(
            f,
            "| live time to searchable p50 | {:.0} ms | {:.0} ms | | |",
            q.p50_ms, l.p50_ms
        )?;
        writeln!(
            f,
            "| live time to searchable p99 (max) | {:.0} ms ({:.0}) | {:.0} ms ({:.0}) | ≤ {} ms \
             during the cleanup | {} |",
            q.p99_ms,
            q.max_ms,
            l.p99_ms,
            l.max_ms,
            LIVE_P99_TARGET_MS,
            met(self.live_met())
        )?;
        let (qs, cs) = (&self.quiet_searches, &c.searches);
        writeln!(f, "| searches done | {} | {} | | |", qs.done, cs.done)?;
        writeln!(
            f,
            "| search p50 | {:.2} ms | {:.2} ms | | |",
            qs.p50_ms, cs.p50_ms
        )?;
        let ratio = self
            .search_ratio()
            .map_or_else(|| "no quiet figure".to_string(), |r| format!("{r:.2}×"));
        writeln!(
            f,
            "| search p99 (max) | {:.2} ms ({:.1}) | {:.2} ms ({:.1}), {ratio} | ≤ {} × quiet \
             | {} |",
            qs.p99_ms,
            qs.max_ms,
            cs.p99_ms,
            cs.max_ms,
            SEARCH_P99_RATIO_TARGET,
            met(self.search_met())
        )?;
        let (st, ev) = (&c.searches_statements, &c.searches_events);
        writeln!(
            f,
            "| search p99: while the statements run / from the first user event | | {:.2} ms / \
             {:.2} ms ({} / {} searches) | | |",
            st.p99_ms, ev.p99_ms, st.done, ev.done
        )?;
        write!(
            f,
            "cleanup window (first statement → spam gone) {:.2} s. Announced from the first \
             statement to the end of the run (fewer than written when the counter missed some): \
             spam {} tombstones, {} searchable documents; others {} documents, each from a \
             hydrated row (live tracks, re-counted uploaders, what those made), {} tombstones; \
             announcements missed {}. The watcher took {:.0}% of a core ({:.0}% counting the \
             spam)",
            c.seconds,
            w.spam_tombstones,
            w.spam_documents,
            w.other_documents,
            w.other_tombstones,
            w.missed,
            self.watcher_busy * 100.0,
            self.watcher_counting * 100.0
        )?;
        if self.unseen > 0 {
            write!(
                f,
                "\n{} live events never showed at their version within {} s of the end",
                self.unseen,
                DRAIN.as_secs()
            )?;
        }
        if let Some(verify) = &self.verify {
            write!(f, "\n{}", verify.trim_end())?;
        }
        Ok(())
    }
}

/// An instant on both clocks: searches are timed on the monotonic one, events on the wall.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    utc: DateTime<Utc>,
}

impl Mark {
    fn now() -> Mark {
        Mark {
            at: Instant::now(),
            utc: Utc::now(),
        }
    }
}

/// Runs the benchmark on `db` (PostgreSQL), building its index in `data_dir` (deleted first).
/// `amqp`: the broker to go through (None = in-process bus).
pub async fn run(
    db: Db,
    amqp: Option<AmqpConfig>,
    data_dir: &Path,
    args: TakedownArgs,
) -> anyhow::Result<TakedownReport> {
    anyhow::ensure!(
        args.search_rate.is_finite() && args.search_rate > 0.0,
        "--search-rate must be above 0"
    );
    anyhow::ensure!(args.spam_users >= 1, "--spam-users must be at least 1");
    anyhow::ensure!(
        args.spam_tracks >= 0 && args.spam_sets >= 0 && args.spam_group_rows >= 0,
        "spam sizes cannot be negative"
    );
    for (flag, seconds) in [
        ("--warmup", args.warmup),
        ("--quiet", args.quiet),
        ("--settle", args.settle),
        ("--timeout", args.timeout),
    ] {
        anyhow::ensure!(
            seconds.is_finite() && seconds >= 0.0,
            "{flag} must be 0 or more seconds"
        );
    }
    let Db::Postgres(pool) = &db else {
        anyhow::bail!(
            "takedown needs PostgreSQL (its spam is inserted with generate_series): pass \
             --database-url postgres://… (or DATABASE_URL)"
        );
    };

    remove_spam(pool).await?;
    if !has_tracks(pool).await? {
        tracing::info!(tracks = args.tracks, "seeding a synthetic catalog");
        let options = site::seed::SeedOptions::synthetic(args.tracks, 42);
        site::seed::seed(
            &db,
            &options,
            &site::progress::ProgressMeter::new("seed", 0),
        )
        .await
        .context("seeding the catalog")?;
    }
    let inserting = Instant::now();
    let spam = insert_spam(pool, &args).await?;
    let insert_seconds = inserting.elapsed().as_secs_f64();
    let catalog_size = catalog_size(pool, spam.base).await?;
    let ordinary: Vec<i64> = (indexing::all_track_ids(&db).await?.into_iter())
        .filter(|id| *id < spam.base)
        .collect();
    anyhow::ensure!(
        !ordinary.is_empty() || args.live_rate == 0,
        "the catalog has no tracks for the live events"
    );
    tracing::info!(?spam, insert_seconds, "spam inserted; building the index");

    let (catalog, build) = build_index(&db, data_dir).await?;
    if args.merge {
        let live = catalog.live();
        let segments = tokio::task::spawn_blocking(move || live.merge_segments()).await??;
        tracing::info!(segments, "merged the built generation");
    }
    let documents = catalog.live().document_count();
    let searches = {
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || SearchLoad::warm(catalog)).await??
    };

    let mut config = IndexerConfig::default();
    config.batch.owner_events = args.owner_events.max(1);
    config.writer_nice = args.writer_nice;
    config.batch.max_wait = Duration::from_millis(args.batch_wait_ms);
    config.refresh_interval = Duration::from_millis(args.refresh_ms);
    let amqp = amqp.map(|amqp| amqp.with_prefetch(&config.batch));
    let indexer = Indexer::open(db.clone(), catalog.clone(), config)?;
    let changes = indexer.subscribe();
    let cancel = CancellationToken::new();
    let (publisher, indexer_task) = indexing::start(indexer, amqp.as_ref(), &cancel).await?;
    let publisher = Arc::new(publisher);

    let counting = Arc::new(AtomicBool::new(false));
    let counter = {
        let counting = counting.clone();
        tokio::task::spawn_blocking(move || count_writes(changes, spam, counting))
    };
    let (remaining_tx, mut remaining) = watch::channel(Remaining {
        at: Instant::now(),
        count: u64::MAX,
    });
    let (ticks_tx, ticks_rx) = mpsc::channel();
    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (catalog, stop) = (catalog.clone(), stop_watching.clone());
        tokio::task::spawn_blocking(move || {
            watch_live(&catalog, &spam, ticks_rx, remaining_tx, &stop)
        })
    };
    let stop_searching = Arc::new(AtomicBool::new(false));
    let searching = {
        let (rate, threads, nice, stop) = (
            args.search_rate,
            args.search_threads.max(1),
            args.search_nice,
            stop_searching.clone(),
        );
        let scheduling = service::pool::Scheduling::realtime_if(args.search_realtime);
        tokio::task::spawn_blocking(move || {
            Arc::new(searches).run(rate, threads, nice, scheduling, &stop)
        })
    };
    let stop_publishing = CancellationToken::new();
    let publishing = tokio::spawn(publish_live(
        publisher.clone(),
        db.clone(),
        ordinary,
        args.live_rate,
        ticks_tx,
        stop_publishing.clone(),
    ));
    let _stop = StopOnDrop {
        tokens: vec![stop_publishing.clone(), cancel.clone()],
        flags: vec![stop_searching.clone(), stop_watching.clone()],
    };
    // The spam the index serves before the cleanup: the watcher's first count.
    let _ = remaining.wait_for(|r| r.count != u64::MAX).await;

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let quiet_start = Mark::now();
    tokio::time::sleep(Duration::from_secs_f64(args.quiet)).await;
    let quiet_end = Mark::now();

    // The cleanup: the rows first, as the site's admin tool would, then the events.
    let spam_before = remaining.borrow().count;
    counting.store(true, Ordering::Relaxed);
    let at = indexer::testing::now();
    let cleanup_start = Mark::now();
    let statements = take_down(pool, &spam, at).await?;
    let first_event = Mark::now();
    for id in spam.owners() {
        let (routing_key, body) =
            indexer::testing::event(Action::Save, EntityKey::new(EntityKind::User, id), at);
        publisher
            .publish(&routing_key, body)
            .await
            .context("publishing the user events")?;
    }
    let publish_seconds = first_event.at.elapsed().as_secs_f64();
    tracing::info!(publish_seconds, "user events published");
    let deadline = first_event.at + Duration::from_secs_f64(args.timeout);
    let gone = loop {
        let seen = *remaining.borrow_and_update();
        if seen.count == 0 && seen.at > first_event.at {
            break Some(seen.at);
        }
        tokio::select! {
            changed = remaining.changed() => if changed.is_err() { break None },
            _ = tokio::time::sleep_until(deadline.into()) => break None,
        }
    };
    let spam_left = remaining.borrow().count;
    let cleanup_end = match gone {
        Some(at) => Mark {
            at,
            utc: first_event.utc + (at - first_event.at),
        },
        None => Mark::now(),
    };
    tracing::info!(gone = ?gone.map(|at| at - first_event.at), spam_left, "cleanup watched");

    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    stop_publishing.cancel();
    let ticks = join(publishing).await?;
    stop_searching.store(true, Ordering::Relaxed);
    let searched = join(searching).await?;
    stop_watching.store(true, Ordering::Relaxed);
    let watched = join(watcher).await?;
    let verify = if args.verify {
        let report = indexer::verify::verify(&db, &catalog.live()).await?;
        Some(report.to_string())
    } else {
        None
    };
    cancel.cancel();
    join(indexer_task).await?;
    let written = join(counter).await;

    let live = |from: Mark, to: Mark| {
        let inside = |at: &DateTime<Utc>| *at >= from.utc && *at < to.utc;
        let published = (ticks.iter()).filter(|(at, _)| inside(at)).map(|(_, n)| n);
        let ms = (watched.seen.iter()).filter(|(at, _)| inside(at));
        Latency::of(published.sum(), ms.map(|(_, ms)| *ms).collect())
    };
    let searches = |from: Mark, to: Mark| {
        let inside = (searched.iter()).filter(|(due, _)| *due >= from.at && *due < to.at);
        Searches::of(inside.map(|(_, took)| took.as_secs_f64() * 1e3).collect())
    };
    let mode = match &amqp {
        Some(_) => "RabbitMQ, PostgreSQL",
        None => "in-process bus, PostgreSQL",
    };
    Ok(TakedownReport {
        mode: mode.to_string(),
        catalog: catalog_size,
        spam,
        insert_seconds,
        build,
        documents,
        live_rate: args.live_rate,
        search_rate: args.search_rate,
        search_threads: args.search_threads.max(1),
        merged: args.merge,
        quiet_seconds: args.quiet,
        quiet_live: live(quiet_start, quiet_end),
        quiet_searches: searches(quiet_start, quiet_end),
        cleanup: Cleanup {
            statements,
            events: spam.users as u64,
            publish_seconds,
            spam_before,
            gone_seconds: gone.map(|at| (at - first_event.at).as_secs_f64()),
            spam_left,
            seconds: (cleanup_end.at - cleanup_start.at).as_secs_f64(),
            live: live(cleanup_start, cleanup_end),
            searches: searches(cleanup_start, cleanup_end),
            searches_statements: searches(cleanup_start, first_event),
            searches_events: searches(first_event, cleanup_end),
        },
        written,
        unseen: watched.unseen,
        watcher_busy: watched.busy,
        watcher_counting: watched.counting,
        verify,
    })
}

/// Stops the loads and the indexer when [`run`] returns, also early on an error: their
/// threads would otherwise keep the runtime from shutting down.
struct StopOnDrop {
    tokens: Vec<CancellationToken>,
    flags: Vec<Arc<AtomicBool>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.tokens.iter().for_each(CancellationToken::cancel);
        (self.flags.iter()).for_each(|flag| flag.store(true, Ordering::Relaxed));
    }
}

/// Awaits a task, passing a panic on.
async fn join<T>(task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

// ---- the database -----------------------------------------------------------------------------

/// Removes a previous run's spam (accounts named `takedown-spam-…` and what they made), so the
/// catalog is as seeded again.
async fn remove_spam(pool: &PgPool) -> Result<(), sqlx::Error> {
    for statement in [
        "DELETE FROM group_tracks WHERE track_id IN (SELECT id FROM tracks WHERE user_id IN \
         (SELECT id FROM users WHERE username LIKE 'takedown-spam-%'))",
        "DELETE FROM group_members WHERE user_id IN \
         (SELECT id FROM users WHERE username LIKE 'takedown-spam-%')",
        "DELETE FROM tracks WHERE user_id IN \
         (SELECT id FROM users WHERE username LIKE 'takedown-spam-%')",
        "DELETE FROM playlists WHERE user_id IN \
         (SELECT id FROM users WHERE username LIKE 'takedown-spam-%')",
        "DELETE FROM users WHERE username LIKE 'takedown-spam-%'",
    ] {
        sqlx::query(statement).execute(pool).await?;
    }
    Ok(())
}

async fn has_tracks(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tracks)")
        .fetch_one(pool)
        .await
}

/// Inserts the spam with one `generate_series` statement per table, its ids from the next
/// million above the catalog's, then vacuums and analyzes the tables, as a catalog that grew
/// over time would be (fresh statistics, an up-to-date visibility map).
async fn insert_spam(pool: &PgPool, args: &TakedownArgs) -> anyhow::Result<Spam> {
    let max: Option<i64> = sqlx::query_scalar(
        "SELECT GREATEST((SELECT max(id) FROM users), (SELECT max(id) FROM tracks), \
         (SELECT max(id) FROM playlists), (SELECT max(id) FROM groups))",
    )
    .fetch_one(pool)
    .await?;
    let base = (max.unwrap_or(0) / 1_000_000 + 1) * 1_000_000;
    let created = Utc::now() - chrono::Duration::days(30);
    let users = args.spam_users;
    sqlx::query(
        "INSERT INTO users (id, username, full_name, description, created_at, updated_at) \
         SELECT $1::bigint + s, 'takedown-spam-' || s, 'Promo Beats ' || s, \
                'follow for follow, free downloads every day', $2, $2 \
         FROM generate_series(0::bigint, $3::bigint - 1) s",
    )
    .bind(base)
    .bind(created)
    .bind(users)
    .execute(pool)
    .await
    .context("inserting the spam users")?;
    sqlx::query(
        "INSERT INTO tracks (id, user_id, title, description, genre, tags, duration_ms, \
                             created_at, updated_at) \
         SELECT $1::bigint + s, $1::bigint + s % $3::bigint, 'Free Download Type Beat ' || s, \
                'free download, link in bio', 'Hip-hop', 'free download type beat promo', \
                120000, $2, $2 \
         FROM generate_series(0::bigint, $4::bigint - 1) s",
    )
    .bind(base)
    .bind(created)
    .bind(users)
    .bind(args.spam_tracks)
    .execute(pool)
    .await
    .context("inserting the spam tracks")?;
    sqlx::query(
        "INSERT INTO playlists (id, user_id, title, description, created_at, updated_at) \
         SELECT $1::bigint + s, $1::bigint + s % $3::bigint, 'Promo Mix ' || s, \
                'all my beats, free', $2, $2 \
         FROM generate_series(0::bigint, $4::bigint - 1) s",
    )
    .bind(base)
    .bind(created)
    .bind(users)
    .bind(args.spam_sets)
    .execute(pool)
    .await
    .context("inserting the spam sets")?;
    // Spam track s goes to the catalog's group s mod n; account u joins the groups
    // (m / users + 7u) mod n for its m-th membership, distinct while n exceeds the memberships
    // per account (a conflict is skipped).
    let group_tracks = sqlx::query(
        "INSERT INTO group_tracks (group_id, track_id, created_at) \
         SELECT g.ids[1 + (s % g.n)::int], $1::bigint + s, $2 \
         FROM generate_series(0::bigint, $3::bigint - 1) s, \
              (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM groups \
               WHERE id < $1::bigint) g \
         WHERE g.n > 0",
    )
    .bind(base)
    .bind(created)
    .bind(args.spam_group_rows.min(args.spam_tracks))
    .execute(pool)
    .await
    .context("inserting the spam's group contributions")?
    .rows_affected();
    let group_members = sqlx::query(
        "INSERT INTO group_members (group_id, user_id, created_at) \
         SELECT g.ids[1 + ((s / $3::bigint + (s % $3::bigint) * 7) % g.n)::int], \
                $1::bigint + s % $3::bigint, $2 \
         FROM generate_series(0::bigint, $4::bigint - 1) s, \
              (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM groups \
               WHERE id < $1::bigint) g \
         WHERE g.n > 0 \
         ON CONFLICT DO NOTHING",
    )
    .bind(base)
    .bind(created)
    .bind(users)
    .bind(args.spam_group_rows)
    .execute(pool)
    .await
    .context("inserting the spam's group memberships")?
    .rows_affected();
    sqlx::raw_sql("VACUUM (ANALYZE) users, tracks, playlists, group_tracks, group_members")
        .execute(pool)
        .await
        .context("vacuuming after the spam")?;
    Ok(Spam {
        base,
        users,
        tracks: args.spam_tracks,
        sets: args.spam_sets,
        group_tracks,
        group_members,
    })
}

async fn catalog_size(pool: &PgPool, below: i64) -> Result<Catalog, sqlx::Error> {
    let (users, tracks, sets, groups): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE id < $1), \
                (SELECT count(*) FROM tracks WHERE id < $1), \
                (SELECT count(*) FROM playlists WHERE id < $1), \
                (SELECT count(*) FROM groups WHERE id < $1)",
    )
    .bind(below)
    .fetch_one(pool)
    .await?;
    Ok(Catalog {
        users,
        tracks,
        sets,
        groups,
    })
}

/// The cleanup's statements, one per table, each committed on its own; the rows take `at` as
/// their new version, which the user events then carry.
async fn take_down(
    pool: &PgPool,
    spam: &Spam,
    at: DateTime<Utc>,
) -> Result<Vec<Statement>, sqlx::Error> {
    let owners: Vec<i64> = spam.owners().collect();
    let mut done = Vec::new();
    for (table, sql, stamped) in [
        (
            "users",
            "UPDATE users SET taken_down = TRUE, updated_at = $2 WHERE id = ANY($1)",
            true,
        ),
        (
            "tracks",
            "UPDATE tracks SET taken_down = TRUE, updated_at = $2 WHERE user_id = ANY($1)",
            true,
        ),
        (
            "playlists",
            "UPDATE playlists SET taken_down = TRUE, updated_at = $2 WHERE user_id = ANY($1)",
            true,
        ),
        (
            "group_tracks",
            "DELETE FROM group_tracks WHERE track_id IN \
             (SELECT id FROM tracks WHERE user_id = ANY($1))",
            false,
        ),
        (
            "group_members",
            "DELETE FROM group_members WHERE user_id = ANY($1)",
            false,
        ),
    ] {
        let started = Instant::now();
        let query = sqlx::query(sql).bind(&owners);
        let query = if stamped { query.bind(at) } else { query };
        let rows = query.execute(pool).await?.rows_affected();
        done.push(Statement {
            table,
            rows,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(done)
}

/// A fresh generation of everything by a full reindex with its own writer (the layout a
/// `disco reindex --swap` leaves), made live. The empty generation a new directory starts with
/// stays `previous`, retired so live writes do not go to it as well.
async fn build_index(db: &Db, dir: &Path) -> anyhow::Result<(Arc<Generations>, ReindexReport)> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let catalog = Generations::open(dir)?;
    let empty = catalog.live().generation;
    let built = reindex::run(
        db,
        &catalog,
        &ReindexOptions::default(),
        &ReindexProgress::default(),
        Sink::Own,
        &CancellationToken::new(),
    )
    .await?;
    catalog.swap(built.generation)?;
    catalog.set_phase(empty, Phase::Retired)?;
    Ok((catalog, built))
}

// ---- the loads --------------------------------------------------------------------------------

/// One tick of live events: its event time and the tracks no searcher showed at it yet.
#[derive(Debug, Clone, PartialEq)]
struct Tick {
    at: DateTime<Utc>,
    ids: Vec<i64>,
    /// Some of its tracks showed already.
    begun: bool,
}

/// Plays the site on ordinary tracks ([`Publisher::tick`] every 10 ms) until `stop`, telling
/// the watcher what each tick touched. Returns every tick's event time and size.
async fn publish_live(
    publisher: Arc<Publisher>,
    db: Db,
    ids: Vec<i64>,
    rate: u64,
    ticks: mpsc::Sender<Tick>,
    stop: CancellationToken,
) -> Result<Vec<(DateTime<Utc>, u64)>, BenchError> {
    let mut published = Vec::new();
    let per_tick = (rate / 100) as usize;
    if per_tick == 0 || ids.is_empty() {
        return Ok(published);
    }
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let mut cursor = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(published),
            _ = interval.tick() => {
                let first = cursor;
                let (at, n) = publisher.tick(&db, &ids, &mut cursor, per_tick).await?;
                // `tick` touched the next `n` ids from the cursor.
                let touched = (0..n as usize).map(|i| ids[(first + i) % ids.len()]).collect();
                let _ = ticks.send(Tick { at, ids: touched, begun: false });
                published.push((at, n));
            }
        }
    }
}

/// In-process searches as the service makes them: the live generation's searcher at each
/// search, the popularity prior, one clause cache for all, 20 results.
struct SearchLoad {
    catalog: Arc<Generations>,
    queries: Vec<String>,
    layout: Layout,
    prior: Arc<dyn Prior>,
    clauses: Arc<ClauseCache>,
    settings: SearchSettings,
}

impl SearchLoad {
    /// Draws the query mix from the live generation and searches it once, unpaced (as
    /// `disco-bench search` warms up: the clause cache fills).
    fn warm(catalog: Arc<Generations>) -> anyhow::Result<SearchLoad> {
        let (searcher, definitions) = catalog.live_searcher();
        let snapshot = engine::Snapshot {
            searcher,
            definitions,
        };
        let queries = searching::query_mix(&snapshot, MIX, 7)?;
        let load = SearchLoad {
            layout: Layout::from_definitions(&snapshot.definitions)?,
            prior: Arc::new(Memoized::new(PopularityPrior::default())),
            clauses: Arc::new(ClauseCache::default()),
            settings: SearchSettings::default(),
            catalog,
            queries,
        };
        for query in &load.queries {
            load.search(&snapshot.searcher, query)?;
        }
        Ok(load)
    }

    fn search(&self, searcher: &Searcher, text: &str) -> tantivy::Result<()> {
        let request = SearchRequest {
            text: text.to_string(),
            limit: 20,
            ..SearchRequest::default()
        };
        search::search(
            searcher,
            &self.layout,
            Some(self.prior.clone()),
            &self.settings,
            &request,
            Some(&self.clauses),
        )
        .map(drop)
    }

    /// Searches at `rate` per second until `stop` on the query service's search pool
    /// (`service::pool`) of `threads` threads scheduled as `scheduling`, the process's scheduling
    /// group at `nice`, as `disco serve` puts them; open loop: each search is handed over at its due time and timed from
    /// it to its answer, so time queued for a thread counts.
    fn run(
        self: Arc<Self>,
        rate: f64,
        threads: usize,
        nice: i32,
        scheduling: service::pool::Scheduling,
        stop: &AtomicBool,
    ) -> anyhow::Result<Vec<(Instant, Duration)>> {
        service::pool::raise_scheduling_group(nice);
        let pool = service::pool::SearchPool::scheduled(threads, scheduling);
        let period = Duration::from_secs_f64(1.0 / rate);
        let start = Instant::now();
        let times = Arc::new(Mutex::new(Vec::new()));
        let failed: Arc<Mutex<Option<String>>> = Arc::default();
        for (i, query) in self.queries.iter().cycle().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let due = start + period.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (load, query, times, failed) =
                (self.clone(), query.clone(), times.clone(), failed.clone());
            pool.spawn(move || {
                let (searcher, _) = load.catalog.live_searcher();
                match load.search(&searcher, &query) {
                    Ok(()) => lock(&times).push((due, due.elapsed())),
                    Err(e) => *lock(&failed) = Some(format!("{query}: {e}")),
                }
            })?;
        }
        // The last searches handed over finish before the pool goes.
        pool.drain();
        if let Some(failure) = lock(&failed).take() {
            anyhow::bail!("a search failed: {failure}");
        }
        let mut times = std::mem::take(&mut *lock(&times));
        times.sort_by_key(|(due, _)| *due);
        Ok(times)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The spam a searcher still served, as of when the watcher saw it.
#[derive(Debug, Clone, Copy)]
struct Remaining {
    at: Instant,
    count: u64,
}

/// What the watcher saw of the live events.
struct Watched {
    /// Event time and milliseconds until a searcher showed it, per live event.
    seen: Vec<(DateTime<Utc>, f64)>,
    /// Live events no searcher showed at their version.
    unseen: u64,
    /// The share of one core the watcher itself took (it shares the machine with what it
    /// measures), and the part of it spent counting the spam.
    busy: f64,
    counting: f64,
}

/// Looks at every new searcher of the live generation (polling every [`POLL`]) until `stop`
/// and the last tick is seen (or [`DRAIN`] passed): which live events it shows, and how much
/// spam it serves, sent to `remaining` with the time the searcher appeared. Counting is held
/// back to once per [`COUNT_EVERY`]; a searcher left uncounted is counted when that passed,
/// even if no newer one came (the cleanup's last commit may be the last for a while).
fn watch_live(
    catalog: &Generations,
    spam: &Spam,
    ticks: mpsc::Receiver<Tick>,
    remaining: watch::Sender<Remaining>,
    stop: &AtomicBool,
) -> anyhow::Result<Watched> {
    let mut outstanding: VecDeque<Tick> = VecDeque::new();
    let mut seen = Vec::new();
    let mut last = None;
    let mut counted: Option<Instant> = None;
    // When the newest searcher appeared, while it is not counted yet.
    let mut uncounted: Option<Instant> = None;
    let mut stopping: Option<Instant> = None;
    let started = Instant::now();
    let (mut busy, mut counting) = (Duration::ZERO, Duration::ZERO);
    loop {
        let mut closed = false;
        loop {
            match ticks.try_recv() {
                Ok(tick) => outstanding.push_back(tick),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            let since = *stopping.get_or_insert_with(Instant::now);
            if (closed && outstanding.is_empty()) || since.elapsed() > DRAIN {
                break;
            }
        }
        let working = Instant::now();
        let live = catalog.live();
        let searcher = live.searcher();
        let generation = searcher.generation().generation_id();
        let fresh = last != Some(generation);
        let definitions = live.definitions();
        if fresh {
            last = Some(generation);
            uncounted = Some(Instant::now());
            let versions = Versions::of(&searcher, &definitions)?;
            scan(
                &mut outstanding,
                |id| versions.get(id),
                Utc::now(),
                &mut seen,
            );
        }
        if let Some(at) = uncounted
            && counted.is_none_or(|counted| counted.elapsed() >= COUNT_EVERY)
        {
            let now = Instant::now();
            (counted, uncounted) = (Some(now), None);
            let count = spam_left(&searcher, &definitions, spam)?;
            counting += now.elapsed();
            remaining.send_replace(Remaining { at, count });
        }
        busy += working.elapsed();
        if !fresh {
            std::thread::sleep(POLL);
        }
    }
    let unseen = outstanding.iter().map(|tick| tick.ids.len() as u64).sum();
    let share = |d: Duration| d.as_secs_f64() / started.elapsed().as_secs_f64().max(1e-9);
    Ok(Watched {
        seen,
        unseen,
        busy: share(busy),
        counting: share(counting),
    })
}

/// Moves the live events a searcher shows at (or past) their event time from `outstanding`
/// into `seen`, timed to `now`. Ticks are looked at in publish order up to the first one of
/// which nothing showed yet: the queue delivers in order, so the later ones have not shown
/// either, and the work per searcher stays what it newly shows.
fn scan(
    outstanding: &mut VecDeque<Tick>,
    version: impl Fn(i64) -> Option<Version>,
    now: DateTime<Utc>,
    seen: &mut Vec<(DateTime<Utc>, f64)>,
) {
    let mut i = 0;
    while let Some(tick) = outstanding.get_mut(i) {
        let floor = Version::from_datetime(tick.at);
        let before = tick.ids.len();
        tick.ids
            .retain(|id| version(*id).is_none_or(|shown| shown < floor));
        let shown = before - tick.ids.len();
        let ms = (now - tick.at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e3;
        seen.extend(std::iter::repeat_n((tick.at, ms), shown));
        tick.begun |= shown > 0;
        if tick.ids.is_empty() {
            outstanding.remove(i);
        } else if tick.begun {
            i += 1;
        } else {
            break;
        }
    }
}

/// A searcher's tracks' versions, by key: the key's postings in each segment, the first alive
/// document's `version` fast field.
struct Versions<'a> {
    definitions: &'a Definitions,
    segments: Vec<(
        Arc<InvertedIndexReader>,
        Column<u64>,
        Option<&'a AliveBitSet>,
    )>,
}

impl<'a> Versions<'a> {
    fn of(searcher: &'a Searcher, definitions: &'a Definitions) -> tantivy::Result<Versions<'a>> {
        let key = definitions.system().key;
        let segments = (searcher.segment_readers().iter())
            .map(|segment| {
                Ok((
                    segment.inverted_index(key)?,
                    segment
                        .fast_fields()
                        .u64(schemas::definition::system::VERSION)?,
                    segment.alive_bitset(),
                ))
            })
            .collect::<tantivy::Result<_>>()?;
        Ok(Versions {
            definitions,
            segments,
        })
    }

    fn get(&self, track: i64) -> Option<Version> {
        let term = self
            .definitions
            .key_term(EntityKey::new(EntityKind::Track, track));
        for (inverted, versions, alive) in &self.segments {
            let Ok(Some(mut postings)) = inverted.read_postings(&term, IndexRecordOption::Basic)
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    return versions.first(doc).map(Version);
                }
                doc = postings.advance();
            }
        }
        None
    }
}

/// Spam documents `searcher` serves: documents whose `owner_id` is a spam account (tracks,
/// sets; a tombstone carries no `owner_id`), and the spam accounts' own that are no tombstone.
fn spam_left(searcher: &Searcher, definitions: &Definitions, spam: &Spam) -> anyhow::Result<u64> {
    let system = definitions.system();
    let owner = definitions
        .field("owner_id")
        .context("the definitions have no owner_id field")?;
    let owners = spam.owners();
    let made = RangeQuery::new(
        Bound::Included(Term::from_field_i64(owner, owners.start)),
        Bound::Excluded(Term::from_field_i64(owner, owners.end)),
    );
    let made = searcher.search(&made, &Count)?;
    let users: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_text(system.kind, EntityKind::User.as_str()),
        IndexRecordOption::Basic,
    ));
    let tombstone = TermQuery::new(
        Term::from_field_u64(system.tombstone, 1),
        IndexRecordOption::Basic,
    );
    let people = BooleanQuery::new(vec![
        (Occur::Must, users),
        (Occur::MustNot, Box::new(tombstone)),
    ]);
    let spammers = FilterCollector::new(
        schemas::definition::system::ID.to_string(),
        move |id: i64| owners.contains(&id),
        Count,
    );
    Ok((made + searcher.search(&people, &spammers)?) as u64)
}

/// Counts the indexer's announcements while `counting`, until the indexer stops.
fn count_writes(
    mut changes: broadcast::Receiver<IndexChange>,
    spam: Spam,
    counting: Arc<AtomicBool>,
) -> Written {
    use broadcast::error::RecvError;
    let mut written = Written::default();
    loop {
        let change = changes.blocking_recv();
        if !counting.load(Ordering::Relaxed) {
            if matches!(change, Err(RecvError::Closed)) {
                return written;
            }
            continue;
        }
        match change {
            Ok(change) => {
                let counter = match (spam.is_spam(change.key), change.row.is_some()) {
                    (true, false) => &mut written.spam_tombstones,
                    (true, true) => &mut written.spam_documents,
                    (false, true) => &mut written.other_documents,
                    (false, false) => &mut written.other_tombstones,
                };
                *counter += 1;
            }
            Err(RecvError::Lagged(n)) => written.missed += n,
            Err(RecvError::Closed) => return written,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn tick(ms: i64, ids: &[i64]) -> Tick {
        Tick {
            at: at(ms),
            ids: ids.to_vec(),
            begun: false,
        }
    }

    #[test]
    fn a_scan_times_what_shows_at_its_version_and_stops_at_the_first_unseen_tick() {
        let mut outstanding: VecDeque<Tick> =
            [tick(0, &[1, 2]), tick(10, &[3, 4]), tick(20, &[5])].into();
        // Track 1 shows at its event's version, 2 at an older one (not yet its event's); nothing
        // of tick 10 shows, so tick 20 is not looked at although 5 would show.
        let shown: HashMap<i64, DateTime<Utc>> = [(1, at(0)), (2, at(-5)), (5, at(20))].into();
        let version = |id: i64| shown.get(&id).map(|at| Version::from_datetime(*at));
        let mut seen = Vec::new();
        scan(&mut outstanding, version, at(100), &mut seen);
        assert_eq!(seen, [(at(0), 100.0)]);
        let left: Vec<&[i64]> = outstanding.iter().map(|t| t.ids.as_slice()).collect();
        assert_eq!(left, [&[2][..], &[3, 4], &[5]]);

        // 3 shows at a newer version (the newer row includes the change); tick 10 has begun,
        // so a missing 4 no longer hides tick 20 behind it.
        let shown: HashMap<i64, DateTime<Utc>> = [(2, at(0)), (3, at(15)), (5, at(20))].into();
        let version = |id: i64| shown.get(&id).map(|at| Version::from_datetime(*at));
        scan(&mut outstanding, version, at(150), &mut seen);
        assert_eq!(
            seen[1..],
            [(at(0), 150.0), (at(10), 140.0), (at(20), 130.0)]
        );
        let left: Vec<&[i64]> = outstanding.iter().map(|t| t.ids.as_slice()).collect();
        assert_eq!(left, [&[4][..]]);
    }

    #[test]
    fn spam_is_the_first_rows_of_each_kind_from_the_base() {
        let spam = Spam {
            base: 1_000_000,
            users: 10,
            tracks: 200,
            sets: 20,
            group_tracks: 0,
            group_members: 0,
        };
        let is = |kind, id| spam.is_spam(EntityKey::new(kind, id));
        assert!(is(EntityKind::User, 1_000_009) && !is(EntityKind::User, 1_000_010));
        assert!(is(EntityKind::Track, 1_000_199) && !is(EntityKind::Track, 999_999));
        assert!(is(EntityKind::Playlist, 1_000_000) && !is(EntityKind::Playlist, 1_000_020));
        assert!(!is(EntityKind::Group, 1_000_000));
        assert_eq!(spam.documents(), 230);
        assert_eq!(spam.owners(), 1_000_000..1_000_010);
    }

    fn report() -> TakedownReport {
        let latency = |published, visible, p99_ms| Latency {
            published,
            visible,
            p50_ms: 50.0,
            p99_ms,
            max_ms: p99_ms,
        };
        let searches = |p99_ms| Searches {
            done: 2000,
            p50_ms: 1.0,
            p99_ms,
            max_ms: p99_ms,
        };
        TakedownReport {
            mode: "in-process bus, PostgreSQL".into(),
            catalog: Catalog::default(),
            spam: Spam {
                base: 1_000_000,
                users: 10_000,
                tracks: 200_000,
                sets: 20_000,
                group_tracks: 50_000,
                group_members: 50_000,
            },
            insert_seconds: 1.0,
            build: ReindexReport {
                generation: indexer::Generation(2),
                rows: Default::default(),
                indexed: 0,
                tombstones: 0,
                seconds: 1.0,
            },
            documents: 0,
            live_rate: 1000,
            search_rate: 200.0,
            search_threads: 1,
            merged: false,
            quiet_seconds: 10.0,
            quiet_live: latency(10_000, 10_000, 150.0),
            quiet_searches: searches(4.0),
            cleanup: Cleanup {
                statements: Vec::new(),
                events: 10_000,
                publish_seconds: 0.2,
                spam_before: 230_000,
                gone_seconds: Some(4.2),
                spam_left: 0,
                seconds: 6.0,
                live: latency(6_000, 6_000, 1000.0),
                searches: searches(8.0),
                searches_statements: searches(9.0),
                searches_events: searches(7.0),
            },
            written: Written::default(),
            unseen: 0,
            watcher_busy: 0.05,
            watcher_counting: 0.01,
            verify: None,
        }
    }

    #[test]
    fn the_report_judges_each_target() {
        let mut r = report();
        assert!(r.gone_met() && r.live_met() && r.search_met());
        assert!(!r.to_string().contains("NOT MET"), "{r}");
        assert_eq!(r.to_json()["targets"]["search_p99_ratio"], json!(2.0));

        r.cleanup.gone_seconds = None;
        r.cleanup.spam_left = 17;
        r.cleanup.live.visible -= 1;
        r.cleanup.searches.p99_ms = 8.1;
        assert!(!r.gone_met() && !r.live_met() && !r.search_met());
        let text = r.to_string();
        assert!(text.contains("17 left after"), "{text}");
        assert_eq!(text.matches("NOT MET").count(), 4, "{text}");
        assert_eq!(r.to_json()["targets"]["gone_met"], json!(false));

        r.quiet_searches.p99_ms = 0.0;
        assert_eq!(r.search_ratio(), None);
        assert!(!r.search_met());
    }
}
