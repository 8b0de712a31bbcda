-- First contact for every assigned lead, and data permissions.
--
-- A first-contact reminder now belongs to a lead when one is known (`lead_id`), else to
-- its opportunity as before: a lead that attaches to a customer's open opportunity, or is
-- claimed or handed over, gets its own, and `lead.assigned` and `opportunity.created` of
-- one lead, in either order, meet on the same row. `opportunity_id` is '' until the
-- lead's opportunity is known.
ALTER TABLE reminders ADD COLUMN lead_id TEXT NOT NULL DEFAULT '';
DROP INDEX reminders_one_first_contact;
CREATE UNIQUE INDEX reminders_one_first_contact ON reminders (tenant_id, opportunity_id)
    WHERE kind = 'first_contact' AND lead_id = '';
CREATE UNIQUE INDEX reminders_one_first_contact_per_lead ON reminders (tenant_id, lead_id)
    WHERE kind = 'first_contact' AND lead_id <> '';

-- What reminders knows about each assigned lead: the newest owner (the time of the
-- assignment that named them), its team (for data permissions), when it was first
-- assigned (the first-contact clock), and the opportunity it opened or attached to.
CREATE TABLE leads (
    tenant_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    owner_as_of BIGINT NOT NULL,
    team TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    assigned_at BIGINT,
    opportunity_id TEXT NOT NULL,
    -- 1 when `opportunity.created` named this lead: that event decides its first contact.
    opened_opportunity BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
);

-- Roles and working status for data permissions (rep, manager, admin; departed reps see
-- nothing). Rows replicated before this migration lack them: their version is reset so
-- that the org consumer, which starts afresh under a new durable name, fills them in.
ALTER TABLE org_reps ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE org_reps ADD COLUMN status TEXT NOT NULL DEFAULT '';
UPDATE org_reps SET version = -1;
UPDATE org_teams SET version = -1;

-- When lead reminders started. The new lead consumer reads the lead stream from its
-- beginning; assignments from before this moment are history whose opportunities got
-- their first-contact reminders the old way, so they must not fire now.
CREATE TABLE cutovers (
    name TEXT NOT NULL PRIMARY KEY,
    at BIGINT NOT NULL
);
INSERT INTO cutovers (name, at) VALUES ('lead_first_contact', CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT));
