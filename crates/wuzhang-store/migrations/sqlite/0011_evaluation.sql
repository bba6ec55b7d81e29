-- Evaluation (考评) and the dashboard's counts, kept as projections of the event log.
--
-- Each event records the ticket's deadlines after it and, on a rating, the rating, so that
-- evaluation is a function of the log alone (the rules: docs/evaluation.md). Events stored
-- before this migration have none; evaluation counts their work as on time.
-- Times in microseconds since the epoch, as everywhere on SQLite; days as Julian day numbers.
ALTER TABLE ticket_events ADD COLUMN accept_due_at INTEGER;
ALTER TABLE ticket_events ADD COLUMN resolve_due_at INTEGER;
ALTER TABLE ticket_events ADD COLUMN rating_stars INTEGER;
ALTER TABLE ticket_events ADD COLUMN rating_not_solved INTEGER;

-- How far each projection has read the event log. A step of a projection moves its cursor
-- and writes what it derived in one transaction, so each event is counted exactly once
-- whichever replica takes the step. Starting at 0, the first run backfills from history.
CREATE TABLE projection_cursors (
    name   TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO projection_cursors (name, cursor) VALUES ('rollups', 0);

-- Each ticket's evaluation state between events (wuzhang_domain::evaluation::Ledger) and
-- the areas its area rows count on, both JSON.
CREATE TABLE evaluation_ledgers (
    subdistrict_code TEXT NOT NULL,
    ticket_id        TEXT NOT NULL,
    place            TEXT NOT NULL,
    ledger           TEXT NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id)
);

-- Figures by local day (Asia/Shanghai) of receipt and key: chief rows by person and level,
-- area rows (level '') by grid, lane, street and subdistrict. Additive: a period is the sum
-- of its days.
CREATE TABLE evaluation_rollups (
    subdistrict_code   TEXT NOT NULL,
    scope              TEXT NOT NULL,
    day                INTEGER NOT NULL,
    key                TEXT NOT NULL,
    level              TEXT NOT NULL,
    reported           INTEGER NOT NULL,
    received           INTEGER NOT NULL,
    accepted           INTEGER NOT NULL,
    accepted_on_time   INTEGER NOT NULL,
    resolved           INTEGER NOT NULL,
    resolved_on_time   INTEGER NOT NULL,
    reopened           INTEGER NOT NULL,
    rated              INTEGER NOT NULL,
    satisfied          INTEGER NOT NULL,
    closed             INTEGER NOT NULL,
    closed_on_time     INTEGER NOT NULL,
    overdue            INTEGER NOT NULL,
    escalations        INTEGER NOT NULL,
    supervision_orders INTEGER NOT NULL,
    handling_seconds   INTEGER NOT NULL,
    response_seconds   INTEGER NOT NULL,
    PRIMARY KEY (subdistrict_code, scope, day, key, level)
);
-- Admins compare every subdistrict: by scope and day across them.
CREATE INDEX evaluation_rollups_scope_day_idx ON evaluation_rollups (scope, day);

-- Tickets per state, per subdistrict: the dashboard's counts without counting history.
CREATE TABLE ticket_state_counts (
    subdistrict_code TEXT NOT NULL,
    state            TEXT NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (subdistrict_code, state)
);

-- Events per kind and local day, per subdistrict ("escalations today").
CREATE TABLE event_day_counts (
    subdistrict_code TEXT NOT NULL,
    day              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (subdistrict_code, day, kind)
);
