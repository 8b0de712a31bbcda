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

use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

/// The lead stream has one durable consumer per service: qualified leads and merges.
#[derive(Debug, Default)]
pub struct LeadEvents {
    pub routing: LeadRouting,
    pub merges: CustomerMerges,
}

impl Handler for LeadEvents {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        self.routing.handle(tx, event).await?;
        self.merges.handle(tx, event).await
    }
}
