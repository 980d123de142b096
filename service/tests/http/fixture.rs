//! Test indexes: the Chinook catalog rendered through the index definitions (no indexer, no
//! database), and small hand-made catalogs for edge cases.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use tantivy::{Index, IndexReader, ReloadPolicy};

use engine::FixedSource;
use schemas::definition::Definitions;
use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind, Version};
use service::QueryState;
use suggest::{KindFactors, Record, SuggestIndex, Suggester};

/// An index built for a test, and what went into it.
pub struct TestIndex {
    pub reader: IndexReader,
    pub definitions: Arc<Definitions>,
    pub rows: BTreeMap<EntityKey, EntityRow>,
    /// Typeahead over the same rows.
    pub suggester: Arc<Suggester>,
}

impl TestIndex {
    /// Indexes `rows` (live) and `tombstones` (unsearchable, as the indexer records them).
    pub fn build(rows: Vec<EntityRow>, tombstones: Vec<EntityKey>) -> TestIndex {
        Self::build_with(Definitions::builtin(), rows, tombstones)
    }

    /// [`TestIndex::build`] with other definitions than the shipped ones.
    pub fn build_with(
        definitions: Definitions,
        rows: Vec<EntityRow>,
        tombstones: Vec<EntityKey>,
    ) -> TestIndex {
        let definitions = Arc::new(definitions);
        let index = Index::create_in_ram(definitions.schema());
        schemas::analyzer::register(index.tokenizers());
        let mut writer = index
            .writer_with_num_threads(1, 50_000_000)
            .expect("writer");
        for row in &rows {
            writer
                .add_document(definitions.render(row).expect("row renders"))
                .expect("add");
        }
        for key in &tombstones {
            writer
                .add_document(definitions.tombstone(*key, Version(1)))
                .expect("add tombstone");
        }
        writer.commit().expect("commit");
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .expect("reader");
        let records = rows
            .iter()
            .map(|row| suggestion(&definitions, row))
            .collect();
        let suggester = Suggester::new(SuggestIndex::build(records, &KindFactors::default()));
        let rows = rows.into_iter().map(|r| (r.key, r)).collect();
        TestIndex {
            reader,
            definitions,
            rows,
            suggester: Arc::new(suggester),
        }
    }

    pub fn source(&self) -> Arc<FixedSource> {
        Arc::new(FixedSource::new(
            self.reader.clone(),
            self.definitions.clone(),
        ))
    }

    pub fn state(&self) -> QueryState {
        QueryState::new(self.source()).with_suggester(self.suggester.clone())
    }

    pub fn router(&self) -> Router {
        service::router(self.state())
    }

    pub fn row(&self, kind: EntityKind, id: i64) -> &EntityRow {
        &self.rows[&EntityKey::new(kind, id)]
    }
}

/// The suggest record of a row: its display title (users also by username).
fn suggestion(definitions: &Definitions, row: &EntityRow) -> Record {
    let title = definitions
        .display(row)
        .map(|d| d.title)
        .unwrap_or_default();
    match row.key.kind {
        EntityKind::User => Record::user(
            row.key.id,
            row.text("username").unwrap_or_default(),
            &title,
            row.popularity,
        ),
        _ => Record::new(row.key, title, row.popularity),
    }
}

/// A file of the repository's `datasets/`.
pub fn data_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(name);
    assert!(
        path.exists(),
        "test data {} is missing from the repository's datasets/",
        path.display()
    );
    path
}

/// The Chinook catalog, built once per test binary.
pub fn chinook() -> &'static TestIndex {
    static CATALOG: OnceLock<TestIndex> = OnceLock::new();
    CATALOG.get_or_init(|| TestIndex::build(chinook_rows(), Vec::new()))
}

