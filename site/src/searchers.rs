//! Simulated searchers, so that experiments have traffic wherever the demo runs: visitors
//! search the running query service over HTTP, read the results top-down under a cascade click
//! model and report impressions and clicks exactly as the web page does.
//!
//! A visitor is a session (its id derived from the seed and the visitor's number) making a few
//! searches. Each search has an intent drawn from the catalog, read once at the start
//! (searchable entities only, each weighted by its [`ActivityCounts`] popularity):
//!
//! - [`SearchClass::Name`]: the name of an entity they know, typed as written, in lower case
//!   ([`SearchClass::NameLower`]) or with one keyboard slip ([`SearchClass::NameSlip`]);
//! - [`SearchClass::Word`]: a word several names share ("love"), meaning one of those entities;
//! - [`SearchClass::Explore`]: browsing Explore, meaning nothing in particular.
//!
//! The truth is known: the intended entity is grade 3, an entity with every word of the query
//! in one of its names grade 1, any other grade 0. The visitor examines results from the top,
//! clicks each with its grade's chance, stops once it has clicked the one it meant, and else
//! goes on to the next with the chance of its patience ([`cascade`]).
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), site::searchers::SearcherError> {
//! use site::searchers::{SearcherOptions, Searchers, Traffic};
//! let options = SearcherOptions {
//!     base_url: "http://127.0.0.1:8080".to_string(),
//!     ..SearcherOptions::default()
//! };
//! let searchers = Searchers::load(&db, &options).await?;
//! let report = searchers.run(Traffic::Visitors(100)).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use schemas::analyzer::name_key;
use schemas::db::Db;
use schemas::keyboard::neighbours;
use schemas::popularity::{ActivityCounts, counts_sql};
use schemas::searchable::condition;
use schemas::{EntityKey, EntityKind};
use serde::{Deserialize, Serialize};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use crate::SiteError;

/// Results asked for and read: one page, as the web page shows it.
pub const PAGE_SIZE: usize = 10;

/// The most events one `POST /events` may carry (the service's limit).
pub const MAX_EVENTS_PER_BODY: usize = 50;

/// The grade of the entity the visitor meant.
pub const GRADE_INTENDED: u8 = 3;
/// The grade of an entity with every word of the query in one of its names.
pub const GRADE_HAS_EVERY_WORD: u8 = 1;
/// The grade of any other entity.
pub const GRADE_UNRELATED: u8 = 0;

/// A shared word must be in at least this many names: with fewer it names one thing.
const SHARED_WORD_MIN_NAMES: usize = 3;
/// A word in more than this share of names is too common to mean anything on its own.
const SHARED_WORD_MAX_SHARE: f64 = 0.05;
/// A shared word has at least this many characters: shorter ones are mostly particles ("and",
/// "you", "des") and numbers.
const SHARED_WORD_MIN_CHARS: usize = 4;

/// Runs one catalog statement on either dialect, wrapping a failure with `$context`.
macro_rules! fetch_all {
    ($db:expr, $sql:expr, $row:ty, $context:expr) => {
        match $db {
            Db::Postgres(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await,
            Db::Sqlite(pool) => sqlx::query_as::<_, $row>($sql).fetch_all(pool).await,
        }
        .map_err(SiteError::db($context))?
    };
}

/// What can stop the searchers from starting. Once they run, failed requests are counted in
/// the report, never returned.
#[derive(Debug, thiserror::Error)]
pub enum SearcherError {
    /// Reading the catalog failed, or an option is out of range.
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error("nothing to search for: the database holds no searchable entity (seed it first)")]
    EmptyCatalog,
    #[error("query service URL {url}: {message}")]
    BaseUrl { url: String, message: String },
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// How the simulated visitors behave, and their seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SearcherOptions {
    /// Drives every choice: the same seed gives the same sessions and queries, and, for the
    /// same answers, the same clicks.
    pub seed: u64,
    /// The query service, e.g. `http://127.0.0.1:8080` (plain HTTP: this build has no TLS).
    pub base_url: String,
    /// How many searches one visitor makes.
    pub searches_per_visitor: RangeInclusive<u32>,
    /// What the searches are for.
    pub mix: SearchMix,
    /// How names are typed.
    pub typing: Typing,
    /// How the results of a search are read.
    pub clicks: ClickModel,
    /// The chance of clicking an examined result on Explore, where nothing was looked for.
    pub browse_click: f64,
    /// Visitors searching at the same time when running a number of visitors.
    pub concurrency: usize,
    /// How long one request may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for SearcherOptions {
    fn default() -> Self {
        SearcherOptions {
            seed: 1,
            base_url: "http://127.0.0.1:8080".to_string(),
            searches_per_visitor: 1..=4,
            mix: SearchMix::default(),
            typing: Typing::default(),
            clicks: ClickModel::default(),
            browse_click: 0.05,
            concurrency: 4,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The relative weights of the kinds of search; they need not add up to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchMix {
    /// A name the visitor knows.
    pub name: f64,
    /// A word several names share.
    pub word: f64,
    /// Browsing Explore.
    pub explore: f64,
}

impl Default for SearchMix {
    fn default() -> Self {
        SearchMix {
            name: 0.6,
            word: 0.3,
            explore: 0.1,
        }
    }
}

/// How a known name is typed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Typing {
    /// The chance of typing it all in lower case.
    pub lowercase: f64,
    /// The chance of one keyboard slip ([`slip`]).
    pub slip: f64,
}

impl Default for Typing {
    fn default() -> Self {
        Typing {
            lowercase: 0.4,
            slip: 0.1,
        }
    }
}

/// The cascade click model: how likely a visitor is to click what it examines, and to go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClickModel {
    /// The chance of clicking an examined result, by its grade (index 0 to 3).
    pub click_by_grade: [f64; 4],
    /// The chance of examining the next result after one that did not satisfy.
    pub patience: f64,
}

impl Default for ClickModel {
    fn default() -> Self {
        ClickModel {
            click_by_grade: [0.02, 0.15, 0.5, 0.9],
            patience: 0.85,
        }
    }
}

impl ClickModel {
    /// The chance of clicking an examined result of `grade` (grades above 3 count as 3).
    pub fn click_chance(&self, grade: u8) -> f64 {
        self.click_by_grade[usize::from(grade.min(GRADE_INTENDED))]
    }
}

/// How many visitors come, or at what pace and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Traffic {
    /// This many visitors, [`SearcherOptions::concurrency`] of them at a time.
    Visitors(u64),
    /// New visitors at a steady `per_second`, each running to its end, until `duration` has
    /// passed.
    Rate { per_second: f64, duration: Duration },
}

/// What a search was for, as reports count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SearchClass {
    /// A known name, typed as written.
    Name,
    /// A known name, typed in lower case.
    NameLower,
    /// A known name with one keyboard slip.
    NameSlip,
    /// A word several names share.
    Word,
    /// Browsing Explore.
    Explore,
}

