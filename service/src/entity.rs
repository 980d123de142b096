//! Entity pages: `/tracks/42`, `/users/7`, `/playlists/3`, `/groups/9` — where a result's or a
//! suggestion's `url` leads. The page is rendered from the live generation's stored document,
//! so it shows exactly what search knows; an entity that is missing, deleted, private or taken
//! down (a tombstone in the index) is a 404 page, never its last public state. Below it, what
//! a visitor expects to find there ([`crate::listing`]): a person's popular tracks and sets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use schemas::definition::{Definitions, FieldType};
use schemas::{EntityKey, EntityKind};

use crate::api::run;
use crate::error::ApiError;
use crate::listing::{self, Listing};
use crate::server::QueryState;
use crate::stats::Stats;
use engine::highlight::escape;
use engine::layout::Layout;

/// One entity as its page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityView {
    pub key: EntityKey,
    pub title: String,
    pub subtitle: String,
    /// The `description` field, when the kind has one and it is not empty.
    pub description: String,
    /// The other stored fields worth showing, as (label, value), in definition order.
    pub facts: Vec<(String, String)>,
    /// The owner's or creator's display name, for tracks, playlists and groups.
    pub owner: Option<String>,
    /// The owner's or creator's user id, when the generation stores it: the byline links to
    /// their page rather than to a search for their name.
    pub owner_id: Option<i64>,
    /// Tracks: when uploaded.
    pub uploaded: Option<DateTime<Utc>>,
    /// What the page lists below the entity ([`listing::lists`]).
    pub lists: Vec<Listing>,
}

/// Finds the live (non-tombstone) document of `key`.
pub fn find(
    searcher: &Searcher,
    definitions: &Definitions,
    layout: &Layout,
    key: EntityKey,
) -> tantivy::Result<Option<EntityView>> {
    let system = definitions.system();
    let by_key: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_text(system.key, &key.to_string()),
        IndexRecordOption::Basic,
    ));
    let live: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_u64(layout.tombstone, 0),
        IndexRecordOption::Basic,
    ));
    let query = BooleanQuery::new(vec![(Occur::Must, by_key), (Occur::Must, live)]);
    let top: Vec<(f32, DocAddress)> =
        searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
    let Some(&(_, address)) = top.first() else {
        return Ok(None);
    };
    let doc: TantivyDocument = searcher.doc(address)?;
    Ok(Some(view(definitions, layout, key, &doc)))
}

fn view(
    definitions: &Definitions,
    layout: &Layout,
    key: EntityKey,
    doc: &TantivyDocument,
) -> EntityView {
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let title = text(layout.display_title);
    let subtitle = text(layout.display_subtitle);
    let mut description = String::new();
    let mut facts = Vec::new();
    let mut owner_full = None;
    let mut owner_user = None;
    let mut owner_id = None;
    for field in definitions
        .kind(key.kind)
        .fields
        .iter()
        .filter(|f| f.stored)
    {
        let Some(value) = doc.get_first(field.field).map(OwnedValue::from) else {
            continue;
        };
        let name = field.name.as_str();
        if name.ends_with("_id") {
            // An id is for links, not for reading.
            if name == engine::owned::OWNER_ID {
                owner_id = value_i64(&value);
            }
            continue;
        }
        let shown = match (&value, field.ty) {
            (OwnedValue::Str(s), _) => s.trim().to_string(),
            (OwnedValue::I64(n), FieldType::I64) if name.ends_with("_ms") => duration(*n),
            (OwnedValue::I64(n), _) => thousands(*n),
            (OwnedValue::F64(x), _) => format!("{x:.2}"),
            _ => continue,
        };
        if shown.is_empty() || shown == title {
            continue;
        }
        if name == "description" {
            description = shown;
        } else if name.ends_with("_full_name") {
            owner_full = Some(shown);
        } else if name.ends_with("_username") && key.kind != EntityKind::User {
            owner_user = Some(shown);
        } else if !(key.kind == EntityKind::User && name == "username") {
            let label = name.trim_end_matches("_ms").replace('_', " ");
            facts.push((label, shown));
        }
    }
    let system = definitions.system();
    let uploaded = (key.kind == EntityKind::Track)
        .then(|| doc.get_first(system.created_at))
        .flatten()
        .and_then(|v| v.as_datetime())
        .and_then(|at| DateTime::from_timestamp_micros(at.into_timestamp_micros()));
    EntityView {
        key,
        title,
        subtitle,
        description,
        facts,
        owner: owner_full.or(owner_user),
        owner_id,
        uploaded,
        lists: Vec::new(),
    }
}

