-- The customers dedup knows, one per real person or organisation of a tenant.
CREATE TABLE customers (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    lead_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id)
);

-- Normalised phones and e-mails. The primary key makes each key belong to one customer
-- per tenant, which is what keeps concurrent replicas from creating a customer twice.
CREATE TABLE match_keys (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, value),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, customer_id)
);
CREATE INDEX match_keys_customer ON match_keys (tenant_id, customer_id);

-- Which customer each lead was attached to; one row per lead makes attaching idempotent.
CREATE TABLE customer_leads (
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, customer_id)
);
CREATE INDEX customer_leads_customer ON customer_leads (tenant_id, customer_id, attached_at);
