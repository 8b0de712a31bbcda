//! The `assignments` table: the log of who got each lead, by which rule, and why.

use shangji_platform::Tx;
use shangji_platform::db::Params;

use super::{Exec, flag, from_json, to_json};

/// One decision, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRecord {
    pub lead_id: String,
    pub customer_id: String,
    /// None when the lead went to the pool.
    pub rep_id: Option<String>,
    pub team: String,
    pub rule: String,
    pub reason: String,
    /// The reps that were eligible.
    pub candidates: Vec<String>,
    pub pooled: bool,
    pub decided_at: i64,
}

type Row = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

/// Of `lead_ids`, those the tenant has decided, with the rep (none when pooled) and
/// rule of the decision in effect: one statement for a batch of leads.
pub async fn decided_among(
    tx: &mut Tx,
    tenant_id: &str,
    lead_ids: &[&str],
) -> Result<Vec<(String, Option<String>, String)>, sqlx::Error> {
    let mut found = Vec::new();
    for chunk in lead_ids.chunks(500) {
        let mut params = Params::new(tx);
        let tenant = params.one();
        let list = params.list(chunk.len());
        let sql = format!(
            "SELECT lead_id, rep_id, rule FROM assignments
             WHERE tenant_id = {tenant} AND lead_id IN ({list})"
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for lead_id in chunk {
            query = query.bind(*lead_id);
        }
        found.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(found)
}

pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<AssignmentRecord>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT lead_id, customer_id, rep_id, team, rule, reason, candidates, pooled, decided_at
         FROM assignments WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(exec)
    .await?;
    row.map(
        |(lead_id, customer_id, rep_id, team, rule, reason, candidates, pooled, decided_at)| {
            Ok(AssignmentRecord {
                candidates: from_json(&candidates, "assignments.candidates")?,
                lead_id,
                customer_id,
                rep_id,
                team,
                rule,
                reason,
                pooled: pooled != 0,
                decided_at,
            })
        },
    )
    .transpose()
}

/// Records a decision; false when the lead already had one (the first decision stands).
pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    record: &AssignmentRecord,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO assignments (tenant_id, lead_id, customer_id, rep_id, team, rule, reason,
                                  candidates, pooled, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, lead_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&record.lead_id)
    .bind(&record.customer_id)
    .bind(record.rep_id.as_deref())
    .bind(&record.team)
    .bind(&record.rule)
    .bind(&record.reason)
    .bind(to_json(&record.candidates))
    .bind(flag(record.pooled))
    .bind(record.decided_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A later decision placed the lead (from the pool, a hand-over): the current owner in
/// the log changes; the decision history keeps every step.
pub async fn reassign(
    tx: &mut Tx,
    tenant_id: &str,
    record: &AssignmentRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE assignments SET rep_id = $3, team = $4, rule = $5, reason = $6, candidates = $7,
                                pooled = $8, decided_at = $9
         WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(&record.lead_id)
    .bind(record.rep_id.as_deref())
    .bind(&record.team)
    .bind(&record.rule)
    .bind(&record.reason)
    .bind(to_json(&record.candidates))
    .bind(flag(record.pooled))
    .bind(record.decided_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Leads assigned to a rep that never became an opportunity (no `opportunity.created`
/// named them): they move with the rep's customers on hand-over.
pub async fn pending_leads_of<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.lead_id, a.customer_id FROM assignments a
         WHERE a.tenant_id = $1 AND a.rep_id = $2 AND a.pooled = 0
           AND NOT EXISTS (SELECT 1 FROM opportunity_owners o
                           WHERE o.tenant_id = a.tenant_id AND o.lead_id = a.lead_id)
           AND NOT EXISTS (SELECT 1 FROM opportunity_owners o
                           WHERE o.tenant_id = a.tenant_id AND o.customer_id = a.customer_id
                             AND a.customer_id <> '')
         ORDER BY a.customer_id, a.lead_id",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .fetch_all(exec)
    .await
}
