//! Lookups through the public API, on a hand-made catalog (exact expectations) and on the
//! Chinook catalog with real misspellings (`datasets/`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use schemas::{EntityKey, EntityKind};
use suggest::{Change, KindFactors, Record, SuggestIndex, Suggester, Suggestion};

fn track(id: i64, title: &str, prior: f64) -> Record {
    Record::new(EntityKey::new(EntityKind::Track, id), title, prior)
}

fn playlist(id: i64, title: &str, prior: f64) -> Record {
    Record::new(EntityKey::new(EntityKind::Playlist, id), title, prior)
}

fn group(id: i64, name: &str, prior: f64) -> Record {
    Record::new(EntityKey::new(EntityKind::Group, id), name, prior)
}

/// Equal kind factors, so priors alone decide the order in these tests.
fn flat() -> KindFactors {
    KindFactors {
        track: 1.0,
        user: 1.0,
        playlist: 1.0,
        group: 1.0,
    }
}

fn small() -> Suggester {
    let records = vec![
        track(1, "Around the World", 8.0),
        track(2, "Around the Bend", 3.0),
        track(3, "World Peace", 5.0),
        track(4, "Arrow", 9.0),
        track(5, "Beautiful Day", 4.0),
        track(6, "Halo", 7.0),
        Record::user(10, "beyonce", "Beyoncé", 6.0),
        Record::user(11, "dj_shadow", "", 2.0),
        Record::user(12, "sigurros", "Sigur Rós", 1.0),
        playlist(20, "World Music Essentials", 2.5),
        playlist(21, "Halo Remixes", 1.5),
        group(30, "World Music Lovers", 0.5),
        group(31, "Beatles Fans", 3.0),
    ];
    Suggester::with_factors(SuggestIndex::build(records, &flat()), flat())
}

fn texts(s: &[Suggestion]) -> Vec<&str> {
    s.iter().map(|s| s.text.as_str()).collect()
}

#[test]
fn prefixes_of_the_whole_name_come_heaviest_first() {
    let sg = small();
    assert_eq!(
        texts(&sg.suggest("aro", None, 10)),
        ["Around the World", "Around the Bend"]
    );
    assert_eq!(
        texts(&sg.suggest("ar", None, 10)),
        ["Arrow", "Around the World", "Around the Bend"]
    );
    assert_eq!(
        texts(&sg.suggest("ar", None, 2)),
        ["Arrow", "Around the World"]
    );
    assert_eq!(
        texts(&sg.suggest("around the b", None, 1)),
        ["Around the Bend"]
    );
    // Below the exact matches, a typo away ("around the w" is one substitution off).
    assert_eq!(
        texts(&sg.suggest("around the b", None, 10)),
        ["Around the Bend", "Around the World"]
    );
}

#[test]
fn words_inside_a_name_are_found_and_each_entity_comes_once() {
    let sg = small();
    // "World" starts three names and is a later word of another: one suggestion each, the
    // names that start with it first (by weight), then the heavier "Around the World".
    let got = sg.suggest("world", None, 10);
    assert_eq!(
        texts(&got),
        [
            "World Peace",
            "World Music Essentials",
            "World Music Lovers",
            "Around the World",
        ]
    );
    let the = sg.suggest("the", None, 10);
    assert_eq!(texts(&the), ["Around the World", "Around the Bend"]);
}

