-- The fold reads the ledgers of a step's tickets by id alone (`ticket_id = ANY(…)`); the
-- primary key leads with the subdistrict, so without this index each step scanned every
-- ledger, and folding grew with the square of history (read-load, BENCHMARKS.md).
CREATE INDEX evaluation_ledgers_ticket_idx ON evaluation_ledgers (ticket_id);