impl SearchClass {
    pub const ALL: [SearchClass; 5] = [
        SearchClass::Name,
        SearchClass::NameLower,
        SearchClass::NameSlip,
        SearchClass::Word,
        SearchClass::Explore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchClass::Name => "name",
            SearchClass::NameLower => "name-lower",
            SearchClass::NameSlip => "name-slip",
            SearchClass::Word => "word",
            SearchClass::Explore => "explore",
        }
    }
}

/// Padded as asked, so report columns line up.
impl fmt::Display for SearchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One search a visitor will make, before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSearch {
    pub class: SearchClass,
    /// What is typed; empty for Explore.
    pub query: String,
    /// The entity the visitor means; `None` when browsing.
    pub intent: Option<EntityKey>,
}

impl PlannedSearch {
    /// Browsing Explore: nothing typed, nothing meant.
    pub fn explore() -> PlannedSearch {
        PlannedSearch {
            class: SearchClass::Explore,
            query: String::new(),
            intent: None,
        }
    }
}

/// What a search is drawn for, in [`SearchMix`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Name,
    Word,
    Browse,
}

impl Intent {
    const ALL: [Intent; 3] = [Intent::Name, Intent::Word, Intent::Browse];
}

/// One visitor's session and searches, drawn before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub number: u64,
    /// The `disco_session` cookie: 1–64 of `[A-Za-z0-9_-]`.
    pub session: String,
    pub searches: Vec<PlannedSearch>,
}

/// One searchable entity as visitors know it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntity {
    pub key: EntityKey,
    /// The names it is searched by: a user's full name and username, otherwise the title or
    /// group name.
    pub names: Vec<String>,
    /// Its [`ActivityCounts::popularity`].
    pub popularity: f64,
}

/// The searchable entities visitors draw their intents from, with the words names share.
#[derive(Debug, Clone)]
pub struct Catalog {
    entities: Vec<CatalogEntity>,
    index_of: HashMap<EntityKey, usize>,
    /// Draws an entity index, weighted by [`draw_weight`]; `None` when there is none.
    by_popularity: Option<WeightedIndex<f64>>,
    shared_words: Vec<SharedWord>,
    /// Draws a shared word, weighted by the summed weight of the entities that have it.
    by_word_weight: Option<WeightedIndex<f64>>,
}

/// A word several names have, and the entities that have it.
#[derive(Debug, Clone)]
struct SharedWord {
    word: String,
    entities: Vec<usize>,
    by_popularity: WeightedIndex<f64>,
}

/// How often an entity is meant: its popularity plus one, so an entity nobody has played yet
/// is still looked for now and then (someone sent its link), and a catalog without activity
/// still has traffic.
fn draw_weight(entity: &CatalogEntity) -> f64 {
    1.0 + entity.popularity.max(0.0)
}

