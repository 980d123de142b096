//! Known-item query sets drawn from the catalog: a person types the name of something that
//! exists, and the one entity that name belongs to is the answer (grade 3).
//!
//! Each query carries its class, so figures come per kind of need:
//!
//! | class | what was typed |
//! | --- | --- |
//! | `artist` | an uploader's display name, as written |
//! | `artist-lower` | the same in lower case |
//! | `set` | a playlist's (album's) title |
//! | `track` | a track's title |
//! | `group` | a group's name |
//! | `artist-title` | the uploader's name, then the track's title |
//! | `title-start` | the first three words of a title of five words or more |
//! | `unaccented` | a name with diacritics, typed without them |
//! | `misspelled` | a title with one word replaced by a real misspelling of it |
//! | `slip` | a title with one keyboard slip (a neighbouring key, two swapped letters, a lost letter) |
//!
//! Only names that identify one searchable entity become queries: when two tracks are both
//! called "Love", nobody can say which one the person meant, and such a query measures luck.
//! (Which of equals comes first is the prior's job, measured with judged sets and clicks.)
//! The draw is deterministic for a seed.

use std::collections::{BTreeMap, HashMap};

use schemas::analyzer::fold;
use schemas::db::Db;
use schemas::searchable::condition;
use schemas::{EntityKey, EntityKind};

use crate::{EvalQuery, QualityError, QuerySet};

/// Real misspellings (`misspelling<TAB>correction`), shipped in `datasets/`.
const MISSPELLINGS: &str = include_str!("../../datasets/common-misspellings.tsv");

/// Every class [`generate`] draws, in report order.
pub const CLASSES: [&str; 10] = [
    "artist",
    "artist-lower",
    "set",
    "track",
    "group",
    "artist-title",
    "title-start",
    "unaccented",
    "misspelled",
    "slip",
];

/// How big a set to draw, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    pub seed: u64,
    /// At most this many queries per class.
    pub per_class: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 42,
            per_class: 200,
        }
    }
}

/// One searchable entity's name, with its owner's display name where it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub key: EntityKey,
    pub name: String,
    pub owner: Option<String>,
}

/// Reads the names of every searchable entity: users by display name (full name, else
/// username), tracks and playlists by title with their owner's display name, groups by name.
/// Users count as artists when they own a searchable track.
pub async fn catalog(db: &Db) -> Result<(Vec<Named>, Vec<EntityKey>), QualityError> {
    let users = format!(
        "SELECT u.id, CASE WHEN u.full_name = '' THEN u.username ELSE u.full_name END, \
         EXISTS (SELECT 1 FROM tracks t WHERE t.user_id = u.id AND {}) \
         FROM users u WHERE {} ORDER BY u.id",
        condition(EntityKind::Track, "t"),
        condition(EntityKind::User, "u"),
    );
    let owned = |kind: EntityKind, table: &str, name: &str, owner: &str| {
        format!(
            "SELECT e.id, e.{name}, CASE WHEN o.full_name = '' THEN o.username ELSE o.full_name END \
             FROM {table} e LEFT JOIN users o ON o.id = e.{owner} WHERE {} ORDER BY e.id",
            condition(kind, "e")
        )
    };
    let mut names = Vec::new();
    let mut artists = Vec::new();
    for (id, name, uploads) in fetch::<(i64, String, bool)>(db, users).await? {
        let key = EntityKey::new(EntityKind::User, id);
        if uploads {
            artists.push(key);
        }
        names.push(Named {
            key,
            name,
            owner: None,
        });
    }
    for (kind, sql) in [
        (
            EntityKind::Track,
            owned(EntityKind::Track, "tracks", "title", "user_id"),
        ),
        (
            EntityKind::Playlist,
            owned(EntityKind::Playlist, "playlists", "title", "user_id"),
        ),
        (
            EntityKind::Group,
            owned(EntityKind::Group, "groups", "name", "creator_id"),
        ),
    ] {
        for (id, name, owner) in fetch::<(i64, String, Option<String>)>(db, sql).await? {
            names.push(Named {
                key: EntityKey::new(kind, id),
                name,
                owner,
            });
        }
    }
    Ok((names, artists))
}

async fn fetch<T>(db: &Db, sql: String) -> Result<Vec<T>, QualityError>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    let context = "reading the catalog's names";
    match db {
        Db::Postgres(pool) => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .map_err(QualityError::db(context)),
        Db::Sqlite(pool) => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .map_err(QualityError::db(context)),
    }
}

