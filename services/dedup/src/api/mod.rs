//! The gRPC service.

mod check;
mod fields;
mod merge;
mod page_token;
mod review;
mod scoring;
mod service;
mod thresholds;
pub mod validate;

pub use service::{DEFAULT_MATCH_LIMIT, DedupApi, MAX_MATCH_LIMIT};
