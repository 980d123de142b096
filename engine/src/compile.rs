//! From what a person typed to a tantivy query, built by hand (no query parser, so nothing
//! typed can be a syntax error).
//!
//! The kinds asked for are split into groups whose shared fields carry one boost; for each
//! group, one clause: every word AND every phrase, each matched in any of the group's searchable
//! fields with that field's boost, NOT any excluded word, kept to the group's kinds when other
//! kinds share its fields; the clauses are OR-ed. A document carries only its own kind's fields,
//! so this scores exactly as one clause per kind would, with each postings list walked once per
//! group rather than once per kind.
//!
//! A word is analyzed with each field's own analyzer. The analyzers emit variants of one word at
//! one position (`P!nk` → `p!nk`, `pink`) and the parts of a word at the following positions
//! (`AC/DC` → `ac/dc`, `acdc`, `ac` | `dc`), so a word matches when, at every position, one of
//! its variants does. In [`Matching::Fuzzy`] the typed form at each position may be 1 edit away
//! (2 for words of 8+ characters; words under 4 characters stay exact), never in its first
//! letter ([`FirstLetterFuzzy`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::IndexRecordOption;

use schemas::EntityKind;
use schemas::analyzer::Analyzer;

use crate::cached::{Cached, ClauseCache};
use crate::fuzzy::{FirstLetterFuzzy, TypoAutomaton};
use crate::language::UserQuery;
use crate::layout::{KindFields, Layout, SearchField};
use crate::restrict::{KindFiltered, KindGroups};
use crate::union::SeekingUnion;

/// How many words, phrases and exclusions of one query are used; the rest are ignored (a query
/// is at most 256 characters, and nobody means 100 words).
pub const MAX_TERMS: usize = 32;

/// Exact matching, or the typo-tolerant variant that fills in when exact finds little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    Exact,
    /// Typed words may be off by [`fuzzy_distance`] edits, except those [`Settled`].
    Fuzzy,
}

/// Whether the index has a term in so many documents that a person typing it meant it: fuzzy
/// matching leaves such words as typed, as Lucene's spell checker does for words above its
/// `maxQueryFrequency`. Correcting "cover" or "remix" only adds look-alike words ("clover"),
/// and walking every name field's term dictionary for each common word of a long title is what
/// made typo tolerance the slowest part of a search.
pub type Settled<'a> = &'a dyn Fn(&Term) -> bool;

/// The documents (the larger of 1% of the index and 100) a word must appear in, in some field,
/// to be [`Settled`].
pub fn settled_above(num_docs: u64) -> u64 {
    (num_docs / 100).max(100)
}

/// The edit distance a word of `chars` characters may be off by in fuzzy matching.
pub fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The length of a word that is left as typed unless the index has it nowhere (see
/// [`fuzzy_distance`], which gives it no edits).
pub const SHORT_TYPO_CHARS: usize = 3;

/// Only documents whose keyword field `field` has `value` (analyzed like the field, so
/// `Hip-Hop` and ` hip-hop ` are one value): `/search?genre=Jazz`, `/search?mood=calm`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KeywordFilter {
    /// A filterable field of the layout ([`Layout::filterable`]).
    pub field: String,
    pub value: String,
}

impl KeywordFilter {
    pub fn new(field: impl Into<String>, value: impl Into<String>) -> Self {
        KeywordFilter {
            field: field.into(),
            value: value.into(),
        }
    }
}

/// The filters of a search besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    /// Only these kinds (all kinds when `None`).
    pub kind: Option<EntityKind>,
    /// Only documents matching every one of these (AND). A filter on a field the layout cannot
    /// filter on matches nothing: callers check [`Layout::filterable`] first to say why.
    pub keywords: &'a [KeywordFilter],
}

