-- Hydration reads counts for every entity it renders (indexer: one query per kind per batch).
-- These indexes let those counts be index-only scans instead of one random heap page per
-- activity row: at 1M tracks a full reindex's track hydration went from ~170 ms to ~30 ms
-- per 1,000 tracks (BENCHMARKS.md, "Full reindex").

-- plays are summed (sum(count)), so the count column rides along in the index.
DROP INDEX IF EXISTS plays_track_id;
CREATE INDEX plays_track_id ON plays (track_id) INCLUDE (count);

-- A user's public track count.
CREATE INDEX tracks_user_id_public ON tracks (user_id)
    WHERE deleted_at IS NULL AND taken_down = FALSE AND sharing = 'public';
