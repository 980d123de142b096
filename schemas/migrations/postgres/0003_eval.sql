-- Judged query sets for offline evaluation (the `quality` crate, `disco eval`). Disco's own
-- tables, never the site's: a set is a name, its queries in order, and graded judgments of
-- entities per query. Replacing or deleting a set removes its queries and judgments (CASCADE).
-- Judgments are appended, never updated: a later judgment of the same entity supersedes an
-- earlier one when read, so the history of who said what stays.

CREATE TABLE eval_query_sets (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE eval_queries (
    id            BIGSERIAL PRIMARY KEY,
    set_id        BIGINT NOT NULL REFERENCES eval_query_sets (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL CHECK (position >= 0),
    text          TEXT NOT NULL,
    class         TEXT NOT NULL,
    -- The entity a known-item query names: both or neither.
    intended_kind TEXT CHECK (intended_kind IN ('track', 'user', 'playlist', 'group')),
    intended_id   BIGINT,
    CHECK ((intended_kind IS NULL) = (intended_id IS NULL)),
    UNIQUE (set_id, position)
);

CREATE TABLE eval_judgments (
    id          BIGSERIAL PRIMARY KEY,
    query_id    BIGINT NOT NULL REFERENCES eval_queries (id) ON DELETE CASCADE,
    entity_kind TEXT NOT NULL CHECK (entity_kind IN ('track', 'user', 'playlist', 'group')),
    entity_id   BIGINT NOT NULL,
    grade       INTEGER NOT NULL CHECK (grade BETWEEN 0 AND 3),
    source      TEXT NOT NULL CHECK (source IN ('rater', 'generated', 'clicks')),
    who         TEXT NOT NULL,
    judged_at   TIMESTAMPTZ NOT NULL
);

-- A set's judgments are read query by query, and the cascade deletes by query_id.
CREATE INDEX eval_judgments_query_id ON eval_judgments (query_id);
