-- Issue 4: the organisation tree, full rep profiles, ordered rules, the pool, the
-- decision audit, recycling and ownership history.

-- Teams and departments: a tree per tenant (parent '' = a department).
CREATE TABLE teams (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_team_id TEXT NOT NULL,
    manager_rep_id TEXT NOT NULL,
    -- JSON array of ancestor ids, root first; kept current when a parent moves.
    ancestors TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

ALTER TABLE reps ADD COLUMN product_lines TEXT NOT NULL DEFAULT '[]';
ALTER TABLE reps ADD COLUMN skill_tier TEXT NOT NULL DEFAULT '';
-- rep, manager or admin.
ALTER TABLE reps ADD COLUMN role TEXT NOT NULL DEFAULT 'rep';
-- active, on_leave or departed; reps.active stays 1 exactly when status is active.
ALTER TABLE reps ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE reps ADD COLUMN max_daily_leads BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reps ADD COLUMN daily_claim_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reps ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE reps ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
UPDATE reps SET status = 'on_leave' WHERE active = 0;

-- New leads and pool claims per rep and UTC day (days since the epoch).
CREATE TABLE rep_days (
    tenant_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    leads BIGINT NOT NULL,
    claims BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rep_id, day)
);

CREATE TABLE rules (
    tenant_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    -- JSON of the conditions.
    conditions TEXT NOT NULL,
    target_team_id TEXT NOT NULL,
    target_skill_tier TEXT NOT NULL,
    strategy TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);

-- Every decision for a lead, with what was evaluated (JSON), for ExplainAssignment.
CREATE TABLE decisions (
    tenant_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    pooled BIGINT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, decision_id)
);
CREATE INDEX decisions_by_lead ON decisions (tenant_id, lead_id, decided_at);

-- The pool: leads nobody could take and opportunities returned to it.
CREATE TABLE pool_entries (
    tenant_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    auto_assign BIGINT NOT NULL,
    previous_rep_id TEXT NOT NULL,
    -- The lead.qualified payload, to decide again when capacity frees up.
    lead_event BYTEA NOT NULL,
    -- waiting, then taken.
    state TEXT NOT NULL,
    pooled_at BIGINT NOT NULL,
    taken_by TEXT NOT NULL DEFAULT '',
    taken_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, entry_id)
);
CREATE INDEX pool_waiting ON pool_entries (tenant_id, state, pooled_at);
CREATE INDEX pool_by_subject ON pool_entries (tenant_id, lead_id, opportunity_id);

ALTER TABLE opportunity_owners ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opportunity_owners ADD COLUMN lead_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opportunity_owners ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
-- The last follow-up (or creation, or owner change), UTC ms.
ALTER TABLE opportunity_owners ADD COLUMN last_touch_at BIGINT NOT NULL DEFAULT 0;
-- When the recycling timer returns it to the pool; NULL: never (closed, pooled, no policy).
ALTER TABLE opportunity_owners ADD COLUMN recycle_due_at BIGINT NULL;
CREATE INDEX opportunity_owners_recycle_due ON opportunity_owners (recycle_due_at);
CREATE INDEX opportunity_owners_by_customer ON opportunity_owners (tenant_id, customer_id);

CREATE TABLE recycling_policies (
    tenant_id TEXT PRIMARY KEY,
    no_follow_up_days BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every ownership move, kept forever.
CREATE TABLE ownership_transfers (
    tenant_id TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    from_rep_id TEXT NOT NULL,
    to_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    rule TEXT NOT NULL,
    note TEXT NOT NULL,
    opportunity_ids TEXT NOT NULL,
    lead_ids TEXT NOT NULL,
    transferred_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, transfer_id)
);
CREATE INDEX ownership_transfers_by_customer ON ownership_transfers (tenant_id, customer_id, transferred_at);