#[test]
fn a_track_is_found_by_its_owner_then_its_title_after_names_that_start_so() {
    let owner = EntityKey::new(EntityKind::User, 1);
    let owned = |id, title: &str, prior| {
        Record::owned(
            EntityKey::new(EntityKind::Track, id),
            title,
            "Iron Maiden",
            prior,
        )
    };
    let sg = Suggester::with_factors(
        SuggestIndex::build(
            vec![
                Record::user(1, "ironmaiden", "Iron Maiden", 9.0),
                owned(2, "Fear of the Dark", 8.0),
                owned(3, "The Trooper", 7.0),
                track(4, "Iron Man", 1.0),
            ],
            &flat(),
        ),
        flat(),
    );
    let full = sg.suggest("iron maiden fear of the dark", None, 10);
    assert_eq!(texts(&full), ["Fear of the Dark"]);
    assert_eq!(
        texts(&sg.suggest("iron maiden the tr", None, 10)),
        ["The Trooper"]
    );
    // Names that start with "iron" come before the owner's heavier tracks.
    let iron = sg.suggest("iron", None, 10);
    assert_eq!(iron[0].key(), owner);
    assert_eq!(
        texts(&iron),
        ["Iron Maiden", "Iron Man", "Fear of the Dark", "The Trooper"]
    );
    // The owner-led name is never shown and its title's own words still find it.
    assert_eq!(texts(&sg.suggest("troo", None, 10)), ["The Trooper"]);
    // A live change is found through its owner as well, before any rebuild.
    sg.apply(Change::Upsert(owned(5, "Aces High", 6.0)));
    assert_eq!(
        texts(&sg.suggest("iron maiden ace", None, 10)),
        ["Aces High"]
    );
    assert_eq!(
        texts(&sg.suggest("iron", None, 10)),
        [
            "Iron Maiden",
            "Iron Man",
            "Fear of the Dark",
            "The Trooper",
            "Aces High"
        ]
    );
}

#[test]
fn suggestions_are_typed_and_link_to_the_entity() {
    let sg = small();
    let got = sg.suggest("halo rem", None, 10);
    assert_eq!(
        got,
        vec![Suggestion {
            kind: EntityKind::Playlist,
            id: 21,
            text: "Halo Remixes".into(),
            url: "/playlists/21".into()
        }]
    );
    let json = serde_json::to_value(&got[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "playlist", "id": 21, "text": "Halo Remixes", "url": "/playlists/21"})
    );
}

#[test]
fn kind_filter_keeps_one_kind() {
    let sg = small();
    assert_eq!(
        texts(&sg.suggest("world", Some(EntityKind::Group), 10)),
        ["World Music Lovers"]
    );
    assert_eq!(
        texts(&sg.suggest("halo", Some(EntityKind::Playlist), 10)),
        ["Halo Remixes"]
    );
    assert_eq!(
        texts(&sg.suggest("halo", Some(EntityKind::Track), 10)),
        ["Halo"]
    );
    assert!(sg.suggest("halo", Some(EntityKind::User), 10).is_empty());
    // Typo matches obey the filter too.
    assert_eq!(
        texts(&sg.suggest("wrold", Some(EntityKind::Playlist), 10)),
        ["World Music Essentials"]
    );
}

#[test]
fn diacritics_and_case_are_folded_both_ways() {
    let sg = small();
    assert_eq!(texts(&sg.suggest("beyonce", None, 10)), ["Beyoncé"]);
    assert_eq!(texts(&sg.suggest("BEYONCÉ", None, 10)), ["Beyoncé"]);
    assert_eq!(texts(&sg.suggest("ros", None, 10)), ["Sigur Rós"]);
    assert_eq!(texts(&sg.suggest("Rós", None, 10)), ["Sigur Rós"]);
    // Users are found by username too, and shown by full name (username when it is empty).
    assert_eq!(texts(&sg.suggest("sigurr", None, 10)), ["Sigur Rós"]);
    assert_eq!(texts(&sg.suggest("dj_s", None, 10)), ["dj_shadow"]);
    assert_eq!(texts(&sg.suggest("shad", None, 10)), ["dj_shadow"]);
}

#[test]
fn typos_are_forgiven_by_length_but_never_on_the_first_letter() {
    let sg = small();
    assert_eq!(texts(&sg.suggest("beutiful", None, 10)), ["Beautiful Day"]); // deletion
    assert_eq!(texts(&sg.suggest("wrold", None, 1)), ["Around the World"]); // swap
    assert_eq!(texts(&sg.suggest("beyomce", None, 10)), ["Beyoncé"]); // substitution
    assert_eq!(
        texts(&sg.suggest("beautifull d", None, 10)),
        ["Beautiful Day"]
    ); // insertion
    // Two edits need eight characters.
    assert_eq!(
        texts(&sg.suggest("baetiful d", None, 10)),
        ["Beautiful Day"]
    );
    assert!(
        sg.suggest("baetiful dy", None, 10).is_empty(),
        "three edits"
    );
    assert!(sg.suggest("baetf", None, 10).is_empty());
    // Three letters get none; the first letter is never edited.
    assert!(sg.suggest("hlo", None, 10).is_empty());
    assert!(sg.suggest("veautiful", None, 10).is_empty());
}

