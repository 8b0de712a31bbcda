//! Event handlers.

mod lead_received;

pub use lead_received::LeadReceivedHandler;
