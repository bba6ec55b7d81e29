-- Emergency mode (战时, of 平战结合; domain `emergency`): a subdistrict's clocks run
-- faster while it is on.
--
-- Each ticket keeps the rate its clocks run at, in hundredths (100: peacetime), so that
-- a switch is carried out ticket by ticket and can be finished by whoever comes next
-- (a ticket whose rate differs from its subdistrict's mode has not been switched yet).
-- The batch writer sends every ticket column (postgres/rows.rs encodes it last).
ALTER TABLE tickets ADD COLUMN clock_rate int2 NOT NULL DEFAULT 100;
ALTER TYPE batch_ticket ADD ATTRIBUTE clock_rate int2;

-- The mode of each subdistrict as switched last (no row: peacetime, never switched).
CREATE TABLE emergency_modes (
    subdistrict_code TEXT COLLATE "C" PRIMARY KEY,
    rate             int2 NOT NULL,
    since            timestamptz NOT NULL,
    switched_by      TEXT NOT NULL,
    reason           TEXT NOT NULL
);

-- Every switch, on and off, in order: evaluation and the audit read the periods here.
CREATE TABLE emergency_switches (
    id               BIGSERIAL PRIMARY KEY,
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    rate             int2 NOT NULL,
    at               timestamptz NOT NULL,
    switched_by      TEXT NOT NULL,
    reason           TEXT NOT NULL
);
CREATE INDEX emergency_switches_sub_idx ON emergency_switches (subdistrict_code, at);

-- A switch bumps its own reference counter, in its transaction, so every process's
-- reference cache drops the modes it holds within its check interval (and the process
-- that switched, at once), as for the roster and categories (0007).
ALTER TABLE reference_changes ADD COLUMN emergency BIGINT NOT NULL DEFAULT 0;