/// Draws the known-item set `name` from the catalog in `db`.
pub async fn generate(
    db: &Db,
    name: &str,
    options: &GenerateOptions,
) -> Result<QuerySet, QualityError> {
    let (names, artists) = catalog(db).await?;
    Ok(draw(name, &names, &artists, options))
}

/// The draw itself, from names already read (see [`generate`]).
pub fn draw(
    set: &str,
    names: &[Named],
    artists: &[EntityKey],
    options: &GenerateOptions,
) -> QuerySet {
    let unique = Uniqueness::of(names);
    let misspellings = Misspellings::parse(MISSPELLINGS);
    let artist_names: HashMap<EntityKey, &str> = names
        .iter()
        .filter(|n| n.key.kind == EntityKind::User)
        .map(|n| (n.key, n.name.as_str()))
        .collect();
    let mut candidates: BTreeMap<&str, Vec<(String, EntityKey)>> = BTreeMap::new();
    let mut add = |class: &'static str, text: String, key: EntityKey| {
        candidates.entry(class).or_default().push((text, key));
    };
    for &artist in artists {
        let Some(&name) = artist_names.get(&artist) else {
            continue;
        };
        if unique.names_one(name) {
            add("artist", name.to_string(), artist);
            if name.to_lowercase() != name {
                add("artist-lower", name.to_lowercase(), artist);
            }
        }
    }
    for named in names {
        let text = named.name.trim();
        if text.is_empty() || !unique.names_one(text) {
            continue;
        }
        let class = match named.key.kind {
            EntityKind::Track => "track",
            EntityKind::Playlist => "set",
            EntityKind::Group => "group",
            EntityKind::User => "",
        };
        if !class.is_empty() {
            add(class, text.to_string(), named.key);
        }
        if fold(text) != text.to_lowercase() && strip_marks(text) != text {
            add("unaccented", strip_marks(text), named.key);
        }
        if named.key.kind == EntityKind::User {
            continue;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() >= 5 {
            let start = words[..3].join(" ");
            if unique.starts_one(&start) {
                add("title-start", start, named.key);
            }
        }
        if let Some(wrong) = misspellings.misspell(text, options.seed ^ named.key.id as u64) {
            add("misspelled", wrong, named.key);
        }
        if let Some(slipped) = slip(text, options.seed ^ (named.key.id as u64).rotate_left(17)) {
            add("slip", slipped, named.key);
        }
    }
    for named in names.iter().filter(|n| n.key.kind == EntityKind::Track) {
        if let Some(owner) = &named.owner
            && unique.pair_names_one(owner, &named.name, names)
        {
            add("artist-title", format!("{owner} {}", named.name), named.key);
        }
    }
    let mut queries = Vec::new();
    for class in CLASSES {
        let Some(mut list) = candidates.remove(class) else {
            continue;
        };
        shuffle(&mut list, options.seed ^ fnv(class));
        list.truncate(options.per_class);
        queries.extend(list.into_iter().map(|(text, key)| EvalQuery {
            text,
            class: class.to_string(),
            intended: Some(key),
            judgments: Vec::new(),
        }));
    }
    QuerySet {
        name: set.to_string(),
        queries,
    }
}

/// Which folded names, and name starts, belong to exactly one entity.
struct Uniqueness {
    names: HashMap<String, usize>,
    folded: Vec<String>,
}

impl Uniqueness {
    fn of(names: &[Named]) -> Uniqueness {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let folded: Vec<String> = names.iter().map(|n| fold(n.name.trim())).collect();
        for name in &folded {
            *counts.entry(name.clone()).or_default() += 1;
        }
        Uniqueness {
            names: counts,
            folded,
        }
    }

    fn names_one(&self, name: &str) -> bool {
        self.names.get(&fold(name.trim())) == Some(&1)
    }

    fn starts_one(&self, start: &str) -> bool {
        let start = fold(start);
        self.folded
            .iter()
            .filter(|n| n.starts_with(&start))
            .nth(1)
            .is_none()
    }

