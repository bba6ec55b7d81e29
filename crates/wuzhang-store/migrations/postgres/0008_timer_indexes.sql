-- Every escalation deletes and writes a ticket's timers (three of them: warning, accept,
-- resolve), so each index on `timers` costs three entries per escalation. Two of the four
-- served no query any more: the claim and the due-subdistrict scan use timers_claim_idx
-- (0006), and a ticket's timers are found through its subdistrict and the primary key
-- (list_timers looks the subdistrict up in `tickets` first).
DROP INDEX timers_due_idx;
DROP INDEX timers_ticket_idx;

-- A queue: every row is deleted within its ticket's deadlines, so the table is mostly dead
-- tuples between vacuums under the default (20% of the table). Vacuum it after 1% or
-- 1,000 rows instead, which keeps the claim's index scans short.
ALTER TABLE timers SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);
