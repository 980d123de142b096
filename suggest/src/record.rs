//! What suggest knows of one entity: its names and how much it weighs.

use std::fmt;
use std::sync::Arc;

use schemas::row::EntityRow;
use schemas::{EntityKey, EntityKind};

/// One searchable entity as suggest sees it. The same shape comes from a full load
/// ([`crate::names_db::load`]) and from a live change ([`crate::Change::from_row`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: EntityKey,
    /// The name shown in the dropdown, and the first name matched: a track's or playlist's
    /// title, a user's full name (their username when it is empty), a group's name.
    pub text: String,
    /// Other names the entity is found by (a user's username), never shown.
    pub aliases: Vec<String>,
    /// A track's or set's owner, by the name they are shown by: the entity is also found by
    /// the owner's name then its own ("iron maiden fear of the dark"), in a tier after
    /// every match of a name of its own ([`crate::normalize::owner_keys`]).
    pub owner: Option<String>,
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
            owner: None,
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
        let shown = user_name(username, full_name);
        let record = Record::new(key, shown, prior);
        if shown == username {
            record
        } else {
            record.alias(username)
        }
    }

    /// A track's or set's record: shown by its title, and also found by its owner's name then
    /// its title, the way people name it (search keys it the same way:
    /// [`schemas::analyzer::name_key`]).
    pub fn owned(key: EntityKey, title: &str, owner: &str, prior: f64) -> Record {
        let mut record = Record::new(key, title, prior);
        if !owner.trim().is_empty() {
            record.owner = Some(owner.to_string());
        }
        record
    }

    /// The record of an entity as the indexer hydrated it: the names its index fields hold
    /// (a user's `username` and `full_name`, a group's `name`, a track's or playlist's
    /// `title`), with `prior`.
    pub fn from_row(row: &EntityRow, prior: f64) -> Record {
        let text = |name: &str| row.text(name).unwrap_or_default();
        match row.key.kind {
            EntityKind::User => {
                Record::user(row.key.id, text("username"), text("full_name"), prior)
            }
            EntityKind::Group => Record::new(row.key, text("name"), prior),
            EntityKind::Track | EntityKind::Playlist => Record::owned(
                row.key,
                text("title"),
                user_name(text("owner_username"), text("owner_full_name")),
                prior,
            ),
        }
    }

    /// Every name of its own, the shown one first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.text.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The keys that find it through its owner ([`crate::normalize::owner_keys`]).
    pub fn owner_keys(&self) -> Vec<String> {
        self.owner
            .as_deref()
            .map(|owner| crate::normalize::owner_keys(owner, &self.text))
            .unwrap_or_default()
    }
}

/// The name a user is shown by: the full name, or the username when that is empty.
pub fn user_name<'a>(username: &'a str, full_name: &'a str) -> &'a str {
    if full_name.trim().is_empty() {
        username
    } else {
        full_name
    }
}

/// An entity's prior from its key and its popularity ([`schemas::popularity`]): DiscoRank
/// where the entity is scored, popularity otherwise, or popularity alone.
///
/// The rebuild ([`crate::rebuild`]) and the delta ([`crate::Change::from_row`]) both take one,
/// and a service gives both the same: priors on two scales would move an entity in the order
/// each time it is edited.
///
/// ```
/// use schemas::{EntityKey, EntityKind};
/// use suggest::SuggestPrior;
///
/// let scored = EntityKey::new(EntityKind::Track, 1);
/// let prior = SuggestPrior::new(move |key, popularity| if key == scored { 0.5 } else { popularity });
/// assert_eq!(prior.of(scored, 7.0), 0.5);
/// assert_eq!(prior.of(EntityKey::new(EntityKind::Track, 2), 7.0), 7.0);
/// assert_eq!(SuggestPrior::popularity().of(scored, 7.0), 7.0);
/// ```
#[derive(Clone)]
pub struct SuggestPrior(Arc<dyn Fn(EntityKey, f64) -> f64 + Send + Sync>);

impl SuggestPrior {
    /// The prior `prior(key, popularity)`.
    pub fn new(prior: impl Fn(EntityKey, f64) -> f64 + Send + Sync + 'static) -> SuggestPrior {
        SuggestPrior(Arc::new(prior))
    }

    /// Popularity itself: the interim prior while no DiscoRank scores are given.
    pub fn popularity() -> SuggestPrior {
        SuggestPrior::new(|_, popularity| popularity)
    }

    /// The prior of `key`, whose popularity is `popularity`.
    pub fn of(&self, key: EntityKey, popularity: f64) -> f64 {
        (self.0)(key, popularity)
    }
}

impl Default for SuggestPrior {
    fn default() -> Self {
        SuggestPrior::popularity()
    }
}

impl fmt::Debug for SuggestPrior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuggestPrior(..)")
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
