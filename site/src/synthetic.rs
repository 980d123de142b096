//! A synthetic catalog shaped like a real music-sharing site, generated deterministically:
//! the same `(tracks, seed)` always gives the same rows, whichever thread makes which chunk.
//!
//! Shape, for `N` tracks: `N/4` users (a third of them upload, with Zipf-distributed catalog
//! sizes, so a few users have thousands of tracks), `N/10` playlists, `N/200` groups, and about
//! 20 activity rows per track — plays 7, likes 5, follows 2, playlist entries 2, reposts 1.5,
//! comments 1, group members 0.5, group tracks 0.5 — aimed by Zipf-like popularity. Titles
//! repeat ("Intro", "Untitled"), remixes and covers name other artists, names carry diacritics
//! (and the first users are real stage names like AC/DC, P!nk, deadmau5, 坂本龍一). About 3% of
//! tracks and playlists are private, 1% of entities deleted, 0.5% taken down, and a few tracks
//! carry 50 KB spam descriptions.
//!
//! Every entity's attributes come from its own ChaCha stream (seeded by catalog seed, kind and
//! id), so any row can refer to any other (a remix names the remixer) without a shared state;
//! every activity chunk has its own stream too.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::chinook::Clock;
use crate::load::Catalog;
use crate::names;
use crate::rows::{Rows, Table, Value};

/// Entity ids per chunk of an entity table.
const ENTITY_CHUNK: i64 = 5_000;
/// Actors (users, playlists) per chunk of an activity table.
const ACTOR_CHUNK: i64 = 1_000;
/// Groups per chunk of the group tables.
const GROUP_CHUNK: i64 = 20;
/// Comment ids are `user id * COMMENT_STRIDE + n`, so chunks never need to coordinate.
pub const COMMENT_STRIDE: i64 = 1_000;

/// Activity rows per track, by table (the mean; heavy users do much more).
const PLAYS: f64 = 7.0;
const LIKES: f64 = 5.0;
const FOLLOWS: f64 = 2.0;
const PLAYLIST_ENTRIES: f64 = 2.0;
const REPOSTS: f64 = 1.5;
const COMMENTS: f64 = 1.0;
const GROUP_MEMBERS: f64 = 0.5;
const GROUP_TRACKS: f64 = 0.5;

/// The size and seed of a synthetic catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticOptions {
    pub tracks: i64,
    pub seed: u64,
}

/// How many entities of each kind a catalog of `tracks` tracks has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub tracks: i64,
    pub users: i64,
    /// Users `1..=uploaders` upload; the rest only listen.
    pub uploaders: i64,
    pub playlists: i64,
    pub groups: i64,
}

impl Shape {
    pub fn new(tracks: i64) -> Shape {
        let tracks = tracks.max(1);
        let special = names::SPECIAL_ARTISTS.len() as i64;
        let users = (tracks / 4).max(3 * special);
        Shape {
            tracks,
            users,
            uploaders: (users / 3).max(special + 10).min(users),
            playlists: (tracks / 10).max(5),
            groups: (tracks / 200).max(3),
        }
    }
}

/// A deterministic synthetic catalog; see the module documentation.
pub struct Synthetic {
    seed: u64,
    shape: Shape,
    clock: Clock,
    track_popularity: Zipf,
    uploader_popularity: Zipf,
    user_popularity: Zipf,
    playlist_popularity: Zipf,
    spam: Vec<i64>,
}

/// Stream salts: one per kind of random decision, so streams never overlap.
#[derive(Clone, Copy)]
enum Stream {
    User = 1,
    Track = 2,
    Playlist = 3,
    Group = 4,
    Activity = 16,
    Weight = 32,
}

