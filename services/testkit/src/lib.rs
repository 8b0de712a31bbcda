//! Test harness for Shangji: starts the real infrastructure (nats-server with JetStream,
//! a private PostgreSQL, the service binaries, an OTLP trace receiver) on 127.0.0.1 and
//! tears it down again when the handles drop, including when a test panics.
//!
//! Nothing here sleeps for readiness: every start polls until the thing really answers.
//!
//! ```no_run
//! use shangji_testkit::{OtlpReceiver, Postgres, System, SystemOptions, postgres_available};
//!
//! // multi_thread: lets the test's own gRPC connections close while services shut down,
//! // and the OTLP exporter needs it anyway.
//! #[tokio::test(flavor = "multi_thread")]
//! async fn a_lead_flows_through() -> anyhow::Result<()> {
//!     let traces = OtlpReceiver::start().await?;
//!     let postgres = if postgres_available() { Some(Postgres::start().await?) } else { None };
//!     let system = System::start(SystemOptions {
//!         otlp_endpoint: Some(traces.endpoint()),
//!         postgres: postgres.as_ref(),
//!         ..Default::default()
//!     })
//!     .await?;
//!     let intake = system.endpoint("intake"); // hand it to a tonic client
//!     // ... drive the system, then assert eventually:
//!     traces
//!         .wait_for("the intake span", std::time::Duration::from_secs(10), |spans| {
//!             spans.iter().any(|s| s.service_name == "shangji-intake")
//!         })
//!         .await?;
//!     system.shutdown().await // asserts every service exits 0 on SIGTERM
//! }
//! # fn main() {}
//! ```

pub mod events;
mod nats;
mod otlp;
mod paths;
mod poll;
mod postgres;
mod process;
mod system;

pub use nats::NatsServer;
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use paths::{binary_dir, free_port, free_ports, nats_server_binary, workspace_root};
pub use poll::poll_until;
pub use postgres::{Postgres, postgres_available};
pub use process::ServiceProcess;
pub use system::{SERVICES, System, SystemOptions};
