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

/// What is known about an opportunity: the newest owner, stage and expected close
/// date, whether it closed, when the rep last acted on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpportunityFacts {
    pub owner_rep_id: String,
    pub closed: bool,
    pub customer_id: String,
    pub team: String,
    pub stage: String,
    /// When the stage above was entered.
    pub stage_as_of: Option<i64>,
    pub expected_close_at: Option<i64>,
    pub last_activity_at: Option<i64>,
    pub high_risk: bool,
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    owner_rep_id: String,
    closed_at: Option<i64>,
    customer_id: String,
    team: String,
    stage: String,
    stage_as_of: Option<i64>,
    expected_close_at: Option<i64>,
    last_activity_at: Option<i64>,
    high_risk_at: Option<i64>,
}

/// The columns [`FactsRow`] reads, for the SELECT and for an upsert's RETURNING.
macro_rules! facts_columns {
    () => {
        "owner_rep_id, closed_at, customer_id, team, stage, stage_as_of,
         expected_close_at, last_activity_at, high_risk_at"
    };
}

impl From<FactsRow> for OpportunityFacts {
    fn from(r: FactsRow) -> OpportunityFacts {
        OpportunityFacts {
            owner_rep_id: r.owner_rep_id,
            closed: r.closed_at.is_some(),
            customer_id: r.customer_id,
            team: r.team,
            stage: r.stage,
            stage_as_of: r.stage_as_of,
            expected_close_at: r.expected_close_at,
            last_activity_at: r.last_activity_at,
            high_risk: r.high_risk_at.is_some(),
        }
    }
}

/// Every open opportunity of the tenant with what is known about it.
pub async fn open_of_tenant(
    tx: &mut Tx,
    tenant_id: &str,
) -> Result<Vec<(String, OpportunityFacts)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        opportunity_id: String,
        #[sqlx(flatten)]
        facts: FactsRow,
    }
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT opportunity_id, ",
        facts_columns!(),
        " FROM opportunities WHERE tenant_id = $1 AND closed_at IS NULL ORDER BY opportunity_id"
    ))
    .bind(tenant_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.opportunity_id, OpportunityFacts::from(r.facts)))
        .collect())
}

/// What is known about the opportunity, if anything.
pub async fn facts(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<OpportunityFacts>, sqlx::Error> {
    let row: Option<FactsRow> = sqlx::query_as(concat!(
        "SELECT ",
        facts_columns!(),
        " FROM opportunities WHERE tenant_id = $1 AND opportunity_id = $2"
    ))
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(OpportunityFacts::from))
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
    // RETURNING yields the row when it was inserted or updated; an older owner leaves
    // it alone and returns nothing, so it is read then (the rare, out-of-order case).
    let row: Option<FactsRow> = sqlx::query_as(concat!(
        "INSERT INTO opportunities (tenant_id, opportunity_id, owner_rep_id, owner_as_of, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE
         SET owner_rep_id = excluded.owner_rep_id, owner_as_of = excluded.owner_as_of,
             updated_at = excluded.updated_at
         WHERE opportunities.owner_as_of <= excluded.owner_as_of
         RETURNING ",
        facts_columns!()
    ))
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(owner_rep_id)
    .bind(as_of)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => Ok(row.into()),
        None => facts(tx, tenant_id, opportunity_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound),
    }
}

/// What `opportunity.created` says about an opportunity.
#[derive(Clone, Copy, Debug)]
pub struct Opening<'a> {
    /// '' when the event names none: an owner known already then stays.
    pub owner_rep_id: &'a str,
    pub customer_id: &'a str,
    pub team: &'a str,
    /// The stage it opened in.
    pub stage: &'a str,
    /// When it opened: the time of the owner and stage statements.
    pub opened_at: i64,
}

