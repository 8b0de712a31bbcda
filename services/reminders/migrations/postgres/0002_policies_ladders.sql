-- Policies, escalation ladders and the org replica.
--
-- Reminders gain the policy rule kinds, the policy (and version) that scheduled them,
-- the ladder's progress, and the timer's own index: `next_fire_at` is when the timer next
-- has something to do with a reminder (its due time, then each ladder step), NULL once
-- nothing is left, so a tick reads only what is due.
ALTER TABLE reminders DROP CONSTRAINT reminders_kind_check;
ALTER TABLE reminders ADD CONSTRAINT reminders_kind_check
    CHECK (kind IN ('first_contact', 'follow_up', 'no_activity', 'stage_age', 'close_overdue'));
ALTER TABLE reminders ADD COLUMN policy_id TEXT NOT NULL DEFAULT '';
ALTER TABLE reminders ADD COLUMN policy_version BIGINT NOT NULL DEFAULT 0;
-- Ladder steps taken so far.
ALTER TABLE reminders ADD COLUMN escalation_step BIGINT NOT NULL DEFAULT 0;
-- Where the ladder's clock starts: the due time, or the last activity/stage change.
ALTER TABLE reminders ADD COLUMN ladder_from BIGINT;
ALTER TABLE reminders ADD COLUMN next_fire_at BIGINT;
UPDATE reminders SET ladder_from = due_at,
                     next_fire_at = CASE WHEN state = 'pending' THEN due_at END;
ALTER TABLE reminders ALTER COLUMN ladder_from SET NOT NULL;

DROP INDEX reminders_state_due;
-- The timer's query reads only what is due (partial: settled reminders are not indexed).
CREATE INDEX reminders_next_fire ON reminders (next_fire_at) WHERE next_fire_at IS NOT NULL;
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
