//! Merging customers and undoing merges, keeping every merge's history.
//!
//! A merge re-points the merged customers' leads and match keys to the survivor, marks
//! the merged customers (their rows stay) and records each moved item, so an undo moves
//! exactly those items back. Items that arrived on the survivor after the merge stay
//! there. A merge whose survivor has since been merged itself cannot be undone until that
//! later merge is: the moved items no longer sit where the undo would look for them.
//!
//! Concurrency: every customer a merge or undo touches is locked first (an `UPDATE` of
//! its row, in id order so two merges cannot deadlock), and the checks run after the
//! locks: two merges racing over one customer serialise on PostgreSQL, and SQLite has
//! a single writer anyway.

use sqlx::AnyConnection;

use super::{customers, review};
use crate::domain::merge::{MergePlan, MovedItem, MovedKind};
use crate::domain::{KeyKind, MatchKey};

/// Merged-into links are followed at most this far; merges form chains, never cycles
/// (a merged customer cannot be a survivor), so this only guards against corrupt data.
const MAX_CHAIN: usize = 64;

/// A customer that has been merged into another and not restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergedInto {
    pub survivor_customer_id: String,
    pub merge_id: String,
}

/// A merge as recorded, with what it moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRecord {
    pub merge_id: String,
    pub survivor_customer_id: String,
    pub merged_customer_ids: Vec<String>,
    pub decided_by: String,
    pub reason: String,
    /// The review item that caused it, if a review did.
    pub review_id: String,
    pub merged_at: i64,
    /// 0 while the merge holds.
    pub unmerged_at: i64,
    pub unmerged_by: String,
    pub moves: Vec<MovedItem>,
}

/// Who decided a merge and why.
#[derive(Clone, Debug, Default)]
pub struct MergeDecision {
    pub decided_by: String,
    pub reason: String,
    pub review_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("customer {0} not found")]
    CustomerNotFound(String),
    #[error("customer {customer_id} was merged into {survivor_customer_id} by merge {merge_id}")]
    AlreadyMerged {
        customer_id: String,
        survivor_customer_id: String,
        merge_id: String,
    },
    #[error("merge {0} not found")]
    MergeNotFound(String),
    #[error("merge {merge_id} was undone already by {unmerged_by}")]
    AlreadyUndone {
        merge_id: String,
        unmerged_by: String,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Whether `customer_id` is merged into another customer now.
pub async fn merged_into(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<MergedInto>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT survivor_customer_id, merge_id FROM merged_customers
         WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(survivor_customer_id, merge_id)| MergedInto {
        survivor_customer_id,
        merge_id,
    }))
}

/// The customer that stands for `customer_id` now: itself, or the survivor at the end
/// of its chain of merges.
pub async fn current_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<String, sqlx::Error> {
    let mut current = customer_id.to_owned();
    for _ in 0..MAX_CHAIN {
        match merged_into(&mut *conn, tenant_id, &current).await? {
            Some(next) => current = next.survivor_customer_id,
            None => break,
        }
    }
    Ok(current)
}

/// The customers merged directly into `survivor_customer_id` and not restored, in id
/// order (one merged into one of these is listed under that one; see [`merge_family`]).
pub async fn merged_into_survivor(
    conn: &mut AnyConnection,
    tenant_id: &str,
    survivor_customer_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT customer_id FROM merged_customers
         WHERE tenant_id = $1 AND survivor_customer_id = $2
         ORDER BY customer_id",
    )
    .bind(tenant_id)
    .bind(survivor_customer_id)
    .fetch_all(conn)
    .await
}

/// `customer_id` and every customer merged into it, directly or along a chain, itself
/// first. Each customer is visited once, so even corrupt links cannot loop.
pub async fn merge_family(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let mut family = vec![customer_id.to_owned()];
    let mut next = 0;
    while next < family.len() {
        let merged = merged_into_survivor(&mut *conn, tenant_id, &family[next]).await?;
        for id in merged {
            if !family.contains(&id) {
                family.push(id);
            }
        }
        next += 1;
    }
    Ok(family)
}

