//! Placing work: deciding who gets a lead and writing the decision's effects (owner,
//! counters, assignment log, audit, pool, events) in the caller's transaction. Shared
//! by the `lead.qualified` consumer, the pool (drain and claims), hand-over and merges.

pub mod drain;
pub mod transfer;

use std::collections::HashMap;

use prost::Message as _;
use shangji_contracts::events::lead::{LeadAssigned, LeadPooled, LeadQualified};
use shangji_platform::Tx;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::ids::new_id;

use crate::domain::rule::PRODUCT_LINE_FIELD;
use crate::domain::{
    Assignment, AssignmentRule, Audit, Decision, LeadFacts, Org, Outcome, Ownership, Pooling, Rep,
    TeamTree, decide, decision, utc_day,
};
use crate::store::assignments::AssignmentRecord;
use crate::store::decisions::DecisionRecord;
use crate::store::pool::{KIND_LEAD, PoolEntry};
use crate::store::{assignments, decisions, owners, pool, reps, rules, sequence, teams};

/// The tenant's reps (with today's load), rules and team tree, read in the transaction.
pub struct TenantOrg {
    pub reps: Vec<Rep>,
    pub rules: Vec<AssignmentRule>,
    pub tree: TeamTree,
}

impl TenantOrg {
    pub async fn load(tx: &mut Tx, tenant_id: &str, now: i64) -> Result<TenantOrg, sqlx::Error> {
        let reps = reps::list(&mut **tx, tenant_id, utc_day(now), "", false).await?;
        let rules = rules::list(&mut **tx, tenant_id).await?;
        let tree = TeamTree::new(&teams::list(&mut **tx, tenant_id).await?);
        Ok(TenantOrg { reps, rules, tree })
    }

    pub fn org(&self) -> Org<'_> {
        Org {
            reps: &self.reps,
            rules: &self.rules,
            tree: &self.tree,
        }
    }

    pub fn rep(&self, rep_id: &str) -> Option<&Rep> {
        self.reps.iter().find(|r| r.profile.rep_id == rep_id)
    }

    /// Counts a lead just given to `rep_id`, so the next decision in the same
    /// transaction sees it: its turn and today's and all-time totals as written, and
    /// its opportunity as open already (pipeline opens it later), so a drain or a
    /// hand-over moving many leads at once cannot fill a rep past capacity.
    pub fn count_lead(&mut self, rep_id: &str, turn: i64) {
        self.record_decision(rep_id, turn);
        if let Some(rep) = self.reps.iter_mut().find(|r| r.profile.rep_id == rep_id) {
            rep.load.open_count += 1;
        }
    }

    /// Applies to the copy exactly what writing a decision wrote to the rep's row (turn,
    /// totals), so the next decision reads what it would read from the database: a
    /// batch of qualified leads is decided as the same leads one by one would be.
    pub fn record_decision(&mut self, rep_id: &str, turn: i64) {
        if let Some(rep) = self.reps.iter_mut().find(|r| r.profile.rep_id == rep_id) {
            rep.load.last_assigned_seq = turn;
            rep.load.assigned_total += 1;
            rep.load.leads_today += 1;
        }
    }
}

/// What the rules read from a qualified lead.
pub fn facts(lead: &LeadQualified) -> LeadFacts<'_> {
    static NO_FIELDS: std::sync::OnceLock<std::collections::BTreeMap<String, String>> =
        std::sync::OnceLock::new();
    let captured = lead.lead.as_ref();
    let text = |f: fn(&shangji_contracts::common::Lead) -> &str| captured.map_or("", f);
    let custom_fields = captured.map_or_else(
        || NO_FIELDS.get_or_init(Default::default),
        |l| &l.custom_fields,
    );
    LeadFacts {
        customer_id: &lead.customer_id,
        region: text(|l| &l.region),
        industry: text(|l| &l.industry),
        source: text(|l| &l.source),
        product_line: custom_fields
            .get(PRODUCT_LINE_FIELD)
            .map_or("", String::as_str),
        company: text(|l| &l.company),
        grade: &lead.grade,
        custom_fields,
    }
}

/// What became of a lead.
#[derive(Clone, Debug, PartialEq)]
pub enum Placed {
    Assigned(Box<LeadAssigned>),
    Pooled(LeadPooled),
}

/// The tenants' orgs read so far in one transaction, by tenant and UTC day.
///
/// A tenant's first decision takes its round-robin turn, a lock the transaction holds
/// until it commits, so no other decision can change the reps' loads underneath. A
/// consumer batch of n leads so reads the reps, rules and teams once instead of n times,
/// and each decision records in the copy what it wrote ([`TenantOrg::record_decision`]). (A rep or rule
/// edited meanwhile, or an open count refreshed by an opportunity event, is seen from
/// the next batch, as by a decision made a moment earlier.)
#[derive(Default)]
pub struct OrgCache {
    orgs: HashMap<(String, i64), TenantOrg>,
}

