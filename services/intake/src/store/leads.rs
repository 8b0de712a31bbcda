//! Leads and their trail.

use shangji_platform::db::Backend;
use shangji_platform::{Db, Tx};
use sqlx::AnyConnection;

/// A stored lead as GetLead shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct LeadRow {
    pub lead_id: String,
    pub lead: Vec<u8>,
    pub status: i32,
    pub customer_id: String,
    pub new_customer: i64,
    pub score: f64,
    pub grade: String,
    pub owner_rep_id: String,
    pub opportunity_id: String,
    pub received_at: i64,
    pub channel: String,
    pub attribution: Option<Vec<u8>>,
    pub schema_version: i64,
}

/// One step of the trail.
#[derive(Debug, sqlx::FromRow)]
pub struct StepRow {
    pub event_id: String,
    pub status: i32,
    pub detail: String,
    pub service: String,
    pub at: i64,
}

/// The downstream facts a lead has collected so far.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct Progress {
    pub status: i32,
    pub customer_id: String,
    pub new_customer: i64,
    pub score: f64,
    pub grade: String,
    pub owner_rep_id: String,
    pub opportunity_id: String,
}

/// A lead as a channel captured it, ready to store.
pub struct NewLead<'a> {
    pub tenant_id: &'a str,
    pub lead_id: &'a str,
    pub channel: &'a str,
    /// The encoded `shangji.common.v1.Lead`.
    pub lead: &'a [u8],
    /// The encoded `shangji.common.v1.Attribution`.
    pub attribution: &'a [u8],
    pub schema_version: i64,
    /// Set by channels that key leads themselves (import rows, form posts).
    pub submission_key: Option<&'a str>,
    pub status: i32,
    pub now: i64,
}

/// Stores the lead; returns false (and stores nothing) when its submission key was
/// already used, i.e. the lead exists from an earlier submission.
pub async fn insert_lead(tx: &mut Tx, lead: &NewLead<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO leads (tenant_id, lead_id, channel, lead, attribution, schema_version,
                            submission_key, status, received_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT DO NOTHING",
    )
    .bind(lead.tenant_id)
    .bind(lead.lead_id)
    .bind(lead.channel)
    .bind(lead.lead)
    .bind(lead.attribution)
    .bind(lead.schema_version)
    .bind(lead.submission_key)
    .bind(lead.status)
    .bind(lead.now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a step; returns false when this event's step was already recorded.
#[allow(clippy::too_many_arguments)] // one column each; a struct would only rename them
pub async fn insert_step(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    event_id: &str,
    status: i32,
    detail: &str,
    service: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO lead_trail (tenant_id, lead_id, event_id, status, detail, service, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(event_id)
    .bind(status)
    .bind(detail)
    .bind(service)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn load_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT lead_id, lead, status, customer_id, new_customer, score, grade,
                owner_rep_id, opportunity_id, received_at, channel, attribution, schema_version
         FROM leads WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(conn)
    .await
}

/// The trail, in the order the steps happened.
async fn load_trail(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Vec<StepRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, status, detail, service, at FROM lead_trail
         WHERE tenant_id = $1 AND lead_id = $2 ORDER BY at, status",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_all(conn)
    .await
}

/// The lead and its trail as of one moment. A step and the summary it changes commit
/// together, so two separate reads could show one without the other; one read-only
/// snapshot (repeatable read on PostgreSQL; a read transaction is a snapshot in SQLite's
/// WAL mode) cannot.
pub async fn load_lead_with_trail(
    db: &Db,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<(LeadRow, Vec<StepRow>)>, sqlx::Error> {
    let mut tx = db.reader().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let Some(lead) = load_lead(&mut tx, tenant_id, lead_id).await? else {
        return Ok(None);
    };
    let trail = load_trail(&mut tx, tenant_id, lead_id).await?;
    tx.commit().await?;
    Ok(Some((lead, trail)))
}
