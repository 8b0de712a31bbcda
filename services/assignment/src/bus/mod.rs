//! Event handlers: `lead.qualified` is routed to an owner (or the pool); opportunity
//! events keep each rep's open load and follow-up clock; merges re-point ownership;
//! escalations may return an opportunity to the pool.

mod escalation;
mod lead_routing;
mod merge;
mod rep_load;

pub use escalation::Escalations;
pub use lead_routing::LeadRouting;
pub use merge::CustomerMerges;
pub use rep_load::RepLoadTracking;

use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::Tx;
use shangji_platform::bus::{BatchHandler, Handler as _, HandlerError, IncomingEvent};

use crate::placement::OrgCache;

pub use lead_routing::DecidedLeads;

/// The lead stream has one durable consumer per service: qualified leads and merges.
#[derive(Debug, Default)]
pub struct LeadEvents {
    pub routing: LeadRouting,
    pub merges: CustomerMerges,
}

/// What a batch of lead events shares.
#[derive(Default)]
pub struct LeadBatch {
    /// One read of each tenant's org ([`OrgCache`]), read again after a merge, which
    /// moves customers between owners.
    orgs: OrgCache,
    /// Which of the batch's leads were decided before it.
    decided: DecidedLeads,
}

/// In delivery order, after reading which of the batch's leads were decided before.
impl BatchHandler for LeadEvents {
    type Batch = LeadBatch;

    fn new_batch(&self) -> LeadBatch {
        LeadBatch::default()
    }

    async fn prepare(
        &self,
        tx: &mut Tx,
        events: &[&IncomingEvent],
        batch: &mut LeadBatch,
    ) -> Result<(), HandlerError> {
        batch.decided = DecidedLeads::read(tx, events).await?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        batch: &mut LeadBatch,
    ) -> Result<(), HandlerError> {
        if event.is::<LeadQualified>() {
            self.routing
                .route(tx, event, &mut batch.orgs, &mut batch.decided)
                .await
        } else {
            batch.orgs = OrgCache::default();
            self.merges.handle(tx, event).await
        }
    }
}