impl Synthetic {
    pub fn new(options: SyntheticOptions) -> Synthetic {
        let shape = Shape::new(options.tracks);
        let spam_count = (shape.tracks / 200_000).max(3).min(shape.tracks);
        let spam = (1..=spam_count)
            .map(|k| k * shape.tracks / (spam_count + 1) + 1)
            .collect();
        Synthetic {
            seed: options.seed,
            shape,
            clock: Clock::new(),
            track_popularity: Zipf::new(shape.tracks as u64, 1.0),
            uploader_popularity: Zipf::new(shape.uploaders as u64, 0.7),
            user_popularity: Zipf::new(shape.users as u64, 0.6),
            playlist_popularity: Zipf::new(shape.playlists as u64, 1.0),
            spam,
        }
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The ChaCha stream of one entity or one chunk.
    fn rng(&self, stream: Stream, a: u64, b: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(mix(mix(self.seed, stream as u64), a), b))
    }

    /// A popular track: Zipf rank mapped to an id by a fixed permutation, so popularity is not
    /// tied to upload order.
    fn popular_track(&self, rng: &mut impl Rng) -> i64 {
        permute(
            self.track_popularity.sample(rng),
            self.shape.tracks as u64,
            self.seed ^ 0x7,
        )
    }

    /// An uploader by Zipf rank; the special artists are the most prolific and most followed.
    fn popular_uploader(&self, rng: &mut impl Rng) -> i64 {
        let rank = self.uploader_popularity.sample(rng) as i64;
        let special = names::SPECIAL_ARTISTS.len() as i64;
        if rank <= special {
            rank
        } else {
            special
                + permute(
                    (rank - special) as u64,
                    (self.shape.uploaders - special) as u64,
                    self.seed ^ 0x11,
                )
        }
    }

    fn popular_user(&self, rng: &mut impl Rng) -> i64 {
        permute(
            self.user_popularity.sample(rng),
            self.shape.users as u64,
            self.seed ^ 0x13,
        )
    }

    fn popular_playlist(&self, rng: &mut impl Rng) -> i64 {
        permute(
            self.playlist_popularity.sample(rng),
            self.shape.playlists as u64,
            self.seed ^ 0x17,
        )
    }

    /// How active a user is, relative to the mean (exponentially distributed, mean 1).
    fn activity_weight(&self, user: i64) -> f64 {
        let u: f64 = self.rng(Stream::Weight, user as u64, 0).random();
        -(1.0 - u).ln()
    }

    /// A user's profile: the users-table row and the display name other rows quote.
    pub fn user(&self, id: i64) -> UserProfile {
        let mut rng = self.rng(Stream::User, id as u64, 0);
        let created = self.clock.early(&mut rng);
        if let Some(&(username, name, city, country)) =
            names::SPECIAL_ARTISTS.get((id - 1) as usize)
        {
            return UserProfile {
                id,
                username: username.to_string(),
                full_name: name.to_string(),
                description: "Official profile.".to_string(),
                city: city.to_string(),
                country: country.to_string(),
                life: Life::live(created),
            };
        }
        let uploader = id <= self.shape.uploaders;
        let full_name = if uploader {
            names::artist_name(&mut rng)
        } else {
            names::person_name(&mut rng)
        };
        let username = format!("{}-{id}", names::slug(&full_name, "user"));
        let (city, country) = names::city(&mut rng);
        let description = if uploader && !city.is_empty() {
            format!("Producer and DJ from {city}. Bookings via DM.")
        } else {
            names::description(&mut rng)
        };
        // One listener in ten never filled in a display name.
        let full_name = if !uploader && rng.random_bool(0.1) {
            String::new()
        } else {
            full_name
        };
        let life = Life::draw(&self.clock, &mut rng, id, created, false);
        UserProfile {
            id,
            username,
            full_name,
            description,
            city: city.to_string(),
            country: country.to_string(),
            life,
        }
    }

    fn users(&self, chunk: usize) -> Rows {
        let ids = chunk_ids(chunk, ENTITY_CHUNK, self.shape.users);
        let mut rows = Rows::with_capacity(Table::Users, ids.clone().count());
        for id in ids {
            let p = self.user(id);
            let head = [
                Value::Int(id),
                Value::Text(p.username),
                Value::Text(p.full_name),
                Value::Text(p.description),
                Value::Text(p.city),
                Value::Text(p.country),
            ];
            rows.push_row(head.into_iter().chain(p.life.columns()));
        }
        rows
    }