/// A lead attached to a customer that a merge took away (a concurrent merge, or a fuzzy
/// match on the merged customer's old profile) moves on to the survivor, with any key
/// the lead gave the merged customer: nothing lives on a merged customer. Those keys are
/// not part of the merge's moves, so an undo leaves them with the lead that brought them.
/// Returns where the lead is now.
pub async fn follow_merges(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
    customer_id: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let current = current_customer(&mut *conn, tenant_id, customer_id).await?;
    if current != customer_id {
        move_lead(&mut *conn, tenant_id, lead_id, customer_id, &current).await?;
        for (kind, value) in raw_keys(&mut *conn, tenant_id, customer_id).await? {
            let item = format!("{kind}:{value}");
            move_key(&mut *conn, tenant_id, &item, customer_id, &current).await?;
        }
        recount_leads(&mut *conn, tenant_id, customer_id, now).await?;
        recount_leads(&mut *conn, tenant_id, &current, now).await?;
        tracing::info!(lead_id, from = customer_id, to = %current, "lead arrived on a merged customer; moved to the survivor");
    }
    Ok(current)
}

/// Locks the customers' rows for the rest of the transaction (id order, so concurrent
/// merges cannot deadlock). Returns the ids that do not exist.
async fn lock_customers(
    conn: &mut AnyConnection,
    tenant_id: &str,
    ids: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut missing = Vec::new();
    for id in sorted {
        let touched = sqlx::query(
            "UPDATE customers SET updated_at = updated_at WHERE tenant_id = $1 AND customer_id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if touched == 0 {
            missing.push(id.to_owned());
        }
    }
    Ok(missing)
}

/// What merging `merged` into `survivor` would move, after locking all of them and
/// checking that each exists and none is merged already. Changes nothing else, so a dry
/// run is this inside a transaction that is rolled back.
pub async fn plan(
    conn: &mut AnyConnection,
    tenant_id: &str,
    survivor: &str,
    merged: &[&str],
) -> Result<MergePlan, MergeError> {
    let mut all = vec![survivor];
    all.extend_from_slice(merged);
    if let Some(missing) = lock_customers(&mut *conn, tenant_id, &all)
        .await?
        .into_iter()
        .next()
    {
        return Err(MergeError::CustomerNotFound(missing));
    }
    for id in &all {
        if let Some(into) = merged_into(&mut *conn, tenant_id, id).await? {
            return Err(MergeError::AlreadyMerged {
                customer_id: (*id).to_owned(),
                survivor_customer_id: into.survivor_customer_id,
                merge_id: into.merge_id,
            });
        }
    }
    let mut moves = Vec::new();
    for id in merged {
        for lead_id in customers::customer_lead_ids(&mut *conn, tenant_id, id).await? {
            moves.push(MovedItem {
                kind: MovedKind::Lead,
                detail: format!("lead {lead_id}"),
                item: lead_id,
                from_customer_id: (*id).to_owned(),
            });
        }
        for (kind, value) in raw_keys(&mut *conn, tenant_id, id).await? {
            // Kinds this version does not know still move; they are described as stored.
            let detail = KeyKind::parse(&kind)
                .map(|k| MatchKey::new(k, value.clone()).to_string())
                .unwrap_or_else(|| format!("{kind} {value}"));
            moves.push(MovedItem {
                kind: MovedKind::Key,
                item: format!("{kind}:{value}"),
                from_customer_id: (*id).to_owned(),
                detail,
            });
        }
        if let Some(record) = customers::customer(&mut *conn, tenant_id, id).await? {
            moves.push(MovedItem {
                kind: MovedKind::Contact,
                item: (*id).to_owned(),
                from_customer_id: (*id).to_owned(),
                detail: contact_detail(&record.name, &record.company),
            });
        }
    }
    moves.sort();
    Ok(MergePlan {
        survivor_customer_id: survivor.to_owned(),
        merged_customer_ids: merged.iter().map(|id| (*id).to_owned()).collect(),
        moves,
    })
}

