//! Approval rules and approval requests.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use crate::domain::approval::{Approval, ApprovalRule, ApprovalStatus, Approver};

fn encode_reps(reps: &[String]) -> Result<String, sqlx::Error> {
    serde_json::to_string(reps).map_err(|err| sqlx::Error::Encode(Box::new(err)))
}

fn approver(kind: &str, reps: &str) -> Result<Approver, sqlx::Error> {
    let named: Vec<String> =
        serde_json::from_str(reps).map_err(|_| super::corrupt("approver_rep_ids", reps))?;
    Approver::from_parts(kind, named).ok_or_else(|| super::corrupt("approver", kind))
}

pub async fn upsert_rule(
    conn: &mut AnyConnection,
    tenant_id: &str,
    rule: &ApprovalRule,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO approval_rules (tenant_id, rule_id, approval_type, discount_over_percent,
             amount_over, approver, approver_rep_ids, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, rule_id) DO UPDATE SET approval_type = excluded.approval_type,
             discount_over_percent = excluded.discount_over_percent,
             amount_over = excluded.amount_over, approver = excluded.approver,
             approver_rep_ids = excluded.approver_rep_ids, updated_by = excluded.updated_by,
             updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&rule.rule_id)
    .bind(&rule.approval_type)
    .bind(rule.discount_over_percent)
    .bind(rule.amount_over)
    .bind(rule.approver.as_str())
    .bind(encode_reps(rule.approver.named())?)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's rules, by rule id.
pub async fn rules(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Vec<ApprovalRule>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT rule_id, approval_type, discount_over_percent, amount_over, approver,
             approver_rep_ids
         FROM approval_rules WHERE tenant_id = $1 ORDER BY rule_id",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("approver")?;
            let reps: String = row.try_get("approver_rep_ids")?;
            Ok(ApprovalRule {
                rule_id: row.try_get("rule_id")?,
                approval_type: row.try_get("approval_type")?,
                discount_over_percent: row.try_get("discount_over_percent")?,
                amount_over: row.try_get("amount_over")?,
                approver: approver(&kind, &reps)?,
            })
        })
        .collect()
}

const COLUMNS: &str = "approval_id, opportunity_id, approval_type, status, rule_id, approver, \
     approver_rep_ids, discount_percent, amount, note, requested_by, requested_at, decided_by, \
     decided_at, decision_note";

fn from_row(row: &AnyRow) -> Result<Approval, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("approver")?;
    let reps: String = row.try_get("approver_rep_ids")?;
    Ok(Approval {
        approval_id: row.try_get("approval_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        approval_type: row.try_get("approval_type")?,
        status: ApprovalStatus::parse(&status).ok_or_else(|| super::corrupt("status", &status))?,
        rule_id: row.try_get("rule_id")?,
        approver: approver(&kind, &reps)?,
        discount_percent: row.try_get("discount_percent")?,
        amount: row.try_get("amount")?,
        note: row.try_get("note")?,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    a: &Approval,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO approvals (tenant_id, {COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(&a.approval_id)
        .bind(&a.opportunity_id)
        .bind(&a.approval_type)
        .bind(a.status.as_str())
        .bind(&a.rule_id)
        .bind(a.approver.as_str())
        .bind(encode_reps(a.approver.named())?)
        .bind(a.discount_percent)
        .bind(a.amount)
        .bind(&a.note)
        .bind(&a.requested_by)
        .bind(a.requested_at)
        .bind(&a.decided_by)
        .bind(a.decided_at)
        .bind(&a.decision_note)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &str,
    approval_id: &str,
) -> Result<Option<Approval>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM approvals WHERE tenant_id = $1 AND approval_id = $2");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(approval_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Records the decision on a pending request. False when it was decided meanwhile.
pub async fn decide(
    conn: &mut AnyConnection,
    tenant_id: &str,
    a: &Approval,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE approvals SET status = $3, decided_by = $4, decided_at = $5, decision_note = $6
         WHERE tenant_id = $1 AND approval_id = $2 AND status = 'pending'",
    )
    .bind(tenant_id)
    .bind(&a.approval_id)
    .bind(a.status.as_str())
    .bind(&a.decided_by)
    .bind(a.decided_at)
    .bind(&a.decision_note)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// The opportunity's requests, newest first.
pub async fn list_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<Approval>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM approvals WHERE tenant_id = $1 AND opportunity_id = $2
         ORDER BY requested_at DESC, approval_id DESC"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The status of the latest request of each type on the opportunity (what gates read).
pub async fn latest_by_type(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<BTreeMap<String, ApprovalStatus>, sqlx::Error> {
    let mut latest = BTreeMap::new();
    // Newest first: the first seen of each type wins.
    for approval in list_for(conn, tenant_id, opportunity_id).await? {
        latest
            .entry(approval.approval_type)
            .or_insert(approval.status);
    }
    Ok(latest)
}
