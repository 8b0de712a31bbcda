//! Wiring: the service's spec, its migrations, gRPC service and consumers.

use std::sync::Arc;

use anyhow::Context as _;

use shangji_contracts::events::Domain;
use shangji_contracts::intake::intake_service_server::IntakeServiceServer;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;

use crate::api::IntakeApi;
use crate::bus::LeadProgress;
use crate::capture::Capture;
use crate::config::IntakeConfig;

static MIGRATIONS: Migrations = Migrations {
    component: "intake",
    list: &[
        Migration {
            version: 1,
            name: "leads and their trail",
            sqlite: include_str!("../migrations/sqlite/0001_leads.sql"),
            postgres: include_str!("../migrations/postgres/0001_leads.sql"),
        },
        Migration {
            version: 2,
            name: "field schemas and attribution",
            sqlite: include_str!("../migrations/sqlite/0002_schemas_and_attribution.sql"),
            postgres: include_str!("../migrations/postgres/0002_schemas_and_attribution.sql"),
        },
        Migration {
            version: 3,
            name: "imports, their reports and mapping presets",
            sqlite: include_str!("../migrations/sqlite/0003_imports.sql"),
            postgres: include_str!("../migrations/postgres/0003_imports.sql"),
        },
        Migration {
            version: 4,
            name: "web forms and webhook connectors",
            sqlite: include_str!("../migrations/sqlite/0004_http_channels.sql"),
            postgres: include_str!("../migrations/postgres/0004_http_channels.sql"),
        },
        Migration {
            version: 5,
            name: "screening: flagged leads and flood counters",
            sqlite: include_str!("../migrations/sqlite/0005_screening.sql"),
            postgres: include_str!("../migrations/postgres/0005_screening.sql"),
        },
    ],
};

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "intake",
    default_grpc_port: 50051,
    default_metrics_port: 9151,
    migrations: &MIGRATIONS,
};

/// Starts intake and returns once it listens (gRPC on `listen_addr`, the HTTP channels
/// on `http_addr` unless that is empty).
pub async fn start(settings: Settings, config: IntakeConfig) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config, None)).await
}

/// Starts intake with the HTTP channels on a listener the caller bound (tests bind
/// 127.0.0.1:0 first, so they know the address and no port can be taken meanwhile).
pub async fn start_with_http_listener(
    settings: Settings,
    config: IntakeConfig,
    http: std::net::TcpListener,
) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config, Some(http))).await
}

async fn build(
    rt: Runtime,
    config: IntakeConfig,
    http: Option<std::net::TcpListener>,
) -> anyhow::Result<ServiceParts> {
    let capture = Capture::new(rt.db.clone(), config.flood_limits());
    let http = match http {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            Some(tokio::net::TcpListener::from_std(listener)?)
        }
        None => match config.http_socket_addr()? {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding the HTTP channels on {addr} (http_addr)"))?,
            ),
            None => None,
        },
    };
    let mut tasks = Vec::new();
    if let Some(listener) = http {
        tracing::info!(service = SPEC.name, addr = %listener.local_addr()?, "HTTP channels (web forms, webhooks) listening");
        tasks.push(tokio::spawn(crate::http::serve(
            listener,
            capture.clone(),
            config.clone(),
            rt.shutdown.clone().cancelled_owned(),
        )));
    }
    let api = IntakeApi::new(capture, config);
    let progress = Arc::new(LeadProgress);
    tasks.extend([
        rt.spawn_consumer(
            ConsumerSpec::new("intake", Domain::Lead, &["qualified", "assigned", "pooled"]),
            progress.clone(),
        ),
        rt.spawn_consumer(
            ConsumerSpec::new(
                "intake",
                Domain::Opportunity,
                &["created", "activity_logged"],
            ),
            progress,
        ),
    ]);
    Ok(ServiceParts {
        routes: tonic::service::Routes::new(IntakeServiceServer::with_interceptor(
            api,
            shangji_platform::grpc::require_tenant,
        )),
        service_names: vec![<IntakeServiceServer<IntakeApi> as NamedService>::NAME],
        tasks,
    })
}
