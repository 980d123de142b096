//! How much one activity of each kind counts as an edge of the rank graph.
//!
//! The weights live in a flat JSON file next to the crate (`rank/weights.json`), built into the
//! binary and overridable with a file of the same shape. Every activity kind must be named (a
//! typo must not silently drop a kind); a weight of 0 leaves that activity out of the graph.
//!
//! ```
//! let weights = rank::Weights::builtin();
//! assert!(weights.follow > 0.0);
//! let json = r#"{"follow": 1, "like": 1, "repost": 1, "comment": 1, "play": 0, "upload": 1,
//!   "playlist_contains": 1, "group_member": 1, "group_track": 1, "group_creator": 1}"#;
//! let custom = rank::Weights::from_json(json, "inline").unwrap();
//! assert_eq!(custom.play, 0.0);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::RankError;

/// The built-in weights (`rank/weights.json`).
const BUILTIN: &str = include_str!("../weights.json");

/// Edge weight per activity kind. Edges point from the endorser to the endorsed: a like is
/// `user → track`, an upload `track → its creator`, a playlist entry `playlist → track`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// `follows`: follower → followee (users).
    pub follow: f64,
    /// `likes`: user → track or playlist.
    pub like: f64,
    /// `reposts`: user → track or playlist.
    pub repost: f64,
    /// `comments`: user → track, once per comment.
    pub comment: f64,
    /// `plays`: user → track, times the play count.
    pub play: f64,
    /// Ownership: track → its uploader, playlist → its owner.
    pub upload: f64,
    /// `playlist_tracks`: playlist → track, once per entry.
    pub playlist_contains: f64,
    /// `group_members`: user → group.
    pub group_member: f64,
    /// `group_tracks` (contributions): group → track.
    pub group_track: f64,
    /// `groups.creator_id`: group → its creator.
    pub group_creator: f64,
}

impl Weights {
    /// The weights shipped with the crate.
    pub fn builtin() -> Weights {
        // The file is part of the crate and checked by a unit test, so it always parses.
        Weights::from_json(BUILTIN, "built-in rank/weights.json").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parses weights from JSON text; `origin` names the source in error messages.
    pub fn from_json(text: &str, origin: &str) -> Result<Weights, RankError> {
        let weights: Weights = serde_json::from_str(text).map_err(|e| RankError::Weights {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        weights.validate(origin)?;
        Ok(weights)
    }

    /// Reads weights from a JSON file.
    pub fn from_file(path: &Path) -> Result<Weights, RankError> {
        let text = std::fs::read_to_string(path).map_err(|e| RankError::io(path, e))?;
        Weights::from_json(&text, &path.display().to_string())
    }

    /// Every weight by its JSON name, in file order.
    pub fn named(&self) -> [(&'static str, f64); 10] {
        [
            ("follow", self.follow),
            ("like", self.like),
            ("repost", self.repost),
            ("comment", self.comment),
            ("play", self.play),
            ("upload", self.upload),
            ("playlist_contains", self.playlist_contains),
            ("group_member", self.group_member),
            ("group_track", self.group_track),
            ("group_creator", self.group_creator),
        ]
    }

    fn validate(&self, origin: &str) -> Result<(), RankError> {
        for (name, value) in self.named() {
            // Weights are stored as f32 in the graph; anything that large is a mistake anyway.
            if !value.is_finite() || !(0.0..=1e6).contains(&value) {
                return Err(RankError::Weights {
                    origin: origin.to_string(),
                    reason: format!("`{name}` is {value}; weights must be between 0 and 1e6"),
                });
            }
        }
        if self.named().iter().all(|(_, w)| *w == 0.0) {
            return Err(RankError::Weights {
                origin: origin.to_string(),
                reason: "every weight is 0; the graph would have no edges".to_string(),
            });
        }
        Ok(())
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_file_parses() {
        let w = Weights::builtin();
        assert!(w.named().iter().all(|(_, v)| *v >= 0.0));
        assert!(w.repost > w.play);
    }

    #[test]
    fn unknown_missing_and_negative_weights_are_refused() {
        let good = serde_json::to_value(Weights::builtin()).unwrap();
        let mut unknown = good.clone();
        unknown["favourite"] = 1.0.into();
        let err = Weights::from_json(&unknown.to_string(), "t.json").unwrap_err();
        assert!(err.to_string().contains("favourite"), "{err}");

        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("like");
        let err = Weights::from_json(&missing.to_string(), "t.json").unwrap_err();
        assert!(err.to_string().contains("like"), "{err}");

        let mut negative = good;
        negative["play"] = (-1.0).into();
        let err = Weights::from_json(&negative.to_string(), "t.json").unwrap_err();
        assert!(err.to_string().contains("`play` is -1"), "{err}");
    }
}
