//! The service lifecycle every Shangji binary shares.
//!
//! [`start`] connects the database (and migrates it), NATS (and ensures the streams),
//! starts the outbox relay, lets the service build its gRPC services and consumers,
//! binds the listener and serves gRPC with health checking and reflection. It returns
//! once the service is listening, so tests can start services in-process on port 0.
//! [`main`] wraps it for a binary: arguments, configuration (exit 64 on a bad
//! setting), telemetry, metrics, signals and a graceful drain.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::bus::{self, Bus, ConsumerSpec, Handler};
use crate::config::{self, ServiceConfig, Settings};
use crate::db::{Db, Migrations};
use crate::grpc::GrpcTraceLayer;

/// How long the pool may take to close at exit, after the drain.
const DB_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What distinguishes one service binary from another.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Short name: `intake`, `dedup`, ...
    pub name: &'static str,
    pub default_grpc_port: u16,
    pub default_metrics_port: u16,
    pub migrations: &'static Migrations,
}

impl ServiceSpec {
    pub fn default_settings(&self) -> Settings {
        Settings::defaults(self.name, self.default_grpc_port, self.default_metrics_port)
    }
}

/// The connected resources a service builds itself from.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub settings: Settings,
    pub db: Db,
    pub bus: Bus,
    /// Cancelled when the service must stop; long-running tasks watch it.
    pub shutdown: CancellationToken,
}

impl Runtime {
    /// Starts consuming `spec` with `handler` until shutdown, starting the consumer
    /// again whenever it stops early (see [`bus::supervise_consumer`]).
    pub fn spawn_consumer<H: Handler>(
        &self,
        spec: ConsumerSpec,
        handler: std::sync::Arc<H>,
    ) -> JoinHandle<anyhow::Result<()>> {
        tokio::spawn(bus::supervise_consumer(
            self.db.clone(),
            self.bus.jetstream.clone(),
            spec,
            handler,
            self.settings.bus.clone(),
            self.shutdown.clone(),
        ))
    }
}

/// What a service hands back to be served.
pub struct ServiceParts {
    /// Its gRPC services (health and reflection are added by the platform).
    pub routes: Routes,
    /// Fully-qualified names of those services, reported SERVING by health checks.
    pub service_names: Vec<&'static str>,
    /// Background work (consumers, timers) that runs until shutdown.
    pub tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// A started service.
pub struct RunningService {
    addr: SocketAddr,
    shutdown: CancellationToken,
    join: JoinHandle<anyhow::Result<()>>,
}

impl RunningService {
    /// Where gRPC listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks for a graceful stop.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the service stopped (after [`RunningService::shutdown`] or a failure).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.join.await.context("service task panicked")?
    }

    /// Graceful stop and wait.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown();
        self.wait().await
    }
}