/// The words of a name or query as the index compares them: folded, one per position.
fn words(text: &str) -> Vec<String> {
    name_key(text)
        .split(' ')
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

impl Catalog {
    /// A catalog of `entities`; names that are blank are dropped, and so are entities left
    /// with no name (nobody can type them).
    pub fn new(entities: Vec<CatalogEntity>) -> Catalog {
        let entities: Vec<CatalogEntity> = entities
            .into_iter()
            .map(|mut entity| {
                entity.names.retain(|name| !name.trim().is_empty());
                entity
            })
            .filter(|entity| !entity.names.is_empty())
            .collect();
        let index_of = (entities.iter().enumerate())
            .map(|(index, entity)| (entity.key, index))
            .collect();
        let by_popularity = WeightedIndex::new(entities.iter().map(draw_weight)).ok();
        let shared_words = find_shared_words(&entities);
        let by_word_weight = WeightedIndex::new(shared_words.iter().map(|shared| {
            (shared.entities.iter())
                .map(|&index| draw_weight(&entities[index]))
                .sum::<f64>()
        }))
        .ok();
        Catalog {
            entities,
            index_of,
            by_popularity,
            shared_words,
            by_word_weight,
        }
    }

    /// Reads every searchable entity ([`schemas::searchable`]) with its popularity, in id
    /// order per kind so that a seed draws the same intents from the same database.
    pub async fn load(db: &Db) -> Result<Catalog, SearcherError> {
        let sql = &*STATEMENTS;
        let mut entities = Vec::new();
        type UserRow = (i64, String, String, i64, i64);
        for (id, username, full_name, followers, tracks) in fetch_all!(
            db,
            sql.users.as_str(),
            UserRow,
            "reading the searchable users"
        ) {
            let names = if full_name.trim() == username.trim() {
                vec![username]
            } else {
                vec![full_name, username]
            };
            entities.push(CatalogEntity {
                key: EntityKey::new(EntityKind::User, id),
                names,
                popularity: ActivityCounts::User { followers, tracks }.popularity(),
            });
        }
        type TrackRow = (i64, String, i64, i64, i64);
        for (id, title, plays, likes, reposts) in fetch_all!(
            db,
            sql.tracks.as_str(),
            TrackRow,
            "reading the searchable tracks"
        ) {
            let counts = ActivityCounts::Track {
                plays,
                likes,
                reposts,
            };
            entities.push(CatalogEntity {
                key: EntityKey::new(EntityKind::Track, id),
                names: vec![title],
                popularity: counts.popularity(),
            });
        }
        type CountedRow = (i64, String, i64, i64);
        for (id, title, likes, tracks) in fetch_all!(
            db,
            sql.playlists.as_str(),
            CountedRow,
            "reading the searchable sets"
        ) {
            entities.push(CatalogEntity {
                key: EntityKey::new(EntityKind::Playlist, id),
                names: vec![title],
                popularity: ActivityCounts::Playlist { likes, tracks }.popularity(),
            });
        }
        for (id, name, members, tracks) in fetch_all!(
            db,
            sql.groups.as_str(),
            CountedRow,
            "reading the searchable groups"
        ) {
            entities.push(CatalogEntity {
                key: EntityKey::new(EntityKind::Group, id),
                names: vec![name],
                popularity: ActivityCounts::Group { members, tracks }.popularity(),
            });
        }
        Ok(Catalog::new(entities))
    }

    /// How many entities can be meant.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The words several names share, which [`SearchClass::Word`] searches type.
    pub fn shared_words(&self) -> impl Iterator<Item = &str> {
        self.shared_words.iter().map(|shared| shared.word.as_str())
    }

    /// A known name: an entity drawn by popularity, one of its names, typed per `typing`.
    /// `None` when the catalog is empty.
    pub fn draw_name(&self, typing: &Typing, rng: &mut impl Rng) -> Option<PlannedSearch> {
        let entity = &self.entities[self.by_popularity.as_ref()?.sample(rng)];
        let name = entity.names.choose(rng)?;
        let lower = rng.random_bool(typing.lowercase);
        let typed = if lower {
            name.to_lowercase()
        } else {
            name.clone()
        };
        let slipped = if rng.random_bool(typing.slip) {
            slip(&typed, rng)
        } else {
            None
        };
        let (class, query) = match slipped {
            Some(slipped) => (SearchClass::NameSlip, slipped),
            None if lower => (SearchClass::NameLower, typed),
            None => (SearchClass::Name, typed),
        };
        Some(PlannedSearch {
            class,
            query,
            intent: Some(entity.key),
        })
    }

    /// A shared word, and the entity meant by it drawn by popularity among those that have
    /// it. `None` when no word is shared.
    pub fn draw_word(&self, rng: &mut impl Rng) -> Option<PlannedSearch> {
        let shared = &self.shared_words[self.by_word_weight.as_ref()?.sample(rng)];
        let meant = shared.entities[shared.by_popularity.sample(rng)];
        Some(PlannedSearch {
            class: SearchClass::Word,
            query: shared.word.clone(),
            intent: Some(self.entities[meant].key),
        })
    }

    /// How well `key` answers `search`: [`GRADE_INTENDED`] for the entity meant,
    /// [`GRADE_HAS_EVERY_WORD`] when one of its names has every word of the query,
    /// [`GRADE_UNRELATED`] otherwise (and for anything on Explore, where nothing was typed).
    /// An entity the catalog does not know (created since it was read) is judged by
    /// `shown_title`.
    pub fn grade(&self, search: &PlannedSearch, key: EntityKey, shown_title: &str) -> u8 {
        if search.intent == Some(key) {
            return GRADE_INTENDED;
        }
        let query = words(&search.query);
        if query.is_empty() {
            return GRADE_UNRELATED;
        }
        let names: Vec<&str> = match self.index_of.get(&key) {
            Some(&index) => self.entities[index]
                .names
                .iter()
                .map(String::as_str)
                .collect(),
            None => vec![shown_title],
        };
        let has_every_word = names.iter().any(|name| {
            let name_words = words(name);
            query.iter().all(|word| name_words.contains(word))
        });
        if has_every_word {
            GRADE_HAS_EVERY_WORD
        } else {
            GRADE_UNRELATED
        }
    }
}

/// The words in at least [`SHARED_WORD_MIN_NAMES`] entities' names but no more than
/// [`SHARED_WORD_MAX_SHARE`] of them, in word order.
fn find_shared_words(entities: &[CatalogEntity]) -> Vec<SharedWord> {
    let mut holders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, entity) in entities.iter().enumerate() {
        let distinct: BTreeSet<String> = entity.names.iter().flat_map(|n| words(n)).collect();
        for word in distinct {
            let chars = word.chars().count();
            if chars >= SHARED_WORD_MIN_CHARS && word.chars().any(char::is_alphabetic) {
                holders.entry(word).or_default().push(index);
            }
        }
    }
    let most =
        SHARED_WORD_MIN_NAMES.max((SHARED_WORD_MAX_SHARE * entities.len() as f64).floor() as usize);
    holders
        .into_iter()
        .filter(|(_, held)| (SHARED_WORD_MIN_NAMES..=most).contains(&held.len()))
        .filter_map(|(word, entities_with_it)| {
            let weights = entities_with_it.iter().map(|&i| draw_weight(&entities[i]));
            let by_popularity = WeightedIndex::new(weights).ok()?;
            Some(SharedWord {
                word,
                entities: entities_with_it,
                by_popularity,
            })
        })
        .collect()
}

/// `text` with one ASCII letter replaced by a neighbouring key (its case kept), never the
/// first letter of a word: people rarely miss a word's first key, and the engine's typo
/// tolerance holds it too (the engine's `FirstLetterFuzzy`). `None` when no letter can slip
/// (short words, non-Latin scripts).
pub fn slip(text: &str, rng: &mut impl Rng) -> Option<String> {
    let mut chars: Vec<char> = text.chars().collect();
    let slippable: Vec<usize> = (1..chars.len())
        .filter(|&i| {
            chars[i - 1].is_alphanumeric() && !neighbours(chars[i].to_ascii_lowercase()).is_empty()
        })
        .collect();
    let &at = slippable.choose(rng)?;
    let near = neighbours(chars[at].to_ascii_lowercase()).as_bytes();
    let key = char::from(*near.choose(rng)?);
    chars[at] = if chars[at].is_ascii_uppercase() {
        key.to_ascii_uppercase()
    } else {
        key
    };
    Some(chars.into_iter().collect())
}

/// What a visitor did with one page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cascade {
    /// How many results, from the top, it looked at.
    pub examined: usize,
    /// The 1-based positions it clicked, top first.
    pub clicks: Vec<usize>,
}

/// Reads results of `grades` (top first) under the cascade model: examines position 1, clicks
/// it with its grade's chance, stops after clicking a [`GRADE_INTENDED`] result (satisfied),
/// and otherwise examines the next with the chance `model.patience`, up to [`PAGE_SIZE`].
pub fn cascade(grades: &[u8], model: &ClickModel, rng: &mut impl Rng) -> Cascade {
    let mut read = Cascade::default();
    for (index, &grade) in grades.iter().take(PAGE_SIZE).enumerate() {
        read.examined = index + 1;
        if rng.random_bool(model.click_chance(grade)) {
            read.clicks.push(index + 1);
            if grade >= GRADE_INTENDED {
                break;
            }
        }
        if !rng.random_bool(model.patience) {
            break;
        }
    }
    read
}

/// What one kind of search came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// Searches answered.
    pub searches: u64,
    pub zero_results: u64,
    pub clicks: u64,
    /// Searches whose intended entity was clicked.
    pub found: u64,
}

