//! Per-tenant match thresholds, overriding the service's settings.

use sqlx::AnyConnection;

use crate::domain::matching::MatchThresholds;

/// The tenant's thresholds, or `defaults` when it set none. Stored values that no
/// longer make sense (written by hand) fall back to the defaults too.
pub async fn tenant_thresholds(
    conn: &mut AnyConnection,
    tenant_id: &str,
    defaults: MatchThresholds,
) -> Result<MatchThresholds, sqlx::Error> {
    let row: Option<(f64, f64)> =
        sqlx::query_as("SELECT same_min, possible_min FROM match_thresholds WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row
        .and_then(|(same, possible)| MatchThresholds::new(same, possible).ok())
        .unwrap_or(defaults))
}

/// The thresholds the tenant set itself and when, if it set any that still make sense.
pub async fn own_thresholds(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Option<(MatchThresholds, i64)>, sqlx::Error> {
    let row: Option<(f64, f64, i64)> = sqlx::query_as(
        "SELECT same_min, possible_min, updated_at FROM match_thresholds WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(same, possible, updated_at)| {
        MatchThresholds::new(same, possible)
            .ok()
            .map(|t| (t, updated_at))
    }))
}

pub async fn set_tenant_thresholds(
    conn: &mut AnyConnection,
    tenant_id: &str,
    thresholds: MatchThresholds,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO match_thresholds (tenant_id, same_min, possible_min, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET same_min = excluded.same_min,
             possible_min = excluded.possible_min, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(thresholds.same)
    .bind(thresholds.possible)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Back to the service's settings.
pub async fn clear_tenant_thresholds(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM match_thresholds WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(conn)
        .await?;
    Ok(())
}
