//! shangji-assignment: gives every qualified lead exactly one owner.
//!
//! Owns the organisation (teams tree, rep profiles; publishes `org.*`), the ordered
//! assignment rules, capacities, the pool, the decision audit, recycling and hand-over.
//! A lead for a known customer goes to that customer's owner (one customer, one owner);
//! any other lead goes by the first matching rule's strategy to an eligible rep, or waits
//! in the pool. Consumes `lead.qualified`, `lead.customer_merged`, opportunity events
//! and `reminder.escalated`; publishes `lead.assigned`, `lead.pooled`,
//! `lead.ownership_transferred`, `org.team_upserted`, `org.rep_upserted`.

mod api;
mod app;
mod bus;
pub mod clock;
mod config;
pub mod domain;
pub mod placement;
pub mod recycling;
pub mod store;

pub use app::{MIGRATIONS, SPEC, start, start_with_clock};
pub use clock::Clock;
pub use config::AssignmentConfig;