/// What a run did. Searches count only those answered; the others are failed requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchersReport {
    pub visitors: u64,
    pub searches: u64,
    pub zero_result_searches: u64,
    pub clicks: u64,
    /// Searches whose intended entity was clicked.
    pub found: u64,
    pub events_sent: u64,
    pub events_accepted: u64,
    /// Events the service answered 4xx to, or left out of its `accepted` count.
    pub events_rejected: u64,
    /// Requests that got no usable answer: unreachable, timed out, 5xx, unreadable, or a
    /// search answered 4xx.
    pub failed_requests: u64,
    pub by_class: BTreeMap<SearchClass, ClassCounts>,
    pub elapsed: Duration,
}

impl SearchersReport {
    /// Adds `other`'s counts (not its elapsed time) to these.
    pub fn absorb(&mut self, other: &SearchersReport) {
        self.visitors += other.visitors;
        self.searches += other.searches;
        self.zero_result_searches += other.zero_result_searches;
        self.clicks += other.clicks;
        self.found += other.found;
        self.events_sent += other.events_sent;
        self.events_accepted += other.events_accepted;
        self.events_rejected += other.events_rejected;
        self.failed_requests += other.failed_requests;
        for (class, counts) in &other.by_class {
            let mine = self.by_class.entry(*class).or_default();
            mine.searches += counts.searches;
            mine.zero_results += counts.zero_results;
            mine.clicks += counts.clicks;
            mine.found += counts.found;
        }
    }
}

impl fmt::Display for SearchersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-3);
        writeln!(
            f,
            "{} visitors, {} searches ({} with no results), {} clicks, {} found what they meant \
             in {secs:.1} s ({:.1} searches/s)",
            self.visitors,
            self.searches,
            self.zero_result_searches,
            self.clicks,
            self.found,
            self.searches as f64 / secs
        )?;
        writeln!(
            f,
            "events: {} sent, {} accepted, {} rejected; {} requests failed",
            self.events_sent, self.events_accepted, self.events_rejected, self.failed_requests
        )?;
        for (class, counts) in &self.by_class {
            writeln!(
                f,
                "  {class:<11} {:>7} searches {:>6} no results {:>7} clicks {:>7} found",
                counts.searches, counts.zero_results, counts.clicks, counts.found
            )?;
        }
        Ok(())
    }
}

/// The visitors, ready to search one query service. Cheap to clone: each visitor runs as its
/// own task on a clone.
#[derive(Debug, Clone)]
pub struct Searchers {
    catalog: Arc<Catalog>,
    options: Arc<SearcherOptions>,
    /// Draws an index of [`Intent::ALL`] by the mix, with what the catalog cannot give
    /// weighed 0.
    intents: WeightedIndex<f64>,
    http: Http,
}

impl Searchers {
    /// Reads the catalog from `db` and readies the visitors.
    pub async fn load(db: &Db, options: &SearcherOptions) -> Result<Searchers, SearcherError> {
        let catalog = Catalog::load(db).await?;
        tracing::info!(
            entities = catalog.len(),
            shared_words = catalog.shared_words.len(),
            "searchers read the catalog"
        );
        Searchers::new(catalog, options)
    }

