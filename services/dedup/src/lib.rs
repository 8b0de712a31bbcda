//! shangji-dedup: finds the customer a lead belongs to (or creates it) and scores the
//! lead. Consumes `lead.received`, publishes `lead.qualified`, and answers
//! `shangji.dedup.v1.DedupService`.
//!
//! - [`domain`]: normalising phones and e-mails into match keys, choosing the
//!   customer, scoring (pure).
//! - [`store`]: customers, match keys and attached leads in SQL.
//! - [`bus`]: the lead.received handler.
//! - [`api`]: the gRPC service.

pub mod api;
pub mod app;
pub mod bus;
pub mod config;
pub mod domain;
pub mod memo;
pub mod refile;
pub mod store;

pub use app::{CONSUMER, SPEC, start};
pub use config::DedupConfig;
