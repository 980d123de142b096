//! The real Chinook catalog (a Django fixture) mapped onto the site's tables, with synthetic
//! activity around it so the graph the rank job reads is not empty.
//!
//! Ids: Chinook's own ids are kept where the site has the same entity, so tests can look them
//! up — artists are users `1..=275`, tracks are tracks `1..=3503`, albums are playlists
//! `1..=347`, genres are groups `1..=25`. Rows Chinook does not have take ranges of their own:
//! employees are users [`STAFF_USER_BASE`]` + pk`, customers [`CUSTOMER_USER_BASE`]` + pk`,
//! synthetic listeners [`LISTENER_USER_BASE`]` + n`, Chinook playlists are playlists
//! [`PLAYLIST_BASE`]` + pk`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::SiteError;
use crate::names;
use crate::rows::{Rows, Table, Value};
use crate::synthetic::Zipf;

pub const STAFF_USER_BASE: i64 = 900;
pub const CUSTOMER_USER_BASE: i64 = 1000;
pub const LISTENER_USER_BASE: i64 = 2000;
/// Synthetic listeners added around the real customers.
pub const LISTENERS: i64 = 400;
pub const PLAYLIST_BASE: i64 = 1000;
/// Chinook invoices are dated 2009–2013; plays are moved twelve years on so the catalog
/// looks recent to recency-weighted ranking.
const INVOICE_SHIFT_DAYS: i64 = 365 * 12 + 3;

#[derive(Deserialize)]
struct Record {
    pk: i64,
    model: String,
    fields: serde_json::Map<String, Json>,
}

/// The Chinook fixture shipped in the repository (`datasets/chinook.json`), compiled in so
/// the demo runs from any clone, wherever it is started.
pub const EMBEDDED: &str = include_str!("../../datasets/chinook.json");

/// Where the fixture comes from: the copy compiled into the binary, or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fixture {
    Embedded,
    File(PathBuf),
}

impl Fixture {
    /// `Some(path)` reads that file; `None` is the embedded copy.
    pub fn new(path: Option<PathBuf>) -> Fixture {
        path.map_or(Fixture::Embedded, Fixture::File)
    }

    /// How messages name this fixture.
    fn origin(&self) -> PathBuf {
        match self {
            Fixture::Embedded => PathBuf::from("<embedded datasets/chinook.json>"),
            Fixture::File(path) => path.clone(),
        }
    }
}

/// Reads the fixture and builds every table's rows. `seed` drives the synthetic activity.
pub fn read(fixture: &Fixture, seed: u64) -> Result<Vec<Rows>, SiteError> {
    let text = match fixture {
        Fixture::Embedded => std::borrow::Cow::Borrowed(EMBEDDED),
        Fixture::File(path) => {
            std::borrow::Cow::Owned(std::fs::read_to_string(path).map_err(|source| {
                SiteError::ChinookMissing {
                    path: path.clone(),
                    source,
                }
            })?)
        }
    };
    let records: Vec<Record> =
        serde_json::from_str(&text).map_err(|e| SiteError::ChinookFormat {
            path: fixture.origin(),
            message: format!("not a Django fixture: {e}"),
        })?;
    let index = FixtureIndex::index(records);
    index.check().map_err(|message| SiteError::ChinookFormat {
        path: fixture.origin(),
        message,
    })?;
    Ok(index.rows(seed))
}

/// The fixture's records by model and primary key.
struct FixtureIndex {
    models: HashMap<String, BTreeMap<i64, serde_json::Map<String, Json>>>,
}