    /// Visitors drawing from `catalog`. Fails on an option out of range, a base URL that is
    /// not plain HTTP, or a catalog that gives none of the searches the mix asks for.
    pub fn new(catalog: Catalog, options: &SearcherOptions) -> Result<Searchers, SearcherError> {
        check_options(options)?;
        let mix = options.mix;
        if catalog.is_empty() && mix.name + mix.word > 0.0 {
            return Err(SearcherError::EmptyCatalog);
        }
        // Without shared words, word searches become name searches: the share of browsing
        // stays what was asked.
        let (name, word) = if catalog.by_word_weight.is_some() {
            (mix.name, mix.word)
        } else {
            if mix.word > 0.0 {
                tracing::info!(
                    "no word is shared by several names: word searches become name ones"
                );
            }
            (mix.name + mix.word, 0.0)
        };
        // The mix was checked to have a positive weight, and names exist when it asks for them.
        let intents = WeightedIndex::new([name, word, mix.explore])
            .map_err(|e| SiteError::Invalid(format!("the search mix: {e}")))?;
        Ok(Searchers {
            catalog: Arc::new(catalog),
            http: Http::new(options)?,
            options: Arc::new(options.clone()),
            intents,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Visitor `number`'s session and searches: a function of the seed and the number only.
    pub fn plan(&self, number: u64) -> Visit {
        self.plan_with(number, &mut self.visitor_rng(number))
    }

    /// Runs `traffic` and reports what happened. Errors only on a rate that is not positive;
    /// failed requests are counted, never returned.
    pub async fn run(&self, traffic: Traffic) -> Result<SearchersReport, SearcherError> {
        let started = Instant::now();
        let mut report = SearchersReport::default();
        let mut running = JoinSet::new();
        match traffic {
            Traffic::Visitors(visitors) => {
                let mut next = 0;
                while next < visitors || !running.is_empty() {
                    while next < visitors && running.len() < self.options.concurrency {
                        running.spawn(self.clone().visit(next));
                        next += 1;
                    }
                    if let Some(finished) = running.join_next().await {
                        absorb_visit(&mut report, finished);
                    }
                }
            }
            Traffic::Rate {
                per_second,
                duration,
            } => {
                if !(per_second.is_finite() && per_second > 0.0) {
                    return Err(SiteError::Invalid(format!(
                        "the visitor rate must be positive, not {per_second}"
                    ))
                    .into());
                }
                for number in 0u64.. {
                    let arrival = Duration::try_from_secs_f64(number as f64 / per_second);
                    let Some(arrival) = arrival.ok().filter(|at| *at < duration) else {
                        break;
                    };
                    tokio::time::sleep_until(started + arrival).await;
                    while let Some(finished) = running.try_join_next() {
                        absorb_visit(&mut report, finished);
                    }
                    running.spawn(self.clone().visit(number));
                }
            }
        }
        while let Some(finished) = running.join_next().await {
            absorb_visit(&mut report, finished);
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Visitor `number`'s own stream of the seed's generator: its draws do not depend on
    /// which visitors ran before it or beside it.
    fn visitor_rng(&self, number: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.options.seed);
        rng.set_stream(number);
        rng
    }

    fn plan_with(&self, number: u64, rng: &mut ChaCha8Rng) -> Visit {
        let count = rng.random_range(self.options.searches_per_visitor.clone());
        let searches = (0..count).map(|_| self.plan_search(rng)).collect();
        Visit {
            number,
            session: format!("sim{}-{number}", self.options.seed),
            searches,
        }
    }

    fn plan_search(&self, rng: &mut ChaCha8Rng) -> PlannedSearch {
        let planned = match Intent::ALL[self.intents.sample(rng)] {
            Intent::Name => self.catalog.draw_name(&self.options.typing, rng),
            Intent::Word => self.catalog.draw_word(rng),
            Intent::Browse => None,
        };
        planned.unwrap_or_else(PlannedSearch::explore)
    }

    /// One visitor, start to end: its searches one after another, each with its events.
    async fn visit(self, number: u64) -> SearchersReport {
        let mut rng = self.visitor_rng(number);
        let visit = self.plan_with(number, &mut rng);
        let mut report = SearchersReport {
            visitors: 1,
            ..SearchersReport::default()
        };
        for search in &visit.searches {
            self.search(&visit.session, search, &mut rng, &mut report)
                .await;
        }
        report
    }

    /// Makes `search`, reads the answer under the click model and reports what was shown and
    /// clicked. Nothing is reported for a page without results: nothing was shown.
    async fn search(
        &self,
        session: &str,
        search: &PlannedSearch,
        rng: &mut ChaCha8Rng,
        report: &mut SearchersReport,
    ) {
        let page = match self.http.results(session, search).await {
            Ok(page) => page,
            Err(failure) => {
                tracing::warn!(
                    session,
                    class = %search.class,
                    query = %search.query,
                    "search failed: {failure}"
                );
                report.failed_requests += 1;
                return;
            }
        };
        let shown: Vec<&ShownResult> = page.results.iter().take(PAGE_SIZE).collect();
        let counts = report.by_class.entry(search.class).or_default();
        counts.searches += 1;
        report.searches += 1;
        if shown.is_empty() {
            counts.zero_results += 1;
            report.zero_result_searches += 1;
            return;
        }
        let grades: Vec<u8> = (shown.iter())
            .map(|result| self.catalog.grade(search, result.key(), &result.title))
            .collect();
        let model = match search.class {
            SearchClass::Explore => ClickModel {
                click_by_grade: [self.options.browse_click; 4],
                ..self.options.clicks
            },
            _ => self.options.clicks,
        };
        let read = cascade(&grades, &model, rng);
        let found = (read.clicks.iter()).any(|&position| grades[position - 1] == GRADE_INTENDED);
        counts.clicks += read.clicks.len() as u64;
        counts.found += u64::from(found);
        report.clicks += read.clicks.len() as u64;
        report.found += u64::from(found);
        tracing::debug!(
            session,
            class = %search.class,
            query = %search.query,
            shown = shown.len(),
            examined = read.examined,
            clicks = ?read.clicks,
            "searched"
        );
        let mut events = vec![PageEvent::Impression {
            query_id: &page.query_id,
            shown: shown.iter().map(|result| result.key()).collect(),
        }];
        events.extend(read.clicks.iter().map(|&position| {
            let key = shown[position - 1].key();
            PageEvent::Click {
                query_id: &page.query_id,
                position,
                kind: key.kind,
                id: key.id,
            }
        }));
        self.http.report_events(session, &events, report).await;
    }
}

fn absorb_visit(report: &mut SearchersReport, finished: Result<SearchersReport, JoinError>) {
    match finished {
        Ok(visit) => report.absorb(&visit),
        Err(error) => tracing::error!("a visitor's task failed: {error}"),
    }
}

fn check_options(options: &SearcherOptions) -> Result<(), SearcherError> {
    let invalid = |message: String| Err(SearcherError::Site(SiteError::Invalid(message)));
    let mut chances = vec![
        ("patience", options.clicks.patience),
        ("browse click chance", options.browse_click),
        ("lower-case chance", options.typing.lowercase),
        ("slip chance", options.typing.slip),
    ];
    chances.extend(options.clicks.click_by_grade.map(|p| ("click chance", p)));
    for (what, chance) in chances {
        if !(0.0..=1.0).contains(&chance) {
            return invalid(format!("the {what} must be in 0..1, not {chance}"));
        }
    }
    let mix = options.mix;
    let weights = [mix.name, mix.word, mix.explore];
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
        return invalid(format!(
            "the search mix must be weights of 0 or more, not all 0 (name {}, word {}, explore {})",
            mix.name, mix.word, mix.explore
        ));
    }
    let searches = &options.searches_per_visitor;
    if searches.is_empty() || *searches.start() == 0 {
        return invalid(format!(
            "searches per visitor must be a range of 1 or more, not {searches:?}"
        ));
    }
    if options.concurrency == 0 {
        return invalid("concurrency must be 1 or more".to_string());
    }
    Ok(())
}

/// The query service's three endpoints, and a client with the request timeout.
#[derive(Debug, Clone)]
struct Http {
    client: reqwest::Client,
    search_url: String,
    explore_url: String,
    events_url: String,
}

/// A results page: the query service's answer to `/search` and `/explore`, the fields read.
#[derive(Debug, Deserialize)]
struct ResultsPage {
    query_id: String,
    results: Vec<ShownResult>,
}

#[derive(Debug, Deserialize)]
struct ShownResult {
    kind: EntityKind,
    id: i64,
    #[serde(default)]
    title: String,
}

impl ShownResult {
    fn key(&self) -> EntityKey {
        EntityKey::new(self.kind, self.id)
    }
}

#[derive(Debug, Deserialize)]
struct Accepted {
    accepted: u64,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: String,
}

/// An event as the web page reports it.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum PageEvent<'a> {
    Impression {
        query_id: &'a str,
        shown: Vec<EntityKey>,
    },
    Click {
        query_id: &'a str,
        position: usize,
        kind: EntityKind,
        id: i64,
    },
}

#[derive(Debug, Serialize)]
struct EventBatch<'a> {
    session: &'a str,
    events: &'a [PageEvent<'a>],
}

/// Why a request gave nothing usable.
#[derive(Debug, thiserror::Error)]
enum RequestFailure {
    #[error("{}", with_sources(.0))]
    Http(reqwest::Error),
    #[error("answered {status}: {message}")]
    Status { status: StatusCode, message: String },
}

