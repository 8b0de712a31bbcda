//! The `opportunity_owners` table: who owns each opportunity and whether it is open,
//! kept right whatever order the opportunity events arrive in:
//! - closing is final, so `closed` only ever goes from 0 to 1;
//! - of two owner changes the one that happened later wins (`owner_since`);
//! - a late `created` does not overwrite what later events already told.
//!
//! Each function returns the reps whose open count may have changed.

use shangji_platform::Tx;

use super::Exec;

async fn owner<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT rep_id FROM opportunity_owners WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_optional(exec)
    .await
}

fn affected(previous: Option<String>, rep_id: &str) -> Vec<String> {
    let mut reps: Vec<String> = previous.into_iter().collect();
    if !reps.iter().any(|r| r == rep_id) {
        reps.push(rep_id.to_owned());
    }
    reps
}

/// What `opportunity.created` tells about a new opportunity.
#[derive(Clone, Copy, Debug)]
pub struct Opened<'a> {
    pub opportunity_id: &'a str,
    pub rep_id: &'a str,
    pub customer_id: &'a str,
    pub lead_id: &'a str,
    pub team: &'a str,
    pub at: i64,
}

/// The opportunity was opened. A late `created` does not overwrite later events, but
/// fills in the customer and lead they did not carry.
pub async fn opened(
    tx: &mut Tx,
    tenant_id: &str,
    o: Opened<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since,
                                         customer_id, lead_id, team_id, last_touch_at,
                                         recycle_due_at)
         VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $4,
                 (SELECT CASE WHEN $3 <> '' AND p.enabled = 1
                              THEN $4 + p.no_follow_up_days * 86400000 ELSE NULL END
                  FROM recycling_policies p WHERE p.tenant_id = $1))
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE
         SET customer_id = excluded.customer_id, lead_id = excluded.lead_id,
             team_id = excluded.team_id",
    )
    .bind(tenant_id)
    .bind(o.opportunity_id)
    .bind(o.rep_id)
    .bind(o.at)
    .bind(o.customer_id)
    .bind(o.lead_id)
    .bind(o.team)
    .execute(&mut **tx)
    .await?;
    Ok(vec![o.rep_id.to_owned()])
}

/// A follow-up happened at `at`: the recycling clock starts again from there.
pub async fn touched(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunity_owners
         SET last_touch_at = CASE WHEN last_touch_at < $3 THEN $3 ELSE last_touch_at END
         WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// When an opportunity returns to the pool under the tenant's policy: open, owned ones
/// after the policy's days without a follow-up; closed, pooled or policy-less ones never.
/// (A macro so the statements below stay static strings.)
macro_rules! recycle_due_at {
    () => {
        "(SELECT CASE WHEN opportunity_owners.closed = 0 AND opportunity_owners.rep_id <> ''
                           AND p.enabled = 1
                      THEN opportunity_owners.last_touch_at + p.no_follow_up_days * 86400000
                      ELSE NULL END
          FROM recycling_policies p WHERE p.tenant_id = opportunity_owners.tenant_id)"
    };
}

/// Recomputes when one opportunity returns to the pool. A statement of its own, not
/// `opportunity_id = $2 OR $2 = ''`: plans never look at bound values (the SQLite build
/// has the query planner stability guarantee), so the OR made every new opportunity
/// scan all of its tenant's opportunities.
pub async fn reschedule_one(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<u64, sqlx::Error> {
    let changed = sqlx::query(concat!(
        "UPDATE opportunity_owners SET recycle_due_at = ",
        recycle_due_at!(),
        " WHERE tenant_id = $1 AND opportunity_id = $2"
    ))
    .bind(tenant_id)
    .bind(opportunity_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed)
}

/// Recomputes when each of the tenant's opportunities returns to the pool (its policy
/// changed). Returns how many rows were rescheduled.
pub async fn reschedule_all(tx: &mut Tx, tenant_id: &str) -> Result<u64, sqlx::Error> {
    let changed = sqlx::query(concat!(
        "UPDATE opportunity_owners SET recycle_due_at = ",
        recycle_due_at!(),
        " WHERE tenant_id = $1"
    ))
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed)
}

/// An open opportunity as hand-over, recycling and merges need it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenOpportunity {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub customer_id: String,
    pub rep_id: String,
    pub lead_id: String,
    pub team: String,
}

type OpenRow = (String, String, String, String, String, String);

