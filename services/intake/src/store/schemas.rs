//! Versions of each tenant's field schema. A version is written once and never changed,
//! so a lead's `schema_version` always points at the rules it was checked against.

use shangji_platform::Tx;
use sqlx::AnyPool;

#[derive(Debug, sqlx::FromRow)]
pub struct SchemaRow {
    pub version: i64,
    /// The encoded `shangji.intake.v1.FieldSchema`.
    pub schema: Vec<u8>,
}

/// The newest version, or a given one (`version > 0`).
pub async fn load_schema(
    pool: &AnyPool,
    tenant_id: &str,
    version: i64,
) -> Result<Option<SchemaRow>, sqlx::Error> {
    if version > 0 {
        sqlx::query_as(
            "SELECT version, schema FROM field_schemas WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant_id)
        .bind(version)
        .fetch_optional(pool)
        .await
    } else {
        sqlx::query_as(
            "SELECT version, schema FROM field_schemas WHERE tenant_id = $1
             ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant_id)
        .fetch_optional(pool)
        .await
    }
}

/// The newest version number inside the writing transaction (0: none yet).
pub async fn current_version(tx: &mut Tx, tenant_id: &str) -> Result<i64, sqlx::Error> {
    let row: (Option<i64>,) =
        sqlx::query_as("SELECT MAX(version) FROM field_schemas WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(row.0.unwrap_or(0))
}

/// Adds a version. Two concurrent upserts of the same version collide on the primary
/// key: the loser sees a unique violation.
pub async fn insert_schema(
    tx: &mut Tx,
    tenant_id: &str,
    version: i64,
    schema: &[u8],
    created_by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO field_schemas (tenant_id, version, schema, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(version)
    .bind(schema)
    .bind(now)
    .bind(created_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