fn value_i64(value: &OwnedValue) -> Option<i64> {
    match value {
        OwnedValue::I64(n) => Some(*n),
        _ => None,
    }
}

/// `m:ss` (or `h:mm:ss`) from milliseconds.
fn duration(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// How long ago `then` was at `now`, as a site says it: `just now`, `5 minutes ago`,
/// `3 days ago`, `2 months ago`, `1 year ago` (a time ahead of `now` is `just now`).
fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    let (n, unit) = match seconds {
        ..60 => return "just now".to_string(),
        60..3_600 => (seconds / 60, "minute"),
        3_600..86_400 => (seconds / 3_600, "hour"),
        86_400..2_592_000 => (seconds / 86_400, "day"),
        2_592_000..31_536_000 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A listed entity's counts as one line: a track's plays, likes, length and age; a set's
/// tracks and likes (what the visitor weighs them by).
fn stats_line(kind: EntityKind, stats: &Stats, now: DateTime<Utc>) -> String {
    let count = |n: Option<i64>, one: &str, many: &str| {
        n.map(|n| format!("{} {}", thousands(n), if n == 1 { one } else { many }))
    };
    let parts: Vec<Option<String>> = match kind {
        EntityKind::Track => vec![
            count(stats.plays, "play", "plays"),
            count(stats.likes, "like", "likes"),
            stats.duration_ms.map(duration),
            (stats.uploaded_at.as_deref())
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| ago(at.with_timezone(&Utc), now)),
        ],
        EntityKind::Playlist => vec![
            count(stats.track_count, "track", "tracks"),
            count(stats.likes, "like", "likes"),
        ],
        EntityKind::User => vec![
            count(stats.followers, "follower", "followers"),
            count(stats.track_count, "track", "tracks"),
        ],
        EntityKind::Group => vec![count(stats.member_count, "member", "members")],
    };
    parts.into_iter().flatten().collect::<Vec<_>>().join(" · ")
}

/// `12,315` from 12315.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The handler for one kind's pages (`/tracks/{id}` and so on).
pub async fn page(
    kind: EntityKind,
    State(state): State<QueryState>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found(kind, &id);
    };
    let key = EntityKey::new(kind, id);
    // The entity and its lists from one snapshot: a page never mixes two generations.
    let found = run(&state, move |snapshot, layout| {
        let (searcher, definitions) = (&snapshot.searcher, &snapshot.definitions);
        let Some(mut view) = find(searcher, definitions, layout, key)? else {
            return Ok(None);
        };
        view.lists = listing::lists(searcher, definitions, layout, key)?;
        Ok(Some(view))
    })
    .await;
    match found {
        Ok(Some(view)) => Html(render(&view)).into_response(),
        Ok(None) => not_found(kind, &id.to_string()),
        Err(error) => error_page(error),
    }
}

fn not_found(kind: EntityKind, id: &str) -> Response {
    let body = format!(
        "<p class=\"gone\">There is no public {kind} {id}: it may have been deleted or made \
         private.</p><p><a href=\"/\">Search Disco</a></p>",
        id = escape(id)
    );
    (StatusCode::NOT_FOUND, Html(shell("Not found", &body))).into_response()
}

fn error_page(error: ApiError) -> Response {
    let status = error.status;
    let body = format!("<p class=\"gone\">{}</p>", escape(&error.message));
    (status, Html(shell("Unavailable", &body))).into_response()
}

/// The page's HTML: everything escaped, links only to the search page and to entity pages.
pub fn render(view: &EntityView) -> String {
    render_at(view, Utc::now())
}