    fn display_name(&self, user: i64) -> String {
        let p = self.user(user);
        if p.full_name.is_empty() {
            p.username
        } else {
            p.full_name
        }
    }

    fn tracks(&self, chunk: usize) -> Rows {
        let ids = chunk_ids(chunk, ENTITY_CHUNK, self.shape.tracks);
        let mut rows = Rows::with_capacity(Table::Tracks, ids.clone().count());
        for id in ids {
            let mut rng = self.rng(Stream::Track, id as u64, 0);
            let owner = self.popular_uploader(&mut rng);
            let base = names::track_title(&mut rng);
            let mut description = names::description(&mut rng);
            let title = match rng.random_range(0..100) {
                0..=7 => format!(
                    "{base} ({} Remix)",
                    self.display_name(self.popular_uploader(&mut rng))
                ),
                8..=10 => {
                    let original = self.display_name(self.popular_uploader(&mut rng));
                    description = format!("My cover of {original}'s {base}. {description}");
                    format!("{base} ({original} cover)")
                }
                11..=15 => format!(
                    "{base} (feat. {})",
                    self.display_name(self.popular_uploader(&mut rng))
                ),
                _ => base,
            };
            if self.spam.binary_search(&id).is_ok() {
                description = names::spam(50 * 1024);
            }
            let genre = names::genre(&mut rng);
            let tags = names::tags(&mut rng, genre);
            let duration = rng.random_range(30_000..480_000i64);
            let created = self.clock.catalog(&mut rng);
            let life = Life::draw(&self.clock, &mut rng, id, created, true);
            let head = [
                Value::Int(id),
                Value::Int(owner),
                Value::Text(title),
                Value::Text(description),
                Value::Str(genre),
                Value::Text(tags),
                Value::Int(duration),
                Value::Str(life.status.sharing()),
            ];
            rows.push_row(head.into_iter().chain(life.columns()));
        }
        rows
    }

    fn playlists(&self, chunk: usize) -> Rows {
        let ids = chunk_ids(chunk, ENTITY_CHUNK, self.shape.playlists);
        let mut rows = Rows::with_capacity(Table::Playlists, ids.clone().count());
        for id in ids {
            let mut rng = self.rng(Stream::Playlist, id as u64, 0);
            let owner = self.popular_user(&mut rng);
            let artist = self.display_name(self.popular_uploader(&mut rng));
            let title = names::playlist_title(&mut rng, &artist);
            let description = names::description(&mut rng);
            let created = self.clock.catalog(&mut rng);
            let life = Life::draw(&self.clock, &mut rng, id, created, true);
            let head = [
                Value::Int(id),
                Value::Int(owner),
                Value::Text(title),
                Value::Text(description),
                Value::Str(life.status.sharing()),
            ];
            rows.push_row(head.into_iter().chain(life.columns()));
        }
        rows
    }

    fn groups(&self, chunk: usize) -> Rows {
        let ids = chunk_ids(chunk, ENTITY_CHUNK, self.shape.groups);
        let mut rows = Rows::with_capacity(Table::Groups, ids.clone().count());
        for id in ids {
            let mut rng = self.rng(Stream::Group, id as u64, 0);
            let creator = self.popular_uploader(&mut rng);
            let name = names::group_name(&mut rng);
            let description = format!(
                "A place to share {} tracks. Be nice, no spam.",
                names::genre(&mut rng)
            );
            let created = self.clock.early(&mut rng);
            let life = Life::draw(&self.clock, &mut rng, id, created, false);
            let head = [
                Value::Int(id),
                Value::Int(creator),
                Value::Text(name),
                Value::Text(description),
            ];
            rows.push_row(head.into_iter().chain(life.columns()));
        }
        rows
    }

