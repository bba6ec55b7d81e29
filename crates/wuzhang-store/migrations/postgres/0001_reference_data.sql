-- Reference data: the area tree with its geometry, the roster of chiefs, categories.
-- Small, read-mostly tables; under Citus they become reference tables (copied to every node).
--
-- Codes sort byte-wise (COLLATE "C") whatever the database's locale, so listings and page
-- tokens order exactly as on SQLite, and the primary-key indexes serve `code > $1`.
--
-- No schema names anywhere: the migrations run in whatever schema `search_path` selects
-- (the conformance suite gives every test its own schema; PostGIS lives in `public`).

-- A no-op where PostGIS is already installed (the test database, most managed databases);
-- lets `wuzhang migrate` prepare an empty production database on its own.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE areas (
    code        TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    -- No foreign key: a batch may bring parents after their children. The store checks
    -- parents (existence and level) inside the writing transaction instead.
    parent_code TEXT COLLATE "C",
    community   TEXT,
    -- The envelope as the importer gave it (or as computed from the geometry): exact
    -- double comparisons on these make bbox listings answer the same as on SQLite.
    min_lng     DOUBLE PRECISION,
    min_lat     DOUBLE PRECISION,
    max_lng     DOUBLE PRECISION,
    max_lat     DOUBLE PRECISION,
    geom        geometry(MultiPolygon, 4326),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX areas_parent_code_idx ON areas (parent_code);
CREATE INDEX areas_level_code_idx ON areas (level, code);
-- For spatial SQL on the footprints (point-in-polygon, nearest grid).
CREATE INDEX areas_geom_idx ON areas USING GIST (geom);
-- For bbox listings: the index narrows by the (outward-rounded) envelope, the exact
-- comparisons on the columns decide.
CREATE INDEX areas_bbox_idx ON areas
    USING GIST (ST_MakeEnvelope(min_lng, min_lat, max_lng, max_lat, 4326));

-- One row, bumped once per `upsert_areas`; processes poll it to rebuild their index.
CREATE TABLE area_changes (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    counter BIGINT NOT NULL
);
INSERT INTO area_changes (id, counter) VALUES (1, 0);

CREATE TABLE persons (
    id    TEXT COLLATE "C" PRIMARY KEY,
    name  TEXT NOT NULL,
    phone TEXT
);

CREATE TABLE posts (
    area_code TEXT COLLATE "C" PRIMARY KEY REFERENCES areas (code),
    level     TEXT NOT NULL,
    holder    TEXT COLLATE "C" REFERENCES persons (id),
    deputy    TEXT COLLATE "C" REFERENCES persons (id),
    -- JSON array of {"from","until"} (RFC 3339): read and written whole with the post.
    leave     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX posts_holder_idx ON posts (holder);
CREATE INDEX posts_deputy_idx ON posts (deputy);

-- Durations are whole seconds (the `_s` columns): categories are configured in minutes
-- and hours, and the store refuses sub-second durations rather than round them.
CREATE TABLE categories (
    code               TEXT COLLATE "C" PRIMARY KEY,
    name               TEXT NOT NULL,
    parent_code        TEXT,
    kind               TEXT NOT NULL,
    start_level        TEXT NOT NULL,
    accept_within_s    BIGINT NOT NULL,
    resolve_within_s   BIGINT NOT NULL,
    deadline_kind      TEXT NOT NULL,
    urgent             BOOLEAN NOT NULL,
    calendar_code      TEXT NOT NULL,
    duplicate_radius_m DOUBLE PRECISION NOT NULL,
    duplicate_window_s BIGINT NOT NULL,
    active             BOOLEAN NOT NULL
);
