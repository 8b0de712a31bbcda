//! Blocking keys, customer profiles and the partition locks of fuzzy matching.
//!
//! Merges are followed when matching reads, not copied when they happen: a merged-away
//! customer's blocking keys and profile stay filed under it, a key that finds it finds
//! its survivor instead, and the survivor is compared on its own profile together with
//! those of the customers merged into it. So a merged-away customer is never a candidate,
//! the survivor is found by everything its merged customers were found by, and undoing a
//! merge (which removes the `merged_customers` row) restores both sides exactly.

use sqlx::AnyConnection;

use super::merge;
use crate::domain::matching::MatchProfile;

/// Customers read per blocking key at most. A key shared by more customers than this
/// (a very common name) says little; the other keys of the lead still find its match.
pub const MAX_PER_KEY: i64 = 64;
/// Customers compared per lead at most.
pub const MAX_CANDIDATES: usize = 400;

/// Files the customer under `keys` (ones it has already are skipped).
pub async fn file_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    keys: &[String],
) -> Result<(), sqlx::Error> {
    for key in keys {
        sqlx::query(
            "INSERT INTO blocking_keys (tenant_id, block_key, customer_id) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, block_key, customer_id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(customer_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Customers filed under any of `keys`, in the order the keys found them, without
/// repeats; at most [`MAX_PER_KEY`] per key and [`MAX_CANDIDATES`] in all. A customer
/// merged into another stands for its survivor (at the end of the chain of merges).
pub async fn candidates(
    conn: &mut AnyConnection,
    tenant_id: &str,
    keys: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut found: Vec<String> = Vec::new();
    for key in keys {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT customer_id FROM blocking_keys WHERE tenant_id = $1 AND block_key = $2
             ORDER BY customer_id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(MAX_PER_KEY)
        .fetch_all(&mut *conn)
        .await?;
        for id in ids {
            let id = merge::current_customer(&mut *conn, tenant_id, &id).await?;
            if !found.contains(&id) {
                found.push(id);
            }
        }
        if found.len() >= MAX_CANDIDATES {
            found.truncate(MAX_CANDIDATES);
            break;
        }
    }
    Ok(found)
}

/// Upserts (and so locks until commit) the rows of `partitions`, in the given
/// ascending order. On PostgreSQL a concurrent transaction holding one of them makes
/// this wait until it commits, after which its customers are visible; SQLite allows
/// one writer at a time anyway.
pub async fn hold_partitions(
    conn: &mut AnyConnection,
    tenant_id: &str,
    partitions: &[i64],
    now: i64,
) -> Result<(), sqlx::Error> {
    for partition in partitions {
        sqlx::query(
            "INSERT INTO match_partitions (tenant_id, partition_id, touched_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, partition_id) DO UPDATE SET touched_at = excluded.touched_at",
        )
        .bind(tenant_id)
        .bind(partition)
        .bind(now)
        .execute(&mut *conn)
        .await?;
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
    let json = serde_json::to_string(profile).map_err(|err| sqlx::Error::Encode(err.into()))?;
    sqlx::query(
        "INSERT INTO customer_profiles (tenant_id, customer_id, profile, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, customer_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(json)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
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

/// The profiles of `customer_ids` that have one, in the order asked, as matching
/// compares them: each with what the customers merged into it said (its own values
/// first). One primary-key read each, plus one per merged customer: candidates are a
/// few hundred at most and the reads are index lookups.
pub async fn profiles(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_ids: &[String],
) -> Result<Vec<(String, MatchProfile)>, sqlx::Error> {
    let mut found = Vec::with_capacity(customer_ids.len());
    for id in customer_ids {
        let mut combined: Option<MatchProfile> = None;
        for member in merge::merge_family(&mut *conn, tenant_id, id).await? {
            if let Some(profile) = profile(&mut *conn, tenant_id, &member).await? {
                match combined.as_mut() {
                    Some(combined) => combined.absorb(&profile),
                    None => combined = Some(profile),
                }
            }
        }
        if let Some(profile) = combined {
            found.push((id.clone(), profile));
        }
    }
    Ok(found)
}

fn parse_profile(json: &str) -> Result<MatchProfile, sqlx::Error> {
    serde_json::from_str(json).map_err(|err| sqlx::Error::Decode(err.into()))
}
