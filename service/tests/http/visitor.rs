//! What a visitor expects to see (#24): each result's counts (`stats`), a top result when the
//! query is one entity's whole name, and entity pages that list a person's tracks and sets —
//! all read from the index.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use schemas::definition::Definitions;
use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind, Version};

use crate::fixture::{TestIndex, chinook};
use crate::{get, get_raw, keys};

fn at(hours_ago: i64) -> DateTime<Utc> {
    Utc::now() - Duration::hours(hours_ago)
}

fn entity(kind: EntityKind, id: i64, created: DateTime<Utc>) -> EntityRow {
    EntityRow::new(
        EntityKey::new(kind, id),
        Version::from_datetime(created),
        created,
    )
}

fn person(id: i64, name: &str, followers: i64, tracks: i64, popularity: f64) -> EntityRow {
    entity(EntityKind::User, id, at(1000))
        .with("username", crate::fixture::username(name).as_str())
        .with("full_name", name)
        .with("followers", followers)
        .with("track_count", tracks)
        .with_popularity(popularity)
}

/// A track of `owner` (id, name) with its counts.
fn song(
    id: i64,
    title: &str,
    owner: (i64, &str),
    popularity: f64,
    plays: i64,
    hours_ago: i64,
) -> EntityRow {
    entity(EntityKind::Track, id, at(hours_ago))
        .with("title", title)
        .with("owner_id", owner.0)
        .with("owner_full_name", owner.1)
        .with("owner_username", crate::fixture::username(owner.1).as_str())
        .with("plays", plays)
        .with("likes", plays / 20)
        .with("reposts", 3_i64)
        .with("comments", 2_i64)
        .with("duration_ms", 215_000_i64)
        .with("genre", "Electronic")
        .with_popularity(popularity)
}

fn set(id: i64, title: &str, owner: (i64, &str), tracks: i64, popularity: f64) -> EntityRow {
    entity(EntityKind::Playlist, id, at(500))
        .with("title", title)
        .with("owner_id", owner.0)
        .with("owner_full_name", owner.1)
        .with("owner_username", crate::fixture::username(owner.1).as_str())
        .with("track_count", tracks)
        .with("likes", 12_i64)
        .with_popularity(popularity)
}

const AURORA: (i64, &str) = (7, "Aurora Keys");
const OTHER: (i64, &str) = (8, "Other Person");

/// Aurora Keys (user 7) with three tracks of distinct popularity, a fourth that is gone, two
/// sets and a group she created; someone else's track called "Aurora Keys" and someone else's
/// set; two people called Sam Reed.
fn rows() -> Vec<EntityRow> {
    vec![
        person(7, "Aurora Keys", 1_500, 3, 50.0),
        person(8, "Other Person", 10, 2, 5.0),
        person(9, "Sam Reed", 3, 0, 1.0),
        person(10, "Sam Reed", 4, 0, 2.0),
        song(101, "Northern Lights", AURORA, 9.0, 900, 72),
        song(102, "Glass Harbor", AURORA, 20.0, 5_000, 400),
        song(103, "Quiet Hours", AURORA, 1.0, 40, 2),
        song(201, "Aurora Keys", OTHER, 100.0, 99_000, 10),
        song(202, "Harbor Lights", OTHER, 30.0, 7_000, 10),
        // Its tracks in its order; 999 is gone from search and left out of the list.
        set(301, "Night Drive", AURORA, 2, 3.0).with("track_ids", "103 999 101"),
        set(302, "Demos", AURORA, 1, 1.0),
        set(303, "Borrowed Lights", OTHER, 4, 9.0),
        entity(EntityKind::Group, 401, at(800))
            .with("name", "Keys Club")
            .with("owner_id", 7_i64)
            .with("creator_full_name", "Aurora Keys")
            .with("member_count", 25_i64)
            .with("track_count", 4_i64)
            .with("track_ids", "202 102"),
    ]
}

fn catalog() -> TestIndex {
    // Track 104 was Aurora's and is gone (a tombstone): never listed.
    TestIndex::build(rows(), vec![EntityKey::new(EntityKind::Track, 104)])
}

