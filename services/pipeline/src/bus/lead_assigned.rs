//! `lead.assigned` -> an opportunity. A lead for a customer with an open opportunity
//! attaches to it as a touchpoint; otherwise it opens one in the pipeline's entry stage.
//!
//! Idempotent twice over: the platform's inbox drops a redelivered event id, and the
//! `lead_links` table drops the same lead arriving again under a new event id (a
//! re-published or re-assigned lead). Correct across replicas by construction: the
//! database allows one open opportunity per customer and one link per lead, and an
//! insert that loses such a race is retried, to attach (or do nothing) on redelivery.
//!
//! A lead for a customer that dedup has since merged away (qualified or assigned before
//! the merge, delivered after it) belongs to the survivor: its customer id is resolved
//! through the merges the pipeline has followed, so it lands on the survivor's open
//! opportunity instead of opening a second deal for the same customer.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::anyhow;
use shangji_contracts::events::lead::LeadAssigned;
use shangji_contracts::time::now_millis;
use shangji_platform::bus::{self, BatchHandler, HandlerError, IncomingEvent};
use shangji_platform::db::is_unique_violation;
use shangji_platform::{Tx, ids};

use crate::bus::events;
use crate::domain::activity::touchpoint_summary;
use crate::domain::opportunity::opportunity_name;
use crate::domain::{Activity, ActivityKind, Change, Opportunity, Pipeline, Status, parse_budget};
use crate::store::lead_links::{Link, NewLink};
use crate::store::{activities, history, lead_links, merges, opportunities, pipelines};

/// Who history names when the event carries no user.
const SYSTEM_USER: &str = "pipeline";

/// Opens or attaches opportunities for assigned leads.
#[derive(Clone, Debug)]
pub struct LeadAssignedHandler {
    /// Currency of opportunities opened from leads.
    currency: String,
}

impl LeadAssignedHandler {
    pub fn new(currency: impl Into<String>) -> LeadAssignedHandler {
        LeadAssignedHandler {
            currency: currency.into(),
        }
    }
}

/// What a batch of assignments shares.
#[derive(Default)]
pub struct AssignedBatch {
    /// The pipelines the batch opened opportunities in, by (tenant, team): a batch is
    /// applied in one transaction and no handler changes a pipeline's definition (only
    /// the API does), so each team's pipeline is read once per batch.
    pipelines: HashMap<(String, String), Arc<Pipeline>>,
    /// Lead links, written in one statement when the batch ends (a lead of the batch is
    /// looked up here first).
    links: Vec<NewLink>,
}

impl AssignedBatch {
    /// The opportunity a lead of this batch was linked to, if one was.
    fn linked(&self, tenant_id: &str, lead_id: &str) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.lead_id == lead_id && l.tenant_id == tenant_id)
            .map(|l| l.opportunity_id.clone())
    }

    fn link(&mut self, lead: &Assignment<'_>, opportunity_id: &str, link: Link, at: i64) {
        self.links.push(NewLink {
            tenant_id: lead.tenant_id.to_owned(),
            lead_id: lead.lead_id.to_owned(),
            opportunity_id: opportunity_id.to_owned(),
            link,
            at,
        });
    }
}

impl BatchHandler for LeadAssignedHandler {
    type Batch = AssignedBatch;

    fn new_batch(&self) -> AssignedBatch {
        AssignedBatch::default()
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        batch: &mut AssignedBatch,
    ) -> Result<(), HandlerError> {
        self.assigned(tx, event, batch).await
    }

    async fn finish(&self, tx: &mut Tx, batch: &mut AssignedBatch) -> Result<(), HandlerError> {
        lead_links::insert_all(tx, &batch.links)
            .await
            .map_err(|err| {
                lost_race(
                    err,
                    "a lead was handled concurrently under another event id",
                )
            })
    }
}

impl LeadAssignedHandler {
    async fn assigned(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        batch: &mut AssignedBatch,
    ) -> Result<(), HandlerError> {
        // Anything but a lead.assigned on this subject is a producer's bug: decoding
        // rejects it, so it is dead-lettered rather than dropped.
        let assigned: LeadAssigned = event.decode()?;
        let mut lead = Assignment::parse(event, &assigned)?;
        let (linked, customer_id) =
            merges::lead_link_and_customer(tx, lead.tenant_id, &assigned.customer_id, lead.lead_id)
                .await?;
        lead.customer_id = customer_id;
        if let Some(opportunity_id) = linked.or_else(|| batch.linked(lead.tenant_id, lead.lead_id))
        {
            tracing::debug!(lead_id = lead.lead_id, %opportunity_id, "lead already handled; nothing to do");
            metrics::counter!("shangji_pipeline_leads_total", "outcome" => "duplicate")
                .increment(1);
            return Ok(());
        }
        match opportunities::find_open_for_customer(tx, lead.tenant_id, &lead.customer_id).await? {
            Some(open) => attach(tx, event, &lead, open, batch).await,
            None => self.open(tx, event, &lead, batch).await,
        }
    }
}

