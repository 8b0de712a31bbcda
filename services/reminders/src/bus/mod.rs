//! Event handlers: what opportunity and org events do to reminders.

mod opportunity_events;
mod org_events;
mod rule_clocks;

pub use opportunity_events::{CONSUMED_EVENTS, OpportunityEvents};
pub use org_events::{ORG_EVENTS, OrgEvents};
