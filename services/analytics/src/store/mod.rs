//! The read models in SQL, one function per query, tenant in every `WHERE`. Writes take
//! the consumer's transaction, so they commit with the event's inbox row.

pub mod catalog;
pub mod funnel;
pub mod leads;
pub mod opportunities;

pub use opportunities::{OpportunityFacts, UNKNOWN};
