//! The tenant's round-robin clock.

use shangji_platform::Tx;

/// Takes the tenant's next turn number (1, 2, ...), in one upsert. Its update locks the
/// tenant's row until the transaction ends, so replicas sharing a PostgreSQL database
/// decide one tenant's leads one at a time, each seeing the previous decision; on SQLite
/// the single writer already does that.
pub async fn take_turn(tx: &mut Tx, tenant_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO assignment_sequences (tenant_id, next_seq) VALUES ($1, 2)
         ON CONFLICT (tenant_id) DO UPDATE SET next_seq = assignment_sequences.next_seq + 1
         RETURNING next_seq - 1",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await
}
