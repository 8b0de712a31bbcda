//! Opportunities: insert, read, compare-and-set update (the filtered listing is in
//! `listing`, re-exported here).

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use crate::domain::{Opportunity, Status};

pub use super::listing::{
    Cursor, Filter, Listed, Sort, SortField, SortKey, StageSummary, VisibleTo, count, list,
    stage_summary,
};

pub(super) const COLUMNS: &str = "tenant_id, opportunity_id, customer_id, owner_rep_id, pipeline_id, stage, \
     status, amount, currency, name, lead_id, source, region, industry, team, lost_reason, \
     next_follow_up_at, stage_entered_at, created_at, updated_at, version, pipeline_version, \
     expected_close_at, custom_fields";

pub(super) fn from_row(row: &AnyRow) -> Result<Opportunity, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Opportunity {
        tenant_id: row.try_get("tenant_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        customer_id: row.try_get("customer_id")?,
        owner_rep_id: row.try_get("owner_rep_id")?,
        pipeline_id: row.try_get("pipeline_id")?,
        stage: row.try_get("stage")?,
        status: Status::parse(&status).ok_or_else(|| super::corrupt("status", &status))?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        name: row.try_get("name")?,
        lead_id: row.try_get("lead_id")?,
        source: row.try_get("source")?,
        region: row.try_get("region")?,
        industry: row.try_get("industry")?,
        team: row.try_get("team")?,
        lost_reason: row.try_get("lost_reason")?,
        next_follow_up_at: row.try_get("next_follow_up_at")?,
        stage_entered_at: row.try_get("stage_entered_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        pipeline_version: row.try_get("pipeline_version")?,
        expected_close_at: row.try_get("expected_close_at")?,
        fields: decode_fields(&row.try_get::<String, _>("custom_fields")?)?,
    })
}

fn decode_fields(json: &str) -> Result<BTreeMap<String, String>, sqlx::Error> {
    serde_json::from_str(json).map_err(|_| super::corrupt("custom_fields", json))
}

fn encode_fields(fields: &BTreeMap<String, String>) -> String {
    // A map of strings always serialises.
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_owned())
}

/// Inserts a new opportunity. A unique violation means the customer already has an
/// open opportunity (`is_unique_violation` tells it apart).
pub async fn insert(conn: &mut AnyConnection, opp: &Opportunity) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO opportunities ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(&opp.tenant_id)
        .bind(&opp.opportunity_id)
        .bind(&opp.customer_id)
        .bind(&opp.owner_rep_id)
        .bind(&opp.pipeline_id)
        .bind(&opp.stage)
        .bind(opp.status.as_str())
        .bind(opp.amount)
        .bind(&opp.currency)
        .bind(&opp.name)
        .bind(&opp.lead_id)
        .bind(&opp.source)
        .bind(&opp.region)
        .bind(&opp.industry)
        .bind(&opp.team)
        .bind(&opp.lost_reason)
        .bind(opp.next_follow_up_at)
        .bind(opp.stage_entered_at)
        .bind(opp.created_at)
        .bind(opp.updated_at)
        .bind(opp.version)
        .bind(opp.pipeline_version)
        .bind(opp.expected_close_at)
        .bind(encode_fields(&opp.fields))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<Opportunity>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM opportunities WHERE tenant_id = $1 AND opportunity_id = $2");
    sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The customer's open opportunity: its primary one (the database allows one), else,
/// when the primary has closed while parallel deals from a merge stay open, the oldest
/// parallel deal, so a new lead still attaches instead of opening a third.
pub async fn find_open_for_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<Opportunity>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM opportunities
         WHERE tenant_id = $1 AND customer_id = $2 AND status = 'open'
         ORDER BY CASE WHEN parallel_of = '' THEN 0 ELSE 1 END, created_at, opportunity_id
         LIMIT 1"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every open opportunity of the customer: the primary one first, then parallel deals.
pub async fn list_open_for_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<Opportunity>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM opportunities
         WHERE tenant_id = $1 AND customer_id = $2 AND status = 'open'
         ORDER BY CASE WHEN parallel_of = '' THEN 0 ELSE 1 END, created_at, opportunity_id"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Writes the mutable fields of `opp` if it is still at `opp.version`, and bumps the
/// version. Returns false when a concurrent change got there first (nothing written).
pub async fn update(conn: &mut AnyConnection, opp: &Opportunity) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE opportunities SET owner_rep_id = $3, stage = $4, status = $5, amount = $6,
             name = $7, lost_reason = $8, next_follow_up_at = $9, stage_entered_at = $10,
             updated_at = $11, currency = $13, expected_close_at = $14, custom_fields = $15,
             customer_id = $16, team = $17, version = version + 1
         WHERE tenant_id = $1 AND opportunity_id = $2 AND version = $12",
    )
    .bind(&opp.tenant_id)
    .bind(&opp.opportunity_id)
    .bind(&opp.owner_rep_id)
    .bind(&opp.stage)
    .bind(opp.status.as_str())
    .bind(opp.amount)
    .bind(&opp.name)
    .bind(&opp.lost_reason)
    .bind(opp.next_follow_up_at)
    .bind(opp.stage_entered_at)
    .bind(opp.updated_at)
    .bind(opp.version)
    .bind(&opp.currency)
    .bind(opp.expected_close_at)
    .bind(encode_fields(&opp.fields))
    .bind(&opp.customer_id)
    .bind(&opp.team)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// (stage, status, count) over every tenant, for the stage gauge.
pub async fn count_by_stage_and_status(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT stage, status, COUNT(*) AS n FROM opportunities GROUP BY stage, status
         ORDER BY stage, status",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("stage")?,
                row.try_get("status")?,
                row.try_get("n")?,
            ))
        })
        .collect()
}
