-- Open tickets per grid, kept by the rollups' fold beside the counts by state (0014), so
-- the overview's load of every grid is a read of a row per grid rather than a count over
-- the subdistrict's open tickets (issue 31: with a million tickets in a subdistrict the
-- count needed a row lookup per open ticket on the embedded store).
CREATE TABLE grid_open_counts (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    grid_code        TEXT COLLATE "C" NOT NULL,
    n                BIGINT NOT NULL,
    PRIMARY KEY (subdistrict_code, grid_code)
);

-- As of the fold's cursor: each ticket's state after the last event folded so far, so the
-- events after the cursor, folded later, count once.
INSERT INTO grid_open_counts (subdistrict_code, grid_code, n)
SELECT t.subdistrict_code, t.grid_code, count(*)
FROM tickets t
WHERE (SELECT e.to_state FROM ticket_events e
       WHERE e.ticket_id = t.id
         AND e.cursor <= (SELECT cursor FROM projection_cursors WHERE name = 'rollups')
       ORDER BY e.seq DESC LIMIT 1) IN ('submitted', 'assigned', 'accepted')
GROUP BY t.subdistrict_code, t.grid_code;