/// [`render`] as of `now` (how long ago a track was uploaded).
pub fn render_at(view: &EntityView, now: DateTime<Utc>) -> String {
    let search = |q: &str, kind: Option<&str>| {
        let mut href = format!("/?q={}", url_encode(q));
        if let Some(kind) = kind {
            href.push_str("&kind=");
            href.push_str(kind);
        }
        escape(&href)
    };
    let mut body = format!(
        "<p class=\"kind\">{kind}</p><h1>{title}</h1>",
        kind = view.key.kind,
        title = escape(&view.title)
    );
    match (&view.owner, view.key.kind) {
        (Some(owner), EntityKind::Track | EntityKind::Playlist | EntityKind::Group) => {
            let verb = if view.key.kind == EntityKind::Group {
                "created by"
            } else {
                "by"
            };
            let href = match view.owner_id {
                Some(id) => EntityKey::new(EntityKind::User, id).url(),
                None => search(owner, Some("user")),
            };
            body.push_str(&format!(
                "<p class=\"subtitle\">{verb} <a class=\"owner\" href=\"{href}\">{owner}</a></p>",
                owner = escape(owner)
            ));
        }
        _ if !view.subtitle.is_empty() => body.push_str(&format!(
            "<p class=\"subtitle\">{}</p>",
            escape(&view.subtitle)
        )),
        _ => {}
    }
    if !view.description.is_empty() {
        body.push_str(&format!(
            "<p class=\"description\">{}</p>",
            escape(&view.description)
        ));
    }
    let uploaded = view
        .uploaded
        .map(|at| ("uploaded".to_string(), ago(at, now)));
    if !view.facts.is_empty() || uploaded.is_some() {
        body.push_str("<dl>");
        for (label, value) in view.facts.iter().chain(&uploaded) {
            body.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape(label),
                escape(value)
            ));
        }
        body.push_str("</dl>");
    }
    for list in &view.lists {
        body.push_str(&render_list(list, now));
    }
    body.push_str(&format!(
        "<p class=\"more\"><a href=\"{}\">Search for “{}”</a></p>",
        search(&view.title, None),
        escape(&view.title)
    ));
    shell(&view.title, &body)
}

/// One list: a heading with the total, then each item linked to its page with its counts.
fn render_list(list: &Listing, now: DateTime<Utc>) -> String {
    let id = format!("list-{}", list.kind.table());
    let mut html = format!(
        "<section class=\"list\" data-kind=\"{kind}\" aria-labelledby=\"{id}\">\
         <h2 id=\"{id}\">{heading} <span class=\"n\">{total}</span></h2>",
        kind = list.kind,
        heading = escape(list.heading),
        total = thousands(list.total as i64),
    );
    if list.items.is_empty() {
        html.push_str("<p class=\"gone\">None yet.</p></section>");
        return html;
    }
    html.push_str("<ol>");
    for item in &list.items {
        let stats = stats_line(item.key.kind, &item.stats, now);
        html.push_str(&format!(
            "<li data-kind=\"{kind}\" data-id=\"{id}\"><a href=\"{href}\">{title}</a>\
             <span class=\"stats\">{stats}</span></li>",
            kind = item.key.kind,
            id = item.key.id,
            href = escape(&item.key.url()),
            title = escape(&item.title),
            stats = escape(&stats),
        ));
    }
    html.push_str("</ol></section>");
    html
}

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} — Disco</title><style>{STYLE}</style></head><body>\
<header><a class=\"logo\" href=\"/\">disco</a>\
<form action=\"/\" method=\"get\"><input name=\"q\" type=\"search\" placeholder=\"Search\" \
aria-label=\"Search\"></form></header><main>{body}</main></body></html>",
        title = escape(title)
    )
}

