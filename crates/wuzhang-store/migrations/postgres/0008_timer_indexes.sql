-- Every escalation deletes and writes a ticket's timers (three of them: warning, accept,
-- resolve), so each index on `timers` costs three entries per escalation. Two of the four
-- served no query any more: the claim and the due-subdistrict scan use timers_claim_idx
-- (0006), and a ticket's timers are found through its subdistrict and the primary key
-- (list_timers looks the subdistrict up in `tickets` first).
DROP INDEX timers_due_idx;
DROP INDEX timers_ticket_idx;
