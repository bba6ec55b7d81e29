-- The ticket side: tickets, their append-only events, timers, idempotency records.
--
-- Every ticket-side table carries `subdistrict_code` and has it first in every primary and
-- unique key that matters, so this schema can be distributed with Citus by subdistrict
-- (`SELECT create_distributed_table('tickets', 'subdistrict_code')`, then the others
-- colocated with it) when one machine is not enough. Queries that lock rows (the ticket
-- update, the timer claim) filter by subdistrict, so each touches exactly one shard.
-- Subdistrict codes sort byte-wise (COLLATE "C"), as on SQLite.

CREATE TABLE tickets (
    subdistrict_code   TEXT COLLATE "C" NOT NULL,
    id                 UUID NOT NULL,
    grid_code          TEXT NOT NULL,
    state              TEXT NOT NULL,
    -- The assignment, flattened; all three NULL before routing.
    level              TEXT,
    assignee_area_code TEXT,
    assignee_person_id TEXT,
    -- The report.
    category_code      TEXT NOT NULL,
    description        TEXT NOT NULL,
    lat                DOUBLE PRECISION NOT NULL,
    lng                DOUBLE PRECISION NOT NULL,
    crs                TEXT NOT NULL,
    original_lat       DOUBLE PRECISION NOT NULL,
    original_lng       DOUBLE PRECISION NOT NULL,
    original_crs       TEXT NOT NULL,
    address            TEXT NOT NULL,
    building_code      TEXT,
    unit_code          TEXT,
    media_urls         TEXT NOT NULL, -- JSON array of strings
    contact_phone      TEXT,
    reporter_id        TEXT NOT NULL,
    urgent             BOOLEAN NOT NULL,
    -- Clocks and bookkeeping.
    accept_due_at      TIMESTAMPTZ,
    resolve_due_at     TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    duplicate_of       UUID,
    pause              TEXT NOT NULL,
    rating_stars       SMALLINT,
    rating_not_solved  BOOLEAN,
    rating_comment     TEXT,
    version            BIGINT NOT NULL,
    PRIMARY KEY (subdistrict_code, id)
);
-- Lookups by id alone (the id is globally unique; the store checks it on create).
CREATE INDEX tickets_id_idx ON tickets (id);
CREATE INDEX tickets_reporter_idx ON tickets (reporter_id, created_at);
CREATE INDEX tickets_state_idx ON tickets (subdistrict_code, state);
CREATE INDEX tickets_created_idx ON tickets (subdistrict_code, created_at);
CREATE INDEX tickets_assignee_person_idx ON tickets (assignee_person_id);
CREATE INDEX tickets_assignee_area_idx ON tickets (assignee_area_code);

-- Append-only. `cursor` orders the global log for streams; `seq` numbers one ticket's history.
CREATE TABLE ticket_events (
    cursor             BIGSERIAL NOT NULL,
    subdistrict_code   TEXT COLLATE "C" NOT NULL,
    ticket_id          UUID NOT NULL,
    seq                BIGINT NOT NULL,
    kind               TEXT NOT NULL,
    actor              TEXT NOT NULL,
    from_state         TEXT,
    to_state           TEXT NOT NULL,
    level              TEXT,
    assignee_person_id TEXT,
    note               TEXT NOT NULL,
    at                 TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id, seq),
    FOREIGN KEY (subdistrict_code, ticket_id) REFERENCES tickets (subdistrict_code, id)
);
CREATE INDEX ticket_events_cursor_idx ON ticket_events (cursor);
CREATE INDEX ticket_events_subdistrict_cursor_idx ON ticket_events (subdistrict_code, cursor);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, seq);

-- At most one timer of each kind per ticket.
CREATE TABLE timers (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    ticket_id        UUID NOT NULL,
    kind             TEXT NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    level            TEXT NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id, kind),
    FOREIGN KEY (subdistrict_code, ticket_id) REFERENCES tickets (subdistrict_code, id)
);
-- The worker's claim: one subdistrict, earliest due first.
CREATE INDEX timers_subdistrict_due_idx ON timers (subdistrict_code, due_at);
CREATE INDEX timers_due_idx ON timers (due_at);
CREATE INDEX timers_ticket_idx ON timers (ticket_id);

-- Keyed by caller and request, not by subdistrict: under Citus it is distributed by scope
-- (a ticket write then touches two shards in one distributed transaction).
CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    response     BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, request_id)
);
CREATE INDEX idempotency_created_idx ON idempotency (created_at);
