-- The claim reads one subdistrict's due timers in (due_at, ticket_id, kind) order with a
-- LIMIT: with the whole order in the index it stops after the batch, instead of sorting
-- every due timer of the subdistrict on each round.
DROP INDEX timers_subdistrict_due_idx;
CREATE INDEX timers_claim_idx ON timers (subdistrict_code, due_at, ticket_id, kind);
