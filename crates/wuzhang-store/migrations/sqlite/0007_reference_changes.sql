-- One row, bumped in the transaction of every roster change (`upsert_roster`: persons and
-- posts) and of every category change (`upsert_category`); processes poll it to drop what
-- they cached, as they poll `area_changes` to rebuild their index.
CREATE TABLE reference_changes (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    roster     INTEGER NOT NULL,
    categories INTEGER NOT NULL
);
INSERT INTO reference_changes (id, roster, categories) VALUES (1, 0, 0);
