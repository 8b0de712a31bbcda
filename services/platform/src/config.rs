//! Layered settings: built-in defaults, then an optional TOML file (`--config` or
//! `SHANGJI_CONFIG`), then environment variables. Shared variables use the prefix
//! `SHANGJI_` (e.g. `SHANGJI_NATS_URL`); a service's own use `SHANGJI_<SERVICE>_`
//! (e.g. `SHANGJI_INTAKE_LISTEN_ADDR`) and win over the shared ones. `__` nests
//! (`SHANGJI_BUS__MAX_DELIVER`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Settings every service has.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// The service's short name (`intake`, `dedup`, ...); fixed by the binary.
    #[serde(skip_deserializing, default)]
    pub service: String,
    /// Where gRPC listens. Port 0 picks a free port.
    pub listen_addr: SocketAddr,
    /// Where Prometheus metrics are served over HTTP; unset disables them.
    pub metrics_addr: Option<SocketAddr>,
    /// `sqlite://...` or `postgres://...`; unset means `<data_dir>/<service>.db`.
    pub database_url: Option<String>,
    /// Folder for the SQLite files when no database URL is set.
    pub data_dir: PathBuf,
    pub nats_url: String,
    /// `pretty` for people, `json` for log pipelines.
    pub log_format: LogFormat,
    /// tracing filter directives, e.g. `info` or `info,shangji_dedup=debug`.
    pub log: String,
    /// OTLP/gRPC collector; unset disables trace export (trace context still propagates).
    pub otlp_endpoint: Option<String>,
    pub bus: BusSettings,
    /// How long a first SIGTERM may take to drain before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// Async worker threads; unset, one per CPU the process may use. Each consumer
    /// applies one batch at a time, handing every statement to its database thread and
    /// back, so where all six services share a few cores one worker each spends less
    /// on waking threads than two (`make run` sets 1; see docs/benchmarks.md).
    pub worker_threads: Option<usize>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How the service uses JetStream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BusSettings {
    /// Deliveries of one message before it goes to the dead-letter subject.
    pub max_deliver: u32,
    /// Seconds the server waits for an ack before redelivering.
    pub ack_wait_secs: u64,
    /// Messages handled in one database transaction at most.
    pub batch_size: usize,
    /// How long a consumer waits, after a message arrives, for more to join its batch
    /// (0: take what is ready). Each batch costs a transaction and its fixed statements;
    /// at a steady trickle a few milliseconds' wait turns many one-message batches into
    /// a few larger ones, for that much more latency per hop.
    pub batch_linger_ms: u64,
    /// How often the outbox relay looks for unsent events when nothing woke it.
    pub outbox_poll_ms: u64,
    /// Replicas of each stream the service creates (3 in a cluster).
    pub stream_replicas: usize,
    /// JetStream de-duplication window on Nats-Msg-Id, in seconds.
    pub duplicate_window_secs: u64,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            max_deliver: 5,
            ack_wait_secs: 30,
            batch_size: 256,
            batch_linger_ms: 5,
            outbox_poll_ms: 200,
            stream_replicas: 1,
            duplicate_window_secs: 600,
        }
    }
}

impl Settings {
    /// Defaults for a service listening on `port` locally, metrics on `metrics_port`.
    pub fn defaults(service: &str, port: u16, metrics_port: u16) -> Settings {
        Settings {
            service: service.to_owned(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], metrics_port))),
            database_url: None,
            data_dir: PathBuf::from("./data"),
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            log_format: LogFormat::Pretty,
            log: "info".to_owned(),
            otlp_endpoint: None,
            bus: BusSettings::default(),
            shutdown_grace_secs: 20,
            worker_threads: None,
        }
    }

    /// The database URL in effect: the configured one, or a SQLite file in the data folder.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(format!("{}.db", self.service)).display()
            ),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                setting: "database_url".into(),
                reason: format!("`{url}` must start with sqlite:, postgres:// or postgresql://"),
            });
        }
        if !(self.nats_url.starts_with("nats://") || self.nats_url.starts_with("tls://")) {
            return Err(ConfigError::Invalid {
                setting: "nats_url".into(),
                reason: format!("`{}` must start with nats:// or tls://", self.nats_url),
            });
        }
        if self.bus.max_deliver == 0 || self.bus.batch_size == 0 {
            return Err(ConfigError::Invalid {
                setting: "bus.max_deliver / bus.batch_size".into(),
                reason: "must be at least 1".into(),
            });
        }
        if self.worker_threads == Some(0) {
            return Err(ConfigError::Invalid {
                setting: "worker_threads".into(),
                reason: "must be at least 1 (unset: one per CPU)".into(),
            });
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return Err(ConfigError::Invalid {
                setting: "log".into(),
                reason: format!("`{}` is not a valid tracing filter", self.log),
            });
        }
        Ok(())
    }
}

