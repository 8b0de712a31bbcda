-- Pairs of customers that a lead suggested might be one, waiting for a person to say.
-- The lead itself was not held back: it went on with `customer_id` (provisional), and a
-- `same` decision merges the two customers afterwards.
CREATE TABLE review_items (
    tenant_id TEXT NOT NULL,
    review_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    candidate_customer_id TEXT NOT NULL,
    -- The pair in id order, so (a, b) and (b, a) are one question.
    pair_low TEXT NOT NULL,
    pair_high TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    -- JSON: the matcher's reasons (array of strings) and field evidence (array of objects).
    reasons TEXT NOT NULL,
    evidence TEXT NOT NULL,
    -- open | same | different
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT NOT NULL DEFAULT 0,
    resolved_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    merge_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, review_id)
);
-- One open question per pair, however many leads raise it.
CREATE UNIQUE INDEX review_items_open_pair ON review_items (tenant_id, pair_low, pair_high)
    WHERE status = 'open';
CREATE INDEX review_items_queue ON review_items (tenant_id, status, created_at, review_id);

-- Pairs a person judged different, so they are never asked about again.
CREATE TABLE distinct_customers (
    tenant_id TEXT NOT NULL,
    customer_low TEXT NOT NULL,
    customer_high TEXT NOT NULL,
    review_id TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_low, customer_high)
);

-- Every merge, kept after it is undone: who, why, when, and (in merge_moves) what moved.
CREATE TABLE merges (
    tenant_id TEXT NOT NULL,
    merge_id TEXT NOT NULL,
    survivor_customer_id TEXT NOT NULL,
    -- JSON array of the customer ids merged into the survivor.
    merged_customer_ids TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    review_id TEXT NOT NULL DEFAULT '',
    merged_at BIGINT NOT NULL,
    unmerged_at BIGINT NOT NULL DEFAULT 0,
    unmerged_by TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, merge_id)
);
CREATE INDEX merges_survivor ON merges (tenant_id, survivor_customer_id, merged_at);

-- What a merge moved from which customer: leads (item = lead id), match keys
-- (item = kind:value) and contacts (item = the merged customer's id). Undoing a merge
-- moves exactly these back.
CREATE TABLE merge_moves (
    tenant_id TEXT NOT NULL,
    merge_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    from_customer_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (tenant_id, merge_id, kind, item)
);

-- Customers merged into another and not restored: they keep their row in `customers`
-- (history), but everything of theirs now lives on the survivor.
CREATE TABLE merged_customers (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    survivor_customer_id TEXT NOT NULL,
    merge_id TEXT NOT NULL,
    merged_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX merged_customers_survivor ON merged_customers (tenant_id, survivor_customer_id);