/// The query for `user` over `layout`, or `None` when it can match nothing (nothing positive
/// survives analysis, or a keyword filter names no term).
///
/// Exact matching builds one clause per group of kinds that agree on their shared fields'
/// boosts (each kind's own boosts). Fuzzy matching builds one clause over the union of the
/// kinds' name-like fields (each at its highest boost, see [`fuzzy_fields`]): fuzzy
/// terms score a constant anyway, and walking each field's term dictionary once rather than
/// once per kind is what keeps typo tolerance cheap.
pub fn compile(
    user: &UserQuery,
    layout: &Layout,
    filters: Filters<'_>,
    matching: Matching,
    settled: Settled<'_>,
    known: Settled<'_>,
    cache: Option<&Arc<ClauseCache>>,
) -> Option<Box<dyn Query>> {
    let narrowed = keyword_clause(layout, filters.keywords).ok()?;
    let kinds: Vec<&KindFields> = layout
        .kinds
        .iter()
        .filter(|k| filters.kind.is_none_or(|only| only == k.kind))
        .collect();
    let typos;
    let (groups, form) = match matching {
        Matching::Exact => (agreeing_groups(&kinds), Form::Word(None)),
        Matching::Fuzzy => {
            let fields = fuzzy_fields(&kinds);
            typos = typo_automata(typo_candidates(user, &fields, settled, known));
            if typos.is_empty() {
                // Every word is settled: the typo-tolerant query would find what exact did.
                return None;
            }
            (vec![(kinds.clone(), fields)], Form::Word(Some(&typos)))
        }
    };
    let mut clauses: Vec<Box<dyn Query>> = Vec::new();
    for (members, fields) in groups {
        let filtered = narrowed.is_some();
        let frequent = match form {
            Form::Word(typos) => Some(Frequent {
                settled,
                typos,
                cache,
            }),
            Form::Phrase => None,
        };
        if let Some(text) = text_clause(user, &fields, form, filtered, frequent) {
            let mut parts = vec![(Occur::Must, text)];
            if let Some(narrowed) = &narrowed {
                parts.push((Occur::Must, narrowed.box_clone()));
            }
            clauses.push(restrict(layout, &members, one_or_all(parts)));
        }
    }
    // No tombstone exclusion: a tombstone carries only identity and version (see
    // `schemas::document`), never a searchable or keyword field, so text cannot match one.
    // The groups keep to disjoint kinds: collectors read them one after another.
    match clauses.len() {
        0 => None,
        1 => clauses.pop(),
        _ => Some(Box::new(KindGroups::new(clauses))),
    }
}