fn to_open(rows: Vec<OpenRow>) -> Vec<OpenOpportunity> {
    rows.into_iter()
        .map(
            |(tenant_id, opportunity_id, customer_id, rep_id, lead_id, team)| OpenOpportunity {
                tenant_id,
                opportunity_id,
                customer_id,
                rep_id,
                lead_id,
                team,
            },
        )
        .collect()
}

const SELECT_OPEN: &str = "SELECT tenant_id, opportunity_id, customer_id, rep_id, lead_id, team_id \
                           FROM opportunity_owners";

/// Open opportunities whose return date has passed, across tenants, oldest due first.
pub async fn recycle_due<'e>(
    exec: impl Exec<'e>,
    now: i64,
    limit: u32,
) -> Result<Vec<OpenOpportunity>, sqlx::Error> {
    let sql = format!(
        "{SELECT_OPEN} WHERE recycle_due_at IS NOT NULL AND recycle_due_at <= $1
         ORDER BY recycle_due_at LIMIT $2"
    );
    let rows: Vec<OpenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(exec)
        .await?;
    Ok(to_open(rows))
}

/// The open opportunities a rep owns, by customer then id.
pub async fn open_of_rep<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    rep_id: &str,
) -> Result<Vec<OpenOpportunity>, sqlx::Error> {
    let sql = format!(
        "{SELECT_OPEN} WHERE tenant_id = $1 AND rep_id = $2 AND closed = 0
         ORDER BY customer_id, opportunity_id"
    );
    let rows: Vec<OpenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(rep_id)
        .fetch_all(exec)
        .await?;
    Ok(to_open(rows))
}

/// The open opportunities of a customer.
pub async fn open_of_customer<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Vec<OpenOpportunity>, sqlx::Error> {
    let sql = format!(
        "{SELECT_OPEN} WHERE tenant_id = $1 AND customer_id = $2 AND closed = 0
         ORDER BY opportunity_id"
    );
    let rows: Vec<OpenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(exec)
        .await?;
    Ok(to_open(rows))
}

/// One opportunity, open or not.
pub async fn get<'e>(
    exec: impl Exec<'e>,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<OpenOpportunity>, sqlx::Error> {
    let sql = format!("{SELECT_OPEN} WHERE tenant_id = $1 AND opportunity_id = $2 AND closed = 0");
    let row: Option<OpenRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_optional(exec)
        .await?;
    Ok(to_open(row.into_iter().collect()).pop())
}

/// Assignment itself moved the opportunity to `rep_id` ('' = the pool) at `at`: the new
/// owner's recycling clock starts now. Pipeline's echoing `owner_changed` then agrees.
pub async fn move_to(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    rep_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunity_owners SET rep_id = $3, owner_since = $4, last_touch_at = $4,
                                       recycle_due_at = NULL
         WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(rep_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    reschedule_one(tx, tenant_id, opportunity_id).await?;
    Ok(())
}

/// A merge: the merged customer's opportunities now belong to the survivor.
pub async fn repoint_customer(
    tx: &mut Tx,
    tenant_id: &str,
    from_customer: &str,
    to_customer: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunity_owners SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(from_customer)
    .bind(to_customer)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The opportunity moved to `to` at `at`.
pub async fn owner_changed(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    to: &str,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let previous = owner(&mut **tx, tenant_id, opportunity_id).await?;
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since)
         VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE
         SET rep_id = excluded.rep_id, owner_since = excluded.owner_since
         WHERE opportunity_owners.owner_since <= excluded.owner_since",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(to)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(affected(previous, to))
}

/// The opportunity was won or lost; `rep_id` owned it then.
pub async fn closed(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    rep_id: &str,
    at: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let previous = owner(&mut **tx, tenant_id, opportunity_id).await?;
    sqlx::query(
        "INSERT INTO opportunity_owners (tenant_id, opportunity_id, rep_id, closed, owner_since)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET closed = 1, recycle_due_at = NULL",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(rep_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(affected(previous, rep_id))
}

/// Takes a due opportunity for recycling; false when a follow-up, close or another
/// replica got there first.
pub async fn take_due(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE opportunity_owners SET recycle_due_at = NULL
         WHERE tenant_id = $1 AND opportunity_id = $2 AND recycle_due_at IS NOT NULL
           AND recycle_due_at <= $3 AND closed = 0",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(taken == 1)
}
