//! Queries on customers, their match keys and their leads: one function per query,
//! tenant in every `WHERE`. They take a connection so that the same query serves the
//! consumer's transaction and the read pool alike.

use std::collections::HashMap;

use shangji_platform::db::{BoundQuery, Params, from_json_rows, json_rows};
use sqlx::AnyConnection;

use super::merge::MergedInto;
use crate::domain::{KeyKind, KeyOwner, MatchKey};

/// Ids per `IN (…)` list.
const IN_LIST_MAX: usize = 500;

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

/// The owners of each of `keys` that has one, in the order of `keys`. One statement (a
/// UNION ALL of primary-key lookups): every statement is a round trip to the
/// database's worker, and a check or a lead should not pay one per key.
pub async fn key_owners(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[MatchKey],
) -> Result<Vec<KeyOwner>, sqlx::Error> {
    Ok(owners(conn, tenant_id, None, keys).await?.1)
}

/// The customer the lead is attached to, if it is, and the owners of its keys as
/// [`key_owners`] finds them, in one statement.
pub async fn lead_and_key_owners(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
    keys: &[MatchKey],
) -> Result<(Option<String>, Vec<KeyOwner>), sqlx::Error> {
    owners(conn, tenant_id, Some(lead_id), keys).await
}

/// Row number of the lead's own row among the key rows of [`owners`].
const LEAD_ROW: i64 = -1;

async fn owners(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: Option<&str>,
    keys: &[MatchKey],
) -> Result<(Option<String>, Vec<KeyOwner>), sqlx::Error> {
    if keys.is_empty() && lead_id.is_none() {
        return Ok((None, Vec::new()));
    }
    let mut p = Params::new(conn);
    let mut selects = Vec::with_capacity(keys.len() + 1);
    if lead_id.is_some() {
        selects.push(format!(
            "SELECT CAST({LEAD_ROW} AS BIGINT) AS key_no, customer_id, CAST(0 AS BIGINT)
             FROM customer_leads WHERE tenant_id = {} AND lead_id = {}",
            p.one(),
            p.one()
        ));
    }
    for n in 0..keys.len() {
        selects.push(format!(
            "SELECT CAST({n} AS BIGINT) AS key_no, k.customer_id, c.created_at
             FROM match_keys k
             JOIN customers c ON c.tenant_id = k.tenant_id AND c.customer_id = k.customer_id
             WHERE k.tenant_id = {} AND k.kind = {} AND k.value = {}",
            p.one(),
            p.one(),
            p.one()
        ));
    }
    let sql = selects.join(" UNION ALL ");
    let mut query = sqlx::query_as::<_, (i64, String, i64)>(sqlx::AssertSqlSafe(sql));
    if let Some(lead_id) = lead_id {
        query = query.bind(tenant_id).bind(lead_id);
    }
    for key in keys {
        query = query
            .bind(tenant_id)
            .bind(key.kind.as_str())
            .bind(&key.value);
    }
    let mut rows = query.fetch_all(conn).await?;
    rows.sort_by_key(|(key_no, _, _)| *key_no);
    let mut attached_to = None;
    let mut owners = Vec::with_capacity(rows.len());
    for (key_no, customer_id, customer_created_at) in rows {
        if key_no == LEAD_ROW {
            attached_to = Some(customer_id);
        } else if let Some(key) = usize::try_from(key_no).ok().and_then(|n| keys.get(n)) {
            owners.push(KeyOwner {
                key: key.clone(),
                customer_id,
                customer_created_at,
            });
        }
    }
    Ok((attached_to, owners))
}

/// A customer as answers show it, read for many customers at once: its row, its
/// account's name, its stored profile text and the merge that took it away, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerCard {
    pub record: CustomerRecord,
    pub account_id: String,
    pub account_name: String,
    pub profile: Option<String>,
    pub merged_into: Option<MergedInto>,
}

