-- Per-tenant reasons a deal is lost, in the order reps see them.
CREATE TABLE loss_reasons (
    tenant_id TEXT NOT NULL,
    code TEXT NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
