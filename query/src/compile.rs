//! From what a person typed to a tantivy query, built by hand (no query parser, so nothing
//! typed can be a syntax error).
//!
//! For each kind asked for, one clause: the kind's term (scoring nothing) AND every word AND
//! every phrase, each matched in any of the kind's searchable fields with that field's boost,
//! and NOT any excluded word; the clauses are OR-ed and tombstones are cut out.
//!
//! A word is analyzed with each field's own analyzer. The analyzers emit variants of one word at
//! one position (`P!nk` → `p!nk`, `pink`) and the parts of a word at the following positions
//! (`AC/DC` → `ac/dc`, `acdc`, `ac` | `dc`), so a word matches when, at every position, one of
//! its variants does. In [`Matching::Fuzzy`] the typed form at each position may be 1 edit away
//! (2 for words of 8+ characters; words under 4 characters stay exact).

use std::collections::BTreeMap;

use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::IndexRecordOption;

use schemas::EntityKind;
use schemas::analyzer::Analyzer;

use crate::language::UserQuery;
use crate::layout::{KindFields, Layout, SearchField};

/// How many words, phrases and exclusions of one query are used; the rest are ignored (a query
/// is at most 256 characters, and nobody means 100 words).
pub const MAX_TERMS: usize = 32;

/// Exact matching, or the typo-tolerant variant that fills in when exact finds little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    Exact,
    Fuzzy,
}

/// The edit distance a word of `chars` characters may be off by in fuzzy matching.
pub fn fuzzy_distance(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The filters of a search besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    /// Only these kinds (all kinds when `None`).
    pub kind: Option<EntityKind>,
    /// Only documents with this genre (analyzed like the genre field).
    pub genre: Option<&'a str>,
}

/// The query for `user` over `layout`, or `None` when it can match nothing (nothing positive
/// survives analysis, or the genre filter names no term).
///
/// Exact matching builds one clause per kind, with that kind's own boosts. Fuzzy matching
/// builds one clause over the union of the kinds' fields (each at its highest boost): fuzzy
/// terms score a constant anyway, and walking each field's term dictionary once rather than
/// once per kind is what keeps typo tolerance cheap.
pub fn compile(
    user: &UserQuery,
    layout: &Layout,
    filters: Filters<'_>,
    matching: Matching,
) -> Option<Box<dyn Query>> {
    let genre = match filters.genre {
        Some(genre) => Some(genre_clause(layout, genre)?),
        None => None,
    };
    let kinds: Vec<&KindFields> = layout
        .kinds
        .iter()
        .filter(|k| filters.kind.is_none_or(|only| only == k.kind))
        .collect();
    let groups: Vec<(Box<dyn Query>, Vec<SearchField>)> = match matching {
        Matching::Exact => kinds
            .iter()
            .map(|k| (kind_filter(layout, &[k.kind]), k.fields.clone()))
            .collect(),
        Matching::Fuzzy => {
            let all: Vec<EntityKind> = kinds.iter().map(|k| k.kind).collect();
            vec![(kind_filter(layout, &all), merged_fields(&kinds))]
        }
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (kind, fields) in groups {
        if let Some(text) = text_clause(user, &fields, matching) {
            let mut parts = vec![(Occur::Must, text), (Occur::Must, kind)];
            if let Some(genre) = &genre {
                parts.push((Occur::Must, genre.box_clone()));
            }
            clauses.push((Occur::Should, Box::new(BooleanQuery::new(parts))));
        }
    }
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(vec![
        (Occur::Must, one_or_all(clauses)),
        (Occur::MustNot, tombstones(layout)),
    ])))
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

/// Every live (non-tombstone) document of `kind`, optionally of one genre, all scoring 0:
/// Explore's candidate set.
pub fn every(layout: &Layout, kind: EntityKind, genre: Option<&str>) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, kind_filter(layout, &[kind]))];
    if let Some(genre) = genre {
        clauses.push((Occur::Must, genre_clause(layout, genre)?));
    }
    clauses.push((Occur::MustNot, tombstones(layout)));
    Some(Box::new(BooleanQuery::new(clauses)))
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
        .map(|kind| {
            let term = Term::from_field_text(layout.kind, kind.as_str());
            let query: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
            (Occur::Should, query)
        })
        .collect();
    Box::new(ConstScoreQuery::new(one_or_all(any), 0.0))
}

fn genre_clause(layout: &Layout, genre: &str) -> Option<Box<dyn Query>> {
    let (field, analyzer) = layout.genre.as_ref()?;
    let token = analyzer_of(analyzer).analyze(genre).into_iter().next()?;
    let term = TermQuery::new(
        Term::from_field_text(*field, &token),
        IndexRecordOption::Basic,
    );
    Some(Box::new(ConstScoreQuery::new(Box::new(term), 0.0)))
}

/// Every word and phrase in some field of `fields`, no exclusion in any.
fn text_clause(
    user: &UserQuery,
    fields: &[SearchField],
    matching: Matching,
) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut budget = MAX_TERMS;
    for word in user.words.iter().take(budget) {
        if let Some(q) = any_field(fields, word, Form::Word(matching)) {
            clauses.push((Occur::Must, q));
        }
    }
    budget = budget.saturating_sub(user.words.len());
    for phrase in user.phrases.iter().take(budget) {
        if let Some(q) = any_field(fields, phrase, Form::Phrase) {
            clauses.push((Occur::Must, q));
        }
    }
    if clauses.is_empty() {
        return None;
    }
    budget = budget.saturating_sub(user.phrases.len());
    for excluded in user.excluded.iter().take(budget) {
        if let Some(q) = any_field(fields, excluded, Form::Phrase) {
            clauses.push((Occur::MustNot, q));
        }
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

#[derive(Clone, Copy)]
enum Form {
    Word(Matching),
    Phrase,
}

/// `text` in any of `fields`, each with its boost; `None` if it analyzes to nothing everywhere.
fn any_field(fields: &[SearchField], text: &str, form: Form) -> Option<Box<dyn Query>> {
    let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for field in fields {
        let positions = positions(&analyzer_of(&field.analyzer), text);
        let query = match form {
            Form::Word(matching) => word_query(field, &positions, matching),
            Form::Phrase => phrase_query(field, &positions),
        };
        if let Some(query) = query {
            per_field.push((Occur::Should, Box::new(BoostQuery::new(query, field.boost))));
        }
    }
    (!per_field.is_empty()).then(|| Box::new(BooleanQuery::new(per_field)) as Box<dyn Query>)
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

fn word_query(
    field: &SearchField,
    positions: &[Vec<String>],
    matching: Matching,
) -> Option<Box<dyn Query>> {
    let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for variants in positions {
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (i, variant) in variants.iter().enumerate() {
            let term = Term::from_field_text(field.field, variant);
            let distance = fuzzy_distance(variant.chars().count());
            let query: Box<dyn Query> = if matching == Matching::Fuzzy && i == 0 && distance > 0 {
                Box::new(FuzzyTermQuery::new(term, distance, true))
            } else {
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
            };
            any.push((Occur::Should, query));
        }
        if !any.is_empty() {
            all.push((Occur::Must, one_or_all(any)));
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
        1 => word_query(field, &positions[..1], Matching::Exact),
        _ if field.positions => Some(Box::new(PhraseQuery::new_with_offset(typed))),
        // Without positions a phrase can only mean "all of these words".
        _ => word_query(field, positions, Matching::Exact),
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
