//! The progress of many leads at once, for a batch of downstream events: their rows
//! locked and read in one statement, their trail steps recorded in one, their summaries
//! written in one. A consumer batch of n events costs three statements instead of 3n;
//! each statement is a round trip to the database's thread, and intake's one SQLite
//! writer is shared with the submissions waiting for their acknowledgement.

use std::collections::HashMap;

use shangji_platform::Tx;
use shangji_platform::db::Params;

use super::Progress;

/// A lead, by tenant and id.
pub type LeadKey = (String, String);

/// Rows per statement: at most 10 parameters a row, far below the bind limits of
/// SQLite (32,766) and PostgreSQL (65,535).
const ROWS_PER_STATEMENT: usize = 250;

#[derive(sqlx::FromRow)]
struct ProgressRow {
    tenant_id: String,
    lead_id: String,
    #[sqlx(flatten)]
    progress: Progress,
}

/// The progress of the leads that exist, locked for the rest of the transaction.
pub async fn lock_progress(
    tx: &mut Tx,
    leads: &[LeadKey],
) -> Result<HashMap<LeadKey, Progress>, sqlx::Error> {
    let mut found = HashMap::with_capacity(leads.len());
    for chunk in leads.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let wanted = params.rows(chunk.len(), 2);
        // A no-op UPDATE rather than a SELECT: it takes the rows' write locks before
        // reading, so two replicas applying different trail events to one lead serialise
        // instead of each overwriting the other's progress (a lost update under read
        // committed).
        let sql = format!(
            "UPDATE leads SET updated_at = updated_at
             WHERE (tenant_id, lead_id) IN (VALUES {wanted})
             RETURNING tenant_id, lead_id, status, customer_id, new_customer, score, grade,
                       owner_rep_id, opportunity_id"
        );
        let mut query = sqlx::query_as::<_, ProgressRow>(sqlx::AssertSqlSafe(sql));
        for (tenant_id, lead_id) in chunk {
            query = query.bind(tenant_id).bind(lead_id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            found.insert((row.tenant_id, row.lead_id), row.progress);
        }
    }
    Ok(found)
}

/// Writes the leads' summaries (status, customer, owner, opportunity) as they now stand.
pub async fn save_progress(
    tx: &mut Tx,
    leads: &[(&LeadKey, &Progress)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in leads.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values = params.rows(chunk.len(), 9);
        let updated_at = params.one();
        let sql = format!(
            "WITH v (tenant_id, lead_id, status, customer_id, new_customer, score, grade,
                     owner_rep_id, opportunity_id) AS (VALUES {values})
             UPDATE leads SET status = v.status, customer_id = v.customer_id,
                    new_customer = v.new_customer, score = v.score, grade = v.grade,
                    owner_rep_id = v.owner_rep_id, opportunity_id = v.opportunity_id,
                    updated_at = {updated_at}
             FROM v WHERE leads.tenant_id = v.tenant_id AND leads.lead_id = v.lead_id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((tenant_id, lead_id), p) in chunk {
            query = query
                .bind(tenant_id)
                .bind(lead_id)
                .bind(p.status)
                .bind(&p.customer_id)
                .bind(p.new_customer)
                .bind(p.score)
                .bind(&p.grade)
                .bind(&p.owner_rep_id)
                .bind(&p.opportunity_id);
        }
        query.bind(now).execute(&mut **tx).await?;
    }
    Ok(())
}
