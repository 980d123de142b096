//! External versions: a row's `updated_at` in microseconds since the Unix epoch.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A document's version: its row's `updated_at` in µs. Greater is newer; the indexer upserts
/// only when the new version is greater than the one it holds (see docs/ARCHITECTURE.md, "Versioning").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(pub u64);

impl Version {
    /// The version of a row updated at `at`. Times before the epoch clamp to zero.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Version(u64::try_from(at.timestamp_micros()).unwrap_or(0))
    }

    /// The version as a UTC time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        let micros = i64::try_from(self.0).unwrap_or(i64::MAX);
        DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_microseconds_and_order_by_time() {
        let earlier = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.000001Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let later = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.000002Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let (earlier, later) = (
            earlier.map(Version::from_datetime),
            later.map(Version::from_datetime),
        );
        assert!(earlier < later);
        assert_eq!(
            later.map(|v| v.0 - earlier.map(|e| e.0).unwrap_or(0)),
            Some(1)
        );
        let v = Version(1_763_719_200_000_001);
        assert_eq!(Version::from_datetime(v.to_datetime()), v);
    }
}
