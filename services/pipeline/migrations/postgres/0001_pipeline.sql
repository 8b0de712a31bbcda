-- A tenant's pipelines; "default" is seeded the first time the tenant needs it.
CREATE TABLE pipelines (
    tenant_id TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pipeline_id)
);

CREATE TABLE stages (
    tenant_id TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    name TEXT NOT NULL,
    stage_order BIGINT NOT NULL,
    win_probability DOUBLE PRECISION NOT NULL,
    -- 0 or 1: won and lost are terminal.
    terminal BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pipeline_id, name),
    UNIQUE (tenant_id, pipeline_id, stage_order),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, pipeline_id)
);

CREATE TABLE opportunities (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    amount DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL,
    name TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    source TEXT NOT NULL,
    region TEXT NOT NULL,
    industry TEXT NOT NULL,
    team TEXT NOT NULL,
    lost_reason TEXT NOT NULL,
    next_follow_up_at BIGINT,
    stage_entered_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Bumped by every update; updates compare it, so concurrent changes cannot interleave.
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, pipeline_id)
);
-- One open opportunity per customer, guaranteed by the database even across replicas.
CREATE UNIQUE INDEX opportunities_one_open_per_customer
    ON opportunities (tenant_id, customer_id) WHERE status = 'open';
-- Keyset paging (created_at, opportunity_id), unfiltered and per list filter.
CREATE INDEX opportunities_by_created ON opportunities (tenant_id, created_at, opportunity_id);
CREATE INDEX opportunities_by_owner ON opportunities (tenant_id, owner_rep_id, created_at, opportunity_id);
CREATE INDEX opportunities_by_stage ON opportunities (tenant_id, stage, created_at, opportunity_id);
CREATE INDEX opportunities_by_customer ON opportunities (tenant_id, customer_id, created_at, opportunity_id);

CREATE TABLE activities (
    tenant_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    next_step TEXT NOT NULL,
    next_follow_up_at BIGINT,
    -- Set on a touchpoint: the lead that attached to the opportunity.
    lead_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    logged_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, activity_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX activities_by_opportunity ON activities (tenant_id, opportunity_id, logged_at);

-- Who changed what on an opportunity, when, from what; never updated or deleted.
CREATE TABLE opportunity_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT NOT NULL,
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX opportunity_history_by_opportunity ON opportunity_history (tenant_id, opportunity_id, seq);

-- The opportunity each assigned lead opened or attached to: a lead is handled once,
-- however often (or under however many event ids) its assignment arrives.
CREATE TABLE lead_links (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    link TEXT NOT NULL CHECK (link IN ('opened', 'attached')),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
