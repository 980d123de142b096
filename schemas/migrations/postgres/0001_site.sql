-- The site's tables (DESIGN.md, "The site's database"). Disco only reads them; seed and
-- simulate write them as the site would. Every change to an entity row moves updated_at.

CREATE TABLE users (
    id          BIGINT PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    full_name   TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    city        TEXT NOT NULL DEFAULT '',
    country     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ,
    taken_down  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE tracks (
    id          BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    genre       TEXT NOT NULL DEFAULT '',
    tags        TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL DEFAULT 0,
    sharing     TEXT NOT NULL DEFAULT 'public' CHECK (sharing IN ('public', 'private')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ,
    taken_down  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE playlists (
    id          BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    sharing     TEXT NOT NULL DEFAULT 'public' CHECK (sharing IN ('public', 'private')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ,
    taken_down  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE groups (
    id          BIGINT PRIMARY KEY,
    creator_id  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ,
    taken_down  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE playlist_tracks (
    playlist_id BIGINT NOT NULL,
    track_id    BIGINT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (playlist_id, position)
);

CREATE TABLE group_members (
    group_id   BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE group_tracks (
    group_id   BIGINT NOT NULL,
    track_id   BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, track_id)
);

CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);

CREATE TABLE likes (
    user_id     BIGINT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('track', 'playlist')),
    target_id   BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, target_kind, target_id)
);

CREATE TABLE reposts (
    user_id     BIGINT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('track', 'playlist')),
    target_id   BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, target_kind, target_id)
);

CREATE TABLE comments (
    id         BIGINT PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    track_id   BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE plays (
    user_id        BIGINT NOT NULL,
    track_id       BIGINT NOT NULL,
    count          BIGINT NOT NULL DEFAULT 1,
    last_played_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, track_id)
);

-- Hydration joins owners by id (primary keys cover `WHERE id = ANY($1)`); counts and the rank
-- job scan activities by their target; reindex scans entities in id order (primary keys).
CREATE INDEX tracks_user_id ON tracks (user_id);
CREATE INDEX playlists_user_id ON playlists (user_id);
CREATE INDEX groups_creator_id ON groups (creator_id);
CREATE INDEX playlist_tracks_track_id ON playlist_tracks (track_id);
CREATE INDEX group_members_user_id ON group_members (user_id);
CREATE INDEX group_tracks_track_id ON group_tracks (track_id);
CREATE INDEX follows_followee_id ON follows (followee_id);
CREATE INDEX likes_target ON likes (target_kind, target_id);
CREATE INDEX reposts_target ON reposts (target_kind, target_id);
CREATE INDEX comments_track_id ON comments (track_id);
CREATE INDEX plays_track_id ON plays (track_id);
