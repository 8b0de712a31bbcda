//! The `leads` table.

use shangji_platform::{Db, Tx};

/// Records a received lead; false when it was recorded before.
pub async fn record_received(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    received_at: i64,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO leads (tenant_id, lead_id, received_at, source) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, lead_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(received_at)
    .bind(source)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Leads the tenant received.
pub async fn count(db: &Db, tenant_id: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leads WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(db.reader())
        .await?;
    Ok(n.max(0) as u64)
}
