//! The analytics service: its spec, migrations and wiring.

use std::sync::Arc;

use shangji_contracts::analytics::analytics_service_server::AnalyticsServiceServer;
use shangji_contracts::events::Domain;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::grpc::require_tenant;
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::api::AnalyticsApi;
use crate::bus::ReadModelEvents;
use crate::config::AnalyticsConfig;

pub const MIGRATIONS: Migrations = Migrations {
    component: "analytics",
    list: &[
        Migration {
            version: 1,
            name: "leads, opportunities, stage catalog",
            sqlite: include_str!("../migrations/sqlite/0001_read_models.sql"),
            postgres: include_str!("../migrations/postgres/0001_read_models.sql"),
        },
        Migration {
            version: 2,
            name: "merged states, rollups, generations, org replica",
            sqlite: include_str!("../migrations/sqlite/0002_states_and_rollups.sql"),
            postgres: include_str!("../migrations/postgres/0002_states_and_rollups.sql"),
        },
        Migration {
            version: 3,
            name: "all-team totals in the rollups",
            sqlite: include_str!("../migrations/sqlite/0003_all_team_totals.sql"),
            postgres: include_str!("../migrations/postgres/0003_all_team_totals.sql"),
        },
    ],
};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "analytics",
    default_grpc_port: 50056,
    default_metrics_port: 9156,
    migrations: &MIGRATIONS,
};

/// Starts the service; returns once it listens.
pub async fn start(settings: Settings, config: AnalyticsConfig) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config)).await
}

async fn build(rt: Runtime, config: AnalyticsConfig) -> anyhow::Result<ServiceParts> {
    let api = AnalyticsApi::new(rt.db.clone(), rt.bus.jetstream.clone(), config);
    // Every event of every domain; the handler ignores what changes no figure.
    let tasks = Domain::ALL
        .into_iter()
        .map(|domain| {
            rt.spawn_consumer(
                ConsumerSpec::new(SPEC.name, domain, &[]),
                Arc::new(ReadModelEvents),
            )
        })
        .collect();
    Ok(ServiceParts {
        routes: Routes::new(AnalyticsServiceServer::with_interceptor(
            api,
            require_tenant,
        )),
        service_names: vec![<AnalyticsServiceServer<AnalyticsApi> as NamedService>::NAME],
        tasks,
    })
}
