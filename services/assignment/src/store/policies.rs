//! The `recycling_policies` table: per tenant, after how many days without follow-up
//! an open opportunity returns to the pool.

use shangji_platform::Tx;

use super::{Exec, flag};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecyclingPolicy {
    pub no_follow_up_days: u32,
    pub enabled: bool,
    pub version: i64,
}

pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
) -> Result<Option<RecyclingPolicy>, sqlx::Error> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT no_follow_up_days, enabled, version FROM recycling_policies WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(exec)
    .await?;
    Ok(row.map(|(days, enabled, version)| RecyclingPolicy {
        no_follow_up_days: u32::try_from(days).unwrap_or(u32::MAX),
        enabled: enabled != 0,
        version,
    }))
}

/// Saves the policy (version + 1) and returns it as stored.
pub async fn save(
    tx: &mut Tx,
    tenant_id: &str,
    days: u32,
    enabled: bool,
    now: i64,
) -> Result<RecyclingPolicy, sqlx::Error> {
    sqlx::query(
        "INSERT INTO recycling_policies (tenant_id, no_follow_up_days, enabled, version, updated_at)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (tenant_id) DO UPDATE
         SET no_follow_up_days = excluded.no_follow_up_days, enabled = excluded.enabled,
             version = recycling_policies.version + 1, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(i64::from(days))
    .bind(flag(enabled))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    get(&mut **tx, tenant_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}
