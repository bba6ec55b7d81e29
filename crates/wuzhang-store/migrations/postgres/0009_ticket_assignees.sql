-- Who holds each ticket, indexed, beside the ticket instead of in it.
--
-- An escalation rewrites a ticket's assignment and nothing else that `tickets` indexes.
-- While the assignment was indexed in `tickets`, every escalation was a non-HOT update:
-- a new row version on another page and an entry in each of the table's seven indexes.
-- With the two assignee indexes here instead, the ticket's update can stay on its page
-- (HOT: no index entries, pruned in place) and what changes is this narrow row and its
-- three index entries. `tickets` keeps its own copy of the assignment: it is what every
-- read returns; this table only answers "whose tickets" (the inbox filters). Both are
-- written by the same statements, so they never disagree after a commit.
CREATE TABLE ticket_assignees (
    subdistrict_code   TEXT COLLATE "C" NOT NULL,
    ticket_id          UUID NOT NULL,
    assignee_area_code TEXT,
    assignee_person_id TEXT,
    -- No foreign key to `tickets`: the row is written by the statement that writes its
    -- ticket, and with one the check took ~1 ms per new ticket, growing with the table
    -- (intake fell from 5,100 to 120 per s at 16 callers; BENCHMARKS.md).
    PRIMARY KEY (subdistrict_code, ticket_id)
);

INSERT INTO ticket_assignees (subdistrict_code, ticket_id, assignee_area_code, assignee_person_id)
SELECT subdistrict_code, id, assignee_area_code, assignee_person_id FROM tickets;

CREATE INDEX ticket_assignees_person_idx ON ticket_assignees (assignee_person_id);
CREATE INDEX ticket_assignees_area_idx ON ticket_assignees (assignee_area_code);
-- Each escalation leaves one dead version here (not in `tickets` any more); vacuum the
-- narrow table sooner than autovacuum's default 20%, as `timer_sets` is (migration 0008).
ALTER TABLE ticket_assignees SET (autovacuum_vacuum_scale_factor = 0.02,
                                  autovacuum_vacuum_threshold = 1000);

DROP INDEX tickets_assignee_person_idx;
DROP INDEX tickets_assignee_area_idx;

-- Room on each page for the updated versions of its rows, so that a HOT update finds
-- space beside the old one (applies to pages written from now on).
ALTER TABLE tickets SET (fillfactor = 85);
