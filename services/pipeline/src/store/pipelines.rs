//! Pipelines and their stages; the default one is seeded on first use.

use shangji_contracts::time::now_millis;
use sqlx::{AnyConnection, Row as _};

use crate::domain::stage::{DEFAULT_PIPELINE_ID, Pipeline, Stage};

/// The tenant's pipeline `pipeline_id` with its stages, if it exists.
pub async fn load(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Option<Pipeline>, sqlx::Error> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM pipelines WHERE tenant_id = $1 AND pipeline_id = $2")
            .bind(tenant_id)
            .bind(pipeline_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(name) = name else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT name, stage_order, win_probability, terminal FROM stages
         WHERE tenant_id = $1 AND pipeline_id = $2 ORDER BY stage_order",
    )
    .bind(tenant_id)
    .bind(pipeline_id)
    .fetch_all(&mut *conn)
    .await?;
    let stages = rows
        .iter()
        .map(|row| {
            let order: i64 = row.try_get("stage_order")?;
            let terminal: i64 = row.try_get("terminal")?;
            Ok(Stage {
                name: row.try_get("name")?,
                order: u32::try_from(order)
                    .map_err(|_| super::corrupt("stage_order", &order.to_string()))?,
                win_probability: row.try_get("win_probability")?,
                terminal: terminal != 0,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(Pipeline::new(pipeline_id.to_owned(), name, stages)))
}

/// Writes the default pipeline for the tenant unless it exists. Idempotent and safe
/// when replicas seed at once: the pipeline row is inserted with ON CONFLICT DO NOTHING
/// and its stages only by the transaction that inserted it.
pub async fn seed_default(conn: &mut AnyConnection, tenant_id: &str) -> Result<(), sqlx::Error> {
    let pipeline = Pipeline::default_pipeline();
    let inserted = sqlx::query(
        "INSERT INTO pipelines (tenant_id, pipeline_id, name, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, pipeline_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&pipeline.pipeline_id)
    .bind(&pipeline.name)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    for stage in &pipeline.stages {
        sqlx::query(
            "INSERT INTO stages (tenant_id, pipeline_id, name, stage_order, win_probability, terminal)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, pipeline_id, name) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&pipeline.pipeline_id)
        .bind(&stage.name)
        .bind(i64::from(stage.order))
        .bind(stage.win_probability)
        .bind(i64::from(stage.terminal))
        .execute(&mut *conn)
        .await?;
    }
    tracing::info!(tenant_id, pipeline_id = %pipeline.pipeline_id, "seeded the default pipeline");
    Ok(())
}

/// The tenant's pipeline `pipeline_id`, seeding it first when it is the default one.
/// Must run in a write transaction. `None` only for a missing non-default pipeline.
pub async fn load_or_seed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    pipeline_id: &str,
) -> Result<Option<Pipeline>, sqlx::Error> {
    if let Some(pipeline) = load(conn, tenant_id, pipeline_id).await? {
        return Ok(Some(pipeline));
    }
    if pipeline_id != DEFAULT_PIPELINE_ID {
        return Ok(None);
    }
    seed_default(conn, tenant_id).await?;
    load(conn, tenant_id, pipeline_id).await
}
