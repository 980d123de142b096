//! The event envelope: what the indexer reads of a broker message, and nothing more.
//!
//! A message arrives with a routing key `<action>.<kind>` and a JSON body holding at least
//! `id` (integer) and `occurred_at` (RFC 3339). Every other field of the body is ignored:
//! payloads change without notice and are never trusted, the entity is re-read from the
//! database instead.
//!
//! ```
//! use schemas::envelope::{Action, Envelope};
//! use schemas::EntityKind;
//!
//! let body = br#"{"id": 42, "occurred_at": "2026-11-21T10:00:00.000001Z", "title": "ignored"}"#;
//! let event = Envelope::parse("save.track", body).unwrap();
//! assert_eq!((event.action, event.key.kind, event.key.id), (Action::Save, EntityKind::Track, 42));
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kind::{EntityKey, EntityKind};
use crate::version::Version;

/// Bodies larger than this are refused before parsing: an envelope is a few hundred bytes,
/// and a megabyte leaves room for the site's own payload fields.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What happened to the entity, as the site's model broadcast names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Save,
    Destroy,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Save => "save",
            Action::Destroy => "destroy",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = EnvelopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "create" => Ok(Action::Create),
            "save" => Ok(Action::Save),
            "destroy" => Ok(Action::Destroy),
            other => Err(EnvelopeError::UnknownAction(other.to_string())),
        }
    }
}

/// One entity event as the indexer understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    pub action: Action,
    pub key: EntityKey,
    /// When the site made the change; the floor for the version the indexer must see.
    pub occurred_at: DateTime<Utc>,
}

/// Every way an envelope can be malformed. All but [`EnvelopeError::UnknownKind`] send the
/// message to the dead-letter queue with this text as the reason; an unknown kind is an event
/// the indexer does not index (e.g. `create.like`) and is acknowledged and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("routing key `{0}` is not of the form <action>.<kind>")]
    RoutingKey(String),
    #[error("unknown action `{0}` (expected create, save or destroy)")]
    UnknownAction(String),
    #[error("unknown kind `{0}`")]
    UnknownKind(String),
    #[error("body is {0} bytes, over the {MAX_BODY_BYTES}-byte limit")]
    TooLarge(usize),
    /// An activity event (`create.like`) that does not say what it touched.
    #[error("a `{activity}` event needs `{column}` naming what it touched")]
    NoTarget {
        activity: &'static str,
        column: &'static str,
    },
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("body has no `id`")]
    NoId,
    #[error("`id` is not a positive integer: {0}")]
    BadId(String),
    #[error("body has no `occurred_at`")]
    NoTime,
    #[error("`occurred_at` is not an RFC 3339 time: {0}")]
    BadTime(String),
}

impl EnvelopeError {
    /// A short, stable label for metrics and dead-letter headers.
    pub fn label(&self) -> &'static str {
        match self {
            EnvelopeError::RoutingKey(_) => "routing_key",
            EnvelopeError::UnknownAction(_) => "unknown_action",
            EnvelopeError::UnknownKind(_) => "unknown_kind",
            EnvelopeError::TooLarge(_) => "too_large",
            EnvelopeError::NoTarget { .. } => "no_target",
            EnvelopeError::NotJson(_) => "not_json",
            EnvelopeError::NoId => "no_id",
            EnvelopeError::BadId(_) => "bad_id",
            EnvelopeError::NoTime => "no_time",
            EnvelopeError::BadTime(_) => "bad_time",
        }
    }
}

/// The fields of the body we read; everything else is skipped unparsed into a typed value.
#[derive(Deserialize)]
struct Body {
    id: Option<serde_json::Value>,
    occurred_at: Option<serde_json::Value>,
}

