//! Following each lead downstream: every step another service reports becomes a line
//! of the lead's trail and moves its status forward.

use shangji_contracts::events::lead::{LeadAssigned, LeadPooled, LeadQualified};
use shangji_contracts::events::opportunity::{OpportunityActivityLogged, OpportunityCreated};
use shangji_contracts::intake::LeadStatus;
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::domain::status;
use crate::store::{self, Progress};

/// Consumes the downstream events that concern a lead.
pub struct LeadProgress;

/// What one event says about one lead.
struct Step {
    lead_id: String,
    status: LeadStatus,
    detail: String,
    apply: Box<dyn FnOnce(&mut Progress) + Send>,
}

fn step_of(event: &IncomingEvent) -> Result<Option<Step>, HandlerError> {
    let step = if event.is::<LeadQualified>() {
        let e: LeadQualified = event.decode()?;
        let detail = if e.new_customer {
            format!(
                "qualified: new customer {} (score {:.0}, grade {})",
                e.customer_id, e.score, e.grade
            )
        } else {
            format!(
                "attached to existing customer {}: {} (score {:.0}, grade {})",
                e.customer_id,
                e.match_reasons.join("; "),
                e.score,
                e.grade
            )
        };
        Step {
            lead_id: e.lead_id.clone(),
            status: LeadStatus::Qualified,
            detail,
            apply: Box::new(move |p| {
                p.customer_id = e.customer_id;
                p.new_customer = i64::from(e.new_customer);
                p.score = e.score;
                p.grade = e.grade;
            }),
        }
    } else if event.is::<LeadAssigned>() {
        let e: LeadAssigned = event.decode()?;
        Step {
            lead_id: e.lead_id.clone(),
            status: LeadStatus::Assigned,
            detail: format!(
                "assigned to rep {} by rule {}: {}",
                e.rep_id, e.rule, e.reason
            ),
            apply: Box::new(move |p| {
                p.owner_rep_id = e.rep_id;
                if p.customer_id.is_empty() {
                    p.customer_id = e.customer_id;
                }
            }),
        }
    } else if event.is::<LeadPooled>() {
        let e: LeadPooled = event.decode()?;
        Step {
            lead_id: e.lead_id.clone(),
            status: LeadStatus::Pooled,
            detail: format!("waiting in the pool: {}", e.reason),
            apply: Box::new(|_| {}),
        }
    } else if event.is::<OpportunityCreated>() {
        let e: OpportunityCreated = event.decode()?;
        Step {
            lead_id: e.lead_id.clone(),
            status: LeadStatus::OpportunityCreated,
            detail: format!(
                "opportunity {} opened in stage {}",
                e.opportunity_id, e.stage
            ),
            apply: Box::new(move |p| {
                p.opportunity_id = e.opportunity_id;
                fill_owner(p, e.owner_rep_id, e.customer_id);
            }),
        }
    } else if event.is::<OpportunityActivityLogged>() {
        let e: OpportunityActivityLogged = event.decode()?;
        // Only touchpoints concern a lead: the lead joined an open opportunity.
        if e.lead_id.is_empty() {
            return Ok(None);
        }
        Step {
            lead_id: e.lead_id.clone(),
            status: LeadStatus::AttachedToOpportunity,
            detail: format!(
                "the customer already had open opportunity {}; the lead was recorded on it",
                e.opportunity_id
            ),
            apply: Box::new(move |p| {
                p.opportunity_id = e.opportunity_id;
                fill_owner(p, e.owner_rep_id, e.customer_id);
            }),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(step))
}

/// The opportunity's owner and customer, for a lead whose assignment has not been
/// consumed yet. Assignment and pipeline publish on different streams, so intake may
/// see the opportunity first; a lead shown with its opportunity but no owner would
/// read as unowned. The opportunity's owner is the rep the lead was assigned to (one
/// customer, one owner), and the assignment, when it arrives, writes the same rep.
fn fill_owner(progress: &mut Progress, owner_rep_id: String, customer_id: String) {
    if progress.owner_rep_id.is_empty() {
        progress.owner_rep_id = owner_rep_id;
    }
    if progress.customer_id.is_empty() {
        progress.customer_id = customer_id;
    }
}

impl Handler for LeadProgress {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let Some(step) = step_of(event)? else {
            return Ok(());
        };
        let tenant = event.tenant_id();
        let Some(mut progress) = store::load_progress(tx, tenant, &step.lead_id).await? else {
            // Leads from other systems can reach pipeline without intake; nothing to track.
            tracing::debug!(lead.id = %step.lead_id, "event for a lead intake does not know");
            return Ok(());
        };
        let producer = event.envelope.producer.clone();
        let recorded = store::insert_step(
            tx,
            tenant,
            &step.lead_id,
            event.event_id(),
            step.status as i32,
            &step.detail,
            &producer,
            event.occurred_at_millis(),
        )
        .await?;
        if !recorded {
            return Ok(());
        }
        let current = LeadStatus::try_from(progress.status).unwrap_or(LeadStatus::Received);
        progress.status = status::advance(current, step.status) as i32;
        (step.apply)(&mut progress);
        store::save_progress(tx, tenant, &step.lead_id, &progress, now_millis()).await?;
        Ok(())
    }
}
