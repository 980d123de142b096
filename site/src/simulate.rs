//! The site, simulated: entities of all four kinds are created, edited, made private, taken
//! down, deleted (soft: `deleted_at`; hard: the row removed) and restored. Each change writes
//! the row first — moving `updated_at` forward to a strictly increasing, whole-microsecond
//! time — and then publishes the event docs/ARCHITECTURE.md's "Event contract" describes, with
//! `occurred_at` equal to the new `updated_at`.
//!
//! Faults a real site shows can be switched on: replica lag (the event is published `lag`
//! before its row is written), duplicate deliveries, and reordering within windows.
//!
//! ```no_run
//! # async fn run(db: schemas::db::Db) -> Result<(), site::SiteError> {
//! use site::publish::MemoryPublisher;
//! use site::simulate::{SimOptions, Simulator};
//! let mut sim = Simulator::new(db, MemoryPublisher::new(), SimOptions::default()).await?;
//! let step = sim.step().await?;            // one change, written and published
//! println!("{} {} searchable={}", step.envelope.key, step.change, step.searchable);
//! sim.finish().await?;                     // flush reordered events and lagging writes
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemas::db::Db;
use schemas::searchable::{self, has_sharing};
use schemas::{Action, EntityKey, EntityKind, Envelope};
use sqlx::AssertSqlSafe;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::SiteError;
use crate::names;
use crate::publish::Publisher;
use crate::rows::{Table, Value};

/// How the simulated site misbehaves, and its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Drives every choice (which entity, which change, which words).
    pub seed: u64,
    /// Publish each event this long before its row is written (replica lag).
    pub lag: Duration,
    /// Probability of publishing an event twice.
    pub duplicate: f64,
    /// Shuffle events within windows of this many (0 or 1: publish in order).
    pub reorder: usize,
    /// Probability of writing the row and never publishing its event, as a site that crashes
    /// between the two does: what reconciliation must heal.
    pub lose: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            lag: Duration::ZERO,
            duplicate: 0.0,
            reorder: 0,
            lose: 0.0,
        }
    }
}

/// What a step does to its entity, as the entity's owner or a moderator would on the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteEdit {
    Created,
    Edited,
    MadePrivate,
    TakenDown,
    SoftDeleted,
    HardDeleted,
    Restored,
}

impl SiteEdit {
    pub const ALL: [SiteEdit; 7] = [
        SiteEdit::Created,
        SiteEdit::Edited,
        SiteEdit::MadePrivate,
        SiteEdit::TakenDown,
        SiteEdit::SoftDeleted,
        SiteEdit::HardDeleted,
        SiteEdit::Restored,
    ];

    /// The event action the site publishes for this edit.
    pub fn action(self) -> Action {
        match self {
            SiteEdit::Created => Action::Create,
            SiteEdit::SoftDeleted | SiteEdit::HardDeleted => Action::Destroy,
            _ => Action::Save,
        }
    }
}

impl fmt::Display for SiteEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SiteEdit::Created => "created",
            SiteEdit::Edited => "edited",
            SiteEdit::MadePrivate => "made private",
            SiteEdit::TakenDown => "taken down",
            SiteEdit::SoftDeleted => "deleted",
            SiteEdit::HardDeleted => "removed",
            SiteEdit::Restored => "restored",
        };
        f.write_str(name)
    }
}

/// One simulated edit: what happened, the event published for it, and the state the entity
/// is in afterwards (what a search index must end up showing).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub change: SiteEdit,
    /// The event; `occurred_at` is the row's new `updated_at` (for a hard delete, the time of
    /// the removal).
    pub envelope: Envelope,
    /// The row still exists after the step.
    pub exists: bool,
    /// The entity's own row is searchable after the step ([`schemas::searchable::own_condition`];
    /// whether its owner is, is the owner's row's state).
    pub searchable: bool,
    /// How many times the event was (or will be, under reordering) published.
    pub copies: usize,
}

