//! The `leads` table: what reminders knows about each assigned lead, kept so that
//! `lead.assigned` and the opportunity events naming the lead, arriving in any order,
//! meet on one first-contact reminder.

use shangji_platform::Tx;
use shangji_platform::db::BoundQuery;

/// What is known about a lead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFacts {
    /// The newest owner ('' while only an opportunity event has named the lead).
    pub owner_rep_id: String,
    pub team: String,
    pub customer_id: String,
    /// When it was first assigned: where its first-contact clock starts.
    pub assigned_at: Option<i64>,
    /// The opportunity it opened or attached to ('' while unknown).
    pub opportunity_id: String,
    /// `opportunity.created` named it: that event decides its first contact.
    pub opened_opportunity: bool,
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    owner_rep_id: String,
    team: String,
    customer_id: String,
    assigned_at: Option<i64>,
    opportunity_id: String,
    opened_opportunity: i64,
}

/// The cut-over after which assignments get lead reminders (see migration 0005).
pub async fn reminders_since(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT at FROM cutovers WHERE name = 'lead_first_contact'")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(at.unwrap_or(i64::MIN))
}

impl From<FactsRow> for LeadFacts {
    fn from(r: FactsRow) -> LeadFacts {
        LeadFacts {
            owner_rep_id: r.owner_rep_id,
            team: r.team,
            customer_id: r.customer_id,
            assigned_at: r.assigned_at,
            opportunity_id: r.opportunity_id,
            opened_opportunity: r.opened_opportunity != 0,
        }
    }
}

pub async fn facts(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<LeadFacts>, sqlx::Error> {
    let row: Option<FactsRow> = sqlx::query_as(
        "SELECT owner_rep_id, team, customer_id, assigned_at, opportunity_id, opened_opportunity
         FROM leads WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(LeadFacts::from))
}

/// One `lead.assigned`, as recorded.
#[derive(Clone, Copy, Debug)]
pub struct Assignment<'a> {
    pub lead_id: &'a str,
    pub owner_rep_id: &'a str,
    pub team: &'a str,
    pub customer_id: &'a str,
    /// When the assignment was made.
    pub at: i64,
    /// An assignment starts the first-contact clock; a transfer of ownership only
    /// changes the owner.
    pub starts_clock: bool,
}

/// An assignment or transfer: the newest one names the owner and team, the earliest
/// assignment starts the clock. Returns what is known afterwards.
pub async fn record_assignment(
    tx: &mut Tx,
    tenant_id: &str,
    a: &Assignment<'_>,
    now: i64,
) -> Result<LeadFacts, sqlx::Error> {
    let row: FactsRow = sqlx::query_as(
        "INSERT INTO leads (tenant_id, lead_id, owner_rep_id, owner_as_of, team, customer_id,
                            assigned_at, opportunity_id, opened_opportunity, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $8, '', 0, $7)
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
             owner_rep_id = CASE WHEN leads.owner_as_of <= excluded.owner_as_of
                                 THEN excluded.owner_rep_id ELSE leads.owner_rep_id END,
             team = CASE WHEN leads.owner_as_of <= excluded.owner_as_of
                         THEN excluded.team ELSE leads.team END,
             owner_as_of = CASE WHEN leads.owner_as_of <= excluded.owner_as_of
                                THEN excluded.owner_as_of ELSE leads.owner_as_of END,
             customer_id = CASE WHEN excluded.customer_id = '' THEN leads.customer_id
                                ELSE excluded.customer_id END,
             assigned_at = CASE WHEN excluded.assigned_at IS NOT NULL
                                     AND (leads.assigned_at IS NULL OR excluded.assigned_at < leads.assigned_at)
                                THEN excluded.assigned_at ELSE leads.assigned_at END,
             updated_at = excluded.updated_at
         RETURNING owner_rep_id, team, customer_id, assigned_at, opportunity_id,
                   opened_opportunity",
    )
    .bind(tenant_id)
    .bind(a.lead_id)
    .bind(a.owner_rep_id)
    .bind(a.at)
    .bind(a.team)
    .bind(a.customer_id)
    .bind(now)
    .bind(a.starts_clock.then_some(a.at))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// The lead opened (`opened`) or attached to `opportunity_id`. The first opportunity
/// named stays (a lead belongs to one), but an opening always wins over an attachment.
pub async fn link_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    opportunity_id: &str,
    opened: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    link_opportunity_statement(tenant_id, lead_id, opportunity_id, opened, now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The statement [`link_opportunity`] runs, for a
/// [`Together`](shangji_platform::db::Together).
pub fn link_opportunity_statement(
    tenant_id: &str,
    lead_id: &str,
    opportunity_id: &str,
    opened: bool,
    now: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "INSERT INTO leads (tenant_id, lead_id, owner_rep_id, owner_as_of, team, customer_id,
                            assigned_at, opportunity_id, opened_opportunity, updated_at)
         VALUES ($1, $2, '', $3, '', '', NULL, $4, $5, $6)
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
             opportunity_id = CASE WHEN leads.opportunity_id = '' OR excluded.opened_opportunity = 1
                                   THEN excluded.opportunity_id ELSE leads.opportunity_id END,
             opened_opportunity = CASE WHEN excluded.opened_opportunity = 1 THEN 1
                                       ELSE leads.opened_opportunity END,
             updated_at = excluded.updated_at",
    )
    .bind(tenant_id.to_owned())
    .bind(lead_id.to_owned())
    .bind(i64::MIN)
    .bind(opportunity_id.to_owned())
    .bind(i64::from(opened))
    .bind(now)
}
