//! Blocking keys, customer profiles and the partition locks of fuzzy matching.
//!
//! Merges are followed when matching reads, not copied when they happen: a merged-away
//! customer's blocking keys and profile stay filed under it, a key that finds it finds
//! its survivor instead, and the survivor is compared on its own profile together with
//! those of the customers merged into it. So a merged-away customer is never a candidate,
//! the survivor is found by everything its merged customers were found by, and undoing a
//! merge (which removes the `merged_customers` row) restores both sides exactly.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shangji_platform::db::{BoundQuery, Params, from_json_rows, json_rows};
use sqlx::AnyConnection;

use super::{merge, parsed_cache};
use crate::domain::matching::blocking::shortlist;
use crate::domain::matching::{MatchProfile, ParsedProfile};

/// Customers read per blocking key at most. A key shared by more customers than this
/// (a very common name) says little; the other keys of the lead still find its match.
pub const MAX_PER_KEY: i64 = 64;
/// Customers compared per lead at most: those its keys say most about. At a million
/// customers 32 keeps fuzzy recall within 0.2 points of comparing all (up to ~170) and
/// makes a check 40-60 % faster (services/dedup/README.md, "Candidates shortlisted").
pub const MAX_CANDIDATES: usize = 32;
/// Ids per `IN (…)` list: a lead's candidates fit in one or two.
const IN_LIST_MAX: usize = 500;

/// Files the customer under `keys` (ones it has already are skipped).
pub async fn file_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    keys: &[String],
) -> Result<(), sqlx::Error> {
    let filed: Vec<(&str, &str)> = keys.iter().map(|k| (customer_id, k.as_str())).collect();
    file_keys(conn, tenant_id, &filed).await
}

/// Files each (customer, key) of the tenant that is not filed yet, 300 to a statement:
/// a new lead has a dozen keys, a bulk load or a re-filing page thousands, and each
/// statement is a round trip.
pub async fn file_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    filed: &[(&str, &str)],
) -> Result<(), sqlx::Error> {
    for query in file_keys_statements(conn, tenant_id, filed) {
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The statements [`file_keys`] runs, for a [`Together`](shangji_platform::db::Together).
pub fn file_keys_statements(
    conn: &AnyConnection,
    tenant_id: &str,
    filed: &[(&str, &str)],
) -> Vec<BoundQuery<'static>> {
    filed
        .chunks(300)
        .map(|chunk| {
            let mut p = Params::new(conn);
            let rows: Vec<String> = chunk.iter().map(|_| format!("({})", p.list(3))).collect();
            let sql = format!(
                "INSERT INTO blocking_keys (tenant_id, block_key, customer_id) VALUES {}
                 ON CONFLICT (tenant_id, block_key, customer_id) DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (customer_id, key) in chunk {
                query = query
                    .bind(tenant_id.to_owned())
                    .bind((*key).to_owned())
                    .bind((*customer_id).to_owned());
            }
            query
        })
        .collect()
}

/// Customers filed under any of `keys`, without repeats, the best-supported first (see
/// [`shortlist`]); at most [`MAX_PER_KEY`] per key and [`MAX_CANDIDATES`] in all. A
/// customer merged into another stands for its survivor (at the end of the chain of
/// merges).
///
/// One statement reads every key (a UNION ALL of per-key index range scans) and finds
/// which of them were merged away: with a million customers a lead's few hundred
/// candidates cost one round trip, not one per candidate.
pub async fn candidates(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    // (key number, customer, the survivor it was merged into if it was)
    let mut filed: Vec<(i64, String, Option<String>)> = Vec::new();
    // SQLite allows at most 500 terms in a compound SELECT; a lead has a few dozen keys.
    for (chunk_no, chunk) in keys.chunks(200).enumerate() {
        let mut p = Params::new(conn);
        let selects: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(n, _)| {
                format!(
                    "SELECT CAST({} AS BIGINT) AS key_no, customer_id FROM (SELECT customer_id FROM blocking_keys
                     WHERE tenant_id = {} AND block_key = {} ORDER BY customer_id LIMIT {}) AS filed",
                    chunk_no * 200 + n,
                    p.one(),
                    p.one(),
                    p.one()
                )
            })
            .collect();
        // The merged-away ones are found in the same statement, and the rows come back
        // as one JSON value: one round trip and one hand-off in all.
        let sql = format!(
            "SELECT {} FROM ({}) AS f
             LEFT JOIN merged_customers m ON m.tenant_id = {} AND m.customer_id = f.customer_id",
            json_rows(conn, "f.key_no, f.customer_id, m.survivor_customer_id"),
            selects.join(" UNION ALL "),
            p.one()
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(tenant_id).bind(key).bind(MAX_PER_KEY);
        }
        let rows = query.bind(tenant_id).fetch_one(&mut *conn).await?;
        filed.extend(from_json_rows::<(i64, String, Option<String>)>(&rows)?);
    }
    // Key by key, ids ascending within a key; merged-away customers stand for their survivor.
    filed.sort();
    let mut found: Vec<(i64, String)> = Vec::with_capacity(filed.len());
    for (key_no, id, survivor) in filed {
        let id = match survivor {
            Some(survivor) => merge::current_customer(&mut *conn, tenant_id, &survivor).await?,
            None => id,
        };
        found.push((key_no, id));
    }
    Ok(shortlist(&found, MAX_CANDIDATES))
}

