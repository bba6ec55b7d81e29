-- Open tickets per grid, kept by the rollups' fold (the Postgres migration 0022 explains).
CREATE TABLE grid_open_counts (
    subdistrict_code TEXT NOT NULL,
    grid_code        TEXT NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (subdistrict_code, grid_code)
);

INSERT INTO grid_open_counts (subdistrict_code, grid_code, n)
SELECT t.subdistrict_code, t.grid_code, count(*)
FROM tickets t
WHERE (SELECT e.to_state FROM ticket_events e
       WHERE e.ticket_id = t.id
         AND e.cursor <= (SELECT cursor FROM projection_cursors WHERE name = 'rollups')
       ORDER BY e.seq DESC LIMIT 1) IN ('submitted', 'assigned', 'accepted')
GROUP BY t.subdistrict_code, t.grid_code;
