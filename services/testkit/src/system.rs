//! The whole system: nats-server plus the six service binaries, wired by environment.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::nats::NatsServer;
use crate::paths::free_ports;
use crate::postgres::Postgres;
use crate::process::ServiceProcess;

/// The services, by the short name used in binaries (`shangji-<name>`), environment
/// variables (`SHANGJI_<NAME>_...`) and databases (`shangji_<name>`).
pub const SERVICES: [&str; 6] = [
    "intake",
    "dedup",
    "assignment",
    "pipeline",
    "reminders",
    "analytics",
];

/// How to start a [`System`]. `SystemOptions::default()` gives SQLite, no tracing export.
#[derive(Debug, Default, Clone)]
pub struct SystemOptions<'a> {
    /// OTLP/gRPC endpoint (e.g. [`crate::OtlpReceiver::endpoint`]) the services export to.
    pub otlp_endpoint: Option<String>,
    /// Run the services on PostgreSQL, one database each; it must outlive the System
    /// (declare it before the System so it drops after).
    pub postgres: Option<&'a Postgres>,
    /// Added to every service's environment last, so it can override the defaults.
    pub extra_env: Vec<(String, String)>,
    /// Where the `shangji-<name>` binaries are; by default the running test's target dir
    /// (`target/<profile>/`). Lets a test run, say, release builds or stand-ins.
    pub binary_dir: Option<PathBuf>,
}

/// A running Shangji: nats-server and all six services, each healthy. Dropping it stops
/// the services (SIGTERM to all at once, then each waited for), then nats-server, and
/// removes the data dir.
pub struct System {
    // Declared before `nats`: fields drop in order, and services should stop while NATS
    // is still there rather than log reconnect failures on the way out.
    pub services: BTreeMap<&'static str, ServiceProcess>,
    pub nats: NatsServer,
    metrics_addrs: BTreeMap<&'static str, SocketAddr>,
    database_urls: BTreeMap<&'static str, String>,
    data_dir: TempDir,
}

