-- The click log and experiments, SQLite dialect (see the PostgreSQL migration of the same name):
-- times are sqlx's chrono text, ids INTEGER PRIMARY KEY (the rowid).

CREATE TABLE experiments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    mode       TEXT NOT NULL CHECK (mode IN ('ab', 'interleave')),
    -- JSON: [{"name": "control", "variant": "rank=v3"}, …], two or more arms.
    arms       TEXT NOT NULL,
    -- The share of sessions that take part, (0, 1].
    traffic    REAL NOT NULL CHECK (traffic > 0 AND traffic <= 1),
    created_at TEXT NOT NULL,
    stopped_at TEXT
);

CREATE TABLE search_log (
    query_id   TEXT PRIMARY KEY,
    logged_at  TEXT NOT NULL,
    -- The anonymous session cookie; empty for a caller without one.
    session    TEXT NOT NULL,
    endpoint   TEXT NOT NULL CHECK (endpoint IN ('search', 'suggest', 'explore')),
    text       TEXT NOT NULL,
    total      BIGINT NOT NULL,
    experiment TEXT,
    -- The A/B arm; NULL when interleaved (each shown result then names its arm).
    arm        TEXT,
    -- JSON: [{"entity": "track:42", "arm": "b"|null}, …] in position order.
    shown      TEXT NOT NULL
);

CREATE INDEX search_log_logged_at ON search_log (logged_at);
CREATE INDEX search_log_experiment ON search_log (experiment) WHERE experiment IS NOT NULL;

CREATE TABLE click_log (
    id        INTEGER PRIMARY KEY,
    logged_at TEXT NOT NULL,
    query_id  TEXT NOT NULL,
    session   TEXT NOT NULL,
    event     TEXT NOT NULL CHECK (event IN ('impression', 'click')),
    -- A click's 1-based position and entity ("track:42"); an impression's count shown.
    position  INTEGER,
    entity    TEXT,
    shown     INTEGER
);

CREATE INDEX click_log_query_id ON click_log (query_id);
CREATE INDEX click_log_logged_at ON click_log (logged_at);
