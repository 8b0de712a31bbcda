//! What `CheckDuplicate` reads before it scores, in one statement: the tenant's
//! thresholds, the owners of the lead's exact keys, the account its company names, and
//! the customers filed under its blocking keys together with their profiles.
//!
//! Each part is a scalar subquery returning its rows as one JSON value, so the whole
//! read is one round trip. On SQLite every statement costs two thread hand-offs between
//! the async runtime and the connection's worker (sqlx runs SQLite on its own thread),
//! and at a million customers those hand-offs, not the B-tree lookups, were most of a
//! check's time.

use std::collections::HashMap;

use shangji_platform::db::{Params, from_json_rows, json_rows};
use sqlx::AnyConnection;

use super::accounts::{self, AccountRecord};
use super::blocking::{self, FILED_KEYS_MAX, MAX_CANDIDATES, MAX_PER_KEY};
use super::{customers, thresholds};
use crate::domain::matching::MatchThresholds;
use crate::domain::{KeyOwner, MatchKey};

/// The reads of a check, before scoring.
#[derive(Debug)]
pub struct CheckReads {
    pub thresholds: MatchThresholds,
    /// The owners of the lead's exact keys, in the order of the keys.
    pub owners: Vec<KeyOwner>,
    pub account: Option<AccountRecord>,
    /// The customers filed under the blocking keys, as [`blocking::candidates`] lists
    /// them.
    pub candidates: Vec<String>,
    /// Profile texts of candidates nobody was merged into, read with them (for
    /// [`blocking::parsed_profiles_given`]).
    pub profiles: HashMap<String, String>,
}

/// (key number, customer, survivor it was merged into, its profile, whether anyone was
/// merged into it)
type FiledRow = (i64, String, Option<String>, Option<String>, i64);

/// Reads what a check needs before scoring. A lead with more blocking keys than one
/// statement takes (none in practice) has its candidates read by
/// [`blocking::candidates`] instead.
pub async fn before_scoring(
    conn: &mut AnyConnection,
    tenant_id: &str,
    defaults: MatchThresholds,
    keys: &[MatchKey],
    blocking_keys: &[String],
    account_key: Option<&str>,
) -> Result<CheckReads, sqlx::Error> {
    let filed_here = blocking_keys.len() <= FILED_KEYS_MAX;
    let mut p = Params::new(conn);
    let thresholds_sql = thresholds::stored_sql(&mut p);
    let owners_sql = if keys.is_empty() {
        "'[]'".to_owned()
    } else {
        format!(
            "(SELECT {} FROM ({}) AS o)",
            json_rows(conn, "o.key_no, o.customer_id, o.created_at"),
            customers::key_owner_selects(&mut p, keys.len())
        )
    };
    let account_sql = match account_key {
        Some(_) => accounts::by_key_sql(conn, &mut p),
        None => "'[]'".to_owned(),
    };
    let filed_sql = if filed_here && !blocking_keys.is_empty() {
        filed_sql(conn, &mut p, blocking_keys.len())
    } else {
        "'[]'".to_owned()
    };
    let sql = format!("SELECT {thresholds_sql}, {owners_sql}, {account_sql}, {filed_sql}");

    let mut query = sqlx::query_as::<_, (Option<f64>, Option<f64>, String, String, String)>(
        sqlx::AssertSqlSafe(sql),
    )
    .bind(tenant_id)
    .bind(tenant_id);
    for key in keys {
        query = query
            .bind(tenant_id)
            .bind(key.kind.as_str())
            .bind(&key.value);
    }
    if let Some(account_key) = account_key {
        query = query.bind(tenant_id).bind(account_key);
    }
    if filed_here && !blocking_keys.is_empty() {
        for key in blocking_keys {
            query = query.bind(tenant_id).bind(key).bind(MAX_PER_KEY);
        }
        // Profiles are joined only for the first candidates: the exact matches (one
        // per key at most) are among them too, and are not compared.
        let profiled = MAX_CANDIDATES + keys.len();
        query = query
            .bind(tenant_id)
            .bind(i64::try_from(profiled).unwrap_or(i64::MAX))
            .bind(tenant_id);
    }
    let (same_min, possible_min, owner_rows, account_rows, filed_rows) =
        query.fetch_one(&mut *conn).await?;

    let stored = same_min.zip(possible_min);
    let owners = customers::owners_in_order(keys, from_json_rows(&owner_rows)?);
    let account = match (
        account_key,
        from_json_rows::<(String, String)>(&account_rows)?.pop(),
    ) {
        (Some(account_key), Some((account_id, name))) => Some(AccountRecord {
            account_id,
            account_key: account_key.to_owned(),
            name,
        }),
        _ => None,
    };
    let (candidates, profiles) = if filed_here {
        let mut filed = Vec::new();
        let mut profiles = HashMap::new();
        for (key_no, id, survivor, profile, merged_into_it) in
            from_json_rows::<FiledRow>(&filed_rows)?
        {
            if let (None, Some(profile), 0) = (&survivor, profile, merged_into_it) {
                profiles.insert(id.clone(), profile);
            }
            filed.push((key_no, id, survivor));
        }
        (
            blocking::distinct_candidates(conn, tenant_id, filed).await?,
            profiles,
        )
    } else {
        (
            blocking::candidates(conn, tenant_id, blocking_keys).await?,
            HashMap::new(),
        )
    };
    Ok(CheckReads {
        thresholds: thresholds::or_defaults(stored, defaults),
        owners,
        account,
        candidates,
        profiles,
    })
}

/// A scalar subquery: each customer filed under the `count` keys once, with the
/// lowest key number that found it, the survivor it was merged into (if it was), and,
/// for the first `profiled` in candidate order, its profile and whether anyone was
/// merged into it. Binds the per-key parameters of [`blocking::filed_selects`], then
/// the tenant, `profiled` and the tenant.
fn filed_sql(conn: &AnyConnection, p: &mut Params, count: usize) -> String {
    let selects = blocking::filed_selects(p, 0, count);
    format!(
        "(SELECT {} FROM (
             SELECT key_no, customer_id,
                    ROW_NUMBER() OVER (ORDER BY key_no, customer_id) AS candidate_no
             FROM (SELECT MIN(f.key_no) AS key_no, f.customer_id
                   FROM ({selects}) AS f GROUP BY f.customer_id) AS firsts) AS g
         LEFT JOIN merged_customers m ON m.tenant_id = {} AND m.customer_id = g.customer_id
         LEFT JOIN customer_profiles p
                ON g.candidate_no <= {} AND p.tenant_id = {} AND p.customer_id = g.customer_id)",
        json_rows(
            conn,
            "g.key_no, g.customer_id, m.survivor_customer_id, p.profile,
             CAST(CASE WHEN p.profile IS NOT NULL AND EXISTS (
                      SELECT 1 FROM merged_customers s
                      WHERE s.tenant_id = p.tenant_id AND s.survivor_customer_id = p.customer_id)
                  THEN 1 ELSE 0 END AS BIGINT)"
        ),
        p.one(),
        p.one(),
        p.one()
    )
}