/// Carries out a plan made by [`plan`] in the same transaction, and records it.
pub async fn apply(
    conn: &mut AnyConnection,
    tenant_id: &str,
    plan: &MergePlan,
    decision: &MergeDecision,
    now: i64,
) -> Result<MergeRecord, sqlx::Error> {
    let merge_id = shangji_platform::ids::new_id("mrg");
    let survivor = plan.survivor_customer_id.as_str();
    sqlx::query(
        "INSERT INTO merges (tenant_id, merge_id, survivor_customer_id, merged_customer_ids,
                             decided_by, reason, review_id, merged_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(&merge_id)
    .bind(survivor)
    .bind(json_list(&plan.merged_customer_ids))
    .bind(&decision.decided_by)
    .bind(&decision.reason)
    .bind(&decision.review_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for moved in &plan.moves {
        match moved.kind {
            MovedKind::Lead => {
                move_lead(
                    &mut *conn,
                    tenant_id,
                    &moved.item,
                    &moved.from_customer_id,
                    survivor,
                )
                .await?;
            }
            MovedKind::Key => {
                move_key(
                    &mut *conn,
                    tenant_id,
                    &moved.item,
                    &moved.from_customer_id,
                    survivor,
                )
                .await?;
            }
            MovedKind::Contact => {
                sqlx::query(
                    "INSERT INTO merged_customers (tenant_id, customer_id, survivor_customer_id, merge_id, merged_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant_id)
                .bind(&moved.item)
                .bind(survivor)
                .bind(&merge_id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
        }
        record_move(&mut *conn, tenant_id, &merge_id, moved).await?;
    }
    for id in plan
        .merged_customer_ids
        .iter()
        .map(String::as_str)
        .chain([survivor])
    {
        recount_leads(&mut *conn, tenant_id, id, now).await?;
    }
    for merged in &plan.merged_customer_ids {
        review::settle_pair(
            &mut *conn,
            tenant_id,
            survivor,
            merged,
            &merge_id,
            &decision.decided_by,
            now,
        )
        .await?;
    }
    Ok(MergeRecord {
        merge_id,
        survivor_customer_id: survivor.to_owned(),
        merged_customer_ids: plan.merged_customer_ids.clone(),
        decided_by: decision.decided_by.clone(),
        reason: decision.reason.clone(),
        review_id: decision.review_id.clone(),
        merged_at: now,
        unmerged_at: 0,
        unmerged_by: String::new(),
        moves: plan.moves.clone(),
    })
}

/// Undoes a merge: moves back exactly what it moved and restores the merged customers.
pub async fn unmerge(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    unmerged_by: &str,
    now: i64,
) -> Result<MergeRecord, MergeError> {
    let Some(record) = merge(&mut *conn, tenant_id, merge_id).await? else {
        return Err(MergeError::MergeNotFound(merge_id.to_owned()));
    };
    let mut involved: Vec<&str> = record
        .merged_customer_ids
        .iter()
        .map(String::as_str)
        .collect();
    involved.push(&record.survivor_customer_id);
    lock_customers(&mut *conn, tenant_id, &involved).await?;
    // Read again under the locks: a concurrent undo may have finished meanwhile.
    let Some(mut record) = merge(&mut *conn, tenant_id, merge_id).await? else {
        return Err(MergeError::MergeNotFound(merge_id.to_owned()));
    };
    if record.unmerged_at != 0 {
        return Err(MergeError::AlreadyUndone {
            merge_id: merge_id.to_owned(),
            unmerged_by: record.unmerged_by,
        });
    }
    let survivor = record.survivor_customer_id.clone();
    if let Some(into) = merged_into(&mut *conn, tenant_id, &survivor).await? {
        return Err(MergeError::AlreadyMerged {
            customer_id: survivor,
            survivor_customer_id: into.survivor_customer_id,
            merge_id: into.merge_id,
        });
    }
    for moved in &record.moves {
        match moved.kind {
            MovedKind::Lead => {
                move_lead(
                    &mut *conn,
                    tenant_id,
                    &moved.item,
                    &survivor,
                    &moved.from_customer_id,
                )
                .await?;
            }
            MovedKind::Key => {
                move_key(
                    &mut *conn,
                    tenant_id,
                    &moved.item,
                    &survivor,
                    &moved.from_customer_id,
                )
                .await?;
            }
            MovedKind::Contact => {
                sqlx::query(
                    "DELETE FROM merged_customers
                     WHERE tenant_id = $1 AND customer_id = $2 AND merge_id = $3",
                )
                .bind(tenant_id)
                .bind(&moved.item)
                .bind(merge_id)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    for id in &involved {
        recount_leads(&mut *conn, tenant_id, id, now).await?;
    }
    sqlx::query(
        "UPDATE merges SET unmerged_at = $3, unmerged_by = $4 WHERE tenant_id = $1 AND merge_id = $2",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(now)
    .bind(unmerged_by)
    .execute(&mut *conn)
    .await?;
    record.unmerged_at = now;
    record.unmerged_by = unmerged_by.to_owned();
    Ok(record)
}

/// A merge with what it moved.
pub async fn merge(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
) -> Result<Option<MergeRecord>, sqlx::Error> {
    type Row = (String, String, String, String, String, i64, i64, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT survivor_customer_id, merged_customer_ids, decided_by, reason, review_id,
                merged_at, unmerged_at, unmerged_by
         FROM merges WHERE tenant_id = $1 AND merge_id = $2",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((
        survivor,
        merged,
        decided_by,
        reason,
        review_id,
        merged_at,
        unmerged_at,
        unmerged_by,
    )) = row
    else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT kind, item, from_customer_id, detail FROM merge_moves
         WHERE tenant_id = $1 AND merge_id = $2 ORDER BY kind, item",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut moves: Vec<MovedItem> = rows
        .into_iter()
        .filter_map(|(kind, item, from_customer_id, detail)| {
            MovedKind::parse(&kind).map(|kind| MovedItem {
                kind,
                item,
                from_customer_id,
                detail,
            })
        })
        .collect();
    moves.sort();
    Ok(Some(MergeRecord {
        merge_id: merge_id.to_owned(),
        survivor_customer_id: survivor,
        merged_customer_ids: serde_json::from_str(&merged).unwrap_or_default(),
        decided_by,
        reason,
        review_id,
        merged_at,
        unmerged_at,
        unmerged_by,
        moves,
    }))
}

async fn raw_keys(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, value FROM match_keys WHERE tenant_id = $1 AND customer_id = $2
         ORDER BY kind, value",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_all(conn)
    .await
}

async fn move_lead(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
    from: &str,
    to: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customer_leads SET customer_id = $4
         WHERE tenant_id = $1 AND lead_id = $2 AND customer_id = $3",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(from)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a key given as `kind:value` (kinds never contain ':').
async fn move_key(
    conn: &mut AnyConnection,
    tenant_id: &str,
    item: &str,
    from: &str,
    to: &str,
) -> Result<(), sqlx::Error> {
    let Some((kind, value)) = item.split_once(':') else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE match_keys SET customer_id = $5
         WHERE tenant_id = $1 AND kind = $2 AND value = $3 AND customer_id = $4",
    )
    .bind(tenant_id)
    .bind(kind)
    .bind(value)
    .bind(from)
    .bind(to)
    .execute(conn)
    .await?;
    Ok(())
}

async fn record_move(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    moved: &MovedItem,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO merge_moves (tenant_id, merge_id, kind, item, from_customer_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(moved.kind.as_str())
    .bind(&moved.item)
    .bind(&moved.from_customer_id)
    .bind(&moved.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the customer's lead count from its attached leads (after leads moved).
async fn recount_leads(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE customers
         SET lead_count = (SELECT COUNT(*) FROM customer_leads l
                           WHERE l.tenant_id = $1 AND l.customer_id = $2),
             updated_at = $3
         WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn contact_detail(name: &str, company: &str) -> String {
    match (name.is_empty(), company.is_empty()) {
        (false, false) => format!("{name} ({company})"),
        (false, true) => name.to_owned(),
        (true, false) => company.to_owned(),
        (true, true) => "a contact without name or company".to_owned(),
    }
}

fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}
