//! The `opportunity_owners` table: who owns each opportunity and whether it is open,
//! kept right whatever order the opportunity events arrive in:
//! - closing is final, so `closed` only ever goes from 0 to 1;
//! - of two owner changes the one that happened later wins (`owner_since`);
//! - a late `created` does not overwrite what later events already told.
//!
//! Each function returns the reps whose open count may have changed.

use shangji_platform::Tx;

use super::Exec;

async fn owner<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT rep_id FROM opportunity_owners WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_optional(exec)
    .await
}

fn affected(previous: Option<String>, rep_id: &str) -> Vec<String> {
    let mut reps: Vec<String> = previous.into_iter().collect();
    if !reps.iter().any(|r| r == rep_id) {
        reps.push(rep_id.to_owned());
    }
    reps
}

/// The opportunity was opened with `rep_id` as owner at `at`.
pub async fn opened(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    rep_id: &str,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since)
         VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(rep_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(vec![rep_id.to_owned()])
}

/// The opportunity moved to `to` at `at`.
pub async fn owner_changed(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    to: &str,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let previous = owner(&mut **tx, tenant_id, opportunity_id).await?;
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since)
         VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE
         SET rep_id = excluded.rep_id, owner_since = excluded.owner_since
         WHERE opportunity_owners.owner_since <= excluded.owner_since",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(to)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(affected(previous, to))
}

/// The opportunity was won or lost; `rep_id` owned it then.
pub async fn closed(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    rep_id: &str,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let previous = owner(&mut **tx, tenant_id, opportunity_id).await?;
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET closed = 1",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(rep_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(affected(previous, rep_id))
}