/// An error and its causes, `: `-joined (reqwest's own message leaves out why it failed).
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The service's `{"error": …}`, else the start of whatever it answered.
async fn error_message(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorAnswer>(&body) {
        Ok(answer) => answer.error,
        Err(_) => body.chars().take(200).collect(),
    }
}

fn session_cookie(session: &str) -> String {
    format!("disco_session={session}")
}

impl Http {
    fn new(options: &SearcherOptions) -> Result<Http, SearcherError> {
        let url = options.base_url.as_str();
        let bad_url = |message: String| SearcherError::BaseUrl {
            url: url.to_string(),
            message,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| bad_url(e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad_url(format!(
                "only http:// is supported (this build has no TLS), not {}://",
                parsed.scheme()
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(SearcherError::Client)?;
        let base = url.trim_end_matches('/');
        Ok(Http {
            client,
            search_url: format!("{base}/search"),
            explore_url: format!("{base}/explore"),
            events_url: format!("{base}/events"),
        })
    }

    /// One page of results for `search`, as the session's visitor.
    async fn results(
        &self,
        session: &str,
        search: &PlannedSearch,
    ) -> Result<ResultsPage, RequestFailure> {
        let limit = PAGE_SIZE.to_string();
        let request = match search.class {
            SearchClass::Explore => self
                .client
                .get(&self.explore_url)
                .query(&[("limit", &limit)]),
            _ => self
                .client
                .get(&self.search_url)
                .query(&[("q", &search.query), ("limit", &limit)]),
        };
        let response = (request.header(COOKIE, session_cookie(session)))
            .send()
            .await
            .map_err(RequestFailure::Http)?;
        let status = response.status();
        if !status.is_success() {
            let message = error_message(response).await;
            return Err(RequestFailure::Status { status, message });
        }
        response.json().await.map_err(RequestFailure::Http)
    }

    /// Posts `events` in bodies of at most [`MAX_EVENTS_PER_BODY`] and counts the answers.
    async fn report_events(
        &self,
        session: &str,
        events: &[PageEvent<'_>],
        report: &mut SearchersReport,
    ) {
        for batch in events.chunks(MAX_EVENTS_PER_BODY) {
            let sent = batch.len() as u64;
            report.events_sent += sent;
            match self.post_events(session, batch).await {
                Ok(accepted) => {
                    let accepted = accepted.min(sent);
                    report.events_accepted += accepted;
                    report.events_rejected += sent - accepted;
                }
                Err(RequestFailure::Status { status, message }) if status.is_client_error() => {
                    tracing::warn!(session, "events rejected: answered {status}: {message}");
                    report.events_rejected += sent;
                }
                Err(failure) => {
                    tracing::warn!(session, "reporting events failed: {failure}");
                    report.failed_requests += 1;
                }
            }
        }
    }

    /// How many of `events` the service accepted.
    async fn post_events(
        &self,
        session: &str,
        events: &[PageEvent<'_>],
    ) -> Result<u64, RequestFailure> {
        let response = (self.client.post(&self.events_url))
            .header(COOKIE, session_cookie(session))
            .json(&EventBatch { session, events })
            .send()
            .await
            .map_err(RequestFailure::Http)?;
        let status = response.status();
        if !status.is_success() {
            let message = error_message(response).await;
            return Err(RequestFailure::Status { status, message });
        }
        let answer: Accepted = response.json().await.map_err(RequestFailure::Http)?;
        Ok(answer.accepted)
    }
}

/// The catalog's statements, built once: the searchable rule and the counts
/// ([`counts_sql`]) are runtime strings.
struct Statements {
    /// id, username, full name, followers, searchable tracks.
    users: String,
    /// id, title, plays, likes, reposts.
    tracks: String,
    /// id, title, likes, tracks.
    playlists: String,
    /// id, name, members, tracks.
    groups: String,
}

static STATEMENTS: LazyLock<Statements> = LazyLock::new(|| Statements {
    users: format!(
        "SELECT u.id, u.username, u.full_name, {} FROM users u WHERE {} ORDER BY u.id",
        counts_sql(EntityKind::User, "u"),
        condition(EntityKind::User, "u"),
    ),
    tracks: format!(
        "SELECT t.id, t.title, {} FROM tracks t WHERE {} ORDER BY t.id",
        counts_sql(EntityKind::Track, "t"),
        condition(EntityKind::Track, "t"),
    ),
    playlists: format!(
        "SELECT p.id, p.title, {} FROM playlists p WHERE {} ORDER BY p.id",
        counts_sql(EntityKind::Playlist, "p"),
        condition(EntityKind::Playlist, "p"),
    ),
    groups: format!(
        "SELECT g.id, g.name, {} FROM groups g WHERE {} ORDER BY g.id",
        counts_sql(EntityKind::Group, "g"),
        condition(EntityKind::Group, "g"),
    ),
});

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(kind: EntityKind, id: i64, names: &[&str], popularity: f64) -> CatalogEntity {
        CatalogEntity {
            key: EntityKey::new(kind, id),
            names: names.iter().map(|name| name.to_string()).collect(),
            popularity,
        }
    }

    /// Of the thirteen entities with a name, three have "love", five "remix" (too many to
    /// mean anything), two "heart" (too few to be ambiguous); "the" and "of" are too short.
    fn catalog() -> Catalog {
        Catalog::new(vec![
            entity(
                EntityKind::User,
                1,
                &["Zoë Dvořáková", "zoe-dvorakova"],
                3.0,
            ),
            entity(EntityKind::User, 2, &["deadmau5"], 0.0),
            entity(EntityKind::Track, 1, &["Love Song"], 5.0),
            entity(EntityKind::Track, 2, &["Love of the Night"], 1.0),
            entity(EntityKind::Track, 3, &["Golden Heart"], 0.0),
            entity(EntityKind::Track, 4, &["Broken Heart"], 2.0),
            entity(EntityKind::Track, 5, &["The River Remix"], 0.0),
            entity(EntityKind::Track, 6, &["The Road Remix"], 0.0),
            entity(EntityKind::Track, 7, &["Intro Remix"], 0.0),
            entity(EntityKind::Track, 8, &["   "], 9.0),
            entity(EntityKind::Playlist, 1, &["Songs of Love"], 1.0),
            entity(EntityKind::Playlist, 2, &["The Best Remix"], 0.0),
            entity(EntityKind::Group, 1, &["The Crew Remix"], 0.0),
            entity(EntityKind::Group, 2, &["Techno Kraków"], 4.0),
        ])
    }

    fn searchers(seed: u64) -> Searchers {
        let options = SearcherOptions {
            seed,
            ..SearcherOptions::default()
        };
        Searchers::new(catalog(), &options).expect("valid options")
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn model(click_by_grade: [f64; 4], patience: f64) -> ClickModel {
        ClickModel {
            click_by_grade,
            patience,
        }
    }

    #[test]
    fn the_cascade_stops_after_clicking_the_intended_result() {
        let grades = [1, 3, 1, 1];
        // Grade-1 results are always clicked, and patience never runs out: only satisfaction
        // stops the visitor.
        let read = cascade(&grades, &model([0.0, 1.0, 1.0, 1.0], 1.0), &mut rng(1));
        assert_eq!(
            read,
            Cascade {
                examined: 2,
                clicks: vec![1, 2]
            }
        );
        let read = cascade(&grades, &model([0.0, 0.0, 0.0, 1.0], 1.0), &mut rng(1));
        assert_eq!(read.clicks, vec![2]);
        assert_eq!(read.examined, 2);
    }

    #[test]
    fn without_patience_only_the_first_result_is_examined() {
        let grades = [0, 1, 3];
        for seed in 0..20 {
            let always = cascade(&grades, &model([1.0; 4], 0.0), &mut rng(seed));
            assert_eq!(
                always,
                Cascade {
                    examined: 1,
                    clicks: vec![1]
                }
            );
            let never = cascade(&grades, &model([0.0; 4], 0.0), &mut rng(seed));
            assert_eq!(never.examined, 1);
            assert!(never.clicks.is_empty());
        }
    }

    #[test]
    fn a_patient_visitor_reads_one_page_and_clicks_what_is_related_on_the_way() {
        let grades = [0; 12];
        let read = cascade(&grades, &model([0.0; 4], 1.0), &mut rng(3));
        assert_eq!(read.examined, PAGE_SIZE);
        let grades = [0, 1, 0, 1, 0];
        let read = cascade(&grades, &model([0.0, 1.0, 0.0, 1.0], 1.0), &mut rng(3));
        assert_eq!(
            read,
            Cascade {
                examined: 5,
                clicks: vec![2, 4]
            }
        );
        assert!(cascade(&[], &ClickModel::default(), &mut rng(3)) == Cascade::default());
    }

    #[test]
    fn a_slip_changes_exactly_one_letter_to_a_neighbouring_key_and_never_a_word_start() {
        for text in ["Golden Heart", "midnight river", "P!nk Dancing"] {
            let original: Vec<char> = text.chars().collect();
            let word_starts: Vec<usize> = (0..original.len())
                .filter(|&i| i == 0 || !original[i - 1].is_alphanumeric())
                .collect();
            for seed in 0..200 {
                let slipped = slip(text, &mut rng(seed)).expect("letters that can slip");
                let changed: Vec<char> = slipped.chars().collect();
                assert_eq!(changed.len(), original.len(), "{slipped}");
                let differ: Vec<usize> = (0..original.len())
                    .filter(|&i| original[i] != changed[i])
                    .collect();
                assert_eq!(differ.len(), 1, "{text} → {slipped}");
                let at = differ[0];
                assert!(!word_starts.contains(&at), "{text} → {slipped}");
                let typed = changed[at].to_ascii_lowercase();
                assert!(
                    neighbours(original[at].to_ascii_lowercase()).contains(typed),
                    "{text} → {slipped}"
                );
                assert_eq!(changed[at].is_uppercase(), original[at].is_uppercase());
            }
        }
        assert_eq!(slip("a b c", &mut rng(1)), None, "only word starts");
        assert_eq!(slip("坂本龍一", &mut rng(1)), None, "no Latin letter");
        assert_eq!(slip("", &mut rng(1)), None);
    }

    #[test]
    fn the_same_seed_plans_the_same_visits_and_another_seed_does_not() {
        let first = searchers(7);
        let again = searchers(7);
        let other = searchers(8);
        let plans: Vec<Visit> = (0..30).map(|number| first.plan(number)).collect();
        assert_eq!(plans, (0..30).map(|n| again.plan(n)).collect::<Vec<_>>());
        assert_ne!(plans, (0..30).map(|n| other.plan(n)).collect::<Vec<_>>());
        // A visitor's plan does not depend on the ones planned before it.
        assert_eq!(first.plan(17), plans[17]);
        let sessions: BTreeSet<&str> = plans.iter().map(|v| v.session.as_str()).collect();
        assert_eq!(sessions.len(), plans.len(), "one session per visitor");
        for visit in &plans {
            assert!((1..=64).contains(&visit.session.len()), "{}", visit.session);
            let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            assert!(visit.session.chars().all(allowed), "{}", visit.session);
            assert!((1..=4).contains(&visit.searches.len()));
        }
        let searches: Vec<&PlannedSearch> = plans.iter().flat_map(|v| &v.searches).collect();
        for class in SearchClass::ALL {
            assert!(
                searches.iter().any(|search| search.class == class),
                "no {class} search in {searches:?}"
            );
        }
    }

    #[test]
    fn shared_words_are_neither_rare_nor_everywhere() {
        let catalog = catalog();
        assert_eq!(catalog.len(), 13, "the blank-named track is dropped");
        assert_eq!(catalog.shared_words().collect::<Vec<_>>(), ["love"]);
        let with_love = [
            EntityKey::new(EntityKind::Track, 1),
            EntityKey::new(EntityKind::Track, 2),
            EntityKey::new(EntityKind::Playlist, 1),
        ];
        let mut rng = rng(5);
        for _ in 0..50 {
            let search = catalog.draw_word(&mut rng).expect("a shared word");
            assert_eq!(search.class, SearchClass::Word);
            assert_eq!(search.query, "love");
            assert!(with_love.contains(&search.intent.expect("an intent")));
        }
    }

    #[test]
    fn popular_entities_are_meant_more_often() {
        let catalog = Catalog::new(vec![
            entity(EntityKind::Track, 1, &["Quiet"], 0.0),
            entity(EntityKind::Track, 2, &["Loud"], 9.0),
        ]);
        let typing = Typing {
            lowercase: 0.0,
            slip: 0.0,
        };
        let mut rng = rng(11);
        let loud = (0..2_000)
            .filter_map(|_| catalog.draw_name(&typing, &mut rng))
            .filter(|search| search.query == "Loud")
            .count();
        // Weights 1 and 10: about 1818 of 2000.
        assert!((1_700..1_950).contains(&loud), "{loud}");
    }

    #[test]
    fn names_are_typed_as_written_in_lower_case_or_with_a_slip() {
        let catalog = Catalog::new(vec![entity(EntityKind::Track, 1, &["Golden Heart"], 0.0)]);
        let typed = |lowercase, slip| {
            let typing = Typing { lowercase, slip };
            catalog.draw_name(&typing, &mut rng(2)).expect("a name")
        };
        let exact = typed(0.0, 0.0);
        assert_eq!(
            (exact.class, exact.query.as_str()),
            (SearchClass::Name, "Golden Heart")
        );
        let lower = typed(1.0, 0.0);
        assert_eq!(
            (lower.class, lower.query.as_str()),
            (SearchClass::NameLower, "golden heart")
        );
        let slipped = typed(1.0, 1.0);
        assert_eq!(slipped.class, SearchClass::NameSlip);
        assert_ne!(slipped.query, "golden heart");
        assert!(slipped.query.starts_with('g'), "{}", slipped.query);
        assert_eq!(slipped.intent, Some(EntityKey::new(EntityKind::Track, 1)));
    }

    #[test]
    fn grades_follow_the_intent_and_the_words_of_the_query() {
        let catalog = catalog();
        let love_song = EntityKey::new(EntityKind::Track, 1);
        let love_night = EntityKey::new(EntityKind::Track, 2);
        let river = EntityKey::new(EntityKind::Track, 5);
        let search = PlannedSearch {
            class: SearchClass::Word,
            query: "Love".to_string(),
            intent: Some(love_song),
        };
        assert_eq!(catalog.grade(&search, love_song, ""), GRADE_INTENDED);
        assert_eq!(catalog.grade(&search, love_night, ""), GRADE_HAS_EVERY_WORD);
        assert_eq!(catalog.grade(&search, river, ""), GRADE_UNRELATED);
        // Every word, in any order, folded; an unknown entity is judged by its shown title.
        let search = PlannedSearch {
            class: SearchClass::NameLower,
            query: "night love".to_string(),
            intent: None,
        };
        assert_eq!(catalog.grade(&search, love_night, ""), GRADE_HAS_EVERY_WORD);
        assert_eq!(catalog.grade(&search, love_song, ""), GRADE_UNRELATED);
        let created_since = EntityKey::new(EntityKind::Track, 99);
        assert_eq!(
            catalog.grade(&search, created_since, "Night of Love"),
            GRADE_HAS_EVERY_WORD
        );
        let zoe = EntityKey::new(EntityKind::User, 1);
        let by_username = PlannedSearch {
            class: SearchClass::Name,
            query: "zoe dvorakova".to_string(),
            intent: None,
        };
        assert_eq!(catalog.grade(&by_username, zoe, ""), GRADE_HAS_EVERY_WORD);
        let browsing = PlannedSearch::explore();
        assert_eq!(
            catalog.grade(&browsing, love_song, "Love Song"),
            GRADE_UNRELATED
        );
    }

    #[test]
    fn options_out_of_range_and_non_http_urls_are_refused() {
        let refused = |options: SearcherOptions| Searchers::new(catalog(), &options).unwrap_err();
        let certain_and_more = SearcherOptions {
            clicks: model([0.0, 0.1, 0.2, 1.5], 0.5),
            ..SearcherOptions::default()
        };
        let error = refused(certain_and_more);
        assert!(
            matches!(error, SearcherError::Site(SiteError::Invalid(ref m)) if m.contains("1.5")),
            "{error}"
        );
        let no_searches = SearcherOptions {
            searches_per_visitor: 0..=2,
            ..SearcherOptions::default()
        };
        assert!(matches!(refused(no_searches), SearcherError::Site(_)));
        let tls = SearcherOptions {
            base_url: "https://search.example".to_string(),
            ..SearcherOptions::default()
        };
        assert!(matches!(refused(tls), SearcherError::BaseUrl { .. }));
        let empty = Searchers::new(Catalog::new(Vec::new()), &SearcherOptions::default());
        assert!(matches!(empty, Err(SearcherError::EmptyCatalog)));
        let browsing_only = SearcherOptions {
            mix: SearchMix {
                name: 0.0,
                word: 0.0,
                explore: 1.0,
            },
            ..SearcherOptions::default()
        };
        let browsers = Searchers::new(Catalog::new(Vec::new()), &browsing_only).expect("explore");
        let visit = browsers.plan(0);
        assert!(
            visit
                .searches
                .iter()
                .all(|s| s.class == SearchClass::Explore)
        );
    }

    #[test]
    fn reports_add_up_and_print_per_class() {
        let mut total = SearchersReport::default();
        let mut one = SearchersReport {
            visitors: 1,
            searches: 2,
            clicks: 3,
            found: 1,
            ..SearchersReport::default()
        };
        one.by_class.insert(
            SearchClass::Word,
            ClassCounts {
                searches: 2,
                zero_results: 0,
                clicks: 3,
                found: 1,
            },
        );
        total.absorb(&one);
        total.absorb(&one);
        assert_eq!((total.visitors, total.searches, total.clicks), (2, 4, 6));
        assert_eq!(total.by_class[&SearchClass::Word].found, 2);
        let text = total.to_string();
        assert!(
            text.starts_with("2 visitors, 4 searches (0 with no results), 6 clicks"),
            "{text}"
        );
        assert!(text.contains("  word              4 searches"), "{text}");
    }

    #[test]
    fn searches_follow_the_mix() {
        let searchers = searchers(1);
        let mut by_class: BTreeMap<SearchClass, usize> = BTreeMap::new();
        for number in 0..2_000 {
            for search in searchers.plan(number).searches {
                *by_class.entry(search.class).or_default() += 1;
            }
        }
        let total: usize = by_class.values().sum();
        let share = |classes: &[SearchClass]| {
            classes
                .iter()
                .map(|c| by_class.get(c).copied().unwrap_or(0))
                .sum::<usize>() as f64
                / total as f64
        };
        let names = share(&[
            SearchClass::Name,
            SearchClass::NameLower,
            SearchClass::NameSlip,
        ]);
        // 0.6, 0.3 and 0.1 of about 5000 searches.
        assert!((0.57..0.63).contains(&names), "{by_class:?}");
        assert!(
            (0.27..0.33).contains(&share(&[SearchClass::Word])),
            "{by_class:?}"
        );
        assert!(
            (0.08..0.12).contains(&share(&[SearchClass::Explore])),
            "{by_class:?}"
        );
    }
}
