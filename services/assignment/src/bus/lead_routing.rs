//! `lead.qualified` -> one owner (`lead.assigned`) or the pool (`lead.pooled`).
//!
//! Correct under redelivery and replicas: the inbox drops a redelivered event; a second
//! `lead.qualified` for a decided lead changes nothing (the first decision stands); and
//! taking the tenant's round-robin turn first serialises a tenant's decisions, so two
//! replicas never hand the same turn or the same customer to two reps.

use std::collections::HashMap;

use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::clock::Clock;
use crate::placement::{self, OrgCache, Placed};
use crate::store::assignments;

/// Decides who gets each qualified lead.
#[derive(Debug, Default)]
pub struct LeadRouting {
    pub clock: Clock,
}

impl Handler for LeadRouting {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let mut decided = DecidedLeads::read(tx, &[event]).await?;
        self.route(tx, event, &mut OrgCache::default(), &mut decided)
            .await
    }
}

/// The decisions already taken for a batch's leads (rep, none when pooled, and rule),
/// read in one statement per tenant before the batch is applied; the leads the batch
/// decides are added as it goes, so a lead qualified twice in one batch is decided once.
#[derive(Debug, Default)]
pub struct DecidedLeads {
    leads: HashMap<(String, String), (Option<String>, String)>,
}

impl DecidedLeads {
    /// The decisions taken before for the qualified leads among `events`.
    pub async fn read(
        tx: &mut Tx,
        events: &[&IncomingEvent],
    ) -> Result<DecidedLeads, HandlerError> {
        let mut by_tenant: HashMap<&str, Vec<String>> = HashMap::new();
        for event in events {
            if event.is::<LeadQualified>() {
                let lead: LeadQualified = event.decode()?;
                if !lead.lead_id.is_empty() {
                    by_tenant
                        .entry(event.tenant_id())
                        .or_default()
                        .push(lead.lead_id);
                }
            }
        }
        let mut decided = DecidedLeads::default();
        for (tenant_id, lead_ids) in by_tenant {
            let lead_ids: Vec<&str> = lead_ids.iter().map(String::as_str).collect();
            for (lead_id, rep_id, rule) in
                assignments::decided_among(tx, tenant_id, &lead_ids).await?
            {
                decided
                    .leads
                    .insert((tenant_id.to_owned(), lead_id), (rep_id, rule));
            }
        }
        Ok(decided)
    }

    fn get(&self, tenant_id: &str, lead_id: &str) -> Option<&(Option<String>, String)> {
        self.leads.get(&(tenant_id.to_owned(), lead_id.to_owned()))
    }

    fn add(&mut self, tenant_id: &str, lead_id: &str, rep_id: Option<String>, rule: String) {
        self.leads
            .insert((tenant_id.to_owned(), lead_id.to_owned()), (rep_id, rule));
    }
}

impl LeadRouting {
    /// Routes a qualified lead (other events are left alone); the decisions of one
    /// transaction share `orgs` and `decided` (read for the leads of the batch).
    pub(crate) async fn route(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        orgs: &mut OrgCache,
        decided: &mut DecidedLeads,
    ) -> Result<(), HandlerError> {
        if !event.is::<LeadQualified>() {
            return Ok(());
        }
        let lead: LeadQualified = event.decode()?;
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(reject("lead.qualified event has no tenant_id"));
        }
        if lead.lead_id.is_empty() {
            return Err(reject("lead.qualified event has no lead_id"));
        }
        if let Some((rep_id, rule)) = decided.get(tenant_id, &lead.lead_id) {
            tracing::info!(
                tenant_id,
                lead_id = %lead.lead_id,
                rep_id = rep_id.as_deref().unwrap_or(""),
                rule = %rule,
                "lead already decided; the first decision stands"
            );
            return Ok(());
        }
        let now = self.clock.now();
        let placed = placement::place_new_lead(tx, &event.follow_on(), &lead, now, orgs).await?;
        let (rep_id, rule) = match placed {
            Placed::Assigned(assigned) => (Some(assigned.rep_id), assigned.rule),
            Placed::Pooled(_) => (None, String::new()),
        };
        decided.add(tenant_id, &lead.lead_id, rep_id, rule);
        Ok(())
    }
}

fn reject(message: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{message}"))
}
