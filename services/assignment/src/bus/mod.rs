//! Event handlers: `lead.qualified` is routed to an owner (or the pool); opportunity
//! events keep each rep's open load, which capacity is checked against.

mod lead_routing;
mod rep_load;

pub use lead_routing::LeadRouting;
pub use rep_load::RepLoadTracking;
