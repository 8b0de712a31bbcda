-- Reps assignment may hand leads to, with the load it balances on.
CREATE TABLE reps (
    tenant_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    name TEXT NOT NULL,
    team TEXT NOT NULL,
    -- JSON arrays of trimmed labels; an empty array covers everything.
    regions TEXT NOT NULL,
    industries TEXT NOT NULL,
    -- Open opportunities at most; 0 means no limit.
    capacity BIGINT NOT NULL,
    active BIGINT NOT NULL,
    -- The tenant's round-robin turn the rep last got a lead on (0: never).
    last_assigned_seq BIGINT NOT NULL DEFAULT 0,
    assigned_total BIGINT NOT NULL DEFAULT 0,
    -- Recomputed from opportunity_owners, so it can never drift or go negative.
    open_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rep_id)
);

-- One customer, one owner.
CREATE TABLE customer_owners (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX customer_owners_by_rep ON customer_owners (tenant_id, rep_id);

-- The assignment log: one decision per lead, with the rule and reason that made it.
CREATE TABLE assignments (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    -- NULL when the lead went to the pool.
    rep_id TEXT NULL,
    team TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- JSON array of the rep ids that were eligible.
    candidates TEXT NOT NULL,
    pooled BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX assignments_by_rep ON assignments (tenant_id, rep_id);

-- The tenant's round-robin clock. Taking a turn locks the row, which serialises the
-- decisions of one tenant across replicas.
CREATE TABLE assignment_sequences (
    tenant_id TEXT PRIMARY KEY,
    next_seq BIGINT NOT NULL
);

-- Who owns each opportunity and whether it is still open, as the opportunity events
-- told us; reps.open_count is counted from here.
CREATE TABLE opportunity_owners (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    closed BIGINT NOT NULL,
    -- When the current owner took over (UTC ms); a late, older owner change loses.
    owner_since BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id)
);
CREATE INDEX opportunity_owners_by_rep ON opportunity_owners (tenant_id, rep_id, closed);