const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
background:#fafafa;color:#1d1d1f}header{display:flex;gap:12px;align-items:center;padding:12px 16px;\
background:#fff;border-bottom:1px solid #e3e3e8}.logo{font-weight:800;font-size:22px;color:#ff5500;\
text-decoration:none}form{flex:1;display:flex}input{flex:1;min-width:0;font-size:16px;padding:8px 14px;\
border:1px solid #e3e3e8;border-radius:20px}main{max-width:760px;margin:0 auto;padding:16px}\
.kind{margin:0;text-transform:uppercase;font-size:12px;letter-spacing:.08em;color:#6e6e73}\
h1{margin:4px 0;font-size:28px;overflow-wrap:anywhere}.subtitle{margin:0 0 12px;color:#6e6e73}\
a{color:#ff5500}.description{white-space:pre-wrap;overflow-wrap:anywhere}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px}dt{color:#6e6e73}dd{margin:0}\
.gone{color:#6e6e73}.list h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;\
color:#6e6e73;margin:24px 0 6px}.list .n{margin-left:4px}.list ol{list-style:none;margin:0;padding:0}\
.list li{display:flex;flex-wrap:wrap;justify-content:space-between;gap:2px 12px;padding:10px 12px;\
background:#fff;border:1px solid #e3e3e8;border-radius:10px;margin-bottom:8px}\
.list li a{font-weight:600;color:#1d1d1f;text-decoration:none;overflow-wrap:anywhere;min-width:0}\
.list li a:hover{text-decoration:underline}.stats{font-size:14px;color:#6e6e73}";

/// Percent-encodes a query-string value.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_site() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(12_315), "12,315");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(duration(343_719), "5:43");
        assert_eq!(duration(3_723_000), "1:02:03");
    }

    #[test]
    fn rendering_escapes_everything_from_the_index() {
        let view = EntityView {
            key: EntityKey::new(EntityKind::Track, 42),
            title: "<script>alert(1)</script>".into(),
            subtitle: "AC/DC".into(),
            description: "a & b".into(),
            facts: vec![("genre".into(), "<b>rock</b>".into())],
            owner: Some("AC/DC \"live\"".into()),
            owner_id: None,
            uploaded: None,
            lists: vec![Listing {
                heading: "Popular tracks",
                kind: EntityKind::Track,
                total: 1,
                items: vec![listing::Listed {
                    key: EntityKey::new(EntityKind::Track, 43),
                    title: "<i>x</i>".into(),
                    stats: Stats::default(),
                }],
            }],
        };
        let html = render(&view);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("&lt;b&gt;rock&lt;/b&gt;"));
        assert!(html.contains("href=\"/?q=AC%2FDC+%22live%22&amp;kind=user\""));
        assert!(html.contains("&lt;i&gt;x&lt;/i&gt;"));
        assert!(!html.contains("<i>"));
    }

    #[test]
    fn ages_and_counts_read_like_a_site() {
        let now = Utc::now();
        let before = |seconds: i64| now - chrono::Duration::seconds(seconds);
        assert_eq!(ago(before(5), now), "just now");
        assert_eq!(ago(now + chrono::Duration::hours(1), now), "just now");
        assert_eq!(ago(before(60), now), "1 minute ago");
        assert_eq!(ago(before(7_200), now), "2 hours ago");
        assert_eq!(ago(before(3 * 86_400 + 10), now), "3 days ago");
        assert_eq!(ago(before(65 * 86_400), now), "2 months ago");
        assert_eq!(ago(before(400 * 86_400), now), "1 year ago");
        let track = Stats {
            plays: Some(1_204),
            likes: Some(1),
            duration_ms: Some(215_000),
            uploaded_at: Some(
                before(3 * 86_400).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            ..Stats::default()
        };
        assert_eq!(
            stats_line(EntityKind::Track, &track, now),
            "1,204 plays · 1 like · 3:35 · 3 days ago"
        );
        let set = Stats {
            track_count: Some(12),
            ..Stats::default()
        };
        assert_eq!(stats_line(EntityKind::Playlist, &set, now), "12 tracks");
    }

    #[test]
    fn the_byline_links_to_the_owners_page_when_the_index_knows_them() {
        let view = EntityView {
            key: EntityKey::new(EntityKind::Track, 42),
            title: "Song".into(),
            subtitle: "Artist".into(),
            description: String::new(),
            facts: Vec::new(),
            owner: Some("Artist".into()),
            owner_id: Some(7),
            uploaded: Some(Utc::now() - chrono::Duration::days(3)),
            lists: Vec::new(),
        };
        let html = render(&view);
        assert!(html.contains("by <a class=\"owner\" href=\"/users/7\">Artist</a>"));
        assert!(html.contains("<dt>uploaded</dt><dd>3 days ago</dd>"));
    }
}
