//! Loading many known customers at once (an initial load from a system of record, or a
//! benchmark), writing exactly the matching state the lead.received consumer writes for a
//! lead that matches nobody: the customer with its account, its exact match keys, its
//! profile and its blocking keys. Nothing is compared: the records are taken to be
//! distinct people. No lead is attached (none arrived), so no score or event is written.
//!
//! Wide multi-row statements, a few hundred rows each, in the caller's transaction: on
//! SQLite that is where the time goes (one statement per row is ~10x slower).
//!
//! A record whose phone or e-mail a customer holds already (or an earlier record of the
//! same load) is skipped, never half-written. The load is not serialised with live fuzzy
//! matching (it takes no partition locks): run it before leads flow, as an import.

use std::collections::{HashMap, HashSet};

use shangji_contracts::common::Lead;
use shangji_platform::db::Params;
use sqlx::AnyConnection;

use crate::domain::matching::{MatchProfile, ParsedProfile, blocking_keys};
use crate::domain::normalize::clean_text;
use crate::domain::text::CompanyName;
use crate::domain::{MatchKey, lead_keys};

/// Rows per multi-row statement: well under SQLite's 32766 bound parameters.
const ROWS_PER_STATEMENT: usize = 400;

/// One customer to load, with everything matching derives from it worked out (pure CPU;
/// prepare records on several threads, load them on one connection).
#[derive(Clone, Debug)]
pub struct PreparedCustomer {
    pub name: String,
    pub company: String,
    pub keys: Vec<MatchKey>,
    pub profile: MatchProfile,
    pub blocking_keys: Vec<String>,
    /// The company's account, when the record names one.
    pub account: Option<CompanyName>,
}

impl PreparedCustomer {
    /// What the consumer derives from a lead with these fields.
    pub fn from_lead(lead: &Lead) -> PreparedCustomer {
        let profile = MatchProfile::from_lead(lead);
        let parsed = ParsedProfile::from(&profile);
        PreparedCustomer {
            name: clean_text(&lead.contact_name),
            company: clean_text(&lead.company),
            keys: lead_keys(lead),
            blocking_keys: blocking_keys(&parsed),
            account: parsed.companies.first().map(|c| CompanyName::clone(c)),
            profile,
        }
    }
}

/// Per record, in order: the id of the customer created, or `None` when the record was
/// skipped because another customer holds one of its exact keys.
pub type LoadedIds = Vec<Option<String>>;

/// Loads `records` as new customers of the tenant in the caller's transaction.
pub async fn load_customers(
    conn: &mut AnyConnection,
    tenant_id: &str,
    records: &[PreparedCustomer],
    now: i64,
) -> Result<LoadedIds, sqlx::Error> {
    let held = held_keys(conn, tenant_id, records).await?;
    let mut taken: HashSet<&MatchKey> = HashSet::new();
    let mut ids: LoadedIds = Vec::with_capacity(records.len());
    let mut loaded: Vec<(&str, &PreparedCustomer)> = Vec::with_capacity(records.len());
    for record in records {
        let clash = record.keys.iter().any(|k| {
            held.contains(&(k.kind.as_str().to_owned(), k.value.clone())) || taken.contains(k)
        });
        if clash {
            ids.push(None);
            continue;
        }
        taken.extend(record.keys.iter());
        ids.push(Some(shangji_platform::ids::new_id("cus")));
    }
    for (id, record) in ids.iter().zip(records) {
        if let Some(id) = id {
            loaded.push((id.as_str(), record));
        }
    }
    let accounts = accounts_of(conn, tenant_id, &loaded, now).await?;
    for chunk in loaded.chunks(ROWS_PER_STATEMENT) {
        insert_customers(conn, tenant_id, chunk, &accounts, now).await?;
        insert_keys(conn, tenant_id, chunk, now).await?;
        insert_profiles(conn, tenant_id, chunk, now).await?;
    }
    let filed: Vec<(&str, &str)> = loaded
        .iter()
        .flat_map(|(id, r)| r.blocking_keys.iter().map(move |k| (*id, k.as_str())))
        .collect();
    for chunk in filed.chunks(ROWS_PER_STATEMENT) {
        super::blocking::file_keys(conn, tenant_id, chunk).await?;
    }
    Ok(ids)
}