/// Starts a service; see the module documentation.
pub async fn start<F, Fut>(
    spec: &ServiceSpec,
    settings: Settings,
    build: F,
) -> anyhow::Result<RunningService>
where
    F: FnOnce(Runtime) -> Fut,
    Fut: Future<Output = anyhow::Result<ServiceParts>>,
{
    let db_url = settings.effective_database_url();
    let db = Db::connect(&db_url, spec.name)
        .await
        .with_context(|| format!("opening the database (database_url = {})", redact(&db_url)))?;
    db.migrate(spec.migrations)
        .await
        .context("migrating the database")?;
    let bus = Bus::connect(&settings).await?;
    bus.ensure_streams(&settings).await?;
    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(bus::outbox::run_relay(
        db.clone(),
        bus.jetstream.clone(),
        Duration::from_millis(settings.bus.outbox_poll_ms),
        shutdown.clone(),
    ));
    let runtime = Runtime {
        settings: settings.clone(),
        db: db.clone(),
        bus,
        shutdown: shutdown.clone(),
    };
    let parts = build(runtime).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen_addr)
        .await
        .with_context(|| format!("binding gRPC on {} (listen_addr)", settings.listen_addr))?;
    let addr = listener.local_addr()?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    for name in &parts.service_names {
        health
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(shangji_contracts::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(shangji_contracts::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let routes = parts
        .routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let name = spec.name;
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let stop = shutdown.clone();
    let join = tokio::spawn(async move {
        let serve = tonic::transport::Server::builder()
            .layer(GrpcTraceLayer)
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                // Nagle's algorithm would hold a small response back until the client's
                // delayed ACK (about 40 ms on Linux) whenever a write is split.
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop.clone().cancelled_owned(),
            );
        // A graceful stop waits for open calls to finish; a client that keeps a call (or
        // a stream) open must not hold the process beyond the grace period. One grace
        // period for the whole drain, counted from the stop: what the calls used of it
        // is not given again to the background work (Kubernetes kills at 30 s).
        let drain_deadline = Arc::new(OnceLock::new());
        let give_up = {
            let stop = stop.clone();
            let drain_deadline = drain_deadline.clone();
            async move {
                stop.cancelled().await;
                let deadline = *drain_deadline.get_or_init(|| Instant::now() + grace);
                tokio::time::sleep_until(deadline).await;
            }
        };
        let served = tokio::select! {
            served = serve => served.context("gRPC server failed"),
            () = give_up => {
                tracing::warn!(service = name, "open gRPC calls did not finish in time");
                Ok(())
            }
        };
        // Whatever ended serving, stop the background work too, then let it drain.
        stop.cancel();
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let mut tasks = parts.tasks;
        tasks.push(relay);
        // Serving may have ended before the watcher above saw the stop: then it starts now.
        let deadline = *drain_deadline.get_or_init(|| Instant::now() + grace);
        let drained = tokio::time::timeout_at(deadline, futures::future::join_all(tasks)).await;
        match drained {
            Err(_) => tracing::warn!(service = name, "background tasks did not drain in time"),
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => tracing::error!(
                            service = name,
                            error = format!("{err:#}"),
                            "background task failed"
                        ),
                        Err(err) => {
                            tracing::error!(service = name, error = %err, "background task panicked")
                        }
                    }
                }
            }
        }
        // Closing waits for every checked-out connection to come back; a task that
        // outlived the drain may still hold one. Exiting without it loses nothing (what
        // was acknowledged is committed; the OS closes the sockets, the server rolls back
        // an open transaction), so bound the wait rather than hang the rollout.
        if tokio::time::timeout(DB_CLOSE_GRACE, db.close())
            .await
            .is_err()
        {
            tracing::warn!(service = name, "database connections still in use at exit");
        }
        tracing::info!(service = name, "stopped");
        served
    });
    tracing::info!(service = name, %addr, "gRPC listening");
    Ok(RunningService {
        addr,
        shutdown,
        join,
    })
}

fn redact(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Parser, Debug)]
struct Args {
    /// TOML configuration file (also SHANGJI_CONFIG); environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    dump_config: bool,
}

/// A service's own start function, as `main` calls it.
pub type StartFn<C> =
    fn(Settings, C) -> Pin<Box<dyn Future<Output = anyhow::Result<RunningService>> + Send>>;

/// The whole process for a service binary. `own_defaults` is the service's own
/// configuration section; `start_service` builds and starts it.
pub fn main<C>(spec: &ServiceSpec, own_defaults: C, start_service: StartFn<C>) -> ExitCode
where
    C: ServiceConfig,
{
    let binary = format!("shangji-{}", spec.name);
    let args = Args::parse();
    let (settings, own) = match config::load(
        spec.default_settings(),
        own_defaults,
        args.config.as_deref(),
    ) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("{binary}: {err}");
            return ExitCode::from(64);
        }
    };
    if args.dump_config {
        let mut merged = serde_json::to_value(&settings).unwrap_or_default();
        if let (Some(map), Ok(serde_json::Value::Object(extra))) =
            (merged.as_object_mut(), serde_json::to_value(&own))
        {
            map.extend(extra);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&merged).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = settings.worker_threads {
        runtime.worker_threads(workers);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{binary}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        let telemetry = crate::telemetry::init(&settings).context("starting telemetry")?;
        let result = async {
            if let Some(addr) = settings.metrics_addr {
                crate::metrics::install(addr)?;
            }
            let mut signals =
                crate::shutdown::Signals::listen().context("listening for stop signals")?;
            let service = tokio::select! {
                started = start_service(settings, own) => started?,
                _ = signals.next() => {
                    // Nothing was acknowledged yet, so there is nothing to drain.
                    tracing::info!("stop requested while starting: not starting");
                    return Ok(());
                }
            };
            crate::shutdown::on_signals(signals, service.shutdown.clone());
            service.wait().await
        }
        .await;
        if let Err(err) = &result {
            tracing::error!(error = format!("{err:#}"), "service failed");
        }
        // Flushing blocks; keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
        result
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{binary}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/intake"),
            "postgres://app:***@db:5432/intake"
        );
        assert_eq!(super::redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
