//! Event handlers that keep the read models current. Analytics consumes every lead,
//! opportunity, reminder and org event and ignores what changes no figure. The same
//! code applies events during a rebuild (see `rebuild`).

mod changes;
mod gather;
pub mod rebuild;

pub use changes::{Change, change_of};
pub use rebuild::{RebuildError, RebuildOutcome, rebuild_tenant};

use std::collections::HashMap;

use shangji_platform::Tx;
use tracing::Instrument as _;

use gather::Gathered;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::store::catalog::Learned;
use crate::store::{generations, org, projection, states};

/// The live consumers' handler (one for each stream).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadModelEvents;

impl Handler for ReadModelEvents {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        apply_events(tx, &[event]).await
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        events: &[&IncomingEvent],
    ) -> Result<(), HandlerError> {
        apply_events(tx, events).await
    }
}

/// Applies a batch of live events: org changes at once, opportunity and lead changes
/// gathered and written once per state (see [`gather`]).
async fn apply_events(tx: &mut Tx, events: &[&IncomingEvent]) -> Result<(), HandlerError> {
    let mut gathered = Gathered::default();
    let mut learned = Learned::default();
    // Read once per tenant: the batch is one transaction, applied as of its start.
    let mut targets: HashMap<&str, generations::Targets> = HashMap::new();
    for event in events {
        let tenant = event.tenant_id();
        if tenant.is_empty() {
            return Err(changes::reject("the envelope names no tenant"));
        }
        let change = change_of(tx, &mut learned, event)
            .instrument(event.span.clone())
            .await?;
        match &change {
            Change::Nothing => continue,
            Change::Team(t) => {
                let record = org::TeamRecord {
                    team_id: &t.team_id,
                    parent_team_id: &t.parent_team_id,
                    manager_rep_id: &t.manager_rep_id,
                    ancestor_team_ids: &t.ancestor_team_ids,
                    version: i64::try_from(t.version).unwrap_or(i64::MAX),
                };
                org::upsert_team(tx, tenant, &record).await?;
                continue;
            }
            Change::Rep(r) => {
                let record = org::RepRecord {
                    rep_id: &r.rep_id,
                    team_id: &r.team_id,
                    role: &r.role,
                    status: &r.status,
                    version: i64::try_from(r.version).unwrap_or(i64::MAX),
                };
                org::upsert_rep(tx, tenant, &record).await?;
                continue;
            }
            _ => {}
        }
        let target = match targets.get(tenant) {
            Some(target) => *target,
            None => {
                let target = generations::targets(tx, tenant).await?;
                targets.insert(tenant, target);
                target
            }
        };
        // The inbox guards the live generation; a generation being rebuilt keeps its own
        // record, because the rebuild replays the same events.
        let building = match target.building {
            Some(b) if generations::first_application(tx, tenant, b, event.event_id()).await? => {
                Some(b)
            }
            _ => None,
        };
        if matches!(change, Change::Transfer { .. }) {
            gathered.flush(tx).await?;
            apply(tx, tenant, target.live, &change).await?;
            if let Some(b) = building {
                apply(tx, tenant, b, &change).await?;
            }
        } else {
            if let Some(b) = building {
                gathered.push(tenant, b, change.clone());
            }
            gathered.push(tenant, target.live, change);
        }
        tracing::debug!(
            tenant,
            event_type = event.event_type(),
            "read models updated"
        );
    }
    gathered.flush(tx).await?;
    learned.write(tx).await?;
    Ok(())
}

/// Applies one change to one generation.
pub async fn apply(
    tx: &mut Tx,
    tenant: &str,
    generation: i64,
    change: &Change,
) -> Result<(), sqlx::Error> {
    match change {
        Change::Opportunity(id, facts) => {
            projection::apply_opportunities(tx, tenant, generation, &[(id.as_str(), facts)]).await
        }
        Change::Lead(id, facts) => projection::apply_lead(tx, tenant, generation, id, facts).await,
        Change::Transfer {
            customer_id,
            from_rep_id,
            opportunities,
            leads,
            to_rep_id,
            team,
            at,
        } => {
            let opportunities = if opportunities.is_empty() && !customer_id.is_empty() {
                states::open_opportunities_of(tx, tenant, generation, customer_id, from_rep_id)
                    .await?
            } else {
                opportunities.clone()
            };
            let facts = crate::domain::OpportunityFacts {
                at: *at,
                owner: Some(to_rep_id.clone()),
                team: (!team.is_empty()).then(|| team.clone()),
                ..Default::default()
            };
            let changes: Vec<_> = opportunities
                .iter()
                .map(|id| (id.as_str(), &facts))
                .collect();
            projection::apply_opportunities(tx, tenant, generation, &changes).await?;
            let lead_facts = crate::domain::LeadFacts {
                at: *at,
                holder: Some((to_rep_id.clone(), team.clone())),
                ..Default::default()
            };
            let lead_changes: Vec<_> = leads.iter().map(|id| (id.as_str(), &lead_facts)).collect();
            projection::apply_leads(tx, tenant, generation, &lead_changes).await
        }
        Change::Team(_) | Change::Rep(_) | Change::Nothing => Ok(()),
    }
}
