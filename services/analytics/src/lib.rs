//! shangji-analytics: read models over the events, answering "where is each
//! opportunity, and how is the funnel doing?" without asking any other service.
//!
//! Every lead and opportunity event updates small tables incrementally (leads
//! received, one row per opportunity with its furthest stage, the stage catalog learned
//! from the events); the `Funnel` RPC aggregates them with grouped queries.
//!
//! - [`domain`]: funnel arithmetic and stage rules, pure.
//! - [`store`]: the read models in SQL.
//! - [`bus`]: event handlers that keep them current.
//! - [`api`]: the `AnalyticsService` gRPC service.

pub mod api;
pub mod app;
pub mod bus;
pub mod config;
pub mod domain;
pub mod store;

pub use app::{MIGRATIONS, SPEC, start};
pub use config::AnalyticsConfig;
