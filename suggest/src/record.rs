//! What suggest knows of one entity: its names and how much it weighs.

use schemas::{EntityKey, EntityKind};

/// One searchable entity as suggest sees it. The same shape comes from a full load
/// ([`crate::source::load`]) and from a live change ([`crate::Change::Upsert`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: EntityKey,
    /// The name shown in the dropdown, and the first name matched: a track's or playlist's
    /// title, a user's full name (their username when it is empty), a group's name.
    pub text: String,
    /// Other names the entity is found by (a user's username), never shown.
    pub aliases: Vec<String>,
    /// The entity's prior (DiscoRank, or the interim popularity). `None` on a change means
    /// "not known here": the built weight is kept, or 0 for an entity the build never saw.
    pub prior: Option<f64>,
}

impl Record {
    pub fn new(key: EntityKey, text: impl Into<String>, prior: f64) -> Record {
        Record {
            key,
            text: text.into(),
            aliases: Vec::new(),
            prior: Some(prior),
        }
    }

    /// The record with one more name it is found by.
    pub fn alias(mut self, name: impl Into<String>) -> Record {
        self.aliases.push(name.into());
        self
    }

    /// A user's record: shown by full name (username when that is empty), found by both.
    pub fn user(id: i64, username: &str, full_name: &str, prior: f64) -> Record {
        let key = EntityKey::new(EntityKind::User, id);
        if full_name.trim().is_empty() {
            Record::new(key, username, prior)
        } else {
            Record::new(key, full_name, prior).alias(username)
        }
    }

    /// Every name, the shown one first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.text.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// weight = prior × the factor of the entity's kind: how much a kind is worth in a dropdown
/// shared by all four (people are looked up by name more often than groups).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindFactors {
    pub track: f64,
    pub user: f64,
    pub playlist: f64,
    pub group: f64,
}

impl Default for KindFactors {
    fn default() -> Self {
        KindFactors {
            track: 1.0,
            user: 1.2,
            playlist: 0.8,
            group: 0.7,
        }
    }
}

impl KindFactors {
    pub fn factor(&self, kind: EntityKind) -> f64 {
        match kind {
            EntityKind::Track => self.track,
            EntityKind::User => self.user,
            EntityKind::Playlist => self.playlist,
            EntityKind::Group => self.group,
        }
    }

    /// The weight a prior gets for this kind; NaN and negatives count as 0.
    pub fn weight(&self, kind: EntityKind, prior: f64) -> f32 {
        let w = prior * self.factor(kind);
        if w.is_finite() && w > 0.0 {
            w as f32
        } else {
            0.0
        }
    }
}
