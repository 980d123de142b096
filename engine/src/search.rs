//! One search, start to end: understand the text, match exactly, fill in with fuzzy matches when
//! exact finds few, blend each text score with the prior, page, and read the hits for display.
//! Exact matches always rank above fuzzy fill-ins; within each tier the blend orders.

use std::collections::BTreeMap;
use std::sync::Arc;

use tantivy::query::{Bm25StatisticsProvider, Query};
use tantivy::{Searcher, TantivyDocument};

use schemas::{EntityKey, EntityKind};

use crate::blend::Blend;
use crate::cached::{Cached, ClauseCache};
use crate::collect::{self, CountByKind, KindCounts};
use crate::compile::{self, Filters, KeywordFilter, Matching};
use crate::highlight::highlight;
use crate::language::{self, UserQuery};
use crate::layout::Layout;
use crate::prior::Prior;
use crate::prune::TopBlended;
use crate::restrict::{KindFiltered, KindGroups};
use crate::statistics::Statistics;

/// What to search for (already validated against the contract's limits).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub kind: Option<EntityKind>,
    /// Only documents matching all of these (`genre` is one): checked against the layout's
    /// filterable fields by the caller, as one the layout cannot filter on matches nothing.
    pub keywords: Vec<KeywordFilter>,
    pub limit: usize,
    pub offset: usize,
}

/// How a search behaves; part of the service's configuration.
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    pub blend: Blend,
    /// Fuzzy matching fills in when exact matching finds fewer results than this.
    pub fuzzy_below: usize,
    /// Score every match instead of skipping those that cannot make the page (same answer,
    /// slower: for checking the pruning and measuring what it saves).
    pub exhaustive: bool,
}

impl SearchSettings {
    /// The names of the ranking settings experiments and `disco eval` can choose by name.
    pub const NAMES: [&'static str; 2] = ["default", "no-fuzzy"];

    /// Named ranking settings: `default`, and `no-fuzzy` (no typo fill-in), so a variant of
    /// the ranking can be compared with the default side by side.
    pub fn named(name: &str) -> Option<SearchSettings> {
        let default = SearchSettings::default();
        match name {
            "default" => Some(default),
            "no-fuzzy" => Some(SearchSettings {
                fuzzy_below: 0,
                ..default
            }),
            _ => None,
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            blend: Blend::default(),
            fuzzy_below: 5,
            exhaustive: false,
        }
    }
}

/// One result, ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: EntityKey,
    pub title: String,
    pub subtitle: String,
    pub score: f32,
    /// HTML: escaped text with `<mark>` around matched words.
    pub highlight: String,
    /// Found only by typo-tolerant matching.
    pub fuzzy: bool,
    /// The stored document, already read for the title: a caller shows more of it (a track's
    /// plays, a person's followers) without reading it again.
    pub stored: TantivyDocument,
}

/// The answer to one search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchOutcome {
    /// Matches of the request's scope (its kind, or all kinds).
    pub total: u64,
    /// Matches per kind for the same text and keyword filters, whatever the kind filter.
    pub counts: BTreeMap<EntityKind, u64>,
    pub hits: Vec<Hit>,
    /// Whether fuzzy fill-ins were searched for.
    pub fuzzy: bool,
    /// The first hit clearly leads, as an artist does when their name is typed: it is on the
    /// first page (offset 0), it was found by its whole name (the query is its name,
    /// [`compile::whole_name`]), and no other entity of its kind has that name. Two people
    /// called "John Smith" are a tie the text cannot settle, so neither leads; a person and a
    /// track of the same name are not a tie, as the kinds' precedence already puts the person,
    /// the broader answer, first. Always false for Explore.
    pub lead: bool,
}