impl System {
    /// Starts nats-server, then all services concurrently, and returns once every one
    /// reports SERVING. Each service gets:
    /// `SHANGJI_NATS_URL`, `SHANGJI_DATA_DIR`, `SHANGJI_<NAME>_LISTEN_ADDR`,
    /// `SHANGJI_<NAME>_METRICS_ADDR`, `SHANGJI_LOG=info`, `SHANGJI_LOG_FORMAT=json`, and when
    /// asked `SHANGJI_<NAME>_DATABASE_URL` and `OTEL_EXPORTER_OTLP_ENDPOINT` (with
    /// `OTEL_BSP_SCHEDULE_DELAY=100` so spans arrive quickly), then `extra_env`.
    pub async fn start(opts: SystemOptions<'_>) -> anyhow::Result<System> {
        let nats = NatsServer::start().await?;
        let data_dir = tempfile::Builder::new()
            .prefix("shangji-data-")
            .tempdir()
            .context("creating the services' data dir")?;
        let ports = free_ports(2 * SERVICES.len());
        let mut database_urls = BTreeMap::new();
        let mut metrics_addrs = BTreeMap::new();
        let mut launches = Vec::new();
        for (i, name) in SERVICES.into_iter().enumerate() {
            let grpc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[2 * i]));
            let metrics_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[2 * i + 1]));
            let upper = name.to_ascii_uppercase();
            let mut env = vec![
                ("SHANGJI_NATS_URL".to_owned(), nats.url()),
                (
                    "SHANGJI_DATA_DIR".to_owned(),
                    data_dir.path().display().to_string(),
                ),
                (
                    format!("SHANGJI_{upper}_LISTEN_ADDR"),
                    grpc_addr.to_string(),
                ),
                (
                    format!("SHANGJI_{upper}_METRICS_ADDR"),
                    metrics_addr.to_string(),
                ),
                ("SHANGJI_LOG".to_owned(), "info".to_owned()),
                ("SHANGJI_LOG_FORMAT".to_owned(), "json".to_owned()),
            ];
            if name == "intake" {
                // Web forms and webhooks on any free port, so systems can run side by side.
                env.push((
                    "SHANGJI_INTAKE_HTTP_ADDR".to_owned(),
                    "127.0.0.1:0".to_owned(),
                ));
            }
            if let Some(postgres) = opts.postgres {
                let url = postgres
                    .create_database(&format!("shangji_{name}"))
                    .await
                    .with_context(|| format!("creating the {name} database"))?;
                env.push((format!("SHANGJI_{upper}_DATABASE_URL"), url.clone()));
                database_urls.insert(name, url);
            }
            if let Some(endpoint) = &opts.otlp_endpoint {
                env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint.clone()));
                env.push(("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()));
            }
            env.extend(opts.extra_env.iter().cloned());
            metrics_addrs.insert(name, metrics_addr);
            // An absolute path makes ServiceProcess skip its own target-dir lookup.
            let binary = match &opts.binary_dir {
                Some(dir) => dir.join(format!("shangji-{name}")).display().to_string(),
                None => format!("shangji-{name}"),
            };
            launches
                .push(async move { (name, ServiceProcess::spawn(&binary, grpc_addr, env).await) });
        }

        let mut services = BTreeMap::new();
        let mut failures = Vec::new();
        for (name, started) in futures::future::join_all(launches).await {
            match started {
                Ok(process) => {
                    services.insert(name, process);
                }
                Err(err) => failures.push(format!("{name}: {err:#}")),
            }
        }
        if !failures.is_empty() {
            // The services that did start are stopped as `services` drops.
            bail!(
                "{} of {} services failed to start:\n{}",
                failures.len(),
                SERVICES.len(),
                failures.join("\n\n")
            );
        }
        Ok(System {
            services,
            nats,
            metrics_addrs,
            database_urls,
            data_dir,
        })
    }

    /// Stops every service gracefully (SIGTERM to all, then waits, up to 30 s each) and
    /// fails unless each one exited with status 0; then stops nats-server.
    ///
    /// Prefer this to dropping the System at the end of a test: it asserts clean shutdown,
    /// and it awaits, so the test's own gRPC client connections (tasks on the test's runtime)
    /// can answer the servers' HTTP/2 shutdown handshake. Drop blocks its thread instead; on
    /// a current-thread runtime with a client still open, each service then waits out the
    /// 5 s grace and is killed.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for process in self.services.values_mut() {
            process.send_sigterm();
        }
        let stops = self.services.iter_mut().map(|(name, process)| async move {
            match process.terminate().await {
                Ok(status) if status.success() => Ok(()),
                Ok(status) => Err(format!(
                    "{name} exited with {status}; log tail:\n{}",
                    process.log_tail(20)
                )),
                Err(err) => Err(format!("{name}: {err:#}")),
            }
        });
        let failures: Vec<String> = futures::future::join_all(stops)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if !failures.is_empty() {
            bail!(
                "{} services did not shut down cleanly:\n{}",
                failures.len(),
                failures.join("\n\n")
            );
        }
        Ok(())
    }

    /// `http://127.0.0.1:PORT` of a service's gRPC server. Panics on an unknown name.
    pub fn endpoint(&self, service: &str) -> String {
        self.service(service).endpoint()
    }

    /// The gRPC address of a service. Panics on an unknown name.
    pub fn grpc_addr(&self, service: &str) -> SocketAddr {
        self.service(service).grpc_addr()
    }

    /// Where a service serves Prometheus metrics. Panics on an unknown name.
    pub fn metrics_addr(&self, service: &str) -> SocketAddr {
        match self.metrics_addrs.get(service) {
            Some(addr) => *addr,
            None => unknown_service(service),
        }
    }

    /// The database URL a service was given, when on PostgreSQL.
    pub fn database_url(&self, service: &str) -> Option<&str> {
        self.database_urls.get(service).map(String::as_str)
    }

    /// `SHANGJI_DATA_DIR`: where services on SQLite keep `<name>.db`.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// One service's process. Panics on an unknown name.
    pub fn service(&self, service: &str) -> &ServiceProcess {
        match self.services.get(service) {
            Some(process) => process,
            None => unknown_service(service),
        }
    }

    /// One service's process, e.g. to kill and restart it. Panics on an unknown name.
    pub fn service_mut(&mut self, service: &str) -> &mut ServiceProcess {
        match self.services.get_mut(service) {
            Some(process) => process,
            None => unknown_service(service),
        }
    }
}

fn unknown_service(service: &str) -> ! {
    panic!("no service {service:?} in this System; the services are {SERVICES:?}")
}

impl Drop for System {
    fn drop(&mut self) {
        // Signal all first so the services drain in parallel; each ServiceProcess drop
        // then only waits (up to 5 s) for its own.
        for process in self.services.values_mut() {
            process.send_sigterm();
        }
    }
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("nats", &self.nats)
            .field("services", &self.services)
            .field("metrics_addrs", &self.metrics_addrs)
            .field("data_dir", &self.data_dir.path())
            .finish()
    }
}
