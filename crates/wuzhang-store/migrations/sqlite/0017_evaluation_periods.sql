-- Evaluation keeps emergency mode and peacetime apart (the Postgres migration 0020
-- explains it). SQLite cannot change a primary key: the table is made again.
CREATE TABLE evaluation_rollups_new (
    subdistrict_code   TEXT NOT NULL,
    scope              TEXT NOT NULL,
    day                INTEGER NOT NULL,
    key                TEXT NOT NULL,
    level              TEXT NOT NULL,
    emergency          INTEGER NOT NULL DEFAULT 0,
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
    PRIMARY KEY (subdistrict_code, scope, day, key, level, emergency)
);
INSERT INTO evaluation_rollups_new (subdistrict_code, scope, day, key, level, emergency,
    reported, received, accepted, accepted_on_time, resolved, resolved_on_time, reopened,
    rated, satisfied, closed, closed_on_time, overdue, escalations, supervision_orders,
    handling_seconds, response_seconds)
SELECT subdistrict_code, scope, day, key, level, 0,
    reported, received, accepted, accepted_on_time, resolved, resolved_on_time, reopened,
    rated, satisfied, closed, closed_on_time, overdue, escalations, supervision_orders,
    handling_seconds, response_seconds
FROM evaluation_rollups;
DROP TABLE evaluation_rollups;
ALTER TABLE evaluation_rollups_new RENAME TO evaluation_rollups;
CREATE INDEX evaluation_rollups_scope_day_idx ON evaluation_rollups (scope, day);
