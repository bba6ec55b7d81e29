-- Residents who follow a ticket they did not report: the reporters of duplicates merged
-- into it.
CREATE TABLE ticket_followers (
    subdistrict_code TEXT NOT NULL,
    ticket_id        TEXT NOT NULL,
    follower_id      TEXT NOT NULL,
    PRIMARY KEY (subdistrict_code, ticket_id, follower_id),
    FOREIGN KEY (subdistrict_code, ticket_id) REFERENCES tickets (subdistrict_code, id)
);
CREATE INDEX ticket_followers_ticket_idx ON ticket_followers (ticket_id);

-- The duplicate check looks for open tickets of one category near a point, recently.
CREATE INDEX tickets_category_created_idx ON tickets (subdistrict_code, category_code, created_at);
