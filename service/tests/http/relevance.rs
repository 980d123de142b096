//! Relevance on the real Chinook catalog: what a person types finds what they meant.

use axum::http::StatusCode;
use serde_json::Value;

use crate::fixture::{TestIndex, chinook, data_file, track};
use crate::{encode, get, keys};

async fn search(q: &str, extra: &str) -> Value {
    let (status, body) = get(
        &chinook().router(),
        &format!("/search?q={}{extra}", encode(q)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{q}: {body}");
    body
}

fn titles(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["title"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn exact_title_comes_first() {
    for title in [
        "Stairway To Heaven",
        "Highway Star",
        "Jerusalem",
        "Garota De Ipanema",
    ] {
        let body = search(title, "").await;
        assert_eq!(
            titles(&body).first().map(String::as_str),
            Some(title),
            "{title}: {:?}",
            titles(&body)
        );
        assert_eq!(body["results"][0]["kind"], "track");
    }
}

#[tokio::test]
async fn one_word_of_a_title_finds_it() {
    let body = search("sandman", "&kind=track").await;
    assert_eq!(titles(&body)[..2], ["Enter Sandman", "Enter Sandman"]);
    let body = search("ipanema", "").await;
    assert!(
        titles(&body)
            .iter()
            .take(3)
            .any(|t| t == "Garota De Ipanema"),
        "{:?}",
        titles(&body)
    );
}

#[tokio::test]
async fn artist_and_title_together_pick_the_artists_track() {
    let body = search("metallica enter sandman", "").await;
    assert_eq!(body["results"][0]["title"], "Enter Sandman");
    assert_eq!(body["results"][0]["subtitle"], "Metallica");
    let body = search("apocalyptica enter sandman", "").await;
    assert_eq!(body["results"][0]["subtitle"], "Apocalyptica");
    let body = search("led zeppelin stairway", "").await;
    assert_eq!(body["results"][0]["title"], "Stairway To Heaven");
    assert_eq!(body["results"][0]["subtitle"], "Led Zeppelin");
}

#[tokio::test]
async fn diacritics_and_symbols_fold() {
    let body = search("antonio carlos jobim", "&kind=user").await;
    assert_eq!(body["results"][0]["title"], "Antônio Carlos Jobim");
    let body = search("AC/DC", "&kind=user").await;
    assert_eq!(body["results"][0]["title"], "AC/DC");
    let body = search("acdc", "&kind=user").await;
    assert_eq!(body["results"][0]["title"], "AC/DC");
}

/// Whether the shared list of real misspellings has `wrong` for `right`.
fn is_real_misspelling(wrong: &str, right: &str) -> bool {
    let text =
        std::fs::read_to_string(data_file("common-misspellings.tsv")).expect("read misspellings");
    text.lines()
        .any(|line| line.split_once('\t') == Some((wrong, right)))
}

#[tokio::test]
async fn real_misspellings_still_find_the_track() {
    let cases = [
        ("jerusalm", "jerusalem"),
        ("wizzard", "wizard"),
        ("frogiven", "forgiven"),
        ("forigven", "forgiven"),
    ];
    for (wrong, right) in cases {
        assert!(
            is_real_misspelling(wrong, right),
            "{wrong} → {right} is in common-misspellings.tsv"
        );
        let body = search(wrong, "&kind=track").await;
        let first = body["results"][0]["title"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            first.split_whitespace().any(|w| w == right),
            "{wrong}: {:?}",
            titles(&body)
        );
        let highlight = body["results"][0]["highlight"].as_str().unwrap_or_default();
        assert!(
            highlight.contains("<mark>"),
            "{wrong}: the corrected word is marked: {highlight}"
        );
    }
}

#[tokio::test]
async fn fuzzy_fill_ins_rank_below_exact_matches() {
    // "sandman" exactly matches two tracks; "sandmen" (1 edit) is the fill-in.
    let catalog = TestIndex::build(
        vec![
            track(1, "Sandmen", "Popular Band", 1e9, 1),
            track(2, "Sandman", "Nobody", 0.0, 1),
        ],
        vec![],
    );
    let (_, body) = get(&catalog.router(), "/search?q=sandman").await;
    assert_eq!(
        keys(&body).into_iter().map(|k| k.1).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(body["total"], 2);
    assert_eq!(body["results"][1]["highlight"], "<mark>Sandmen</mark>");
}

#[tokio::test]
async fn the_more_popular_of_two_same_titled_tracks_ranks_first_and_rank_none_changes_that() {
    let catalog = chinook();
    let ids = |body: &Value| keys(body).into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let blended = search("enter sandman", "&kind=track").await;
    let plain = search("enter sandman", "&kind=track&rank=none").await;
    let (a, b) = (ids(&blended)[0], ids(&blended)[1]);
    let popularity = |id| catalog.row(schemas::EntityKind::Track, id).popularity;
    assert!(
        popularity(a) > popularity(b),
        "blended: the popular one ({a}) first, then {b}"
    );
    assert_ne!(
        ids(&plain)[..2],
        ids(&blended)[..2],
        "rank=none orders by text alone"
    );
}

#[tokio::test]
async fn popularity_never_buries_an_exact_title_match() {
    let catalog = TestIndex::build(
        vec![
            track(1, "Something Else", "Huge Star", 1e12, 1)
                .with("description", "my cover of sandman, live"),
            track(2, "Sandman", "Nobody", 0.0, 1),
        ],
        vec![],
    );
    let (_, body) = get(&catalog.router(), "/search?q=sandman").await;
    assert_eq!(keys(&body)[0].1, 2, "{body}");
}

/// Searching every kind at once (one clause per group of kinds that agree on boosts) scores each
/// document exactly as searching its kind alone (one clause for that kind) does.
#[tokio::test]
async fn all_kinds_scores_equal_per_kind_scores() {
    for q in [
        "love",
        "rock",
        "the",
        "metallica",
        "iron maiden",
        "heaven -stairway",
        "\"black sabbath\"",
        "music",
    ] {
        let all = search(q, "&limit=50&rank=none").await;
        let results = all["results"].as_array().cloned().unwrap_or_default();
        assert!(!results.is_empty(), "{q}: nothing found");
        for hit in results {
            let kind = hit["kind"].as_str().unwrap_or_default();
            let alone = search(q, &format!("&kind={kind}&limit=50&rank=none")).await;
            let same = alone["results"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["id"] == hit["id"]));
            let same = same.unwrap_or_else(|| panic!("{q}: {hit} missing from kind={kind}"));
            let (a, b) = (hit["score"].as_f64(), same["score"].as_f64());
            assert!(
                matches!((a, b), (Some(a), Some(b)) if (a - b).abs() <= 1e-6 * a.abs().max(1.0)),
                "{q}: {kind} {}: {a:?} vs {b:?}",
                hit["id"]
            );
        }
    }
}

/// A word in more than 1% (and 100) of the documents is taken as typed: the fill-in forgives
/// the rare word its typo but does not turn "cover" into "clover".
#[tokio::test]
async fn fuzzy_fill_ins_leave_common_words_as_typed() {
    let mut rows: Vec<_> = (1..=150)
        .map(|i| track(i, &format!("Cover {i}"), "Band", 1.0, 1))
        .collect();
    rows.push(track(201, "Cover Storm", "Band", 1.0, 1));
    rows.push(track(202, "Cover Stork", "Band", 1.0, 1));
    rows.push(track(203, "Clover Storm", "Band", 1.0, 1));
    let catalog = TestIndex::build(rows, vec![]);
    let (_, body) = get(&catalog.router(), "/search?q=cover%20storm").await;
    let mut ids: Vec<i64> = keys(&body).into_iter().map(|k| k.1).collect();
    assert_eq!(ids.first(), Some(&201), "the exact match first: {body}");
    ids.sort_unstable();
    assert_eq!(ids, [201, 202], "{body}");
}

/// Frequent words read from the clause cache (filled on the first search, read on the second)
/// give what reading their postings gives: the same totals, counts and hits, scores up to rounding.
#[test]
fn clause_cache_changes_no_answer() {
    use std::sync::Arc;

    use engine::cached::ClauseCache;
    use engine::search::{SearchRequest, SearchSettings, search};

    let (snapshot, layout) = chinook_snapshot();
    let cache = Arc::new(ClauseCache::with_min_segment_docs(1));
    let settings = SearchSettings::default();
    for (text, kind) in [
        ("the", None),
        ("of the", None),
        ("the love", None),
        ("love", Some(schemas::EntityKind::Track)),
        ("the -love", None),
        ("\"of the\" rock", None),
        ("the metalica", None),
    ] {
        let request = SearchRequest {
            text: text.to_string(),
            kind,
            limit: 30,
            ..SearchRequest::default()
        };
        let direct = search(&snapshot.searcher, &layout, None, &settings, &request, None);
        let direct = direct.expect("search");
        for pass in ["filling", "reading"] {
            let cached = search(
                &snapshot.searcher,
                &layout,
                None,
                &settings,
                &request,
                Some(&cache),
            )
            .expect("search");
            assert_same_answer(
                &cached,
                &direct,
                &format!("{text:?} while {pass} the cache"),
            );
        }
    }
    let (entries, bytes) = cache.usage();
    let the = snapshot.searcher.doc_freq(&tantivy::Term::from_field_text(
        layout.kinds[0].fields[0].field,
        "the",
    ));
    assert!(
        entries > 0 && bytes > 0,
        "no frequent word was cached ({} docs; `the` in {:?} of {}: {the:?})",
        snapshot.searcher.num_docs(),
        layout.kinds[0].kind,
        layout.kinds[0].fields[0].name
    );
}

/// Skipping what cannot make the page changes no answer: for queries of every shape (frequent
/// cached words, rare words, intersections, exclusions, phrases, kind and genre filters, deep
/// pages), with the popularity prior and without, the pruned search returns the exhaustive
/// one's totals, counts and hits, scores up to rounding ([`assert_same_answer`]).
#[test]
fn pruned_ranking_equals_exhaustive_ranking() {
    use std::sync::Arc;

    use engine::cached::ClauseCache;
    use engine::compile::KeywordFilter;
    use engine::prior::{Memoized, PopularityPrior, Prior};
    use engine::search::{SearchRequest, SearchSettings, search};
    use schemas::EntityKind;

    let (snapshot, layout) = chinook_snapshot();
    let cache = Arc::new(ClauseCache::with_min_segment_docs(1));
    let popularity: Arc<dyn Prior> = Arc::new(Memoized::new(PopularityPrior::default()));
    let pruned = SearchSettings::default();
    let exhaustive = SearchSettings {
        exhaustive: true,
        ..SearchSettings::default()
    };
    let mut compared = 0;
    for text in [
        "the",
        "love",
        "of the",
        "the love",
        "rock",
        "the -love",
        "\"of the\" rock",
        "metallica",
        "metalica",
        "a",
        "iron maiden",
        "blues",
    ] {
        for kind in [None, Some(EntityKind::Track), Some(EntityKind::User)] {
            for genre in [None, Some("Rock".to_string())] {
                for (limit, offset) in [(1, 0), (10, 0), (10, 20), (50, 0)] {
                    let request = SearchRequest {
                        text: text.to_string(),
                        kind,
                        keywords: (genre.iter())
                            .map(|g| KeywordFilter::new("genre", g.as_str()))
                            .collect(),
                        limit,
                        offset,
                    };
                    for prior in [Some(popularity.clone()), None] {
                        let run = |settings, cache| {
                            search(
                                &snapshot.searcher,
                                &layout,
                                prior.clone(),
                                settings,
                                &request,
                                cache,
                            )
                            .expect("search")
                        };
                        let want = run(&exhaustive, None);
                        let what = format!("{request:?}, prior: {}", prior.is_some());
                        assert_same_answer(&run(&pruned, None), &want, &what);
                        assert_same_answer(&run(&pruned, Some(&cache)), &want, &what);
                        compared += usize::from(!want.hits.is_empty());
                    }
                }
            }
        }
    }
    assert!(
        compared > 100,
        "too few searches found anything: {compared}"
    );
}

/// The same answer up to float rounding: equal totals and counts, and the same hits in the same
/// order except where two scores are equal but for rounding (the sum of a word's field scores
/// depends on the order they are added in: block-max WAND and tantivy's union add them in
/// different orders, ~1e-7 apart), which may then trade places.
fn assert_same_answer(
    got: &engine::search::SearchOutcome,
    want: &engine::search::SearchOutcome,
    what: &str,
) {
    assert_eq!(got.total, want.total, "{what}: total");
    assert_eq!(got.counts, want.counts, "{what}: counts");
    assert_eq!(got.fuzzy, want.fuzzy, "{what}: fuzzy");
    assert_eq!(got.hits.len(), want.hits.len(), "{what}: hits");
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0);
    for (i, (g, w)) in got.hits.iter().zip(&want.hits).enumerate() {
        assert!(
            close(g.score, w.score),
            "{what}: hit {i} scores {} ({:?}), want {} ({:?})",
            g.score,
            g.key,
            w.score,
            w.key
        );
        if g.key != w.key {
            // A near-tie that traded places, within the page or across its edge.
            let other = want.hits.iter().find(|h| h.key == g.key);
            let edge = want.hits.last().map_or(w.score, |h| h.score);
            let tied = other.map_or(close(g.score, edge), |h| close(h.score, g.score));
            assert!(tied, "{what}: hit {i} is {:?}, want {:?}", g.key, w.key);
        } else {
            let display = |h: &engine::search::Hit| {
                (
                    h.title.clone(),
                    h.subtitle.clone(),
                    h.highlight.clone(),
                    h.fuzzy,
                )
            };
            assert_eq!(display(g), display(w), "{what}: hit {i}");
        }
    }
}

/// The Chinook catalog's searcher and the query layout of its definitions.
fn chinook_snapshot() -> (engine::Snapshot, engine::layout::Layout) {
    let snapshot = engine::SearchSource::snapshot(&*chinook().source()).expect("snapshot");
    let layout = engine::layout::Layout::from_definitions(&snapshot.definitions).expect("layout");
    (snapshot, layout)
}

/// A person typing an artist's name means the artist, before any of the artist's tracks (which
/// all carry the name too, and are many and popular).
#[tokio::test]
async fn a_whole_name_finds_its_entity_before_what_mentions_it() {
    for (q, kind, title) in [
        ("Iron Maiden", "user", "Iron Maiden"),
        ("iron maiden", "user", "Iron Maiden"),
        ("alanis morissette", "user", "Alanis Morissette"),
        ("Antonio Carlos Jobim", "user", "Antônio Carlos Jobim"),
        ("Killers", "playlist", "Killers"),
    ] {
        for rank in ["", "&rank=none"] {
            let body = search(q, rank).await;
            let first = &body["results"][0];
            assert_eq!(
                (first["kind"].as_str(), first["title"].as_str()),
                (Some(kind), Some(title)),
                "{q}{rank}: {body}"
            );
        }
    }
}

/// Among entities with the same whole name, the prior still decides.
#[tokio::test]
async fn equal_names_are_ordered_by_the_prior() {
    let index = TestIndex::build(
        vec![
            track(1, "Love", "Quiet Band", 0.0, 1),
            track(2, "Love", "Loud Band", 50.0, 1),
            track(3, "Love Songs", "Huge Star", 1e6, 1),
        ],
        vec![],
    );
    let (_, body) = get(&index.router(), "/search?q=love").await;
    let ids: Vec<i64> = keys(&body).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, [2, 1, 3], "{body}");
}

/// A short word the index has nowhere is a typo ("lov"), and a word nothing is near does not
/// make the rest of the query impossible.
#[tokio::test]
async fn a_word_that_matches_nothing_is_corrected_or_left_out() {
    for (q, title) in [
        ("Lov Is Blind", "Love Is Blind"),
        ("Is This Lov", "Is This Love"),
        ("Qqqxz Symphony No. 5", ""),
    ] {
        let body = search(q, "").await;
        let found = titles(&body);
        assert!(!found.is_empty(), "{q}: nothing found: {body}");
        if !title.is_empty() {
            assert_eq!(found[0], title, "{q}: {body}");
        }
    }
}

/// Among typo-tolerant fill-ins, the title closest to what was typed comes first, whatever
/// the popularity of look-alikes.
#[tokio::test]
async fn the_closest_fill_in_comes_first() {
    let index = TestIndex::build(
        vec![
            track(1, "Smooth", "Santana", 0.0, 1),
            track(2, "Smooth Criminal", "Michael Jackson", 1e6, 1),
        ],
        vec![],
    );
    let (_, body) = get(&index.router(), "/search?q=smoth").await;
    let ids: Vec<i64> = keys(&body).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids.first(), Some(&1), "{body}");
}
