//! The `key_scheme` row: which rules the stored blocking and account keys follow, and
//! how far re-filing under newer rules has come. See [`crate::refile`].

use sqlx::AnyConnection;

const SCHEME: &str = "blocking";

/// The stored scheme and the re-filing progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeState {
    /// Every stored key follows this version.
    pub version: i64,
    /// The version being re-filed to.
    pub target: i64,
    /// The last customer re-filed towards `target`: (tenant, customer id).
    pub cursor: (String, String),
}

pub async fn state(conn: &mut AnyConnection) -> Result<SchemeState, sqlx::Error> {
    let (version, target, tenant, customer): (i64, i64, String, String) = sqlx::query_as(
        "SELECT version, target, cursor_tenant, cursor_customer FROM key_scheme WHERE name = $1",
    )
    .bind(SCHEME)
    .fetch_one(conn)
    .await?;
    Ok(SchemeState {
        version,
        target,
        cursor: (tenant, customer),
    })
}

/// Starts (or restarts) re-filing towards `target` from the first customer.
pub async fn begin(conn: &mut AnyConnection, target: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE key_scheme SET target = $2, cursor_tenant = '', cursor_customer = '', updated_at = $3
         WHERE name = $1",
    )
    .bind(SCHEME)
    .bind(target)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that re-filing towards `target` has done every customer up to `cursor`.
pub async fn advance(
    conn: &mut AnyConnection,
    target: i64,
    cursor: (&str, &str),
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE key_scheme SET cursor_tenant = $3, cursor_customer = $4, updated_at = $5
         WHERE name = $1 AND target = $2",
    )
    .bind(SCHEME)
    .bind(target)
    .bind(cursor.0)
    .bind(cursor.1)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every stored key now follows `version`.
pub async fn complete(conn: &mut AnyConnection, version: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE key_scheme SET version = $2, target = $2, cursor_tenant = '', cursor_customer = '',
                               updated_at = $3
         WHERE name = $1 AND version < $2",
    )
    .bind(SCHEME)
    .bind(version)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The next `limit` stored profiles after `cursor`, in (tenant, customer id) order.
pub async fn profiles_after(
    conn: &mut AnyConnection,
    cursor: (&str, &str),
    limit: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tenant_id, customer_id, profile FROM customer_profiles
         WHERE tenant_id > $1 OR (tenant_id = $1 AND customer_id > $2)
         ORDER BY tenant_id, customer_id
         LIMIT $3",
    )
    .bind(cursor.0)
    .bind(cursor.1)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The accounts after `cursor` (tenant, account id), with their key and name.
pub async fn accounts_after(
    conn: &mut AnyConnection,
    cursor: (&str, &str),
    limit: i64,
) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tenant_id, account_id, account_key, name FROM accounts
         WHERE tenant_id > $1 OR (tenant_id = $1 AND account_id > $2)
         ORDER BY tenant_id, account_id
         LIMIT $3",
    )
    .bind(cursor.0)
    .bind(cursor.1)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Gives the account its key under the new rules unless another account of the tenant
/// has that key already (two accounts the new rules call one: a person merges them).
/// Returns whether it changed.
pub async fn rekey_account(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE accounts SET account_key = $3
         WHERE tenant_id = $1 AND account_id = $2
           AND NOT EXISTS (SELECT 1 FROM accounts other
                           WHERE other.tenant_id = $1 AND other.account_key = $3)",
    )
    .bind(tenant_id)
    .bind(account_id)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
