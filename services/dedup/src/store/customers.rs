//! Queries on customers, their match keys and their leads: one function per query,
//! tenant in every `WHERE`. They take a connection so that the same query serves the
//! consumer's transaction and the read pool alike.

use sqlx::AnyConnection;

use crate::domain::{KeyKind, KeyOwner, MatchKey};

/// A customer as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRecord {
    pub customer_id: String,
    pub name: String,
    pub company: String,
    pub lead_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

type CustomerRow = (String, String, String, i64, i64, i64);

fn record(
    (customer_id, name, company, lead_count, created_at, updated_at): CustomerRow,
) -> CustomerRecord {
    CustomerRecord {
        customer_id,
        name,
        company,
        lead_count,
        created_at,
        updated_at,
    }
}

/// The customer a lead was attached to, if it was.
pub async fn lead_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT customer_id FROM customer_leads WHERE tenant_id = $1 AND lead_id = $2",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .fetch_optional(conn)
    .await
}

/// The customer holding `key`, with its age for tie-breaking.
pub async fn key_owner(
    conn: &mut AnyConnection,
    tenant_id: &str,
    key: &MatchKey,
) -> Result<Option<KeyOwner>, sqlx::Error> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT k.customer_id, c.created_at
         FROM match_keys k
         JOIN customers c ON c.tenant_id = k.tenant_id AND c.customer_id = k.customer_id
         WHERE k.tenant_id = $1 AND k.kind = $2 AND k.value = $3",
    )
    .bind(tenant_id)
    .bind(key.kind.as_str())
    .bind(&key.value)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(customer_id, customer_created_at)| KeyOwner {
        key: key.clone(),
        customer_id,
        customer_created_at,
    }))
}

/// The owners of each of `keys` that has one. A lead has at most a handful of keys,
/// so one primary-key lookup each is cheaper and simpler than a dynamic `IN` list.
pub async fn key_owners(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[MatchKey],
) -> Result<Vec<KeyOwner>, sqlx::Error> {
    let mut owners = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(owner) = key_owner(conn, tenant_id, key).await? {
            owners.push(owner);
        }
    }
    Ok(owners)
}

pub async fn insert_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    name: &str,
    company: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customers (tenant_id, customer_id, name, company, created_at, updated_at, lead_count)
         VALUES ($1, $2, $3, $4, $5, $5, 0)",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(name)
    .bind(company)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives `key` to the customer unless someone holds it already. Returns false when the
/// key was taken; on PostgreSQL that includes a concurrent transaction that claimed it
/// first (the insert waits for it to commit and then does nothing).
pub async fn claim_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    key: &MatchKey,
    customer_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO match_keys (tenant_id, kind, value, customer_id, claimed_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, kind, value) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(key.kind.as_str())
    .bind(&key.value)
    .bind(customer_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Records the lead under the customer. Returns false when the lead is attached
/// already (to whichever customer): the caller must then change nothing.
pub async fn attach_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    lead_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO customer_leads (tenant_id, customer_id, lead_id, attached_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, lead_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(lead_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Counts one more lead for the customer, and fills in a name or company the
/// customer did not have yet (never overwriting what an earlier lead said).
pub async fn count_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    name: &str,
    company: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customers
         SET lead_count = lead_count + 1,
             updated_at = $3,
             name = CASE WHEN name = '' THEN $4 ELSE name END,
             company = CASE WHEN company = '' THEN $5 ELSE company END
         WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(now)
    .bind(name)
    .bind(company)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<CustomerRecord>, sqlx::Error> {
    let row: Option<CustomerRow> = sqlx::query_as(
        "SELECT customer_id, name, company, lead_count, created_at, updated_at
         FROM customers WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(record))
}

/// The customer's keys in the order they were claimed.
pub async fn customer_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<MatchKey>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM match_keys
         WHERE tenant_id = $1 AND customer_id = $2
         ORDER BY claimed_at, kind, value",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    // Kinds this version does not know (written by a newer one) are skipped, not fatal.
    Ok(rows
        .into_iter()
        .filter_map(|(kind, value)| KeyKind::parse(&kind).map(|kind| MatchKey { kind, value }))
        .collect())
}

/// The customer's leads, oldest first.
pub async fn customer_lead_ids(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT lead_id FROM customer_leads
         WHERE tenant_id = $1 AND customer_id = $2
         ORDER BY attached_at, lead_id",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_all(conn)
    .await
}

/// How many customers the tenant has.
pub async fn count_customers(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
}
