//! The interim popularity prior, from an entity's activity counts: the one formula the indexer
//! writes into every document (`popularity`) and suggest weighs names with until DiscoRank
//! scores exist.
//!
//! Each count is log-damped, so a few thousand plays do not drown text relevance, and the
//! counts of a kind are weighted by how much they say about it (a like more than a play).
//!
//! ```
//! use schemas::popularity::ActivityCounts;
//!
//! let quiet = ActivityCounts::Track { plays: 0, likes: 0, reposts: 0 };
//! let liked = ActivityCounts::Track { plays: 10, likes: 3, reposts: 0 };
//! assert_eq!(quiet.popularity(), 0.0);
//! assert!(liked.popularity() > quiet.popularity());
//! ```

use crate::EntityKind;

/// The counts an entity's popularity is computed from, per kind. Negative counts count as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityCounts {
    /// Plays summed over listeners, likes, reposts.
    Track {
        plays: i64,
        likes: i64,
        reposts: i64,
    },
    /// Followers, and the user's searchable tracks.
    User { followers: i64, tracks: i64 },
    /// Likes, and the tracks in the playlist.
    Playlist { likes: i64, tracks: i64 },
    /// Members, and the tracks shared to the group.
    Group { members: i64, tracks: i64 },
}

impl ActivityCounts {
    /// The kind these counts are of.
    pub fn kind(&self) -> EntityKind {
        match self {
            ActivityCounts::Track { .. } => EntityKind::Track,
            ActivityCounts::User { .. } => EntityKind::User,
            ActivityCounts::Playlist { .. } => EntityKind::Playlist,
            ActivityCounts::Group { .. } => EntityKind::Group,
        }
    }

    /// The popularity prior: a weighted sum of the log-damped counts.
    pub fn popularity(&self) -> f64 {
        match *self {
            ActivityCounts::Track {
                plays,
                likes,
                reposts,
            } => damped(plays) + 2.0 * damped(likes) + 2.0 * damped(reposts),
            ActivityCounts::User { followers, tracks } => 2.0 * damped(followers) + damped(tracks),
            ActivityCounts::Playlist { likes, tracks } => {
                2.0 * damped(likes) + 0.5 * damped(tracks)
            }
            ActivityCounts::Group { members, tracks } => {
                1.5 * damped(members) + 0.5 * damped(tracks)
            }
        }
    }
}

/// The counts [`ActivityCounts`] takes for `kind`, as a SELECT list of correlated subqueries on
/// the row aliased `row`, in the order of the variant's fields, each a BIGINT on both dialects:
/// the one way a loader that reads whole tables (suggest's names, the simulated searchers'
/// catalog) counts activity. A user's tracks are its searchable ones
/// ([`crate::searchable::condition`]). Hydration counts the same things with joins per page.
pub fn counts_sql(kind: EntityKind, row: &str) -> String {
    let count = |sql: String| format!("CAST(({sql}) AS BIGINT)");
    let liked = |target: &str| {
        count(format!(
            "SELECT count(*) FROM likes l WHERE l.target_kind = '{target}' AND l.target_id = {row}.id"
        ))
    };
    let columns = match kind {
        EntityKind::User => vec![
            count(format!(
                "SELECT count(*) FROM follows f WHERE f.followee_id = {row}.id"
            )),
            count(format!(
                "SELECT count(*) FROM tracks t WHERE t.user_id = {row}.id AND {}",
                crate::searchable::condition(EntityKind::Track, "t")
            )),
        ],
        EntityKind::Track => vec![
            count(format!(
                "SELECT COALESCE(sum(p.count), 0) FROM plays p WHERE p.track_id = {row}.id"
            )),
            liked("track"),
            count(format!(
                "SELECT count(*) FROM reposts r WHERE r.target_kind = 'track' AND r.target_id = {row}.id"
            )),
        ],
        EntityKind::Playlist => vec![
            liked("playlist"),
            count(format!(
                "SELECT count(*) FROM playlist_tracks pt WHERE pt.playlist_id = {row}.id"
            )),
        ],
        EntityKind::Group => vec![
            count(format!(
                "SELECT count(*) FROM group_members m WHERE m.group_id = {row}.id"
            )),
            count(format!(
                "SELECT count(*) FROM group_tracks gt WHERE gt.group_id = {row}.id"
            )),
        ],
    };
    columns.join(", ")
}

/// `ln(1 + count)`: grows without bound but slowly, 0 for no activity.
fn damped(count: i64) -> f64 {
    (1.0 + count.max(0) as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_weighs_its_counts() {
        let ln = |n: f64| (1.0 + n).ln();
        let track = ActivityCounts::Track {
            plays: 100,
            likes: 1,
            reposts: 2,
        };
        assert_eq!(
            track.popularity(),
            ln(100.0) + 2.0 * ln(1.0) + 2.0 * ln(2.0)
        );
        let user = ActivityCounts::User {
            followers: 2,
            tracks: 3,
        };
        assert_eq!(user.popularity(), 2.0 * ln(2.0) + ln(3.0));
        let playlist = ActivityCounts::Playlist {
            likes: 1,
            tracks: 4,
        };
        assert_eq!(playlist.popularity(), 2.0 * ln(1.0) + 0.5 * ln(4.0));
        let group = ActivityCounts::Group {
            members: 2,
            tracks: 1,
        };
        assert_eq!(group.popularity(), 1.5 * ln(2.0) + 0.5 * ln(1.0));
        assert_eq!(group.kind(), EntityKind::Group);
    }

    #[test]
    fn negative_counts_count_as_none() {
        let none = ActivityCounts::User {
            followers: 0,
            tracks: 0,
        };
        let negative = ActivityCounts::User {
            followers: -5,
            tracks: -1,
        };
        assert_eq!(negative.popularity(), none.popularity());
        assert_eq!(none.popularity(), 0.0);
    }
}