impl OrgCache {
    async fn get(
        &mut self,
        tx: &mut Tx,
        tenant_id: &str,
        now: i64,
    ) -> Result<&mut TenantOrg, sqlx::Error> {
        let key = (tenant_id.to_owned(), utc_day(now));
        if !self.orgs.contains_key(&key) {
            let org = TenantOrg::load(tx, tenant_id, now).await?;
            self.orgs.insert(key.clone(), org);
        }
        Ok(self.orgs.get_mut(&key).expect("inserted above"))
    }
}

/// Decides a lead nobody decided yet (`lead.qualified`) and writes the effects. Call it
/// with one `orgs` for all the decisions of one transaction.
pub async fn place_new_lead(
    tx: &mut Tx,
    ctx: &EventContext,
    lead: &LeadQualified,
    now: i64,
    orgs: &mut OrgCache,
) -> Result<Placed, sqlx::Error> {
    let tenant_id = ctx.tenant_id.as_str();
    let turn = sequence::take_turn(tx, tenant_id).await?;
    let owner = match lead.customer_id.as_str() {
        "" => None,
        customer_id => owners::owner_of(&mut **tx, tenant_id, customer_id).await?,
    };
    let org = orgs.get(tx, tenant_id, now).await?;
    let decision = decide(&facts(lead), owner.as_deref(), org.org());
    match decision.outcome {
        Outcome::Assign(assignment) => {
            let assignment =
                settle_ownership(tx, tenant_id, &lead.customer_id, assignment, org, now).await?;
            org.record_decision(&assignment.rep_id, turn);
            let assigned = assign(
                tx,
                ctx,
                lead,
                &assignment,
                decision.audit,
                Step {
                    trigger: "qualified",
                    turn,
                    now,
                    first: true,
                },
            )
            .await?;
            Ok(Placed::Assigned(Box::new(assigned)))
        }
        Outcome::Pool(pooling) => {
            let pooled = pool_lead(tx, ctx, lead, &pooling, decision.audit, now).await?;
            Ok(Placed::Pooled(pooled))
        }
    }
}

/// Why and when an assignment is written.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// qualified, pool_drain, pool_claim
    pub trigger: &'a str,
    pub turn: i64,
    pub now: i64,
    /// True for the lead's first decision (the assignment log gets its row).
    pub first: bool,
}

/// Writes the customer's owner. If another replica settled the customer first, its
/// owner gets the lead instead: one customer, one owner.
async fn settle_ownership(
    tx: &mut Tx,
    tenant_id: &str,
    customer_id: &str,
    assignment: Assignment,
    org: &TenantOrg,
    now: i64,
) -> Result<Assignment, sqlx::Error> {
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
    match org.rep(&owner) {
        Some(rep) => {
            tracing::info!(tenant_id, customer_id, chosen = %assignment.rep_id, owner = %owner, "customer was claimed concurrently; its owner gets the lead");
            Ok(decision::to_owner(customer_id, rep))
        }
        // The turn lock makes this unreachable within one database; roll back and let
        // the redelivery read the owner's row.
        None => Err(sqlx::Error::Protocol(format!(
            "customer {customer_id} was claimed concurrently by rep {owner}, who is not known yet"
        ))),
    }
}

/// Gives the lead to `assignment.rep_id`: counters, log, audit, `lead.assigned`.
pub async fn assign(
    tx: &mut Tx,
    ctx: &EventContext,
    lead: &LeadQualified,
    assignment: &Assignment,
    audit: Audit,
    step: Step<'_>,
) -> Result<LeadAssigned, sqlx::Error> {
    let tenant_id = ctx.tenant_id.as_str();
    reps::record_assignment(
        tx,
        tenant_id,
        &assignment.rep_id,
        step.turn,
        utc_day(step.now),
        step.now,
    )
    .await?;
    let record = AssignmentRecord {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        rep_id: Some(assignment.rep_id.clone()),
        team: assignment.team.clone(),
        rule: assignment.rule.clone(),
        reason: assignment.reason.clone(),
        candidates: assignment.candidates.clone(),
        pooled: false,
        decided_at: step.now,
    };
    log_decision(tx, tenant_id, &record, step, "", audit).await?;
    let assigned = LeadAssigned {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        rep_id: assignment.rep_id.clone(),
        team: assignment.team.clone(),
        rule: assignment.rule.clone(),
        reason: assignment.reason.clone(),
        lead: lead.lead.clone(),
        grade: lead.grade.clone(),
        score: lead.score,
    };
    bus::enqueue(tx, ctx, &assigned).await?;
    tracing::info!(tenant_id, lead_id = %assigned.lead_id, customer_id = %assigned.customer_id, rep_id = %assigned.rep_id, rule = %assigned.rule, trigger = step.trigger, reason = %assigned.reason, "lead assigned");
    metrics::counter!("shangji_assignment_decisions_total", "outcome" => "assigned", "trigger" => step.trigger.to_owned())
        .increment(1);
    Ok(assigned)
}

