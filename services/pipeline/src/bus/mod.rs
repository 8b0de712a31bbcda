//! The pipeline on the bus: the `lead.assigned` consumer, and the opportunity events
//! the pipeline publishes (built here, enqueued by the handler and the RPCs).

pub mod events;
mod lead_assigned;

pub use lead_assigned::LeadAssignedHandler;

use shangji_contracts::events::Domain;
use shangji_platform::bus::ConsumerSpec;

/// The durable consumer of assigned leads.
pub fn lead_assigned_consumer() -> ConsumerSpec {
    ConsumerSpec::new("pipeline", Domain::Lead, &["assigned"])
}
