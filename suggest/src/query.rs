//! What a person typed, normalised like the keys, with the typo budget its length earns.

use crate::normalize::query_text;

/// A normalised query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    /// Folded and space-normalised like the keys.
    pub key: String,
    /// The first character, never edited by typo matching.
    pub first: char,
    /// The other characters.
    pub rest: Vec<char>,
    /// Edits allowed: 0 below 4 characters, 1 from 4, 2 from 8.
    pub max_edits: u8,
}

impl Query {
    /// `None` when nothing searchable was typed.
    pub fn parse(text: &str) -> Option<Query> {
        let key = query_text(text);
        let mut chars = key.chars();
        let first = chars.next()?;
        let rest: Vec<char> = chars.collect();
        let max_edits = match rest.len() + 1 {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        Some(Query {
            key,
            first,
            rest,
            max_edits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_budget_grows_with_length() {
        assert_eq!(Query::parse("   "), None);
        assert_eq!(Query::parse("Bey").unwrap().max_edits, 0);
        assert_eq!(Query::parse("Beyo").unwrap().max_edits, 1);
        assert_eq!(Query::parse("Beyoncé").unwrap().max_edits, 1);
        let q = Query::parse("Beyoncé K").unwrap();
        assert_eq!(
            (q.key.as_str(), q.first, q.max_edits),
            ("beyonce k", 'b', 2)
        );
    }
}
