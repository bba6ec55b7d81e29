-- Campaigns (专项行动): the campaign as the command center defined it (JSON of
-- wuzhang_domain::campaign::Campaign), and one row per task: its ticket (an ordinary
-- ticket of `tickets`), the post's area, where it lies for progress by grid, lane and
-- street, and the result its chief reported (JSON of TaskResult).
CREATE TABLE campaigns (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    id               UUID NOT NULL,
    campaign         TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subdistrict_code, id)
);
CREATE UNIQUE INDEX campaigns_id_idx ON campaigns (id);

CREATE TABLE campaign_tasks (
    subdistrict_code TEXT COLLATE "C" NOT NULL,
    ticket_id        UUID NOT NULL,
    campaign_id      UUID NOT NULL,
    area_code        TEXT NOT NULL,
    grid_code        TEXT,
    lane_code        TEXT,
    street_code      TEXT,
    result           TEXT,
    PRIMARY KEY (subdistrict_code, ticket_id),
    FOREIGN KEY (subdistrict_code, campaign_id) REFERENCES campaigns (subdistrict_code, id)
);
CREATE INDEX campaign_tasks_campaign_idx ON campaign_tasks (campaign_id);
CREATE INDEX campaign_tasks_ticket_idx ON campaign_tasks (ticket_id);
