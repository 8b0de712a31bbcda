//! Moving a customer's open work to another rep or to the pool, with its history and
//! `lead.ownership_transferred` (pipeline re-points the opportunities).

use shangji_contracts::events::lead::OwnershipTransferred;
use shangji_contracts::time::from_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::ids::new_id;

use crate::store::assignments::{self, AssignmentRecord};
use crate::store::pool::{KIND_OPPORTUNITY, PoolEntry};
use crate::store::transfers::Transfer;
use crate::store::{opportunities, owners, pool, reps, transfers};

/// A move as the caller decided it.
#[derive(Clone, Debug, Default)]
pub struct Move {
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
}

/// Applies the move in the caller's transaction and returns it as recorded.
pub async fn transfer(
    tx: &mut Tx,
    ctx: &EventContext,
    mv: Move,
    now: i64,
) -> Result<Transfer, sqlx::Error> {
    let tenant_id = ctx.tenant_id.as_str();
    let to_pool = mv.to_rep_id.is_empty();
    for opportunity_id in &mv.opportunity_ids {
        opportunities::move_to(tx, tenant_id, opportunity_id, &mv.to_rep_id, now).await?;
        if to_pool {
            pool::insert(
                tx,
                tenant_id,
                &PoolEntry {
                    entry_id: new_id("pool"),
                    kind: KIND_OPPORTUNITY.to_owned(),
                    lead_id: String::new(),
                    customer_id: mv.customer_id.clone(),
                    opportunity_id: opportunity_id.clone(),
                    team: mv.team.clone(),
                    reason: format!("{}: {}", mv.reason, mv.note),
                    auto_assign: false,
                    previous_rep_id: mv.from_rep_id.clone(),
                    lead_event: Vec::new(),
                    pooled_at: now,
                },
            )
            .await?;
        }
    }
    for lead_id in &mv.lead_ids {
        assignments::reassign(
            tx,
            tenant_id,
            &AssignmentRecord {
                lead_id: lead_id.clone(),
                customer_id: mv.customer_id.clone(),
                rep_id: (!to_pool).then(|| mv.to_rep_id.clone()),
                team: mv.team.clone(),
                rule: mv.rule.clone(),
                reason: format!("{}: {}", mv.reason, mv.note),
                candidates: Vec::new(),
                pooled: to_pool,
                decided_at: now,
            },
        )
        .await?;
    }
    if !mv.customer_id.is_empty() {
        if to_pool {
            owners::release(tx, tenant_id, &mv.customer_id).await?;
        } else {
            owners::set(tx, tenant_id, &mv.customer_id, &mv.to_rep_id, now).await?;
        }
    }
    for rep_id in [&mv.from_rep_id, &mv.to_rep_id] {
        if !rep_id.is_empty() {
            reps::refresh_open_count(tx, tenant_id, rep_id, now).await?;
        }
    }
    let record = Transfer {
        transfer_id: new_id("xfer"),
        customer_id: mv.customer_id,
        from_rep_id: mv.from_rep_id,
        to_rep_id: mv.to_rep_id,
        team: mv.team,
        reason: mv.reason,
        rule: mv.rule,
        note: mv.note,
        opportunity_ids: mv.opportunity_ids,
        lead_ids: mv.lead_ids,
        transferred_at: now,
    };
    transfers::insert(tx, tenant_id, &record).await?;
    let event = OwnershipTransferred {
        transfer_id: record.transfer_id.clone(),
        customer_id: record.customer_id.clone(),
        opportunity_ids: record.opportunity_ids.clone(),
        lead_ids: record.lead_ids.clone(),
        from_rep_id: record.from_rep_id.clone(),
        to_rep_id: record.to_rep_id.clone(),
        team: record.team.clone(),
        reason: record.reason.clone(),
        rule: record.rule.clone(),
        note: record.note.clone(),
        transferred_at: Some(from_millis(now)),
    };
    bus::enqueue(tx, ctx, &event).await?;
    tracing::info!(tenant_id, transfer_id = %record.transfer_id, customer_id = %record.customer_id, from = %record.from_rep_id, to = %record.to_rep_id, reason = %record.reason, opportunities = record.opportunity_ids.len(), leads = record.lead_ids.len(), "ownership transferred");
    Ok(record)
}
