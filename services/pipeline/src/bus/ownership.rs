//! `lead.ownership_transferred` -> the open opportunities it names (or, when it names
//! none, the customer's open opportunities owned by `from_rep_id`) change owner; an empty
//! `to_rep_id` returns them to the pool: no owner, still open; an empty `from_rep_id`
//! takes them out of it (a claim). Each change is kept in the
//! history (with the reason and rule) and published as `opportunity.owner_changed`.
//!
//! Safe under redelivery twice over: the inbox drops a repeated event id, and an
//! opportunity already owned by `to_rep_id` (or no longer by `from_rep_id`) is left
//! alone, so the same transfer re-published under a new id changes nothing.

use anyhow::anyhow;
use shangji_contracts::events::lead::OwnershipTransferred;
use shangji_contracts::events::opportunity::OpportunityOwnerChanged;
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Tx;
use shangji_platform::bus::{self, Handler, HandlerError, IncomingEvent};

use crate::domain::{Change, Opportunity, Status};
use crate::store::{history, opportunities};

/// Who history names when the event carries no user.
const SYSTEM_USER: &str = "assignment";

#[derive(Clone, Debug, Default)]
pub struct OwnershipHandler;

impl Handler for OwnershipHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let transfer: OwnershipTransferred = event.decode()?;
        let tenant_id = event.tenant_id();
        // An empty `from_rep_id` is a claim from the pool: the opportunities it moves are
        // the ones nobody owns.
        if tenant_id.trim().is_empty() {
            return Err(HandlerError::Reject(anyhow!(
                "ownership_transferred without a tenant"
            )));
        }
        let user_id = Some(event.envelope.user_id.as_str())
            .filter(|u| !u.is_empty())
            .unwrap_or(SYSTEM_USER);
        let targets = if transfer.opportunity_ids.is_empty() {
            // The primary open opportunity and any parallel deals a merge left.
            opportunities::list_open_for_customer(tx, tenant_id, &transfer.customer_id).await?
        } else {
            let mut found = Vec::new();
            for id in &transfer.opportunity_ids {
                match opportunities::get(tx, tenant_id, id).await? {
                    Some(opp) => found.push(opp),
                    None => {
                        tracing::warn!(opportunity_id = %id, transfer_id = %transfer.transfer_id, "transfer names an unknown opportunity")
                    }
                }
            }
            found
        };
        for opp in targets {
            if opp.status == Status::Open && opp.owner_rep_id == transfer.from_rep_id {
                move_owner(tx, event, &transfer, opp, user_id).await?;
            }
        }
        Ok(())
    }
}

async fn move_owner(
    tx: &mut Tx,
    incoming: &IncomingEvent,
    transfer: &OwnershipTransferred,
    mut opp: Opportunity,
    user_id: &str,
) -> Result<(), HandlerError> {
    let now = now_millis();
    let to = transfer.to_rep_id.trim();
    let note = match (transfer.rule.is_empty(), to.is_empty()) {
        (_, true) if transfer.rule.is_empty() => {
            format!("{}: returned to the pool", transfer.reason)
        }
        (_, true) => format!(
            "{} ({}): returned to the pool",
            transfer.reason, transfer.rule
        ),
        (true, false) => transfer.reason.clone(),
        (false, false) => format!("{} ({})", transfer.reason, transfer.rule),
    };
    let change = Change::new("owner_rep_id", opp.owner_rep_id.clone(), to).with_note(note);
    opp.owner_rep_id = to.to_owned();
    if !transfer.team.is_empty() {
        opp.team = transfer.team.clone();
    }
    opp.updated_at = now;
    if !opportunities::update(tx, &opp).await? {
        return Err(HandlerError::Retry(anyhow!(
            "opportunity {} changed while transferring it",
            opp.opportunity_id
        )));
    }
    history::append(
        tx,
        incoming.tenant_id(),
        &opp.opportunity_id,
        user_id,
        now,
        &[change],
    )
    .await?;
    let event = OpportunityOwnerChanged {
        opportunity_id: opp.opportunity_id.clone(),
        customer_id: opp.customer_id.clone(),
        from_rep_id: transfer.from_rep_id.clone(),
        to_rep_id: to.to_owned(),
        reason: transfer.reason.clone(),
        changed_at: Some(from_millis(now)),
    };
    bus::enqueue(tx, &incoming.follow_on(), &event).await?;
    tracing::info!(
        opportunity_id = %opp.opportunity_id,
        from_rep_id = %transfer.from_rep_id,
        to_rep_id = to,
        reason = %transfer.reason,
        "transferred an opportunity"
    );
    Ok(())
}
