-- Policies, escalation ladders and the org replica.
--
-- Reminders gain the policy rule kinds, the policy (and version) that scheduled them,
-- the ladder's progress, and the timer's own index: `next_fire_at` is when the timer next
-- has something to do with a reminder (its due time, then each ladder step), NULL once
-- nothing is left, so a tick reads only what is due. SQLite cannot change a CHECK
-- constraint in place, hence the copy.
CREATE TABLE reminders_v2 (
    tenant_id TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('first_contact', 'follow_up', 'no_activity', 'stage_age', 'close_overdue')),
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'done', 'cancelled')),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    fired_at BIGINT,
    policy_id TEXT NOT NULL DEFAULT '',
    policy_version BIGINT NOT NULL DEFAULT 0,
    -- Ladder steps taken so far.
    escalation_step BIGINT NOT NULL DEFAULT 0,
    -- Where the ladder's clock starts: the due time, or the last activity/stage change.
    ladder_from BIGINT NOT NULL,
    next_fire_at BIGINT,
    PRIMARY KEY (tenant_id, reminder_id)
);
INSERT INTO reminders_v2 (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at, state,
                          message, created_at, updated_at, fired_at, ladder_from, next_fire_at)
SELECT tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at, state,
       message, created_at, updated_at, fired_at, due_at,
       CASE WHEN state = 'pending' THEN due_at END
FROM reminders;
DROP TABLE reminders;
ALTER TABLE reminders_v2 RENAME TO reminders;

-- The timer's query reads only what is due (partial: settled reminders are not indexed).
CREATE INDEX reminders_next_fire ON reminders (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX reminders_tenant_state_due ON reminders (tenant_id, state, due_at);
CREATE INDEX reminders_owner_state_due ON reminders (tenant_id, owner_rep_id, state, due_at);
CREATE INDEX reminders_opportunity ON reminders (tenant_id, opportunity_id, kind, state);
CREATE UNIQUE INDEX reminders_one_first_contact ON reminders (tenant_id, opportunity_id)
    WHERE kind = 'first_contact';
-- One row per opportunity and policy rule, rescheduled in place when its clock restarts.
CREATE UNIQUE INDEX reminders_one_per_rule ON reminders (tenant_id, opportunity_id, kind)
    WHERE kind IN ('no_activity', 'stage_age', 'close_overdue');

-- What the rules need to know about each opportunity.
ALTER TABLE opportunities ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opportunities ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE opportunities ADD COLUMN stage TEXT NOT NULL DEFAULT '';
-- When the stage above was entered (the time carried by the event that said so).
ALTER TABLE opportunities ADD COLUMN stage_as_of BIGINT;
ALTER TABLE opportunities ADD COLUMN expected_close_at BIGINT;
ALTER TABLE opportunities ADD COLUMN expected_close_as_of BIGINT;
ALTER TABLE opportunities ADD COLUMN last_activity_at BIGINT;
-- Set by an escalation step that marks the opportunity high-risk.
ALTER TABLE opportunities ADD COLUMN high_risk_at BIGINT;

-- The current policy of each stage ('' = the tenant default).
CREATE TABLE policies (
    tenant_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    -- The rules as JSON (domain::PolicyRules).
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, stage)
);
-- Every version ever stored: a reminder's ladder follows the version that scheduled it.
CREATE TABLE policy_versions (
    tenant_id TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    stage TEXT NOT NULL,
    rules TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, policy_id, version)
);

-- Replica of assignment's org tree, for escalations to the team manager.
CREATE TABLE org_teams (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    parent_team_id TEXT NOT NULL,
    manager_rep_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);
CREATE TABLE org_reps (
    tenant_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rep_id)
);
