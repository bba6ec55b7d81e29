-- A ticket id is unique across subdistricts (every lookup by id alone relies on it, and
-- writers checked it with a query before inserting). Declaring it lets a batch of new
-- tickets be written in one go and fail on a taken id by itself, with no query first:
-- the group-commit writer sends the whole transaction as one request to the connection's
-- thread, and only a batch that fails is checked ticket by ticket.
DROP INDEX tickets_id_idx;
CREATE UNIQUE INDEX tickets_id_key ON tickets (id);