/// Records an opening in one statement, with the rules of [`record_owner`],
/// [`record_customer_and_team`] and [`record_stage`]: the newest owner and stage win (an
/// owner change or stage change seen before `created` stays), customer and team fill in.
/// Returns what is known afterwards.
pub async fn record_opening(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    o: &Opening<'_>,
    now: i64,
) -> Result<OpportunityFacts, sqlx::Error> {
    let owner_as_of = if o.owner_rep_id.is_empty() {
        i64::MIN
    } else {
        o.opened_at
    };
    let row: FactsRow = sqlx::query_as(concat!(
        "INSERT INTO opportunities (tenant_id, opportunity_id, owner_rep_id, owner_as_of,
                                    customer_id, team, stage, stage_as_of, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET
             owner_rep_id = CASE WHEN opportunities.owner_as_of <= excluded.owner_as_of
                                 THEN excluded.owner_rep_id ELSE opportunities.owner_rep_id END,
             owner_as_of = CASE WHEN opportunities.owner_as_of <= excluded.owner_as_of
                                THEN excluded.owner_as_of ELSE opportunities.owner_as_of END,
             customer_id = CASE WHEN excluded.customer_id = '' THEN opportunities.customer_id
                                ELSE excluded.customer_id END,
             team = CASE WHEN excluded.team = '' THEN opportunities.team ELSE excluded.team END,
             stage = CASE WHEN opportunities.stage_as_of IS NULL
                               OR opportunities.stage_as_of < excluded.stage_as_of
                          THEN excluded.stage ELSE opportunities.stage END,
             stage_as_of = CASE WHEN opportunities.stage_as_of IS NULL
                                     OR opportunities.stage_as_of < excluded.stage_as_of
                                THEN excluded.stage_as_of ELSE opportunities.stage_as_of END,
             updated_at = excluded.updated_at
         RETURNING ",
        facts_columns!()
    ))
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(o.owner_rep_id)
    .bind(owner_as_of)
    .bind(o.customer_id)
    .bind(o.team)
    .bind(o.stage)
    .bind(o.opened_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.into())
}

/// Fills in the customer and team when the event names them (they do not change over
/// an opportunity's life; a merge moves the whole opportunity). Call [`record_owner`]
/// first so the row exists.
pub async fn record_customer_and_team(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    customer_id: &str,
    team: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunities
         SET customer_id = CASE WHEN $3 = '' THEN customer_id ELSE $3 END,
             team = CASE WHEN $4 = '' THEN team ELSE $4 END
         WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(customer_id)
    .bind(team)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that the opportunity entered `stage` at `entered_at`; true when this is the
/// newest stage statement (an older one arriving late changes nothing).
pub async fn record_stage(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    stage: &str,
    entered_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE opportunities SET stage = $3, stage_as_of = $4, updated_at = $5
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND (stage_as_of IS NULL OR stage_as_of < $4)",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(stage)
    .bind(entered_at)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Records an activity at `at`; true when it is the latest one seen.
pub async fn record_activity(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE opportunities SET last_activity_at = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND (last_activity_at IS NULL OR last_activity_at < $3)",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(at)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Records the expected close date as stated at `as_of` (None: cleared); true when this
/// is the newest statement.
pub async fn record_expected_close(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    expected_close_at: Option<i64>,
    as_of: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE opportunities SET expected_close_at = $3, expected_close_as_of = $4, updated_at = $5
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND (expected_close_as_of IS NULL OR expected_close_as_of < $4)",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(expected_close_at)
    .bind(as_of)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Records that a closed opportunity opened again at `reopened_at`; true when it was
/// closed before then (a reopen older than the closure changes nothing).
pub async fn record_reopened(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    reopened_at: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE opportunities SET closed_at = NULL, outcome = NULL, high_risk_at = NULL,
                                  updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2 AND closed_at IS NOT NULL
           AND closed_at <= $3",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(reopened_at)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// An escalation step marked the opportunity high-risk (the first mark stays).
pub async fn mark_high_risk(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE opportunities SET high_risk_at = $3, updated_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2 AND high_risk_at IS NULL",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
