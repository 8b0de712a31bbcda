-- Which rules the stored blocking keys and account keys follow. When a release changes
-- them (normalisers, key kinds), dedup re-files every stored customer under the new
-- rules in the background, page by page from `cursor_*`, and records the version it
-- reached; until then old keys still find what they found before.
CREATE TABLE key_scheme (
    name TEXT NOT NULL PRIMARY KEY,
    -- Every stored key follows this version.
    version BIGINT NOT NULL,
    -- The version being re-filed to, and the last customer (tenant, id) done.
    target BIGINT NOT NULL,
    cursor_tenant TEXT NOT NULL,
    cursor_customer TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Stores created before this table follow the first rules.
INSERT INTO key_scheme (name, version, target, cursor_tenant, cursor_customer, updated_at)
VALUES ('blocking', 1, 1, '', '', 0);
