-- The schema version each lead was checked against, where it came from
-- (shangji.common.v1.Attribution, encoded) and, for channels that key rows themselves
-- (imports, forms, webhooks), the key that makes a resubmission create nothing twice.
ALTER TABLE leads ADD COLUMN schema_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN attribution BLOB;
ALTER TABLE leads ADD COLUMN submission_key TEXT;
CREATE UNIQUE INDEX leads_submission_key ON leads (tenant_id, submission_key);

-- Every version of each tenant's field schema (the FieldDefinition list, encoded as a
-- shangji.intake.v1.FieldSchema). Versions are never changed, only added.
CREATE TABLE field_schemas (
    tenant_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    schema BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
