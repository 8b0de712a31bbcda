//! shangji-pipeline: opportunities, stages, activities, won/lost and history.
//!
//! An assigned lead (`lead.assigned`) opens an opportunity in the entry stage of the
//! tenant's pipeline, or, when its customer already has an open one, is recorded on it
//! as a touchpoint. Reps move opportunities through stages, log follow-ups and close
//! them over gRPC; every change is kept in the opportunity's history and published as
//! an `opportunity.*` event.
//!
//! Rooms: [`domain`] (pure rules), [`store`] (SQL), [`api`] (gRPC), [`bus`] (events),
//! [`config`], [`app`] (wiring), [`stage_gauge`] (the per-stage gauge task).

pub mod api;
pub mod app;
pub mod bus;
pub mod config;
pub mod domain;
pub mod stage_gauge;
pub mod store;

pub use app::{SPEC, start};
pub use config::PipelineConfig;
