//! A result's counts (`stats`): what a visitor weighs a result by — a track's plays and likes,
//! a person's followers — read from the stored document the search already read. Which counts
//! a kind has is what the answering generation's definitions store: generations may differ, so
//! a count the definitions do not store is left out, never guessed.

use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;
use tantivy::schema::Value;
use utoipa::ToSchema;

use schemas::EntityKind;
use schemas::definition::{Definitions, FieldType};

/// The counts of one result; only the keys its kind's definition stores are present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"plays": 1204, "likes": 37, "reposts": 4, "comments": 2,
    "duration_ms": 215000, "uploaded_at": "2025-01-03T08:00:00Z"}))]
pub struct Stats {
    /// Tracks: times played.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plays: Option<i64>,
    /// Tracks and playlists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<i64>,
    /// Tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reposts: Option<i64>,
    /// Tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<i64>,
    /// Tracks: length in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<i64>,
    /// Users (tracks uploaded), playlists (tracks in the set), groups (tracks shared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_count: Option<i64>,
    /// Groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<i64>,
    /// Tracks: when uploaded (the entity's creation time), RFC 3339 in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_at: Option<String>,
}

/// The count fields a result can show, by their name in the definitions.
const COUNTS: [&str; 8] = [
    "plays",
    "likes",
    "reposts",
    "comments",
    "duration_ms",
    "followers",
    "track_count",
    "member_count",
];

impl Stats {
    /// The counts `doc` (a document of `kind`) stores under `definitions`: each count field the
    /// kind defines as a stored integer, and for tracks the upload time when the schema stores
    /// the creation time.
    pub fn read(definitions: &Definitions, kind: EntityKind, doc: &TantivyDocument) -> Stats {
        let def = definitions.kind(kind);
        let mut stats = Stats::default();
        for name in COUNTS {
            let Some(field) = def
                .field(name)
                .filter(|f| f.stored && f.ty == FieldType::I64)
            else {
                continue;
            };
            let value = doc.get_first(field.field).and_then(|v| v.as_i64());
            *stats.slot(name) = value;
        }
        if kind == EntityKind::Track {
            let created = definitions.system().created_at;
            if definitions.schema().get_field_entry(created).is_stored() {
                stats.uploaded_at = doc
                    .get_first(created)
                    .and_then(|v| v.as_datetime())
                    .and_then(|at| rfc3339(at.into_timestamp_micros()));
            }
        }
        stats
    }

    fn slot(&mut self, name: &str) -> &mut Option<i64> {
        match name {
            "plays" => &mut self.plays,
            "likes" => &mut self.likes,
            "reposts" => &mut self.reposts,
            "comments" => &mut self.comments,
            "duration_ms" => &mut self.duration_ms,
            "followers" => &mut self.followers,
            "track_count" => &mut self.track_count,
            _ => &mut self.member_count,
        }
    }
}

/// `2025-01-03T08:00:00Z` from µs since the epoch; `None` out of chrono's range.
fn rfc3339(micros: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use schemas::row::EntityRow;
    use schemas::{EntityKey, Version};

    fn rendered(definitions: &Definitions, row: &EntityRow) -> TantivyDocument {
        definitions.render(row).expect("renders")
    }

    #[test]
    fn each_kind_shows_the_counts_its_definition_stores() {
        let defs = Definitions::builtin();
        let at = Utc
            .with_ymd_and_hms(2025, 1, 3, 8, 0, 0)
            .single()
            .expect("date");
        let track = EntityRow::new(
            EntityKey::new(EntityKind::Track, 1),
            Version::from_datetime(at),
            at,
        )
        .with("title", "Song")
        .with("plays", 1204_i64)
        .with("likes", 37_i64)
        .with("duration_ms", 215_000_i64);
        let stats = Stats::read(&defs, EntityKind::Track, &rendered(&defs, &track));
        assert_eq!(
            serde_json::to_value(&stats).expect("json"),
            serde_json::json!({"plays": 1204, "likes": 37, "duration_ms": 215000,
                "uploaded_at": "2025-01-03T08:00:00Z"}),
            "absent counts are left out"
        );
        let group = EntityRow::new(
            EntityKey::new(EntityKind::Group, 1),
            Version::from_datetime(at),
            at,
        )
        .with("name", "Fans")
        .with("member_count", 12_i64)
        .with("track_count", 3_i64);
        let stats = Stats::read(&defs, EntityKind::Group, &rendered(&defs, &group));
        assert_eq!(
            stats,
            Stats {
                member_count: Some(12),
                track_count: Some(3),
                ..Stats::default()
            },
            "no upload time but for tracks"
        );
    }

    #[test]
    fn a_count_the_generation_does_not_store_is_left_out() {
        // A generation whose tracks keep plays in the index but do not store them.
        let sources: Vec<(&str, String)> = Definitions::builtin_sources()
            .iter()
            .map(|(file, text)| {
                let text = match *file {
                    "track.json" => text.replace(
                        "{ \"name\": \"plays\", \"type\": \"i64\", \"indexed\": false, \"stored\": true, \"fast\": true }",
                        "{ \"name\": \"plays\", \"type\": \"i64\", \"indexed\": false, \"fast\": true }",
                    ),
                    _ => text.to_string(),
                };
                (*file, text)
            })
            .collect();
        let refs: Vec<(&str, &str)> = sources.iter().map(|(f, t)| (*f, t.as_str())).collect();
        let defs = Definitions::from_sources(&refs).expect("valid");
        assert!(
            !defs
                .kind(EntityKind::Track)
                .field("plays")
                .expect("plays")
                .stored
        );
        let now = Utc::now();
        let track = EntityRow::new(
            EntityKey::new(EntityKind::Track, 1),
            Version::from_datetime(now),
            now,
        )
        .with("title", "Song")
        .with("plays", 5_i64)
        .with("likes", 2_i64);
        let stats = Stats::read(&defs, EntityKind::Track, &rendered(&defs, &track));
        assert_eq!((stats.plays, stats.likes), (None, Some(2)));
    }
}
