-- The overdue test through an index (the Postgres migration 0018 explains why). The
-- deadline key becomes the nearest deadline (the smaller of accept and resolve, else the
-- no-deadline sentinel, token.rs NO_DEADLINE_MICROS; SQLite's min() of several arguments
-- is NULL if any is, so each stands in as the sentinel): the inbox index is rebuilt on it,
-- and a second index holds it by subdistrict for the overdue counts and listing. SQLite
-- matches an indexed expression only as the query spells it: sqlite/rows.rs `inbox_due`
-- is this expression.
DROP INDEX tickets_inbox_idx;
CREATE INDEX tickets_inbox_idx ON tickets (
  assignee_area_code,
  (CASE WHEN state IN ('submitted', 'assigned', 'accepted')
        THEN min(COALESCE(accept_due_at, 253402300799999999),
                 COALESCE(resolve_due_at, 253402300799999999)) END),
  created_at,
  id);

CREATE INDEX tickets_due_idx ON tickets (
  subdistrict_code,
  (CASE WHEN state IN ('submitted', 'assigned', 'accepted')
        THEN min(COALESCE(accept_due_at, 253402300799999999),
                 COALESCE(resolve_due_at, 253402300799999999)) END))
  WHERE state IN ('submitted', 'assigned', 'accepted');