/// The kinds partitioned so that, within a group, every field has one boost: one clause per
/// group scores exactly as one clause per kind would (a document carries only its own kind's
/// fields), while walking each field's postings once per group instead of once per kind.
/// With the shipped definitions that is two groups (groups weigh `description` differently).
fn agreeing_groups<'k>(kinds: &[&'k KindFields]) -> Vec<(Vec<&'k KindFields>, Vec<SearchField>)> {
    let mut groups: Vec<(Vec<&'k KindFields>, Vec<SearchField>)> = Vec::new();
    for kind in kinds {
        let agrees = |fields: &[SearchField]| {
            kind.fields.iter().all(|f| {
                fields
                    .iter()
                    .all(|g| g.field != f.field || g.boost == f.boost)
            })
        };
        match groups.iter_mut().find(|(_, fields)| agrees(fields)) {
            Some((members, fields)) => {
                members.push(kind);
                for f in &kind.fields {
                    if !fields.iter().any(|g| g.field == f.field) {
                        fields.push(f.clone());
                    }
                }
            }
            None => groups.push((vec![kind], kind.fields.clone())),
        }
    }
    groups
}

/// `clause` kept to the group's kinds: as it is when the group is every kind of the index,
/// else filtered by each document's kind (see [`KindFiltered`]).
fn restrict(layout: &Layout, members: &[&KindFields], clause: Box<dyn Query>) -> Box<dyn Query> {
    let every_kind = layout
        .kinds
        .iter()
        .all(|k| members.iter().any(|m| m.kind == k.kind));
    if every_kind {
        return clause;
    }
    let kinds: Vec<EntityKind> = members.iter().map(|m| m.kind).collect();
    Box::new(KindFiltered::new(clause, &kinds))
}

/// The fields typos are forgiven in: names, titles, tags and places, each once at the highest
/// boost any kind gives it. Not prose (`description`): its vocabulary is the largest to walk
/// with a Levenshtein automaton, and a near-miss of a word somewhere in a description is noise
/// rather than what the person meant.
fn fuzzy_fields(kinds: &[&KindFields]) -> Vec<SearchField> {
    let mut fields = merged_fields(kinds);
    fields.retain(|f| analyzer_of(&f.analyzer) != Analyzer::Text);
    fields
}

/// Every field of `kinds` once, at the highest boost any of them gives it.
fn merged_fields(kinds: &[&KindFields]) -> Vec<SearchField> {
    let mut merged: Vec<SearchField> = Vec::new();
    for field in kinds.iter().flat_map(|k| &k.fields) {
        match merged.iter_mut().find(|m| m.field == field.field) {
            Some(m) => m.boost = m.boost.max(field.boost),
            None => merged.push(field.clone()),
        }
    }
    merged
}

/// Every live (non-tombstone) document of `kind` matching `keywords` (Explore's genre), all
/// scoring 0: Explore's candidate set. `None` when a filter can match nothing.
pub fn every(
    layout: &Layout,
    kind: EntityKind,
    keywords: &[KeywordFilter],
) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, kind_filter(layout, &[kind]))];
    if let Some(narrowed) = keyword_clause(layout, keywords).ok()? {
        clauses.push((Occur::Must, narrowed));
    }
    clauses.push((Occur::MustNot, tombstones(layout)));
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The documents whose whole name (`name_key`) is what was typed, within `filters`: a person who
/// types a name means that entity before anything that merely mentions the same words (an
/// artist's tracks carry the artist's name too). `None` when the index has no name keys, when
/// the text is not one plain name (several phrases, words and a phrase, exclusions), or when
/// nothing of it survives analysis.
pub fn whole_name(
    user: &UserQuery,
    layout: &Layout,
    filters: Filters<'_>,
) -> Option<Box<dyn Query>> {
    let named: Box<dyn Query> = Box::new(TermQuery::new(
        name_term(user, layout)?,
        IndexRecordOption::Basic,
    ));
    let mut parts = vec![(Occur::Must, named)];
    if let Some(kind) = filters.kind {
        parts.push((Occur::Must, kind_filter(layout, &[kind])));
    }
    if let Some(narrowed) = keyword_clause(layout, filters.keywords).ok()? {
        parts.push((Occur::Must, narrowed));
    }
    Some(one_or_all(parts))
}

/// The name key [`whole_name`] looks for: `None` when the index has no name keys or the text is
/// not one plain name (several phrases, words and a phrase, exclusions, nothing left of it).
pub fn name_term(user: &UserQuery, layout: &Layout) -> Option<Term> {
    let field = layout.name_key?;
    if !user.excluded.is_empty() {
        return None;
    }
    let text = match (user.words.as_slice(), user.phrases.as_slice()) {
        (words, []) if !words.is_empty() => words.join(" "),
        ([], [phrase]) => phrase.clone(),
        _ => return None,
    };
    let key = schemas::analyzer::name_key(&text);
    (!key.is_empty()).then(|| Term::from_field_text(field, &key))
}

/// `a AND NOT b`: the fuzzy fill-ins that exact matching did not already find.
pub fn minus(a: Box<dyn Query>, b: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, a),
        (Occur::MustNot, b),
    ]))
}

fn tombstones(layout: &Layout) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_u64(layout.tombstone, 1),
        IndexRecordOption::Basic,
    ))
}

/// Documents of any of `kinds`, scoring nothing.
fn kind_filter(layout: &Layout, kinds: &[EntityKind]) -> Box<dyn Query> {
    let any: Vec<(Occur, Box<dyn Query>)> = kinds
        .iter()
        .map(|kind| (Occur::Should, kind_term(layout, *kind)))
        .collect();
    Box::new(ConstScoreQuery::new(one_or_all(any), 0.0))
}

