//! The `opportunities` read model: one row per opportunity, merged from its events in
//! whatever order they arrive.

use shangji_platform::{Db, Tx};

use crate::domain::OpportunityStatus;

/// `as_of` of a fact the event did not carry: it loses against anything known.
pub const UNKNOWN: i64 = i64::MIN;

/// What one event says about an opportunity. Each fact carries the event time it is
/// true as of; pass [`UNKNOWN`] for facts the event does not state.
#[derive(Clone, Debug, PartialEq)]
pub struct OpportunityFacts<'a> {
    pub tenant_id: &'a str,
    pub opportunity_id: &'a str,
    pub owner_rep_id: &'a str,
    pub owner_as_of: i64,
    pub stage: &'a str,
    pub stage_order: u32,
    pub stage_as_of: i64,
    pub amount: f64,
    pub amount_as_of: i64,
    /// The furthest stage order this event shows the opportunity had reached.
    pub reached_order: u32,
    /// Open, or the closing outcome; a closed opportunity never reopens.
    pub status: OpportunityStatus,
    pub closed_at: Option<i64>,
    pub created_at: Option<i64>,
}

impl<'a> OpportunityFacts<'a> {
    /// Only the identity: every fact unknown, status open.
    pub fn about(tenant_id: &'a str, opportunity_id: &'a str) -> OpportunityFacts<'a> {
        OpportunityFacts {
            tenant_id,
            opportunity_id,
            owner_rep_id: "",
            owner_as_of: UNKNOWN,
            stage: "",
            stage_order: 0,
            stage_as_of: UNKNOWN,
            amount: 0.0,
            amount_as_of: UNKNOWN,
            reached_order: 0,
            status: OpportunityStatus::Open,
            closed_at: None,
            created_at: None,
        }
    }
}

/// Merges the facts into the opportunity's row: each group of columns takes the newer
/// statement, the furthest stage only grows, a closed status stays, first times stay.
/// Applying the same facts twice changes nothing.
pub async fn merge(tx: &mut Tx, f: &OpportunityFacts<'_>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO opportunities (tenant_id, opportunity_id, owner_rep_id, owner_as_of, stage, stage_order,
                                    stage_as_of, status, amount, amount_as_of, max_stage_order_reached,
                                    created_at, updated_at, closed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET
           owner_rep_id = CASE WHEN excluded.owner_as_of >= opportunities.owner_as_of
                               THEN excluded.owner_rep_id ELSE opportunities.owner_rep_id END,
           owner_as_of = CASE WHEN excluded.owner_as_of >= opportunities.owner_as_of
                              THEN excluded.owner_as_of ELSE opportunities.owner_as_of END,
           stage = CASE WHEN excluded.stage_as_of >= opportunities.stage_as_of
                        THEN excluded.stage ELSE opportunities.stage END,
           stage_order = CASE WHEN excluded.stage_as_of >= opportunities.stage_as_of
                              THEN excluded.stage_order ELSE opportunities.stage_order END,
           stage_as_of = CASE WHEN excluded.stage_as_of >= opportunities.stage_as_of
                              THEN excluded.stage_as_of ELSE opportunities.stage_as_of END,
           status = CASE WHEN opportunities.status = 'open' THEN excluded.status ELSE opportunities.status END,
           amount = CASE WHEN excluded.amount_as_of >= opportunities.amount_as_of
                         THEN excluded.amount ELSE opportunities.amount END,
           amount_as_of = CASE WHEN excluded.amount_as_of >= opportunities.amount_as_of
                               THEN excluded.amount_as_of ELSE opportunities.amount_as_of END,
           max_stage_order_reached = CASE WHEN excluded.max_stage_order_reached > opportunities.max_stage_order_reached
                                          THEN excluded.max_stage_order_reached
                                          ELSE opportunities.max_stage_order_reached END,
           created_at = COALESCE(opportunities.created_at, excluded.created_at),
           updated_at = excluded.updated_at,
           closed_at = CASE WHEN opportunities.status = 'open' THEN excluded.closed_at
                            ELSE opportunities.closed_at END",
    )
    .bind(f.tenant_id)
    .bind(f.opportunity_id)
    .bind(f.owner_rep_id)
    .bind(f.owner_as_of)
    .bind(f.stage)
    .bind(i64::from(f.stage_order))
    .bind(f.stage_as_of)
    .bind(f.status.as_str())
    .bind(f.amount)
    .bind(f.amount_as_of)
    .bind(i64::from(f.reached_order))
    .bind(f.created_at)
    .bind(now)
    .bind(f.closed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An opportunity's row as the read model holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpportunityRow {
    pub opportunity_id: String,
    pub owner_rep_id: String,
    pub stage: String,
    pub stage_order: i64,
    pub status: OpportunityStatus,
    pub amount: f64,
    pub max_stage_order_reached: i64,
    pub created_at: Option<i64>,
    pub closed_at: Option<i64>,
}

type RawRow = (
    String,
    String,
    String,
    i64,
    String,
    f64,
    i64,
    Option<i64>,
    Option<i64>,
);

/// One opportunity of the tenant.
pub async fn get(
    db: &Db,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Option<OpportunityRow>, sqlx::Error> {
    let raw: Option<RawRow> = sqlx::query_as(
        "SELECT opportunity_id, owner_rep_id, stage, stage_order, status, amount, max_stage_order_reached,
                created_at, closed_at
         FROM opportunities WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_optional(db.reader())
    .await?;
    raw.map(
        |(
            opportunity_id,
            owner_rep_id,
            stage,
            stage_order,
            status,
            amount,
            max_stage_order_reached,
            created_at,
            closed_at,
        )| {
            let status = OpportunityStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown opportunity status `{status}`").into())
            })?;
            Ok(OpportunityRow {
                opportunity_id,
                owner_rep_id,
                stage,
                stage_order,
                status,
                amount,
                max_stage_order_reached,
                created_at,
                closed_at,
            })
        },
    )
    .transpose()
}
