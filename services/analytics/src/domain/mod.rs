//! Read-model rules, free of gRPC, NATS and SQL: how events merge into per-opportunity
//! and per-lead states, what each state contributes to the rollups, and the report
//! arithmetic over rollup rows.

pub mod contribution;
mod forecast;
mod funnel;
mod histogram;
mod lead;
mod opportunity;
pub mod period;
mod scope;
mod stage;
mod versioned;

pub use forecast::{Category, CategoryThresholds, ClosedWon, ForecastMonth, OpenDeals, forecast};
pub use funnel::{
    CatalogStage, Funnel, FunnelStageFigures, ReachedBucket, StageOccupancy, WON_STAGE, funnel,
};
pub use histogram::{bucket_days, bucket_of, quantile_days};
pub use lead::{LeadFacts, LeadState, UNKNOWN_SOURCE};
pub use opportunity::{
    Closing, OpportunityFacts, OpportunityState, Origin, StagePosition, Touch, Visit, to_cents,
};
pub use scope::{Caller, Role, Scope, scope_of};
pub use stage::{OpportunityStatus, is_terminal_stage};
pub use versioned::{UNKNOWN, Versioned};