/// The simulated site. Drive it with [`Simulator::step`] (a random change) or
/// [`Simulator::apply`] (a chosen one), and call [`Simulator::finish`] at the end.
pub struct Simulator<P: Publisher> {
    db: Db,
    publisher: P,
    options: SimOptions,
    rng: ChaCha8Rng,
    /// The last time issued, µs: every change gets a strictly later one.
    clock: i64,
    /// Per kind, the smallest id seen and the largest id used (new ids continue from it).
    bounds: HashMap<EntityKind, (i64, i64)>,
    outbox: Vec<(String, Vec<u8>)>,
    lagging: Option<LagWriter>,
    /// Entities with a lagging write not yet landed: not picked again until it lands.
    pending: HashMap<EntityKey, Instant>,
}

/// The state of a row the simulator picked.
#[derive(Debug, Clone, Copy)]
struct Target {
    id: i64,
    updated_at: i64,
    searchable: bool,
}

/// What to pick: any row, a searchable one (to hide), or a hidden one (to restore).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    Any,
    Searchable,
    Hidden,
}

impl<P: Publisher> Simulator<P> {
    /// A simulator over a seeded (or empty) database.
    pub async fn new(db: Db, publisher: P, options: SimOptions) -> Result<Simulator<P>, SiteError> {
        if !(0.0..=1.0).contains(&options.lose) {
            return Err(SiteError::Invalid(format!(
                "lost-event probability {} is not in 0..1",
                options.lose
            )));
        }
        if !(0.0..=1.0).contains(&options.duplicate) {
            return Err(SiteError::Invalid(format!(
                "duplicate probability {} is not in 0..1",
                options.duplicate
            )));
        }
        let mut bounds = HashMap::new();
        for kind in EntityKind::ALL {
            let sql = AssertSqlSafe(format!("SELECT min(id), max(id) FROM {}", kind.table()));
            let (min, max): (Option<i64>, Option<i64>) = match &db {
                Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await,
                Db::Sqlite(pool) => sqlx::query_as(sql).fetch_one(pool).await,
            }
            .map_err(SiteError::db(format!(
                "reading the id range of {}",
                kind.table()
            )))?;
            bounds.insert(kind, (min.unwrap_or(1), max.unwrap_or(0)));
        }
        let lagging = (!options.lag.is_zero()).then(|| LagWriter::start(db.clone()));
        Ok(Simulator {
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            db,
            publisher,
            options,
            clock: 0,
            bounds,
            outbox: Vec::new(),
            lagging,
            pending: HashMap::new(),
        })
    }

    /// The publisher, e.g. to read what a [`crate::publish::MemoryPublisher`] holds.
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// One random change: mostly edits and uploads, some hiding, deleting and restoring.
    pub async fn step(&mut self) -> Result<Step, SiteError> {
        let kind = match self.rng.random_range(0..10) {
            0..=4 => EntityKind::Track,
            5..=6 => EntityKind::User,
            7..=8 => EntityKind::Playlist,
            _ => EntityKind::Group,
        };
        let edit = match self.rng.random_range(0..100) {
            0..=19 => SiteEdit::Created,
            20..=59 => SiteEdit::Edited,
            60..=66 if has_sharing(kind) => SiteEdit::MadePrivate,
            60..=66 => SiteEdit::Edited,
            67..=71 => SiteEdit::TakenDown,
            72..=79 => SiteEdit::SoftDeleted,
            80..=84 => SiteEdit::HardDeleted,
            _ => SiteEdit::Restored,
        };
        self.apply(kind, edit).await
    }