/// Runs `request` on `searcher`. Errors are the index's own (I/O, corruption), never the text's.
pub fn search(
    searcher: &Searcher,
    layout: &Layout,
    prior: Option<Arc<dyn Prior>>,
    settings: &SearchSettings,
    request: &SearchRequest,
    cache: Option<&Arc<ClauseCache>>,
) -> tantivy::Result<SearchOutcome> {
    let user = language::parse(&request.text);
    let mut outcome = SearchOutcome {
        counts: EntityKind::ALL.iter().map(|k| (*k, 0)).collect(),
        ..SearchOutcome::default()
    };
    if user.is_empty() {
        return Ok(outcome);
    }
    let everywhere = Filters {
        kind: None,
        keywords: &request.keywords,
    };
    let scoped = Filters {
        kind: request.kind,
        ..everywhere
    };
    let index = Statistics::new(searcher);
    let settled_above = compile::settled_above(searcher.num_docs());
    let settled =
        |term: &tantivy::Term| index.doc_freq(term).is_ok_and(|docs| docs > settled_above);
    let known = |term: &tantivy::Term| index.doc_freq(term).is_ok_and(|docs| docs > 0);
    let Some(exact_all) = compile::compile(
        &user,
        layout,
        everywhere,
        Matching::Exact,
        &settled,
        &known,
        cache,
    ) else {
        return Ok(outcome);
    };
    let wanted = request.offset + request.limit;
    let blend = settings.blend;
    let cap = if prior.is_some() { blend.cap() } else { 1.0 };
    let ranker = Ranker {
        prior,
        score: move |facts: &collect::SegmentFacts, doc, text| {
            blend.score(text, facts.strength(doc))
        },
        cap,
        exhaustive: settings.exhaustive,
    };

    // Whole-name matches come first: they are exact matches too (a name is searchable), so
    // they are taken out of the exact ranking below and lead it. Between equal names a person
    // or a collection comes before a single track (the artist "Iron Maiden" before the song
    // "Iron Maiden", the album "Killers" before its title track), then the best prior.
    let mut named = Vec::new();
    // Whether the first entity named so was the only one of its kind (see `SearchOutcome::lead`).
    let mut alone = false;
    // Most texts name nothing: one lookup of the name spares a pass per kind.
    let names_something = compile::name_term(&user, layout).is_some_and(|term| known(&term));
    for kind in NAME_PRECEDENCE {
        if !names_something
            || named.len() >= wanted
            || request.kind.is_some_and(|only| only != kind)
        {
            continue;
        }
        let filters = Filters {
            kind: Some(kind),
            ..scoped
        };
        if let Some(query) = compile::whole_name(&user, layout, filters) {
            let n = wanted - named.len();
            // The first kind with such names is asked for two, to tell a lead from a tie.
            let first = named.is_empty();
            let asked = if first { n.max(2) } else { n };
            let ranking = collect::ranking(asked, ranker.prior.clone(), ranker.score);
            let mut found = index.search(&*query, &ranking)?;
            if first && !found.is_empty() {
                alone = found.len() == 1;
            }
            found.truncate(n);
            named.extend(found);
        }
    }
    let leader = named.first().map(|(_, address)| *address).filter(|_| alone);
    let exact_scoped = Scope::of(
        &user,
        layout,
        scoped,
        Matching::Exact,
        &settled,
        &known,
        cache,
    );
    let (mut counts, top) = count_and_rank(
        &index,
        &*exact_all,
        &exact_scoped,
        wanted + named.len(),
        ranker.clone(),
    )?;
    let mut ranked: Vec<(f32, tantivy::DocAddress, bool)> = (named.iter())
        .map(|(s, a)| (*s, *a, false))
        .chain(
            (top.into_iter())
                .filter(|(_, a)| !named.iter().any(|(_, n)| n == a))
                .map(|(s, a)| (s, a, false)),
        )
        .collect();
    ranked.truncate(wanted);

    if scope_total(&counts, request.kind) < settings.fuzzy_below as u64 {
        outcome.fuzzy = true;
        if let Some(fuzzy_all) = compile::compile(
            &user,
            layout,
            everywhere,
            Matching::Fuzzy,
            &settled,
            &known,
            cache,
        ) {
            let fill_all = compile::minus(fuzzy_all, exact_all.box_clone());
            let fill_scoped = match Scope::of(
                &user,
                layout,
                scoped,
                Matching::Fuzzy,
                &settled,
                &known,
                cache,
            ) {
                Scope::Other(fuzzy) => match exact_scoped {
                    Scope::Other(exact) => Scope::Other(compile::minus(fuzzy, exact)),
                    _ => Scope::Other(fuzzy),
                },
                other => other,
            };
            let still_wanted = wanted.saturating_sub(ranked.len());
            // Fill-ins are few, and their typo expansions are read once by scoring every
            // match and counting in the same pass, rather than once per pass.
            let every = Ranker {
                exhaustive: true,
                ..ranker.clone()
            };
            let pool = if still_wanted > 0 {
                still_wanted.max(FILL_IN_POOL)
            } else {
                0
            };
            let (fill_counts, top) = count_and_rank(&index, &*fill_all, &fill_scoped, pool, every)?;
            add(&mut counts, &fill_counts);
            let top = closest_first(searcher, layout, &request.text, top)?;
            ranked.extend(
                (top.into_iter())
                    .take(still_wanted)
                    .map(|(s, a)| (s, a, true)),
            );
        }
    }

    // A word the index has nowhere, not even one edit away, makes every result impossible
    // ("yor blue room"): the rest of the words are searched on their own, below what was
    // found with all of them.
    let relaxed = match without_absent_words(&user, layout, &known) {
        Some(text) if scope_total(&counts, request.kind) < settings.fuzzy_below as u64 => {
            let request = SearchRequest {
                text,
                offset: 0,
                limit: wanted,
                ..request.clone()
            };
            Some(search(
                searcher,
                layout,
                ranker.prior.clone(),
                settings,
                &request,
                cache,
            )?)
        }
        _ => None,
    };
    let (skip, take) = match relaxed {
        Some(_) => (0, wanted),
        None => (request.offset, request.limit),
    };
    for (score, address, fuzzy) in ranked.into_iter().skip(skip).take(take) {
        if let Some(stored) = collect::stored(searcher, layout, address)? {
            if outcome.hits.is_empty() {
                outcome.lead = request.offset == 0 && leader == Some(address);
            }
            let highlight = highlight(layout, &user, &stored, fuzzy);
            outcome.hits.push(Hit {
                key: stored.key,
                title: stored.title,
                subtitle: stored.subtitle,
                score,
                highlight,
                fuzzy,
                stored: stored.doc,
            });
        }
    }
    if let Some(relaxed) = relaxed {
        outcome.fuzzy = true;
        let before = outcome.hits.len();
        for hit in relaxed.hits {
            if !outcome.hits[..before].iter().any(|h| h.key == hit.key) {
                outcome.hits.push(Hit { fuzzy: true, ..hit });
            }
        }
        // The relaxed matches count too (an entity found both ways is rare here: this runs
        // only when the full text found almost nothing).
        for (total, kind) in counts.iter_mut().zip(EntityKind::ALL) {
            *total += relaxed.counts.get(&kind).copied().unwrap_or(0);
        }
        outcome.hits = (outcome.hits.into_iter())
            .skip(request.offset)
            .take(request.limit)
            .collect();
    }
    outcome.total = scope_total(&counts, request.kind);
    outcome.counts = EntityKind::ALL
        .iter()
        .zip(counts)
        .map(|(k, n)| (*k, n))
        .collect();
    Ok(outcome)
}

