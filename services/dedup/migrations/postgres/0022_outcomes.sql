-- What dedup learns from: each opportunity's lead and outcome, as pipeline reports them
-- (in any order). `counted` is the outcome whose counts are in the tables below, so a
-- reopened or re-closed opportunity moves its counts instead of adding them twice.
CREATE TABLE opportunity_outcomes (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    lead_id TEXT NOT NULL DEFAULT '',
    -- '' (open), won or lost
    outcome TEXT NOT NULL DEFAULT '',
    counted TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id)
);

-- Won and lost outcomes learned per tenant.
CREATE TABLE outcome_totals (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    won BIGINT NOT NULL,
    lost BIGINT NOT NULL
);

-- Won and lost outcomes per field value of the leads (naive Bayes counts).
CREATE TABLE feature_outcomes (
    tenant_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    won BIGINT NOT NULL,
    lost BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, field, value)
);
