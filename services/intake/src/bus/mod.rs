//! Following each lead downstream: every step another service reports becomes a line
//! of the lead's trail and moves its status forward.

use shangji_contracts::events::lead::{LeadAssigned, LeadPooled, LeadQualified};
use shangji_contracts::events::opportunity::{OpportunityActivityLogged, OpportunityCreated};
use shangji_contracts::intake::LeadStatus;
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use std::collections::BTreeSet;

use crate::domain::status;
use crate::store::Progress;
use crate::store::lead_batch::{self, TrailStep};
use crate::store::progress::{self, LeadKey};

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
        self.handle_batch(tx, &[event]).await
    }

    /// A batch's steps in three statements: lock and read the leads, record the steps,
    /// write the leads' summaries (see `store::progress`).
    async fn handle_batch(
        &self,
        tx: &mut Tx,
        events: &[&IncomingEvent],
    ) -> Result<(), HandlerError> {
        let mut steps = Vec::with_capacity(events.len());
        for event in events {
            if let Some(step) = step_of(event)? {
                steps.push((*event, step));
            }
        }
        if steps.is_empty() {
            return Ok(());
        }
        let key = |event: &IncomingEvent, step: &Step| -> LeadKey {
            (event.tenant_id().to_owned(), step.lead_id.clone())
        };
        // Sorted, so replicas locking overlapping leads take the locks in one order.
        let mut wanted: Vec<LeadKey> = steps.iter().map(|(e, s)| key(e, s)).collect();
        wanted.sort();
        wanted.dedup();
        let mut progress = progress::lock_progress(tx, &wanted).await?;
        let known: Vec<TrailStep<'_>> = steps
            .iter()
            .filter(|(event, step)| {
                let known = progress.contains_key(&key(event, step));
                if !known {
                    // Leads from other systems can reach pipeline without intake.
                    tracing::debug!(lead.id = %step.lead_id, "event for a lead intake does not know");
                }
                known
            })
            .map(|(event, step)| TrailStep {
                tenant_id: event.tenant_id(),
                lead_id: &step.lead_id,
                event_id: event.event_id(),
                status: step.status as i32,
                detail: &step.detail,
                service: &event.envelope.producer,
                at: event.occurred_at_millis(),
            })
            .collect();
        let recorded = lead_batch::record_steps(tx, &known).await?;
        drop(known);
        // In delivery order, so a lead's status moves as its events arrived.
        let mut changed = BTreeSet::new();
        for (event, step) in steps {
            if !recorded.contains(event.event_id()) {
                continue;
            }
            let lead = key(event, &step);
            let Some(p) = progress.get_mut(&lead) else {
                continue;
            };
            let current = LeadStatus::try_from(p.status).unwrap_or(LeadStatus::Received);
            p.status = status::advance(current, step.status) as i32;
            (step.apply)(p);
            changed.insert(lead);
        }
        let rows: Vec<(&LeadKey, &Progress)> = changed
            .iter()
            .filter_map(|lead| progress.get(lead).map(|p| (lead, p)))
            .collect();
        progress::save_progress(tx, &rows, now_millis()).await?;
        Ok(())
    }
}
