-- Accounts: the organisations contacts work for, one per brand key (华为, Huawei and
-- 北京华为科技有限公司 are one account). The unique key keeps replicas from creating one
-- account twice.
CREATE TABLE accounts (
    tenant_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    account_key TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
CREATE UNIQUE INDEX accounts_key ON accounts (tenant_id, account_key);

-- The account a customer (contact) works for; '' when its leads named no company.
ALTER TABLE customers ADD COLUMN account_id TEXT NOT NULL DEFAULT '';

-- What matching knows about each customer (JSON, see domain::matching::MatchProfile),
-- gathered from every lead attached to it.
CREATE TABLE customer_profiles (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    profile TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

-- Blocking keys: a lead is compared only with customers filed under one of its keys.
CREATE TABLE blocking_keys (
    tenant_id TEXT NOT NULL,
    block_key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, block_key, customer_id)
);
CREATE INDEX blocking_keys_customer ON blocking_keys (tenant_id, customer_id);

-- One row per partition of the blocking-key space; a lead's matching upserts the rows of
-- its partitions first, which serialises fuzzy decisions that could see each other.
CREATE TABLE match_partitions (
    tenant_id TEXT NOT NULL,
    partition_id BIGINT NOT NULL,
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, partition_id)
);

-- Per-tenant match thresholds overriding the service settings.
CREATE TABLE match_thresholds (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    same_min DOUBLE PRECISION NOT NULL,
    possible_min DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL
);
