-- Reconciliation reads the rows whose updated_at moved past a watermark (indexer::reconcile):
-- a range scan of these indexes, not a table scan, every 30 seconds.
CREATE INDEX tracks_updated_at ON tracks (updated_at, id);
CREATE INDEX users_updated_at ON users (updated_at, id);
CREATE INDEX playlists_updated_at ON playlists (updated_at, id);
CREATE INDEX groups_updated_at ON groups (updated_at, id);
