-- Events waiting to be published; a row is deleted once JetStream acknowledged it.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    -- W3C trace context captured when the event was written (JSON object).
    headers TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Events a consumer has handled; written in the same transaction as their effects.
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    handled_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_handled_at ON inbox (handled_at);

-- Responses of mutating RPCs, so a retried call with the same key gets the same answer.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    method TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, method, idempotency_key)
);
