-- The organisation as the assignment service publishes it (org.team_upserted,
-- org.rep_upserted): who manages which team, who is an admin. Used for data permissions
-- and for who may decide approvals. Each row keeps the highest version seen.
CREATE TABLE org_teams (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_team_id TEXT NOT NULL,
    manager_rep_id TEXT NOT NULL,
    -- JSON array, root first.
    ancestor_team_ids TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

CREATE TABLE org_reps (
    tenant_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    name TEXT NOT NULL,
    team_id TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rep_id)
);

-- The opportunity team beside the owner.
CREATE TABLE collaborators (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    role TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id, rep_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX collaborators_by_rep ON collaborators (tenant_id, rep_id);

-- Per-tenant rules: which requests need whose approval.
CREATE TABLE approval_rules (
    tenant_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    approval_type TEXT NOT NULL,
    discount_over_percent DOUBLE PRECISION NOT NULL,
    amount_over DOUBLE PRECISION NOT NULL,
    approver TEXT NOT NULL,
    -- JSON array of rep ids, for approver 'named'.
    approver_rep_ids TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);

CREATE TABLE approvals (
    tenant_id TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    approval_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    -- The rule that asked for it; empty when no rule did (approved by policy at once).
    rule_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    approver_rep_ids TEXT NOT NULL,
    discount_percent DOUBLE PRECISION NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    note TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at BIGINT,
    decision_note TEXT NOT NULL,
    PRIMARY KEY (tenant_id, approval_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX approvals_by_opportunity ON approvals (tenant_id, opportunity_id, requested_at);
