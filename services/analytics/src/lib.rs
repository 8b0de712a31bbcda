//! shangji-analytics: read models over the events, answering "where is each
//! opportunity, how is the funnel doing, what will close?" without asking any other
//! service.
//!
//! Every event is merged into the state of the opportunity or lead it is about (in any
//! order, any number of times); what a state contributes to the rollups is a pure
//! function of it, so the rollups move by the difference and every report is a small
//! grouped sum. See README.md.
//!
//! - [`domain`]: states, contributions, funnel/forecast/histogram arithmetic, permissions.
//! - [`store`]: the read models in SQL (states, rollups, generations, org replica).
//! - [`bus`]: the event handler that keeps them current, and the rebuild from the streams.
//! - [`api`]: the `AnalyticsService` gRPC service and CSV export.

pub mod api;
pub mod app;
pub mod bus;
pub mod config;
pub mod domain;
pub mod store;

pub use app::{MIGRATIONS, SPEC, start};
pub use config::AnalyticsConfig;
