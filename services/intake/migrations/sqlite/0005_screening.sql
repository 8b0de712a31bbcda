-- Leads screening held back: why (the shangji.intake.v1.ScreeningFlag messages, each
-- length-delimited, in order), the reasons as a bit set (bit n for ScreeningCode n) for
-- filtering, and what a person decided (FlagState: 1 pending, 2 released, 3 discarded).
CREATE TABLE lead_flags (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    flags BLOB NOT NULL,
    codes BIGINT NOT NULL,
    state INTEGER NOT NULL,
    flagged_at BIGINT NOT NULL,
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at BIGINT NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, lead_id)
);
-- The review queue, in arrival order (lead ids are time ordered).
CREATE INDEX lead_flags_queue ON lead_flags (tenant_id, state, lead_id);

-- Flood counting: submissions per subject (kind and a hash of the client address, phone
-- or e-mail, so no contact data is copied here) in the current fixed window and in the
-- one before it. Rows of quiet subjects are pruned. There is
-- one upsert per submission on the hot path, so the table is its primary key alone (no
-- rowid, no second index): pruning, now and then, scans the tenant's key range.
CREATE TABLE screening_counters (
    tenant_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    submissions BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
) WITHOUT ROWID;