/// The records' exact keys some customer of the tenant holds already, as (kind, value).
/// Read per kind, so each lookup is a primary-key probe (tenant, kind, value).
async fn held_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    records: &[PreparedCustomer],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let mut by_kind: HashMap<&str, Vec<&str>> = HashMap::new();
    for key in records.iter().flat_map(|r| r.keys.iter()) {
        by_kind
            .entry(key.kind.as_str())
            .or_default()
            .push(key.value.as_str());
    }
    let mut held = HashSet::new();
    for (kind, values) in by_kind {
        for chunk in values.chunks(ROWS_PER_STATEMENT) {
            let mut p = Params::new(conn);
            let sql = format!(
                "SELECT kind, value FROM match_keys WHERE tenant_id = {} AND kind = {} AND value IN ({})",
                p.one(),
                p.one(),
                p.list(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(kind);
            for value in chunk {
                query = query.bind(*value);
            }
            held.extend(query.fetch_all(&mut *conn).await?);
        }
    }
    Ok(held)
}

/// Account ids by account key for every company the records name, creating the
/// accounts the tenant does not have yet (first spelling seen names it, as in the
/// consumer).
async fn accounts_of(
    conn: &mut AnyConnection,
    tenant_id: &str,
    records: &[(&str, &PreparedCustomer)],
    now: i64,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut first_name: HashMap<&str, &str> = HashMap::new();
    for (_, record) in records {
        if let Some(account) = &record.account {
            first_name
                .entry(account.key.as_str())
                .or_insert(account.full.as_str());
        }
    }
    let keys: Vec<&str> = first_name.keys().copied().collect();
    let mut found = existing_accounts(conn, tenant_id, &keys).await?;
    let missing: Vec<(&str, &str)> = keys
        .iter()
        .filter(|k| !found.contains_key(**k))
        .map(|k| (*k, first_name[k]))
        .collect();
    for chunk in missing.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(conn);
        let rows: Vec<String> = chunk.iter().map(|_| format!("({})", p.list(5))).collect();
        let sql = format!(
            "INSERT INTO accounts (tenant_id, account_id, account_key, name, created_at) VALUES {}
             ON CONFLICT (tenant_id, account_key) DO NOTHING",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (key, name) in chunk {
            query = query
                .bind(tenant_id)
                .bind(shangji_platform::ids::new_id("acc"))
                .bind(*key)
                .bind(*name)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    // Read back: a concurrent writer may have created some of them first.
    let missing_keys: Vec<&str> = missing.iter().map(|(k, _)| *k).collect();
    found.extend(existing_accounts(conn, tenant_id, &missing_keys).await?);
    Ok(found)
}

async fn existing_accounts(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut p = Params::new(conn);
        let sql = format!(
            "SELECT account_key, account_id FROM accounts WHERE tenant_id = {} AND account_key IN ({})",
            p.one(),
            p.list(chunk.len())
        );
        let mut query =
            sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for key in chunk {
            query = query.bind(*key);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

async fn insert_customers(
    conn: &mut AnyConnection,
    tenant_id: &str,
    chunk: &[(&str, &PreparedCustomer)],
    accounts: &HashMap<String, String>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut p = Params::new(conn);
    let rows: Vec<String> = chunk
        .iter()
        .map(|_| format!("({}, 0)", p.list(7)))
        .collect();
    let sql = format!(
        "INSERT INTO customers (tenant_id, customer_id, name, company, created_at, updated_at, account_id, lead_count)
         VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, record) in chunk {
        let account_id = record
            .account
            .as_ref()
            .and_then(|a| accounts.get(&a.key))
            .cloned()
            .unwrap_or_default();
        query = query
            .bind(tenant_id)
            .bind(*id)
            .bind(record.name.as_str())
            .bind(record.company.as_str())
            .bind(now)
            .bind(now)
            .bind(account_id);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Plain inserts: a key claimed concurrently since [`held_keys`] fails the load (the
/// caller retries) rather than leave a customer without its key.
async fn insert_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    chunk: &[(&str, &PreparedCustomer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let keys: Vec<(&str, &MatchKey)> = chunk
        .iter()
        .flat_map(|(id, r)| r.keys.iter().map(move |k| (*id, k)))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut p = Params::new(conn);
    let rows: Vec<String> = keys.iter().map(|_| format!("({})", p.list(5))).collect();
    let sql = format!(
        "INSERT INTO match_keys (tenant_id, kind, value, customer_id, claimed_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, key) in keys {
        query = query
            .bind(tenant_id)
            .bind(key.kind.as_str())
            .bind(key.value.as_str())
            .bind(id)
            .bind(now);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

async fn insert_profiles(
    conn: &mut AnyConnection,
    tenant_id: &str,
    chunk: &[(&str, &PreparedCustomer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut p = Params::new(conn);
    let rows: Vec<String> = chunk.iter().map(|_| format!("({})", p.list(4))).collect();
    let sql = format!(
        "INSERT INTO customer_profiles (tenant_id, customer_id, profile, updated_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, record) in chunk {
        let json = serde_json::to_string(&record.profile)
            .map_err(|err| sqlx::Error::Encode(err.into()))?;
        query = query.bind(tenant_id).bind(*id).bind(json).bind(now);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
