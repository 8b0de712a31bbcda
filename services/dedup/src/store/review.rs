//! The review queue: possible matches waiting for a person, and the pairs judged
//! different so that they are never asked about again.

use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::merge;
use crate::domain::merge::ordered_pair;
use crate::domain::merge_review::{PossibleMatch, ReviewEvidence, ReviewStatus};

/// A review item as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewRecord {
    pub review_id: String,
    pub lead_id: String,
    pub customer_id: String,
    pub candidate_customer_id: String,
    pub score: f64,
    pub reasons: Vec<String>,
    pub evidence: Vec<ReviewEvidence>,
    pub status: ReviewStatus,
    pub created_at: i64,
    /// 0 while open.
    pub resolved_at: i64,
    pub resolved_by: String,
    pub note: String,
    pub merge_id: String,
}

/// What became of a possible match handed to the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Queued {
    /// A new question for a person.
    Added { review_id: String },
    /// The pair is already waiting in the queue (raised by another lead).
    AlreadyOpen,
    /// A person judged the pair different before; not asked again.
    JudgedDifferent,
    /// The two are one customer already (merged meanwhile).
    SameCustomer,
}

/// Where keyset paging resumes: after this (created_at, review_id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub review_id: String,
}

/// Puts a possible match in the review queue, unless the pair is waiting already, was
/// judged different, or is one customer by now. Runs in the caller's transaction (the
/// lead consumer's), so it is part of the lead's qualification: redelivery adds nothing.
pub async fn queue_possible_match(
    conn: &mut AnyConnection,
    tenant_id: &str,
    possible: &PossibleMatch,
    now: i64,
) -> Result<Queued, sqlx::Error> {
    let customer = merge::current_customer(&mut *conn, tenant_id, &possible.customer_id).await?;
    let candidate =
        merge::current_customer(&mut *conn, tenant_id, &possible.candidate_customer_id).await?;
    if customer == candidate {
        return Ok(Queued::SameCustomer);
    }
    if judged_different(&mut *conn, tenant_id, &customer, &candidate).await? {
        return Ok(Queued::JudgedDifferent);
    }
    let review_id = shangji_platform::ids::new_id("rev");
    let (low, high) = ordered_pair(&customer, &candidate);
    // DO NOTHING without a target covers the partial unique index on open pairs.
    let inserted = sqlx::query(
        "INSERT INTO review_items (tenant_id, review_id, lead_id, customer_id, candidate_customer_id,
                                   pair_low, pair_high, score, reasons, evidence, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&review_id)
    .bind(&possible.lead_id)
    .bind(&customer)
    .bind(&candidate)
    .bind(low)
    .bind(high)
    .bind(possible.score)
    .bind(json!(possible.reasons).to_string())
    .bind(evidence_json(&possible.evidence))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(if inserted == 1 {
        Queued::Added { review_id }
    } else {
        Queued::AlreadyOpen
    })
}

const SELECT_ITEM: &str = "SELECT review_id, lead_id, customer_id, candidate_customer_id, score,
        reasons, evidence, status, created_at, resolved_at, resolved_by, note, merge_id
     FROM review_items";

type ItemRow = (
    String,
    String,
    String,
    String,
    f64,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
);

fn record(row: ItemRow) -> ReviewRecord {
    let (
        review_id,
        lead_id,
        customer_id,
        candidate_customer_id,
        score,
        reasons,
        evidence,
        status,
        created_at,
        resolved_at,
        resolved_by,
        note,
        merge_id,
    ) = row;
    ReviewRecord {
        review_id,
        lead_id,
        customer_id,
        candidate_customer_id,
        score,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        evidence: parse_evidence(&evidence),
        // Only this module writes statuses; an unknown one would be a newer version's.
        status: ReviewStatus::parse(&status).unwrap_or(ReviewStatus::Open),
        created_at,
        resolved_at,
        resolved_by,
        note,
        merge_id,
    }
}

pub async fn review_item(
    conn: &mut AnyConnection,
    tenant_id: &str,
    review_id: &str,
) -> Result<Option<ReviewRecord>, sqlx::Error> {
    let sql = format!("{SELECT_ITEM} WHERE tenant_id = $1 AND review_id = $2");
    let row: Option<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(review_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(record))
}

/// Open items whose sides are both customers still: a pair where one side has been
/// merged away since is not a question anyone should be asked (the merge may have
/// answered it, and the survivor is what a person would compare). Undoing the merge
/// brings the item back, as the question is one again.
const STILL_A_QUESTION: &str = "(status <> 'open' OR NOT EXISTS (
        SELECT 1 FROM merged_customers m
        WHERE m.tenant_id = review_items.tenant_id
          AND m.customer_id IN (review_items.customer_id, review_items.candidate_customer_id)))";

