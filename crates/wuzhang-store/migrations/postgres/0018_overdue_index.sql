-- The overdue test through an index (issue 31). Overdue means open and past the nearest
-- deadline; the due times are in no index of `tickets` (so that escalations stay HOT,
-- 0009 and 0013), so every overdue count and the overdue listing read the heap row of
-- every open ticket of the subdistrict to find the few late ones (55,458 rows read for
-- 549 overdue: GetOverview p95 120 ms, the overdue listing 131 ms, BENCHMARKS.md).
--
-- `ticket_assignees.due_at` already holds an open ticket's deadline key, written with
-- every change of deadline (0013). It becomes the *nearest* deadline (LEAST of accept and
-- resolve: until now the accept deadline, else the resolve one; the same wherever the
-- accept deadline comes first, which is every ticket but one whose accept clock was
-- restarted by an escalation while its resolve clock ran on), so that one key answers
-- both the inbox's order and "overdue at t": due_at < t. Indexed by subdistrict here,
-- the overdue tickets are a short range of this narrow table.
UPDATE ticket_assignees a
SET due_at = LEAST(t.accept_due_at, t.resolve_due_at)
FROM tickets t
WHERE t.subdistrict_code = a.subdistrict_code AND t.id = a.ticket_id
  AND t.state IN ('submitted', 'assigned', 'accepted')
  AND LEAST(t.accept_due_at, t.resolve_due_at) IS DISTINCT FROM COALESCE(t.accept_due_at, t.resolve_due_at);

-- Open tickets only (due_at is NULL once closed), so the index shrinks as tickets close;
-- with the ticket's id, which is all the overdue test reads (index only).
CREATE INDEX ticket_assignees_due_idx ON ticket_assignees (subdistrict_code, due_at)
  INCLUDE (ticket_id) WHERE due_at IS NOT NULL;
