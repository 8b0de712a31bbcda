-- Outbound webhooks per tenant, and the delivery log. A delivery row is written in the
-- same transaction as the reminder firing (or escalating) it reports, so a restart can
-- neither lose nor repeat it; the sender claims pending rows whose next attempt is due.
CREATE TABLE webhooks (
    tenant_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('generic_json', 'wecom_text', 'wecom_markdown', 'dingtalk_text', 'dingtalk_markdown')),
    secret TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, webhook_id)
);

CREATE TABLE deliveries (
    delivery_id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    -- The request body, rendered in the webhook's format when the delivery was written.
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL,
    -- When the sender may (re)try; a claim pushes it out by a lease, so a sender that
    -- died mid-attempt is retried by the next one.
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
-- The sender reads only what is due.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state = 'pending';
-- ListDeliveries, newest first.
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, created_at);
