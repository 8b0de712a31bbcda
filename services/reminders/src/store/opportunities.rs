//! The `opportunities` table: what reminders knows about each opportunity, kept so
//! that events arriving out of order cannot undo one another.

use shangji_platform::Tx;

/// How an opportunity closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closure {
    Won,
    Lost,
}

impl Closure {
    pub fn as_str(self) -> &'static str {
        match self {
            Closure::Won => "won",
            Closure::Lost => "lost",
        }
    }
}

/// The newest owner and whether the opportunity closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpportunityFacts {
    pub owner_rep_id: String,
    pub closed: bool,
}

/// Records that `owner_rep_id` owned the opportunity as of `as_of` (the time the event
/// carries). An older statement never overwrites a newer one, so owner changes arriving
/// out of order end with the latest owner. Returns what is known afterwards.
pub async fn record_owner(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    owner_rep_id: &str,
    as_of: i64,
    now: i64,
) -> Result<OpportunityFacts, sqlx::Error> {
    sqlx::query(
        "INSERT INTO opportunities (tenant_id, opportunity_id, owner_rep_id, owner_as_of, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE
         SET owner_rep_id = excluded.owner_rep_id, owner_as_of = excluded.owner_as_of,
             updated_at = excluded.updated_at
         WHERE opportunities.owner_as_of <= excluded.owner_as_of",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(owner_rep_id)
    .bind(as_of)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let (owner_rep_id, closed_at): (String, Option<i64>) = sqlx::query_as(
        "SELECT owner_rep_id, closed_at FROM opportunities WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(OpportunityFacts {
        owner_rep_id,
        closed: closed_at.is_some(),
    })
}

/// Records that the opportunity closed (the first closure recorded stays). Call
/// [`record_owner`] first so the row exists.
pub async fn record_closed(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    closure: Closure,
    closed_at: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunities SET closed_at = $3, outcome = $4, updated_at = $5
         WHERE tenant_id = $1 AND opportunity_id = $2 AND closed_at IS NULL",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(closed_at)
    .bind(closure.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Claims the right to set the opportunity's follow-up for an activity logged at
/// `logged_at`: true unless a later activity already planned it (a late, older activity
/// must not replace a newer plan). Call [`record_owner`] first so the row exists.
pub async fn claim_follow_up(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    logged_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE opportunities SET follow_up_as_of = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND (follow_up_as_of IS NULL OR follow_up_as_of <= $3)",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(logged_at)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
