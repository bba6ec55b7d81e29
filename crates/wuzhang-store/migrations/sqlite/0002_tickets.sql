-- The ticket side, as in migrations/postgres/0002: every table carries `subdistrict_code`
-- first in its keys (the Postgres schema is distributed by it; here it keeps the two
-- schemas and their queries alike). Ids are hyphenated lowercase UUID text, which sorts
-- like Postgres' `uuid`; times are INTEGER unix microseconds.

CREATE TABLE tickets (
    subdistrict_code   TEXT NOT NULL,
    id                 TEXT NOT NULL,
    grid_code          TEXT NOT NULL,
    state              TEXT NOT NULL,
    level              TEXT,
    assignee_area_code TEXT,
    assignee_person_id TEXT,
    category_code      TEXT NOT NULL,
    description        TEXT NOT NULL,
    lat                REAL NOT NULL,
    lng                REAL NOT NULL,
    crs                TEXT NOT NULL,
    original_lat       REAL NOT NULL,
    original_lng       REAL NOT NULL,
    original_crs       TEXT NOT NULL,
    address            TEXT NOT NULL,
    building_code      TEXT,
    unit_code          TEXT,
    media_urls         TEXT NOT NULL, -- JSON array of strings
    contact_phone      TEXT,
    reporter_id        TEXT NOT NULL,
    urgent             INTEGER NOT NULL,
    accept_due_at      INTEGER,
    resolve_due_at     INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    duplicate_of       TEXT,
    pause              TEXT NOT NULL,
    rating_stars       INTEGER,
    rating_not_solved  INTEGER,
    rating_comment     TEXT,
    version            INTEGER NOT NULL,
    PRIMARY KEY (subdistrict_code, id)
);
CREATE INDEX tickets_id_idx ON tickets (id);
CREATE INDEX tickets_reporter_idx ON tickets (reporter_id, created_at);
CREATE INDEX tickets_state_idx ON tickets (subdistrict_code, state);
CREATE INDEX tickets_created_idx ON tickets (subdistrict_code, created_at);
CREATE INDEX tickets_assignee_person_idx ON tickets (assignee_person_id);
CREATE INDEX tickets_assignee_area_idx ON tickets (assignee_area_code);

-- Append-only. AUTOINCREMENT: a cursor is never reused, even after the newest row is gone.
CREATE TABLE ticket_events (
    cursor             INTEGER PRIMARY KEY AUTOINCREMENT,
    subdistrict_code   TEXT NOT NULL,
    ticket_id          TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    kind               TEXT NOT NULL,
    actor              TEXT NOT NULL,
    from_state         TEXT,
    to_state           TEXT NOT NULL,
    level              TEXT,
    assignee_person_id TEXT,
    note               TEXT NOT NULL,
    at                 INTEGER NOT NULL,
    UNIQUE (subdistrict_code, ticket_id, seq),
    FOREIGN KEY (subdistrict_code, ticket_id) REFERENCES tickets (subdistrict_code, id)
);
CREATE INDEX ticket_events_subdistrict_cursor_idx ON ticket_events (subdistrict_code, cursor);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, seq);

CREATE TABLE timers (
    subdistrict_code TEXT NOT NULL,
    ticket_id        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    due_at           INTEGER NOT NULL,
    level            TEXT NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id, kind),
    FOREIGN KEY (subdistrict_code, ticket_id) REFERENCES tickets (subdistrict_code, id)
);
CREATE INDEX timers_subdistrict_due_idx ON timers (subdistrict_code, due_at);
CREATE INDEX timers_due_idx ON timers (due_at);
CREATE INDEX timers_ticket_idx ON timers (ticket_id);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, request_id)
);
CREATE INDEX idempotency_created_idx ON idempotency (created_at);
