-- Web forms (the WebForm message, encoded) served at POST /forms/{tenant}/{form_id}.
-- version increases with every upsert; honeypot_hits counts the bot posts dropped.
CREATE TABLE web_forms (
    tenant_id TEXT NOT NULL,
    form_id TEXT NOT NULL,
    form BYTEA NOT NULL,
    version BIGINT NOT NULL,
    honeypot_hits BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, form_id)
);

-- Webhook connectors (the Connector message with its secret, encoded) served at
-- /hooks/{tenant}/{connector_id}.
CREATE TABLE connectors (
    tenant_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    connector BYTEA NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, connector_id)
);