    /// The mean number of `per_track`-rows an actor makes, out of `actors`, scaled by weight.
    fn count(
        &self,
        rng: &mut impl Rng,
        per_track: f64,
        actors: i64,
        weight: f64,
        cap: usize,
    ) -> usize {
        let mean = per_track * self.shape.tracks as f64 / actors as f64 * weight;
        // Randomised rounding keeps the expected total right even for small means.
        let n = mean.floor() as usize + usize::from(rng.random::<f64>() < mean.fract());
        n.min(cap)
    }

    /// One activity table's rows for a chunk of acting users.
    fn user_activity(&self, table: Table, chunk: usize) -> Rows {
        let users = chunk_ids(chunk, ACTOR_CHUNK, self.shape.users);
        let mut rng = self.rng(Stream::Activity, table as u64, chunk as u64);
        let mut rows = Rows::new(table);
        let mut targets: Vec<(&'static str, i64)> = Vec::new();
        for user in users {
            let weight = self.activity_weight(user);
            targets.clear();
            let per_track = match table {
                Table::Follows => FOLLOWS,
                Table::Likes => LIKES,
                Table::Reposts => REPOSTS,
                Table::Comments => COMMENTS,
                _ => PLAYS,
            };
            let cap = if table == Table::Comments {
                COMMENT_STRIDE as usize - 1
            } else {
                5_000
            };
            let n = self.count(&mut rng, per_track, self.shape.users, weight, cap);
            for _ in 0..n {
                let target = match table {
                    Table::Follows if rng.random_bool(0.8) => {
                        ("user", self.popular_uploader(&mut rng))
                    }
                    Table::Follows => ("user", rng.random_range(1..=self.shape.users)),
                    Table::Likes | Table::Reposts if rng.random_bool(0.12) => {
                        ("playlist", self.popular_playlist(&mut rng))
                    }
                    _ => ("track", self.popular_track(&mut rng)),
                };
                targets.push(target);
            }
            if table != Table::Comments {
                targets.sort_unstable();
                targets.dedup();
            }
            for (j, &(kind, target)) in targets.iter().enumerate() {
                let when = Value::Time(self.clock.activity(&mut rng));
                match table {
                    Table::Follows if target != user => {
                        rows.push([Value::Int(user), Value::Int(target), when]);
                    }
                    Table::Follows => {}
                    Table::Likes | Table::Reposts => {
                        rows.push([Value::Int(user), Value::Str(kind), Value::Int(target), when]);
                    }
                    Table::Comments => rows.push([
                        Value::Int(user * COMMENT_STRIDE + j as i64 + 1),
                        Value::Int(user),
                        Value::Int(target),
                        Value::Str(names::comment(&mut rng)),
                        when,
                    ]),
                    _ => {
                        // Plays: most tracks are played a few times, some on repeat.
                        let count = 1 + (-(1.0 - rng.random::<f64>()).ln() * 3.0) as i64;
                        rows.push([
                            Value::Int(user),
                            Value::Int(target),
                            Value::Int(count),
                            when,
                        ]);
                    }
                }
            }
        }
        rows
    }

    fn playlist_tracks(&self, chunk: usize) -> Rows {
        let playlists = chunk_ids(chunk, ACTOR_CHUNK, self.shape.playlists);
        let mut rng = self.rng(Stream::Activity, Table::PlaylistTracks as u64, chunk as u64);
        let mut rows = Rows::new(Table::PlaylistTracks);
        for playlist in playlists {
            let weight = -(1.0 - rng.random::<f64>()).ln();
            let n = self.count(
                &mut rng,
                PLAYLIST_ENTRIES,
                self.shape.playlists,
                weight,
                500,
            );
            for position in 1..=n as i64 {
                let track = self.popular_track(&mut rng);
                rows.push([
                    Value::Int(playlist),
                    Value::Int(track),
                    Value::Int(position),
                ]);
            }
        }
        rows
    }

    fn group_activity(&self, table: Table, chunk: usize) -> Rows {
        let groups = chunk_ids(chunk, GROUP_CHUNK, self.shape.groups);
        let mut rng = self.rng(Stream::Activity, table as u64, chunk as u64);
        let mut rows = Rows::new(table);
        let mut ids = Vec::new();
        for group in groups {
            let weight = -(1.0 - rng.random::<f64>()).ln();
            let (per_track, cap) = match table {
                Table::GroupMembers => (GROUP_MEMBERS, self.shape.users as usize),
                _ => (GROUP_TRACKS, self.shape.tracks as usize),
            };
            let n = self.count(
                &mut rng,
                per_track,
                self.shape.groups,
                weight,
                cap.min(50_000),
            );
            ids.clear();
            for _ in 0..n {
                ids.push(match table {
                    Table::GroupMembers => self.popular_user(&mut rng),
                    _ => self.popular_track(&mut rng),
                });
            }
            if table == Table::GroupMembers {
                let mut creator_rng = self.rng(Stream::Group, group as u64, 0);
                ids.push(self.popular_uploader(&mut creator_rng));
            }
            ids.sort_unstable();
            ids.dedup();
            for &id in &ids {
                rows.push([
                    Value::Int(group),
                    Value::Int(id),
                    Value::Time(self.clock.activity(&mut rng)),
                ]);
            }
        }
        rows
    }

    fn chunks(&self, table: Table) -> usize {
        let (n, per) = match table {
            Table::Users => (self.shape.users, ENTITY_CHUNK),
            Table::Tracks => (self.shape.tracks, ENTITY_CHUNK),
            Table::Playlists => (self.shape.playlists, ENTITY_CHUNK),
            Table::Groups => (self.shape.groups, ENTITY_CHUNK),
            Table::PlaylistTracks => (self.shape.playlists, ACTOR_CHUNK),
            Table::GroupMembers | Table::GroupTracks => (self.shape.groups, GROUP_CHUNK),
            _ => (self.shape.users, ACTOR_CHUNK),
        };
        ((n + per - 1) / per) as usize
    }
}

impl Catalog for Synthetic {
    fn jobs(&self) -> Vec<(Table, usize)> {
        Table::ALL
            .iter()
            .flat_map(|&table| (0..self.chunks(table)).map(move |chunk| (table, chunk)))
            .collect()
    }