type CardRow = (
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The cards of those of `customer_ids` that exist, by id: one statement per 500 ids
/// (a check shows up to a hundred matches; one read each would be hundreds of trips).
pub async fn cards(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_ids: &[String],
) -> Result<HashMap<String, CustomerCard>, sqlx::Error> {
    let mut cards = HashMap::with_capacity(customer_ids.len());
    for chunk in customer_ids.chunks(IN_LIST_MAX) {
        let mut p = Params::new(conn);
        let sql = format!(
            "SELECT {}
             FROM customers c
             LEFT JOIN accounts a ON a.tenant_id = c.tenant_id AND a.account_id = c.account_id
             LEFT JOIN customer_profiles p
                    ON p.tenant_id = c.tenant_id AND p.customer_id = c.customer_id
             LEFT JOIN merged_customers m
                    ON m.tenant_id = c.tenant_id AND m.customer_id = c.customer_id
             WHERE c.tenant_id = {} AND c.customer_id IN ({})",
            json_rows(
                conn,
                "c.customer_id, c.name, c.company, c.lead_count, c.created_at, c.updated_at,
                 c.account_id, a.name, p.profile, m.survivor_customer_id, m.merge_id"
            ),
            p.one(),
            p.list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in chunk {
            query = query.bind(id);
        }
        let rows = query.fetch_one(&mut *conn).await?;
        for row in from_json_rows::<CardRow>(&rows)? {
            let (id, name, company, lead_count, created_at, updated_at) =
                (row.0, row.1, row.2, row.3, row.4, row.5);
            let merged_into = match (row.9, row.10) {
                (Some(survivor_customer_id), Some(merge_id)) => Some(MergedInto {
                    survivor_customer_id,
                    merge_id,
                }),
                _ => None,
            };
            let card = CustomerCard {
                record: record((
                    id.clone(),
                    name,
                    company,
                    lead_count,
                    created_at,
                    updated_at,
                )),
                account_id: row.6,
                account_name: row.7.unwrap_or_default(),
                profile: row.8,
                merged_into,
            };
            cards.insert(id, card);
        }
    }
    Ok(cards)
}

/// The keys of each of `customer_ids`, in the order each claimed them.
pub async fn keys_of(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_ids: &[String],
) -> Result<HashMap<String, Vec<MatchKey>>, sqlx::Error> {
    let mut keys: HashMap<String, Vec<MatchKey>> = HashMap::with_capacity(customer_ids.len());
    for chunk in customer_ids.chunks(IN_LIST_MAX) {
        let mut p = Params::new(conn);
        // Sorted here: an aggregate does not promise the order of the rows it gathers.
        let sql = format!(
            "SELECT {} FROM match_keys
             WHERE tenant_id = {} AND customer_id IN ({})",
            json_rows(conn, "customer_id, claimed_at, kind, value"),
            p.one(),
            p.list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in chunk {
            query = query.bind(id);
        }
        let mut rows =
            from_json_rows::<(String, i64, String, String)>(&query.fetch_one(&mut *conn).await?)?;
        rows.sort();
        for (customer_id, _, kind, value) in rows {
            // Kinds this version does not know (written by a newer one) are skipped.
            if let Some(kind) = KeyKind::parse(&kind) {
                keys.entry(customer_id)
                    .or_default()
                    .push(MatchKey { kind, value });
            }
        }
    }
    Ok(keys)
}

/// A customer created for a lead, which it starts with counted.
#[derive(Clone, Copy, Debug)]
pub struct NewCustomer<'a> {
    pub customer_id: &'a str,
    pub name: &'a str,
    pub company: &'a str,
    /// '' for none.
    pub account_id: &'a str,
}

pub async fn insert_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    c: &NewCustomer<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    insert_customer_statement(tenant_id, c, now)
        .execute(conn)
        .await?;
    Ok(())
}

/// The statement [`insert_customer`] runs, for a [`Together`](shangji_platform::db::Together).
pub fn insert_customer_statement(
    tenant_id: &str,
    c: &NewCustomer<'_>,
    now: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "INSERT INTO customers (tenant_id, customer_id, name, company, created_at, updated_at,
                                lead_count, account_id)
         VALUES ($1, $2, $3, $4, $5, $5, 1, $6)",
    )
    .bind(tenant_id.to_owned())
    .bind(c.customer_id.to_owned())
    .bind(c.name.to_owned())
    .bind(c.company.to_owned())
    .bind(now)
    .bind(c.account_id.to_owned())
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

/// Gives each of `keys` to the customer unless someone holds it already, in one
/// statement. Returns true when the customer holds every one of them now (a key listed
/// twice counts once); false when one was taken, as [`claim_key`] reports it.
pub async fn claim_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[MatchKey],
    customer_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let Some((query, distinct)) = claim_keys_statement(conn, tenant_id, keys, customer_id, now)
    else {
        return Ok(true);
    };
    let inserted = query.execute(conn).await?.rows_affected();
    Ok(inserted == distinct as u64)
}

/// The statement [`claim_keys`] runs and how many distinct keys it claims; `None` for
/// no keys.
pub fn claim_keys_statement(
    conn: &AnyConnection,
    tenant_id: &str,
    keys: &[MatchKey],
    customer_id: &str,
    now: i64,
) -> Option<(BoundQuery<'static>, usize)> {
    let mut distinct: Vec<&MatchKey> = Vec::with_capacity(keys.len());
    for key in keys {
        if !distinct
            .iter()
            .any(|k| k.kind == key.kind && k.value == key.value)
        {
            distinct.push(key);
        }
    }
    if distinct.is_empty() {
        return None;
    }
    let mut p = Params::new(conn);
    let sql = format!(
        "INSERT INTO match_keys (tenant_id, kind, value, customer_id, claimed_at) VALUES {}
         ON CONFLICT (tenant_id, kind, value) DO NOTHING",
        p.rows(distinct.len(), 5)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for key in &distinct {
        query = query
            .bind(tenant_id.to_owned())
            .bind(key.kind.as_str())
            .bind(key.value.clone())
            .bind(customer_id.to_owned())
            .bind(now);
    }
    Some((query, distinct.len()))
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
    let inserted = attach_lead_statement(tenant_id, customer_id, lead_id, now)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// The statement [`attach_lead`] runs (one row inserted unless the lead is attached).
pub fn attach_lead_statement(
    tenant_id: &str,
    customer_id: &str,
    lead_id: &str,
    now: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "INSERT INTO customer_leads (tenant_id, customer_id, lead_id, attached_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, lead_id) DO NOTHING",
    )
    .bind(tenant_id.to_owned())
    .bind(customer_id.to_owned())
    .bind(lead_id.to_owned())
    .bind(now)
}

/// Counts one more lead for the customer, fills in a name or company the customer did
/// not have yet (never overwriting what an earlier lead said), and gives it `account_id`
/// unless it has an account already ('' gives none). Returns the customer's account
/// afterwards ('' for none).
pub async fn count_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    lead: (&str, &str),
    account_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let (name, company) = lead;
    let account: Option<String> = sqlx::query_scalar(
        "UPDATE customers
         SET lead_count = lead_count + 1,
             updated_at = $3,
             name = CASE WHEN name = '' THEN $4 ELSE name END,
             company = CASE WHEN company = '' THEN $5 ELSE company END,
             account_id = CASE WHEN account_id = '' THEN $6 ELSE account_id END
         WHERE tenant_id = $1 AND customer_id = $2
         RETURNING account_id",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(now)
    .bind(name)
    .bind(company)
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    Ok(account.unwrap_or_default())
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
