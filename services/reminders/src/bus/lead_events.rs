//! `lead.assigned` -> a first-contact reminder for the lead's owner, whether or not the
//! lead opens an opportunity: a lead for a customer with an open opportunity attaches to
//! it as a touchpoint (no `opportunity.created`), a lead claimed from the pool or handed
//! over is assigned again.
//!
//! One reminder per lead, whatever the order: `opportunity.created` naming the lead and
//! `lead.assigned` meet on the row keyed by the lead (see `store::first_contact`). The
//! clock starts at the lead's first assignment; a later assignment (newest wins) moves
//! the open reminder to the new owner, and so does `lead.ownership_transferred` naming
//! the lead (a hand-over when a rep departs). Redelivery finds the row and changes
//! nothing. A contact logged on the lead's opportunity completes it, as for any first
//! contact.

use shangji_contracts::events::lead::{LeadAssigned, OwnershipTransferred};
use shangji_contracts::time::{now_millis, to_millis};
use shangji_platform::Tx;
use shangji_platform::bus::{BatchHandler, HandlerError, IncomingEvent};
use shangji_platform::ids::new_id;
use tokio::sync::OnceCell;

use super::settings::BatchSettings;
use crate::domain::{
    ReminderKind, ReminderState, TimeCount, first_contact_due_at, lead_first_contact_message,
};
use crate::store::leads::{self, Assignment};
use crate::store::{self, LeadFacts, NewReminder, first_contact};

/// The lead events this handler uses (the consumer's filter).
pub const LEAD_EVENTS: &[&str] = &["assigned", "ownership_transferred"];

/// Applies lead assignments to first-contact reminders.
#[derive(Clone, Debug)]
pub struct LeadEvents {
    first_contact_hours: u32,
    /// The cut-over after which assignments get lead reminders: written once by a
    /// migration, so read once, not once per event.
    reminders_since: OnceCell<i64>,
}

impl LeadEvents {
    pub fn new(first_contact_hours: u32) -> LeadEvents {
        LeadEvents {
            first_contact_hours,
            reminders_since: OnceCell::new(),
        }
    }

    async fn reminders_since(&self, tx: &mut Tx) -> Result<i64, sqlx::Error> {
        self.reminders_since
            .get_or_try_init(|| leads::reminders_since(tx))
            .await
            .copied()
    }
}

impl BatchHandler for LeadEvents {
    /// One [`BatchSettings`] for the batch: its policies and calendars are read once.
    type Batch = BatchSettings;

    fn new_batch(&self) -> BatchSettings {
        BatchSettings::new(self.first_contact_hours)
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        if event.tenant_id().is_empty() {
            return Err(reject("the envelope names no tenant"));
        }
        if event.is::<OwnershipTransferred>() {
            let since = self.reminders_since(tx).await?;
            return transferred(tx, event, event.decode()?, since).await;
        }
        if !event.is::<LeadAssigned>() {
            // Another lead event that reminders has no use for.
            return Ok(());
        }
        let e: LeadAssigned = event.decode()?;
        if e.lead_id.trim().is_empty() || e.rep_id.trim().is_empty() {
            return Err(reject("lead.assigned names no lead_id or no rep_id"));
        }
        let at = event.occurred_at_millis();
        if at < self.reminders_since(tx).await? {
            tracing::debug!(lead_id = %e.lead_id, "assignment from before lead reminders; its opportunity has its own");
            return Ok(());
        }
        self.assigned(tx, event.tenant_id(), &e, at, settings).await
    }
}

impl LeadEvents {
    async fn assigned(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        e: &LeadAssigned,
        at: i64,
        settings: &mut BatchSettings,
    ) -> Result<(), HandlerError> {
        let lead_id = e.lead_id.as_str();
        let now = now_millis();
        let assignment = Assignment {
            lead_id,
            owner_rep_id: &e.rep_id,
            team: &e.team,
            customer_id: &e.customer_id,
            at,
            starts_clock: true,
        };
        let lead = leads::record_assignment(tx, tenant_id, &assignment, now).await?;
        if lead.opened_opportunity {
            // `opportunity.created` saw this lead and decided (closed, or the stage's
            // policy asks for no first contact); a reminder it made follows the owner.
            tracing::info!(tenant_id, lead_id, opportunity_id = %lead.opportunity_id, "the lead's opportunity decided its first contact");
            return follow_new_owner(tx, tenant_id, &lead, lead_id, now).await;
        }
        if !self
            .schedule(tx, tenant_id, e, &lead, at, now, settings)
            .await?
        {
            // The lead has its reminder already (an earlier assignment, or a redelivery):
            // it follows the newest owner.
            return follow_new_owner(tx, tenant_id, &lead, lead_id, now).await;
        }
        Ok(())
    }
}

