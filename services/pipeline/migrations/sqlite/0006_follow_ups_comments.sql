-- The follow-up template on activities, and attachments by reference (a JSON array of
-- {uri, name, content_type, size_bytes}; the files live elsewhere).
ALTER TABLE activities ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN customer_questions TEXT NOT NULL DEFAULT '';
ALTER TABLE activities ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

-- Comments on opportunities; never changed or deleted.
CREATE TABLE comments (
    tenant_id TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    author_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, comment_id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, opportunity_id)
);
CREATE INDEX comments_by_opportunity ON comments (tenant_id, opportunity_id, created_at, comment_id);
