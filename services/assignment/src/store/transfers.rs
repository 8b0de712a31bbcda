//! The `ownership_transfers` table: every move of a customer's work, kept forever.

use shangji_platform::Tx;

use super::{Exec, from_json, to_json};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    pub transfer_id: String,
    pub customer_id: String,
    pub from_rep_id: String,
    /// Empty: to the pool of `team`.
    pub to_rep_id: String,
    pub team: String,
    /// hand_over, recycled, pool_claim, escalation, merge
    pub reason: String,
    pub rule: String,
    pub note: String,
    pub opportunity_ids: Vec<String>,
    pub lead_ids: Vec<String>,
    pub transferred_at: i64,
}

pub async fn insert(tx: &mut Tx, tenant_id: &str, t: &Transfer) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ownership_transfers (tenant_id, transfer_id, customer_id, from_rep_id,
             to_rep_id, team_id, reason, rule, note, opportunity_ids, lead_ids, transferred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant_id)
    .bind(&t.transfer_id)
    .bind(&t.customer_id)
    .bind(&t.from_rep_id)
    .bind(&t.to_rep_id)
    .bind(&t.team)
    .bind(&t.reason)
    .bind(&t.rule)
    .bind(&t.note)
    .bind(to_json(&t.opportunity_ids))
    .bind(to_json(&t.lead_ids))
    .bind(t.transferred_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

const SELECT: &str = "SELECT transfer_id, customer_id, from_rep_id, to_rep_id, team_id, reason, \
                      rule, note, opportunity_ids, lead_ids, transferred_at \
                      FROM ownership_transfers WHERE tenant_id = $1";

/// Transfers of a customer, or (customer empty) those naming an opportunity; oldest first.
pub async fn list<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    customer_id: &str,
    opportunity_id: &str,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let rows: Vec<Row> = if customer_id.is_empty() {
        // Opportunity ids are stored as a JSON list: find the quoted id, then keep exact
        // matches only ('_' is a LIKE wildcard).
        let sql =
            format!("{SELECT} AND opportunity_ids LIKE $2 ORDER BY transferred_at, transfer_id");
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(format!("%\"{}\"%", opportunity_id.replace('%', "")))
            .fetch_all(exec)
            .await?
    } else {
        let sql = format!("{SELECT} AND customer_id = $2 ORDER BY transferred_at, transfer_id");
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(customer_id)
            .fetch_all(exec)
            .await?
    };
    let found: Result<Vec<Transfer>, sqlx::Error> = rows
        .into_iter()
        .map(
            |(
                transfer_id,
                customer_id,
                from_rep_id,
                to_rep_id,
                team,
                reason,
                rule,
                note,
                opportunity_ids,
                lead_ids,
                transferred_at,
            )| {
                Ok(Transfer {
                    opportunity_ids: from_json(
                        &opportunity_ids,
                        "ownership_transfers.opportunity_ids",
                    )?,
                    lead_ids: from_json(&lead_ids, "ownership_transfers.lead_ids")?,
                    transfer_id,
                    customer_id,
                    from_rep_id,
                    to_rep_id,
                    team,
                    reason,
                    rule,
                    note,
                    transferred_at,
                })
            },
        )
        .collect();
    let mut found = found?;
    if customer_id.is_empty() {
        found.retain(|t| t.opportunity_ids.iter().any(|o| o == opportunity_id));
    }
    Ok(found)
}
