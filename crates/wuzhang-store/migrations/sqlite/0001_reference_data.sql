-- Reference data: the area tree with its geometry, the roster of chiefs, categories.
-- Same tables and meaning as migrations/postgres/0001; SQLite keeps geometry as the WKB
-- it was given (spatial work happens in the in-memory index) and times as INTEGER unix
-- microseconds (the precision Postgres keeps), so both round-trip the same values.

CREATE TABLE areas (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    -- No foreign key: a batch may bring parents after their children. The store checks
    -- parents (existence and level) inside the writing transaction instead.
    parent_code TEXT,
    community   TEXT,
    -- Bbox listings are plain comparisons on these.
    min_lng     REAL,
    min_lat     REAL,
    max_lng     REAL,
    max_lat     REAL,
    geom        BLOB, -- OGC WKB, 2D MultiPolygon in WGS84
    updated_at  INTEGER NOT NULL -- unix microseconds
);
CREATE INDEX areas_parent_code_idx ON areas (parent_code);
CREATE INDEX areas_level_bbox_idx ON areas (level, min_lng, max_lng, min_lat, max_lat);

-- One row, bumped once per `upsert_areas`; processes poll it to rebuild their index.
CREATE TABLE area_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
INSERT INTO area_changes (id, counter) VALUES (1, 0);

CREATE TABLE persons (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    phone TEXT
);

CREATE TABLE posts (
    area_code TEXT PRIMARY KEY REFERENCES areas (code),
    level     TEXT NOT NULL,
    holder    TEXT REFERENCES persons (id),
    deputy    TEXT REFERENCES persons (id),
    -- JSON array of {"from","until"} (RFC 3339): read and written whole with the post.
    leave     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX posts_holder_idx ON posts (holder);
CREATE INDEX posts_deputy_idx ON posts (deputy);

-- Durations are whole seconds (the `_s` columns): categories are configured in minutes
-- and hours, and the store refuses sub-second durations rather than round them.
CREATE TABLE categories (
    code               TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    parent_code        TEXT,
    kind               TEXT NOT NULL,
    start_level        TEXT NOT NULL,
    accept_within_s    INTEGER NOT NULL,
    resolve_within_s   INTEGER NOT NULL,
    deadline_kind      TEXT NOT NULL,
    urgent             INTEGER NOT NULL,
    calendar_code      TEXT NOT NULL,
    duplicate_radius_m REAL NOT NULL,
    duplicate_window_s INTEGER NOT NULL,
    active             INTEGER NOT NULL
);
