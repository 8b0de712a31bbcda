//! Event handlers.

mod lead_received;
mod opportunity_outcome;
pub mod scoring;

pub use lead_received::LeadReceivedHandler;
pub use opportunity_outcome::{OUTCOME_EVENTS, OpportunityOutcomeHandler};
