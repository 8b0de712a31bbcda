//! What each event means for the read models, as facts to merge. Stage orders the
//! event does not carry (the stage a deal closed from) come from the learned catalog.

use prost_types::Timestamp;
use shangji_contracts::events::Event;
use shangji_contracts::events::lead::{
    CustomerMerged, CustomerUnmerged, LeadAssigned, LeadPooled, LeadQualified, LeadReceived,
    OwnershipTransferred,
};
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityOwnerChanged,
    OpportunityReopened, OpportunityStageChanged, OpportunityUpdated, OpportunityWon,
};
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::events::reminder::{ReminderDue, ReminderEscalated};
use shangji_contracts::time::to_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{HandlerError, IncomingEvent};

use crate::domain::{
    Closing, LeadFacts, OpportunityFacts, Origin, StagePosition, Touch, is_terminal_stage,
};
use crate::store::catalog::Learned;

/// A change to the read models.
// One short-lived value per event: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Opportunity(String, OpportunityFacts),
    Lead(String, LeadFacts),
    /// Open work of a customer moved; `opportunities` empty means every open one of
    /// the customer owned by `from_rep_id` (looked up per generation).
    Transfer {
        customer_id: String,
        from_rep_id: String,
        opportunities: Vec<String>,
        leads: Vec<String>,
        to_rep_id: String,
        team: String,
        at: i64,
    },
    Team(TeamUpserted),
    Rep(RepUpserted),
    /// The event changes no figure.
    Nothing,
}

/// The time an event carries for what it reports, or when it was published.
fn time_of(at: Option<&Timestamp>, event: &IncomingEvent) -> i64 {
    at.map(to_millis)
        .unwrap_or_else(|| event.occurred_at_millis())
}

pub fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}

fn required(id: &str, what: &str) -> Result<String, HandlerError> {
    if id.trim().is_empty() {
        Err(reject(&format!("the event names no {what}")))
    } else {
        Ok(id.to_owned())
    }
}

/// A reminder counts on its opportunity, or on its lead when it fell due before the
/// lead had one (a first-contact reminder).
fn reminder_change(
    opportunity_id: &str,
    lead_id: &str,
    id: String,
    touch: Touch,
) -> Result<Change, HandlerError> {
    let at = touch.at;
    if opportunity_id.trim().is_empty() && !lead_id.trim().is_empty() {
        return Ok(Change::Lead(
            lead_id.to_owned(),
            LeadFacts {
                at,
                reminder: Some((id, touch)),
                ..Default::default()
            },
        ));
    }
    Ok(Change::Opportunity(
        required(opportunity_id, "opportunity_id or lead_id")?,
        OpportunityFacts {
            at,
            reminder: Some((id, touch)),
            ..Default::default()
        },
    ))
}

fn non_empty(value: &str) -> Option<String> {
    (!value.trim().is_empty()).then(|| value.to_owned())
}

/// A stage the funnel counts (not the terminal won/lost), with the order the event gave.
fn open_stage(stage: &str, order: u32) -> Option<StagePosition> {
    (!stage.is_empty() && !is_terminal_stage(stage)).then(|| StagePosition {
        stage: stage.to_owned(),
        order,
    })
}

