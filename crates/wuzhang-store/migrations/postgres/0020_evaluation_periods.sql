-- Evaluation keeps emergency mode and peacetime apart (issue 22; docs/evaluation.md): a
-- rollup row belongs to one period, that of the holding's receipt (or of the report).
-- Rows folded before are peacetime's, as every subdistrict was until this migration.
ALTER TABLE evaluation_rollups ADD COLUMN emergency BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE evaluation_rollups DROP CONSTRAINT evaluation_rollups_pkey;
ALTER TABLE evaluation_rollups
  ADD PRIMARY KEY (subdistrict_code, scope, day, key, level, emergency);
