//! Activity events: a like, a repost, a play, a comment, a follow, a membership, a track added
//! to a set or a group. They change counts, never text, and mark the entities whose counts they
//! touch; the indexer re-counts those from the database (never increments), so an event
//! delivered twice, late or out of order changes nothing a second time.
//!
//! A message arrives as `<action>.<activity>` (`create.like`, `destroy.follow`) with the
//! activity row's columns in its body, as the site's model broadcast publishes them. Only the
//! columns that name what the activity touches are read (`target_kind`/`target_id`,
//! `track_id`, `followee_id`, `group_id`, `playlist_id`), and only to know what to re-count: a
//! wrong one costs a needless re-count, never a wrong count, since counts come from the
//! database.
//!
//! ```
//! use schemas::activity::ActivityEvent;
//! use schemas::{EntityKey, EntityKind};
//!
//! let body = br#"{"user_id": 7, "target_kind": "track", "target_id": 42,
//!                 "occurred_at": "2026-11-21T10:00:00Z"}"#;
//! let event = ActivityEvent::parse("create.like", body).unwrap();
//! assert_eq!(event.marks, vec![EntityKey::new(EntityKind::Track, 42)]);
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::envelope::{Action, EnvelopeError, MAX_BODY_BYTES};
use crate::kind::{EntityKey, EntityKind};

/// The count fields activity changes, wherever a kind's definition stores them: what a
/// re-count rewrites and what `disco verify` compares.
pub const COUNT_FIELDS: [&str; 7] = [
    "likes",
    "reposts",
    "plays",
    "comments",
    "followers",
    "track_count",
    "member_count",
];

/// What a person did, as the routing key's second part names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    Like,
    Repost,
    Play,
    Comment,
    Follow,
    Membership,
    PlaylistTrack,
    GroupTrack,
}

impl Activity {
    pub const ALL: [Activity; 8] = [
        Activity::Like,
        Activity::Repost,
        Activity::Play,
        Activity::Comment,
        Activity::Follow,
        Activity::Membership,
        Activity::PlaylistTrack,
        Activity::GroupTrack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Like => "like",
            Activity::Repost => "repost",
            Activity::Play => "play",
            Activity::Comment => "comment",
            Activity::Follow => "follow",
            Activity::Membership => "membership",
            Activity::PlaylistTrack => "playlist_track",
            Activity::GroupTrack => "group_track",
        }
    }

    /// The broker binding that delivers this activity's events (`*.like`).
    pub fn binding(self) -> String {
        format!("*.{}", self.as_str())
    }

    /// The entity whose counts this activity row touches, read from its columns in `body`.
    fn marks(self, body: &serde_json::Map<String, Value>) -> Result<EntityKey, EnvelopeError> {
        let id = |column: &'static str| -> Result<i64, EnvelopeError> {
            body.get(column)
                .and_then(Value::as_i64)
                .filter(|id| *id > 0)
                .ok_or(EnvelopeError::NoTarget {
                    activity: self.as_str(),
                    column,
                })
        };
        Ok(match self {
            Activity::Like | Activity::Repost => {
                let kind = match body.get("target_kind").and_then(Value::as_str) {
                    Some("track") => EntityKind::Track,
                    Some("playlist") => EntityKind::Playlist,
                    _ => {
                        return Err(EnvelopeError::NoTarget {
                            activity: self.as_str(),
                            column: "target_kind",
                        });
                    }
                };
                EntityKey::new(kind, id("target_id")?)
            }
            Activity::Play | Activity::Comment => {
                EntityKey::new(EntityKind::Track, id("track_id")?)
            }
            Activity::Follow => EntityKey::new(EntityKind::User, id("followee_id")?),
            Activity::Membership | Activity::GroupTrack => {
                EntityKey::new(EntityKind::Group, id("group_id")?)
            }
            Activity::PlaylistTrack => EntityKey::new(EntityKind::Playlist, id("playlist_id")?),
        })
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Activity {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Activity::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| EnvelopeError::UnknownKind(s.to_string()))
    }
}

/// The uploader a track's destroy event names (`user_id`, as the site publishes the row's
/// columns): their track count changes, and a track deleted outright before the index ever
/// held it leaves nothing else to name them. A hint for a re-count only — a wrong one costs a
/// needless re-count.
pub fn uploader_hint(event: &crate::envelope::Envelope, body: &[u8]) -> Option<EntityKey> {
    if event.action != Action::Destroy || event.key.kind != EntityKind::Track {
        return None;
    }
    let body: Value = serde_json::from_slice(body).ok()?;
    let id = body.get("user_id")?.as_i64().filter(|id| *id > 0)?;
    Some(EntityKey::new(EntityKind::User, id))
}