/// When track `id` was uploaded, as `stats.uploaded_at` gives it.
fn uploaded(index: &TestIndex, id: i64) -> String {
    index
        .row(EntityKind::Track, id)
        .created_at
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn every_result_carries_its_kinds_counts() {
    let index = catalog();
    let router = index.router();
    let first = |body: &Value| body["results"][0].clone();

    let (status, body) = get(&router, "/search?q=northern%20lights&kind=track").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let track = first(&body);
    assert_eq!(track["id"], 101);
    assert_eq!(
        track["stats"],
        json!({"plays": 900, "likes": 45, "reposts": 3, "comments": 2, "duration_ms": 215000,
               "uploaded_at": uploaded(&index, 101)}),
        "a track's counts, its length and when it was uploaded"
    );

    let (_, body) = get(&router, "/search?q=aurora%20keys&kind=user").await;
    assert_eq!(
        first(&body)["stats"],
        json!({"followers": 1500, "track_count": 3})
    );
    let (_, body) = get(&router, "/search?q=night%20drive&kind=playlist").await;
    assert_eq!(
        first(&body)["stats"],
        json!({"track_count": 2, "likes": 12})
    );
    let (_, body) = get(&router, "/search?q=keys%20club&kind=group").await;
    assert_eq!(
        first(&body)["stats"],
        json!({"member_count": 25, "track_count": 4})
    );

    // Mixed results and Explore carry them too.
    let (_, body) = get(&router, "/search?q=lights").await;
    for result in body["results"].as_array().expect("results") {
        assert!(result["stats"].is_object(), "{result}");
        if result["kind"] == "track" {
            assert!(result["stats"]["plays"].is_i64(), "{result}");
        }
    }
    let (_, body) = get(&router, "/explore?limit=3").await;
    let explored = body["results"].as_array().expect("results");
    assert!(!explored.is_empty());
    assert!(
        explored.iter().all(|r| r["stats"]["plays"].is_i64()),
        "{body}"
    );
    assert_eq!(body["top"], Value::Null, "Explore has no top result");
}

/// The shipped definitions with tracks' `plays` kept in the index but not stored, and their
/// `comments` not defined at all: a generation an operator built that way.
fn definitions_without_stored_plays() -> Definitions {
    Definitions::builtin_edited(|file, text| match file {
        "track.json" => {
            let edited = text
                .replace(
                    r#"{ "name": "plays", "type": "i64", "indexed": false, "stored": true, "fast": true }"#,
                    r#"{ "name": "plays", "type": "i64", "indexed": false, "fast": true }"#,
                )
                .replace(
                    r#",
    { "name": "comments", "type": "i64", "indexed": false, "stored": true, "fast": true }"#,
                    "",
                );
            assert!(!edited.contains("comments") && edited.contains("\"plays\""));
            edited
        }
        _ => text.to_string(),
    })
    .expect("the edited definitions are valid")
}

#[tokio::test]
async fn a_count_the_answering_generation_does_not_store_is_left_out() {
    let index = TestIndex::build_with(definitions_without_stored_plays(), rows(), Vec::new());
    let (status, body) = get(&index.router(), "/search?q=northern%20lights&kind=track").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stats = body["results"][0]["stats"]
        .as_object()
        .expect("stats")
        .clone();
    let mut names: Vec<&str> = stats.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["duration_ms", "likes", "reposts", "uploaded_at"],
        "plays are not stored and comments not defined in this generation"
    );
}

#[tokio::test]
async fn all_opens_with_a_top_result_only_when_one_entity_is_the_query() {
    let index = catalog();
    let router = index.router();

    // The artist's whole name: she leads, over someone's track of the same name.
    let (status, body) = get(&router, "/search?q=aurora%20keys").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["top"]["kind"], "user", "{body}");
    assert_eq!(body["top"]["id"], 7);
    assert_eq!(body["top"]["stats"]["followers"], 1500);
    assert_eq!(
        body["top"], body["results"][0],
        "the top result is the first result, shown larger"
    );
    assert!(
        keys(&body).contains(&("track".to_string(), 201)),
        "the track of the same name is still a result: {body}"
    );
    // Folded and spaced differently, it is still her name.
    let (_, body) = get(&router, "/search?q=AURORA%20%20keys").await;
    assert_eq!(body["top"]["id"], 7, "{body}");

    // Not with a kind, not past the first page.
    for uri in [
        "/search?q=aurora%20keys&kind=user",
        "/search?q=aurora%20keys&kind=all&offset=1",
    ] {
        let (status, body) = get(&router, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(body["top"], Value::Null, "{uri}: {body}");
        assert!(!keys(&body).is_empty(), "{uri}");
    }
    // A vague query names no one; two people of one name are a tie.
    for q in ["lights", "harbor", "aurora", "sam%20reed"] {
        let (_, body) = get(&router, &format!("/search?q={q}")).await;
        assert!(!keys(&body).is_empty(), "{q}: {body}");
        assert_eq!(body["top"], Value::Null, "{q}: {body}");
    }

    // On the catalog: an artist typed in full.
    let (_, body) = get(&chinook().router(), "/search?q=metallica").await;
    assert_eq!(body["top"]["kind"], "user", "{body}");
    assert_eq!(body["top"]["title"], "Metallica");
}

