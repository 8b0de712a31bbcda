-- A tenant's lead-scoring rules, one row per saved version (2, 3, …); version 1 is the
-- built-in rule set and is not stored. `rules` is a shangji.dedup.v1.ScoringRules message.
CREATE TABLE scoring_rules (
    tenant_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    rules BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- The score each lead got when it was qualified, with what made it up, so ExplainScore
-- answers from what was computed then, whatever the rules or model say today.
CREATE TABLE lead_scores (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    -- rules | learned
    model TEXT NOT NULL,
    rules_version BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    grade TEXT NOT NULL,
    -- The rule score, kept also when the learned model scored.
    rule_score DOUBLE PRECISION NOT NULL,
    -- JSON arrays: the contributing factors, and the rules the lead missed.
    factors TEXT NOT NULL,
    missed TEXT NOT NULL,
    -- JSON object: the lead's values the learned model looks at (field -> value).
    features TEXT NOT NULL,
    -- Won or lost outcomes the learned model had seen when it scored (0 for rules).
    outcomes_learned BIGINT NOT NULL,
    scored_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);
