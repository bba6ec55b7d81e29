-- The command center's reopen queue (issue 22): tickets whose resident rated them
-- not_solved and that no one has reopened yet (a reopen clears the rating), and the
-- category flag that reopens them at once instead.

-- Default false: the command center decides, as before.
ALTER TABLE categories ADD COLUMN reopen_on_not_solved boolean NOT NULL DEFAULT false;

-- The queue newest first, and the overview's count of it: a few rows per subdistrict
-- where the state index would read its whole resolved and closed history. The store's
-- queries spell the predicate term for term (query.rs, REOPEN_REQUESTED). A rating is
-- written once per ticket and a reopen clears it, so intake never writes an entry here.
-- Only RESOLVED and CLOSED tickets carry a rating (the domain's invariant), so the
-- predicate needs no state.
CREATE INDEX tickets_reopen_requested_idx ON tickets (subdistrict_code, created_at, id)
  WHERE rating_not_solved = TRUE;
