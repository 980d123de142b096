//! Entity pages: `/tracks/42`, `/users/7`, `/playlists/3`, `/groups/9` — where a result's or a
//! suggestion's `url` leads. The page is rendered from the live generation's stored document,
//! so it shows exactly what search knows; an entity that is missing, deleted, private or taken
//! down (a tombstone in the index) is a 404 page, never its last public state.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use schemas::definition::{Definitions, FieldType};
use schemas::{EntityKey, EntityKind};

use crate::api::run;
use crate::error::ApiError;
use crate::server::QueryState;
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
    EntityView {
        key,
        title,
        subtitle,
        description,
        facts,
        owner: owner_full.or(owner_user),
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
    let found = run(&state, move |snapshot, layout| {
        find(&snapshot.searcher, &snapshot.definitions, layout, key)
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

/// The page's HTML: everything escaped, links only to the search page.
pub fn render(view: &EntityView) -> String {
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
            body.push_str(&format!(
                "<p class=\"subtitle\">{verb} <a href=\"{href}\">{owner}</a></p>",
                href = search(owner, Some("user")),
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
    if !view.facts.is_empty() {
        body.push_str("<dl>");
        for (label, value) in &view.facts {
            body.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape(label),
                escape(value)
            ));
        }
        body.push_str("</dl>");
    }
    body.push_str(&format!(
        "<p class=\"more\"><a href=\"{}\">Search for “{}”</a></p>",
        search(&view.title, None),
        escape(&view.title)
    ));
    shell(&view.title, &body)
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
.gone{color:#6e6e73}";

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
        };
        let html = render(&view);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("&lt;b&gt;rock&lt;/b&gt;"));
        assert!(html.contains("href=\"/?q=AC%2FDC+%22live%22&amp;kind=user\""));
    }
}