/// Items in `status`, oldest first, after `after`, at most `limit`; open items only
/// while neither side is merged away.
pub async fn list(
    conn: &mut AnyConnection,
    tenant_id: &str,
    status: ReviewStatus,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<ReviewRecord>, sqlx::Error> {
    let rows: Vec<ItemRow> = match after {
        None => {
            let sql = format!(
                "{SELECT_ITEM} WHERE tenant_id = $1 AND status = $2 AND {STILL_A_QUESTION}
                 ORDER BY created_at, review_id LIMIT $3"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
        Some(cursor) => {
            let sql = format!(
                "{SELECT_ITEM} WHERE tenant_id = $1 AND status = $2 AND {STILL_A_QUESTION}
                   AND (created_at > $3 OR (created_at = $3 AND review_id > $4))
                 ORDER BY created_at, review_id LIMIT $5"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(status.as_str())
                .bind(cursor.created_at)
                .bind(&cursor.review_id)
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows.into_iter().map(record).collect())
}

pub async fn count(
    conn: &mut AnyConnection,
    tenant_id: &str,
    status: ReviewStatus,
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM review_items WHERE tenant_id = $1 AND status = $2 AND {STILL_A_QUESTION}"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(status.as_str())
        .fetch_one(conn)
        .await
}

/// Locks the item for the rest of the transaction and reads it, so that concurrent
/// resolutions of one item take turns and the later one sees the first one's decision.
pub async fn lock_item(
    conn: &mut AnyConnection,
    tenant_id: &str,
    review_id: &str,
) -> Result<Option<ReviewRecord>, sqlx::Error> {
    sqlx::query("UPDATE review_items SET status = status WHERE tenant_id = $1 AND review_id = $2")
        .bind(tenant_id)
        .bind(review_id)
        .execute(&mut *conn)
        .await?;
    review_item(conn, tenant_id, review_id).await
}

/// Records a person's decision on the item (it may have been settled by the merge the
/// decision made; the decision's own words then replace the automatic note).
#[allow(clippy::too_many_arguments)] // one column each; a struct would only rename them
pub async fn set_resolution(
    conn: &mut AnyConnection,
    tenant_id: &str,
    review_id: &str,
    status: ReviewStatus,
    resolved_by: &str,
    note: &str,
    merge_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE review_items
         SET status = $3, resolved_by = $4, note = $5, merge_id = $6, resolved_at = $7
         WHERE tenant_id = $1 AND review_id = $2",
    )
    .bind(tenant_id)
    .bind(review_id)
    .bind(status.as_str())
    .bind(resolved_by)
    .bind(note)
    .bind(merge_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Remembers that a person judged the two customers different.
pub async fn record_different(
    conn: &mut AnyConnection,
    tenant_id: &str,
    a: &str,
    b: &str,
    review_id: &str,
    decided_by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (low, high) = ordered_pair(a, b);
    sqlx::query(
        "INSERT INTO distinct_customers (tenant_id, customer_low, customer_high, review_id, decided_by, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, customer_low, customer_high) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(low)
    .bind(high)
    .bind(review_id)
    .bind(decided_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn judged_different(
    conn: &mut AnyConnection,
    tenant_id: &str,
    a: &str,
    b: &str,
) -> Result<bool, sqlx::Error> {
    let (low, high) = ordered_pair(a, b);
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM distinct_customers
         WHERE tenant_id = $1 AND customer_low = $2 AND customer_high = $3",
    )
    .bind(tenant_id)
    .bind(low)
    .bind(high)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// A merge answered the open question about this pair, if there was one.
pub async fn settle_pair(
    conn: &mut AnyConnection,
    tenant_id: &str,
    a: &str,
    b: &str,
    merge_id: &str,
    decided_by: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (low, high) = ordered_pair(a, b);
    sqlx::query(
        "UPDATE review_items
         SET status = 'same', resolved_by = $4, merge_id = $5, resolved_at = $6,
             note = CASE WHEN note = '' THEN 'settled by merge ' || $5 ELSE note END
         WHERE tenant_id = $1 AND pair_low = $2 AND pair_high = $3 AND status = 'open'",
    )
    .bind(tenant_id)
    .bind(low)
    .bind(high)
    .bind(decided_by)
    .bind(merge_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn evidence_json(evidence: &[ReviewEvidence]) -> String {
    Value::Array(
        evidence
            .iter()
            .map(|e| {
                json!({
                    "field": e.field,
                    "similarity": e.similarity,
                    "contribution": e.contribution,
                    "detail": e.detail,
                })
            })
            .collect(),
    )
    .to_string()
}

fn parse_evidence(stored: &str) -> Vec<ReviewEvidence> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(stored) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| ReviewEvidence {
            field: item["field"].as_str().unwrap_or_default().to_owned(),
            similarity: item["similarity"].as_f64().unwrap_or_default(),
            contribution: item["contribution"].as_f64().unwrap_or_default(),
            detail: item["detail"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}
