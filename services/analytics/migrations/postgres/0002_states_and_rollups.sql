-- Read models v2: one merged state per opportunity and per lead, and the rollups that
-- every report sums. The v1 per-opportunity columns and lead rows are replaced (read
-- models are rebuilt from the streams with RebuildReadModels).
DROP TABLE opportunities;
DROP TABLE stage_reached;
DROP TABLE leads;

-- Which generation of the read models queries read (`live`), and the one a rebuild is
-- filling (`building`, NULL when none). Tenants without a row read generation 0.
CREATE TABLE read_model_generations (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    live BIGINT NOT NULL,
    building BIGINT,
    building_started_at BIGINT,
    last_rebuilt_at BIGINT
);

-- Everything known about an opportunity, merged from its events (JSON of the domain's
-- OpportunityState). Columns beside it serve lookups.
CREATE TABLE opportunity_states (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    opportunity_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, opportunity_id)
);
CREATE INDEX opportunity_states_customer ON opportunity_states (tenant_id, generation, customer_id);

CREATE TABLE lead_states (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    lead_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, lead_id)
);

-- Sums of what every state contributes (see domain/contribution.rs for each metric's
-- keys). Amounts in cents, so adding and retracting stays exact.
CREATE TABLE rollups (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL,
    dim_value TEXT NOT NULL,
    team TEXT NOT NULL,
    period BIGINT NOT NULL,
    k1 TEXT NOT NULL,
    k2 BIGINT NOT NULL,
    k3 TEXT NOT NULL,
    count BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, generation, metric, dim, dim_value, team, period, k1, k2, k3)
);

-- Events a rebuild generation has applied (the live generation uses the inbox).
CREATE TABLE rebuild_applied (
    tenant_id TEXT NOT NULL,
    generation BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation, event_id)
);

-- The org replica (owned by assignment): teams and reps, for data permissions.
CREATE TABLE org_teams (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    parent_team_id TEXT NOT NULL,
    manager_rep_id TEXT NOT NULL,
    -- Ancestors root first, one per line.
    ancestor_team_ids TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

CREATE TABLE org_reps (
    tenant_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rep_id)
);
