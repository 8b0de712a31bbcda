//! The pipeline on the bus: the consumers (assigned leads, ownership transfers, customer
//! merges, the organisation replica) and
//! the opportunity events the pipeline publishes (built here, enqueued by the handlers
//! and the RPCs).

mod customer_merges;
pub mod events;
mod lead_assigned;
mod org;
mod ownership;

pub use customer_merges::CustomerMergesHandler;
pub use lead_assigned::LeadAssignedHandler;
pub use org::OrgHandler;
pub use ownership::OwnershipHandler;

use shangji_contracts::events::Domain;
use shangji_platform::bus::ConsumerSpec;

/// The durable consumer of assigned leads.
pub fn lead_assigned_consumer() -> ConsumerSpec {
    ConsumerSpec::new("pipeline", Domain::Lead, &["assigned"])
}

/// The durable consumer of the organisation (teams and reps) for the local replica.
pub fn org_consumer() -> ConsumerSpec {
    ConsumerSpec::new("pipeline", Domain::Org, &["team_upserted", "rep_upserted"])
}

/// The durable consumer of ownership transfers. A durable of its own: an existing
/// `pipeline` durable on the lead stream keeps the filter it was created with.
pub fn ownership_consumer() -> ConsumerSpec {
    ConsumerSpec::new(
        "pipeline-ownership",
        Domain::Lead,
        &["ownership_transferred"],
    )
}

/// The durable consumer of customer merges and unmerges (a durable of its own, like
/// ownership transfers, so existing durables keep their filters).
pub fn customer_merges_consumer() -> ConsumerSpec {
    ConsumerSpec::new(
        "pipeline-merges",
        Domain::Lead,
        &["customer_merged", "customer_unmerged"],
    )
}
