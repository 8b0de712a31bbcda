//! The `pool_entries` table: the pool (公海). An entry waits until it is placed
//! automatically or claimed, then it is `taken` and kept as history.

use shangji_platform::Tx;

use super::{Exec, flag};

pub const KIND_LEAD: &str = "lead";
pub const KIND_OPPORTUNITY: &str = "opportunity";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolEntry {
    pub entry_id: String,
    /// `lead` or `opportunity`.
    pub kind: String,
    pub lead_id: String,
    pub customer_id: String,
    pub opportunity_id: String,
    pub team: String,
    pub reason: String,
    pub auto_assign: bool,
    pub previous_rep_id: String,
    /// The encoded `lead.qualified` (leads), to decide again; empty for opportunities.
    pub lead_event: Vec<u8>,
    pub pooled_at: i64,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Vec<u8>,
    i64,
);

const SELECT: &str = "SELECT entry_id, kind, lead_id, customer_id, opportunity_id, team_id, \
                      reason, auto_assign, previous_rep_id, lead_event, pooled_at FROM pool_entries";

fn to_entry(row: Row) -> PoolEntry {
    let (
        entry_id,
        kind,
        lead_id,
        customer_id,
        opportunity_id,
        team,
        reason,
        auto_assign,
        previous_rep_id,
        lead_event,
        pooled_at,
    ) = row;
    PoolEntry {
        entry_id,
        kind,
        lead_id,
        customer_id,
        opportunity_id,
        team,
        reason,
        auto_assign: auto_assign != 0,
        previous_rep_id,
        lead_event,
        pooled_at,
    }
}

pub async fn insert(tx: &mut Tx, tenant_id: &str, entry: &PoolEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pool_entries (tenant_id, entry_id, kind, lead_id, customer_id, opportunity_id,
                                   team_id, reason, auto_assign, previous_rep_id, lead_event,
                                   state, pooled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'waiting', $12)",
    )
    .bind(tenant_id)
    .bind(&entry.entry_id)
    .bind(&entry.kind)
    .bind(&entry.lead_id)
    .bind(&entry.customer_id)
    .bind(&entry.opportunity_id)
    .bind(&entry.team)
    .bind(&entry.reason)
    .bind(flag(entry.auto_assign))
    .bind(&entry.previous_rep_id)
    .bind(&entry.lead_event)
    .bind(entry.pooled_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A waiting entry.
pub async fn get_waiting<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    entry_id: &str,
) -> Result<Option<PoolEntry>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 AND entry_id = $2 AND state = 'waiting'");
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(entry_id)
        .fetch_optional(exec)
        .await?;
    Ok(row.map(to_entry))
}

/// Waiting entries, oldest first; `auto_only` keeps those placed automatically.
pub async fn waiting<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    auto_only: bool,
    limit: u32,
) -> Result<Vec<PoolEntry>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE tenant_id = $1 AND state = 'waiting' AND ($2 = 0 OR auto_assign = 1)
         ORDER BY pooled_at, entry_id LIMIT $3"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(flag(auto_only))
        .bind(i64::from(limit))
        .fetch_all(exec)
        .await?;
    Ok(rows.into_iter().map(to_entry).collect())
}

/// Waiting entries of an opportunity (it can be in the pool once at a time).
pub async fn waiting_for_opportunity<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<PoolEntry>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE tenant_id = $1 AND opportunity_id = $2 AND state = 'waiting' LIMIT 1"
    );
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_optional(exec)
        .await?;
    Ok(row.map(to_entry))
}

/// Takes a waiting entry for `rep_id`; false when someone else took it first.
pub async fn take(
    tx: &mut Tx,
    tenant_id: &str,
    entry_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE pool_entries SET state = 'taken', taken_by = $3, taken_at = $4
         WHERE tenant_id = $1 AND entry_id = $2 AND state = 'waiting'",
    )
    .bind(tenant_id)
    .bind(entry_id)
    .bind(rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(taken == 1)
}
