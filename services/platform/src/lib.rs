//! The runtime every Shangji service shares.
//!
//! - [`config`]: layered settings (defaults, file, environment), `--dump-config`.
//! - [`telemetry`]: tracing, OTLP export, W3C trace context in and out.
//! - [`db`]: SQLite or PostgreSQL from one code base, migrations, write transactions.
//! - [`bus`]: NATS JetStream streams, the transactional outbox and its relay, idempotent
//!   consumers with an inbox, bounded redelivery and a dead-letter subject.
//! - [`grpc`]: tenant and user from metadata, errors with field details, trace layer.
//! - [`idempotency`]: safe client retries of mutating RPCs.
//! - [`app`]: the service lifecycle (bind, serve with health and reflection, drain).

mod alloc;
pub mod app;
pub mod bus;
pub mod config;
pub mod db;
pub mod grpc;
pub mod idempotency;
pub mod ids;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;

/// The six services, in the order a lead meets them.
pub const SERVICE_NAMES: [&str; 6] = [
    "intake",
    "dedup",
    "assignment",
    "pipeline",
    "reminders",
    "analytics",
];

pub use app::{RunningService, ServiceParts, ServiceSpec};
pub use config::Settings;
pub use db::{Backend, Db, Tx};
