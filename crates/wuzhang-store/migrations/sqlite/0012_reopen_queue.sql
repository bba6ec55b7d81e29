-- The command center's reopen queue and the category flag that skips it (the Postgres
-- migration 0015 explains both). SQLite uses the partial index only for a query that has
-- its predicate as written: query.rs REOPEN_REQUESTED is this text.

ALTER TABLE categories ADD COLUMN reopen_on_not_solved INTEGER NOT NULL DEFAULT 0;

CREATE INDEX tickets_reopen_requested_idx ON tickets (subdistrict_code, created_at, id)
  WHERE rating_not_solved = TRUE;
