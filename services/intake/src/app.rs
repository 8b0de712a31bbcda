//! Wiring: the service's spec, its migrations, gRPC service and consumers.

use std::sync::Arc;

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
    ],
};

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "intake",
    default_grpc_port: 50051,
    default_metrics_port: 9151,
    migrations: &MIGRATIONS,
};

/// Starts intake and returns once it listens.
pub async fn start(settings: Settings, config: IntakeConfig) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config)).await
}

async fn build(rt: Runtime, config: IntakeConfig) -> anyhow::Result<ServiceParts> {
    let capture = Capture::new(rt.db.clone());
    let api = IntakeApi::new(capture, config);
    let progress = Arc::new(LeadProgress);
    let tasks = vec![
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
    ];
    Ok(ServiceParts {
        routes: tonic::service::Routes::new(IntakeServiceServer::with_interceptor(
            api,
            shangji_platform::grpc::require_tenant,
        )),
        service_names: vec![<IntakeServiceServer<IntakeApi> as NamedService>::NAME],
        tasks,
    })
}
