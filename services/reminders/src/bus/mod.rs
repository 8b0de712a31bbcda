//! Event handlers: what opportunity, lead and org events do to reminders.

mod lead_events;
mod opportunity_events;
mod org_events;
pub(crate) mod rule_clocks;
mod settings;

pub use lead_events::{LEAD_EVENTS, LeadEvents};
pub use opportunity_events::{CONSUMED_EVENTS, OpportunityEvents};
pub use org_events::{ORG_CONSUMER, ORG_EVENTS, OrgEvents};