/// Puts a new lead in the pool: log, audit, pool entry, `lead.pooled`.
async fn pool_lead(
    tx: &mut Tx,
    ctx: &EventContext,
    lead: &LeadQualified,
    pooling: &Pooling,
    audit: Audit,
    now: i64,
) -> Result<LeadPooled, sqlx::Error> {
    let tenant_id = ctx.tenant_id.as_str();
    let record = AssignmentRecord {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        rep_id: None,
        team: pooling.team.clone(),
        rule: decision::POOL_RULE.to_owned(),
        reason: pooling.reason.clone(),
        candidates: Vec::new(),
        pooled: true,
        decided_at: now,
    };
    let step = Step {
        trigger: "qualified",
        turn: 0,
        now,
        first: true,
    };
    log_decision(tx, tenant_id, &record, step, &pooling.team, audit).await?;
    pool::insert(
        tx,
        tenant_id,
        &PoolEntry {
            entry_id: new_id("pool"),
            kind: KIND_LEAD.to_owned(),
            lead_id: lead.lead_id.clone(),
            customer_id: lead.customer_id.clone(),
            opportunity_id: String::new(),
            team: pooling.team.clone(),
            reason: pooling.reason.clone(),
            auto_assign: pooling.auto_assign,
            previous_rep_id: String::new(),
            lead_event: lead.encode_to_vec(),
            pooled_at: now,
        },
    )
    .await?;
    let pooled = LeadPooled {
        lead_id: lead.lead_id.clone(),
        customer_id: lead.customer_id.clone(),
        team: pooling.team.clone(),
        reason: pooling.reason.clone(),
    };
    bus::enqueue(tx, ctx, &pooled).await?;
    tracing::info!(tenant_id, lead_id = %pooled.lead_id, team = %pooled.team, reason = %pooled.reason, "lead pooled");
    metrics::counter!("shangji_assignment_decisions_total", "outcome" => "pooled", "trigger" => "qualified")
        .increment(1);
    Ok(pooled)
}

/// The assignment log keeps the decision in effect; `decisions` keeps every one.
async fn log_decision(
    tx: &mut Tx,
    tenant_id: &str,
    record: &AssignmentRecord,
    step: Step<'_>,
    pool_team: &str,
    audit: Audit,
) -> Result<(), sqlx::Error> {
    if step.first {
        if !assignments::insert(tx, tenant_id, record).await? {
            // Cannot happen while the turn lock is held; roll back, and the redelivery
            // finds the decision that won.
            return Err(sqlx::Error::Protocol(format!(
                "lead {} was decided concurrently",
                record.lead_id
            )));
        }
    } else {
        assignments::reassign(tx, tenant_id, record).await?;
    }
    decisions::insert(
        tx,
        tenant_id,
        &DecisionRecord {
            decision_id: new_id("dec"),
            lead_id: record.lead_id.clone(),
            customer_id: record.customer_id.clone(),
            trigger: step.trigger.to_owned(),
            rep_id: record.rep_id.clone().unwrap_or_default(),
            pooled: record.pooled,
            pool_team: pool_team.to_owned(),
            rule: record.rule.clone(),
            reason: record.reason.clone(),
            audit,
            decided_at: step.now,
        },
    )
    .await
}

/// For callers that decided already (claims): the decision as the audit records it.
pub fn claimed_decision(rep: &Rep, customer_id: &str, entry_id: &str) -> Decision {
    let rep_id = &rep.profile.rep_id;
    Decision {
        outcome: Outcome::Assign(Assignment {
            rep_id: rep_id.clone(),
            team: rep.profile.team.clone(),
            rule: "pool-claim".to_owned(),
            reason: format!("rep {rep_id} claimed pool entry {entry_id}"),
            candidates: vec![rep_id.clone()],
            ownership: if customer_id.is_empty() {
                Ownership::NoCustomer
            } else {
                Ownership::Claimed
            },
        }),
        audit: Audit::default(),
    }
}
