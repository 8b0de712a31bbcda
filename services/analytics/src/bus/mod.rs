//! Event handlers that keep the read models current. Analytics consumes every lead and
//! opportunity event and ignores the ones it has no use for.

mod lead_events;
mod opportunity_events;

pub use lead_events::LeadEvents;
pub use opportunity_events::OpportunityEvents;

use prost_types::Timestamp;
use shangji_contracts::time::to_millis;
use shangji_platform::bus::{HandlerError, IncomingEvent};

/// The time an event carries for what it reports, or when it was published.
fn time_of(at: Option<&Timestamp>, event: &IncomingEvent) -> i64 {
    at.map(to_millis)
        .unwrap_or_else(|| event.occurred_at_millis())
}

/// An event that can never be applied (it is dead-lettered with the reason).
fn reject(reason: &str) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{reason}"))
}
