//! Accounts: the organisations contacts work for, found by their brand key.

use sqlx::AnyConnection;

use crate::domain::text::CompanyName;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub account_id: String,
    pub account_key: String,
    pub name: String,
}

/// The account with this key, if the tenant has one.
pub async fn account_by_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_key: &str,
) -> Result<Option<AccountRecord>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT account_id, name FROM accounts WHERE tenant_id = $1 AND account_key = $2",
    )
    .bind(tenant_id)
    .bind(account_key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(account_id, name)| AccountRecord {
        account_id,
        account_key: account_key.to_owned(),
        name,
    }))
}

pub async fn account(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
) -> Result<Option<AccountRecord>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT account_key, name FROM accounts WHERE tenant_id = $1 AND account_id = $2",
    )
    .bind(tenant_id)
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(account_key, name)| AccountRecord {
        account_id: account_id.to_owned(),
        account_key,
        name,
    }))
}

/// An account as [`find_or_create`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundAccount {
    pub account: AccountRecord,
    /// True when the tenant knew the account before (another lead named it).
    pub known: bool,
}

/// The account of `company`, created when the tenant has none with its key. The key is
/// unique, so a replica that loses the race reads the winner's account (known then).
pub async fn find_or_create(
    conn: &mut AnyConnection,
    tenant_id: &str,
    company: &CompanyName,
    now: i64,
) -> Result<FoundAccount, sqlx::Error> {
    if let Some(account) = account_by_key(&mut *conn, tenant_id, &company.key).await? {
        return Ok(FoundAccount {
            account,
            known: true,
        });
    }
    let account_id = shangji_platform::ids::new_id("acc");
    let created: Option<String> = sqlx::query_scalar(
        "INSERT INTO accounts (tenant_id, account_id, account_key, name, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, account_key) DO NOTHING
         RETURNING account_id",
    )
    .bind(tenant_id)
    .bind(&account_id)
    .bind(&company.key)
    .bind(&company.full)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if created.is_some() {
        return Ok(FoundAccount {
            account: AccountRecord {
                account_id,
                account_key: company.key.clone(),
                name: company.full.clone(),
            },
            known: false,
        });
    }
    // A concurrent lead created it first.
    let account = account_by_key(&mut *conn, tenant_id, &company.key)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(FoundAccount {
        account,
        known: true,
    })
}

pub async fn customer_account_id(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<String, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT account_id FROM customers WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(id.unwrap_or_default())
}
