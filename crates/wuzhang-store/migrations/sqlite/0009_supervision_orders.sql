-- A ticket keeps its latest supervision order (督办) as JSON and how many were issued
-- (the Postgres migration 0012 explains).
ALTER TABLE tickets ADD COLUMN supervision TEXT;
ALTER TABLE tickets ADD COLUMN supervision_count INTEGER NOT NULL DEFAULT 0;
