-- Events, timers and followers are written only by the store, in the same transaction as
-- (or after) their ticket, so their foreign keys to `tickets` added no safety, only cost:
-- each checked row runs a lookup whose plan Postgres caches per connection, and with
-- several indexes leading on subdistrict_code it settled on one that filters on the id,
-- scanning a subdistrict's tickets for every event and timer written (2.6 ms of a 3 ms
-- submission in the load test, growing with the table). The conformance suite checks
-- that these rows never outlive or precede their ticket.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_subdistrict_code_ticket_id_fkey;
ALTER TABLE timers DROP CONSTRAINT timers_subdistrict_code_ticket_id_fkey;
ALTER TABLE ticket_followers DROP CONSTRAINT ticket_followers_subdistrict_code_ticket_id_fkey;
