-- Hydration reads counts for every entity it renders; these make them index-only (see the
-- PostgreSQL migration of the same name).
DROP INDEX IF EXISTS plays_track_id;
CREATE INDEX plays_track_id ON plays (track_id, count);

CREATE INDEX tracks_user_id_public ON tracks (user_id)
    WHERE deleted_at IS NULL AND taken_down = 0 AND sharing = 'public';