/// The `data-id`s of the list of `kind` on an entity page, in order.
fn listed(html: &str, kind: &str) -> Option<Vec<i64>> {
    let start = html.find(&format!("<section class=\"list\" data-kind=\"{kind}\""))?;
    let section = &html[start..];
    let section = &section[..section.find("</section>")?];
    Some(
        section
            .split("<li ")
            .skip(1)
            .filter_map(|li| {
                let rest = li.split("data-id=\"").nth(1)?;
                rest[..rest.find('"')?].parse().ok()
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_persons_page_lists_their_popular_tracks_and_their_sets() {
    let index = catalog();
    let router = index.router();
    let (status, html, _) = get_raw(&router, "/users/7").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        listed(&html, "track"),
        Some(vec![102, 101, 103]),
        "her tracks, most popular first, none of anyone else's, none gone: {html}"
    );
    assert_eq!(listed(&html, "playlist"), Some(vec![301, 302]), "{html}");
    assert!(
        html.contains("Popular tracks <span class=\"n\">3</span>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/tracks/102\">Glass Harbor</a>"),
        "{html}"
    );
    assert!(
        html.contains("5,000 plays · 250 likes · 3:35 · 16 days ago"),
        "each track with its counts, length and age: {html}"
    );
    assert!(html.contains("2 tracks · 12 likes"), "{html}");

    // A person with nothing of their own says so.
    let (_, html, _) = get_raw(&router, "/users/9").await;
    assert_eq!(listed(&html, "track"), Some(vec![]));
    assert!(html.contains("None yet."), "{html}");

    // A track's byline leads to its owner's page; its page says when it was uploaded.
    let (_, html, _) = get_raw(&router, "/tracks/101").await;
    assert!(html.contains("href=\"/users/7\">Aurora Keys</a>"), "{html}");
    assert!(
        html.contains("<dt>uploaded</dt><dd>3 days ago</dd>"),
        "{html}"
    );
    assert!(
        !html.contains("owner id"),
        "ids are links, not facts: {html}"
    );

    // A set lists its tracks in its order, a group its newest tracks, from their documents'
    // `track_ids`: only what search still has.
    for (page, tracks) in [
        ("/playlists/301", vec![103, 101]),
        ("/groups/401", vec![202, 102]),
    ] {
        let (status, html, _) = get_raw(&router, page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(listed(&html, "track"), Some(tracks), "{page}: {html}");
    }
    // A set with no tracks says so.
    let (_, html, _) = get_raw(&router, "/playlists/302").await;
    assert_eq!(listed(&html, "track"), Some(vec![]), "{html}");
    assert!(html.contains("None yet."), "{html}");

    // On the catalog: an artist's tracks by popularity, their albums as sets.
    let catalog = chinook();
    let router = catalog.router();
    let (_, search) = get(&router, "/search?q=metallica&kind=user").await;
    let artist = search["results"][0]["id"].as_i64().expect("Metallica");
    let (_, html, _) = get_raw(&router, &format!("/users/{artist}")).await;
    let tracks = listed(&html, "track").expect("Metallica's tracks");
    assert_eq!(tracks.len(), service::listing::LISTED);
    let popularity: Vec<f64> = tracks
        .iter()
        .map(|id| catalog.row(EntityKind::Track, *id).popularity)
        .collect();
    assert!(
        popularity.windows(2).all(|w| w[0] >= w[1]),
        "most popular first: {popularity:?}"
    );
    let best = catalog
        .rows
        .values()
        .filter(|r| {
            r.key.kind == EntityKind::Track && r.text("owner_full_name") == Some("Metallica")
        })
        .map(|r| r.popularity)
        .fold(0.0, f64::max);
    assert_eq!(popularity[0], best);
    let sets = listed(&html, "playlist").expect("Metallica's albums");
    assert!(!sets.is_empty());
    for id in sets {
        assert_eq!(
            catalog
                .row(EntityKind::Playlist, id)
                .text("owner_full_name"),
            Some("Metallica")
        );
    }
}

#[tokio::test]
async fn the_api_description_shows_stats_and_the_top_result() {
    let (_, api) = get(&chinook().router(), "/openapi.json").await;
    let schemas = &api["components"]["schemas"];
    assert!(
        schemas["ResultItem"]["properties"]["stats"].is_object(),
        "{schemas}"
    );
    assert!(
        schemas["SearchResponse"]["properties"]["top"].is_object(),
        "{schemas}"
    );
    for key in [
        "plays",
        "likes",
        "duration_ms",
        "uploaded_at",
        "followers",
        "track_count",
        "member_count",
    ] {
        assert!(
            schemas["Stats"]["properties"][key].is_object(),
            "Stats has {key}: {schemas}"
        );
    }
}