#[test]
fn exact_prefixes_rank_above_heavier_typo_matches() {
    let records = vec![track(1, "Beatles Forever", 100.0), track(2, "Beatels", 0.1)];
    let sg = Suggester::with_factors(SuggestIndex::build(records, &flat()), flat());
    assert_eq!(
        texts(&sg.suggest("beatels", None, 10)),
        ["Beatels", "Beatles Forever"]
    );
    assert_eq!(
        texts(&sg.suggest("beatles", None, 10)),
        ["Beatles Forever", "Beatels"]
    );
}

#[test]
fn kind_factors_weigh_kinds() {
    let records = vec![track(1, "Nova", 1.0), Record::user(2, "nova", "", 1.0)];
    let users_first = KindFactors {
        user: 2.0,
        ..flat()
    };
    let sg = Suggester::new(SuggestIndex::build(records, &users_first));
    let got = sg.suggest("nov", None, 10);
    assert_eq!(
        got.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [EntityKind::User, EntityKind::Track]
    );
}

#[test]
fn one_letter_prefixes_return_the_heaviest_of_a_large_catalog() {
    let records: Vec<Record> = (0..20_000)
        .map(|i| {
            track(
                i,
                &format!("s{} song {i}", i % 97),
                ((i * 7919) % 20_000) as f64,
            )
        })
        .collect();
    let sg = Suggester::with_factors(SuggestIndex::build(records, &flat()), flat());
    let got = sg.suggest("s", None, 5);
    let mut expected: Vec<i64> = (0..20_000).collect();
    expected.sort_by_key(|&i| std::cmp::Reverse((i * 7919) % 20_000));
    assert_eq!(got.iter().map(|s| s.id).collect::<Vec<_>>(), expected[..5]);
}

#[test]
fn removed_entities_are_never_suggested_after_the_delta() {
    let sg = small();
    let world = EntityKey::new(EntityKind::Track, 1);
    let beyonce = EntityKey::new(EntityKind::User, 10);
    // Deleted, made private, taken down: all arrive as a removal.
    sg.apply(Change::Remove(world));
    sg.apply(Change::Remove(beyonce));
    for q in [
        "around",
        "around the w",
        "world",
        "the",
        "arund the",
        "wrold",
        "a",
        "w",
    ] {
        assert!(
            sg.suggest(q, None, 100).iter().all(|s| s.key() != world),
            "{q}"
        );
    }
    for q in ["b", "bey", "beyonce", "beyomce", "beyoncé"] {
        assert!(
            sg.suggest(q, None, 100).iter().all(|s| s.key() != beyonce),
            "{q}"
        );
    }
    assert!(
        sg.index().contains(world),
        "still in the build: hidden by the delta only"
    );
    // Made public again: back, without a rebuild.
    sg.apply(Change::Upsert(Record::user(10, "beyonce", "Beyoncé", 6.0)));
    assert_eq!(texts(&sg.suggest("beyo", None, 10)), ["Beyoncé"]);
}

#[test]
fn renamed_entities_are_found_by_their_new_name_only_and_keep_their_weight() {
    let sg = small();
    let mut renamed = track(6, "Crazy in Love", 0.0);
    renamed.prior = None; // unknown here: keep the built weight
    sg.apply(Change::Upsert(renamed));
    assert!(sg.suggest("halo", Some(EntityKind::Track), 10).is_empty());
    assert_eq!(texts(&sg.suggest("halo", None, 10)), ["Halo Remixes"]);
    assert_eq!(
        texts(&sg.suggest("love", None, 10)),
        ["Crazy in Love", "World Music Lovers"]
    );
    // Weight 7 kept: above "Around the World" (8)? No — below it, above "Around the Bend" (3).
    sg.apply(Change::Upsert(track(40, "Crazy Arms", 0.1)));
    let crazy = sg.suggest("cra", None, 10);
    assert_eq!(texts(&crazy), ["Crazy in Love", "Crazy Arms"]);
    // A new entity merges with the build by weight.
    sg.apply(Change::Upsert(track(41, "Around Midnight", 4.0)));
    assert_eq!(
        texts(&sg.suggest("around", None, 10)),
        ["Around the World", "Around Midnight", "Around the Bend"]
    );
    assert_eq!(sg.delta_len(), 3);
}