    fn produce(&self, table: Table, chunk: usize) -> Rows {
        match table {
            Table::Users => self.users(chunk),
            Table::Tracks => self.tracks(chunk),
            Table::Playlists => self.playlists(chunk),
            Table::Groups => self.groups(chunk),
            Table::PlaylistTracks => self.playlist_tracks(chunk),
            Table::GroupMembers | Table::GroupTracks => self.group_activity(table, chunk),
            Table::Follows | Table::Likes | Table::Reposts | Table::Comments | Table::Plays => {
                self.user_activity(table, chunk)
            }
        }
    }

    fn expected_rows(&self) -> u64 {
        let s = self.shape;
        let per_track = PLAYS
            + LIKES
            + FOLLOWS
            + PLAYLIST_ENTRIES
            + REPOSTS
            + COMMENTS
            + GROUP_MEMBERS
            + GROUP_TRACKS;
        (s.users + s.tracks + s.playlists + s.groups) as u64 + (per_track * s.tracks as f64) as u64
    }
}

/// A synthetic user's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub description: String,
    pub city: String,
    pub country: String,
    pub life: Life,
}

/// When an entity was created and last changed, and whether it is visible.
#[derive(Debug, Clone, PartialEq)]
pub struct Life {
    pub created: i64,
    pub updated: i64,
    /// `deleted_at`: the row's last change when deleted, else null.
    pub deleted: Value,
    pub status: Status,
}

impl Life {
    fn live(created: i64) -> Life {
        Life {
            created,
            updated: created,
            deleted: Value::Null,
            status: Status::Live,
        }
    }

    /// An edit time after `created` and a status; a deletion is the row's last change.
    fn draw(clock: &Clock, rng: &mut impl Rng, id: i64, created: i64, has_sharing: bool) -> Life {
        let updated = clock.edit(rng, created);
        let status = Status::draw(rng, has_sharing);
        if status == Status::Deleted {
            let later = (mix(id as u64, 0xDE1) % (7 * 86_400_000_000)) as i64;
            let deleted = (updated + later).min(clock.end).max(updated);
            Life {
                created,
                updated: deleted,
                deleted: Value::Time(deleted),
                status,
            }
        } else {
            Life {
                created,
                updated,
                deleted: Value::Null,
                status,
            }
        }
    }

