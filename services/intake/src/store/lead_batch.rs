//! Many leads and trail steps in a few statements: the rows of one import chunk, the
//! submissions committed together, the steps of one consumer batch.
//!
//! One multi-row INSERT per few hundred rows instead of one statement per row; the
//! parameters are anonymous on SQLite (see `shangji_platform::db::Params`), where named
//! ones cost time quadratic in their number.

use std::collections::HashSet;

use shangji_platform::Tx;
use shangji_platform::db::Params;

use super::NewLead;

/// Rows per statement: 10 parameters a lead, 7 a step, both far below the bind limits of
/// SQLite (32,766) and PostgreSQL (65,535).
const ROWS_PER_STATEMENT: usize = 250;

/// Stores the leads; returns the ids of those stored. A lead whose
/// submission key was already used is not stored (it exists from an earlier
/// submission), exactly as `insert_lead` does it one at a time.
pub async fn insert_leads(
    tx: &mut Tx,
    leads: &[NewLead<'_>],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut stored = HashSet::with_capacity(leads.len());
    for chunk in leads.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values = params.rows(chunk.len(), 10);
        // Only the rows actually inserted come back: the conflicting ones are skipped.
        let sql = format!(
            "INSERT INTO leads (tenant_id, lead_id, channel, lead, attribution, schema_version,
                                submission_key, status, received_at, updated_at)
             VALUES {values}
             ON CONFLICT DO NOTHING RETURNING lead_id"
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for lead in chunk {
            query = query
                .bind(lead.tenant_id)
                .bind(lead.lead_id)
                .bind(lead.channel)
                .bind(lead.lead)
                .bind(lead.attribution)
                .bind(lead.schema_version)
                .bind(lead.submission_key)
                .bind(lead.status)
                .bind(lead.now)
                .bind(lead.now);
        }
        stored.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(stored)
}

/// One step of a lead's trail, as a service reported it.
pub struct TrailStep<'a> {
    pub tenant_id: &'a str,
    pub lead_id: &'a str,
    pub event_id: &'a str,
    pub status: i32,
    pub detail: &'a str,
    pub service: &'a str,
    pub at: i64,
}

/// Records the steps; returns the event ids of those recorded now (a step already
/// recorded for its event, from a redelivery, is left as it is and not returned).
pub async fn record_steps(
    tx: &mut Tx,
    steps: &[TrailStep<'_>],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut recorded = HashSet::with_capacity(steps.len());
    for chunk in steps.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values = params.rows(chunk.len(), 7);
        let sql = format!(
            "INSERT INTO lead_trail (tenant_id, lead_id, event_id, status, detail, service, at)
             VALUES {values} ON CONFLICT DO NOTHING RETURNING event_id"
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for step in chunk {
            query = query
                .bind(step.tenant_id)
                .bind(step.lead_id)
                .bind(step.event_id)
                .bind(step.status)
                .bind(step.detail)
                .bind(step.service)
                .bind(step.at);
        }
        recorded.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(recorded)
}