/// Upserts (and so locks until commit) the rows of `partitions`, in the given
/// ascending order. On PostgreSQL a concurrent transaction holding one of them makes
/// this wait until it commits, after which its customers are visible; SQLite allows
/// one writer at a time anyway. One statement: the rows of a VALUES list are inserted,
/// and so locked, in the order listed, which keeps the ascending order that rules out
/// deadlocks between replicas.
pub async fn hold_partitions(
    conn: &mut AnyConnection,
    tenant_id: &str,
    partitions: &[i64],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in partitions.chunks(300) {
        let mut p = Params::new(conn);
        let rows: Vec<String> = chunk.iter().map(|_| format!("({})", p.list(3))).collect();
        let sql = format!(
            "INSERT INTO match_partitions (tenant_id, partition_id, touched_at) VALUES {}
             ON CONFLICT (tenant_id, partition_id) DO UPDATE SET touched_at = excluded.touched_at",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for partition in chunk {
            query = query.bind(tenant_id).bind(partition).bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn save_profile(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    profile: &MatchProfile,
    now: i64,
) -> Result<(), sqlx::Error> {
    save_profile_statement(tenant_id, customer_id, profile, now)?
        .execute(conn)
        .await?;
    Ok(())
}

/// The statement [`save_profile`] runs.
pub fn save_profile_statement(
    tenant_id: &str,
    customer_id: &str,
    profile: &MatchProfile,
    now: i64,
) -> Result<BoundQuery<'static>, sqlx::Error> {
    let json = serde_json::to_string(profile).map_err(|err| sqlx::Error::Encode(err.into()))?;
    Ok(sqlx::query(
        "INSERT INTO customer_profiles (tenant_id, customer_id, profile, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
    )
    .bind(tenant_id.to_owned())
    .bind(customer_id.to_owned())
    .bind(json)
    .bind(now))
}

pub async fn profile(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<MatchProfile>, sqlx::Error> {
    let json: Option<String> = sqlx::query_scalar(
        "SELECT profile FROM customer_profiles WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    json.map(|json| parse_profile(&json)).transpose()
}

/// The profiles of `customer_ids` that have one, in the order asked, parsed as
/// matching compares them: each with what the customers merged into it said (its own
/// values first). Batched: one read for the profiles and whether anyone was merged into
/// them; a customer with merges behind it (rare) has its family read on its own.
/// A customer without merges is parsed through [`parsed_cache`], keyed by the text just
/// read, so a profile rewritten by any replica is never served from an older parse.
pub async fn parsed_profiles(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_ids: &[String],
) -> Result<Vec<(String, Arc<ParsedProfile>)>, sqlx::Error> {
    let (mut own, mut with_merges) = stored_profiles(conn, tenant_id, customer_ids).await?;
    // A survivor with no profile of its own (rare) may still have merged ones.
    let unprofiled: Vec<String> = customer_ids
        .iter()
        .filter(|id| !own.contains_key(*id))
        .cloned()
        .collect();
    if !unprofiled.is_empty() {
        with_merges.extend(survivors_with_merges(conn, tenant_id, &unprofiled).await?);
    }
    let mut found = Vec::with_capacity(customer_ids.len());
    for id in customer_ids {
        let parsed = if with_merges.contains(id) {
            family_profile(conn, tenant_id, id)
                .await?
                .map(|combined| Arc::new(ParsedProfile::from(&combined)))
        } else {
            match own.remove(id) {
                // Shared with the cache, not copied: a candidate's parse is dozens of
                // strings, and a check at a million customers reads ~40 candidates.
                Some(json) => Some(
                    parsed_cache::parsed(&json).map_err(|err| sqlx::Error::Decode(err.into()))?,
                ),
                None => None,
            }
        };
        if let Some(parsed) = parsed {
            found.push((id.clone(), parsed));
        }
    }
    Ok(found)
}

/// The profile of survivor `id` combined with those of every customer merged into it.
async fn family_profile(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<MatchProfile>, sqlx::Error> {
    let mut combined: Option<MatchProfile> = None;
    for member in merge::merge_family(&mut *conn, tenant_id, id).await? {
        if let Some(profile) = profile(&mut *conn, tenant_id, &member).await? {
            match combined.as_mut() {
                Some(combined) => combined.absorb(&profile),
                None => combined = Some(profile),
            }
        }
    }
    Ok(combined)
}

/// Of `ids`, the ones some customer was merged into.
async fn survivors_with_merges(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut survivors = HashSet::new();
    for chunk in ids.chunks(IN_LIST_MAX) {
        let mut p = Params::new(conn);
        let sql = format!(
            "SELECT DISTINCT survivor_customer_id FROM merged_customers
             WHERE tenant_id = {} AND survivor_customer_id IN ({})",
            p.one(),
            p.list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in chunk {
            query = query.bind(id);
        }
        survivors.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(survivors)
}

/// The stored profile texts of `ids` (their own, merges not followed), and which of
/// them some customer was merged into, in one statement.
async fn stored_profiles(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[String],
) -> Result<(HashMap<String, String>, HashSet<String>), sqlx::Error> {
    let mut profiles = HashMap::with_capacity(ids.len());
    let mut with_merges = HashSet::new();
    for chunk in ids.chunks(IN_LIST_MAX) {
        let mut p = Params::new(conn);
        let sql = format!(
            "SELECT {} FROM customer_profiles p
             WHERE p.tenant_id = {} AND p.customer_id IN ({})",
            json_rows(
                conn,
                "p.customer_id, p.profile,
                 CAST(CASE WHEN EXISTS (SELECT 1 FROM merged_customers m
                                        WHERE m.tenant_id = p.tenant_id
                                          AND m.survivor_customer_id = p.customer_id)
                           THEN 1 ELSE 0 END AS BIGINT)"
            ),
            p.one(),
            p.list(chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(tenant_id);
        for id in chunk {
            query = query.bind(id);
        }
        let rows = query.fetch_one(&mut *conn).await?;
        for (id, profile, merged_into_it) in from_json_rows::<(String, String, i64)>(&rows)? {
            if merged_into_it != 0 {
                with_merges.insert(id.clone());
            }
            profiles.insert(id, profile);
        }
    }
    Ok((profiles, with_merges))
}

pub fn parse_profile(json: &str) -> Result<MatchProfile, sqlx::Error> {
    serde_json::from_str(json).map_err(|err| sqlx::Error::Decode(err.into()))
}