/// The lead's open first-contact reminder, if it has one, goes to its newest owner.
async fn follow_new_owner(
    tx: &mut Tx,
    tenant_id: &str,
    lead: &LeadFacts,
    lead_id: &str,
    now: i64,
) -> Result<(), HandlerError> {
    let moved = first_contact::reassign(tx, tenant_id, lead_id, &lead.owner_rep_id, now).await?;
    if moved > 0 {
        tracing::info!(tenant_id, lead_id, owner_rep_id = %lead.owner_rep_id, "first-contact reminder moved to the new owner");
    }
    Ok(())
}

impl LeadEvents {
    /// The lead's first-contact reminder: due the policy's hours after its first
    /// assignment; done at once when its opportunity (known from a touchpoint seen
    /// first) already had a contact since then. True when this call made it; false when
    /// the lead has one already or gets none.
    #[allow(clippy::too_many_arguments)] // one event's whole context; a struct would only rename it
    async fn schedule(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        e: &LeadAssigned,
        lead: &LeadFacts,
        at: i64,
        now: i64,
        settings: &mut BatchSettings,
    ) -> Result<bool, HandlerError> {
        let lead_id = e.lead_id.as_str();
        let opportunity = match lead.opportunity_id.as_str() {
            "" => None,
            id => store::opportunities::facts(tx, tenant_id, id).await?,
        };
        let opportunity = opportunity.unwrap_or_default();
        if opportunity.closed {
            tracing::info!(tenant_id, lead_id, opportunity_id = %lead.opportunity_id, "the lead's opportunity is closed; no first-contact reminder");
            return Ok(false);
        }
        // Before the lead's opportunity is known, the tenant's default policy applies.
        let policy = settings.policy(tx, tenant_id, &opportunity.stage).await?;
        if !policy.wants_first_contact() {
            tracing::info!(tenant_id, lead_id, policy_id = %policy.policy_id, "policy asks for no first contact");
            return Ok(false);
        }
        let calendar = settings.calendar(tx, tenant_id).await?;
        let started_at = lead.assigned_at.unwrap_or(at);
        let due_at = first_contact_due_at(
            started_at,
            &policy.rules,
            &TimeCount {
                calendar: &calendar,
                business_time: policy.rules.business_time,
            },
        );
        let contacted = opportunity
            .last_activity_at
            .is_some_and(|t| t >= started_at);
        let contact = e.lead.clone().unwrap_or_default();
        let message = lead_first_contact_message(lead_id, &contact.contact_name, &contact.company);
        let reminder_id = new_id("rem");
        let created = first_contact::insert(
            tx,
            &NewReminder {
                tenant_id,
                reminder_id: &reminder_id,
                opportunity_id: &lead.opportunity_id,
                owner_rep_id: &lead.owner_rep_id,
                kind: ReminderKind::FirstContact,
                due_at,
                state: if contacted {
                    ReminderState::Done
                } else {
                    ReminderState::Pending
                },
                message: &message,
                policy_id: &policy.policy_id,
                policy_version: policy.version,
                now,
            },
            lead_id,
        )
        .await?;
        if created {
            metrics::counter!("shangji_reminders_created_total", "kind" => ReminderKind::FirstContact.as_str()).increment(1);
            tracing::info!(tenant_id, lead_id, reminder_id, owner_rep_id = %lead.owner_rep_id, due_at, contacted, "first-contact reminder scheduled for the lead");
        }
        Ok(created)
    }
}

/// Leads handed to another rep: their open first-contact reminders follow the newest
/// owner. Returned to the pool (no `to_rep_id`), a lead keeps its reminder until a rep
/// claims it (a claim is a new `lead.assigned`).
async fn transferred(
    tx: &mut Tx,
    event: &IncomingEvent,
    e: OwnershipTransferred,
    reminders_since: i64,
) -> Result<(), HandlerError> {
    let to = e.to_rep_id.trim();
    if to.is_empty() || e.lead_ids.is_empty() {
        return Ok(());
    }
    let at = e
        .transferred_at
        .as_ref()
        .map(to_millis)
        .unwrap_or_else(|| event.occurred_at_millis());
    if at < reminders_since {
        return Ok(());
    }
    let tenant_id = event.tenant_id();
    let now = now_millis();
    for lead_id in e.lead_ids.iter().filter(|l| !l.trim().is_empty()) {
        let transfer = Assignment {
            lead_id,
            owner_rep_id: to,
            team: &e.team,
            customer_id: &e.customer_id,
            at,
            starts_clock: false,
        };
        let lead = leads::record_assignment(tx, tenant_id, &transfer, now).await?;
        let moved =
            first_contact::reassign(tx, tenant_id, lead_id, &lead.owner_rep_id, now).await?;
        tracing::info!(tenant_id, lead_id = %lead_id, transfer_id = %e.transfer_id, owner_rep_id = %lead.owner_rep_id, moved, "lead handed over");
    }
    Ok(())
}

fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
