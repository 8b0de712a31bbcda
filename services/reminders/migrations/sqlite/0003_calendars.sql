-- Each tenant's business calendar (time zone, working days and hours, holidays, make-up
-- working days), as JSON (domain::CalendarSpec); a tenant without a row gets the default.
CREATE TABLE calendars (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