/// A service's own settings section: serde for loading, `validate` for the checks serde
/// cannot express (ranges, formats). A failure stops the binary with exit code 64.
pub trait ServiceConfig: Serialize + DeserializeOwned + Send + 'static {
    /// Says which setting is wrong and why.
    fn validate(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Service(String),
    #[error("configuration error: {0}")]
    Parse(String),
    #[error("configuration error in `{setting}`: {reason}")]
    Invalid { setting: String, reason: String },
}

/// Builds the layered figment for a service. `file` is the TOML file, if any.
fn figment<T: Serialize>(service: &str, defaults: &T, file: Option<&Path>) -> Figment {
    let own_prefix = format!("SHANGJI_{}_", service.to_ascii_uppercase());
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment
        .merge(
            Env::raw()
                .only(&["OTEL_EXPORTER_OTLP_ENDPOINT"])
                .map(|_| "otlp_endpoint".into()),
        )
        .merge(Env::prefixed("SHANGJI_").split("__").filter(|key| {
            // Keys of other services (SHANGJI_DEDUP_...) and the file selector are not ours.
            let key = key.as_str();
            key != "config"
                && !crate::SERVICE_NAMES
                    .iter()
                    .any(|s| key.starts_with(&format!("{s}_")))
        }))
        .merge(Env::prefixed(&own_prefix).split("__"))
}

/// Loads the shared settings plus the service's own section `T` (its fields sit at the
/// top level next to the shared ones, e.g. `SHANGJI_REMINDERS_FIRST_CONTACT_HOURS`).
pub fn load<T>(
    base: Settings,
    own_defaults: T,
    file: Option<&Path>,
) -> Result<(Settings, T), ConfigError>
where
    T: ServiceConfig,
{
    let service = base.service.clone();
    let file = file
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SHANGJI_CONFIG").map(PathBuf::from));
    let mut settings: Settings = figment(&service, &base, file.as_deref())
        .extract()
        .map_err(|e| ConfigError::Parse(e.to_string()))?;
    settings.service = service.clone();
    settings.validate()?;
    let own: T = figment(&service, &own_defaults, file.as_deref())
        .extract()
        .map_err(|e| ConfigError::Parse(e.to_string()))?;
    own.validate()
        .map_err(|e| ConfigError::Service(format!("{e:#}")))?;
    Ok((settings, own))
}

#[cfg(test)]
// figment's Jail closures return figment's (large) error type; Jail also serialises and
// restores the environment, so these tests never see each other's variables.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
    struct Own {
        first_contact_hours: u32,
    }

    impl ServiceConfig for Own {}

    #[test]
    fn own_prefix_wins_over_shared_and_other_services_are_ignored() {
        Jail::expect_with(|jail| {
            jail.set_env("SHANGJI_NATS_URL", "nats://127.0.0.1:5000");
            jail.set_env("SHANGJI_LISTEN_ADDR", "127.0.0.1:1");
            jail.set_env("SHANGJI_INTAKE_LISTEN_ADDR", "127.0.0.1:2");
            jail.set_env("SHANGJI_DEDUP_LISTEN_ADDR", "127.0.0.1:3");
            jail.set_env("SHANGJI_INTAKE_BUS__MAX_DELIVER", "9");
            jail.set_env("SHANGJI_INTAKE_FIRST_CONTACT_HOURS", "4");
            let (s, own) = load(
                Settings::defaults("intake", 50051, 9151),
                Own::default(),
                None,
            )
            .expect("loads");
            assert_eq!(s.nats_url, "nats://127.0.0.1:5000");
            assert_eq!(s.listen_addr.port(), 2);
            assert_eq!(s.bus.max_deliver, 9);
            assert_eq!(own.first_contact_hours, 4);
            assert!(s.effective_database_url().ends_with("intake.db?mode=rwc"));
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_the_setting() {
        Jail::expect_with(|jail| {
            jail.set_env("SHANGJI_INTAKE_LISTEN_ADDR", "not-an-address");
            let err = load(Settings::defaults("intake", 1, 2), Own::default(), None).unwrap_err();
            assert!(
                err.to_string().to_lowercase().contains("listen_addr"),
                "{err}"
            );
            jail.set_env("SHANGJI_INTAKE_LISTEN_ADDR", "127.0.0.1:1");
            jail.set_env("SHANGJI_DATABASE_URL", "mysql://x");
            let err = load(Settings::defaults("intake", 1, 2), Own::default(), None).unwrap_err();
            assert!(err.to_string().contains("database_url"), "{err}");
            Ok(())
        });
    }
}
