//! `lead.qualified` -> one owner (`lead.assigned`) or the pool (`lead.pooled`).
//!
//! Correct under redelivery and replicas: the inbox drops a redelivered event; a second
//! `lead.qualified` for a decided lead changes nothing (the first decision stands); and
//! taking the tenant's round-robin turn first serialises a tenant's decisions, so two
//! replicas never hand the same turn or the same customer to two reps.

use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::clock::Clock;
use crate::placement::{self, OrgCache};
use crate::store::assignments;

/// Decides who gets each qualified lead.
#[derive(Debug, Default)]
pub struct LeadRouting {
    pub clock: Clock,
}

impl Handler for LeadRouting {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.route(tx, event, &mut OrgCache::default()).await
    }
}

impl LeadRouting {
    /// Routes a qualified lead (other events are left alone); the decisions of one
    /// transaction share `orgs`.
    pub(crate) async fn route(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        orgs: &mut OrgCache,
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
        let now = self.clock.now();
        placement::place_new_lead(tx, &event.follow_on(), &lead, now, orgs).await?;
        Ok(())
    }
}

fn reject(message: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{message}"))
}
