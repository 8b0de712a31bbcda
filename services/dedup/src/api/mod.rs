//! The gRPC service.

mod service;
pub mod validate;

pub use service::{DEFAULT_MATCH_LIMIT, DedupApi, MAX_MATCH_LIMIT};
