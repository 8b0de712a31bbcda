//! The `customer_owners` table: one customer, one owner.

use shangji_platform::Tx;

use super::Exec;

pub async fn owner_of<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT rep_id FROM customer_owners WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(exec)
    .await
}

/// Makes `rep_id` the owner of a customer nobody owns, and returns the owner in effect:
/// if someone else claimed the customer first, theirs.
pub async fn claim(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    // The no-op update on conflict makes RETURNING give the owner in effect (ours, or a
    // committed one that blocked our insert) without a second statement.
    sqlx::query_scalar(
        "INSERT INTO customer_owners (tenant_id, customer_id, rep_id, since) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET rep_id = customer_owners.rep_id
         RETURNING rep_id",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(rep_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Hands a customer from `previous` (who can no longer take leads) to `rep_id`, only if
/// `previous` still owns it; returns the owner in effect afterwards.
pub async fn take_over(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    previous: &str,
    rep_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "UPDATE customer_owners SET rep_id = $4, since = $5
         WHERE tenant_id = $1 AND customer_id = $2 AND rep_id = $3",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(previous)
    .bind(rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    claim(tx, tenant_id, customer_id, rep_id, now).await
}

/// An opportunity of the customer moved from `from` to `to` at `at`: the customer moves
/// with it, unless the customer already has another owner or a newer one.
pub async fn follow_reassignment(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    from: &str,
    to: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE customer_owners SET rep_id = $4, since = $5
         WHERE tenant_id = $1 AND customer_id = $2 AND rep_id = $3 AND since <= $5",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(from)
    .bind(to)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// The customers a rep owns, by id.
pub async fn owned_by<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT customer_id FROM customer_owners WHERE tenant_id = $1 AND rep_id = $2
         ORDER BY customer_id",
    )
    .bind(tenant_id)
    .bind(rep_id)
    .fetch_all(exec)
    .await
}

/// Makes `rep_id` the customer's owner, whoever owned it before (hand-over, claims,
/// merges: the caller decided).
pub async fn set(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customer_owners (tenant_id, customer_id, rep_id, since) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET rep_id = excluded.rep_id,
                                                            since = excluded.since",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Nobody owns the customer any more (returned to the pool, merged away).
pub async fn release(tx: &mut Tx, tenant_id: &str, customer_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM customer_owners WHERE tenant_id = $1 AND customer_id = $2")
        .bind(tenant_id)
        .bind(customer_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
