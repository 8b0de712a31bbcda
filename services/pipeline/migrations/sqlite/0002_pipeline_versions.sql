-- Pipelines per team, in versions: an opportunity follows the version it was opened in.
ALTER TABLE pipelines ADD COLUMN team TEXT NOT NULL DEFAULT '';
-- The current version; 1 for pipelines made before versions existed.
ALTER TABLE pipelines ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE pipelines ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
-- One pipeline per team (the tenant-wide ones have no team).
CREATE UNIQUE INDEX pipelines_one_per_team ON pipelines (tenant_id, team) WHERE team <> '';

-- Every version of every pipeline: its stages with their gates, as JSON. Never changed.
-- (The `stages` table keeps the current version's stages flat, for queries.)
CREATE TABLE pipeline_versions (
    tenant_id TEXT NOT NULL,
    pipeline_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    stages TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, pipeline_id, version),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES pipelines (tenant_id, pipeline_id)
);

ALTER TABLE opportunities ADD COLUMN pipeline_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE opportunities ADD COLUMN expected_close_at BIGINT;
-- Custom fields (decision_maker, ...) as a JSON object of strings.
ALTER TABLE opportunities ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
