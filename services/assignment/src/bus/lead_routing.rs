//! `lead.qualified` -> one owner (`lead.assigned`) or the pool (`lead.pooled`).
//!
//! Correct under redelivery and replicas: the inbox drops a redelivered event; a second
//! `lead.qualified` for a decided lead changes nothing (the first decision stands); and
//! taking the tenant's round-robin turn first serialises a tenant's decisions, so two
//! replicas never hand the same turn or the same customer to two reps.

use shangji_contracts::events::lead::{LeadAssigned, LeadPooled, LeadQualified};
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, Handler, HandlerError, IncomingEvent};

use crate::domain::decision::{self, POOL_RULE};
use crate::domain::{Assignment, Decision, LeadToPlace, Ownership, Pooling, Rep, decide};
use crate::store::assignments::AssignmentRecord;
use crate::store::{assignments, owners, reps, sequence};

/// Decides who gets each qualified lead.
#[derive(Debug, Default)]
pub struct LeadRouting;

impl Handler for LeadRouting {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if !event.is::<LeadQualified>() {
            return Ok(());
        }
        let qualified: LeadQualified = event.decode()?;
        route(tx, event, &qualified).await
    }
}

async fn route(
    tx: &mut Tx,
    event: &IncomingEvent,
    lead: &LeadQualified,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    if tenant_id.is_empty() {
        return Err(reject("lead.qualified event has no tenant_id"));
    }
    if lead.lead_id.is_empty() {
        return Err(reject("lead.qualified event has no lead_id"));
    }
    let turn = sequence::take_turn(tx, tenant_id).await?;
    if let Some(decided) = assignments::get(&mut **tx, tenant_id, &lead.lead_id).await? {
        tracing::info!(
            tenant_id,
            lead_id = %lead.lead_id,
            rep_id = decided.rep_id.as_deref().unwrap_or(""),
            rule = %decided.rule,
            "lead already decided; the first decision stands"
        );
        return Ok(());
    }
    let owner = match lead.customer_id.as_str() {
        "" => None,
        customer_id => owners::owner_of(&mut **tx, tenant_id, customer_id).await?,
    };
    let reps = reps::list(&mut **tx, tenant_id, "", false).await?;
    let captured = lead.lead.clone().unwrap_or_default();
    let place = LeadToPlace {
        customer_id: &lead.customer_id,
        region: &captured.region,
        industry: &captured.industry,
    };
    let now = now_millis();
    match decide(&place, owner.as_deref(), &reps) {
        Decision::Assign(assignment) => {
            let assignment =
                settle_ownership(tx, tenant_id, &lead.customer_id, assignment, &reps, now).await?;
            assign(tx, event, lead, assignment, turn, now).await
        }
        Decision::Pool(pooling) => pool(tx, event, lead, pooling, now).await,
    }
}

/// Writes the customer's owner. If another replica settled the customer first, its
/// owner gets the lead instead: one customer, one owner.
async fn settle_ownership(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    assignment: Assignment,
    reps: &[Rep],
    now: i64,
) -> Result<Assignment, HandlerError> {
    let owner = match &assignment.ownership {
        Ownership::Kept | Ownership::NoCustomer => return Ok(assignment),
        Ownership::Claimed => {
            owners::claim(tx, tenant_id, customer_id, &assignment.rep_id, now).await?
        }
        Ownership::Replaced { previous } => {
            owners::take_over(
                tx,
                tenant_id,
                customer_id,
                previous,
                &assignment.rep_id,
                now,
            )
            .await?
        }
    };
    if owner == assignment.rep_id {
        return Ok(assignment);
    }
    match reps.iter().find(|r| r.profile.rep_id == owner) {
        Some(rep) => {
            tracing::info!(tenant_id, customer_id, chosen = %assignment.rep_id, owner = %owner, "customer was claimed concurrently; its owner gets the lead");
            Ok(decision::to_owner(customer_id, rep))
        }
        // Its owner row names a rep we did not read; read again on redelivery.
        None => Err(HandlerError::Retry(anyhow::anyhow!(
            "customer {customer_id} was claimed concurrently by rep {owner}, who is not known yet"
        ))),
    }
}

async fn assign(
    tx: &mut Tx,
    event: &IncomingEvent,
    lead: &LeadQualified,
    assignment: Assignment,
    turn: i64,
    now: i64,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    let rule = assignment.rule.to_string();
    reps::record_assignment(tx, tenant_id, &assignment.rep_id, turn, now).await?;
    record(
        tx,
        tenant_id,
        AssignmentRecord {
            lead_id: lead.lead_id.clone(),
            customer_id: lead.customer_id.clone(),
            rep_id: Some(assignment.rep_id.clone()),
            team: assignment.team.clone(),
            rule: rule.clone(),
            reason: assignment.reason.clone(),
            candidates: assignment.candidates,
            pooled: false,
            decided_at: now,
        },
    )
    .await?;
    let assigned = LeadAssigned {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        rep_id: assignment.rep_id,
        team: assignment.team,
        rule,
        reason: assignment.reason,
        lead: lead.lead.clone(),
        grade: lead.grade.clone(),
        score: lead.score,
    };
    bus::enqueue(tx, &event.follow_on(), &assigned).await?;
    tracing::info!(
        tenant_id,
        lead_id = %assigned.lead_id,
        customer_id = %assigned.customer_id,
        rep_id = %assigned.rep_id,
        rule = %assigned.rule,
        reason = %assigned.reason,
        "lead assigned"
    );
    metrics::counter!("shangji_assignment_decisions_total", "outcome" => "assigned", "rule" => rule_kind(&assigned.rule))
        .increment(1);
    Ok(())
}

async fn pool(
    tx: &mut Tx,
    event: &IncomingEvent,
    lead: &LeadQualified,
    pooling: Pooling,
    now: i64,
) -> Result<(), HandlerError> {
    let tenant_id = event.tenant_id();
    record(
        tx,
        tenant_id,
        AssignmentRecord {
            lead_id: lead.lead_id.clone(),
            customer_id: lead.customer_id.clone(),
            rep_id: None,
            team: String::new(),
            rule: POOL_RULE.to_owned(),
            reason: pooling.reason.clone(),
            candidates: Vec::new(),
            pooled: true,
            decided_at: now,
        },
    )
    .await?;
    let pooled = LeadPooled {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        team: String::new(),
        reason: pooling.reason,
    };
    bus::enqueue(tx, &event.follow_on(), &pooled).await?;
    tracing::info!(tenant_id, lead_id = %pooled.lead_id, reason = %pooled.reason, "lead pooled");
    metrics::counter!("shangji_assignment_decisions_total", "outcome" => "pooled", "rule" => POOL_RULE).increment(1);
    Ok(())
}

async fn record(
    tx: &mut Tx,
    tenant_id: &str,
    record: AssignmentRecord,
) -> Result<(), HandlerError> {
    if assignments::insert(tx, tenant_id, &record).await? {
        Ok(())
    } else {
        // Cannot happen while the turn lock is held; if it does, roll back and let the
        // redelivery find the decision that won.
        Err(HandlerError::Retry(anyhow::anyhow!(
            "lead {} was decided concurrently",
            record.lead_id
        )))
    }
}

/// The rule without the team, so the metric's label set stays small.
fn rule_kind(rule: &str) -> String {
    rule.split(':').next().unwrap_or(rule).to_owned()
}

fn reject(message: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{message}"))
}
