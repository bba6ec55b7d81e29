-- The fold reads ledgers by ticket id alone (the Postgres migration 0017 explains).
CREATE INDEX evaluation_ledgers_ticket_idx ON evaluation_ledgers (ticket_id);
