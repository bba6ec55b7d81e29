-- Organizations that hold tickets beside the chain (条块协同): departments, property
-- companies (红心物业) and alliance units (wuzhang_domain::organization).
--
-- A handful per district, read whole into each process's reference cache; the areas they
-- serve and their staff are lists kept as JSON beside the row (an import replaces them
-- whole, and nothing queries inside them).
CREATE TABLE organizations (
    code          TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    org_type      TEXT NOT NULL,
    red_heart     BOOLEAN NOT NULL,
    areas         TEXT NOT NULL,
    staff         TEXT NOT NULL,
    calendar_code TEXT
);

-- A category may route its tickets to the organization of a type serving the place.
ALTER TABLE categories ADD COLUMN organization_type TEXT;

-- The organization holding a ticket, on the ticket and on each event (evaluation counts an
-- organization's holdings on its own row). An organization's inbox reads the partial
-- index; a chain ticket has NULL here and its updates (escalations) stay HOT as before.
ALTER TABLE tickets ADD COLUMN assignee_org_code TEXT;
CREATE INDEX tickets_org_idx ON tickets (assignee_org_code, created_at)
  WHERE assignee_org_code IS NOT NULL;
ALTER TYPE batch_ticket ADD ATTRIBUTE assignee_org_code text;

ALTER TABLE ticket_events ADD COLUMN assignee_org_code TEXT;
ALTER TYPE batch_event ADD ATTRIBUTE assignee_org_code text;
