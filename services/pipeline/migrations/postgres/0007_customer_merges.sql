-- Customer merges (see src/bus/customer_merges.rs).

-- A parallel deal: an open opportunity that came with a merged customer while the
-- survivor already had one open. Both stay open; the parallel one names the customer's
-- primary open opportunity here ('' = not parallel). The database still allows one
-- primary open opportunity per customer, so leads keep attaching to exactly one.
ALTER TABLE opportunities ADD COLUMN parallel_of TEXT NOT NULL DEFAULT '';
DROP INDEX opportunities_one_open_per_customer;
CREATE UNIQUE INDEX opportunities_one_open_per_customer
    ON opportunities (tenant_id, customer_id) WHERE status = 'open' AND parallel_of = '';

-- Each customer a merge folded into its survivor. While `state` is 'merged' the customer
-- is an alias of the survivor (a late lead for it lands on the survivor's opportunity).
-- A row in state 'unmerged' without merged_at is an unmerge that arrived before its
-- merge: the late merge is then ignored.
CREATE TABLE merged_customers (
    tenant_id TEXT NOT NULL,
    merge_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    survivor_customer_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('merged', 'unmerged')),
    merged_at BIGINT,
    unmerged_at BIGINT,
    PRIMARY KEY (tenant_id, merge_id, customer_id)
);
CREATE INDEX merged_customers_by_customer ON merged_customers (tenant_id, customer_id, state);

-- Every opportunity a merge moved, from which customer (and parallel link), so that the
-- unmerge restores exactly those. history_seq is the merge's own customer_id history
-- line: a later customer_id line means someone changed it since, and it stays.
CREATE TABLE merge_moves (
    tenant_id TEXT NOT NULL,
    merge_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    from_customer_id TEXT NOT NULL,
    to_customer_id TEXT NOT NULL,
    from_parallel_of TEXT NOT NULL,
    history_seq BIGINT NOT NULL,
    moved_at BIGINT NOT NULL,
    -- NULL while the merge stands; then 'restored' or 'kept' (changed since the merge).
    outcome TEXT CHECK (outcome IN ('restored', 'kept')),
    settled_at BIGINT,
    PRIMARY KEY (tenant_id, merge_id, opportunity_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX merge_moves_by_customer ON merge_moves (tenant_id, merge_id, from_customer_id);
