-- Every lead as captured (the Lead message, encoded), with where it is now.
CREATE TABLE leads (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    lead BYTEA NOT NULL,
    status INTEGER NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    new_customer INTEGER NOT NULL DEFAULT 0,
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    grade TEXT NOT NULL DEFAULT '',
    owner_rep_id TEXT NOT NULL DEFAULT '',
    opportunity_id TEXT NOT NULL DEFAULT '',
    received_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX leads_received ON leads (tenant_id, received_at);

-- The journey of each lead, one row per step, as reported by each service.
CREATE TABLE lead_trail (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    detail TEXT NOT NULL,
    service TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, event_id)
);
