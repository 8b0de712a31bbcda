-- One row per ImportLeads upload: what was uploaded and how far it got.
CREATE TABLE imports (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    format INTEGER NOT NULL,
    encoding TEXT NOT NULL DEFAULT '',
    dry_run INTEGER NOT NULL,
    import_key TEXT NOT NULL,
    state INTEGER NOT NULL,
    rows_read BIGINT NOT NULL DEFAULT 0,
    accepted BIGINT NOT NULL DEFAULT 0,
    replayed BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, import_id)
);

-- The per-row report: one line per problem (row, field, column, message), in order.
CREATE TABLE import_problems (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    row_number BIGINT NOT NULL,
    field TEXT NOT NULL,
    column_name TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (tenant_id, import_id, seq)
);

-- Saved column mappings (the MappingPreset message, encoded), chosen by name.
CREATE TABLE mapping_presets (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    preset BLOB NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
