//! The `stage_catalog` table: the tenant's stages and their order, learned from the
//! events. A newer statement wins, so it is the same whatever order events arrive in.

use shangji_platform::{Db, Tx};

use crate::domain::CatalogStage;

/// Learns that `stage` has position `order` as of `learned_at`; a newer statement wins
/// (a pipeline may be reordered).
pub async fn learn(
    tx: &mut Tx,
    tenant_id: &str,
    stage: &str,
    order: u32,
    learned_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stage_catalog (tenant_id, stage, stage_order, learned_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, stage) DO UPDATE
         SET stage_order = excluded.stage_order, learned_at = excluded.learned_at
         WHERE stage_catalog.learned_at <= excluded.learned_at",
    )
    .bind(tenant_id)
    .bind(stage)
    .bind(i64::from(order))
    .bind(learned_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The position of `stage`, when an event has told it.
pub async fn order_of(
    tx: &mut Tx,
    tenant_id: &str,
    stage: &str,
) -> Result<Option<u32>, sqlx::Error> {
    let order: Option<i64> = sqlx::query_scalar(
        "SELECT stage_order FROM stage_catalog WHERE tenant_id = $1 AND stage = $2",
    )
    .bind(tenant_id)
    .bind(stage)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(order.and_then(|o| u32::try_from(o).ok()))
}

/// The tenant's known stages, in order.
pub async fn stages(db: &Db, tenant_id: &str) -> Result<Vec<CatalogStage>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT stage, stage_order FROM stage_catalog WHERE tenant_id = $1 ORDER BY stage_order, stage",
    )
    .bind(tenant_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(stage, order)| CatalogStage {
            stage,
            order: u32::try_from(order).unwrap_or(u32::MAX),
        })
        .collect())
}
