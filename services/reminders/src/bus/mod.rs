//! Event handlers: what opportunity events do to reminders.

mod opportunity_events;

pub use opportunity_events::{CONSUMED_EVENTS, OpportunityEvents};