/// Learns stage orders the event states (into `learned`, which the caller writes with
/// its batch) and turns it into a change.
pub async fn change_of(
    tx: &mut Tx,
    learned: &mut Learned,
    event: &IncomingEvent,
) -> Result<Change, HandlerError> {
    let tenant = event.tenant_id();
    let ty = event.event_type();
    let change = if ty == LeadReceived::TYPE {
        let e: LeadReceived = event.decode()?;
        let at = time_of(e.received_at.as_ref(), event);
        let source = e
            .lead
            .as_ref()
            .and_then(|l| non_empty(&l.source))
            .unwrap_or(e.channel);
        Change::Lead(
            required(&e.lead_id, "lead_id")?,
            LeadFacts {
                at,
                received_source: Some(source),
                received_at: Some(at),
                ..Default::default()
            },
        )
    } else if ty == LeadQualified::TYPE {
        let e: LeadQualified = event.decode()?;
        Change::Lead(
            required(&e.lead_id, "lead_id")?,
            LeadFacts {
                at: event.occurred_at_millis(),
                source: e.lead.as_ref().and_then(|l| non_empty(&l.source)),
                qualified: true,
                ..Default::default()
            },
        )
    } else if ty == LeadAssigned::TYPE {
        let e: LeadAssigned = event.decode()?;
        Change::Lead(
            required(&e.lead_id, "lead_id")?,
            LeadFacts {
                at: event.occurred_at_millis(),
                source: e.lead.as_ref().and_then(|l| non_empty(&l.source)),
                holder: Some((e.rep_id, e.team)),
                assigned: true,
                // Assignment follows qualification.
                qualified: true,
                ..Default::default()
            },
        )
    } else if ty == LeadPooled::TYPE {
        let e: LeadPooled = event.decode()?;
        Change::Lead(
            required(&e.lead_id, "lead_id")?,
            LeadFacts {
                at: event.occurred_at_millis(),
                holder: Some((String::new(), e.team)),
                pooled: true,
                qualified: true,
                ..Default::default()
            },
        )
    } else if ty == OwnershipTransferred::TYPE {
        let e: OwnershipTransferred = event.decode()?;
        Change::Transfer {
            customer_id: e.customer_id,
            from_rep_id: e.from_rep_id,
            opportunities: e.opportunity_ids,
            leads: e.lead_ids,
            to_rep_id: e.to_rep_id,
            team: e.team,
            at: time_of(e.transferred_at.as_ref(), event),
        }
    } else if ty == CustomerMerged::TYPE || ty == CustomerUnmerged::TYPE {
        // Figures are per opportunity and lead, which keep their ids through a merge;
        // owner moves a merge causes arrive as ownership transfers.
        Change::Nothing
    } else if ty == OpportunityCreated::TYPE {
        let e: OpportunityCreated = event.decode()?;
        let at = time_of(e.created_at.as_ref(), event);
        let stage = open_stage(&e.stage, e.stage_order);
        if let Some(s) = &stage {
            learned.learn(tenant, &s.stage, s.order, at);
        }
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at,
                customer_id: Some(e.customer_id),
                owner: Some(e.owner_rep_id),
                team: Some(e.team),
                visited: stage
                    .iter()
                    .map(|s| (s.stage.clone(), Some(s.order)))
                    .collect(),
                stage,
                probability: Some(e.stage_probability),
                amount: Some(e.amount),
                currency: Some(e.currency),
                expected_close_at: Some(e.expected_close_at.as_ref().map(to_millis)),
                origin: Some(Origin {
                    source: e.source,
                    industry: e.industry,
                    region: e.region,
                }),
                created_at: Some(at),
                ..Default::default()
            },
        )
    } else if ty == OpportunityStageChanged::TYPE {
        let e: OpportunityStageChanged = event.decode()?;
        let at = time_of(e.changed_at.as_ref(), event);
        let from = open_stage(&e.from_stage, e.from_stage_order);
        let to = open_stage(&e.to_stage, e.to_stage_order);
        for s in from.iter().chain(&to) {
            learned.learn(tenant, &s.stage, s.order, at);
        }
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at,
                customer_id: Some(e.customer_id),
                owner: Some(e.owner_rep_id),
                team: non_empty(&e.team),
                visited: from
                    .iter()
                    .chain(&to)
                    .map(|s| (s.stage.clone(), Some(s.order)))
                    .collect(),
                probability: to.as_ref().map(|_| e.to_stage_probability),
                stage: to,
                amount: Some(e.amount),
                currency: Some(e.currency),
                expected_close_at: e.expected_close_at.as_ref().map(|t| Some(to_millis(t))),
                ..Default::default()
            },
        )
    } else if ty == OpportunityWon::TYPE || ty == OpportunityLost::TYPE {
        let (id, customer, owner, amount, currency, from_stage, closing, created) =
            if ty == OpportunityWon::TYPE {
                let e: OpportunityWon = event.decode()?;
                let at = time_of(e.closed_at.as_ref(), event);
                let closing = Closing {
                    at,
                    won: true,
                    reason: String::new(),
                };
                let created = e.created_at.as_ref().map(to_millis);
                (
                    e.opportunity_id,
                    e.customer_id,
                    e.owner_rep_id,
                    e.amount,
                    e.currency,
                    e.from_stage,
                    closing,
                    created,
                )
            } else {
                let e: OpportunityLost = event.decode()?;
                let at = time_of(e.closed_at.as_ref(), event);
                let closing = Closing {
                    at,
                    won: false,
                    reason: e.reason,
                };
                let created = e.created_at.as_ref().map(to_millis);
                (
                    e.opportunity_id,
                    e.customer_id,
                    e.owner_rep_id,
                    e.amount,
                    e.currency,
                    e.from_stage,
                    closing,
                    created,
                )
            };
        let order = if from_stage.is_empty() || is_terminal_stage(&from_stage) {
            None
        } else {
            learned.order_of(tx, tenant, &from_stage).await?
        };
        let stage = open_stage(&from_stage, order.unwrap_or(0));
        Change::Opportunity(
            required(&id, "opportunity_id")?,
            OpportunityFacts {
                at: closing.at,
                customer_id: Some(customer),
                owner: Some(owner),
                visited: stage.iter().map(|s| (s.stage.clone(), order)).collect(),
                stage,
                stage_is_implied: true,
                amount: Some(amount),
                currency: Some(currency),
                closing: Some(closing),
                created_at: created,
                ..Default::default()
            },
        )
    } else if ty == OpportunityOwnerChanged::TYPE {
        let e: OpportunityOwnerChanged = event.decode()?;
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at: time_of(e.changed_at.as_ref(), event),
                customer_id: Some(e.customer_id),
                owner: Some(e.to_rep_id),
                ..Default::default()
            },
        )
    } else if ty == OpportunityActivityLogged::TYPE {
        let e: OpportunityActivityLogged = event.decode()?;
        let at = time_of(e.logged_at.as_ref(), event);
        // A touchpoint is a new lead attaching, not something the rep did.
        let activity = (e.kind != "touchpoint").then(|| {
            let id = non_empty(&e.activity_id).unwrap_or_else(|| event.event_id().to_owned());
            let touch = Touch {
                kind: e.kind.clone(),
                at,
                rep_id: e.owner_rep_id.clone(),
            };
            (id, touch)
        });
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at,
                customer_id: Some(e.customer_id),
                owner: non_empty(&e.owner_rep_id),
                activity,
                ..Default::default()
            },
        )
    } else if ty == OpportunityUpdated::TYPE {
        let e: OpportunityUpdated = event.decode()?;
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at: time_of(e.updated_at.as_ref(), event),
                customer_id: Some(e.customer_id),
                owner: non_empty(&e.owner_rep_id),
                team: non_empty(&e.team),
                amount: Some(e.amount),
                currency: Some(e.currency),
                expected_close_at: Some(e.expected_close_at.as_ref().map(to_millis)),
                ..Default::default()
            },
        )
    } else if ty == OpportunityReopened::TYPE {
        let e: OpportunityReopened = event.decode()?;
        let at = time_of(e.reopened_at.as_ref(), event);
        let stage = open_stage(&e.stage, e.stage_order);
        if let Some(s) = &stage {
            learned.learn(tenant, &s.stage, s.order, at);
        }
        Change::Opportunity(
            required(&e.opportunity_id, "opportunity_id")?,
            OpportunityFacts {
                at,
                customer_id: Some(e.customer_id),
                owner: non_empty(&e.owner_rep_id),
                team: non_empty(&e.team),
                visited: stage
                    .iter()
                    .map(|s| (s.stage.clone(), Some(s.order)))
                    .collect(),
                stage,
                amount: Some(e.amount),
                currency: Some(e.currency),
                reopened_at: Some(at),
                ..Default::default()
            },
        )
    } else if ty == ReminderDue::TYPE {
        let e: ReminderDue = event.decode()?;
        let at = time_of(e.due_at.as_ref(), event);
        let id = format!("{}/due/{at}", required(&e.reminder_id, "reminder_id")?);
        let touch = Touch {
            kind: "due".to_owned(),
            at,
            rep_id: e.owner_rep_id,
        };
        reminder_change(&e.opportunity_id, &e.lead_id, id, touch)?
    } else if ty == ReminderEscalated::TYPE {
        let e: ReminderEscalated = event.decode()?;
        let at = time_of(e.escalated_at.as_ref(), event);
        let id = format!(
            "{}/escalated/{}",
            required(&e.reminder_id, "reminder_id")?,
            e.level.max(e.step)
        );
        let touch = Touch {
            kind: "escalated".to_owned(),
            at,
            rep_id: e.owner_rep_id,
        };
        reminder_change(&e.opportunity_id, &e.lead_id, id, touch)?
    } else if ty == TeamUpserted::TYPE {
        let e: TeamUpserted = event.decode()?;
        required(&e.team_id, "team_id")?;
        Change::Team(e)
    } else if ty == RepUpserted::TYPE {
        let e: RepUpserted = event.decode()?;
        required(&e.rep_id, "rep_id")?;
        Change::Rep(e)
    } else {
        Change::Nothing
    };
    Ok(change)
}