    /// Makes `edit` to an entity of `kind`: picks a fitting row (a searchable one to hide, a
    /// hidden one to restore), writes it, publishes the event. When no row fits, it creates one.
    /// Making a user or group private is impossible (they have no sharing); it takes it down.
    pub async fn apply(&mut self, kind: EntityKind, edit: SiteEdit) -> Result<Step, SiteError> {
        let edit = match edit {
            SiteEdit::MadePrivate if !has_sharing(kind) => SiteEdit::TakenDown,
            edit => edit,
        };
        let pick = match edit {
            SiteEdit::Created => None,
            SiteEdit::Edited | SiteEdit::HardDeleted => Some(Pick::Any),
            SiteEdit::Restored => Some(Pick::Hidden),
            _ => Some(Pick::Searchable),
        };
        let target = match pick {
            Some(pick) => self.pick(kind, pick).await?,
            None => None,
        };
        let (edit, target) = match target {
            Some(target) => (edit, Some(target)),
            None => (SiteEdit::Created, None),
        };
        let floor = target.map_or(0, |t| t.updated_at);
        let now = Utc::now().timestamp_micros();
        self.clock = now.max(self.clock + 1).max(floor + 1);
        let at = self.clock;
        let (id, write, state) = match target {
            None => {
                let (_, max) = self.bounds.get(&kind).copied().unwrap_or((1, 0));
                let id = max + 1;
                self.bounds.insert(kind, (self.bounds[&kind].0.min(id), id));
                (id, self.insert(kind, id, at), (true, true))
            }
            Some(t) => {
                let (write, state) = self.write_for(kind, edit, &t, at);
                (t.id, write, state)
            }
        };
        let key = EntityKey::new(kind, id);
        // A track's destroy names its uploader, as the site's broadcast of the row does.
        let uploader = match (kind, edit) {
            (EntityKind::Track, SiteEdit::HardDeleted) => self.uploader(id).await?,
            _ => None,
        };
        let occurred_at =
            DateTime::from_timestamp_micros(at).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let envelope = Envelope {
            action: edit.action(),
            key,
            occurred_at,
        };
        // Drawn only when losing is on, so a seed replays the same site without it.
        let lost = self.options.lose > 0.0 && self.rng.random_bool(self.options.lose);
        let copies = match lost {
            true => 0,
            false => 1 + usize::from(self.rng.random_bool(self.options.duplicate)),
        };
        if self.lagging.is_none() {
            apply_write(&self.db, &write).await?;
            self.emit(&envelope, uploader, copies).await?;
        } else {
            self.emit(&envelope, uploader, copies).await?;
            let due = Instant::now() + self.options.lag;
            self.pending.insert(key, due);
            if let Some(lagging) = &self.lagging {
                lagging.send(due, write)?;
            }
        }
        Ok(Step {
            change: edit,
            envelope,
            exists: state.0,
            searchable: state.1,
            copies,
        })
    }

    /// Publishes what is still held back for reordering and waits for lagging writes to land.
    pub async fn finish(&mut self) -> Result<(), SiteError> {
        self.flush(true).await?;
        if let Some(lagging) = self.lagging.take() {
            lagging.finish().await?;
            self.lagging = Some(LagWriter::start(self.db.clone()));
        }
        self.pending.clear();
        Ok(())
    }

    async fn emit(
        &mut self,
        envelope: &Envelope,
        uploader: Option<i64>,
        copies: usize,
    ) -> Result<(), SiteError> {
        let body = match uploader {
            None => envelope.to_body(),
            Some(user_id) => {
                let mut body: serde_json::Value =
                    serde_json::from_slice(&envelope.to_body()).unwrap_or_default();
                body["user_id"] = user_id.into();
                body.to_string().into_bytes()
            }
        };
        for _ in 0..copies {
            self.outbox.push((envelope.routing_key(), body.clone()));
        }
        self.flush(false).await
    }

