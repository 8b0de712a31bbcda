-- Leads received, one row per lead (a redelivered lead.received adds nothing).
CREATE TABLE leads (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    -- UTC milliseconds, like every time below.
    received_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);

-- One row per opportunity, built from whichever of its events arrived. Each group of
-- columns remembers the event time it came from (*_as_of), so an older event arriving
-- late never overwrites a newer one; an unknown group has as_of = the smallest BIGINT.
CREATE TABLE opportunities (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    owner_as_of BIGINT NOT NULL,
    stage TEXT NOT NULL,
    stage_order BIGINT NOT NULL,
    stage_as_of BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    amount DOUBLE PRECISION NOT NULL,
    amount_as_of BIGINT NOT NULL,
    -- The furthest stage the opportunity ever stood in: it "reached" every stage up to it.
    max_stage_order_reached BIGINT NOT NULL,
    created_at BIGINT,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    PRIMARY KEY (tenant_id, opportunity_id)
);
-- The funnel's two grouped queries, for the tenant and for one owner.
CREATE INDEX opportunities_reached ON opportunities (tenant_id, max_stage_order_reached);
CREATE INDEX opportunities_owner_reached ON opportunities (tenant_id, owner_rep_id, max_stage_order_reached);
CREATE INDEX opportunities_status_stage ON opportunities (tenant_id, status, stage);
CREATE INDEX opportunities_owner_status_stage ON opportunities (tenant_id, owner_rep_id, status, stage);

-- The tenant's stages and their order, learned from the events (never asked of pipeline).
CREATE TABLE stage_catalog (
    tenant_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    stage_order BIGINT NOT NULL,
    -- Time of the event that stated this order; a newer statement wins.
    learned_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, stage)
);

-- When each opportunity first entered each stage (for cycle times).
CREATE TABLE stage_reached (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    reached_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id, stage)
);