    /// `created_at, updated_at, deleted_at, taken_down`: the last columns of every entity table.
    fn columns(&self) -> [Value; 4] {
        [
            Value::Time(self.created),
            Value::Time(self.updated),
            self.deleted.clone(),
            Value::Bool(self.status == Status::TakenDown),
        ]
    }
}

/// Whether an entity is visible, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Live,
    Private,
    Deleted,
    TakenDown,
}

impl Status {
    /// 1% deleted, 0.5% taken down, and (where there is sharing) 3% private.
    fn draw(rng: &mut impl Rng, has_sharing: bool) -> Status {
        let u: f64 = rng.random();
        if u < 0.01 {
            Status::Deleted
        } else if u < 0.015 {
            Status::TakenDown
        } else if has_sharing && u < 0.045 {
            Status::Private
        } else {
            Status::Live
        }
    }

    fn sharing(self) -> &'static str {
        if self == Status::Private {
            "private"
        } else {
            "public"
        }
    }
}

/// Ids `chunk * per + 1 ..= min((chunk + 1) * per, max)`.
fn chunk_ids(chunk: usize, per: i64, max: i64) -> std::ops::RangeInclusive<i64> {
    let first = chunk as i64 * per + 1;
    first..=((chunk as i64 + 1) * per).min(max)
}

