-- A ticket keeps its latest supervision order (督办) and how many were issued: the
-- order as JSON (severity, deadline, note, issued_by, issued_at; the history is in the
-- event log as SUPERVISED events), the count for evaluation and dashboards.
ALTER TABLE tickets
  ADD COLUMN supervision text,
  ADD COLUMN supervision_count int4 NOT NULL DEFAULT 0;

-- The batch writer sends every ticket column (postgres/rows.rs encodes these last).
ALTER TYPE batch_ticket
  ADD ATTRIBUTE supervision text,
  ADD ATTRIBUTE supervision_count int4;