    /// Who uploaded track `id` (before it is deleted outright).
    async fn uploader(&self, id: i64) -> Result<Option<i64>, SiteError> {
        let sql = self
            .db
            .dialect_sql("SELECT user_id FROM tracks WHERE id = $1");
        let row: Option<(i64,)> = match &self.db {
            Db::Postgres(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.into_owned()))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            Db::Sqlite(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.into_owned()))
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
        }
        .map_err(SiteError::db(format!("reading track {id}'s uploader")))?;
        Ok(row.map(|(user,)| user))
    }

    /// Publishes the outbox: at once when not reordering, else a shuffled window once full.
    async fn flush(&mut self, all: bool) -> Result<(), SiteError> {
        let window = self.options.reorder.max(1);
        if self.outbox.len() < window && !all {
            return Ok(());
        }
        if window > 1 {
            self.outbox.shuffle(&mut self.rng);
        }
        for (routing_key, body) in std::mem::take(&mut self.outbox) {
            self.publisher.publish(&routing_key, body).await?;
        }
        Ok(())
    }

    /// A row of `kind` matching `pick`, starting from a random id (wrapping once), skipping
    /// rows with a lagging write in flight.
    async fn pick(&mut self, kind: EntityKind, pick: Pick) -> Result<Option<Target>, SiteError> {
        let now = Instant::now();
        self.pending.retain(|_, due| *due > now);
        let (min, max) = self.bounds.get(&kind).copied().unwrap_or((1, 0));
        if max < min {
            return Ok(None);
        }
        for attempt in 0..6 {
            let from = if attempt == 5 {
                min
            } else {
                self.rng.random_range(min..=max)
            };
            let Some(target) = fetch_target(&self.db, kind, from, pick).await? else {
                continue;
            };
            if !self.pending.contains_key(&EntityKey::new(kind, target.id)) {
                return Ok(Some(target));
            }
        }
        Ok(None)
    }

    /// The insert for a new entity, public and live, created and updated at `at`.
    fn insert(&mut self, kind: EntityKind, id: i64, at: i64) -> Write {
        let rng = &mut self.rng;
        let (users_min, users_max) = self
            .bounds
            .get(&EntityKind::User)
            .copied()
            .unwrap_or((1, 1));
        let owner = if users_max >= users_min {
            rng.random_range(users_min..=users_max)
        } else {
            1
        };
        let values = match kind {
            EntityKind::User => {
                let name = names::artist_name(rng);
                let (city, country) = names::city(rng);
                vec![
                    Value::Int(id),
                    Value::Text(format!("{}-{id}", names::slug(&name, "user"))),
                    Value::Text(name),
                    Value::Text(names::description(rng)),
                    Value::Str(city),
                    Value::Str(country),
                    Value::Time(at),
                    Value::Time(at),
                    Value::Null,
                    Value::Bool(false),
                ]
            }
            EntityKind::Track => {
                let genre = names::genre(rng);
                vec![
                    Value::Int(id),
                    Value::Int(owner),
                    Value::Text(names::track_title(rng)),
                    Value::Text(names::description(rng)),
                    Value::Str(genre),
                    Value::Text(names::tags(rng, genre)),
                    Value::Int(rng.random_range(30_000..480_000)),
                    Value::Str("public"),
                    Value::Time(at),
                    Value::Time(at),
                    Value::Null,
                    Value::Bool(false),
                ]
            }
            EntityKind::Playlist => vec![
                Value::Int(id),
                Value::Int(owner),
                Value::Text(names::playlist_title(rng, "the week")),
                Value::Text(names::description(rng)),
                Value::Str("public"),
                Value::Time(at),
                Value::Time(at),
                Value::Null,
                Value::Bool(false),
            ],
            EntityKind::Group => vec![
                Value::Int(id),
                Value::Int(owner),
                Value::Text(names::group_name(rng)),
                Value::Text("A new group. Say hi!".to_string()),
                Value::Time(at),
                Value::Time(at),
                Value::Null,
                Value::Bool(false),
            ],
        };
        Write::Insert {
            table: table_of(kind),
            values,
        }
    }

    /// The write for `edit` to `target`, and (exists, searchable) afterwards.
    fn write_for(
        &mut self,
        kind: EntityKind,
        edit: SiteEdit,
        target: &Target,
        at: i64,
    ) -> (Write, (bool, bool)) {
        let table = table_of(kind);
        let id = target.id;
        let mut sets: Vec<(&'static str, Value)> = match edit {
            SiteEdit::Edited => {
                let rng = &mut self.rng;
                match kind {
                    EntityKind::User => vec![
                        ("full_name", Value::Text(names::artist_name(rng))),
                        ("description", Value::Text(names::description(rng))),
                    ],
                    EntityKind::Track => vec![
                        ("title", Value::Text(names::track_title(rng))),
                        ("description", Value::Text(names::description(rng))),
                    ],
                    EntityKind::Playlist => {
                        vec![("title", Value::Text(names::playlist_title(rng, "friends")))]
                    }
                    EntityKind::Group => vec![("name", Value::Text(names::group_name(rng)))],
                }
            }
            SiteEdit::MadePrivate => vec![("sharing", Value::Str("private"))],
            SiteEdit::TakenDown => vec![("taken_down", Value::Bool(true))],
            SiteEdit::SoftDeleted => vec![("deleted_at", Value::Time(at))],
            SiteEdit::Restored => {
                let mut sets = vec![
                    ("deleted_at", Value::Null),
                    ("taken_down", Value::Bool(false)),
                ];
                if has_sharing(kind) {
                    sets.push(("sharing", Value::Str("public")));
                }
                sets
            }
            SiteEdit::HardDeleted => return (Write::Delete { table, id }, (false, false)),
            SiteEdit::Created => Vec::new(),
        };
        sets.push(("updated_at", Value::Time(at)));
        let searchable = match edit {
            SiteEdit::Edited => target.searchable,
            SiteEdit::Restored => true,
            _ => false,
        };
        (Write::Update { table, id, sets }, (true, searchable))
    }
}

