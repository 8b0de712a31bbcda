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

/// The lead stream has one durable consumer per service: qualified leads and merges.
#[derive(Debug, Default)]
pub struct LeadEvents {
    pub routing: LeadRouting,
    pub merges: CustomerMerges,
}

/// In delivery order; the batch's decisions share one read of each tenant's org
/// ([`OrgCache`]), read again after a merge, which moves customers between owners.
impl BatchHandler for LeadEvents {
    type Batch = OrgCache;

    fn new_batch(&self) -> OrgCache {
        OrgCache::default()
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        orgs: &mut OrgCache,
    ) -> Result<(), HandlerError> {
        if event.is::<LeadQualified>() {
            self.routing.route(tx, event, orgs).await
        } else {
            *orgs = OrgCache::default();
            self.merges.handle(tx, event).await
        }
    }
}
