//! Wiring: the service's spec, its migrations, gRPC service and consumers.

use std::sync::Arc;

use shangji_contracts::assignment::assignment_service_server::AssignmentServiceServer;
use shangji_contracts::events::Domain;
use shangji_platform::app::Runtime;
use shangji_platform::bus::ConsumerSpec;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::{RunningService, ServiceParts, ServiceSpec, Settings};
use tonic::server::NamedService;

use crate::api::AssignmentApi;
use crate::bus::{LeadRouting, RepLoadTracking};
use crate::config::AssignmentConfig;

/// Assignment's schema, per backend (public so store tests can migrate a database).
pub static MIGRATIONS: Migrations = Migrations {
    component: "assignment",
    list: &[Migration {
        version: 1,
        name: "reps, customer owners, assignments, round-robin clock, opportunity owners",
        sqlite: include_str!("../migrations/sqlite/0001_assignment.sql"),
        postgres: include_str!("../migrations/postgres/0001_assignment.sql"),
    }],
};

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "assignment",
    default_grpc_port: 50053,
    default_metrics_port: 9153,
    migrations: &MIGRATIONS,
};

/// Starts assignment and returns once it listens.
pub async fn start(settings: Settings, config: AssignmentConfig) -> anyhow::Result<RunningService> {
    shangji_platform::app::start(&SPEC, settings, |rt| build(rt, config)).await
}

async fn build(rt: Runtime, _config: AssignmentConfig) -> anyhow::Result<ServiceParts> {
    let api = AssignmentApi::new(rt.db.clone());
    let tasks = vec![
        rt.spawn_consumer(
            ConsumerSpec::new("assignment", Domain::Lead, &["qualified"]),
            Arc::new(LeadRouting),
        ),
        rt.spawn_consumer(
            ConsumerSpec::new(
                "assignment",
                Domain::Opportunity,
                &["created", "won", "lost", "owner_changed"],
            ),
            Arc::new(RepLoadTracking),
        ),
    ];
    Ok(ServiceParts {
        routes: tonic::service::Routes::new(AssignmentServiceServer::with_interceptor(
            api,
            shangji_platform::grpc::require_tenant,
        )),
        service_names: vec![<AssignmentServiceServer<AssignmentApi> as NamedService>::NAME],
        tasks,
    })
}
