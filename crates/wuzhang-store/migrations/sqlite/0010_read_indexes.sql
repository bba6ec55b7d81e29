-- Indexes that match the reads of issue 31 (the Postgres migration 0013 explains each).
-- The open-only ones are partial on the open states; the store's queries repeat the
-- predicate term for term whenever they ask only for open tickets (query.rs,
-- OPEN_STATES), which is what SQLite needs to use a partial index.

DROP INDEX tickets_created_idx;
CREATE INDEX tickets_newest_idx ON tickets (subdistrict_code, created_at, id);

DROP INDEX tickets_state_idx;
CREATE INDEX tickets_state_newest_idx ON tickets (subdistrict_code, state, created_at, id);

CREATE INDEX tickets_grid_newest_idx ON tickets (subdistrict_code, grid_code, created_at, id);

CREATE INDEX tickets_open_idx ON tickets (subdistrict_code, created_at, id, grid_code)
  WHERE state IN ('submitted', 'assigned', 'accepted');

CREATE INDEX tickets_supervised_open_idx ON tickets (subdistrict_code)
  WHERE supervision IS NOT NULL AND state IN ('submitted', 'assigned', 'accepted');
CREATE INDEX tickets_pause_requested_idx ON tickets (subdistrict_code)
  WHERE pause = 'requested' AND state IN ('submitted', 'assigned', 'accepted');

-- The inbox: an area's open tickets by deadline (accept, else resolve, else the
-- no-deadline sentinel, token.rs NO_DEADLINE_MICROS), then oldest. The deadline key is
-- NULL for a ticket that is not open, so these sort after the open ones and an open-only
-- inbox reads exactly its own entries. SQLite matches an indexed expression only if the
-- query spells it the same: sqlite/rows.rs `inbox_due` is this expression. Replaces
-- (assignee_area_code), its prefix.
DROP INDEX tickets_assignee_area_idx;
CREATE INDEX tickets_inbox_idx ON tickets (
  assignee_area_code,
  (CASE WHEN state IN ('submitted', 'assigned', 'accepted')
        THEN COALESCE(accept_due_at, resolve_due_at, 253402300799999999) END),
  created_at,
  id);