/// One activity event: what happened, when, and the entities to re-count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEvent {
    pub action: Action,
    pub activity: Activity,
    pub occurred_at: DateTime<Utc>,
    pub marks: Vec<EntityKey>,
}

impl ActivityEvent {
    /// Parses a message; [`EnvelopeError::UnknownKind`] when the routing key names no
    /// activity (nor, for the caller that tried first, an entity kind).
    pub fn parse(routing_key: &str, body: &[u8]) -> Result<ActivityEvent, EnvelopeError> {
        let (action, activity) = routing_key
            .split_once('.')
            .ok_or_else(|| EnvelopeError::RoutingKey(routing_key.to_string()))?;
        let action: Action = action.parse()?;
        let activity: Activity = activity.parse()?;
        if body.len() > MAX_BODY_BYTES {
            return Err(EnvelopeError::TooLarge(body.len()));
        }
        let object = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(EnvelopeError::NotJson("expected a JSON object".into())),
            Err(e) => return Err(EnvelopeError::NotJson(e.to_string())),
        };
        let occurred_at = match object.get("occurred_at") {
            None | Some(Value::Null) => return Err(EnvelopeError::NoTime),
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
                .map_err(|e| EnvelopeError::BadTime(format!("{text:?}: {e}")))?
                .with_timezone(&Utc),
            Some(other) => return Err(EnvelopeError::BadTime(other.to_string())),
        };
        Ok(ActivityEvent {
            action,
            activity,
            occurred_at,
            marks: vec![activity.marks(&object)?],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "\"2026-11-21T10:00:00Z\"";

    fn marks(key: &str, body: &str) -> Result<Vec<EntityKey>, String> {
        let body = body.replace("T0", T);
        ActivityEvent::parse(key, body.as_bytes())
            .map(|e| e.marks)
            .map_err(|e| e.label().to_string())
    }

    #[test]
    fn each_activity_marks_the_entity_whose_counts_it_touches() {
        let key = |kind, id| Ok(vec![EntityKey::new(kind, id)]);
        let cases = [
            (
                "create.like",
                r#"{"user_id": 1, "target_kind": "playlist", "target_id": 5, "occurred_at": T0}"#,
                key(EntityKind::Playlist, 5),
            ),
            (
                "destroy.repost",
                r#"{"user_id": 1, "target_kind": "track", "target_id": 6, "occurred_at": T0}"#,
                key(EntityKind::Track, 6),
            ),
            (
                "save.play",
                r#"{"track_id": 7, "count": 3, "occurred_at": T0}"#,
                key(EntityKind::Track, 7),
            ),
            (
                "create.comment",
                r#"{"id": 9, "track_id": 8, "occurred_at": T0}"#,
                key(EntityKind::Track, 8),
            ),
            (
                "create.follow",
                r#"{"follower_id": 2, "followee_id": 3, "occurred_at": T0}"#,
                key(EntityKind::User, 3),
            ),
            (
                "destroy.membership",
                r#"{"group_id": 4, "user_id": 2, "occurred_at": T0}"#,
                key(EntityKind::Group, 4),
            ),
            (
                "create.playlist_track",
                r#"{"playlist_id": 10, "track_id": 1, "occurred_at": T0}"#,
                key(EntityKind::Playlist, 10),
            ),
            (
                "create.group_track",
                r#"{"group_id": 11, "track_id": 1, "occurred_at": T0}"#,
                key(EntityKind::Group, 11),
            ),
        ];
        for (routing_key, body, expected) in cases {
            assert_eq!(marks(routing_key, body), expected, "{routing_key}");
        }
    }

    #[test]
    fn a_malformed_activity_says_what_is_missing() {
        let cases = [
            (
                "create.like",
                r#"{"target_id": 5, "occurred_at": T0}"#,
                "no_target",
            ),
            (
                "create.like",
                r#"{"target_kind": "user", "target_id": 5, "occurred_at": T0}"#,
                "no_target",
            ),
            (
                "create.follow",
                r#"{"followee_id": -3, "occurred_at": T0}"#,
                "no_target",
            ),
            ("create.play", r#"{"track_id": 7}"#, "no_time"),
            ("create.play", "[1]", "not_json"),
            ("create.poke", r#"{"occurred_at": T0}"#, "unknown_kind"),
            ("update.like", r#"{"occurred_at": T0}"#, "unknown_action"),
        ];
        for (routing_key, body, label) in cases {
            assert_eq!(
                marks(routing_key, body),
                Err(label.to_string()),
                "{routing_key} {body}"
            );
        }
        let err = ActivityEvent::parse(
            "create.follow",
            br#"{"occurred_at": "2026-01-01T00:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("followee_id"), "{err}");
    }
}