/// The parts of a `lead.assigned` event the pipeline needs, checked.
struct Assignment<'e> {
    tenant_id: &'e str,
    lead_id: &'e str,
    /// The customer the lead belongs to now: the event's, or the survivor of a merge
    /// that folded it.
    customer_id: String,
    rep_id: &'e str,
    event: &'e LeadAssigned,
    /// Who history names for this change.
    user_id: &'e str,
}

impl<'e> Assignment<'e> {
    /// An assignment without tenant, lead, customer or rep can never be applied.
    fn parse(
        incoming: &'e IncomingEvent,
        event: &'e LeadAssigned,
    ) -> Result<Assignment<'e>, HandlerError> {
        let required = [
            ("tenant_id", incoming.tenant_id()),
            ("lead_id", event.lead_id.as_str()),
            ("customer_id", event.customer_id.as_str()),
            ("rep_id", event.rep_id.as_str()),
        ];
        if let Some((field, _)) = required.iter().find(|(_, value)| value.trim().is_empty()) {
            return Err(HandlerError::Reject(anyhow!(
                "lead.assigned without {field}"
            )));
        }
        let user_id = Some(incoming.envelope.user_id.as_str())
            .filter(|u| !u.is_empty())
            .unwrap_or(SYSTEM_USER);
        Ok(Assignment {
            tenant_id: incoming.tenant_id(),
            lead_id: &event.lead_id,
            customer_id: event.customer_id.clone(),
            rep_id: &event.rep_id,
            event,
            user_id,
        })
    }
}

impl Assignment<'_> {
    /// The customer id the event named, when a merge has folded it into another.
    fn merged_away(&self) -> Option<&str> {
        Some(self.event.customer_id.as_str()).filter(|given| *given != self.customer_id)
    }
}

