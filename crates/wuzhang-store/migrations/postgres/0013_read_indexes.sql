-- Indexes that match the reads of issue 31: the command center's listing newest first
-- (by subdistrict, then state or grid), the open-ticket counts of the overview, and the
-- chiefs' inbox by deadline. With ~1M open tickets in one subdistrict these reads sorted
-- or counted the subdistrict's whole history (GetOverview 915 ms, ListTickets 411 ms,
-- ListInbox 320 ms).
--
-- Every index here is also written by intake, so each one is there for a read that needs
-- it, and the ones they make redundant go. None holds a column an escalation changes
-- (level, due times, assignment, updated_at, version): escalations stay HOT (0009, 0010).
-- The open-only indexes are partial on the open states; the store's queries repeat the
-- predicate literally whenever they ask only for open tickets (query.rs, OPEN_STATES), so
-- the planner can use them whatever the bound parameters are.

-- Newest first, the key order of a page (created_at, id): replaces (subdistrict_code,
-- created_at). Read backwards for the newest first; also the created_at ranges.
DROP INDEX tickets_created_idx;
CREATE INDEX tickets_newest_idx ON tickets (subdistrict_code, created_at, id);

-- One state, newest first; also the per-state counts (index only). Replaces
-- (subdistrict_code, state), its prefix.
DROP INDEX tickets_state_idx;
CREATE INDEX tickets_state_newest_idx ON tickets (subdistrict_code, state, created_at, id);

-- One grid, newest first: the drill-down from the overview's grid loads. Without it a
-- quiet grid's first page reads the subdistrict's history until it finds 50.
CREATE INDEX tickets_grid_newest_idx ON tickets (subdistrict_code, grid_code, created_at, id);

-- Open tickets only, newest first, with their grid: the overdue listing (the due times
-- are read from the row: indexing them would make every escalation a non-HOT update),
-- listings of open states, and the open and overdue counts per grid, which read only the
-- open tickets instead of the whole history. Shrinks as tickets close.
CREATE INDEX tickets_open_idx ON tickets (subdistrict_code, created_at, id) INCLUDE (grid_code)
  WHERE state IN ('submitted', 'assigned', 'accepted');

-- The overview's supervised and pause-request counts: a few rows each. A new ticket is
-- neither, so intake writes no entry in them. Issuing a supervision order or changing the
-- pause is no longer a HOT update (the predicates read those columns): command-center
-- and desk actions, rare beside escalations, whose pause is none before and after.
CREATE INDEX tickets_supervised_open_idx ON tickets (subdistrict_code)
  WHERE supervision IS NOT NULL AND state IN ('submitted', 'assigned', 'accepted');
CREATE INDEX tickets_pause_requested_idx ON tickets (subdistrict_code)
  WHERE pause = 'requested' AND state IN ('submitted', 'assigned', 'accepted');

-- The inbox: an area's open tickets, nearest deadline first, then oldest. The assignment
-- lives here (0009) and changes with every escalation, so the inbox's order key lives here
-- too, where an escalation writes a new row version anyway: `due_at` is the ticket's
-- deadline as the inbox sorts it (accept, else resolve, else the no-deadline sentinel)
-- while the ticket is open, NULL once it is not; `created_at` is the ticket's, for the
-- tie. The ticket writes keep them with the assignment (postgres/rows.rs
-- `assignees_update`): a change of deadline or of open-ness now also writes this narrow
-- row. Escalations wrote it anyway; the others are accepting, resolving and closing
-- (which change the indexed state, so were never HOT) and the desk's pause and resume.
ALTER TABLE ticket_assignees
  ADD COLUMN due_at timestamptz,
  ADD COLUMN created_at timestamptz;

UPDATE ticket_assignees a
SET due_at = CASE WHEN t.state IN ('submitted', 'assigned', 'accepted')
                  THEN COALESCE(t.accept_due_at, t.resolve_due_at,
                                '9999-12-31 23:59:59.999999+00'::timestamptz) END,
    created_at = t.created_at
FROM tickets t
WHERE t.subdistrict_code = a.subdistrict_code AND t.id = a.ticket_id;

-- Replaces (assignee_area_code), its prefix. Closed tickets (due_at NULL) sort after the
-- open ones, so an open-only inbox reads exactly its own entries.
DROP INDEX ticket_assignees_area_idx;
CREATE INDEX ticket_assignees_inbox_idx
  ON ticket_assignees (assignee_area_code, due_at, created_at, ticket_id);