#[test]
fn a_new_build_replaces_the_old_and_keeps_later_changes() {
    let sg = small();
    sg.apply(Change::Remove(EntityKey::new(EntityKind::Track, 3))); // before the build read
    let mark = sg.mark();
    sg.apply(Change::Remove(EntityKey::new(EntityKind::Track, 1))); // while it was building
    // The build read the database after the first change: track 3 is gone from it already.
    let fresh = SuggestIndex::build(
        vec![
            track(1, "Around the World", 8.0),
            track(2, "Around the Bend", 3.0),
        ],
        &flat(),
    );
    sg.install(fresh, mark);
    assert_eq!(sg.delta_len(), 1);
    assert_eq!(texts(&sg.suggest("around", None, 10)), ["Around the Bend"]);
    assert!(sg.suggest("world peace", None, 10).is_empty());
}

#[test]
fn builds_survive_a_save_and_open() {
    let dir = tempfile::tempdir().unwrap();
    assert!(suggest::store::open(dir.path()).unwrap().is_none());
    let sg = small();
    suggest::store::save(dir.path(), &sg.index()).unwrap();
    suggest::store::save(dir.path(), &sg.index()).unwrap();
    suggest::store::save(dir.path(), &sg.index()).unwrap();
    let builds = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("build-")
    });
    assert_eq!(builds.count(), 2, "the current build and the one before");
    let opened =
        Suggester::with_factors(suggest::store::open(dir.path()).unwrap().unwrap(), flat());
    assert_eq!(opened.index().stats(), sg.index().stats());
    for q in ["a", "world", "wrold", "beyonce", "halo", "beautifull d"] {
        assert_eq!(opened.suggest(q, None, 10), sg.suggest(q, None, 10), "{q}");
    }
}

#[test]
fn damaged_builds_are_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let build = suggest::store::save(dir.path(), &small().index()).unwrap();
    let entities = build.join("entities.bin");
    let bytes = std::fs::read(&entities).unwrap();
    std::fs::write(&entities, &bytes[..bytes.len() / 2]).unwrap();
    let err = suggest::store::open(dir.path())
        .err()
        .expect("a truncated build must not open");
    assert!(err.to_string().contains("entities.bin"), "{err}");
}

#[test]
fn empty_and_odd_queries_answer_nothing_or_something_without_failing() {
    let sg = small();
    assert!(sg.suggest("", None, 10).is_empty());
    assert!(sg.suggest("   ", None, 10).is_empty());
    assert!(sg.suggest("world", None, 0).is_empty());
    for q in [
        "\u{0}",
        "🎵",
        "))((",
        &"a".repeat(300),
        &"é".repeat(300),
        "坂本",
    ] {
        let _ = sg.suggest(q, None, 10);
    }
    let empty = Suggester::new(SuggestIndex::empty());
    assert!(empty.suggest("a", None, 10).is_empty());
    assert!(empty.suggest("around", None, 10).is_empty());
}

// ---- Chinook names with real misspellings ----

fn shared_data(name: &str) -> PathBuf {
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

/// Chinook as a catalog: tracks → tracks, artists → users, albums → playlists, genres → groups.
fn chinook() -> Vec<Record> {
    let text = std::fs::read_to_string(shared_data("chinook.json")).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut records = Vec::new();
    for row in rows {
        let id = row["pk"].as_i64().unwrap();
        let fields = &row["fields"];
        let prior = ((id * 7919) % 1000) as f64 / 100.0;
        let name = |f: &str| fields[f].as_str().unwrap_or_default().to_string();
        match row["model"].as_str().unwrap() {
            "chinook.track" => records.push(track(id, &name("name"), prior)),
            "chinook.album" => records.push(playlist(id, &name("title"), prior)),
            "chinook.genre" => records.push(group(id, &name("name"), prior)),
            "chinook.artist" => {
                let full = name("name");
                let username: String = full
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect();
                records.push(Record::user(id, &format!("{username}{id}"), &full, prior));
            }
            _ => {}
        }
    }
    records
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 1..=b.len() {
            let cur = row[j];
            row[j] = (row[j] + 1)
                .min(row[j - 1] + 1)
                .min(prev + usize::from(ca != b[j - 1]));
            prev = cur;
        }
    }
    row[b.len()]
}

