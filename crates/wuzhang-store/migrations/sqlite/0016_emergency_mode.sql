-- Emergency mode (the Postgres migration 0019 explains each part).
ALTER TABLE tickets ADD COLUMN clock_rate INTEGER NOT NULL DEFAULT 100;

CREATE TABLE emergency_modes (
    subdistrict_code TEXT PRIMARY KEY,
    rate             INTEGER NOT NULL,
    since            INTEGER NOT NULL,
    switched_by      TEXT NOT NULL,
    reason           TEXT NOT NULL
);

CREATE TABLE emergency_switches (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subdistrict_code TEXT NOT NULL,
    rate             INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    switched_by      TEXT NOT NULL,
    reason           TEXT NOT NULL
);
CREATE INDEX emergency_switches_sub_idx ON emergency_switches (subdistrict_code, at);

-- A switch bumps its own reference counter, in its transaction, so every process's
-- reference cache drops the modes it holds within its check interval (and the process
-- that switched, at once), as for the roster and categories (0007).
ALTER TABLE reference_changes ADD COLUMN emergency INTEGER NOT NULL DEFAULT 0;
