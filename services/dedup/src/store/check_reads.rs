//! What `CheckDuplicate` reads before it scores, in one statement: the tenant's
//! thresholds, the owners of the lead's exact keys, the account its company names, and
//! the customers filed under its blocking keys together with their profiles.
//!
//! Each part is a scalar subquery returning its rows as one JSON value, so the whole
//! read is one round trip. On SQLite every statement costs two thread hand-offs between
//! the async runtime and the connection's worker (sqlx runs SQLite on its own thread),
//! and at a million customers those hand-offs, not the B-tree lookups, were most of a
//! check's time.

use shangji_platform::db::{Params, from_json_rows, json_rows};
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Arguments as _};

use super::accounts::{self, AccountRecord};
use super::blocking::{self, FILED_KEYS_MAX, Filed, MAX_CANDIDATES};
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
    /// The customers filed under the blocking keys, and the profiles read with them.
    pub filed: Filed,
}

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
    // Profiles are read for the first candidates: the exact matches (one per key at
    // most) are among them, and are not compared.
    let profiled = MAX_CANDIDATES + keys.len();
    let filed_here = !blocking_keys.is_empty() && blocking_keys.len() <= FILED_KEYS_MAX;
    let mut p = Params::new(conn);
    let mut args = AnyArguments::default();
    let add = |args: &mut AnyArguments, value: &str| {
        args.add(value.to_owned()).map_err(sqlx::Error::Encode)
    };

    let thresholds_sql = thresholds::stored_sql(&mut p);
    add(&mut args, tenant_id)?;
    add(&mut args, tenant_id)?;
    let owners_sql = if keys.is_empty() {
        EMPTY.to_owned()
    } else {
        for key in keys {
            add(&mut args, tenant_id)?;
            add(&mut args, key.kind.as_str())?;
            add(&mut args, &key.value)?;
        }
        format!(
            "(SELECT {} FROM ({}) AS o)",
            json_rows(conn, "o.key_no, o.customer_id, o.created_at"),
            customers::key_owner_selects(&mut p, keys.len())
        )
    };
    let account_sql = match account_key {
        Some(account_key) => {
            add(&mut args, tenant_id)?;
            add(&mut args, account_key)?;
            accounts::by_key_sql(conn, &mut p)
        }
        None => EMPTY.to_owned(),
    };
    let filed_sql = if filed_here {
        blocking::filed_args(&mut args, tenant_id, blocking_keys, profiled)?;
        blocking::filed_sql(conn, &mut p, 0, blocking_keys.len())
    } else {
        EMPTY.to_owned()
    };
    let sql = format!("SELECT {thresholds_sql}, {owners_sql}, {account_sql}, {filed_sql}");
    let (same_min, possible_min, owner_rows, account_rows, filed_rows): Row =
        sqlx::query_as_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_one(&mut *conn)
            .await?;

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
    let filed = if filed_here {
        blocking::filed(conn, tenant_id, from_json_rows(&filed_rows)?).await?
    } else {
        blocking::candidates(conn, tenant_id, blocking_keys, profiled).await?
    };
    Ok(CheckReads {
        thresholds: thresholds::or_defaults(same_min.zip(possible_min), defaults),
        owners,
        account,
        filed,
    })
}

/// A part with nothing to read: no rows.
const EMPTY: &str = "'[]'";

/// Thresholds (same, possible), then key owners, account and filed candidates as JSON.
type Row = (Option<f64>, Option<f64>, String, String, String);