fn table_of(kind: EntityKind) -> Table {
    match kind {
        EntityKind::Track => Table::Tracks,
        EntityKind::User => Table::Users,
        EntityKind::Playlist => Table::Playlists,
        EntityKind::Group => Table::Groups,
    }
}

async fn fetch_target(
    db: &Db,
    kind: EntityKind,
    from: i64,
    pick: Pick,
) -> Result<Option<Target>, SiteError> {
    let table = kind.table();
    // The simulated owner or moderator hides and restores the row itself; whether its owner
    // is searchable is another row's business.
    let searchable = searchable::own_condition(kind, table);
    let condition = match pick {
        Pick::Any => String::new(),
        Pick::Searchable => format!("AND {searchable}"),
        Pick::Hidden => format!("AND NOT ({searchable})"),
    };
    let sql = format!(
        "SELECT id, updated_at, ({searchable}) FROM {table} \
         WHERE id >= $1 {condition} ORDER BY id LIMIT 1"
    );
    let sql = db.dialect_sql(&sql).into_owned();
    type Row = (i64, DateTime<Utc>, bool);
    let row: Option<Row> = match db {
        Db::Postgres(pool) => {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(from)
                .fetch_optional(pool)
                .await
        }
        Db::Sqlite(pool) => {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(from)
                .fetch_optional(pool)
                .await
        }
    }
    .map_err(SiteError::db(format!("picking a {kind}")))?;
    Ok(row.map(|(id, updated_at, searchable)| Target {
        id,
        updated_at: updated_at.timestamp_micros(),
        searchable,
    }))
}

