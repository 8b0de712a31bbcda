//! shangji-assignment: gives every qualified lead exactly one owner.
//!
//! A lead for a known customer goes to that customer's owner (one customer, one owner);
//! any other lead goes by round robin to an active rep covering its region and industry
//! with free capacity, who then owns the customer; when nobody can take it, it waits in
//! the pool. Consumes `lead.qualified` and the opportunity events that tell how many open
//! opportunities each rep carries; publishes `lead.assigned` or `lead.pooled`.

mod api;
mod app;
mod bus;
mod config;
pub mod domain;
pub mod store;

pub use app::{MIGRATIONS, SPEC, start};
pub use config::AssignmentConfig;
