-- Row types for writing a batch of new tickets as one array parameter per table.
--
-- Group commit wrote a batch with one array per column (57 of them) expanded with
-- `unnest($1::text[], $2::uuid[], …)`: Postgres runs each of those as its own function
-- scan, materialised, on every execution, and with one ticket in the batch (every
-- submission when callers are few) that was about a third of the statement's time.
-- One array of one of these row types per table is one function scan each. Measured
-- with pgbench (prepared, one caller) on 34 columns: 0.24 ms a call as 34 arrays,
-- 0.15 ms as one array of rows, 0.13–0.14 ms as plain values.
--
-- The server sends these in binary, field by field, so each type must list exactly
-- the fields `postgres/rows.rs` encodes, of exactly these types, in this order.
-- They are not the tables' own row types on purpose: a column added to a table must
-- not change what an older writer sends.

-- A new ticket, and the idempotency key it is written under (both null when none).
CREATE TYPE batch_ticket AS (
  key_scope text,
  key_request_id text,
  subdistrict_code text,
  id uuid,
  grid_code text,
  state text,
  level text,
  assignee_area_code text,
  assignee_person_id text,
  category_code text,
  description text,
  lat float8,
  lng float8,
  crs text,
  original_lat float8,
  original_lng float8,
  original_crs text,
  address text,
  building_code text,
  unit_code text,
  media_urls text,
  contact_phone text,
  reporter_id text,
  urgent bool,
  accept_due_at timestamptz,
  resolve_due_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  duplicate_of uuid,
  pause text,
  rating_stars int2,
  rating_not_solved bool,
  rating_comment text,
  version int8
);

-- An idempotency record and the ticket it answers with.
CREATE TYPE batch_key AS (
  scope text,
  request_id text,
  request_hash bytea,
  response bytea,
  created_at timestamptz,
  ticket_id uuid
);

-- A ticket's `timer_sets` row, as it is stored (arrays ordered by due time, then kind).
CREATE TYPE batch_timer_set AS (
  subdistrict_code text,
  ticket_id uuid,
  due_at timestamptz,
  kinds text[],
  dues timestamptz[],
  levels text[]
);

-- A ticket event, without its cursor (drawn by the insert).
CREATE TYPE batch_event AS (
  subdistrict_code text,
  ticket_id uuid,
  seq int8,
  kind text,
  actor text,
  from_state text,
  to_state text,
  level text,
  assignee_person_id text,
  note text,
  at timestamptz
);
