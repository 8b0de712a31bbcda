//! Web forms: one row per tenant and form, the WebForm message encoded.

use shangji_platform::Tx;
use sqlx::AnyPool;

/// A stored form: the encoded WebForm and the counters kept beside it.
#[derive(Debug, sqlx::FromRow)]
pub struct FormRow {
    pub form: Vec<u8>,
    pub version: i64,
    pub honeypot_hits: i64,
}

pub async fn load_form(
    pool: &AnyPool,
    tenant_id: &str,
    form_id: &str,
) -> Result<Option<FormRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT form, version, honeypot_hits FROM web_forms
         WHERE tenant_id = $1 AND form_id = $2",
    )
    .bind(tenant_id)
    .bind(form_id)
    .fetch_optional(pool)
    .await
}

/// The tenant's forms, by id.
pub async fn load_forms(pool: &AnyPool, tenant_id: &str) -> Result<Vec<FormRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT form, version, honeypot_hits FROM web_forms
         WHERE tenant_id = $1 ORDER BY form_id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}

/// The form's version on `tx` (0: no such form yet).
pub async fn form_version(tx: &mut Tx, tenant_id: &str, form_id: &str) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT version FROM web_forms WHERE tenant_id = $1 AND form_id = $2")
            .bind(tenant_id)
            .bind(form_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map_or(0, |(v,)| v))
}

/// Stores version `version` of the form, which must follow `version - 1`. Returns false
/// when another upsert got there first (the caller re-reads and reports the conflict).
pub async fn save_form(
    tx: &mut Tx,
    tenant_id: &str,
    form_id: &str,
    version: i64,
    form: &[u8],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = if version == 1 {
        sqlx::query(
            "INSERT INTO web_forms (tenant_id, form_id, form, version, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, form_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(form_id)
        .bind(form)
        .bind(version)
        .bind(now)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE web_forms SET form = $3, version = $4, updated_at = $5
             WHERE tenant_id = $1 AND form_id = $2 AND version = $4 - 1",
        )
        .bind(tenant_id)
        .bind(form_id)
        .bind(form)
        .bind(version)
        .bind(now)
        .execute(&mut **tx)
        .await?
    };
    Ok(done.rows_affected() == 1)
}

/// Counts one post dropped by the honeypot.
pub async fn count_honeypot_hit(
    tx: &mut Tx,
    tenant_id: &str,
    form_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE web_forms SET honeypot_hits = honeypot_hits + 1
         WHERE tenant_id = $1 AND form_id = $2",
    )
    .bind(tenant_id)
    .bind(form_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
