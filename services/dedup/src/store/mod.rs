//! SQL for customers, match keys and attached leads (SQLite and PostgreSQL alike).

pub mod accounts;
pub mod blocking;
pub mod bulk;
pub mod customers;
pub mod key_scheme;
pub mod lead_scores;
pub mod merge;
pub mod outcomes;
pub mod parsed_cache;
pub mod resolve;
pub mod review;
pub mod scoring_rules;
pub mod thresholds;

pub use customers::CustomerRecord;
pub use resolve::{
    LeadIdentity, Resolution, ResolveError, ResolvedLead, resolve_customer, resolve_lead,
};
