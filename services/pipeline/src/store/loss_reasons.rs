//! The tenant's loss reasons.

use sqlx::{AnyConnection, Row as _};

/// A reason a deal is lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossReason {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
}

/// Replaces the tenant's list.
pub async fn replace(
    conn: &mut AnyConnection,
    tenant_id: &str,
    reasons: &[LossReason],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM loss_reasons WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
    for (position, reason) in (0i64..).zip(reasons) {
        sqlx::query(
            "INSERT INTO loss_reasons (tenant_id, code, label_zh, label_en, position)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(&reason.code)
        .bind(&reason.label_zh)
        .bind(&reason.label_en)
        .bind(position)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The tenant's list, in order; empty when it has none.
pub async fn list(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Vec<LossReason>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT code, label_zh, label_en FROM loss_reasons WHERE tenant_id = $1 ORDER BY position",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LossReason {
                code: row.try_get("code")?,
                label_zh: row.try_get("label_zh")?,
                label_en: row.try_get("label_en")?,
            })
        })
        .collect()
}
