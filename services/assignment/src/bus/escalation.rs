//! `reminder.escalated` with action `return_to_pool` -> the opportunity returns to the
//! team's pool (`lead.ownership_transferred`, reason escalation). Other actions are
//! the reminders service's and pipeline's business.

use shangji_contracts::events::reminder::ReminderEscalated;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::clock::Clock;
use crate::placement::transfer::{self, Move};
use crate::store::opportunities;

pub const RETURN_TO_POOL: &str = "return_to_pool";

#[derive(Debug, Default)]
pub struct Escalations {
    pub clock: Clock,
}

impl Handler for Escalations {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if !event.is::<ReminderEscalated>() {
            return Ok(());
        }
        let escalated: ReminderEscalated = event.decode()?;
        if escalated.action != RETURN_TO_POOL {
            return Ok(());
        }
        let tenant_id = event.tenant_id();
        // Closed, unknown or already pooled: nothing to return (also makes a second
        // escalation of the same opportunity a no-op).
        let Some(open) =
            opportunities::get(&mut **tx, tenant_id, &escalated.opportunity_id).await?
        else {
            return Ok(());
        };
        if open.rep_id.is_empty() {
            return Ok(());
        }
        let team = match escalated.team.as_str() {
            "" => open.team.clone(),
            team => team.to_owned(),
        };
        let mv = Move {
            customer_id: open.customer_id.clone(),
            from_rep_id: open.rep_id.clone(),
            to_rep_id: String::new(),
            team,
            reason: "escalation".to_owned(),
            rule: format!("escalation:{}:{}", escalated.policy_id, escalated.step),
            note: escalated.reason.clone(),
            opportunity_ids: vec![open.opportunity_id.clone()],
            lead_ids: Vec::new(),
        };
        transfer::transfer(tx, &event.follow_on(), mv, self.clock.now()).await?;
        Ok(())
    }
}
