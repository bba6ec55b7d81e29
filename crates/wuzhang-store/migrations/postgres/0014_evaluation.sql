-- Evaluation (考评) and the dashboard's counts, kept as projections of the event log.
--
-- Each event records the ticket's deadlines after it and, on a rating, the rating, so that
-- evaluation is a function of the log alone (the rules: docs/evaluation.md). Events stored
-- before this migration have none; evaluation counts their work as on time.
ALTER TABLE ticket_events
  ADD COLUMN accept_due_at timestamptz,
  ADD COLUMN resolve_due_at timestamptz,
  ADD COLUMN rating_stars int2,
  ADD COLUMN rating_not_solved boolean;

ALTER TYPE batch_event
  ADD ATTRIBUTE accept_due_at timestamptz,
  ADD ATTRIBUTE resolve_due_at timestamptz,
  ADD ATTRIBUTE rating_stars int2,
  ADD ATTRIBUTE rating_not_solved boolean;

-- How far each projection has read the event log. A step of a projection moves its cursor
-- and writes what it derived in one transaction, so each event is counted exactly once
-- whichever replica takes the step. Starting at 0, the first run backfills from history.
CREATE TABLE projection_cursors (
    name   TEXT PRIMARY KEY,
    cursor BIGINT NOT NULL
);
INSERT INTO projection_cursors (name, cursor) VALUES ('rollups', 0);

-- Each ticket's evaluation state between events (wuzhang_domain::evaluation::Ledger) and
-- the areas its area rows count on, both JSON.
CREATE TABLE evaluation_ledgers (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    ticket_id        UUID NOT NULL,
    place            TEXT NOT NULL,
    ledger           TEXT NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id)
);

-- Figures by local day (Asia/Shanghai) of receipt and key: chief rows by person and level,
-- area rows (level '') by grid, lane, street and subdistrict. Additive: a period is the sum
-- of its days.
CREATE TABLE evaluation_rollups (
    subdistrict_code   TEXT COLLATE "C" NOT NULL,
    scope              TEXT NOT NULL,
    day                DATE NOT NULL,
    key                TEXT COLLATE "C" NOT NULL,
    level              TEXT NOT NULL,
    reported           BIGINT NOT NULL,
    received           BIGINT NOT NULL,
    accepted           BIGINT NOT NULL,
    accepted_on_time   BIGINT NOT NULL,
    resolved           BIGINT NOT NULL,
    resolved_on_time   BIGINT NOT NULL,
    reopened           BIGINT NOT NULL,
    rated              BIGINT NOT NULL,
    satisfied          BIGINT NOT NULL,
    closed             BIGINT NOT NULL,
    closed_on_time     BIGINT NOT NULL,
    overdue            BIGINT NOT NULL,
    escalations        BIGINT NOT NULL,
    supervision_orders BIGINT NOT NULL,
    handling_seconds   BIGINT NOT NULL,
    response_seconds   BIGINT NOT NULL,
    PRIMARY KEY (subdistrict_code, scope, day, key, level)
);
-- Admins compare every subdistrict: by scope and day across them.
CREATE INDEX evaluation_rollups_scope_day_idx ON evaluation_rollups (scope, day);

-- Tickets per state, per subdistrict: the dashboard's counts without counting history.
CREATE TABLE ticket_state_counts (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    state            TEXT NOT NULL,
    n                BIGINT NOT NULL,
    PRIMARY KEY (subdistrict_code, state)
);

-- Events per kind and local day, per subdistrict ("escalations today").
CREATE TABLE event_day_counts (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    day              DATE NOT NULL,
    kind             TEXT NOT NULL,
    n                BIGINT NOT NULL,
    PRIMARY KEY (subdistrict_code, day, kind)
);