/// A row change, ready to run on either dialect.
#[derive(Debug, Clone)]
enum Write {
    Insert {
        table: Table,
        values: Vec<Value>,
    },
    Update {
        table: Table,
        id: i64,
        sets: Vec<(&'static str, Value)>,
    },
    Delete {
        table: Table,
        id: i64,
    },
}

/// Runs one write, its statement written once with `$n` parameters ([`Db::dialect_sql`]).
async fn apply_write(db: &Db, write: &Write) -> Result<(), SiteError> {
    let (sql, values, table): (String, Vec<Value>, Table) = match write {
        Write::Insert { table, values } => (table.insert_sql(1), values.clone(), *table),
        Write::Update { table, id, sets } => {
            let assignments: Vec<String> = (sets.iter().enumerate())
                .map(|(i, (column, _))| format!("{column} = ${}", i + 1))
                .collect();
            let mut values: Vec<Value> = sets.iter().map(|(_, v)| v.clone()).collect();
            values.push(Value::Int(*id));
            (
                format!(
                    "UPDATE {} SET {} WHERE id = ${}",
                    table.name(),
                    assignments.join(", "),
                    values.len()
                ),
                values,
                *table,
            )
        }
        Write::Delete { table, id } => (
            format!("DELETE FROM {} WHERE id = $1", table.name()),
            vec![Value::Int(*id)],
            *table,
        ),
    };
    let sql = db.dialect_sql(&sql).into_owned();
    let context = format!("writing {table}");
    macro_rules! bind_all {
        ($query:expr) => {{
            let mut query = $query;
            for value in values {
                query = match value {
                    Value::Int(n) => query.bind(n),
                    Value::Text(s) => query.bind(s),
                    Value::Str(s) => query.bind(s),
                    Value::Time(t) => query.bind(DateTime::from_timestamp_micros(t)),
                    Value::Null => query.bind(None::<DateTime<Utc>>),
                    Value::Bool(b) => query.bind(b),
                };
            }
            query
        }};
    }
    match db {
        Db::Postgres(pool) => bind_all!(sqlx::query(AssertSqlSafe(sql)))
            .execute(pool)
            .await
            .map(|_| ()),
        Db::Sqlite(pool) => bind_all!(sqlx::query(AssertSqlSafe(sql)))
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .map_err(SiteError::db(context))?;
    Ok(())
}

/// Writes rows after their events, in order, each at its due time (replica lag).
struct LagWriter {
    tx: mpsc::UnboundedSender<(Instant, Write)>,
    task: JoinHandle<Result<(), SiteError>>,
}

impl LagWriter {
    fn start(db: Db) -> LagWriter {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Write)>();
        let task = tokio::spawn(async move {
            while let Some((due, write)) = rx.recv().await {
                tokio::time::sleep_until(due).await;
                apply_write(&db, &write).await?;
            }
            Ok(())
        });
        LagWriter { tx, task }
    }

    fn send(&self, due: Instant, write: Write) -> Result<(), SiteError> {
        self.tx.send((due, write)).map_err(|_| {
            SiteError::Worker("the lagging writer stopped (see the previous error)".into())
        })
    }

    async fn finish(self) -> Result<(), SiteError> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| SiteError::Worker(e.to_string()))?
    }
}

/// How long a [`run`] goes on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Events(u64),
    Duration(Duration),
}

/// What a [`run`] did: steps per (kind, edit).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub steps: u64,
    pub published: u64,
    /// Changes written whose event was dropped on purpose (`SimOptions::lose`).
    pub lost: u64,
    pub changes: std::collections::BTreeMap<(EntityKind, SiteEdit), u64>,
    pub elapsed: Duration,
    /// Steps tried again because the database failed them (a restart): nothing was written.
    pub database_retries: u64,
    /// The run was stopped early (a signal), after finishing the change in hand.
    pub stopped: bool,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-3);
        writeln!(
            f,
            "{} changes, {} events published in {secs:.1} s ({:.1} changes/s), {} lost on purpose",
            self.steps,
            self.published,
            self.steps as f64 / secs,
            self.lost
        )?;
        if self.database_retries > 0 {
            writeln!(
                f,
                "  {} changes tried again after a database error",
                self.database_retries
            )?;
        }
        if self.stopped {
            writeln!(
                f,
                "  stopped early by a signal, the change in hand finished"
            )?;
        }
        for ((kind, change), n) in &self.changes {
            writeln!(f, "  {kind:<8} {change:<12} {n:>8}")?;
        }
        Ok(())
    }
}

