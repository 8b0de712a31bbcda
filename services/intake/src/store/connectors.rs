//! Webhook connectors: one row per tenant and connector, the Connector message (with its
//! secret) encoded.

use shangji_platform::Tx;
use sqlx::AnyPool;

#[derive(Debug, sqlx::FromRow)]
pub struct ConnectorRow {
    pub connector: Vec<u8>,
    pub version: i64,
}

pub async fn load_connector(
    pool: &AnyPool,
    tenant_id: &str,
    connector_id: &str,
) -> Result<Option<ConnectorRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, version FROM connectors WHERE tenant_id = $1 AND connector_id = $2",
    )
    .bind(tenant_id)
    .bind(connector_id)
    .fetch_optional(pool)
    .await
}

/// The connector as stored on `tx` (to keep its secret when an upsert leaves it empty).
pub async fn load_connector_in(
    tx: &mut Tx,
    tenant_id: &str,
    connector_id: &str,
) -> Result<Option<ConnectorRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, version FROM connectors WHERE tenant_id = $1 AND connector_id = $2",
    )
    .bind(tenant_id)
    .bind(connector_id)
    .fetch_optional(&mut **tx)
    .await
}

/// The tenant's connectors, by id.
pub async fn load_connectors(
    pool: &AnyPool,
    tenant_id: &str,
) -> Result<Vec<ConnectorRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT connector, version FROM connectors WHERE tenant_id = $1 ORDER BY connector_id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}

/// Stores version `version`, which must follow `version - 1`; false when another upsert
/// got there first.
pub async fn save_connector(
    tx: &mut Tx,
    tenant_id: &str,
    connector_id: &str,
    version: i64,
    connector: &[u8],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = if version == 1 {
        sqlx::query(
            "INSERT INTO connectors (tenant_id, connector_id, connector, version, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connector_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(connector_id)
        .bind(connector)
        .bind(version)
        .bind(now)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE connectors SET connector = $3, version = $4, updated_at = $5
             WHERE tenant_id = $1 AND connector_id = $2 AND version = $4 - 1",
        )
        .bind(tenant_id)
        .bind(connector_id)
        .bind(connector)
        .bind(version)
        .bind(now)
        .execute(&mut **tx)
        .await?
    };
    Ok(done.rows_affected() == 1)
}
