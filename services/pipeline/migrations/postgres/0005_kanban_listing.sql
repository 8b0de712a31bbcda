-- When the newest activity was logged on each opportunity (NULL: none yet), kept by
-- every activity insert, so the kanban list can sort and find stalled deals without
-- scanning activities per row.
ALTER TABLE opportunities ADD COLUMN last_activity_at BIGINT;
UPDATE opportunities SET last_activity_at = (
    SELECT MAX(a.logged_at) FROM activities a
    WHERE a.tenant_id = opportunities.tenant_id AND a.opportunity_id = opportunities.opportunity_id
);
-- Keyset paging per sort: the same key expressions the listing orders by (missing dates
-- filled in), then opportunity_id; the plain close date serves the date-range filter.
CREATE INDEX opportunities_by_amount ON opportunities (tenant_id, amount, opportunity_id);
CREATE INDEX opportunities_by_close ON opportunities (tenant_id, expected_close_at, opportunity_id);
CREATE INDEX opportunities_by_close_key ON opportunities
    (tenant_id, (COALESCE(expected_close_at, 9223372036854775807)), opportunity_id);
CREATE INDEX opportunities_by_last_activity_key ON opportunities
    (tenant_id, (COALESCE(last_activity_at, 0)), opportunity_id);
