//! The read models in SQL, one function per query, tenant in every `WHERE`. Writes take
//! the consumer's transaction, so they commit with the event's inbox row.

pub mod catalog;
pub mod generations;
pub mod org;
pub mod projection;
pub mod rollups;
pub mod states;
