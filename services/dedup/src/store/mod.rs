//! SQL for customers, match keys and attached leads (SQLite and PostgreSQL alike).

pub mod customers;
pub mod resolve;

pub use customers::CustomerRecord;
pub use resolve::{LeadIdentity, Resolution, ResolveError, resolve_customer};
