//! Funnel arithmetic and stage rules, free of gRPC, NATS and SQL.

mod funnel;
mod stage;

pub use funnel::{
    CatalogStage, Funnel, FunnelStageFigures, ReachedBucket, StageOccupancy, WON_STAGE, funnel,
};
pub use stage::{OpportunityStatus, is_terminal_stage};