fn text(fields: &serde_json::Map<String, Json>, name: &str) -> String {
    fields
        .get(name)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn int(fields: &serde_json::Map<String, Json>, name: &str) -> Option<i64> {
    fields.get(name).and_then(Json::as_i64)
}

impl FixtureIndex {
    fn index(records: Vec<Record>) -> FixtureIndex {
        let mut models: HashMap<String, BTreeMap<i64, _>> = HashMap::new();
        for record in records {
            let model = record.model.trim_start_matches("chinook.").to_string();
            models
                .entry(model)
                .or_default()
                .insert(record.pk, record.fields);
        }
        FixtureIndex { models }
    }

    fn model(&self, name: &str) -> impl Iterator<Item = (i64, &serde_json::Map<String, Json>)> {
        self.models
            .get(name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(pk, f)| (*pk, f)))
    }

    fn check(&self) -> Result<(), String> {
        for model in ["artist", "album", "track", "genre"] {
            if self.model(model).next().is_none() {
                return Err(format!("no `chinook.{model}` records"));
            }
        }
        Ok(())
    }

    fn rows(&self, seed: u64) -> Vec<Rows> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC41_700C);
        let clock = Clock::new();
        let albums: BTreeMap<i64, (i64, String)> = self
            .model("album")
            .map(|(pk, f)| (pk, (int(f, "artist").unwrap_or(0), text(f, "title"))))
            .collect();
        let artists: BTreeMap<i64, String> = self
            .model("artist")
            .map(|(pk, f)| (pk, text(f, "name")))
            .collect();
        let genres: BTreeMap<i64, String> = self
            .model("genre")
            .map(|(pk, f)| (pk, text(f, "name")))
            .collect();

        let mut tracks = Rows::new(Table::Tracks);
        // (track id, owner, genre id, created µs), for activity below.
        let mut track_info: Vec<(i64, i64, i64, i64)> = Vec::new();
        let mut artist_tracks: BTreeMap<i64, usize> = BTreeMap::new();
        let mut album_tracks: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (pk, f) in self.model("track") {
            let album = int(f, "album").unwrap_or(0);
            let (artist, album_title) = albums.get(&album).cloned().unwrap_or((0, String::new()));
            let artist_name = artists.get(&artist).cloned().unwrap_or_default();
            let genre_id = int(f, "genre").unwrap_or(0);
            let genre = genres.get(&genre_id).cloned().unwrap_or_default();
            let composer = text(f, "composer");
            let mut description = format!("From the album {album_title} by {artist_name}.");
            let mut tags = vec![
                names::quote_tag(&genre.to_lowercase()),
                "chinook".to_string(),
            ];
            if !composer.is_empty() {
                description.push_str(&format!(" Composed by {composer}."));
                let first = composer.split([',', '/', '&']).next().unwrap_or("").trim();
                if !first.is_empty() {
                    tags.push(names::quote_tag(&first.to_lowercase()));
                }
            }
            let created = clock.catalog(&mut rng);
            let updated = clock.edit(&mut rng, created);
            tracks.push([
                Value::Int(pk),
                Value::Int(artist),
                Value::Text(text(f, "name")),
                Value::Text(description),
                Value::Text(genre),
                Value::Text(tags.join(" ")),
                Value::Int(int(f, "milliseconds").unwrap_or(0)),
                Value::Str("public"),
                Value::Time(created),
                Value::Time(updated),
                Value::Null,
                Value::Bool(false),
            ]);
            track_info.push((pk, artist, genre_id, created));
            *artist_tracks.entry(artist).or_default() += 1;
            album_tracks.entry(album).or_default().push(pk);
        }

        let mut users = Rows::new(Table::Users);
        let mut usernames = HashSet::new();
        let mut unique = |name: &str, fallback: &str, id: i64| {
            let slug = names::slug(name, fallback);
            if usernames.insert(slug.clone()) {
                slug
            } else {
                let slug = format!("{slug}-{id}");
                usernames.insert(slug.clone());
                slug
            }
        };
        let mut user =
            |rng: &mut ChaCha8Rng, id, username, full_name, description, city, country| {
                let created = clock.early(rng);
                users.push([
                    Value::Int(id),
                    Value::Text(username),
                    Value::Text(full_name),
                    Value::Text(description),
                    Value::Text(city),
                    Value::Text(country),
                    Value::Time(created),
                    Value::Time(clock.edit(rng, created)),
                    Value::Null,
                    Value::Bool(false),
                ]);
            };
        for (&pk, name) in &artists {
            let n = artist_tracks.get(&pk).copied().unwrap_or(0);
            let description = format!("{n} tracks on Chinook.");
            let username = unique(name, "artist", pk);
            user(
                &mut rng,
                pk,
                username,
                name.clone(),
                description,
                String::new(),
                String::new(),
            );
        }
        let mut staff = Vec::new();
        for (pk, f) in self.model("employee") {
            let name = format!("{} {}", text(f, "firstname"), text(f, "lastname"));
            let id = STAFF_USER_BASE + pk;
            let description = format!("{} at Chinook.", text(f, "title"));
            let username = unique(&name, "staff", id);
            user(
                &mut rng,
                id,
                username,
                name,
                description,
                text(f, "city"),
                text(f, "country"),
            );
            staff.push(id);
        }
        let mut listeners = Vec::new();
        for (pk, f) in self.model("customer") {
            let name = format!("{} {}", text(f, "firstname"), text(f, "lastname"));
            let id = CUSTOMER_USER_BASE + pk;
            let username = unique(&name, "listener", id);
            user(
                &mut rng,
                id,
                username,
                name,
                String::new(),
                text(f, "city"),
                text(f, "country"),
            );
            listeners.push(id);
        }
        for n in 1..=LISTENERS {
            let name = names::person_name(&mut rng);
            let id = LISTENER_USER_BASE + n;
            let (city, country) = names::city(&mut rng);
            let username = unique(&name, "listener", id);
            user(
                &mut rng,
                id,
                username,
                name,
                String::new(),
                city.into(),
                country.into(),
            );
            listeners.push(id);
        }

        let mut playlists = Rows::new(Table::Playlists);
        let mut playlist_tracks = Rows::new(Table::PlaylistTracks);
        let mut playlist =
            |rng: &mut ChaCha8Rng, id, owner, title, description, members: &[i64]| {
                let created = clock.catalog(rng);
                playlists.push([
                    Value::Int(id),
                    Value::Int(owner),
                    Value::Text(title),
                    Value::Text(description),
                    Value::Str("public"),
                    Value::Time(created),
                    Value::Time(clock.edit(rng, created)),
                    Value::Null,
                    Value::Bool(false),
                ]);
                for (position, track) in members.iter().enumerate() {
                    playlist_tracks.push([
                        Value::Int(id),
                        Value::Int(*track),
                        Value::Int(position as i64 + 1),
                    ]);
                }
            };
        for (&pk, (artist, title)) in &albums {
            let members = album_tracks.get(&pk).cloned().unwrap_or_default();
            let artist_name = artists.get(artist).cloned().unwrap_or_default();
            let description = format!("Album by {artist_name}, {} tracks.", members.len());
            playlist(&mut rng, pk, *artist, title.clone(), description, &members);
        }
        let mut chinook_playlists: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (_, f) in self.model("playlisttrack") {
            if let (Some(list), Some(track)) = (int(f, "playlist"), int(f, "track")) {
                chinook_playlists.entry(list).or_default().push(track);
            }
        }
        for (pk, f) in self.model("playlist") {
            let owner = staff
                .get((pk as usize) % staff.len().max(1))
                .copied()
                .unwrap_or(artists_first(&artists));
            let members = chinook_playlists.get(&pk).cloned().unwrap_or_default();
            let description = "A Chinook store playlist.".to_string();
            playlist(
                &mut rng,
                PLAYLIST_BASE + pk,
                owner,
                text(f, "name"),
                description,
                &members,
            );
        }

        // Plays: the real invoice lines (customers' purchases), then synthetic listening.
        let invoices: HashMap<i64, (i64, i64)> = self
            .model("invoice")
            .map(|(pk, f)| {
                let customer = CUSTOMER_USER_BASE + int(f, "customer").unwrap_or(0);
                let when = f
                    .get("invoicedate")
                    .and_then(Json::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| (t.to_utc() + TimeDelta::days(INVOICE_SHIFT_DAYS)).timestamp_micros())
                    .unwrap_or(clock.end);
                (pk, (customer, when))
            })
            .collect();
        let mut plays: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
        let mut sales: HashMap<i64, i64> = HashMap::new();
        for (_, f) in self.model("invoiceline") {
            let (Some(invoice), Some(track)) = (int(f, "invoice"), int(f, "track")) else {
                continue;
            };
            let Some(&(user, when)) = invoices.get(&invoice) else {
                continue;
            };
            let quantity = int(f, "quantity").unwrap_or(1).max(1);
            let entry = plays.entry((user, track)).or_insert((0, when));
            entry.0 += quantity;
            entry.1 = entry.1.max(when);
            *sales.entry(track).or_default() += quantity;
        }
        // Popularity order: best-selling tracks first, then by id.
        let mut by_popularity: Vec<i64> = track_info.iter().map(|t| t.0).collect();
        by_popularity.sort_by_key(|id| (-sales.get(id).copied().unwrap_or(0), *id));
        let track_zipf = Zipf::new(by_popularity.len() as u64, 1.0);
        let pick_track = |rng: &mut ChaCha8Rng| by_popularity[track_zipf.sample(rng) as usize - 1];
        let mut artists_by_size: Vec<i64> = artists.keys().copied().collect();
        artists_by_size
            .sort_by_key(|id| (-(artist_tracks.get(id).copied().unwrap_or(0) as i64), *id));
        let artist_zipf = Zipf::new(artists_by_size.len() as u64, 0.9);
        let pick_artist =
            |rng: &mut ChaCha8Rng| artists_by_size[artist_zipf.sample(rng) as usize - 1];

        for &user in &listeners {
            for _ in 0..rng.random_range(10..60) {
                let track = pick_track(&mut rng);
                let when = clock.activity(&mut rng);
                let entry = plays.entry((user, track)).or_insert((0, when));
                entry.0 += rng.random_range(1..8);
                entry.1 = entry.1.max(when);
            }
        }
        let mut play_rows = Rows::new(Table::Plays);
        for ((user, track), (count, when)) in plays {
            play_rows.push([
                Value::Int(user),
                Value::Int(track),
                Value::Int(count),
                Value::Time(when),
            ]);
        }

        let mut follows = Rows::new(Table::Follows);
        let mut likes = Rows::new(Table::Likes);
        let mut reposts = Rows::new(Table::Reposts);
        let mut comments = Rows::new(Table::Comments);
        let mut comment_id = 0i64;
        let fans: Vec<i64> = listeners
            .iter()
            .copied()
            .chain(artists.keys().copied())
            .collect();
        for &user in &fans {
            let is_artist = user < STAFF_USER_BASE;
            let mut followed = BTreeSet::new();
            for _ in 0..rng.random_range(if is_artist { 0..5 } else { 3..16 }) {
                let followee = pick_artist(&mut rng);
                if followee != user && followed.insert(followee) {
                    follows.push([
                        Value::Int(user),
                        Value::Int(followee),
                        Value::Time(clock.activity(&mut rng)),
                    ]);
                }
            }
            let mut liked = BTreeSet::new();
            for _ in 0..rng.random_range(if is_artist { 0..5 } else { 5..40 }) {
                liked.insert(("track", pick_track(&mut rng)));
            }
            for _ in 0..rng.random_range(0..3) {
                liked.insert(("playlist", rng.random_range(1..=albums.len() as i64)));
            }
            for (kind, target) in liked {
                likes.push([
                    Value::Int(user),
                    Value::Str(kind),
                    Value::Int(target),
                    Value::Time(clock.activity(&mut rng)),
                ]);
            }
            let mut reposted = BTreeSet::new();
            for _ in 0..rng.random_range(0..5) {
                reposted.insert(pick_track(&mut rng));
            }
            for target in reposted {
                reposts.push([
                    Value::Int(user),
                    Value::Str("track"),
                    Value::Int(target),
                    Value::Time(clock.activity(&mut rng)),
                ]);
            }
            for _ in 0..rng.random_range(0..4) {
                comment_id += 1;
                comments.push([
                    Value::Int(comment_id),
                    Value::Int(user),
                    Value::Int(pick_track(&mut rng)),
                    Value::Str(names::comment(&mut rng)),
                    Value::Time(clock.activity(&mut rng)),
                ]);
            }
        }

        // One group per genre, started by the artist with most tracks in it.
        let mut groups = Rows::new(Table::Groups);
        let mut group_members = Rows::new(Table::GroupMembers);
        let mut group_tracks = Rows::new(Table::GroupTracks);
        for (&genre_id, genre) in &genres {
            let in_genre: Vec<&(i64, i64, i64, i64)> =
                track_info.iter().filter(|t| t.2 == genre_id).collect();
            let mut per_artist: BTreeMap<i64, usize> = BTreeMap::new();
            for t in &in_genre {
                *per_artist.entry(t.1).or_default() += 1;
            }
            let creator = per_artist
                .iter()
                .max_by_key(|(id, n)| (**n, -**id))
                .map(|(id, _)| *id)
                .unwrap_or(1);
            let created = clock.early(&mut rng);
            groups.push([
                Value::Int(genre_id),
                Value::Int(creator),
                Value::Text(format!("{genre} Lovers")),
                Value::Text(format!("Everything {genre}: share your favourite tracks.")),
                Value::Time(created),
                Value::Time(clock.edit(&mut rng, created)),
                Value::Null,
                Value::Bool(false),
            ]);
            let mut members = BTreeSet::from([creator]);
            for _ in 0..rng.random_range(3..40) {
                members.insert(listeners[rng.random_range(0..listeners.len())]);
            }
            for member in members {
                group_members.push([
                    Value::Int(genre_id),
                    Value::Int(member),
                    Value::Time(clock.activity(&mut rng)),
                ]);
            }
            let mut shared = BTreeSet::new();
            for _ in 0..in_genre.len().min(30) {
                shared.insert(in_genre[rng.random_range(0..in_genre.len())].0);
            }
            for track in shared {
                group_tracks.push([
                    Value::Int(genre_id),
                    Value::Int(track),
                    Value::Time(clock.activity(&mut rng)),
                ]);
            }
        }

        vec![
            users,
            tracks,
            playlists,
            groups,
            playlist_tracks,
            group_members,
            group_tracks,
            follows,
            likes,
            reposts,
            comments,
            play_rows,
        ]
    }
}

