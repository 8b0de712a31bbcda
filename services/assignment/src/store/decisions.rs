//! The `decisions` table: every decision taken for a lead, with what it looked at.

use serde::{Deserialize, Serialize};
use shangji_platform::Tx;

use super::{Exec, flag};
use crate::domain::Audit;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionRecord {
    pub decision_id: String,
    pub lead_id: String,
    pub customer_id: String,
    /// qualified, pool_drain, pool_claim, hand_over, merge
    pub trigger: String,
    /// Empty when pooled.
    pub rep_id: String,
    pub pooled: bool,
    pub pool_team: String,
    pub rule: String,
    pub reason: String,
    pub audit: Audit,
    pub decided_at: i64,
}

/// What goes into the `detail` JSON column.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Detail {
    customer_id: String,
    pool_team: String,
    audit: Audit,
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    record: &DecisionRecord,
) -> Result<(), sqlx::Error> {
    let detail = serde_json::to_string(&Detail {
        customer_id: record.customer_id.clone(),
        pool_team: record.pool_team.clone(),
        audit: record.audit.clone(),
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO decisions (tenant_id, decision_id, lead_id, trigger_kind, rep_id, pooled,
                                rule, reason, detail, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(&record.decision_id)
    .bind(&record.lead_id)
    .bind(&record.trigger)
    .bind(&record.rep_id)
    .bind(flag(record.pooled))
    .bind(&record.rule)
    .bind(&record.reason)
    .bind(detail)
    .bind(record.decided_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
);

/// The lead's decisions, oldest first.
pub async fn for_lead<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Vec<DecisionRecord>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT decision_id, lead_id, trigger_kind, rep_id, pooled, rule, reason, detail, decided_at
         FROM decisions WHERE tenant_id = $1 AND lead_id = $2 ORDER BY decided_at, decision_id",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_all(exec)
    .await?;
    rows.into_iter()
        .map(
            |(decision_id, lead_id, trigger, rep_id, pooled, rule, reason, detail, decided_at)| {
                let detail: Detail = serde_json::from_str(&detail).map_err(|e| {
                    sqlx::Error::Decode(format!("decision {decision_id} detail: {e}").into())
                })?;
                Ok(DecisionRecord {
                    decision_id,
                    lead_id,
                    customer_id: detail.customer_id,
                    trigger,
                    rep_id,
                    pooled: pooled != 0,
                    pool_team: detail.pool_team,
                    rule,
                    reason,
                    audit: detail.audit,
                    decided_at,
                })
            },
        )
        .collect()
}
