//! Capacity freed up (an opportunity closed, a rep came back or got more room): place
//! the leads waiting in the pool for a rep, oldest first.

use prost::Message as _;
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::Tx;
use shangji_platform::bus::EventContext;

use super::{Step, TenantOrg, assign, facts, settle_ownership};
use crate::domain::{Outcome, decide};
use crate::store::{owners, pool, sequence};

/// Entries looked at per drain: bounds the work one event or call can cause; the rest
/// wait for the next time capacity frees up.
const DRAIN_BATCH: u32 = 200;

/// Places waiting leads that somebody can take now; returns how many were placed.
pub async fn drain_pool(tx: &mut Tx, ctx: &EventContext, now: i64) -> Result<usize, sqlx::Error> {
    let tenant_id = ctx.tenant_id.as_str();
    let waiting = pool::waiting(&mut **tx, tenant_id, true, DRAIN_BATCH).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut org = TenantOrg::load(tx, tenant_id, now).await?;
    let mut placed = 0;
    for entry in waiting {
        let lead = match LeadQualified::decode(entry.lead_event.as_slice()) {
            Ok(lead) if !lead.lead_id.is_empty() => lead,
            _ => {
                tracing::warn!(tenant_id, entry_id = %entry.entry_id, "pool entry has no readable lead; it waits to be claimed");
                continue;
            }
        };
        let owner = match lead.customer_id.as_str() {
            "" => None,
            customer_id => owners::owner_of(&mut **tx, tenant_id, customer_id).await?,
        };
        let decision = decide(&facts(&lead), owner.as_deref(), org.org());
        let Outcome::Assign(assignment) = decision.outcome else {
            continue;
        };
        if !pool::take(tx, tenant_id, &entry.entry_id, &assignment.rep_id, now).await? {
            continue;
        }
        let turn = sequence::take_turn(tx, tenant_id).await?;
        let assignment =
            settle_ownership(tx, tenant_id, &lead.customer_id, assignment, &org, now).await?;
        let step = Step {
            trigger: "pool_drain",
            turn,
            now,
            first: false,
        };
        assign(tx, ctx, &lead, &assignment, decision.audit, step).await?;
        org.count_lead(&assignment.rep_id, turn);
        placed += 1;
    }
    if placed > 0 {
        tracing::info!(tenant_id, placed, "waiting leads placed from the pool");
    }
    Ok(placed)
}