impl LeadAssignedHandler {
    /// Opens an opportunity for the lead in the pipeline's entry stage.
    async fn open(
        &self,
        tx: &mut Tx,
        incoming: &IncomingEvent,
        lead: &Assignment<'_>,
        batch: &mut AssignedBatch,
    ) -> Result<(), HandlerError> {
        let key = (lead.tenant_id.to_owned(), lead.event.team.clone());
        let pipeline = match batch.pipelines.get(&key) {
            Some(pipeline) => pipeline.clone(),
            None => {
                let pipeline = pipelines::for_team(tx, lead.tenant_id, &lead.event.team)
                    .await?
                    .ok_or_else(|| {
                        HandlerError::Retry(anyhow!(
                            "the default pipeline is missing after seeding it"
                        ))
                    })?;
                let pipeline = Arc::new(pipeline);
                batch.pipelines.insert(key, pipeline.clone());
                pipeline
            }
        };
        let entry = pipeline.entry_stage().ok_or_else(|| {
            HandlerError::Reject(anyhow!(
                "pipeline {} has no open stage",
                pipeline.pipeline_id
            ))
        })?;
        let captured = lead.event.lead.clone().unwrap_or_default();
        let now = now_millis();
        let opp = Opportunity {
            tenant_id: lead.tenant_id.to_owned(),
            opportunity_id: ids::new_id("opp"),
            customer_id: lead.customer_id.clone(),
            owner_rep_id: lead.rep_id.to_owned(),
            pipeline_id: pipeline.pipeline_id.clone(),
            stage: entry.name.clone(),
            status: Status::Open,
            amount: parse_budget(&captured.budget),
            currency: self.currency.clone(),
            name: opportunity_name(&captured.company, &captured.contact_name, &captured.need),
            lead_id: lead.lead_id.to_owned(),
            source: captured.source.trim().to_owned(),
            region: captured.region.trim().to_owned(),
            industry: captured.industry.trim().to_owned(),
            team: lead.event.team.clone(),
            lost_reason: String::new(),
            next_follow_up_at: None,
            expected_close_at: None,
            pipeline_version: pipeline.version,
            fields: Default::default(),
            stage_entered_at: now,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        if let Err(err) = opportunities::insert(tx, &opp).await {
            return Err(lost_race(
                err,
                "the customer's open opportunity was opened concurrently; attaching on redelivery",
            ));
        }
        let reason = if lead.event.reason.is_empty() {
            lead.event.rule.clone()
        } else {
            lead.event.reason.clone()
        };
        let reason = match lead.merged_away() {
            Some(merged) => format!("{reason} (lead for merged customer {merged})"),
            None => reason,
        };
        let changes = [
            Change::new("created", "", lead.lead_id).with_note(reason),
            Change::new("stage", "", entry.name.clone()),
            Change::new("owner_rep_id", "", lead.rep_id),
        ];
        // Nothing reads the new opportunity's history before the batch commits.
        history::defer(
            tx,
            lead.tenant_id,
            &opp.opportunity_id,
            lead.user_id,
            now,
            &changes,
        );
        batch.link(lead, &opp.opportunity_id, Link::Opened, now);
        bus::enqueue(tx, &incoming.follow_on(), &events::created(&opp, entry)).await?;
        metrics::counter!("shangji_pipeline_leads_total", "outcome" => "opened").increment(1);
        tracing::info!(
            lead_id = lead.lead_id,
            opportunity_id = %opp.opportunity_id,
            customer_id = %lead.customer_id,
            owner_rep_id = lead.rep_id,
            amount = opp.amount,
            "opened an opportunity"
        );
        Ok(())
    }
}

/// Records the lead as a touchpoint on the customer's open opportunity.
async fn attach(
    tx: &mut Tx,
    incoming: &IncomingEvent,
    lead: &Assignment<'_>,
    mut opp: Opportunity,
    batch: &mut AssignedBatch,
) -> Result<(), HandlerError> {
    if opp.owner_rep_id != lead.rep_id {
        // One customer, one owner: assignment should have chosen the owner; keep the
        // opportunity's owner and leave a trace for whoever investigates.
        tracing::warn!(
            lead_id = lead.lead_id,
            opportunity_id = %opp.opportunity_id,
            owner_rep_id = %opp.owner_rep_id,
            assigned_rep_id = lead.rep_id,
            "lead assigned to another rep than the open opportunity's owner"
        );
    }
    let captured = lead.event.lead.clone().unwrap_or_default();
    let now = now_millis();
    let activity = Activity {
        activity_id: ids::new_id("act"),
        opportunity_id: opp.opportunity_id.clone(),
        kind: ActivityKind::Touchpoint,
        summary: touchpoint_summary(&captured.source, &captured.need),
        next_step: String::new(),
        next_follow_up_at: None,
        purpose: String::new(),
        customer_questions: String::new(),
        attachments: Vec::new(),
        lead_id: lead.lead_id.to_owned(),
        user_id: lead.user_id.to_owned(),
        logged_at: now,
    };
    activities::insert(tx, lead.tenant_id, &activity).await?;
    let note = match lead.merged_away() {
        Some(merged) => format!("{} (lead for merged customer {merged})", activity.summary),
        None => activity.summary.clone(),
    };
    let change = Change::new("lead_attached", "", lead.lead_id).with_note(note);
    history::defer(
        tx,
        lead.tenant_id,
        &opp.opportunity_id,
        lead.user_id,
        now,
        &[change],
    );
    opp.updated_at = now;
    if !opportunities::update(tx, &opp).await? {
        // Changed (perhaps closed) since we read it: decide again on redelivery.
        return Err(HandlerError::Retry(anyhow!(
            "opportunity {} changed while attaching lead {}",
            opp.opportunity_id,
            lead.lead_id
        )));
    }
    batch.link(lead, &opp.opportunity_id, Link::Attached, now);
    bus::enqueue(
        tx,
        &incoming.follow_on(),
        &events::activity_logged(&opp, &activity),
    )
    .await?;
    metrics::counter!("shangji_pipeline_leads_total", "outcome" => "attached").increment(1);
    tracing::info!(
        lead_id = lead.lead_id,
        opportunity_id = %opp.opportunity_id,
        customer_id = %lead.customer_id,
        "attached the lead to the customer's open opportunity"
    );
    Ok(())
}

/// A unique violation means another replica won a race; the redelivery sees its result.
fn lost_race(err: sqlx::Error, what: &str) -> HandlerError {
    if is_unique_violation(&err) {
        HandlerError::Retry(anyhow::Error::new(err).context(what.to_owned()))
    } else {
        err.into()
    }
}
