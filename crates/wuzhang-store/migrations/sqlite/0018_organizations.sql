-- Organizations (the Postgres migration 0021 explains each part).
CREATE TABLE organizations (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    org_type      TEXT NOT NULL,
    red_heart     INTEGER NOT NULL,
    areas         TEXT NOT NULL,
    staff         TEXT NOT NULL,
    calendar_code TEXT
);

ALTER TABLE categories ADD COLUMN organization_type TEXT;

ALTER TABLE tickets ADD COLUMN assignee_org_code TEXT;
CREATE INDEX tickets_org_idx ON tickets (assignee_org_code, created_at)
  WHERE assignee_org_code IS NOT NULL;

ALTER TABLE ticket_events ADD COLUMN assignee_org_code TEXT;