fn artists_first(artists: &BTreeMap<i64, String>) -> i64 {
    artists.keys().next().copied().unwrap_or(1)
}

/// The catalog's fixed timeline, so the same seed always gives the same times.
pub(crate) struct Clock {
    start: i64,
    pub(crate) end: i64,
}

impl Clock {
    /// Three years up to 2026-10-01.
    pub(crate) fn new() -> Clock {
        let end = DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
            .map(|t| t.timestamp_micros())
            .unwrap_or(0);
        Clock {
            start: end - 3 * 365 * 86_400_000_000,
            end,
        }
    }

    /// A time in the first half of the timeline (accounts, groups).
    pub(crate) fn early(&self, rng: &mut impl Rng) -> i64 {
        rng.random_range(self.start..self.start + (self.end - self.start) / 2)
    }

    /// A time anywhere on the timeline, more often recent (uploads).
    pub(crate) fn catalog(&self, rng: &mut impl Rng) -> i64 {
        let u: f64 = rng.random();
        self.end - ((1.0 - u * u) * (self.end - self.start) as f64) as i64
    }

    /// An activity time in the later half.
    pub(crate) fn activity(&self, rng: &mut impl Rng) -> i64 {
        rng.random_range(self.start + (self.end - self.start) / 2..self.end)
    }

    /// An edit after `created`, no later than the end.
    pub(crate) fn edit(&self, rng: &mut impl Rng, created: i64) -> i64 {
        if rng.random_bool(0.5) {
            created
        } else {
            (created + rng.random_range(0..30 * 86_400_000_000i64)).min(self.end)
        }
    }
}