/// The order of kinds among entities whose whole name is the query: the broader answer first.
const NAME_PRECEDENCE: [EntityKind; 4] = [
    EntityKind::User,
    EntityKind::Playlist,
    EntityKind::Group,
    EntityKind::Track,
];

/// Fill-ins considered for their closeness to what was typed, however few are shown.
const FILL_IN_POOL: usize = 20;

/// Fill-ins ordered by how few edits turn what was typed into their title (fewer typos
/// first), then by blended score: among look-alikes the one the person was closest to typing
/// is the likelier meant, and the prior decides only between equally close ones.
fn closest_first(
    searcher: &Searcher,
    layout: &Layout,
    typed: &str,
    top: Vec<(f32, tantivy::DocAddress)>,
) -> tantivy::Result<Vec<(f32, tantivy::DocAddress)>> {
    let typed = schemas::analyzer::name_key(typed);
    let mut keyed = Vec::with_capacity(top.len());
    for (score, address) in top {
        let title = match collect::stored(searcher, layout, address)? {
            Some(stored) => schemas::analyzer::name_key(&stored.title),
            None => String::new(),
        };
        keyed.push((edit_distance(&typed, &title), score, address));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    Ok(keyed.into_iter().map(|(_, s, a)| (s, a)).collect())
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions as one edit),
/// over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The text without the words that no searchable field has, when there are such words and
/// others remain; `None` otherwise. Phrases and exclusions are kept as typed.
fn without_absent_words(
    user: &UserQuery,
    layout: &Layout,
    known: compile::Settled<'_>,
) -> Option<String> {
    let absent = |word: &String| {
        !layout.kinds.iter().flat_map(|k| &k.fields).any(|field| {
            let analyzer = compile::analyzer_of(&field.analyzer);
            (analyzer.analyze(word).first())
                .is_some_and(|token| known(&tantivy::Term::from_field_text(field.field, token)))
        })
    };
    let kept: Vec<&String> = user.words.iter().filter(|w| !absent(w)).collect();
    if kept.len() == user.words.len() || (kept.is_empty() && user.phrases.is_empty()) {
        return None;
    }
    let mut parts: Vec<String> = kept.into_iter().cloned().collect();
    parts.extend(user.phrases.iter().map(|p| format!("\"{p}\"")));
    parts.extend(user.excluded.iter().map(|e| {
        if e.contains(' ') {
            format!("-\"{e}\"")
        } else {
            format!("-{e}")
        }
    }));
    Some(parts.join(" "))
}

/// What the ranked results come from, beside the all-kinds query the counts come from.
enum Scope {
    /// The same query: no kind filter.
    Same,
    /// The kind's own query.
    Other(Box<dyn tantivy::query::Query>),
    /// The kind can match nothing.
    Nothing,
}

impl Scope {
    fn of(
        user: &UserQuery,
        layout: &Layout,
        filters: Filters<'_>,
        matching: Matching,
        settled: compile::Settled<'_>,
        known: compile::Settled<'_>,
        cache: Option<&Arc<ClauseCache>>,
    ) -> Scope {
        if filters.kind.is_none() {
            return Scope::Same;
        }
        compile::compile(user, layout, filters, matching, settled, known, cache)
            .map_or(Scope::Nothing, Scope::Other)
    }
}

/// How ranked results are scored: the prior (which the collector opens per segment, with its
/// memo), the blend of a document's text score with its strength, and the most the blend can
/// multiply a text score by (what lets the collector skip what cannot make the cut).
#[derive(Clone)]
struct Ranker<F> {
    prior: Option<Arc<dyn Prior>>,
    score: F,
    cap: f32,
    /// Score and count every match in one pass instead of pruning.
    exhaustive: bool,
}

/// Counts per kind of `all` and the best `n` of the scope.
///
/// When the text is made of frequent words only (their conjunction read from the clause cache,
/// see [`materialized`]), the matches are many and cheap to count: the best are found first,
/// best-first and pruned (scoring materializes the arrays), then counting reads the same arrays
/// without scoring. Otherwise the matches are bounded by a less frequent word's postings, and
/// one pass scores and counts every match (a second, counting pass would read the postings
/// again; typo expansions would be looked up again).
fn count_and_rank<F>(
    index: &Statistics<'_>,
    all: &dyn tantivy::query::Query,
    scope: &Scope,
    n: usize,
    ranker: Ranker<F>,
) -> tantivy::Result<(KindCounts, Vec<(f32, tantivy::DocAddress)>)>
where
    F: Fn(&collect::SegmentFacts, tantivy::DocId, f32) -> f32 + Send + Sync + 'static,
{
    let prune = !ranker.exhaustive
        && materialized(all)
        && match scope {
            Scope::Other(query) => materialized(&**query),
            _ => true,
        };
    if !prune {
        let ranking = |n| collect::ranking(n, ranker.prior, ranker.score);
        let (counts, mut top) = match scope {
            Scope::Same if n > 0 => index.search(all, &(CountByKind, ranking(n)))?,
            Scope::Other(query) if n > 0 => (
                index.search(all, &CountByKind)?,
                index.search(&**query, &ranking(n))?,
            ),
            _ => (index.search(all, &CountByKind)?, Vec::new()),
        };
        top.truncate(n);
        return Ok((counts, top));
    }
    let ranking = |n| TopBlended::new(n, ranker.cap, ranker.prior, ranker.score);
    let mut top = match scope {
        Scope::Same if n > 0 => index.search(all, &ranking(n))?,
        Scope::Other(query) if n > 0 => index.search(&**query, &ranking(n))?,
        _ => Vec::new(),
    };
    top.truncate(n);
    let counts = index.search(all, &CountByKind)?;
    Ok((counts, top))
}

fn scope_total(counts: &KindCounts, kind: Option<EntityKind>) -> u64 {
    match kind {
        Some(kind) => EntityKind::ALL
            .iter()
            .zip(counts)
            .find(|(k, _)| **k == kind)
            .map_or(0, |(_, n)| *n),
        None => counts.iter().sum(),
    }
}

fn add(total: &mut KindCounts, more: &KindCounts) {
    for (t, n) in total.iter_mut().zip(more) {
        *t += n;
    }
}

/// Whether `query`, or one of its groups, is a [`Cached`] clause (kept to its kinds): then its
/// matches are read from arrays, best first when ranking. A group whose words are not frequent
/// in its own fields reads its postings twice (ranking, counting), which their length bounds.
fn materialized(query: &dyn Query) -> bool {
    if query.is::<Cached>() {
        return true;
    }
    if let Some(groups) = query.downcast_ref::<KindGroups>() {
        return groups.groups().iter().any(|group| materialized(&**group));
    }
    query
        .downcast_ref::<KindFiltered>()
        .is_some_and(|filtered| materialized(filtered.inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use schemas::definition::Definitions;
    use schemas::row::EntityRow;
    use schemas::{EntityKey, Version};

    /// The shipped definitions with a `mood` keyword field added to tracks, as an operator
    /// would add one without a new binary.
    fn with_mood() -> Definitions {
        let sources: Vec<(&str, String)> = Definitions::builtin_sources()
            .iter()
            .map(|(file, text)| {
                let text = match *file {
                    "track.json" => text.replace(
                        "{ \"name\": \"genre\"",
                        "{ \"name\": \"mood\", \"type\": \"keyword\", \"stored\": true },\n    \
                         { \"name\": \"genre\"",
                    ),
                    _ => text.to_string(),
                };
                (*file, text)
            })
            .collect();
        let refs: Vec<(&str, &str)> = sources.iter().map(|(f, t)| (*f, t.as_str())).collect();
        Definitions::from_sources(&refs).expect("valid definitions")
    }

    /// Tracks called "Rain …" of several moods and genres, and a user called "Rain Song".
    fn catalog() -> (Searcher, Layout) {
        let defs = with_mood();
        let (index, mut writer) = crate::test_index::in_ram(&defs);
        let now = Utc::now();
        let tracks = [
            (1, "Rain Song", "calm", "Rock"),
            (2, "Rain Dance", "wild", "Rock"),
            (3, "Rain Again", " Calm ", "Jazz"),
            (4, "Rain Forever", "", "Jazz"),
        ];
        for (id, title, mood, genre) in tracks {
            let row = EntityRow::new(
                EntityKey::new(EntityKind::Track, id),
                Version::from_datetime(now),
                now,
            )
            .with("title", title)
            .with("mood", mood)
            .with("genre", genre);
            writer
                .add_document(defs.render(&row).expect("renders"))
                .expect("add");
        }
        let user = EntityRow::new(
            EntityKey::new(EntityKind::User, 1),
            Version::from_datetime(now),
            now,
        )
        .with("username", "rainsong")
        .with("full_name", "Rain Song");
        writer
            .add_document(defs.render(&user).expect("renders"))
            .expect("add");
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let layout = Layout::from_definitions(&defs).expect("layout");
        (searcher, layout)
    }

    fn found(
        searcher: &Searcher,
        layout: &Layout,
        text: &str,
        keywords: &[(&str, &str)],
    ) -> Vec<EntityKey> {
        let request = SearchRequest {
            text: text.to_string(),
            keywords: (keywords.iter())
                .map(|(field, value)| KeywordFilter::new(*field, *value))
                .collect(),
            limit: 10,
            ..SearchRequest::default()
        };
        let outcome = search(
            searcher,
            layout,
            None,
            &SearchSettings::default(),
            &request,
            None,
        )
        .expect("search");
        assert_eq!(
            outcome.total,
            outcome.hits.len() as u64,
            "{text} {keywords:?}"
        );
        let mut keys: Vec<EntityKey> = outcome.hits.into_iter().map(|h| h.key).collect();
        keys.sort();
        keys
    }

    fn tracks(ids: &[i64]) -> Vec<EntityKey> {
        ids.iter()
            .map(|id| EntityKey::new(EntityKind::Track, *id))
            .collect()
    }

    #[test]
    fn a_filter_on_an_added_keyword_field_narrows_the_results() {
        let (searcher, layout) = catalog();
        assert_eq!(layout.filterable_names(), ["genre", "mood"]);
        assert_eq!(found(&searcher, &layout, "rain", &[]).len(), 5);
        assert_eq!(
            found(&searcher, &layout, "rain", &[("mood", "calm")]),
            tracks(&[1, 3])
        );
        assert_eq!(
            found(&searcher, &layout, "rain", &[("mood", "CALM ")]),
            tracks(&[1, 3])
        );
        assert_eq!(
            found(&searcher, &layout, "rain", &[("genre", "jazz")]),
            tracks(&[3, 4])
        );
        assert_eq!(
            found(
                &searcher,
                &layout,
                "rain",
                &[("mood", "calm"), ("genre", "jazz")]
            ),
            tracks(&[3]),
            "every filter must match"
        );
        assert!(found(&searcher, &layout, "rain", &[("mood", "sad")]).is_empty());
        // The whole-name tier is filtered too: the user and track "Rain Song" have no mood
        // `wild`, and fuzzy fill-ins stay within the filter.
        assert!(found(&searcher, &layout, "rain song", &[("mood", "wild")]).is_empty());
        assert_eq!(
            found(&searcher, &layout, "rian", &[("mood", "wild")]),
            tracks(&[2])
        );
    }

    /// Searches `text` in the shipped definitions' index of `rows`: the outcome.
    fn outcome_of(rows: &[EntityRow], text: &str, offset: usize) -> SearchOutcome {
        let defs = Definitions::builtin();
        let (index, mut writer) = crate::test_index::in_ram(&defs);
        for row in rows {
            writer
                .add_document(defs.render(row).expect("renders"))
                .expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let layout = Layout::from_definitions(&defs).expect("layout");
        let request = SearchRequest {
            text: text.to_string(),
            limit: 10,
            offset,
            ..SearchRequest::default()
        };
        search(
            &searcher,
            &layout,
            None,
            &SearchSettings::default(),
            &request,
            None,
        )
        .expect("search")
    }

    fn row(kind: EntityKind, id: i64, fields: &[(&str, &str)]) -> EntityRow {
        let now = Utc::now();
        fields.iter().fold(
            EntityRow::new(EntityKey::new(kind, id), Version::from_datetime(now), now),
            |row, (field, value)| row.with(field, *value),
        )
    }

    #[test]
    fn a_whole_name_alone_of_its_kind_leads_and_a_tie_or_a_vague_query_does_not() {
        let artist = row(
            EntityKind::User,
            1,
            &[("username", "maiden"), ("full_name", "Iron Maiden")],
        );
        let song = row(
            EntityKind::Track,
            2,
            &[("title", "Iron Maiden"), ("owner_full_name", "Iron Maiden")],
        );
        let other = row(
            EntityKind::Track,
            3,
            &[("title", "Iron Horse"), ("owner_full_name", "Someone")],
        );
        let rows = [artist, song, other];
        let found = outcome_of(&rows, "iron maiden", 0);
        assert_eq!(found.hits[0].key, EntityKey::new(EntityKind::User, 1));
        assert!(
            found.lead,
            "the artist leads over the song of the same name"
        );
        assert!(
            found.hits[0]
                .stored
                .get_first(Definitions::builtin().system().id)
                .is_some(),
            "hits carry their stored document"
        );
        assert!(
            !outcome_of(&rows, "iron maiden", 1).lead,
            "only on the first page"
        );
        assert!(!outcome_of(&rows, "iron", 0).lead, "no whole name, no lead");

        let namesake = row(
            EntityKind::User,
            4,
            &[("username", "maiden2"), ("full_name", "Iron Maiden")],
        );
        let tied = [rows[0].clone(), rows[1].clone(), namesake];
        let found = outcome_of(&tied, "iron maiden", 0);
        assert_eq!(found.hits[0].key.kind, EntityKind::User);
        assert!(!found.lead, "two people of the same name: a tie");
    }

    #[test]
    fn a_field_that_is_not_filterable_matches_nothing() {
        let (searcher, layout) = catalog();
        for field in ["nosuch", "title", "likes", "kind"] {
            assert!(layout.filterable(field).is_none(), "{field}");
            assert!(
                found(&searcher, &layout, "rain", &[(field, "rain")]).is_empty(),
                "{field}"
            );
        }
        let builtin = Layout::from_definitions(&Definitions::builtin()).expect("layout");
        assert!(
            builtin.filterable("mood").is_none(),
            "only where the definitions have it"
        );
    }
}
