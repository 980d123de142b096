-- Judged query sets for offline evaluation, SQLite dialect (see the PostgreSQL migration of the
-- same name): times are sqlx's chrono text, ids INTEGER PRIMARY KEY (the rowid). The CASCADEs
-- need foreign keys on, which sqlx turns on for every SQLite connection.

CREATE TABLE eval_query_sets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE eval_queries (
    id            INTEGER PRIMARY KEY,
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
    id          INTEGER PRIMARY KEY,
    query_id    BIGINT NOT NULL REFERENCES eval_queries (id) ON DELETE CASCADE,
    entity_kind TEXT NOT NULL CHECK (entity_kind IN ('track', 'user', 'playlist', 'group')),
    entity_id   BIGINT NOT NULL,
    grade       INTEGER NOT NULL CHECK (grade BETWEEN 0 AND 3),
    source      TEXT NOT NULL CHECK (source IN ('rater', 'generated', 'clicks')),
    who         TEXT NOT NULL,
    judged_at   TEXT NOT NULL
);

-- A set's judgments are read query by query, and the cascade deletes by query_id.
CREATE INDEX eval_judgments_query_id ON eval_judgments (query_id);
