//! The `decisions` table: every decision taken for a lead, with what it looked at.

use serde::{Deserialize, Serialize};
use shangji_platform::Tx;
use shangji_platform::db::{BoundQuery, DeferredRow};

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

/// Records the decision when `tx` commits, with the transaction's other decisions in
/// one statement: nothing reads a decision back before (GetAssignment reads committed
/// ones) and each has a fresh id.
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
    tx.defer(DecisionRow {
        tenant_id: tenant_id.to_owned(),
        record: record.clone(),
        detail,
    });
    Ok(())
}

/// A decision waiting in its transaction to be written.
struct DecisionRow {
    tenant_id: String,
    record: DecisionRecord,
    detail: String,
}

impl DeferredRow for DecisionRow {
    fn insert(&self) -> &'static str {
        "INSERT INTO decisions (tenant_id, decision_id, lead_id, trigger_kind, rep_id, pooled,
                                rule, reason, detail, decided_at)"
    }

    fn width(&self) -> usize {
        10
    }

    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        let record = &self.record;
        query
            .bind(&self.tenant_id)
            .bind(&record.decision_id)
            .bind(&record.lead_id)
            .bind(&record.trigger)
            .bind(&record.rep_id)
            .bind(flag(record.pooled))
            .bind(&record.rule)
            .bind(&record.reason)
            .bind(&self.detail)
            .bind(record.decided_at)
    }
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
