-- Reminders: one row per thing a rep must do by a time.
CREATE TABLE reminders (
    tenant_id TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('first_contact', 'follow_up')),
    -- UTC milliseconds, like every time below.
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'fired', 'done', 'cancelled')),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    fired_at BIGINT,
    PRIMARY KEY (tenant_id, reminder_id)
);

-- The timer's query (pending, due by now, oldest first, across tenants) reads only what is due.
CREATE INDEX reminders_state_due ON reminders (state, due_at);
-- ListDue for a whole tenant, and for one owner.
CREATE INDEX reminders_tenant_state_due ON reminders (tenant_id, state, due_at);
CREATE INDEX reminders_owner_state_due ON reminders (tenant_id, owner_rep_id, state, due_at);
-- The event handlers change the reminders of one opportunity.
CREATE INDEX reminders_opportunity ON reminders (tenant_id, opportunity_id, kind, state);
-- One first-contact reminder per opportunity, whatever became of it: a redelivered or
-- late `created` cannot add a second one.
CREATE UNIQUE INDEX reminders_one_first_contact ON reminders (tenant_id, opportunity_id)
    WHERE kind = 'first_contact';

-- What reminders knows about each opportunity, so events arriving out of order cannot
-- undo each other: the newest owner, whether (and how) it closed, and which activity
-- last planned the follow-up.
CREATE TABLE opportunities (
    tenant_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    -- When the owner above became true (the time carried by the event that said so).
    owner_as_of BIGINT NOT NULL,
    -- Set once by won/lost; a closed opportunity gets no new reminders.
    closed_at BIGINT,
    outcome TEXT CHECK (outcome IN ('won', 'lost')),
    -- logged_at of the activity that scheduled the current follow-up.
    follow_up_as_of BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, opportunity_id)
);
