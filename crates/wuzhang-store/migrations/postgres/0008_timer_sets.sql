-- A ticket's timers (warning, accept, resolve, resume: at most one of each) in one row
-- instead of one row each. Every assignment replaces them all, and each escalation did
-- that by deleting up to four rows and inserting three, each with its index entries;
-- now it is one row written (and found, by the claim, once per ticket). `due_at` is the
-- earliest of the set, which is all the claim needs; `kinds`, `dues` and `levels` are
-- parallel arrays ordered by due time, then kind.
CREATE TABLE timer_sets (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    ticket_id        UUID NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    kinds            TEXT[] NOT NULL,
    dues             TIMESTAMPTZ[] NOT NULL,
    levels           TEXT[] NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id),
    CHECK (cardinality(kinds) > 0
           AND cardinality(kinds) = cardinality(dues)
           AND cardinality(kinds) = cardinality(levels))
);
-- The worker's claim: one subdistrict, earliest due first, in a stable order.
CREATE INDEX timer_sets_claim_idx ON timer_sets (subdistrict_code, due_at, ticket_id);
-- A queue: rows are rewritten on every assignment and deleted when the ticket closes, so
-- the table is mostly dead tuples between vacuums under the default (20% of the table).
ALTER TABLE timer_sets SET (autovacuum_vacuum_scale_factor = 0.01,
                            autovacuum_vacuum_threshold = 1000);

INSERT INTO timer_sets (subdistrict_code, ticket_id, due_at, kinds, dues, levels)
SELECT subdistrict_code, ticket_id, min(due_at),
       array_agg(kind ORDER BY due_at, kind),
       array_agg(due_at ORDER BY due_at, kind),
       array_agg(level ORDER BY due_at, kind)
FROM timers
GROUP BY subdistrict_code, ticket_id;

DROP TABLE timers;
