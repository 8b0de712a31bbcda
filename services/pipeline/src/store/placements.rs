//! Where an opportunity belongs: its customer, and whether it is a parallel deal (an
//! open opportunity next to the customer's primary open one, left by a merge). Only
//! merges and unmerges change these; every other write keeps them.

use sqlx::{AnyConnection, AssertSqlSafe, Row as _};

use super::opportunities::{COLUMNS, from_row};
use crate::domain::Opportunity;

/// An opportunity with its parallel-deal link ('' = the customer's primary, or closed
/// without one).
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub opp: Opportunity,
    pub parallel_of: String,
}

/// Primary first, then oldest first: the order in which a merge or an unmerge places a
/// customer's opportunities, so the primary stays primary where it can.
const PLACEMENT_ORDER: &str =
    "CASE WHEN parallel_of = '' THEN 0 ELSE 1 END, created_at, opportunity_id";

/// Every opportunity of the customer (open and closed), in placement order.
pub async fn of_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<Placed>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, parallel_of FROM opportunities
         WHERE tenant_id = $1 AND customer_id = $2 ORDER BY {PLACEMENT_ORDER}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Placed {
                opp: from_row(row)?,
                parallel_of: row.try_get("parallel_of")?,
            })
        })
        .collect()
}

pub async fn get(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<Placed>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}, parallel_of FROM opportunities
         WHERE tenant_id = $1 AND opportunity_id = $2"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        Ok(Placed {
            opp: from_row(&row)?,
            parallel_of: row.try_get("parallel_of")?,
        })
    })
    .transpose()
}

/// The id of the customer's primary open opportunity (the database allows one).
pub async fn primary_open(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT opportunity_id FROM opportunities
         WHERE tenant_id = $1 AND customer_id = $2 AND status = 'open' AND parallel_of = ''",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await
}

/// Places `opp` (read at `opp.version`) with `customer_id` and `parallel_of`, bumping
/// the version. False when a concurrent change got there first (nothing written); a
/// unique violation means another primary open opportunity appeared concurrently.
pub async fn place(
    conn: &mut AnyConnection,
    opp: &Opportunity,
    customer_id: &str,
    parallel_of: &str,
    updated_at: i64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE opportunities SET customer_id = $3, parallel_of = $4, updated_at = $5,
             version = version + 1
         WHERE tenant_id = $1 AND opportunity_id = $2 AND version = $6",
    )
    .bind(&opp.tenant_id)
    .bind(&opp.opportunity_id)
    .bind(customer_id)
    .bind(parallel_of)
    .bind(updated_at)
    .bind(opp.version)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}
