//! The pipeline's rules, free of gRPC, NATS and SQL: pipelines as defined, stages, gates
//! and moves between them, field updates, approvals, data permissions, closing, naming,
//! activities, reading a lead's budget and following customer merges.

pub mod access;
pub mod activity;
pub mod approval;
pub mod attachment;
pub mod budget;
pub mod definition;
pub mod gate;
pub mod merge;
pub mod opportunity;
pub mod stage;
pub mod update;

pub use activity::{Activity, ActivityKind};
pub use attachment::Attachment;
pub use budget::parse_budget;
pub use gate::{MissingItem, StageGate};
pub use opportunity::{Change, HistoryEntry, Opportunity, Outcome, Status};
pub use stage::{Pipeline, Stage};