fn kind_term(layout: &Layout, kind: EntityKind) -> Box<dyn Query> {
    let term = Term::from_field_text(layout.kind, kind.as_str());
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// A keyword filter that can match nothing: its field is not filterable in the layout, or its
/// value analyzes to no term.
#[derive(Debug)]
struct Unmatchable;

/// The documents matching every one of `keywords`, scoring nothing; `Ok(None)` when there are
/// none to match.
fn keyword_clause(
    layout: &Layout,
    keywords: &[KeywordFilter],
) -> Result<Option<Box<dyn Query>>, Unmatchable> {
    if keywords.is_empty() {
        return Ok(None);
    }
    let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(keywords.len());
    for filter in keywords {
        let field = layout.filterable(&filter.field).ok_or(Unmatchable)?;
        let token = (analyzer_of(&field.analyzer).analyze(&filter.value))
            .into_iter()
            .next()
            .ok_or(Unmatchable)?;
        let term = Term::from_field_text(field.field, &token);
        all.push((
            Occur::Must,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    Ok(Some(Box::new(ConstScoreQuery::new(one_or_all(all), 0.0))))
}

/// The typed forms (first variant at each position) of `user`'s words, as analyzed for
/// `fields`, that are long enough to carry a typo and not [`Settled`] in any of `fields`.
fn typo_candidates(
    user: &UserQuery,
    fields: &[SearchField],
    settled: Settled<'_>,
    known: Settled<'_>,
) -> HashSet<String> {
    let mut candidates = HashSet::new();
    let mut checked = HashSet::new();
    for word in user.words.iter().take(MAX_TERMS) {
        for field in fields {
            for variants in positions(&analyzer_of(&field.analyzer), word) {
                let Some(typed) = variants.into_iter().next() else {
                    continue;
                };
                // Each typed form is looked up once, however many fields analyze to it.
                if !checked.insert(typed.clone()) {
                    continue;
                }
                let chars = typed.chars().count();
                if fuzzy_distance(chars) == 0 {
                    // A short word is left as typed unless the index has it nowhere: then it
                    // is a typo ("lov", "yor") and one edit is what it can be off by.
                    let absent = chars == SHORT_TYPO_CHARS
                        && !fields
                            .iter()
                            .any(|f| known(&Term::from_field_text(f.field, &typed)));
                    if absent {
                        candidates.insert(typed);
                    }
                    continue;
                }
                if !fields
                    .iter()
                    .any(|f| settled(&Term::from_field_text(f.field, &typed)))
                {
                    candidates.insert(typed);
                }
            }
        }
    }
    candidates
}

/// The typed forms a query forgives typos in, each with its automaton (built once, shared by
/// every field the form is looked up in).
type Typos = HashMap<String, TypoAutomaton>;

/// Each candidate's automaton, at the distance its length allows (at least one edit: a short
/// candidate is one the index has nowhere).
fn typo_automata(candidates: HashSet<String>) -> Typos {
    candidates
        .into_iter()
        .filter_map(|typed| {
            let distance = fuzzy_distance(typed.chars().count()).max(1);
            let automaton = TypoAutomaton::new(&typed, distance).ok()?;
            Some((typed, automaton))
        })
        .collect()
}

/// Every word and phrase in some field of `fields`, no exclusion in any. `filtered`: the
/// clause is intersected with a filter too.
///
/// When a word is one of several required parts, its any-field union is a [`SeekingUnion`]:
/// the intersection seeks into it, and tantivy's buffered union pays for a 4,096-document
/// window on every seek. A lone word is read whole, which the buffered union does best.
fn text_clause(
    user: &UserQuery,
    fields: &[SearchField],
    form: Form<'_>,
    filtered: bool,
    frequent: Option<Frequent<'_>>,
) -> Option<Box<dyn Query>> {
    // Each required word or phrase in every field, and the frequent words among them (by
    // text, so that the same words in another order are the same conjunction).
    let mut required: Vec<Vec<Box<dyn Query>>> = Vec::new();
    let mut frequent_words: Vec<(&str, Vec<Box<dyn Query>>)> = Vec::new();
    let mut budget = MAX_TERMS;
    for word in user.words.iter().take(budget) {
        let per_field = any_field(fields, word, form);
        if per_field.is_empty() {
            continue;
        }
        match &frequent {
            Some(f) if f.holds(fields, word) => frequent_words.push((word, per_field)),
            _ => required.push(per_field),
        }
    }
    budget = budget.saturating_sub(user.words.len());
    for phrase in user.phrases.iter().take(budget) {
        required.push(any_field(fields, phrase, Form::Phrase));
    }
    required.retain(|per_field| !per_field.is_empty());
    if required.is_empty() && frequent_words.is_empty() {
        return None;
    }
    let seeking = filtered || required.len() + frequent_words.len() > 1;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = required
        .into_iter()
        .map(|per_field| (Occur::Must, union(per_field, seeking)))
        .collect();
    if let Some(frequent) = &frequent
        && !frequent_words.is_empty()
    {
        // The frequent words are one conjunction, with or without a cache, so that scores are
        // summed in the same order either way. With a cache, each word is materialized on its
        // own and so is their conjunction: "of the" is read as one array of its matches, not
        // by seeking through two long ones.
        frequent_words.sort_by(|a, b| a.0.cmp(b.0));
        let cached = |query: Box<dyn Query>| match frequent.cache {
            Some(cache) => Box::new(Cached::new(query, cache.clone())) as Box<dyn Query>,
            None => query,
        };
        let words: Vec<(Occur, Box<dyn Query>)> = frequent_words
            .into_iter()
            .map(|(_, per_field)| (Occur::Must, cached(union(per_field, seeking))))
            .collect();
        let all = match words.len() {
            1 => one_or_all(words),
            _ => cached(one_or_all(words)),
        };
        clauses.insert(0, (Occur::Must, all));
    }
    budget = budget.saturating_sub(user.phrases.len());
    for excluded in user.excluded.iter().take(budget) {
        let per_field = any_field(fields, excluded, Form::Phrase);
        if !per_field.is_empty() {
            clauses.push((Occur::MustNot, union(per_field, true)));
        }
    }
    Some(one_or_all(clauses))
}

/// Which words are frequent enough to be read from the [`ClauseCache`]: those [`Settled`] in
/// some field, the words whose postings are long enough that reading them is what a search
/// costs.
/// Words matched with typos are never cached: their expansions recur less than words do.
struct Frequent<'a> {
    settled: Settled<'a>,
    /// The typed forms this query forgives typos in.
    typos: Option<&'a Typos>,
    /// Where frequent words and their conjunction are materialized (none: read directly).
    cache: Option<&'a Arc<ClauseCache>>,
}

impl Frequent<'_> {
    fn holds(&self, fields: &[SearchField], word: &str) -> bool {
        let per_field: Vec<(&SearchField, Vec<Vec<String>>)> = fields
            .iter()
            .map(|field| (field, positions(&analyzer_of(&field.analyzer), word)))
            .collect();
        let typo = |typed: &String| self.typos.is_some_and(|t| t.contains_key(typed));
        let forgiven = per_field
            .iter()
            .flat_map(|(_, positions)| positions.iter().filter_map(|v| v.first()))
            .any(typo);
        !forgiven
            && per_field.iter().any(|(field, positions)| {
                positions
                    .iter()
                    .flatten()
                    .any(|variant| (self.settled)(&Term::from_field_text(field.field, variant)))
            })
    }
}

/// Any of `clauses`, summing their scores: a [`SeekingUnion`] when it will be seeked into.
fn union(mut clauses: Vec<Box<dyn Query>>, seeking: bool) -> Box<dyn Query> {
    match clauses.len() {
        1 => clauses.pop().unwrap_or_else(|| Box::new(EmptyQuery)),
        _ if seeking => Box::new(SeekingUnion::new(clauses)),
        _ => Box::new(BooleanQuery::new(
            clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

/// How a piece of the query matches: a word (with the typed forms to forgive typos in), or a
/// phrase (always exact).
#[derive(Clone, Copy)]
enum Form<'a> {
    Word(Option<&'a Typos>),
    Phrase,
}

/// `text` in each of `fields` that it analyzes to something in, with the field's boost.
fn any_field(fields: &[SearchField], text: &str, form: Form<'_>) -> Vec<Box<dyn Query>> {
    let mut per_field: Vec<Box<dyn Query>> = Vec::new();
    for field in fields {
        let positions = positions(&analyzer_of(&field.analyzer), text);
        let query = match form {
            Form::Word(typos) => word_query(field, &positions, typos),
            Form::Phrase => phrase_query(field, &positions),
        };
        if let Some(query) = query {
            per_field.push(Box::new(BoostQuery::new(query, field.boost)));
        }
    }
    per_field
}

/// The analyzed tokens of `text`, grouped by position; the first at each is the typed form.
fn positions(analyzer: &Analyzer, text: &str) -> Vec<Vec<String>> {
    let mut by_position: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for token in analyzer.tokens(text) {
        let variants = by_position.entry(token.position).or_default();
        if !variants.contains(&token.text) {
            variants.push(token.text);
        }
    }
    by_position.into_values().collect()
}

/// Every position of a word, each by any of its variants; a typed form in `typos` may be off
/// by [`fuzzy_distance`] edits.
fn word_query(
    field: &SearchField,
    positions: &[Vec<String>],
    typos: Option<&Typos>,
) -> Option<Box<dyn Query>> {
    let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for variants in positions {
        let mut any: Vec<Box<dyn Query>> = Vec::new();
        for (i, variant) in variants.iter().enumerate() {
            let typo = typos.filter(|_| i == 0).and_then(|t| t.get(variant));
            let query: Box<dyn Query> = match typo {
                Some(automaton) => Box::new(FirstLetterFuzzy::new(field.field, automaton.clone())),
                None => Box::new(TermQuery::new(
                    Term::from_field_text(field.field, variant),
                    IndexRecordOption::WithFreqs,
                )),
            };
            any.push(query);
        }
        if !any.is_empty() {
            // Variants sit inside the word's and the query's intersections: seeked into.
            all.push((Occur::Must, union(any, true)));
        }
    }
    (!all.is_empty()).then(|| one_or_all(all))
}

fn phrase_query(field: &SearchField, positions: &[Vec<String>]) -> Option<Box<dyn Query>> {
    let typed: Vec<(usize, Term)> = positions
        .iter()
        .enumerate()
        .filter_map(|(offset, variants)| {
            Some((
                offset,
                Term::from_field_text(field.field, variants.first()?),
            ))
        })
        .collect();
    match typed.len() {
        0 => None,
        1 => word_query(field, &positions[..1], None),
        _ if field.positions => Some(Box::new(PhraseQuery::new_with_offset(typed))),
        // Without positions a phrase can only mean "all of these words".
        _ => word_query(field, positions, None),
    }
}

/// A boolean query, or its only clause when there is one (same matches, less work).
fn one_or_all(mut clauses: Vec<(Occur, Box<dyn Query>)>) -> Box<dyn Query> {
    if clauses.len() == 1
        && let Some((_, query)) = clauses.pop()
    {
        return query;
    }
    Box::new(BooleanQuery::new(clauses))
}

/// The analyzer registered under `name`; names come from the index schema, which the schemas
/// crate validated, so an unknown one is a programming mistake and analyzes as prose.
pub(crate) fn analyzer_of(name: &str) -> Analyzer {
    name.parse().unwrap_or(Analyzer::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_distance_follows_word_length() {
        assert_eq!(fuzzy_distance(3), 0);
        assert_eq!(fuzzy_distance(4), 1);
        assert_eq!(fuzzy_distance(7), 1);
        assert_eq!(fuzzy_distance(8), 2);
    }

    #[test]
    fn words_group_variants_by_position() {
        let p = positions(&Analyzer::Name, "AC/DC");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0][0], "ac/dc");
        assert!(p[0].contains(&"acdc".to_string()));
        assert_eq!(p[1], ["dc"]);
        assert!(positions(&Analyzer::Name, "!!!").is_empty());
    }
}
