//! The four searchable entity kinds and the typed keys that name one entity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A searchable kind of entity. Activity kinds (`like`, `follow`, …) are not kinds here:
/// the indexer never indexes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Track,
    User,
    Playlist,
    Group,
}

impl EntityKind {
    /// Every kind, in a stable order.
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Track,
        EntityKind::User,
        EntityKind::Playlist,
        EntityKind::Group,
    ];

    /// The name used in routing keys, JSON and URLs' first segment (singular).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Track => "track",
            EntityKind::User => "user",
            EntityKind::Playlist => "playlist",
            EntityKind::Group => "group",
        }
    }

    /// The site's table that holds rows of this kind.
    pub fn table(self) -> &'static str {
        match self {
            EntityKind::Track => "tracks",
            EntityKind::User => "users",
            EntityKind::Playlist => "playlists",
            EntityKind::Group => "groups",
        }
    }

    /// The entity's page path on the site, e.g. `/tracks/42`.
    pub fn url(self, id: i64) -> String {
        format!("/{}/{id}", self.table())
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name one of the four searchable kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity kind `{0}` (expected track, user, playlist or group)")]
pub struct UnknownKind(pub String);

impl FromStr for EntityKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "track" => Ok(EntityKind::Track),
            "user" => Ok(EntityKind::User),
            "playlist" => Ok(EntityKind::Playlist),
            "group" => Ok(EntityKind::Group),
            other => Err(UnknownKind(other.to_string())),
        }
    }
}

/// One entity: its kind and its row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub kind: EntityKind,
    pub id: i64,
}

impl EntityKey {
    pub fn new(kind: EntityKind, id: i64) -> Self {
        EntityKey { kind, id }
    }

    /// The entity's page path on the site.
    pub fn url(self) -> String {
        self.kind.url(self.id)
    }
}

/// Written `kind:id`, e.g. `track:42`: the form used in the index's key field and edge lists.
impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// The text was not of the form `kind:id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("entity key `{0}` is not of the form kind:id")]
    Shape(String),
    #[error(transparent)]
    Kind(#[from] UnknownKind),
    #[error("entity key `{0}` has an id that is not an integer")]
    Id(String),
}

impl FromStr for EntityKey {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| KeyParseError::Shape(s.to_string()))?;
        let kind = kind.parse()?;
        let id = id.parse().map_err(|_| KeyParseError::Id(s.to_string()))?;
        Ok(EntityKey { kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text() {
        for kind in EntityKind::ALL {
            assert_eq!(kind.as_str().parse::<EntityKind>(), Ok(kind));
        }
        assert!("like".parse::<EntityKind>().is_err());
    }

    #[test]
    fn keys_print_and_parse_as_kind_colon_id() {
        let key = EntityKey::new(EntityKind::Track, 42);
        assert_eq!(key.to_string(), "track:42");
        assert_eq!("track:42".parse::<EntityKey>(), Ok(key));
        assert_eq!(key.url(), "/tracks/42");
        assert!("track".parse::<EntityKey>().is_err());
        assert!("track:x".parse::<EntityKey>().is_err());
        assert!("song:1".parse::<EntityKey>().is_err());
    }
}