impl Envelope {
    /// The routing key this event is published under, e.g. `save.track`.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.action, self.key.kind)
    }

    /// The JSON body the site publishes for this event.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::json!({
            "id": self.key.id,
            "occurred_at": self.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        })
        .to_string()
        .into_bytes()
    }

    /// The version floor this event sets: the row read for it must be at least this new.
    pub fn floor(&self) -> Version {
        Version::from_datetime(self.occurred_at)
    }

    /// Parses a message. The kind is checked before the body so that activity events
    /// (`create.like`) are recognised as "not ours" whatever their body holds.
    pub fn parse(routing_key: &str, body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let (action, kind) = routing_key
            .split_once('.')
            .ok_or_else(|| EnvelopeError::RoutingKey(routing_key.to_string()))?;
        let action: Action = action.parse()?;
        let kind: EntityKind = kind
            .parse()
            .map_err(|_| EnvelopeError::UnknownKind(kind.to_string()))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(EnvelopeError::TooLarge(body.len()));
        }
        // serde reads a JSON array into a struct by position; only an object is an envelope.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(EnvelopeError::NotJson("expected a JSON object".to_string()));
        }
        let parsed: Body =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        let id = match parsed.id {
            None | Some(serde_json::Value::Null) => return Err(EnvelopeError::NoId),
            Some(value) => value
                .as_i64()
                .filter(|id| *id > 0)
                .ok_or_else(|| EnvelopeError::BadId(value.to_string()))?,
        };
        let occurred_at = match parsed.occurred_at {
            None | Some(serde_json::Value::Null) => return Err(EnvelopeError::NoTime),
            Some(serde_json::Value::String(text)) => DateTime::parse_from_rfc3339(&text)
                .map_err(|e| EnvelopeError::BadTime(format!("{text:?}: {e}")))?
                .with_timezone(&Utc),
            Some(other) => return Err(EnvelopeError::BadTime(other.to_string())),
        };
        Ok(Envelope {
            action,
            key: EntityKey::new(kind, id),
            occurred_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-11-21T10:00:00.123456Z";

    fn body(id: &str, time: &str) -> Vec<u8> {
        format!(r#"{{"id": {id}, "occurred_at": {time}}}"#).into_bytes()
    }

    #[test]
    fn a_good_envelope_parses_and_ignores_the_rest_of_the_body() {
        let raw = format!(r#"{{"id": 7, "occurred_at": "{T}", "title": {{"nested": [1,2]}}}}"#);
        let event = Envelope::parse("destroy.playlist", raw.as_bytes()).unwrap();
        assert_eq!(event.action, Action::Destroy);
        assert_eq!(event.key, EntityKey::new(EntityKind::Playlist, 7));
        assert_eq!(event.floor().0 % 1_000_000, 123_456);
    }

    #[test]
    fn an_envelope_round_trips_through_its_body() {
        let event = Envelope::parse("create.user", &body("3", &format!("\"{T}\""))).unwrap();
        let again = Envelope::parse(&event.routing_key(), &event.to_body()).unwrap();
        assert_eq!(event, again);
    }

    #[test]
    fn every_malformation_has_its_own_error() {
        let good_time = format!("\"{T}\"");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("track", body("1", &good_time), "routing_key"),
            ("update.track", body("1", &good_time), "unknown_action"),
            ("create.like", body("1", &good_time), "unknown_kind"),
            ("create.track", b"not json".to_vec(), "not_json"),
            ("create.track", b"[1, 2]".to_vec(), "not_json"),
            (
                "create.track",
                format!(r#"{{"occurred_at": {good_time}}}"#).into_bytes(),
                "no_id",
            ),
            ("create.track", body("null", &good_time), "no_id"),
            ("create.track", body("\"42\"", &good_time), "bad_id"),
            ("create.track", body("-1", &good_time), "bad_id"),
            ("create.track", br#"{"id": 1}"#.to_vec(), "no_time"),
            ("create.track", body("1", "\"yesterday\""), "bad_time"),
            ("create.track", body("1", "12345"), "bad_time"),
            ("create.track", vec![b' '; 5 * 1024 * 1024], "too_large"),
        ];
        for (key, raw, label) in cases {
            let err = Envelope::parse(key, &raw).expect_err(label);
            assert_eq!(err.label(), label, "{key}: {err}");
        }
    }
}