/// The first wait after a failed database step; it doubles up to [`DB_RETRY_MAX`].
const DB_RETRY_FIRST: Duration = Duration::from_millis(100);
const DB_RETRY_MAX: Duration = Duration::from_secs(2);
/// A database failing every step for this long is down, not restarting: the run fails.
const DB_PATIENCE: Duration = Duration::from_secs(600);

/// Steps the simulator at `rate` changes per second until `limit`, then finishes it.
/// `on_step` sees every step (progress, logging).
pub async fn run<P: Publisher>(
    sim: &mut Simulator<P>,
    rate: f64,
    limit: Limit,
    on_step: impl FnMut(&Step),
) -> Result<RunReport, SiteError> {
    run_until(sim, rate, limit, std::future::pending(), on_step).await
}

/// [`run`], stopping early when `stop` completes (SIGTERM, Ctrl-C). A step is a row written
/// and then its event published, and `stop` is only looked at between steps, so a stop never
/// leaves a row without its event (unless the event was to be lost on purpose).
///
/// A step the database fails (a restart) wrote nothing: it is tried again with backoff (a new
/// step: the site's next request), for up to 10 minutes. Broker errors are the publisher's to
/// ride out ([`crate::publish::AmqpPublisher`] reconnects).
pub async fn run_until<P: Publisher>(
    sim: &mut Simulator<P>,
    rate: f64,
    limit: Limit,
    stop: impl std::future::Future<Output = ()>,
    mut on_step: impl FnMut(&Step),
) -> Result<RunReport, SiteError> {
    if rate.is_nan() || rate <= 0.0 {
        return Err(SiteError::Invalid(format!(
            "rate must be positive, not {rate}"
        )));
    }
    tokio::pin!(stop);
    let started = Instant::now();
    let mut report = RunReport::default();
    let mut failing: Option<(Instant, Duration)> = None;
    loop {
        let done = match limit {
            Limit::Events(n) => report.steps >= n,
            Limit::Duration(d) => started.elapsed() >= d,
        };
        if done {
            break;
        }
        let step = match sim.step().await {
            Ok(step) => step,
            Err(e @ SiteError::Database { .. }) => {
                let (since, backoff) = failing.unwrap_or((Instant::now(), DB_RETRY_FIRST));
                if since.elapsed() >= DB_PATIENCE {
                    return Err(e);
                }
                report.database_retries += 1;
                tracing::warn!(error = %e, retry_in = ?backoff, "the database failed a change; trying again");
                failing = Some((since, (backoff * 2).min(DB_RETRY_MAX)));
                tokio::select! {
                    biased;
                    () = &mut stop => {
                        report.stopped = true;
                        break;
                    }
                    () = tokio::time::sleep(backoff) => continue,
                }
            }
            Err(e) => return Err(e),
        };
        failing = None;
        report.steps += 1;
        report.published += step.copies as u64;
        report.lost += u64::from(step.copies == 0);
        *report
            .changes
            .entry((step.envelope.key.kind, step.change))
            .or_default() += 1;
        on_step(&step);
        let next = started + Duration::from_secs_f64(report.steps as f64 / rate);
        tokio::select! {
            biased;
            () = &mut stop => {
                report.stopped = true;
                break;
            }
            () = tokio::time::sleep_until(next) => {}
        }
    }
    sim.finish().await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_edit() {
        assert_eq!(SiteEdit::Created.action(), Action::Create);
        assert_eq!(SiteEdit::SoftDeleted.action(), Action::Destroy);
        assert_eq!(SiteEdit::HardDeleted.action(), Action::Destroy);
        assert_eq!(SiteEdit::Restored.action(), Action::Save);
        assert_eq!(SiteEdit::MadePrivate.action(), Action::Save);
    }
}
