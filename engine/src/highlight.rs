//! Highlights: a short piece of the hit's text with the words that matched marked as
//! `<mark>…</mark>`, everything else HTML-escaped (tantivy's `SnippetGenerator` does the
//! cutting and escaping). Fuzzy hits mark the words of the text that are within the allowed
//! edits of a query word, so the corrected word is what lights up.

use std::collections::{BTreeMap, BTreeSet};

use tantivy::schema::Value;
use tantivy::snippet::SnippetGenerator;

use schemas::analyzer::Analyzer;

use crate::collect::Stored;
use crate::compile::{analyzer_of, fuzzy_distance};
use crate::language::UserQuery;
use crate::layout::{Layout, SearchField};

/// The longest highlight, in characters.
pub const MAX_CHARS: usize = 160;

/// The highlight of `hit`: the first of its title and stored searchable fields (by boost) in
/// which a query word is found, or the escaped title when none is.
pub fn highlight(layout: &Layout, query: &UserQuery, hit: &Stored, fuzzy: bool) -> String {
    let fields = layout.fields(hit.key.kind);
    let title_analyzer = fields.first().map_or("name", |f| f.analyzer.as_str());
    let mut candidates: Vec<(&str, String)> = vec![(title_analyzer, hit.title.clone())];
    for field in fields.iter().filter(|f| f.stored) {
        candidates.extend(stored_text(hit, field).map(|text| (field.analyzer.as_str(), text)));
    }
    for (analyzer, text) in candidates {
        if text.is_empty() {
            continue;
        }
        if let Some(html) = marked(layout, analyzer_of(analyzer), query, &text, fuzzy) {
            return html;
        }
    }
    escape(&hit.title)
}

fn stored_text(hit: &Stored, field: &SearchField) -> Option<String> {
    let text: Vec<&str> = hit
        .doc
        .get_all(field.field)
        .filter_map(|v| v.as_str())
        .collect();
    let text = text.join(" ");
    (!text.is_empty() && text != hit.title).then_some(text)
}

/// `text` with the query's words marked, or `None` when none of them occurs in it.
fn marked(
    layout: &Layout,
    analyzer: Analyzer,
    query: &UserQuery,
    text: &str,
    fuzzy: bool,
) -> Option<String> {
    let wanted: BTreeSet<String> = query
        .words
        .iter()
        .chain(&query.phrases)
        .flat_map(|w| analyzer.analyze(w))
        .collect();
    if wanted.is_empty() {
        return None;
    }
    let mut terms: BTreeMap<String, f32> = BTreeMap::new();
    for token in analyzer.analyze(text) {
        let hit = wanted.contains(&token) || (fuzzy && wanted.iter().any(|w| near(w, &token)));
        if hit {
            terms.insert(token, 1.0);
        }
    }
    if terms.is_empty() {
        return None;
    }
    let generator = SnippetGenerator::new(
        terms,
        analyzer.tokenizer().into(),
        layout.display_title,
        MAX_CHARS,
    );
    let mut snippet = generator.snippet(text);
    if snippet.is_empty() {
        return None;
    }
    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
    Some(snippet.to_html())
}

/// Whether `token` is within the edits fuzzy matching allows for the query word `wanted`.
fn near(wanted: &str, token: &str) -> bool {
    let allowed = fuzzy_distance(wanted.chars().count()) as usize;
    allowed > 0 && edit_distance(wanted, token, allowed) <= allowed
}

/// Damerau–Levenshtein (optimal string alignment) distance, giving up above `cap`.
fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// Minimal HTML escaping for text placed in markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_transpositions_as_one() {
        assert_eq!(edit_distance("sandman", "sandman", 2), 0);
        assert_eq!(edit_distance("sandman", "sandmen", 2), 1);
        assert_eq!(edit_distance("sandman", "sadnman", 2), 1);
        assert!(edit_distance("a", "abcdef", 2) > 2);
    }

    #[test]
    fn escape_covers_markup() {
        assert_eq!(escape("<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
    }
}
