//! The funnel's two grouped queries over `opportunities`. Each returns a handful of
//! rows (one per stage order or stage and status), whatever the number of opportunities.

use shangji_platform::Db;

use crate::domain::{OpportunityStatus, ReachedBucket, StageOccupancy};

/// How many opportunities (and what amount) have each furthest stage order.
pub async fn reached(
    db: &Db,
    tenant_id: &str,
    owner_rep_id: Option<&str>,
) -> Result<Vec<ReachedBucket>, sqlx::Error> {
    let rows: Vec<(i64, i64, f64)> = match owner_rep_id {
        Some(owner) => {
            sqlx::query_as(
                "SELECT max_stage_order_reached, COUNT(*), SUM(amount) FROM opportunities
                 WHERE tenant_id = $1 AND owner_rep_id = $2
                 GROUP BY max_stage_order_reached",
            )
            .bind(tenant_id)
            .bind(owner)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT max_stage_order_reached, COUNT(*), SUM(amount) FROM opportunities
                 WHERE tenant_id = $1
                 GROUP BY max_stage_order_reached",
            )
            .bind(tenant_id)
            .fetch_all(db.reader())
            .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(max_order_reached, count, amount)| ReachedBucket {
            max_order_reached,
            count: count.max(0) as u64,
            amount,
        })
        .collect())
}

/// How many opportunities (and what amount) sit in each stage with each status.
pub async fn occupancy(
    db: &Db,
    tenant_id: &str,
    owner_rep_id: Option<&str>,
) -> Result<Vec<StageOccupancy>, sqlx::Error> {
    let rows: Vec<(String, String, i64, f64)> = match owner_rep_id {
        Some(owner) => {
            sqlx::query_as(
                "SELECT status, stage, COUNT(*), SUM(amount) FROM opportunities
                 WHERE tenant_id = $1 AND owner_rep_id = $2
                 GROUP BY status, stage",
            )
            .bind(tenant_id)
            .bind(owner)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT status, stage, COUNT(*), SUM(amount) FROM opportunities
                 WHERE tenant_id = $1
                 GROUP BY status, stage",
            )
            .bind(tenant_id)
            .fetch_all(db.reader())
            .await?
        }
    };
    rows.into_iter()
        .map(|(status, stage, count, amount)| {
            let status = OpportunityStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown opportunity status `{status}`").into())
            })?;
            Ok(StageOccupancy {
                stage,
                status,
                count: count.max(0) as u64,
                amount,
            })
        })
        .collect()
}
