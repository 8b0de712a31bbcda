//! The pipeline's rules, free of gRPC, NATS and SQL: stages and moves between them,
//! closing, naming, activities and reading a lead's budget.

pub mod activity;
pub mod budget;
pub mod opportunity;
pub mod stage;

pub use activity::{Activity, ActivityKind};
pub use budget::parse_budget;
pub use opportunity::{Change, HistoryEntry, Opportunity, Outcome, Status};
pub use stage::{Pipeline, Stage};
