//! Opportunity events -> the `opportunities`, `stage_catalog` and `stage_reached` read
//! models. Each event is turned into the facts it states (each with the event's own
//! time) and merged; the merge keeps the newest of each fact, so events of one
//! opportunity may arrive in any order and twice.

use shangji_contracts::events::Event;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityOwnerChanged,
    OpportunityStageChanged, OpportunityWon,
};
use shangji_contracts::time::{now_millis, to_millis};
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use super::{reject, time_of};
use crate::domain::{OpportunityStatus, is_terminal_stage};
use crate::store::{self, OpportunityFacts};

#[derive(Clone, Copy, Debug, Default)]
pub struct OpportunityEvents;

impl Handler for OpportunityEvents {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(reject("the envelope names no tenant"));
        }
        let ty = event.event_type();
        if ty == OpportunityCreated::TYPE {
            created(tx, event, event.decode()?).await
        } else if ty == OpportunityStageChanged::TYPE {
            stage_changed(tx, event, event.decode()?).await
        } else if ty == OpportunityWon::TYPE {
            let e: OpportunityWon = event.decode()?;
            let closing = Closing {
                opportunity_id: &e.opportunity_id,
                owner_rep_id: &e.owner_rep_id,
                amount: e.amount,
                from_stage: &e.from_stage,
                closed_at: time_of(e.closed_at.as_ref(), event),
                created_at: e.created_at.as_ref().map(to_millis),
            };
            closed(tx, event, closing, OpportunityStatus::Won).await
        } else if ty == OpportunityLost::TYPE {
            let e: OpportunityLost = event.decode()?;
            let closing = Closing {
                opportunity_id: &e.opportunity_id,
                owner_rep_id: &e.owner_rep_id,
                amount: e.amount,
                from_stage: &e.from_stage,
                closed_at: time_of(e.closed_at.as_ref(), event),
                created_at: e.created_at.as_ref().map(to_millis),
            };
            closed(tx, event, closing, OpportunityStatus::Lost).await
        } else if ty == OpportunityOwnerChanged::TYPE {
            let e: OpportunityOwnerChanged = event.decode()?;
            let at = time_of(e.changed_at.as_ref(), event);
            owner_named(tx, event, &e.opportunity_id, &e.to_rep_id, at).await
        } else if ty == OpportunityActivityLogged::TYPE {
            let e: OpportunityActivityLogged = event.decode()?;
            let at = time_of(e.logged_at.as_ref(), event);
            owner_named(tx, event, &e.opportunity_id, &e.owner_rep_id, at).await
        } else {
            Ok(())
        }
    }
}

async fn created(
    tx: &mut Tx,
    event: &IncomingEvent,
    e: OpportunityCreated,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let at = time_of(e.created_at.as_ref(), event);
    let mut facts = identity(tenant_id, &e.opportunity_id)?;
    facts.created_at = Some(at);
    facts.owner_rep_id = &e.owner_rep_id;
    facts.owner_as_of = at;
    facts.amount = e.amount;
    facts.amount_as_of = at;
    if !e.stage.is_empty() && !is_terminal_stage(&e.stage) {
        store::catalog::learn(tx, tenant_id, &e.stage, e.stage_order, at).await?;
        store::catalog::record_stage_reached(tx, tenant_id, &e.opportunity_id, &e.stage, at)
            .await?;
        facts.stage = &e.stage;
        facts.stage_order = e.stage_order;
        facts.stage_as_of = at;
        facts.reached_order = e.stage_order;
    }
    store::opportunities::merge(tx, &facts, now_millis()).await?;
    tracing::debug!(tenant_id, opportunity_id = %e.opportunity_id, stage = %e.stage, "opportunity created");
    Ok(())
}

async fn stage_changed(
    tx: &mut Tx,
    event: &IncomingEvent,
    e: OpportunityStageChanged,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let at = time_of(e.changed_at.as_ref(), event);
    let mut facts = identity(tenant_id, &e.opportunity_id)?;
    facts.owner_rep_id = &e.owner_rep_id;
    facts.owner_as_of = at;
    facts.amount = e.amount;
    facts.amount_as_of = at;
    // It stood in the stage it left, so it reached that one too (even moving back).
    if !e.from_stage.is_empty() && !is_terminal_stage(&e.from_stage) {
        store::catalog::learn(tx, tenant_id, &e.from_stage, e.from_stage_order, at).await?;
        facts.reached_order = e.from_stage_order;
    }
    if !e.to_stage.is_empty() && !is_terminal_stage(&e.to_stage) {
        store::catalog::learn(tx, tenant_id, &e.to_stage, e.to_stage_order, at).await?;
        store::catalog::record_stage_reached(tx, tenant_id, &e.opportunity_id, &e.to_stage, at)
            .await?;
        facts.stage = &e.to_stage;
        facts.stage_order = e.to_stage_order;
        facts.stage_as_of = at;
        facts.reached_order = facts.reached_order.max(e.to_stage_order);
    }
    store::opportunities::merge(tx, &facts, now_millis()).await?;
    tracing::debug!(tenant_id, opportunity_id = %e.opportunity_id, from = %e.from_stage, to = %e.to_stage, "stage changed");
    Ok(())
}

/// What won and lost have in common.
struct Closing<'a> {
    opportunity_id: &'a str,
    owner_rep_id: &'a str,
    amount: f64,
    from_stage: &'a str,
    closed_at: i64,
    created_at: Option<i64>,
}

async fn closed(
    tx: &mut Tx,
    event: &IncomingEvent,
    c: Closing<'_>,
    status: OpportunityStatus,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let mut facts = identity(tenant_id, c.opportunity_id)?;
    facts.status = status;
    facts.closed_at = Some(c.closed_at);
    facts.created_at = c.created_at;
    facts.owner_rep_id = c.owner_rep_id;
    facts.owner_as_of = c.closed_at;
    facts.amount = c.amount;
    facts.amount_as_of = c.closed_at;
    // The stage it closed from was reached; its order is known once any event told it.
    // As a stage fact it only fills a row no stage event has reached yet.
    if !c.from_stage.is_empty() && !is_terminal_stage(c.from_stage) {
        let order = store::catalog::order_of(tx, tenant_id, c.from_stage).await?;
        facts.stage = c.from_stage;
        facts.stage_order = order.unwrap_or(0);
        facts.reached_order = order.unwrap_or(0);
    }
    store::opportunities::merge(tx, &facts, now_millis()).await?;
    tracing::debug!(tenant_id, opportunity_id = %c.opportunity_id, status = status.as_str(), "opportunity closed");
    Ok(())
}

/// An event that names the current owner (owner change, activity).
async fn owner_named(
    tx: &mut Tx,
    event: &IncomingEvent,
    opportunity_id: &str,
    owner_rep_id: &str,
    at: i64,
) -> Result<(), HandlerError> {
    let mut facts = identity(event.tenant_id(), opportunity_id)?;
    if !owner_rep_id.is_empty() {
        facts.owner_rep_id = owner_rep_id;
        facts.owner_as_of = at;
    }
    store::opportunities::merge(tx, &facts, now_millis()).await?;
    Ok(())
}

fn identity<'a>(
    tenant_id: &'a str,
    opportunity_id: &'a str,
) -> Result<OpportunityFacts<'a>, HandlerError> {
    if opportunity_id.is_empty() {
        return Err(reject("the event names no opportunity_id"));
    }
    Ok(OpportunityFacts::about(tenant_id, opportunity_id))
}