/// SplitMix64 of `a` combined with `b`: decorrelated seeds for sibling streams.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps rank `1..=n` onto id `1..=n` by multiplication with a unit modulo `n`: a fixed,
/// seed-dependent bijection that scatters popular ranks over the id space.
fn permute(rank: u64, n: u64, seed: u64) -> i64 {
    if n <= 1 {
        return 1;
    }
    let mut multiplier = (mix(seed, n) % n).max(1);
    while gcd(multiplier, n) != 1 {
        multiplier = multiplier % (n - 1) + 1;
    }
    (((rank - 1) as u128 * multiplier as u128 % n as u128) as i64) + 1
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A Zipf-like sampler over ranks `1..=n` (continuous approximation, inverse CDF): rank `r`
/// is drawn with probability roughly proportional to `r^-s`.
#[derive(Debug, Clone, Copy)]
pub struct Zipf {
    n: u64,
    s: f64,
    h_max: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Zipf {
        let n = n.max(1);
        let h_max = Zipf::h(s, n as f64 + 1.0);
        Zipf { n, s, h_max }
    }

    fn h(s: f64, x: f64) -> f64 {
        if (s - 1.0).abs() < 1e-9 {
            x.ln()
        } else {
            (x.powf(1.0 - s) - 1.0) / (1.0 - s)
        }
    }

    /// A rank in `1..=n`.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u = rng.random::<f64>() * self.h_max;
        let x = if (self.s - 1.0).abs() < 1e-9 {
            u.exp()
        } else {
            (1.0 + (1.0 - self.s) * u).powf(1.0 / (1.0 - self.s))
        };
        (x as u64).clamp(1, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn all_rows(catalog: &Synthetic) -> Vec<Rows> {
        catalog
            .jobs()
            .into_iter()
            .map(|(t, c)| catalog.produce(t, c))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let options = SyntheticOptions {
            tracks: 3_000,
            seed: 7,
        };
        let (a, b) = (Synthetic::new(options), Synthetic::new(options));
        assert_eq!(all_rows(&a), all_rows(&b));
        // And chunk by chunk in reverse order, as another thread schedule would make them.
        let mut jobs = a.jobs();
        jobs.reverse();
        for (table, chunk) in jobs {
            assert_eq!(a.produce(table, chunk), b.produce(table, chunk));
        }
        let other = Synthetic::new(SyntheticOptions {
            tracks: 3_000,
            seed: 8,
        });
        assert_ne!(all_rows(&a), all_rows(&other));
    }

    #[test]
    fn the_catalog_is_shaped_like_a_site() {
        let catalog = Synthetic::new(SyntheticOptions {
            tracks: 40_000,
            seed: 1,
        });
        let rows = all_rows(&catalog);
        let of = |table: Table| {
            rows.iter()
                .filter(move |r| r.table == table)
                .flat_map(|r| r.iter())
        };
        let tracks: Vec<&[Value]> = of(Table::Tracks).collect();
        assert_eq!(tracks.len(), 40_000);
        let share = |pred: &dyn Fn(&[Value]) -> bool| {
            tracks.iter().filter(|t| pred(t)).count() as f64 / tracks.len() as f64
        };
        let private = share(&|t| t[7] == Value::Str("private"));
        let deleted = share(&|t| t[10] != Value::Null);
        let taken_down = share(&|t| t[11] == Value::Bool(true));
        assert!((0.02..0.04).contains(&private), "private {private}");
        assert!((0.005..0.015).contains(&deleted), "deleted {deleted}");
        assert!(
            (0.002..0.008).contains(&taken_down),
            "taken down {taken_down}"
        );
        let intros = share(&|t| t[2] == Value::Text("Intro".into()));
        assert!(intros > 0.005, "intro share {intros}");
        assert!(share(&|t| matches!(&t[2], Value::Text(s) if s.contains(" Remix)"))) > 0.03);
        let spam = tracks
            .iter()
            .filter(|t| matches!(&t[3], Value::Text(s) if s.len() >= 50 * 1024))
            .count();
        assert!(spam >= 3, "{spam} spam descriptions");
        let users: Vec<&[Value]> = of(Table::Users).collect();
        assert_eq!(users[0][2], Value::Text("AC/DC".into()));
        assert!(users.iter().any(|u| u[2] == Value::Text("坂本龍一".into())));
        // Usernames are unique; activity primary keys are unique.
        let names: HashSet<&Value> = users.iter().map(|u| &u[1]).collect();
        assert_eq!(names.len(), users.len());
        let likes: Vec<&[Value]> = of(Table::Likes).collect();
        let keys: HashSet<(&Value, &Value, &Value)> =
            likes.iter().map(|l| (&l[0], &l[1], &l[2])).collect();
        assert_eq!(keys.len(), likes.len());
        let follows: HashSet<(&Value, &Value)> =
            of(Table::Follows).map(|f| (&f[0], &f[1])).collect();
        assert!(follows.iter().all(|(a, b)| a != b));
        // About twenty activity rows per track.
        let activity: usize = rows
            .iter()
            .filter(|r| {
                !matches!(
                    r.table,
                    Table::Users | Table::Tracks | Table::Playlists | Table::Groups
                )
            })
            .map(Rows::len)
            .sum();
        let per_track = activity as f64 / 40_000.0;
        assert!(
            (14.0..24.0).contains(&per_track),
            "{per_track} activity rows per track"
        );
        // Some users upload many tracks.
        let mut per_owner = std::collections::HashMap::new();
        for t in &tracks {
            *per_owner.entry(&t[1]).or_insert(0) += 1;
        }
        assert!(per_owner.values().any(|&n| n > 200), "no prolific uploader");
    }

    #[test]
    fn zipf_prefers_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(1_000, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let samples: Vec<u64> = (0..10_000).map(|_| zipf.sample(&mut rng)).collect();
        assert!(samples.iter().all(|&r| (1..=1_000).contains(&r)));
        let top10 = samples.iter().filter(|&&r| r <= 10).count();
        assert!(top10 > 2_000, "{top10}");
    }

    #[test]
    fn permute_is_a_bijection() {
        for n in [1u64, 2, 10, 97, 1000] {
            let ids: HashSet<i64> = (1..=n).map(|r| permute(r, n, 42)).collect();
            assert_eq!(ids.len() as u64, n);
            assert!(ids.iter().all(|&id| id >= 1 && id as u64 <= n));
        }
    }
}