#[test]
fn real_misspellings_of_catalog_words_find_the_entity() {
    let records = chinook();
    // Words (4+ letters) that start a word of exactly one entity's name: the target is known.
    let mut owners: HashMap<String, HashSet<EntityKey>> = HashMap::new();
    for r in &records {
        for word in suggest::normalize::key_text(&r.text).split(|c: char| !c.is_alphabetic()) {
            if word.len() >= 4 {
                owners.entry(word.to_string()).or_default().insert(r.key);
            }
        }
    }
    let sg = Suggester::new(SuggestIndex::build(records, &Default::default()));
    let pairs = std::fs::read_to_string(shared_data("common-misspellings.tsv")).unwrap();
    let mut tried = 0;
    let mut missed = Vec::new();
    let mut missed_long = Vec::new();
    for line in pairs.lines().skip(1) {
        let Some((wrong, right)) = line.split_once('\t') else {
            continue;
        };
        let Some(owner) = owners.get(right).filter(|o| o.len() == 1) else {
            continue;
        };
        let allowed = match wrong.chars().count() {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let same_first = wrong.chars().next() == right.chars().next();
        if !same_first
            || levenshtein(wrong, right) > allowed
            || !wrong.chars().all(|c| c.is_ascii_lowercase())
        {
            continue;
        }
        tried += 1;
        let target = *owner.iter().next().unwrap();
        let got = sg.suggest(wrong, None, 10);
        if !got.iter().any(|s| s.key() == target) {
            let line = format!("{wrong} → {right}: {:?}", texts(&got));
            if wrong.len() >= 6 {
                missed_long.push(line);
            } else {
                missed.push(line);
            }
        }
    }
    assert!(
        tried >= 1000,
        "only {tried} misspellings of catalog words found in the list"
    );
    // From six letters on, a typo leaves few look-alikes: every one must be found.
    assert!(
        missed_long.is_empty(),
        "{} misspellings of 6+ letters missed:\n{}",
        missed_long.len(),
        missed_long.join("\n")
    );
    // Four or five letters one edit away match many words ("alse": also, allegro, alternate);
    // the heaviest ten win, and the intended one is nearly always among them.
    assert!(
        missed.len() * 100 <= tried,
        "{} of {tried} short misspellings missed:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn chinook_names_with_diacritics_are_found_plain() {
    let sg = Suggester::new(SuggestIndex::build(chinook(), &Default::default()));
    let got = sg.suggest("antonio carlos j", None, 10);
    assert!(
        got.iter().any(|s| s.text == "Antônio Carlos Jobim"),
        "{got:?}"
    );
    let got = sg.suggest("meditacao", None, 10);
    assert!(got.iter().any(|s| s.text == "Meditação"), "{got:?}");
    let got = sg.suggest("ac/dc", Some(EntityKind::User), 10);
    assert_eq!(texts(&got), ["AC/DC"]);
}

#[test]
fn symbols_inside_names_can_be_typed_or_left_out() {
    let sg = Suggester::with_factors(
        SuggestIndex::build(
            vec![
                Record::user(1, "acdc", "AC/DC", 9.0),
                track(2, "Best of AC/DC", 3.0),
                Record::user(3, "pink", "P!nk", 5.0),
                track(4, "Academy", 1.0),
            ],
            &flat(),
        ),
        flat(),
    );
    for q in ["ac/", "ac/d", "acd", "acdc", "AC/DC"] {
        assert!(
            texts(&sg.suggest(q, None, 10)).contains(&"AC/DC"),
            "{q}: {:?}",
            texts(&sg.suggest(q, None, 10))
        );
    }
    assert_eq!(
        texts(&sg.suggest("acd", None, 10)),
        ["AC/DC", "Best of AC/DC"]
    );
    assert_eq!(texts(&sg.suggest("p!n", None, 10)), ["P!nk"]);
    // Through the delta too: a new name with a symbol is found without it at once.
    sg.apply(Change::Upsert(track(5, "AC/DC Live", 20.0)));
    assert_eq!(texts(&sg.suggest("acdc l", None, 10)), ["AC/DC Live"]);
}