/// When the Chinook fixture's clock starts: track `n` was uploaded `n` hours later.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// A person's handle made from an artist name: `AC/DC` → `acdc`.
pub fn username(name: &str) -> String {
    schemas::analyzer::fold(name)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Artists → users, tracks → tracks, albums and playlists → playlists, genres → groups.
/// Popularity: a track's invoice lines × 10 plus the playlists it is in; an artist's is the sum
/// of their tracks'. Counts, for the results' stats: a track's plays are its invoice lines × 100
/// plus its playlists, its likes the playlists it is in; an artist's followers their invoice
/// lines, their track count their tracks; an album's track count its tracks. Tracks and albums
/// are owned (`owner_id`) by their artist.
pub fn chinook_rows() -> Vec<EntityRow> {
    let text = std::fs::read_to_string(data_file("chinook.json")).expect("read chinook.json");
    let records: Vec<Value> = serde_json::from_str(&text).expect("chinook.json is JSON");
    let mut by_model: HashMap<String, Vec<(i64, &Value)>> = HashMap::new();
    for r in &records {
        let model = r["model"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("chinook.")
            .to_string();
        by_model
            .entry(model)
            .or_default()
            .push((r["pk"].as_i64().unwrap_or_default(), &r["fields"]));
    }
    let model = |name: &str| by_model.get(name).cloned().unwrap_or_default();
    let name_of = |name: &str, field: &str| -> HashMap<i64, String> {
        model(name)
            .into_iter()
            .map(|(pk, f)| (pk, f[field].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let artists = name_of("artist", "name");
    let genres = name_of("genre", "name");
    let albums: HashMap<i64, (String, i64)> = model("album")
        .into_iter()
        .map(|(pk, f)| {
            (
                pk,
                (
                    f["title"].as_str().unwrap_or_default().to_string(),
                    f["artist"].as_i64().unwrap_or_default(),
                ),
            )
        })
        .collect();
    let mut popularity: HashMap<i64, f64> = HashMap::new();
    let mut sold: HashMap<i64, i64> = HashMap::new();
    let mut listed: HashMap<i64, i64> = HashMap::new();
    for (_, f) in model("invoiceline") {
        let track = f["track"].as_i64().unwrap_or_default();
        *popularity.entry(track).or_default() += 10.0;
        *sold.entry(track).or_default() += 1;
    }
    for (_, f) in model("playlisttrack") {
        let track = f["track"].as_i64().unwrap_or_default();
        *popularity.entry(track).or_default() += 1.0;
        *listed.entry(track).or_default() += 1;
    }

    let at = |hours: i64| epoch() + Duration::hours(hours);
    let mut rows = Vec::new();
    let mut artist_popularity: HashMap<i64, f64> = HashMap::new();
    let mut artist_sold: HashMap<i64, i64> = HashMap::new();
    let mut artist_tracks: HashMap<i64, i64> = HashMap::new();
    let mut album_tracks: HashMap<i64, i64> = HashMap::new();
    let mut genre_members: HashMap<i64, i64> = HashMap::new();
    let mut tracks = model("track");
    tracks.sort_by_key(|(pk, _)| *pk);
    for (pk, f) in tracks {
        let album_id = f["album"].as_i64().unwrap_or_default();
        let (album, artist) = albums.get(&album_id).cloned().unwrap_or_default();
        let artist_name = artists.get(&artist).cloned().unwrap_or_default();
        let pop = popularity.get(&pk).copied().unwrap_or(0.0);
        let (sales, lists) = (
            sold.get(&pk).copied().unwrap_or(0),
            listed.get(&pk).copied().unwrap_or(0),
        );
        *artist_popularity.entry(artist).or_default() += pop;
        *artist_sold.entry(artist).or_default() += sales;
        *artist_tracks.entry(artist).or_default() += 1;
        *album_tracks.entry(album_id).or_default() += 1;
        let genre_id = f["genre"].as_i64().unwrap_or_default();
        *genre_members.entry(genre_id).or_default() += 1;
        let mut description = format!("From the album {album}.");
        if let Some(composer) = f["composer"].as_str() {
            description.push_str(&format!(" Written by {composer}."));
        }
        let key = EntityKey::new(EntityKind::Track, pk);
        let mut row = EntityRow::new(key, Version::from_datetime(at(pk)), at(pk))
            .with("title", f["name"].as_str().unwrap_or_default())
            .with("owner_username", username(&artist_name).as_str())
            .with("owner_full_name", artist_name.as_str())
            .with("description", description.as_str())
            .with(
                "duration_ms",
                f["milliseconds"].as_i64().unwrap_or_default(),
            )
            .with("plays", sales * 100 + lists)
            .with("likes", lists)
            .with_popularity(pop);
        if artists.contains_key(&artist) {
            row = row.with("owner_id", artist);
        }
        if let Some(genre) = genres.get(&genre_id) {
            row = row.with("genre", genre.as_str());
        }
        rows.push(row);
    }
    for (id, name) in &artists {
        let key = EntityKey::new(EntityKind::User, *id);
        rows.push(
            EntityRow::new(key, Version::from_datetime(epoch()), epoch())
                .with("username", username(name).as_str())
                .with("full_name", name.as_str())
                .with("followers", artist_sold.get(id).copied().unwrap_or(0))
                .with("track_count", artist_tracks.get(id).copied().unwrap_or(0))
                .with_popularity(artist_popularity.get(id).copied().unwrap_or(0.0)),
        );
    }
    for (id, (title, artist)) in &albums {
        let artist_name = artists.get(artist).cloned().unwrap_or_default();
        let key = EntityKey::new(EntityKind::Playlist, *id);
        rows.push(
            EntityRow::new(key, Version::from_datetime(epoch()), epoch())
                .with("title", title.as_str())
                .with("owner_id", *artist)
                .with("owner_username", username(&artist_name).as_str())
                .with("owner_full_name", artist_name.as_str())
                .with("track_count", album_tracks.get(id).copied().unwrap_or(0)),
        );
    }
    for (pk, name) in name_of("playlist", "name") {
        let key = EntityKey::new(EntityKind::Playlist, 10_000 + pk);
        rows.push(
            EntityRow::new(key, Version::from_datetime(epoch()), epoch())
                .with("title", name.as_str())
                .with("owner_username", "chinook")
                .with("description", "A playlist of the Chinook music store."),
        );
    }
    for (id, name) in &genres {
        let key = EntityKey::new(EntityKind::Group, *id);
        rows.push(
            EntityRow::new(key, Version::from_datetime(epoch()), epoch())
                .with("name", name.as_str())
                .with("description", format!("People who love {name}.").as_str())
                .with("member_count", genre_members.get(id).copied().unwrap_or(0))
                .with("track_count", genre_members.get(id).copied().unwrap_or(0)),
        );
    }
    rows
}

/// A track row for small catalogs.
pub fn track(id: i64, title: &str, owner: &str, popularity: f64, age_hours: i64) -> EntityRow {
    let created = Utc::now() - Duration::hours(age_hours);
    EntityRow::new(
        EntityKey::new(EntityKind::Track, id),
        Version::from_datetime(created),
        created,
    )
    .with("title", title)
    .with("owner_username", username(owner).as_str())
    .with("owner_full_name", owner)
    .with_popularity(popularity)
}

/// The shipped definitions with `extra` (a field's JSON) added to tracks' fields: what an
/// operator does to add, say, a `mood` keyword field without a new binary.
pub fn definitions_with_track_field(extra: &str) -> Definitions {
    Definitions::builtin_edited(|file, text| match file {
        "track.json" => {
            let edited = text.replace("\"fields\": [", &format!("\"fields\": [\n    {extra},"));
            assert_ne!(edited, *text, "track.json has a field list");
            edited
        }
        _ => text.to_string(),
    })
    .expect("the edited definitions are valid")
}