    /// Whether one track or set has this owner and this title (the title alone may repeat; an
    /// album and its title track share both, and then nobody can say which was meant).
    fn pair_names_one(&self, owner: &str, title: &str, names: &[Named]) -> bool {
        let (owner, title) = (fold(owner), fold(title));
        let owners_named = self.names.get(&owner).copied().unwrap_or(0);
        owners_named <= 1
            && names
                .iter()
                .filter(|n| {
                    matches!(n.key.kind, EntityKind::Track | EntityKind::Playlist)
                        && fold(&n.name) == title
                        && n.owner.as_deref().map(fold).as_deref() == Some(owner.as_str())
                })
                .nth(1)
                .is_none()
    }
}

/// The text with its diacritics removed but its case kept, as typed on a plain keyboard.
fn strip_marks(text: &str) -> String {
    text.chars()
        .map(|c| {
            let folded = fold(&c.to_string());
            let mut chars = folded.chars();
            match (chars.next(), chars.next()) {
                (Some(plain), None) if plain.is_ascii_alphabetic() => {
                    if c.is_uppercase() {
                        plain.to_ascii_uppercase()
                    } else {
                        plain
                    }
                }
                _ => c,
            }
        })
        .collect()
}

/// Real misspellings by the word they misspell.
struct Misspellings<'a> {
    by_word: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Misspellings<'a> {
    fn parse(text: &'a str) -> Misspellings<'a> {
        let mut by_word: HashMap<&str, Vec<&str>> = HashMap::new();
        for line in text.lines().skip(1) {
            if let Some((wrong, right)) = line.split_once('\t')
                && !right.contains(' ')
                && right.len() >= 4
            {
                by_word.entry(right).or_default().push(wrong);
            }
        }
        Misspellings { by_word }
    }

    /// The text with one of its words (of four letters or more) replaced by a real misspelling
    /// of it, keeping the word's capital; `None` when no word has one.
    fn misspell(&self, text: &str, seed: u64) -> Option<String> {
        let words: Vec<&str> = text.split(' ').collect();
        let options: Vec<(usize, &Vec<&str>)> = words
            .iter()
            .enumerate()
            .filter_map(|(i, w)| self.by_word.get(w.to_lowercase().as_str()).map(|m| (i, m)))
            .collect();
        if options.is_empty() {
            return None;
        }
        let mut rng = SplitMix(seed);
        let (at, wrongs) = options[rng.below(options.len())];
        let wrong = wrongs[rng.below(wrongs.len())];
        let word = words[at];
        let wrong = if word.chars().next().is_some_and(char::is_uppercase) {
            capitalize(wrong)
        } else {
            wrong.to_string()
        };
        let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        out[at] = wrong;
        Some(out.join(" "))
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The text with one slip in one of its longer words (five ASCII letters or more, not the
/// first letter): a neighbouring key, two letters swapped, or a letter lost.
fn slip(text: &str, seed: u64) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() >= 5 && words[i].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if long.is_empty() {
        return None;
    }
    let mut rng = SplitMix(seed);
    let at = long[rng.below(long.len())];
    let mut letters: Vec<char> = words[at].chars().collect();
    let i = 1 + rng.below(letters.len() - 1);
    match rng.below(3) {
        0 => {
            let lower = letters[i].to_ascii_lowercase();
            let near: Vec<char> = schemas::keyboard::neighbours(lower).chars().collect();
            if near.is_empty() {
                return None;
            }
            letters[i] = near[rng.below(near.len())];
        }
        1 if i + 1 < letters.len() && letters[i] != letters[i + 1] => letters.swap(i, i + 1),
        _ => {
            letters.remove(i);
        }
    }
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out[at] = letters.into_iter().collect();
    Some(out.join(" "))
}

/// A small deterministic generator (SplitMix64): the same seed draws the same set on every
/// machine and version, which a shared baseline file needs.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(crate) fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix(seed);
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kind: EntityKind, id: i64, name: &str, owner: Option<&str>) -> Named {
        Named {
            key: EntityKey::new(kind, id),
            name: name.to_string(),
            owner: owner.map(str::to_string),
        }
    }

    fn catalog() -> (Vec<Named>, Vec<EntityKey>) {
        let names = vec![
            named(EntityKind::User, 1, "Iron Maiden", None),
            named(EntityKind::User, 2, "Antônio Carlos Jobim", None),
            named(EntityKind::User, 3, "listener", None),
            named(EntityKind::Track, 10, "Love", Some("Iron Maiden")),
            named(EntityKind::Track, 11, "Love", Some("Antônio Carlos Jobim")),
            named(
                EntityKind::Track,
                12,
                "The Number Of The Beast Returns",
                Some("Iron Maiden"),
            ),
            named(EntityKind::Track, 13, "Wave", Some("Antônio Carlos Jobim")),
            named(EntityKind::Playlist, 20, "Killers", Some("Iron Maiden")),
            named(EntityKind::Group, 30, "Rock", None),
        ];
        let artists = vec![
            EntityKey::new(EntityKind::User, 1),
            EntityKey::new(EntityKind::User, 2),
        ];
        (names, artists)
    }

    fn texts(set: &QuerySet, class: &str) -> Vec<(String, EntityKey)> {
        let mut out: Vec<_> = (set.queries.iter())
            .filter(|q| q.class == class)
            .map(|q| (q.text.clone(), q.intended.expect("known item")))
            .collect();
        out.sort_by_key(|(_, key)| *key);
        out
    }

    #[test]
    fn names_that_name_one_entity_become_queries_and_shared_ones_do_not() {
        let (names, artists) = catalog();
        let set = draw("t", &names, &artists, &GenerateOptions::default());
        let track = |id| EntityKey::new(EntityKind::Track, id);
        let user = |id| EntityKey::new(EntityKind::User, id);
        assert_eq!(
            texts(&set, "track"),
            [
                ("The Number Of The Beast Returns".to_string(), track(12)),
                ("Wave".to_string(), track(13)),
            ],
            "two tracks are called Love: neither is a known item"
        );
        assert_eq!(
            texts(&set, "artist"),
            [
                ("Iron Maiden".to_string(), user(1)),
                ("Antônio Carlos Jobim".to_string(), user(2))
            ]
        );
        assert_eq!(texts(&set, "artist-lower")[0].0, "iron maiden");
        assert_eq!(
            texts(&set, "unaccented"),
            [("Antonio Carlos Jobim".to_string(), user(2))]
        );
        assert_eq!(
            texts(&set, "artist-title"),
            [
                ("Iron Maiden Love".to_string(), track(10)),
                ("Antônio Carlos Jobim Love".to_string(), track(11)),
                (
                    "Iron Maiden The Number Of The Beast Returns".to_string(),
                    track(12)
                ),
                ("Antônio Carlos Jobim Wave".to_string(), track(13)),
            ]
        );
        assert_eq!(
            texts(&set, "title-start"),
            [("The Number Of".to_string(), track(12))]
        );
        assert_eq!(
            texts(&set, "set"),
            [(
                "Killers".to_string(),
                EntityKey::new(EntityKind::Playlist, 20)
            )]
        );
        assert!(
            texts(&set, "artist").iter().all(|(_, k)| *k != user(3)),
            "not an uploader"
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_set_and_another_seed_may_not() {
        let (names, artists) = catalog();
        let options = GenerateOptions {
            seed: 7,
            per_class: 1,
        };
        let a = draw("t", &names, &artists, &options);
        assert_eq!(a, draw("t", &names, &artists, &options));
        assert!(a.queries.iter().filter(|q| q.class == "artist").count() <= 1);
    }

    #[test]
    fn misspellings_are_real_and_keep_the_capital() {
        let misspellings = Misspellings::parse("misspelling\tcorrection\nbeleive\tbelieve\n");
        assert_eq!(
            misspellings.misspell("Believe In Me", 1).as_deref(),
            Some("Beleive In Me")
        );
        assert_eq!(misspellings.misspell("Wave", 1), None);
    }

    #[test]
    fn a_slip_changes_one_letter_of_one_long_word_and_never_the_first() {
        for seed in 0..200 {
            let slipped = slip("Numbers of Beast", seed).expect("a long word");
            assert_ne!(slipped, "Numbers of Beast");
            assert!(
                slipped.starts_with('N') || slipped.ends_with("Beast"),
                "{slipped}"
            );
            let changed: Vec<_> = slipped
                .split(' ')
                .zip("Numbers of Beast".split(' '))
                .filter(|(a, b)| a != b)
                .collect();
            assert_eq!(changed.len(), 1, "{slipped}");
            assert_eq!(changed[0].0.chars().next(), changed[0].1.chars().next());
        }
        assert_eq!(slip("Love Me", 3), None, "no word of five letters");
    }

    #[test]
    fn marks_are_stripped_and_case_kept() {
        assert_eq!(strip_marks("Antônio Carlos Jobim"), "Antonio Carlos Jobim");
        assert_eq!(strip_marks("Érase"), "Erase");
        assert_eq!(strip_marks("AC/DC"), "AC/DC");
    }
}
